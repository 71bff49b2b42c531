//! The public CPU convolution kernels and the one place that chooses an engine per call.

use super::dense::{dense_backward_input_chunk, dense_backward_weight_chunk, dense_forward_chunk};
use super::direct::{backward_input_direct, backward_weight_direct_chunk, forward_direct};
use super::few_pixels::{self, FEW_PIXELS};
use super::few_pixels_kernels::has_kernels;
use super::gemm::{backward_input_chunk, backward_weight_chunk, forward_chunk};
use super::lowering::add_bias;
use super::phases::Phases;
use super::pixel::{forward_pixels, PhasePlanes};
use super::pixel_input::backward_input_pixels;
use super::pixel_weight::{backward_weight_pixels_chunk, fill_steps, steps_len};
use super::plan::{
    for_each_chunk, with_pixel_and_tap_offsets, with_window_offsets, Plan, CHUNK_ELEMS,
    MAX_WEIGHT_GROUPS,
};
use super::scratch::{with_scratch, CALL_SCRATCH, TABLE_SCRATCH};
use super::simd::Simd;
use super::weight::{expand_weight, with_weight, WeightLayout};
use crate::dtype::CpuFloat;
use crate::ops::conv::Conv2dGeometry;

/// Forward and input-gradient calls use the direct kernels from this many output pixels
/// (`batch·h_out·w_out`) on. Below it the per-call cost of rearranging the weight dominates
/// and the GEMM path, which reads the weight in place, is faster.
pub(super) const DIRECT_MIN_PIXELS: usize = 64;

/// Weight-gradient calls use the direct kernels when a chunk holds at least this many output
/// pixels: each micro-kernel block runs over the chunk's pixels, so short chunks leave it
/// dominated by per-block overhead.
pub(super) const DIRECT_MIN_CHUNK_PIXELS: usize = 96;

/// The engines a test can pin a call to.
#[cfg(test)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Engine {
    /// im2col + GEMM (or the dense case).
    Gemm,
    /// Direct kernels with lanes over channels (`direct.rs`), wherever they apply.
    ChannelLanes,
    /// Direct kernels with lanes over pixels for the forward pass (`pixel.rs`) and, with
    /// AVX-512F, the input gradient (`pixel_input.rs`) and the weight gradient
    /// (`pixel_weight.rs`), wherever they apply; elsewhere the GEMM.
    PixelLanes,
    /// The few-pixel engine (`few_pixels.rs`) wherever its kernels exist; elsewhere the GEMM.
    FewPixels,
}

#[cfg(test)]
thread_local! {
    /// Tests pin the code path (see [`Engine`]), regardless of size; `None`: the size-based
    /// choice.
    pub(super) static FORCE_ENGINE: std::cell::Cell<Option<Engine>> = const { std::cell::Cell::new(None) };
}

/// Whether a call uses the channel-lane direct kernels, with SIMD lanes running over
/// `lane_dim` channels: they must apply (not the dense case, at least 4 lanes of work), the
/// CPU must have them, and they must pay off (`worth_it`, a function of the geometry and
/// the SIMD level only).
pub(super) fn use_direct(
    p: &Plan,
    lane_dim: usize,
    worth_it: impl FnOnce(Simd) -> bool,
) -> Option<Simd> {
    let applies = !p.dense && lane_dim >= 4;
    #[cfg(test)]
    if let Some(force) = FORCE_ENGINE.with(|c| c.get()) {
        return Simd::detect().filter(|_| force == Engine::ChannelLanes && applies);
    }
    Simd::detect().filter(|&s| applies && worth_it(s))
}

/// Whether a call (any pass) uses the few-pixel engine: its kernels exist for `T` on this
/// CPU (AVX-512F), its scratch stays within two chunks' budget, and the batch has at most
/// [`FEW_PIXELS`] output pixels (weighted by the share of padding-only taps), where
/// rearranging the weight would cost the other engines as much as the arithmetic.
pub(super) fn use_few_pixels<T: 'static>(p: &Plan, g: &Conv2dGeometry) -> Option<Simd> {
    let applies = |s: Simd| {
        has_kernels::<T>(s)
            && few_pixels::indexable(g)
            && few_pixels::scratch_len(g, p) <= 2 * CHUNK_ELEMS
    };
    #[cfg(test)]
    if let Some(force) = FORCE_ENGINE.with(|c| c.get()) {
        return Simd::detect().filter(|&s| force == Engine::FewPixels && applies(s));
    }
    // Patches hold every tap, so padding-only taps (outside the valid window) cost work
    // here that the other engines skip: the pixel count is weighted by `K / k_eff`.
    let k_full = g.c_in * g.k_h * g.k_w;
    let worth_it = g.batch * p.spatial * k_full <= FEW_PIXELS * p.k_eff;
    Simd::detect().filter(|&s| applies(s) && worth_it)
}

