//! CPU kernels for 2-D convolution (NCHW input, OIHW weight, no groups, no dilation).
//!
//! With `x[b, ci, ih, iw]`, `w[co, ci, kh, kw]`, stride `s` and zero padding `p`:
//!
//! ```text
//! y[b, co, oh, ow] = bias[co] + Σ_{ci, kh, kw} w[co, ci, kh, kw] · x[b, ci, oh·s + kh − p, ow·s + kw − p]
//! ```
//!
//! where reads outside the input are zero. There are two engines: direct SIMD kernels for
//! x86-64 CPUs with AVX2 and FMA, 512-bit where AVX-512F is present (`direct.rs`, `simd.rs`), and a portable one that
//! lowers the convolution to one matrix product per chunk of `nb` samples (im2col). Write `K = c_in·k_h·k_w` (the patch
//! length) and `N = nb·h_out·w_out` (the output pixels of the chunk). The *column matrix*
//! `cols[(ci, kh, kw), (b, oh, ow)] = x[b, ci, oh·s + kh − p, ow·s + kw − p]` is `K × N`;
//! with `W` the weight as a `c_out × K` matrix and `Gy` the output gradient as `c_out × N`:
//!
//! * forward: `Y = W · cols` (scattered to NCHW, plus the bias);
//! * input gradient: `dcols = Wᵀ · Gy`, then `gx = col2im(dcols)`, the adjoint of im2col
//!   (every column entry is added back onto the input pixel it was read from);
//! * weight gradient: `gw = Σ_chunks Gy · colsᵀ`;
//! * bias gradient: `gb[co] = Σ_{b, oh, ow} gy[b, co, oh, ow]`.
//!
//! # Design
//!
//! * **Two engines.** On x86-64 CPUs with AVX2 and FMA (AVX-512F: 512-bit vectors; AVX2
//!   alone: two 256-bit vectors per block row), large enough calls use
//!   *direct* register-blocked kernels: no column matrix at all, one SIMD micro-kernel that
//!   gathers activations straight from a zero-padded copy of the input (`dispatch.rs` decides
//!   when; measured per pass and layer on the lesson's shapes). Its lanes run over channels;
//!   a forward pass with few output channels (the 1→8 first layer) instead runs lanes over
//!   consecutive output pixels of stride-phase planes (`pixel.rs`), same sums, same bits,
//!   and so does its weight gradient where AVX-512F is present (`pixel_weight.rs`: lanes
//!   along output rows of the output gradient and the phase planes, no transposed copy;
//!   same terms, summed per lane then across lanes). With AVX-512F an input gradient with
//!   few input channels (the 8→16 layer) runs lanes along the padded output gradient's
//!   rows per stride-phase class and interleaves the results back (`pixel_input.rs`, same
//!   bits as channel lanes). With AVX-512F, calls whose whole batch has only a few output
//!   pixels (the 4×4 → 2×2 and 2×2 → 1×1 layers at small batches, the dense case
//!   included) use the few-pixel engine (`few_pixels.rs`): dot products and row updates on
//!   the weight in place and gathered full patches, where every other engine would spend
//!   as long rearranging the weight as computing. All other calls (other CPUs, small
//!   calls, fewer than 4 channels on the vector side, the dense case) use the im2col + GEMM
//!   engine the rest of this list describes, built on the crate's `CpuFloat::gemm`
//!   (matrixmultiply). The tests run every engine against the same naive references.
//! * **GEMM operand layouts.** matrixmultiply packs its left operand fastest when it is
//!   column-major and its right operand fastest when it is row-major (a plain copy of 16
//!   contiguous elements instead of an element-by-element gather). Each kernel therefore
//!   builds its big operand in the layout its GEMM prefers: forward and the input gradient
//!   use `cols` as a row-major `K × N` right operand, while the weight gradient builds
//!   `colsᵀ` (one contiguous patch per output pixel) as a row-major `N × K` right operand.
//!   When a forward call runs several chunks, the weight is transposed once per call so that
//!   it, too, packs as a column-major left operand.
//! * **Padded, table-driven im2col.** Each chunk's input is first copied into a zero-padded
//!   buffer, so gathering a patch needs no bounds logic; the offset of every output pixel's
//!   window inside a padded plane is precomputed once per call, so one column-matrix row is
//!   a flat gather over `nb·h_out·w_out` entries, however tiny the feature map.
//! * **Valid-tap window.** Kernel taps that read only padding for every output position
//!   contribute nothing. The kernels find the smallest rectangle of taps
//!   `[kh0, kh0 + th) × [kw0, kw0 + tw)` holding every tap that ever reads the input and
//!   work on that window only (for 3×3/pad-1 on a 2×2 map giving 1×1 that is 4 taps of 9).
//!   When the window is smaller than the kernel, the weight is compacted once per call.
//! * **Dense case.** When the output is 1×1 and the window covers the input exactly, the
//!   column matrix of a sample *is* that sample's input, so no im2col is done at all: the
//!   convolution is a fully connected layer computed by one strided GEMM on `x` itself.
//! * **Chunks of samples.** The batch is cut into chunks sized so that a chunk's working
//!   set stays in the per-core L2 cache; each chunk does im2col, one GEMM, and a
//!   scatter/gather. The chunking depends only on the geometry, never on the thread count.
//! * **Parallelism.** Chunks run on rayon only when the call's arithmetic exceeds
//!   `PAR_MIN_FLOPS` (`plan.rs`); smaller calls (e.g. batch 2) run inline with no rayon overhead.
//! * **Scratch reuse.** Padded inputs, column matrices, GEMM outputs and index tables live
//!   in thread-local buffers that grow on demand and are reused, so the hot path does not
//!   allocate (matrixmultiply's own packing buffers excepted).
//! * **Determinism.** The weight gradient is accumulated over a fixed, geometry-derived set
//!   of groups of consecutive chunks; each group sums its chunks in order and the group
//!   partial sums are then added in group order. Results are therefore bit-identical run to
//!   run *and* for any rayon thread count. The other kernels have no cross-chunk sums.
//!
//! # Files
//!
//! * `dispatch.rs`: the public kernels and the engine choice for each call (the only place
//!   that decides between the direct, GEMM and dense engines);
//! * `plan.rs`: the per-call plan (valid taps, chunking, parallelism) and offset tables;
//! * `scratch.rs`: thread-local buffers and zero-bordered padded planes;
//! * `lowering.rs`: padding, im2col/col2im and the NCHW ↔ matrix layout changes;
//! * `weight.rs`: the weight as a GEMM operand (window copies, transposes);
//! * `gemm.rs`, `dense.rs`: the im2col + GEMM engine, and its im2col-free dense case;
//! * `simd.rs`, `direct.rs`: the SIMD micro-kernels and the channel-lane direct engine;
//! * `pixel.rs`: the pixel-lane direct engine (forward pass of layers with few output
//!   channels, on the pixel-lane micro-kernel in `simd.rs`) and the stride-phase planes it
//!   reads, kept in a zero-bordered buffer so only input elements are written;
//! * `pixel_input.rs`: the pixel-lane input gradient (per phase class, AVX-512F only);
//! * `pixel_weight.rs`: the pixel-lane weight gradient (its own AVX-512 micro-kernel);
//! * `few_pixels.rs`, `few_pixels_kernels.rs`: the few-pixel engine (all three passes, a
//!   per-shape patch index table) and its AVX-512F kernels (dot-product blocks, row
//!   updates, masked gathers and scatter-adds of patches);
//! * `rows.rs`: the short row moves of the pixel-lane engines (interleave, every second
//!   element, copy plus a constant), masked AVX-512F kernels;
//! * `phases.rs`: the stride's phase classes of the input gradient;
//! * `bias.rs`: the bias gradient; `backend.rs`: `ConvOps` for `CpuBackend`.

/// Calls `f::<NR>()` for the lane count `nr` (4, 8 or 16).
macro_rules! with_lanes {
    ($nr:expr, $f:ident :: <$t:ty>($($arg:expr),* $(,)?)) => {
        match $nr {
            4 => $f::<$t, 4>($($arg),*),
            8 => $f::<$t, 8>($($arg),*),
            _ => $f::<$t, 16>($($arg),*),
        }
    };
}

mod backend;
mod bias;
mod dense;
mod direct;
mod dispatch;
mod few_pixels;
mod few_pixels_kernels;
mod gemm;
mod lowering;
mod phases;
mod pixel;
mod pixel_input;
mod pixel_weight;
mod plan;
mod rows;
mod scratch;
mod simd;
mod weight;

#[cfg(test)]
mod tests;

pub use bias::backward_bias;
pub use dispatch::{backward_input, backward_weight, forward};