/// Whether a forward call uses the pixel-lane kernels: they apply when the call is not
/// dense; they pay off when the output channels fill at most half a 512-bit vector, so
/// that channel lanes would idle, and an output row fills at least half a vector.
pub(super) fn use_pixels<T: CpuFloat>(p: &Plan, channels: usize, row: usize) -> Option<Simd> {
    let applies = !p.dense;
    #[cfg(test)]
    if let Some(force) = FORCE_ENGINE.with(|c| c.get()) {
        return Simd::detect().filter(|_| force == Engine::PixelLanes && applies);
    }
    let worth_it = |s: Simd| {
        channels <= s.lanes_for::<T>(1)
            && 2 * row >= s.vector_lanes::<T>()
            && p.nb * p.spatial >= DIRECT_MIN_PIXELS
    };
    Simd::detect().filter(|&s| applies && worth_it(s))
}

/// Whether a weight-gradient call uses the pixel-lane kernel (`pixel_weight.rs`): it
/// applies when the call is not dense and the CPU has AVX-512F; it pays off where the
/// pixel-lane forward pass does (few output channels, rows of at least half a vector).
pub(super) fn use_pixel_weight<T: CpuFloat>(p: &Plan, g: &Conv2dGeometry) -> Option<Simd> {
    let applies = |s: Simd| !p.dense && s.avx512();
    #[cfg(test)]
    if let Some(force) = FORCE_ENGINE.with(|c| c.get()) {
        return Simd::detect().filter(|&s| force == Engine::PixelLanes && applies(s));
    }
    use_pixels::<T>(p, g.c_out, g.w_out).filter(|&s| applies(s))
}

/// Whether an input-gradient call uses the pixel-lane kernel (`pixel_input.rs`): it
/// applies when the call is not dense and the CPU has AVX-512F; it pays off when the input
/// channels fill at most half a 512-bit vector and a padded output-gradient row at least
/// half a vector. (On AVX2 alone it measured slower than the GEMM: the scatter to
/// stride-`s` places costs as much as the arithmetic there.)
pub(super) fn use_pixel_input<T: CpuFloat>(p: &Plan, g: &Conv2dGeometry) -> Option<Simd> {
    let applies = |s: Simd| !p.dense && s.avx512();
    #[cfg(test)]
    if let Some(force) = FORCE_ENGINE.with(|c| c.get()) {
        return Simd::detect().filter(|&s| force == Engine::PixelLanes && applies(s));
    }
    let worth_it = |s: Simd| {
        let row = Phases::new(g).shape.wp;
        g.c_in <= s.lanes_for::<T>(1)
            && 2 * row >= s.vector_lanes::<T>()
            && g.batch * p.spatial >= DIRECT_MIN_PIXELS
    };
    Simd::detect().filter(|&s| applies(s) && worth_it(s))
}

/// Convolution forward pass: overwrites `y` (`[batch, c_out, h_out, w_out]`) with
///
/// `y[b, co, oh, ow] = bias[co] + Σ_{ci, kh, kw} w[co, ci, kh, kw] · x[b, ci, oh·s + kh − p, ow·s + kw − p]`
///
/// (zero outside the input). `x` is `[batch, c_in, h_in, w_in]`, `w` is
/// `[c_out, c_in, k_h, k_w]`, `bias` has `c_out` elements.
pub fn forward<T: CpuFloat>(g: &Conv2dGeometry, x: &[T], w: &[T], bias: Option<&[T]>, y: &mut [T]) {
    debug_assert_eq!(x.len(), g.input_len());
    debug_assert_eq!(w.len(), g.weight_len());
    debug_assert_eq!(y.len(), g.output_len());
    debug_assert!(bias.is_none_or(|b| b.len() == g.c_out));
    let p = Plan::new(g);
    if y.is_empty() {
        return;
    }
    if p.k_eff == 0 {
        // No tap ever reads the input: the output is the bias alone.
        y.fill(T::zero());
        if let Some(b) = bias {
            add_bias(y, b, p.spatial);
        }
        return;
    }
    if let Some(simd) = use_few_pixels::<T>(&p, g) {
        few_pixels::forward(g, &p, simd, x, w, bias, y);
        return;
    }
    let in_len = g.c_in * g.h_in * g.w_in;
    let out_len = g.c_out * p.spatial;
    if p.dense {
        for_each_chunk(y, p.nb * out_len, p.parallel, |ci, yc| {
            let nb = yc.len() / out_len;
            let xc = &x[ci * p.nb * in_len..][..nb * in_len];
            dense_forward_chunk(g, &p, xc, w, bias, yc, nb);
        });
        return;
    }
    if let Some(simd) = use_pixels::<T>(&p, g.c_out, g.w_out) {
        forward_pixels(g, &p, simd, x, w, bias, y);
        return;
    }
    if let Some(simd) = use_direct(&p, g.c_out, |_| g.batch * p.spatial >= DIRECT_MIN_PIXELS) {
        let nr = simd.lanes_for::<T>(g.c_out);
        with_lanes!(nr, forward_direct::<T>(g, &p, simd, x, w, bias, y));
        return;
    }
    // Several chunks re-pack the weight once each: then pre-transposing it pays.
    let layout = if p.chunks(g.batch) > 1 {
        WeightLayout::Transposed
    } else {
        WeightLayout::RowMajor
    };
    with_weight(g, &p, w, layout, |wk| {
        with_window_offsets(g, &p, |offsets| {
            for_each_chunk(y, p.nb * out_len, p.parallel, |ci, yc| {
                let nb = yc.len() / out_len;
                let xc = &x[ci * p.nb * in_len..][..nb * in_len];
                forward_chunk(g, &p, xc, wk, layout, offsets, bias, yc, nb);
            });
        })
    });
}

/// Gradient of [`forward`] with respect to its input: overwrites `gx`
/// (`[batch, c_in, h_in, w_in]`) with
///
/// `gx[b, ci, ih, iw] = Σ_{co, kh, kw, oh, ow : oh·s + kh − p = ih, ow·s + kw − p = iw} w[co, ci, kh, kw] · gy[b, co, oh, ow]`,
///
/// the adjoint of `x ↦ conv(x, w)`. `gy` is `[batch, c_out, h_out, w_out]`.
pub fn backward_input<T: CpuFloat>(g: &Conv2dGeometry, gy: &[T], w: &[T], gx: &mut [T]) {
    debug_assert_eq!(gy.len(), g.output_len());
    debug_assert_eq!(w.len(), g.weight_len());
    debug_assert_eq!(gx.len(), g.input_len());
    let p = Plan::new(g);
    if gx.is_empty() {
        return;
    }
    if p.k_eff == 0 || gy.is_empty() {
        gx.fill(T::zero());
        return;
    }
    if let Some(simd) = use_few_pixels::<T>(&p, g) {
        few_pixels::backward_input(g, &p, simd, gy, w, gx);
        return;
    }
    let in_len = g.c_in * g.h_in * g.w_in;
    let out_len = g.c_out * p.spatial;
    if p.dense {
        for_each_chunk(gx, p.nb * in_len, p.parallel, |ci, gxc| {
            let nb = gxc.len() / in_len;
            let gyc = &gy[ci * p.nb * out_len..][..nb * out_len];
            dense_backward_input_chunk(g, &p, gyc, w, gxc, nb);
        });
        return;
    }
    if let Some(simd) = use_pixel_input::<T>(&p, g) {
        backward_input_pixels(g, &p, simd, gy, w, gx);
        return;
    }
    // Input channels are the lanes here; blocks of one 256-bit vector or less measured
    // slower than the GEMM.
    let worth_it =
        |s: Simd| g.c_in > s.lanes_for::<T>(1) && g.batch * p.spatial >= DIRECT_MIN_PIXELS;
    if let Some(simd) = use_direct(&p, g.c_in, worth_it) {
        let nr = simd.lanes_for::<T>(g.c_in);
        with_lanes!(nr, backward_input_direct::<T>(g, &p, simd, gy, w, gx));
        return;
    }
    with_weight(g, &p, w, WeightLayout::RowMajor, |wk| {
        with_window_offsets(g, &p, |offsets| {
            for_each_chunk(gx, p.nb * in_len, p.parallel, |ci, gxc| {
                let nb = gxc.len() / in_len;
                let gyc = &gy[ci * p.nb * out_len..][..nb * out_len];
                backward_input_chunk(g, &p, gyc, wk, offsets, gxc, nb);
            });
        })
    });
}

/// Gradient of [`forward`] with respect to the weight: overwrites `gw`
/// (`[c_out, c_in, k_h, k_w]`) with
///
/// `gw[co, ci, kh, kw] = Σ_{b, oh, ow} gy[b, co, oh, ow] · x[b, ci, oh·s + kh − p, ow·s + kw − p]`
///
/// (zero outside the input). Bit-reproducible, and independent of the rayon thread count.
pub fn backward_weight<T: CpuFloat>(g: &Conv2dGeometry, gy: &[T], x: &[T], gw: &mut [T]) {
    debug_assert_eq!(gy.len(), g.output_len());
    debug_assert_eq!(x.len(), g.input_len());
    debug_assert_eq!(gw.len(), g.weight_len());
    let p = Plan::new(g);
    if gw.is_empty() {
        return;
    }
    if p.k_eff == 0 || g.batch == 0 || p.spatial == 0 {
        gw.fill(T::zero());
        return;
    }
    if let Some(simd) = use_few_pixels::<T>(&p, g) {
        few_pixels::backward_weight(g, &p, simd, gy, x, gw);
        return;
    }
    let chunks = p.chunks(g.batch);
    let groups = if p.parallel {
        chunks.min(MAX_WEIGHT_GROUPS)
    } else {
        1
    };
    // The dense path accumulates straight into the OIHW layout; the others into the
    // (possibly compacted) c_out × k_eff matrix.
    let wlen = if p.dense {
        g.weight_len()
    } else {
        g.c_out * p.k_eff
    };
    let in_len = g.c_in * g.h_in * g.w_in;
    let out_len = g.c_out * p.spatial;
    let pixels = use_pixel_weight::<T>(&p, g);
    let direct = use_direct(&p, g.c_out, |_| p.nb * p.spatial >= DIRECT_MIN_CHUNK_PIXELS);
    let nr = direct.map_or(1, |s| s.lanes_for::<T>(g.c_out));
    let pixel_lanes = pixels.map(|s| s.vector_lanes::<T>());
    with_weight_tables(g, &p, pixel_lanes, |offsets, tap_offs| {
        // Group `gi` owns chunks [gi·chunks/groups, (gi+1)·chunks/groups) and sums them in
        // order into its own partial.
        let run_group = |gi: usize, partial: &mut [T]| {
            let chunk_range = gi * chunks / groups..(gi + 1) * chunks / groups;
            for (n, chunk) in chunk_range.enumerate() {
                let b0 = chunk * p.nb;
                let nb = p.nb.min(g.batch - b0);
                let xc = &x[b0 * in_len..][..nb * in_len];
                let gyc = &gy[b0 * out_len..][..nb * out_len];
                if p.dense {
                    dense_backward_weight_chunk(g, &p, gyc, xc, partial, nb);
                } else if let Some(simd) = pixels {
                    let first = n == 0;
                    let tables = (tap_offs, offsets);
                    backward_weight_pixels_chunk(g, &p, simd, gyc, xc, tables, partial, first);
                } else if let Some(simd) = direct {
                    let tables = (offsets, tap_offs);
                    let first = n == 0;
                    with_lanes!(
                        nr,
                        backward_weight_direct_chunk::<T>(
                            g, &p, simd, gyc, xc, tables, partial, first
                        )
                    );
                } else {
                    let beta = if n == 0 { T::zero() } else { T::one() };
                    backward_weight_chunk(g, &p, gyc, xc, offsets, partial, nb, beta);
                }
            }
        };
        if groups == 1 && (p.dense || !p.compact) {
            if p.dense {
                gw.fill(T::zero());
            }
            run_group(0, gw);
            return;
        }
        with_scratch::<T, ()>(&CALL_SCRATCH, groups * wlen, |partials| {
            if p.dense {
                partials.fill(T::zero());
            }
            for_each_chunk(partials, wlen, groups > 1, run_group);
            let (acc, rest) = partials.split_at_mut(wlen);
            for part in rest.chunks_exact(wlen) {
                for (a, v) in acc.iter_mut().zip(part) {
                    *a = *a + *v;
                }
            }
            if p.compact && !p.dense {
                expand_weight(g, &p, acc, gw);
            } else {
                gw.copy_from_slice(acc);
            }
        });
    });
}

/// Runs `f(pixels, taps)` with the offset tables of a weight-gradient call: for the
/// pixel-lane kernel with `lanes` lanes its step table ([`fill_steps`]) and the phase-plane
/// tap offsets ([`PhasePlanes::tap_offsets`]), else the window corners and tap offsets of
/// [`with_pixel_and_tap_offsets`].
fn with_weight_tables<R>(
    g: &Conv2dGeometry,
    p: &Plan,
    pixel_lanes: Option<usize>,
    f: impl FnOnce(&[usize], &[usize]) -> R,
) -> R {
    let Some(lanes) = pixel_lanes else {
        return with_pixel_and_tap_offsets(g, p, f);
    };
    let steps = steps_len(g, p.nb, lanes);
    with_scratch::<usize, R>(&TABLE_SCRATCH, steps + p.k_eff, |table| {
        let (steps, taps) = table.split_at_mut(steps);
        fill_steps(g, p, lanes, steps);
        PhasePlanes::new(g, p).tap_offsets(g, p, taps);
        f(steps, taps)
    })
}
