//! CPU kernels for 2-D convolution (NCHW input, OIHW weight, no groups, no dilation).
//!
//! With `x[b, ci, ih, iw]`, `w[co, ci, kh, kw]`, stride `s` and zero padding `p`:
//!
//! ```text
//! y[b, co, oh, ow] = bias[co] + Σ_{ci, kh, kw} w[co, ci, kh, kw] · x[b, ci, oh·s + kh − p, ow·s + kw − p]
//! ```
//!
//! where reads outside the input are zero. There are two engines: direct SIMD kernels for
//! x86-64 CPUs with AVX-512 (see the "Direct kernels" section), and a portable one that
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
//! * **Two engines.** On x86-64 CPUs with AVX-512F, AVX2 and FMA, large enough calls use
//!   *direct* register-blocked kernels: no column matrix at all, one SIMD micro-kernel that
//!   gathers activations straight from a zero-padded copy of the input (see [`use_direct`]
//!   and its callers for when; measured per pass and layer on the lesson's shapes). All
//!   other calls (other CPUs, small calls, fewer than 4 channels on the vector side, the
//!   dense case) use the im2col + GEMM engine the rest of this list describes, built on the
//!   crate's `CpuFloat::gemm` (matrixmultiply). The tests run both engines against the same
//!   naive references.
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
//!   [`PAR_MIN_FLOPS`]; smaller calls (e.g. batch 2) run inline with no rayon overhead.
//! * **Scratch reuse.** Padded inputs, column matrices, GEMM outputs and index tables live
//!   in thread-local buffers that grow on demand and are reused, so the hot path does not
//!   allocate (matrixmultiply's own packing buffers excepted).
//! * **Determinism.** The weight gradient is accumulated over a fixed, geometry-derived set
//!   of groups of consecutive chunks; each group sums its chunks in order and the group
//!   partial sums are then added in group order. Results are therefore bit-identical run to
//!   run *and* for any rayon thread count. The other kernels have no cross-chunk sums.

use std::any::Any;
use std::cell::RefCell;
use std::thread::LocalKey;

use rayon::prelude::*;

use super::geometry::Conv2dGeometry;
use crate::dtype::CpuFloat;

/// Below this many floating-point operations (multiply and add counted separately) a call
/// runs on the calling thread: waking the pool costs more than it saves.
const PAR_MIN_FLOPS: usize = 3_000_000;

/// Target size, in elements, of one chunk's working set (padded input, column matrix and
/// GEMM output); chosen so that it stays inside a 2 MiB L2 cache for `f32` and `f64`.
const CHUNK_ELEMS: usize = 64 * 1024;

/// When a call is parallel, chunks are made small enough that there are at least this many
/// of them, so two or more threads stay balanced.
const MIN_PAR_CHUNKS: usize = 8;

/// Upper bound on the number of independent partial sums of the weight gradient.
const MAX_WEIGHT_GROUPS: usize = 8;

/// Bias-gradient calls reading at least this many elements sum channels in parallel.
const PAR_MIN_BIAS_ELEMS: usize = 1 << 18;

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

// ------------------------------------------------------------------------------------------
// Scratch buffers
// ------------------------------------------------------------------------------------------

type Slots = RefCell<Vec<Box<dyn Any>>>;

thread_local! {
    /// Scratch used inside one chunk of work (padded input, column matrix, GEMM output).
    static CHUNK_SCRATCH: Slots = const { RefCell::new(Vec::new()) };
    /// Scratch held by the calling thread for a whole call (prepared weight, partial sums);
    /// separate from [`CHUNK_SCRATCH`] because chunks may run on the calling thread.
    static CALL_SCRATCH: Slots = const { RefCell::new(Vec::new()) };
    /// Index tables held by the calling thread for a whole call.
    static TABLE_SCRATCH: Slots = const { RefCell::new(Vec::new()) };
    /// Zero-bordered padded inputs, one per plane shape (see [`PaddedPlanes`]).
    static PAD_SCRATCH: Slots = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on a thread-local buffer of exactly `len` elements of `E` (contents
/// unspecified). Falls back to a fresh allocation if the buffer is already borrowed
/// (re-entrant use), so it never panics.
fn with_scratch<E: Copy + Default + 'static, R>(
    key: &'static LocalKey<Slots>,
    len: usize,
    f: impl FnOnce(&mut [E]) -> R,
) -> R {
    let mut f = Some(f);
    let out = key.with(|cell| {
        let mut slots = cell.try_borrow_mut().ok()?;
        let idx = match slots.iter().position(|s| s.is::<Vec<E>>()) {
            Some(i) => i,
            None => {
                slots.push(Box::new(Vec::<E>::new()));
                slots.len() - 1
            }
        };
        let buf = slots[idx].downcast_mut::<Vec<E>>()?;
        if buf.len() < len {
            buf.resize(len, E::default());
        }
        let f = f.take()?;
        Some(f(&mut buf[..len]))
    });
    match out {
        Some(r) => r,
        None => {
            let f = f.take().expect("scratch closure already consumed");
            let mut buf = vec![E::default(); len];
            f(&mut buf)
        }
    }
}

// ------------------------------------------------------------------------------------------
// Planning
// ------------------------------------------------------------------------------------------

/// The smallest range `[lo, lo + len)` of kernel taps along one axis containing every tap
/// `t` for which some output index `o < out` reads an input index `o·stride + t − pad`
/// inside `[0, input)`. `len == 0` when no tap ever reads the input.
fn valid_taps(
    kernel: usize,
    input: usize,
    out: usize,
    stride: usize,
    pad: usize,
) -> (usize, usize) {
    let reads_input = |t: usize| {
        (0..out).any(|o| {
            let i = o * stride + t;
            i >= pad && i - pad < input
        })
    };
    match (0..kernel).find(|&t| reads_input(t)) {
        None => (0, 0),
        Some(lo) => {
            let hi = (0..kernel).rev().find(|&t| reads_input(t)).unwrap_or(lo);
            (lo, hi + 1 - lo)
        }
    }
}

/// Everything a kernel needs to know about how it will lower one call.
#[derive(Clone, Copy, Debug)]
struct Plan {
    /// First valid kernel row and number of valid rows.
    kh0: usize,
    th: usize,
    /// First valid kernel column and number of valid columns.
    kw0: usize,
    tw: usize,
    /// Rows of the (windowed) column matrix: `c_in · th · tw`.
    k_eff: usize,
    /// `h_out · w_out`.
    spatial: usize,
    /// Padded input plane: `h_in + 2p` by `w_in + 2p`.
    hp: usize,
    wp: usize,
    /// The window is smaller than the kernel, so the weight must be compacted.
    compact: bool,
    /// 1×1 output and the window covers the input exactly: `cols` of a sample is its input.
    dense: bool,
    /// Samples per chunk.
    nb: usize,
    /// Run chunks on the rayon pool.
    parallel: bool,
}

impl Plan {
    fn new(g: &Conv2dGeometry) -> Self {
        let (kh0, th) = valid_taps(g.k_h, g.h_in, g.h_out, g.stride, g.padding);
        let (kw0, tw) = valid_taps(g.k_w, g.w_in, g.w_out, g.stride, g.padding);
        let (kh0, th, kw0, tw) = if th == 0 || tw == 0 {
            (0, 0, 0, 0)
        } else {
            (kh0, th, kw0, tw)
        };
        let k_eff = g.c_in * th * tw;
        let spatial = g.h_out * g.w_out;
        let (hp, wp) = (g.h_in + 2 * g.padding, g.w_in + 2 * g.padding);
        let compact = th != g.k_h || tw != g.k_w;
        let dense = spatial == 1
            && k_eff > 0
            && kh0 == g.padding
            && kw0 == g.padding
            && th == g.h_in
            && tw == g.w_in;
        let flops = 2 * g.batch * spatial * g.c_out * k_eff;
        let parallel = flops >= PAR_MIN_FLOPS && g.batch >= 2;
        let per_sample = if dense {
            k_eff + g.c_out
        } else {
            (k_eff + g.c_out) * spatial + g.c_in * hp * wp
        };
        let batch = g.batch.max(1);
        let mut nb = (CHUNK_ELEMS / per_sample.max(1)).clamp(1, batch);
        if parallel {
            nb = nb.min(batch.div_ceil(MIN_PAR_CHUNKS)).max(1);
        }
        // Balance the chunks: same number of chunks, sizes differing by at most one sample.
        let nb = batch.div_ceil(batch.div_ceil(nb));
        Plan {
            kh0,
            th,
            kw0,
            tw,
            k_eff,
            spatial,
            hp,
            wp,
            compact,
            dense,
            nb,
            parallel,
        }
    }

    /// Number of chunks the batch is cut into.
    fn chunks(&self, batch: usize) -> usize {
        batch.div_ceil(self.nb)
    }

    /// Elements in the padded input of `nb` samples (zero when no padding is needed).
    fn padded_len(&self, g: &Conv2dGeometry, nb: usize) -> usize {
        if g.padding > 0 {
            nb * g.c_in * self.hp * self.wp
        } else {
            0
        }
    }
}

/// `table[b·spatial + oh·w_out + ow] = b·c_in·hp·wp + (oh·s)·wp + ow·s` for `b < nb`: where
/// the window of output pixel `(oh, ow)` of the chunk's sample `b` starts inside the chunk's
/// padded input (channel 0). Adding `ci·hp·wp + kh·wp + kw` gives the element that tap
/// `(kh, kw)` of channel `ci` reads. One table serves every chunk (shorter chunks use a
/// prefix), so each column-matrix row is one flat gather.
fn fill_window_offsets(g: &Conv2dGeometry, p: &Plan, table: &mut [usize]) {
    let sample = g.c_in * p.hp * p.wp;
    let mut t = table.iter_mut();
    for b in 0..p.nb {
        for oh in 0..g.h_out {
            for ow in 0..g.w_out {
                if let Some(v) = t.next() {
                    *v = b * sample + oh * g.stride * p.wp + ow * g.stride;
                }
            }
        }
    }
}

/// Runs `f` with the window-offset table of the call (empty in the dense case).
fn with_window_offsets<R>(g: &Conv2dGeometry, p: &Plan, f: impl FnOnce(&[usize]) -> R) -> R {
    if p.dense {
        return f(&[]);
    }
    with_scratch::<usize, R>(&TABLE_SCRATCH, p.nb * p.spatial, |table| {
        fill_window_offsets(g, p, table);
        f(table)
    })
}

/// How the prepared weight matrix is laid out.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum WeightLayout {
    /// `c_out × k_eff`, row-major: `wk[co·k_eff + k]`.
    RowMajor,
    /// `k_eff × c_out`, row-major: `wk[k·c_out + co]`.
    Transposed,
}

/// Copies the valid-tap window of `w` into `wk`:
/// `wk[co, (ci, i, j)] = w[co, ci, kh0 + i, kw0 + j]`, in the given layout.
fn prepare_weight<T: CpuFloat>(
    g: &Conv2dGeometry,
    p: &Plan,
    w: &[T],
    layout: WeightLayout,
    wk: &mut [T],
) {
    let taps = g.k_h * g.k_w;
    let window = p.th * p.tw;
    let corner = p.kh0 * g.k_w + p.kw0;
    match layout {
        WeightLayout::RowMajor => {
            // One (co, ci) kernel at a time: `taps` elements in, `window` elements out.
            for (src, dst) in w.chunks_exact(taps).zip(wk.chunks_exact_mut(window)) {
                let src = &src[corner..];
                for (i, drow) in dst.chunks_exact_mut(p.tw).enumerate() {
                    copy_short(drow, &src[i * g.k_w..i * g.k_w + p.tw]);
                }
            }
        }
        WeightLayout::Transposed => {
            for (co, wrow) in w.chunks_exact(g.c_in * taps).enumerate() {
                for (ci, src) in wrow.chunks_exact(taps).enumerate() {
                    let src = &src[corner..];
                    for i in 0..p.th {
                        for j in 0..p.tw {
                            let k = (ci * p.th + i) * p.tw + j;
                            wk[k * g.c_out + co] = src[i * g.k_w + j];
                        }
                    }
                }
            }
        }
    }
}

/// `dst.copy_from_slice(src)` for the short runs of kernel rows: lengths up to 8 become
/// straight-line moves instead of a `memcpy` call each.
#[inline(always)]
fn copy_short<T: Copy>(dst: &mut [T], src: &[T]) {
    fn fixed<T: Copy, const N: usize>(dst: &mut [T], src: &[T]) {
        dst[..N].copy_from_slice(&src[..N]);
    }
    match dst.len() {
        0 => {}
        1 => fixed::<T, 1>(dst, src),
        2 => fixed::<T, 2>(dst, src),
        3 => fixed::<T, 3>(dst, src),
        4 => fixed::<T, 4>(dst, src),
        5 => fixed::<T, 5>(dst, src),
        6 => fixed::<T, 6>(dst, src),
        7 => fixed::<T, 7>(dst, src),
        8 => fixed::<T, 8>(dst, src),
        _ => dst.copy_from_slice(src),
    }
}

/// Runs `f` with the weight as a `c_out × k_eff` matrix in `layout` (the caller's `w`
/// itself when it already is that matrix).
fn with_weight<T: CpuFloat, R>(
    g: &Conv2dGeometry,
    p: &Plan,
    w: &[T],
    layout: WeightLayout,
    f: impl FnOnce(&[T]) -> R,
) -> R {
    if !p.compact && layout == WeightLayout::RowMajor {
        return f(w);
    }
    with_scratch::<T, R>(&CALL_SCRATCH, g.c_out * p.k_eff, |wk| {
        prepare_weight(g, p, w, layout, wk);
        f(wk)
    })
}

/// Inverse of [`prepare_weight`] (row-major): writes the window `wk` into `gw`, zero
/// elsewhere.
fn expand_weight<T: CpuFloat>(g: &Conv2dGeometry, p: &Plan, wk: &[T], gw: &mut [T]) {
    let taps = g.k_h * g.k_w;
    let corner = p.kh0 * g.k_w + p.kw0;
    for (dst, src) in gw.chunks_exact_mut(taps).zip(wk.chunks_exact(p.th * p.tw)) {
        for v in dst.iter_mut() {
            *v = T::zero();
        }
        let dst = &mut dst[corner..];
        for (i, srow) in src.chunks_exact(p.tw).enumerate() {
            copy_short(&mut dst[i * g.k_w..i * g.k_w + p.tw], srow);
        }
    }
}

/// Runs `f(chunk_index, chunk)` over consecutive `len`-element chunks of `out`, on the rayon
/// pool when `parallel`, else in order on this thread.
fn for_each_chunk<T: Send>(
    out: &mut [T],
    len: usize,
    parallel: bool,
    f: impl Fn(usize, &mut [T]) + Sync + Send,
) {
    if parallel {
        out.par_chunks_mut(len)
            .enumerate()
            .for_each(|(i, c)| f(i, c));
    } else {
        out.chunks_mut(len).enumerate().for_each(|(i, c)| f(i, c));
    }
}

// ------------------------------------------------------------------------------------------
// Padding, im2col, col2im and layout changes
// ------------------------------------------------------------------------------------------

/// Where `h × w` planes sit inside larger zero-bordered `hp × wp` planes: rows
/// `[top, top + h)`, columns `[left, left + w)`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct PadShape {
    h: usize,
    w: usize,
    top: usize,
    left: usize,
    hp: usize,
    wp: usize,
}

impl PadShape {
    /// The padded input of a convolution: `p` zeros on every side.
    fn input(g: &Conv2dGeometry) -> Self {
        let p = g.padding;
        PadShape {
            h: g.h_in,
            w: g.w_in,
            top: p,
            left: p,
            hp: g.h_in + 2 * p,
            wp: g.w_in + 2 * p,
        }
    }
}

/// Copies the `h × w` planes of `x` into the interiors of the `hp × wp` planes of `xp`. The
/// borders are not touched.
fn pad_planes<T: CpuFloat>(s: &PadShape, x: &[T], xp: &mut [T]) {
    for (src, dst) in x
        .chunks_exact(s.h * s.w)
        .zip(xp.chunks_exact_mut(s.hp * s.wp))
    {
        for (srow, drow) in src
            .chunks_exact(s.w)
            .zip(dst[s.top * s.wp..].chunks_exact_mut(s.wp))
        {
            copy_short(&mut drow[s.left..s.left + s.w], srow);
        }
    }
}

/// Inverse of [`pad_planes`] for gradients: copies the interior of every padded plane of
/// `gxp` into `gx`, dropping the border.
fn unpad_planes<T: CpuFloat>(g: &Conv2dGeometry, p: &Plan, gxp: &[T], gx: &mut [T]) {
    let pad = g.padding;
    for (src, dst) in gxp
        .chunks_exact(p.hp * p.wp)
        .zip(gx.chunks_exact_mut(g.h_in * g.w_in))
    {
        for (srow, drow) in src[pad * p.wp..]
            .chunks_exact(p.wp)
            .zip(dst.chunks_exact_mut(g.w_in))
        {
            copy_short(drow, &srow[pad..pad + g.w_in]);
        }
    }
}

/// Fills `cols` (`k_eff × nb·spatial`, row-major) from the padded planes `xp` of `nb`
/// samples: `cols[(ci, i, j), (b, t)] = xp[offsets[b·spatial + t] + ci·hp·wp + (kh0 + i)·wp + kw0 + j]`.
fn im2col_rows<T: CpuFloat>(
    g: &Conv2dGeometry,
    p: &Plan,
    xp: &[T],
    offsets: &[usize],
    nb: usize,
    cols: &mut [T],
) {
    let plane = p.hp * p.wp;
    let ncols = nb * p.spatial;
    let offsets = &offsets[..ncols];
    let mut rows = cols.chunks_exact_mut(ncols);
    for ci in 0..g.c_in {
        for i in 0..p.th {
            for j in 0..p.tw {
                let start = ci * plane + (p.kh0 + i) * p.wp + p.kw0 + j;
                let Some(row) = rows.next() else { return };
                let src = &xp[start..];
                for (d, &o) in row.iter_mut().zip(offsets) {
                    *d = src[o];
                }
            }
        }
    }
}

/// Adjoint of [`im2col_rows`]: adds every entry of `dcols` onto the padded-plane element of
/// `gxp` it would have been read from (`gxp` must be zeroed by the caller).
fn col2im_rows<T: CpuFloat>(
    g: &Conv2dGeometry,
    p: &Plan,
    dcols: &[T],
    offsets: &[usize],
    nb: usize,
    gxp: &mut [T],
) {
    let plane = p.hp * p.wp;
    let ncols = nb * p.spatial;
    let offsets = &offsets[..ncols];
    let mut rows = dcols.chunks_exact(ncols);
    for ci in 0..g.c_in {
        for i in 0..p.th {
            for j in 0..p.tw {
                let start = ci * plane + (p.kh0 + i) * p.wp + p.kw0 + j;
                let Some(row) = rows.next() else { return };
                let dst = &mut gxp[start..];
                for (v, &o) in row.iter().zip(offsets) {
                    dst[o] = dst[o] + *v;
                }
            }
        }
    }
}

/// Fills `cols_t` (`nb·spatial × k_eff`, row-major: one patch per output pixel) from the
/// padded planes `xp`: `cols_t[(b, t), (ci, i, j)] = xp[offsets[b·spatial + t] + ci·hp·wp + (kh0 + i)·wp + kw0 + j]`.
fn im2col_patches<T: CpuFloat>(
    g: &Conv2dGeometry,
    p: &Plan,
    xp: &[T],
    offsets: &[usize],
    cols_t: &mut [T],
) {
    // Fixed run lengths compile to straight-line copies instead of `memcpy` calls.
    match p.tw {
        1 => patches_fixed::<T, 1>(g, p, xp, offsets, cols_t),
        2 => patches_fixed::<T, 2>(g, p, xp, offsets, cols_t),
        3 => patches_fixed::<T, 3>(g, p, xp, offsets, cols_t),
        4 => patches_fixed::<T, 4>(g, p, xp, offsets, cols_t),
        5 => patches_fixed::<T, 5>(g, p, xp, offsets, cols_t),
        _ => patches_any(g, p, xp, offsets, cols_t),
    }
}

fn patches_fixed<T: CpuFloat, const TW: usize>(
    g: &Conv2dGeometry,
    p: &Plan,
    xp: &[T],
    offsets: &[usize],
    cols_t: &mut [T],
) {
    let plane = p.hp * p.wp;
    let corner = p.kh0 * p.wp + p.kw0;
    for (patch, &o) in cols_t.chunks_exact_mut(p.k_eff).zip(offsets) {
        let mut runs = patch.chunks_exact_mut(TW);
        for ci in 0..g.c_in {
            let src = &xp[o + ci * plane + corner..];
            for i in 0..p.th {
                let (Some(d), Some(s)) = (runs.next(), src.get(i * p.wp..i * p.wp + TW)) else {
                    return;
                };
                let d: &mut [T; TW] = d.try_into().expect("run of TW elements");
                let s: &[T; TW] = s.try_into().expect("run of TW elements");
                *d = *s;
            }
        }
    }
}

fn patches_any<T: CpuFloat>(
    g: &Conv2dGeometry,
    p: &Plan,
    xp: &[T],
    offsets: &[usize],
    cols_t: &mut [T],
) {
    let plane = p.hp * p.wp;
    let corner = p.kh0 * p.wp + p.kw0;
    for (patch, &o) in cols_t.chunks_exact_mut(p.k_eff).zip(offsets) {
        let mut runs = patch.chunks_exact_mut(p.tw);
        for ci in 0..g.c_in {
            let src = &xp[o + ci * plane + corner..];
            for i in 0..p.th {
                if let Some(d) = runs.next() {
                    d.copy_from_slice(&src[i * p.wp..i * p.wp + p.tw]);
                }
            }
        }
    }
}

/// `y[b, co, :] = out[co, b·spatial ..][..spatial] + bias[co]` for the `nb` samples of `y`.
fn scatter_output<T: CpuFloat>(
    out: &[T],
    bias: Option<&[T]>,
    c_out: usize,
    spatial: usize,
    y: &mut [T],
) {
    let nb = y.len() / (c_out * spatial).max(1);
    let ncols = nb * spatial;
    for (b, yb) in y.chunks_exact_mut(c_out * spatial).enumerate() {
        for (co, yrow) in yb.chunks_exact_mut(spatial).enumerate() {
            let src = &out[co * ncols + b * spatial..][..spatial];
            let c = bias.map_or(T::zero(), |bv| bv[co]);
            for (d, v) in yrow.iter_mut().zip(src) {
                *d = *v + c;
            }
        }
    }
}

/// `gyc[co, b·spatial ..][..spatial] = gy[b, co, :]`: the `nb` samples' output gradient as a
/// `c_out × nb·spatial` matrix.
fn gather_output_grad<T: CpuFloat>(gy: &[T], c_out: usize, spatial: usize, gyc: &mut [T]) {
    let nb = gy.len() / (c_out * spatial).max(1);
    let ncols = nb * spatial;
    for (b, gb) in gy.chunks_exact(c_out * spatial).enumerate() {
        for (co, grow) in gb.chunks_exact(spatial).enumerate() {
            let dst = &mut gyc[co * ncols + b * spatial..][..spatial];
            for (d, v) in dst.iter_mut().zip(grow) {
                *d = *v;
            }
        }
    }
}

/// Adds `bias[co]` to every `y[b, co, :]`.
fn add_bias<T: CpuFloat>(y: &mut [T], bias: &[T], spatial: usize) {
    let c_out = bias.len();
    for yb in y.chunks_exact_mut(c_out * spatial) {
        for (yrow, &c) in yb.chunks_exact_mut(spatial).zip(bias) {
            for v in yrow {
                *v = *v + c;
            }
        }
    }
}

/// A thread-local buffer of zero-padded planes of one shape, whose borders are known to be
/// zero: only interiors are ever written, so reusing it needs no re-zeroing.
struct PaddedPlanes<T> {
    shape: PadShape,
    buf: Vec<T>,
}

/// Padded-plane buffers kept per thread (one per recently used plane shape).
const MAX_PADDED_SHAPES: usize = 16;

/// Runs `f` on the planes of `x` copied into zero-bordered planes of `shape` (reusing a
/// thread-local buffer whose borders are already zero).
fn with_padded<T: CpuFloat, R>(shape: &PadShape, x: &[T], f: impl FnOnce(&[T]) -> R) -> R {
    let planes = x.len() / (shape.h * shape.w).max(1);
    let padded = planes * shape.hp * shape.wp;
    let mut f = Some(f);
    let mut run = |xp: &mut [T]| {
        pad_planes(shape, x, xp);
        let f = f.take().expect("padded-planes closure already consumed");
        f(xp)
    };
    let out = PAD_SCRATCH.with(|cell| {
        let mut slots = cell.try_borrow_mut().ok()?;
        let found = slots.iter().position(|s| {
            s.downcast_ref::<PaddedPlanes<T>>()
                .is_some_and(|b| b.shape == *shape)
        });
        let idx = match found {
            Some(i) => i,
            None => {
                if slots.len() >= MAX_PADDED_SHAPES {
                    slots.remove(0);
                }
                slots.push(Box::new(PaddedPlanes::<T> {
                    shape: *shape,
                    buf: Vec::new(),
                }));
                slots.len() - 1
            }
        };
        let planes = slots[idx].downcast_mut::<PaddedPlanes<T>>()?;
        if planes.buf.len() < padded {
            // New planes are all zeros, so their borders are too.
            planes.buf.resize(padded, T::zero());
        }
        Some(run(&mut planes.buf[..padded]))
    });
    match out {
        Some(r) => r,
        None => run(&mut vec![T::zero(); padded]),
    }
}

/// Runs `f` with the padded planes of the chunk `x` (`x` itself when there is no padding)
/// and a `len`-element chunk scratch buffer.
fn with_padded_input<T: CpuFloat, R>(
    g: &Conv2dGeometry,
    x: &[T],
    len: usize,
    f: impl FnOnce(&[T], &mut [T]) -> R,
) -> R {
    if g.padding == 0 {
        return with_scratch::<T, R>(&CHUNK_SCRATCH, len, |rest| f(x, rest));
    }
    with_padded(&PadShape::input(g), x, |xp| {
        with_scratch::<T, R>(&CHUNK_SCRATCH, len, |rest| f(xp, rest))
    })
}

// ------------------------------------------------------------------------------------------
// Public kernels
// ------------------------------------------------------------------------------------------

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
    if let Some(simd) = use_direct(&p, g.c_out, g.batch * p.spatial >= DIRECT_MIN_PIXELS) {
        let nr = lanes_for::<T>(g.c_out);
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

fn forward_chunk<T: CpuFloat>(
    g: &Conv2dGeometry,
    p: &Plan,
    x: &[T],
    wk: &[T],
    layout: WeightLayout,
    offsets: &[usize],
    bias: Option<&[T]>,
    y: &mut [T],
    nb: usize,
) {
    let (m, k) = (g.c_out, p.k_eff);
    let (one, zero) = (T::one(), T::zero());
    // Strides of the weight matrix `c_out × k_eff`.
    let (rsa, csa) = match layout {
        WeightLayout::RowMajor => (k as isize, 1),
        WeightLayout::Transposed => (1, m as isize),
    };
    let n = nb * p.spatial;
    let ni = n as isize;
    let out_len = if nb == 1 { 0 } else { m * n };
    with_padded_input(g, x, k * n + out_len, |xp, buf| {
        let (cols, out) = buf.split_at_mut(k * n);
        im2col_rows(g, p, xp, offsets, nb, cols);
        if nb == 1 {
            // One sample: the c_out × spatial product already is its NCHW output.
            T::gemm(m, k, n, one, wk, rsa, csa, cols, ni, 1, zero, y, ni, 1);
            if let Some(b) = bias {
                add_bias(y, b, p.spatial);
            }
        } else {
            T::gemm(m, k, n, one, wk, rsa, csa, cols, ni, 1, zero, out, ni, 1);
            scatter_output(out, bias, m, p.spatial, y);
        }
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
    // Input channels are the lanes here; half-width blocks measured slower than the GEMM.
    let wide = g.c_in > lanes_for::<T>(1);
    if let Some(simd) = use_direct(&p, g.c_in, wide && g.batch * p.spatial >= DIRECT_MIN_PIXELS) {
        let nr = lanes_for::<T>(g.c_in);
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

fn backward_input_chunk<T: CpuFloat>(
    g: &Conv2dGeometry,
    p: &Plan,
    gy: &[T],
    wk: &[T],
    offsets: &[usize],
    gx: &mut [T],
    nb: usize,
) {
    let (m, k) = (g.c_out, p.k_eff);
    let ki = k as isize;
    let (one, zero) = (T::one(), T::zero());
    let n = nb * p.spatial;
    let ni = n as isize;
    let padded = p.padded_len(g, nb);
    let gy_len = if nb == 1 { 0 } else { m * n };
    with_scratch::<T, ()>(&CHUNK_SCRATCH, k * n + gy_len + padded, |buf| {
        let (dcols, rest) = buf.split_at_mut(k * n);
        let (gyc, gxp) = rest.split_at_mut(gy_len);
        // dcols = wkᵀ · Gy, with wkᵀ read column-major straight from the weight.
        if nb == 1 {
            T::gemm(k, m, n, one, wk, 1, ki, gy, ni, 1, zero, dcols, ni, 1);
        } else {
            gather_output_grad(gy, m, p.spatial, gyc);
            T::gemm(k, m, n, one, wk, 1, ki, gyc, ni, 1, zero, dcols, ni, 1);
        }
        if padded > 0 {
            gxp.fill(zero);
            col2im_rows(g, p, dcols, offsets, nb, gxp);
            unpad_planes(g, p, gxp, gx);
        } else {
            gx.fill(zero);
            col2im_rows(g, p, dcols, offsets, nb, gx);
        }
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
    let direct = use_direct(&p, g.c_out, p.nb * p.spatial >= DIRECT_MIN_CHUNK_PIXELS);
    let nr = lanes_for::<T>(g.c_out);
    with_pixel_and_tap_offsets(g, &p, |offsets, tap_offs| {
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

/// `acc = Gy · colsᵀ + beta · acc` for one chunk of `nb` samples (`acc` is `c_out × k_eff`).
fn backward_weight_chunk<T: CpuFloat>(
    g: &Conv2dGeometry,
    p: &Plan,
    gy: &[T],
    x: &[T],
    offsets: &[usize],
    acc: &mut [T],
    nb: usize,
    beta: T,
) {
    let (m, k) = (g.c_out, p.k_eff);
    let ki = k as isize;
    let one = T::one();
    let n = nb * p.spatial;
    let ni = n as isize;
    let gy_len = if nb == 1 { 0 } else { m * n };
    with_padded_input(g, x, n * k + gy_len, |xp, buf| {
        let (cols_t, gyc) = buf.split_at_mut(n * k);
        im2col_patches(g, p, xp, offsets, cols_t);
        let gyc: &[T] = if nb == 1 {
            gy
        } else {
            gather_output_grad(gy, m, p.spatial, gyc);
            gyc
        };
        T::gemm(m, n, k, one, gyc, ni, 1, cols_t, ki, 1, beta, acc, ki, 1);
    });
}

// ------------------------------------------------------------------------------------------
// Dense case: 1×1 output whose window covers the input exactly
// ------------------------------------------------------------------------------------------
//
// Window tap (i, j) then meets exactly input pixel (i, j) of every channel, so per tap the
// convolution is a product of two strided views, with no im2col and no weight copy:
// `W_t[co, ci] = w[co, ci, kh0 + i, kw0 + j]` (row stride c_in·k_h·k_w, column stride
// k_h·k_w) and `X_t[ci, b] = x[b, ci, i, j]` (row stride h_in·w_in, column stride
// c_in·h_in·w_in).

/// `(offset inside one (co, ci) kernel, offset inside one input plane)` of every window tap.
fn dense_taps(g: &Conv2dGeometry, p: &Plan) -> impl Iterator<Item = (usize, usize)> {
    let (k_w, w_in, kh0, kw0, tw) = (g.k_w, g.w_in, p.kh0, p.kw0, p.tw);
    (0..p.th).flat_map(move |i| (0..tw).map(move |j| ((kh0 + i) * k_w + kw0 + j, i * w_in + j)))
}

/// `y[b, co] = bias[co] + Σ_t W_t · X_t` for the `nb` samples of the chunk.
fn dense_forward_chunk<T: CpuFloat>(
    g: &Conv2dGeometry,
    p: &Plan,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    y: &mut [T],
    nb: usize,
) {
    let taps = g.k_h * g.k_w;
    let plane = g.h_in * g.w_in;
    let (kernel, sample) = ((g.c_in * taps) as isize, (g.c_in * plane) as isize);
    for (t, (wo, xo)) in dense_taps(g, p).enumerate() {
        let beta = if t == 0 { T::zero() } else { T::one() };
        // C[co, b] = y[b·c_out + co].
        T::gemm(
            g.c_out,
            g.c_in,
            nb,
            T::one(),
            &w[wo..],
            kernel,
            taps as isize,
            &x[xo..],
            plane as isize,
            sample,
            beta,
            y,
            1,
            g.c_out as isize,
        );
    }
    if let Some(b) = bias {
        add_bias(y, b, 1);
    }
}

/// `gx[b, ci, i, j] = Σ_co w[co, ci, kh0 + i, kw0 + j] · gy[b, co]`: one tap per input pixel.
fn dense_backward_input_chunk<T: CpuFloat>(
    g: &Conv2dGeometry,
    p: &Plan,
    gy: &[T],
    w: &[T],
    gx: &mut [T],
    nb: usize,
) {
    let taps = g.k_h * g.k_w;
    let plane = g.h_in * g.w_in;
    let (kernel, sample) = ((g.c_in * taps) as isize, (g.c_in * plane) as isize);
    for (wo, xo) in dense_taps(g, p) {
        // C[ci, b] = gx[b, ci, i, j] = Σ_co W_t[co, ci] · gy[b, co].
        T::gemm(
            g.c_in,
            g.c_out,
            nb,
            T::one(),
            &w[wo..],
            taps as isize,
            kernel,
            gy,
            1,
            g.c_out as isize,
            T::zero(),
            &mut gx[xo..],
            plane as isize,
            sample,
        );
    }
}

/// `acc[co, ci, kh0 + i, kw0 + j] += Σ_b gy[b, co] · x[b, ci, i, j]` (`acc` in OIHW layout;
/// taps outside the window are left untouched).
fn dense_backward_weight_chunk<T: CpuFloat>(
    g: &Conv2dGeometry,
    p: &Plan,
    gy: &[T],
    x: &[T],
    acc: &mut [T],
    nb: usize,
) {
    let taps = g.k_h * g.k_w;
    let plane = g.h_in * g.w_in;
    let (kernel, sample) = ((g.c_in * taps) as isize, (g.c_in * plane) as isize);
    for (wo, xo) in dense_taps(g, p) {
        T::gemm(
            g.c_out,
            nb,
            g.c_in,
            T::one(),
            gy,
            1,
            g.c_out as isize,
            &x[xo..],
            sample,
            plane as isize,
            T::one(),
            &mut acc[wo..],
            kernel,
            taps as isize,
        );
    }
}

// ------------------------------------------------------------------------------------------
// Direct (register-blocked) kernels
// ------------------------------------------------------------------------------------------
//
// On x86-64 CPUs with AVX-512F, AVX2 and FMA, the non-dense kernels can skip im2col and the
// GEMM altogether. One micro-kernel computes a block of `MR` rows × `NR` lanes,
//
//     acc[r][c] = Σ_l src[rows[r] + offs[l]] · panel[l·NR + c],
//
// where `src` is a zero-padded activation buffer, `rows[r] + offs[l]` addresses one of its
// elements, and `panel` holds one SIMD vector of `NR` lanes per step `l`. Each step
// broadcasts `MR` gathered scalars against one panel vector: `MR` fused multiply-adds with
// all accumulators in registers, and nothing packed or materialised. The passes map onto it:
//
// * forward: rows = output pixels (their window corners in the padded input), steps = taps
//   `(ci, kh, kw)`, lanes = output channels, panel = weight;
// * weight gradient: rows = taps, steps = the chunk's output pixels (summed in order),
//   lanes = output channels, panel = output gradient transposed to pixel-major;
// * input gradient: input pixels fall into `s × s` phase classes by `(ih + p) mod s` and
//   `(iw + p) mod s`; within a class the taps `kh ≡ ih + p`, `kw ≡ iw + p (mod s)` reach
//   output pixel `((ih + p − kh)/s, (iw + p − kw)/s)`, a fixed offset from the pixel's anchor
//   in a zero-padded output gradient. So per class: rows = its input pixels, steps =
//   `(co, taps of the class)`, lanes = input channels, panel = weight. Every input pixel gets
//   all of its contributions from one block: no scatter-add and no zeroing.
//
// The micro-kernels read through raw pointers (the `unsafe` inside `simd_block!`);
// [`Gather`] checks, once per block, that every address they can form is in bounds.

/// Proof that this CPU runs the direct kernels: AVX-512F, AVX2 and FMA were detected. Only
/// [`Simd::detect`] makes one, so holding one makes the `target_feature` calls sound.
#[derive(Clone, Copy, Debug)]
struct Simd(());

impl Simd {
    fn detect() -> Option<Simd> {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected;
            if is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx2")
                && is_x86_feature_detected!("fma")
            {
                return Some(Simd(()));
            }
        }
        None
    }
}

/// Rows per micro-kernel block (accumulator vectors: `MR`, well inside 32 registers).
const MR: usize = 12;

/// Forward and input-gradient calls use the direct kernels from this many output pixels
/// (`batch·h_out·w_out`) on. Below it the per-call cost of rearranging the weight dominates
/// and the GEMM path, which reads the weight in place, is faster.
const DIRECT_MIN_PIXELS: usize = 64;

/// Weight-gradient calls use the direct kernels when a chunk holds at least this many output
/// pixels: each micro-kernel block runs over the chunk's pixels, so short chunks leave it
/// dominated by per-block overhead.
const DIRECT_MIN_CHUNK_PIXELS: usize = 96;

#[cfg(test)]
thread_local! {
    /// Tests pin the code path: `Some(false)` forces the GEMM path, `Some(true)` the direct
    /// kernels wherever they apply (and the CPU has them), regardless of size.
    static FORCE_DIRECT: std::cell::Cell<Option<bool>> = const { std::cell::Cell::new(None) };
}

/// Whether a call uses the direct kernels, with SIMD lanes running over `lane_dim` channels:
/// they must apply (not the dense case, at least 4 lanes of work), pay off (`worth_it`, a
/// function of the geometry only), and the CPU must have them.
fn use_direct(p: &Plan, lane_dim: usize, worth_it: bool) -> Option<Simd> {
    let applies = !p.dense && lane_dim >= 4;
    #[cfg(test)]
    if let Some(force) = FORCE_DIRECT.with(|c| c.get()) {
        return Simd::detect().filter(|_| force && applies);
    }
    Simd::detect().filter(|_| applies && worth_it)
}

/// Lanes per micro-kernel block for a lane dimension of `dim` channels: one 512-bit vector,
/// or one 256-bit vector when `dim` fits in it.
fn lanes_for<T: CpuFloat>(dim: usize) -> usize {
    let half = 32 / std::mem::size_of::<T>();
    if dim > half {
        2 * half
    } else {
        half
    }
}

/// Defines one micro-kernel: `out[r·ld + c] = Σ_l src[rows[r] + offs[l]] · panel[l·LANES + c]`
/// for one SIMD vector of `LANES` lanes, with the `MR` accumulators in registers.
///
/// The generated function is `unsafe`: the CPU must support the named features, every
/// `src` address `rows[r] + offs[l]` must be in bounds, `panel` must hold
/// `offs.len()·LANES` elements and `out` must have room for `(MR − 1)·ld + LANES`.
#[cfg(target_arch = "x86_64")]
macro_rules! simd_block {
    ($name:ident, $features:literal, $t:ty, $lanes:literal,
     $zero:ident, $set1:ident, $load:ident, $fmadd:ident, $store:ident) => {
        #[target_feature(enable = $features)]
        unsafe fn $name(
            src: *const $t,
            rows: &[usize; MR],
            offs: &[usize],
            panel: *const $t,
            out: *mut $t,
            ld: usize,
        ) {
            use std::arch::x86_64::*;
            // SAFETY: the caller upholds the contract stated on `simd_block!`: the features
            // are available and every pointer offset below is in bounds.
            unsafe {
                let mut acc = [$zero(); MR];
                for (l, &o) in offs.iter().enumerate() {
                    let w = $load(panel.add(l * $lanes));
                    for (a, &r) in acc.iter_mut().zip(rows) {
                        *a = $fmadd($set1(*src.add(r + o)), w, *a);
                    }
                }
                for (r, a) in acc.iter().enumerate() {
                    $store(out.add(r * ld), *a);
                }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
simd_block!(
    block_f32x16,
    "avx512f,fma",
    f32,
    16,
    _mm512_setzero_ps,
    _mm512_set1_ps,
    _mm512_loadu_ps,
    _mm512_fmadd_ps,
    _mm512_storeu_ps
);
#[cfg(target_arch = "x86_64")]
simd_block!(
    block_f64x8,
    "avx512f,fma",
    f64,
    8,
    _mm512_setzero_pd,
    _mm512_set1_pd,
    _mm512_loadu_pd,
    _mm512_fmadd_pd,
    _mm512_storeu_pd
);
#[cfg(target_arch = "x86_64")]
simd_block!(
    block_f32x8,
    "avx2,fma",
    f32,
    8,
    _mm256_setzero_ps,
    _mm256_set1_ps,
    _mm256_loadu_ps,
    _mm256_fmadd_ps,
    _mm256_storeu_ps
);
#[cfg(target_arch = "x86_64")]
simd_block!(
    block_f64x4,
    "avx2,fma",
    f64,
    4,
    _mm256_setzero_pd,
    _mm256_set1_pd,
    _mm256_loadu_pd,
    _mm256_fmadd_pd,
    _mm256_storeu_pd
);

/// A source buffer with the step offsets of one pass, checked once: any row offset up to
/// `max_row` plus any step offset stays inside `src`.
struct Gather<'a, T> {
    _simd: Simd,
    src: &'a [T],
    offs: &'a [usize],
    max_row: Option<usize>,
}

impl<'a, T: CpuFloat> Gather<'a, T> {
    fn new(simd: Simd, src: &'a [T], offs: &'a [usize]) -> Self {
        let max_off = offs.iter().copied().max().unwrap_or(0);
        Gather {
            _simd: simd,
            src,
            offs,
            max_row: src.len().checked_sub(max_off + 1),
        }
    }

    /// `out[r][c] = Σ_l src[rows[r] + offs[l]] · panel[l·NR + c]` (one micro-kernel block).
    fn block<const NR: usize>(&self, rows: &[usize; MR], panel: &[T]) -> [[T; NR]; MR] {
        let mut out = [[T::zero(); NR]; MR];
        let flat = out.as_flattened_mut();
        self.block_into::<NR>(rows, panel, flat, NR);
        out
    }

    /// [`Gather::block`] writing row `r` of the result to `dst[r·ld ..][..NR]`.
    fn block_into<const NR: usize>(
        &self,
        rows: &[usize; MR],
        panel: &[T],
        dst: &mut [T],
        ld: usize,
    ) {
        let in_bounds = self.max_row.is_some_and(|m| rows.iter().all(|&r| r <= m));
        assert!(in_bounds, "conv direct kernel: row offset out of bounds");
        assert!(
            panel.len() >= self.offs.len() * NR,
            "conv direct kernel: short panel"
        );
        assert!(
            ld >= NR && dst.len() >= (MR - 1) * ld + NR,
            "conv direct kernel: short output"
        );
        #[cfg(target_arch = "x86_64")]
        {
            use std::any::TypeId;
            let is = |t: TypeId| TypeId::of::<T>() == t;
            let (f32_, f64_) = (is(TypeId::of::<f32>()), is(TypeId::of::<f64>()));
            let (src, pan, out) = (self.src.as_ptr(), panel.as_ptr(), dst.as_mut_ptr());
            let offs = self.offs;
            // SAFETY: `T` is exactly the kernel's element type (checked through `TypeId`), so
            // the pointer casts only rename the type; `NR` equals the kernel's lane count, so
            // the asserts above give `panel` offs.len()·LANES elements, `dst` room for
            // (MR − 1)·ld + LANES, and `rows[r] + offs[l] < src.len()`; and the `Simd` token
            // held by `self` proves AVX-512F, AVX2 and FMA were detected on this CPU.
            unsafe {
                match (NR, f32_, f64_) {
                    (16, true, _) => {
                        return block_f32x16(src.cast(), rows, offs, pan.cast(), out.cast(), ld)
                    }
                    (8, _, true) => {
                        return block_f64x8(src.cast(), rows, offs, pan.cast(), out.cast(), ld)
                    }
                    (8, true, _) => {
                        return block_f32x8(src.cast(), rows, offs, pan.cast(), out.cast(), ld)
                    }
                    (4, _, true) => {
                        return block_f64x4(src.cast(), rows, offs, pan.cast(), out.cast(), ld)
                    }
                    _ => {}
                }
            }
        }
        // Portable fallback (not reached for `f32`/`f64` with lane counts from `lanes_for`).
        for (r, &row) in rows.iter().enumerate() {
            let d = &mut dst[r * ld..][..NR];
            d.fill(T::zero());
            for (&o, pv) in self.offs.iter().zip(panel.chunks_exact(NR)) {
                let v = self.src[row + o];
                for (a, &w) in d.iter_mut().zip(pv) {
                    *a = v.mul_add(w, *a);
                }
            }
        }
    }
}

/// `MR` consecutive entries of `table` from `start`, the last one repeated past its end.
fn rows_from(table: &[usize], start: usize) -> [usize; MR] {
    let last = table.len() - 1;
    std::array::from_fn(|r| table[(start + r).min(last)])
}

/// Runs `f` with two per-call offset tables: window corners of the chunk's output pixels
/// (see [`fill_window_offsets`]) and the offset of every window tap `(ci, i, j)` from a
/// corner, `ci·hp·wp + (kh0 + i)·wp + kw0 + j`.
fn with_pixel_and_tap_offsets<R>(
    g: &Conv2dGeometry,
    p: &Plan,
    f: impl FnOnce(&[usize], &[usize]) -> R,
) -> R {
    let pixels = p.nb * p.spatial;
    with_scratch::<usize, R>(&TABLE_SCRATCH, pixels + p.k_eff, |table| {
        let (pix, taps) = table.split_at_mut(pixels);
        fill_window_offsets(g, p, pix);
        let mut t = taps.iter_mut();
        for ci in 0..g.c_in {
            for i in 0..p.th {
                for j in 0..p.tw {
                    if let Some(v) = t.next() {
                        *v = ci * p.hp * p.wp + (p.kh0 + i) * p.wp + p.kw0 + j;
                    }
                }
            }
        }
        f(pix, taps)
    })
}

/// Forward pass with the direct kernel (see the section comment).
fn forward_direct<T: CpuFloat, const NR: usize>(
    g: &Conv2dGeometry,
    p: &Plan,
    simd: Simd,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    y: &mut [T],
) {
    let k = p.k_eff;
    let in_len = g.c_in * g.h_in * g.w_in;
    let out_len = g.c_out * p.spatial;
    let blocks = g.c_out.div_ceil(NR);
    with_scratch::<T, ()>(&CALL_SCRATCH, blocks * k * NR, |panel| {
        // panel[cb][kk][c] = w[cb·NR + c, window tap kk] (zero past c_out), written in
        // order.
        let taps = g.k_h * g.k_w;
        let kernel = g.c_in * taps;
        let corner = p.kh0 * g.k_w + p.kw0;
        for (cb, pb) in panel.chunks_exact_mut(k * NR).enumerate() {
            let ws = &w[cb * NR * kernel..];
            let live = NR.min(g.c_out - cb * NR);
            let mut rows = pb.chunks_exact_mut(NR);
            for ci in 0..g.c_in {
                for i in 0..p.th {
                    for j in 0..p.tw {
                        let off = ci * taps + corner + i * g.k_w + j;
                        if let Some(row) = rows.next() {
                            for (c, d) in row.iter_mut().enumerate() {
                                *d = if c < live {
                                    ws[c * kernel + off]
                                } else {
                                    T::zero()
                                };
                            }
                        }
                    }
                }
            }
        }
        let panel = &*panel;
        with_pixel_and_tap_offsets(g, p, |pix, tap_offs| {
            for_each_chunk(y, p.nb * out_len, p.parallel, |chunk, yc| {
                let nb = yc.len() / out_len;
                let xc = &x[chunk * p.nb * in_len..][..nb * in_len];
                let n = nb * p.spatial;
                // Results land pixel-major in `tmp` (row j = pixel, lanes = channels), then
                // are transposed into NCHW with the bias.
                let ld = blocks * NR;
                with_padded_input(g, xc, n.div_ceil(MR) * MR * ld, |xp, tmp| {
                    let gather = Gather::new(simd, xp, tap_offs);
                    let pix = &pix[..n];
                    for (cb, pb) in panel.chunks_exact(k * NR).enumerate() {
                        for j0 in (0..n).step_by(MR) {
                            let dst = &mut tmp[j0 * ld + cb * NR..];
                            gather.block_into::<NR>(&rows_from(pix, j0), pb, dst, ld);
                        }
                    }
                    for (yb, tb) in yc.chunks_exact_mut(out_len).zip(tmp.chunks(p.spatial * ld)) {
                        for (co, yrow) in yb.chunks_exact_mut(p.spatial).enumerate() {
                            let b = bias.map_or(T::zero(), |b| b[co]);
                            for (d, v) in yrow.iter_mut().zip(tb[co..].iter().step_by(ld)) {
                                *d = *v + b;
                            }
                        }
                    }
                });
            });
        });
    });
}

/// Weight gradient of one chunk with the direct kernel: `acc = Gy · colsᵀ` (`first`) or
/// `acc += Gy · colsᵀ`, with `acc` the `c_out × k_eff` matrix.
fn backward_weight_direct_chunk<T: CpuFloat, const NR: usize>(
    g: &Conv2dGeometry,
    p: &Plan,
    simd: Simd,
    gy: &[T],
    x: &[T],
    (pix, tap_offs): (&[usize], &[usize]),
    acc: &mut [T],
    first: bool,
) {
    let k = p.k_eff;
    let out_len = g.c_out * p.spatial;
    let n = gy.len() / out_len * p.spatial;
    let blocks = g.c_out.div_ceil(NR);
    with_padded_input(g, x, blocks * n * NR, |xp, panel| {
        // panel[cb][j][c] = gy[b, cb·NR + c, t] for pixel j = b·spatial + t, zero past
        // c_out, written in order.
        for (cb, pb) in panel.chunks_exact_mut(n * NR).enumerate() {
            let live = NR.min(g.c_out - cb * NR);
            let mut rows = pb.chunks_exact_mut(NR);
            for gs in gy.chunks_exact(out_len) {
                let gs = &gs[cb * NR * p.spatial..];
                for t in 0..p.spatial {
                    if let Some(row) = rows.next() {
                        for (c, d) in row.iter_mut().enumerate() {
                            *d = if c < live {
                                gs[c * p.spatial + t]
                            } else {
                                T::zero()
                            };
                        }
                    }
                }
            }
        }
        let gather = Gather::new(simd, xp, &pix[..n]);
        for (cb, pb) in panel.chunks_exact(n * NR).enumerate() {
            let c0 = cb * NR;
            let nc = NR.min(g.c_out - c0);
            for k0 in (0..k).step_by(MR) {
                let sums = gather.block::<NR>(&rows_from(tap_offs, k0), pb);
                for (r, sr) in sums.iter().enumerate().take(k - k0) {
                    for (c, &v) in sr[..nc].iter().enumerate() {
                        let d = &mut acc[(c0 + c) * k + k0 + r];
                        *d = if first { v } else { *d + v };
                    }
                }
            }
        }
    });
}

/// Input gradient with the direct kernel, per phase class (see the section comment).
fn backward_input_direct<T: CpuFloat, const NR: usize>(
    g: &Conv2dGeometry,
    p: &Plan,
    simd: Simd,
    gy: &[T],
    w: &[T],
    gx: &mut [T],
) {
    let s = g.stride;
    let taps = g.k_h * g.k_w;
    // Taps of a class along one axis: phase + s·t for t < count(phase).
    let count = |phase: usize, k: usize| {
        if phase < k {
            (k - phase).div_ceil(s)
        } else {
            0
        }
    };
    // Input positions of a class along one axis: i ≡ phase − p (mod s).
    let first = |phase: usize| (phase + s - g.padding % s) % s;
    let positions = |phase: usize, n: usize| {
        let f = first(phase);
        if f < n {
            (n - f).div_ceil(s)
        } else {
            0
        }
    };
    // Zero-padded output gradient: row oh sits at oh + th, where th = max taps − 1, so that
    // the anchor row (ih + p)/s minus t (≤ th) never goes negative.
    let (th, tw) = ((g.k_h - 1) / s, (g.k_w - 1) / s);
    let qh = (g.h_in - 1 + g.padding) / s + 1;
    let qw = (g.w_in - 1 + g.padding) / s + 1;
    let shape = PadShape {
        h: g.h_out,
        w: g.w_out,
        top: th,
        left: tw,
        hp: qh.max(g.h_out) + th,
        wp: qw.max(g.w_out) + tw,
    };
    let gplane = shape.hp * shape.wp;
    let plane = g.h_in * g.w_in;
    let in_len = g.c_in * plane;
    let out_len = g.c_out * p.spatial;
    let blocks = g.c_in.div_ceil(NR);
    let classes = || (0..s).flat_map(move |ph| (0..s).map(move |pw| (ph, pw)));
    // Per class: step offsets (co, t, u), and per sample its pixels' anchors and targets.
    let steps = |(ph, pw): (usize, usize)| g.c_out * count(ph, g.k_h) * count(pw, g.k_w);
    let per_sample = |(ph, pw): (usize, usize)| positions(ph, g.h_in) * positions(pw, g.w_in);
    let table_len: usize = classes().map(|c| steps(c) + 2 * p.nb * per_sample(c)).sum();
    let panel_len: usize = classes().map(|c| blocks * steps(c) * NR).sum();
    with_scratch::<T, ()>(&CALL_SCRATCH, panel_len, |panel| {
        with_scratch::<usize, ()>(&TABLE_SCRATCH, table_len, |table| {
            // Fill panels and tables class by class.
            let (mut pt, mut tt) = (0, 0);
            for c in classes() {
                let (ph, pw) = c;
                let (nt, nu) = (count(ph, g.k_h), count(pw, g.k_w));
                let l = steps(c);
                // panel[cb][(co, t, u)][c] = w[co, cb·NR + c, ph + s·t, pw + s·u] (zero past
                // c_in), written in order; the step offsets go to the table.
                let pc = &mut panel[pt..pt + blocks * l * NR];
                let mut rows = pc.chunks_exact_mut(NR);
                for cb in 0..blocks {
                    let live = NR.min(g.c_in - cb * NR);
                    let mut idx = 0;
                    for co in 0..g.c_out {
                        let ws = &w[(co * g.c_in + cb * NR) * taps..];
                        for t in 0..nt {
                            for u in 0..nu {
                                let tap = (ph + s * t) * g.k_w + pw + s * u;
                                if cb == 0 {
                                    table[tt + idx] = co * gplane + (th - t) * shape.wp + (tw - u);
                                }
                                if let Some(row) = rows.next() {
                                    for (c, d) in row.iter_mut().enumerate() {
                                        *d = if c < live {
                                            ws[c * taps + tap]
                                        } else {
                                            T::zero()
                                        };
                                    }
                                }
                                idx += 1;
                            }
                        }
                    }
                }
                tt += l;
                let m = p.nb * per_sample(c);
                let (anchors, targets) = table[tt..tt + 2 * m].split_at_mut(m);
                let mut e = 0;
                for b in 0..p.nb {
                    for ih in (first(ph)..g.h_in).step_by(s) {
                        for iw in (first(pw)..g.w_in).step_by(s) {
                            let (ah, aw) = ((ih + g.padding) / s, (iw + g.padding) / s);
                            anchors[e] = b * g.c_out * gplane + ah * shape.wp + aw;
                            targets[e] = b * in_len + ih * g.w_in + iw;
                            e += 1;
                        }
                    }
                }
                tt += 2 * m;
                pt += blocks * l * NR;
            }
            let (panel, table) = (&*panel, &*table);
            for_each_chunk(gx, p.nb * in_len, p.parallel, |chunk, gxc| {
                let nb = gxc.len() / in_len;
                let gyc = &gy[chunk * p.nb * out_len..][..nb * out_len];
                let ld = blocks * NR;
                let rows_max = classes()
                    .map(|c| (nb * per_sample(c)).div_ceil(MR) * MR)
                    .max()
                    .unwrap_or(0);
                with_padded(&shape, gyc, |gyp| {
                    with_scratch::<T, ()>(&CHUNK_SCRATCH, rows_max * ld, |tmp| {
                        let (mut pt, mut tt) = (0, 0);
                        for c in classes() {
                            let l = steps(c);
                            let m_all = p.nb * per_sample(c);
                            let m = nb * per_sample(c);
                            let offs = &table[tt..tt + l];
                            let anchors = &table[tt + l..][..m];
                            let targets = &table[tt + l + m_all..][..m];
                            let pc = &panel[pt..pt + blocks * l * NR];
                            tt += l + 2 * m_all;
                            pt += blocks * l * NR;
                            if m == 0 {
                                continue;
                            }
                            if l == 0 {
                                // No tap reaches these pixels (stride larger than the kernel).
                                for &t in targets {
                                    for ci in 0..g.c_in {
                                        gxc[t + ci * plane] = T::zero();
                                    }
                                }
                                continue;
                            }
                            let gather = Gather::new(simd, gyp, offs);
                            for (cb, pb) in pc.chunks_exact(l * NR).enumerate() {
                                for j0 in (0..m).step_by(MR) {
                                    let dst = &mut tmp[j0 * ld + cb * NR..];
                                    gather.block_into::<NR>(&rows_from(anchors, j0), pb, dst, ld);
                                }
                            }
                            for (&t, row) in targets.iter().zip(tmp.chunks_exact(ld)) {
                                for (ci, &v) in row[..g.c_in].iter().enumerate() {
                                    gxc[t + ci * plane] = v;
                                }
                            }
                        }
                    });
                });
            });
        });
    });
}

/// Sum of `v` in a fixed order: eight interleaved partial sums (so the adds vectorise and
/// pipeline), combined pairwise, then the tail.
fn lane_sum<T: CpuFloat>(v: &[T]) -> T {
    let mut acc = [T::zero(); 8];
    let mut it = v.chunks_exact(8);
    for c in &mut it {
        for (a, x) in acc.iter_mut().zip(c) {
            *a = *a + *x;
        }
    }
    let quads = [
        acc[0] + acc[4],
        acc[1] + acc[5],
        acc[2] + acc[6],
        acc[3] + acc[7],
    ];
    let mut total = (quads[0] + quads[2]) + (quads[1] + quads[3]);
    for x in it.remainder() {
        total = total + *x;
    }
    total
}

/// Gradient of [`forward`] with respect to the bias: overwrites `gb` (`c_out` elements) with
/// `gb[co] = Σ_{b, oh, ow} gy[b, co, oh, ow]`, summed per sample (in a fixed order) then over
/// samples in order.
pub fn backward_bias<T: CpuFloat>(g: &Conv2dGeometry, gy: &[T], gb: &mut [T]) {
    debug_assert_eq!(gy.len(), g.output_len());
    debug_assert_eq!(gb.len(), g.c_out);
    let spatial = g.h_out * g.w_out;
    let per_sample = g.c_out * spatial;
    gb.fill(T::zero());
    if per_sample == 0 {
        return;
    }
    if gy.len() >= PAR_MIN_BIAS_ELEMS && g.c_out >= 2 {
        // Channels are independent sums with the same order as below: parallel and exact.
        gb.par_iter_mut().enumerate().for_each(|(co, acc)| {
            for gs in gy.chunks_exact(per_sample) {
                *acc = *acc + lane_sum(&gs[co * spatial..][..spatial]);
            }
        });
    } else {
        for gs in gy.chunks_exact(per_sample) {
            for (acc, row) in gb.iter_mut().zip(gs.chunks_exact(spatial)) {
                *acc = *acc + lane_sum(row);
            }
        }
    }
}

/// The CPU backend's [`ConvOps`](super::super::ConvOps): allocates each output and calls
/// the kernels above.
mod backend_impl {
    use super::super::{cpu, Conv2dGeometry, ConvOps};
    use crate::cpu::{host, host_pair, CpuBackend, HostPair};
    use crate::{CpuStorage, Result, Tensor};

    impl ConvOps for CpuBackend {
        fn conv2d(
            &self,
            g: &Conv2dGeometry,
            x: &Tensor,
            w: &Tensor,
            bias: Option<&Tensor>,
        ) -> Result<Tensor> {
            let bias = bias.map(host).transpose()?;
            let storage = match host_pair("conv2d", x, w)? {
                HostPair::F32(x, w) => {
                    let b = bias.map(|b| match b {
                        CpuStorage::F32(v) => v.as_slice(),
                        CpuStorage::F64(_) => unreachable!("dtype checked by Tensor::conv2d"),
                    });
                    let mut y = vec![0f32; g.output_len()];
                    cpu::forward(g, x, w, b, &mut y);
                    CpuStorage::F32(y.into())
                }
                HostPair::F64(x, w) => {
                    let b = bias.map(|b| match b {
                        CpuStorage::F64(v) => v.as_slice(),
                        CpuStorage::F32(_) => unreachable!("dtype checked by Tensor::conv2d"),
                    });
                    let mut y = vec![0f64; g.output_len()];
                    cpu::forward(g, x, w, b, &mut y);
                    CpuStorage::F64(y.into())
                }
            };
            Ok(Tensor::from_cpu_storage(
                storage,
                vec![g.batch, g.c_out, g.h_out, g.w_out],
            ))
        }

        fn conv2d_backward_input(
            &self,
            g: &Conv2dGeometry,
            dy: &Tensor,
            w: &Tensor,
        ) -> Result<Tensor> {
            let storage = match host_pair("conv2d_backward_input", dy, w)? {
                HostPair::F32(dy, w) => {
                    let mut dx = vec![0f32; g.input_len()];
                    cpu::backward_input(g, dy, w, &mut dx);
                    CpuStorage::F32(dx.into())
                }
                HostPair::F64(dy, w) => {
                    let mut dx = vec![0f64; g.input_len()];
                    cpu::backward_input(g, dy, w, &mut dx);
                    CpuStorage::F64(dx.into())
                }
            };
            Ok(Tensor::from_cpu_storage(
                storage,
                vec![g.batch, g.c_in, g.h_in, g.w_in],
            ))
        }

        fn conv2d_backward_weight(
            &self,
            g: &Conv2dGeometry,
            dy: &Tensor,
            x: &Tensor,
        ) -> Result<Tensor> {
            let storage = match host_pair("conv2d_backward_weight", dy, x)? {
                HostPair::F32(dy, x) => {
                    let mut dw = vec![0f32; g.weight_len()];
                    cpu::backward_weight(g, dy, x, &mut dw);
                    CpuStorage::F32(dw.into())
                }
                HostPair::F64(dy, x) => {
                    let mut dw = vec![0f64; g.weight_len()];
                    cpu::backward_weight(g, dy, x, &mut dw);
                    CpuStorage::F64(dw.into())
                }
            };
            Ok(Tensor::from_cpu_storage(
                storage,
                vec![g.c_out, g.c_in, g.k_h, g.k_w],
            ))
        }

        fn conv2d_backward_bias(&self, g: &Conv2dGeometry, dy: &Tensor) -> Result<Tensor> {
            let storage = match host(dy)? {
                CpuStorage::F32(dy) => {
                    let mut db = vec![0f32; g.c_out];
                    cpu::backward_bias(g, dy, &mut db);
                    CpuStorage::F32(db.into())
                }
                CpuStorage::F64(dy) => {
                    let mut db = vec![0f64; g.c_out];
                    cpu::backward_bias(g, dy, &mut db);
                    CpuStorage::F64(db.into())
                }
            };
            Ok(Tensor::from_cpu_storage(storage, vec![g.c_out]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn geometry(
        batch: usize,
        c_in: usize,
        (h_in, w_in): (usize, usize),
        c_out: usize,
        (k_h, k_w): (usize, usize),
        stride: usize,
        padding: usize,
    ) -> Option<Conv2dGeometry> {
        Some(Conv2dGeometry {
            batch,
            c_in,
            h_in,
            w_in,
            c_out,
            k_h,
            k_w,
            stride,
            padding,
            h_out: Conv2dGeometry::out_size(h_in, k_h, stride, padding)?,
            w_out: Conv2dGeometry::out_size(w_in, k_w, stride, padding)?,
        })
    }

    use test_oracles::conv::{conv2d as naive_conv, conv2d_backward as naive_backward, ConvShape};
    use test_oracles::seeded::uniform as values;

    /// Naive results in f64: (value, sum of |terms|) for y, gx, gw, gb.
    struct Reference {
        y: Vec<(f64, f64)>,
        gx: Vec<(f64, f64)>,
        gw: Vec<(f64, f64)>,
        gb: Vec<(f64, f64)>,
    }

    /// The oracle's values, and the same sums over absolute values (the sum of the
    /// magnitudes of the terms, for the rounding-error bound).
    fn reference(g: &Conv2dGeometry, x: &[f64], w: &[f64], bias: &[f64], gy: &[f64]) -> Reference {
        let s = ConvShape::new(
            [g.batch, g.c_in, g.h_in, g.w_in],
            [g.c_out, g.c_in, g.k_h, g.k_w],
            g.stride,
            g.padding,
        )
        .unwrap();
        assert_eq!((s.h_out(), s.w_out()), (g.h_out, g.w_out));
        let abs = |v: &[f64]| v.iter().map(|a| a.abs()).collect::<Vec<_>>();
        let y = naive_conv(&s, x, w, Some(bias)).unwrap();
        let my = naive_conv(&s, &abs(x), &abs(w), Some(&abs(bias))).unwrap();
        let d = naive_backward(&s, x, w, gy).unwrap();
        let m = naive_backward(&s, &abs(x), &abs(w), &abs(gy)).unwrap();
        let zip = |a: Vec<f64>, b: Vec<f64>| a.into_iter().zip(b).collect::<Vec<_>>();
        Reference {
            y: zip(y, my),
            gx: zip(d.dx, m.dx),
            gw: zip(d.dw, m.dw),
            gb: zip(d.db, m.db),
        }
    }

    fn assert_close<T: CpuFloat>(
        what: &str,
        g: &Conv2dGeometry,
        got: &[T],
        want: &[(f64, f64)],
        tol: f64,
    ) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        for (i, (got, &(v, mag))) in got.iter().zip(want).enumerate() {
            let err = (got.as_f64() - v).abs();
            assert!(
                err <= tol * (mag + 1e-30),
                "{what} [{i}] of {g:?}: got {got}, want {v} (|terms| {mag})"
            );
        }
    }

    fn to<T: CpuFloat>(v: &[f64]) -> Vec<T> {
        v.iter().map(|&x| T::of_f64(x)).collect()
    }
    fn back(v: &[impl CpuFloat]) -> Vec<f64> {
        v.iter().map(|x| x.as_f64()).collect()
    }

    /// Every code path this CPU can run: the size-based dispatch, the GEMM path forced, and
    /// the direct kernels forced wherever they apply.
    fn paths() -> Vec<Option<bool>> {
        let mut v = vec![None, Some(false)];
        if Simd::detect().is_some() {
            v.push(Some(true));
        }
        v
    }

    /// Runs `f` on this thread with the code path pinned (see `FORCE_DIRECT`).
    fn on_path<R>(path: Option<bool>, f: impl FnOnce() -> R) -> R {
        FORCE_DIRECT.with(|c| c.set(path));
        let r = f();
        FORCE_DIRECT.with(|c| c.set(None));
        r
    }

    /// [`check_at`] on every code path.
    fn check<T: CpuFloat>(g: &Conv2dGeometry, seed: u64, tol: f64) {
        for path in paths() {
            on_path(path, || check_at::<T>(g, seed, tol));
        }
    }

    /// Runs all four kernels in precision `T` on random data and compares with the naive
    /// f64 reference computed from the same (rounded) inputs.
    fn check_at<T: CpuFloat>(g: &Conv2dGeometry, seed: u64, tol: f64) {
        let x: Vec<T> = to(&values(g.input_len(), seed));
        let w: Vec<T> = to(&values(g.weight_len(), seed + 1));
        let bias: Vec<T> = to(&values(g.c_out, seed + 2));
        let gy: Vec<T> = to(&values(g.output_len(), seed + 3));
        let r = reference(g, &back(&x), &back(&w), &back(&bias), &back(&gy));
        let poison = T::of_f64(f64::NAN);

        let mut y = vec![poison; g.output_len()];
        forward(g, &x, &w, Some(&bias), &mut y);
        assert_close("forward", g, &y, &r.y, tol);
        // Without bias the reference shifts by the bias exactly.
        forward(g, &x, &w, None, &mut y);
        let spatial = g.h_out * g.w_out;
        let no_bias: Vec<(f64, f64)> =
            r.y.iter()
                .enumerate()
                .map(|(i, &(v, m))| {
                    let c = bias[(i / spatial.max(1)) % g.c_out].as_f64();
                    (v - c, m)
                })
                .collect();
        assert_close("forward(no bias)", g, &y, &no_bias, tol);

        let mut gx = vec![poison; g.input_len()];
        backward_input(g, &gy, &w, &mut gx);
        assert_close("backward_input", g, &gx, &r.gx, tol);

        let mut gw = vec![poison; g.weight_len()];
        backward_weight(g, &gy, &x, &mut gw);
        assert_close("backward_weight", g, &gw, &r.gw, tol);

        let mut gb = vec![poison; g.c_out];
        backward_bias(g, &gy, &mut gb);
        assert_close("backward_bias", g, &gb, &r.gb, tol);
    }

    fn check_both(g: &Conv2dGeometry, seed: u64) {
        check::<f64>(g, seed, 1e-12);
        check::<f32>(g, seed, 2e-5);
    }

    /// The five convolutions of the lesson's CNN (stride 2, padding k/2).
    fn lesson_layers(batch: usize) -> Vec<Conv2dGeometry> {
        [
            (1, 8, 5, 28),
            (8, 16, 3, 14),
            (16, 32, 3, 7),
            (32, 64, 3, 4),
            (64, 64, 3, 2),
        ]
        .iter()
        .map(|&(ci, co, k, hw)| geometry(batch, ci, (hw, hw), co, (k, k), 2, k / 2).unwrap())
        .collect()
    }

    #[test]
    fn lesson_layers_batch_3() {
        let expected_out = [14, 7, 4, 2, 1];
        for (i, g) in lesson_layers(3).iter().enumerate() {
            assert_eq!((g.h_out, g.w_out), (expected_out[i], expected_out[i]));
            check_both(g, 100 + i as u64);
        }
    }

    #[test]
    fn lesson_layers_large_batch_parallel_chunks() {
        // Big enough to take the parallel, multi-chunk paths.
        for (i, g) in lesson_layers(40).iter().enumerate() {
            check::<f32>(g, 200 + i as u64, 2e-5);
        }
        check::<f64>(&lesson_layers(40)[1], 300, 1e-12);
    }

    #[test]
    fn many_shapes() {
        let mut seed = 1000;
        for batch in [1, 2] {
            // Channel counts straddle every SIMD lane width (4, 8, 16) on both vector sides.
            for (c_in, c_out) in [(1, 1), (2, 3), (3, 5), (5, 9), (17, 4)] {
                for (h, w) in [(1, 1), (2, 2), (5, 5), (6, 4), (3, 8), (9, 7)] {
                    for k in [1, 3, 5] {
                        for stride in [1, 2] {
                            for padding in 0..=2 {
                                if let Some(g) =
                                    geometry(batch, c_in, (h, w), c_out, (k, k), stride, padding)
                                {
                                    check_both(&g, seed);
                                    seed += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
        // Rectangular kernels, stride 3.
        for &(k_h, k_w) in &[(1, 3), (3, 1), (2, 5), (4, 2)] {
            let g = geometry(2, 3, (7, 6), 4, (k_h, k_w), 3, 1).unwrap();
            check_both(&g, seed);
            seed += 1;
        }
    }

    #[test]
    fn sequential_multi_chunk_path() {
        // Under the parallel threshold but bigger than one cache-sized chunk.
        let g = lesson_layers(20)[0];
        let p = Plan::new(&g);
        assert!(!p.parallel && p.chunks(g.batch) > 1, "{p:?}");
        check_both(&g, 77);
    }

    #[test]
    fn taps_reading_only_padding() {
        // Input 1 wide, padding 2, stride 2, kernel 3: only taps 0 and 2 read the input.
        let g = geometry(2, 2, (1, 1), 3, (3, 3), 2, 2).unwrap();
        assert_eq!((g.h_out, g.w_out), (2, 2));
        check_both(&g, 5);
        // Stride larger than the kernel: some input pixels feed no output at all.
        for (k, stride) in [(2, 3), (1, 2)] {
            let g = geometry(2, 6, (7, 8), 5, (k, k), stride, 1).unwrap();
            check_both(&g, 7 + k as u64);
        }
        // Padding at least the kernel with a large stride: no tap ever reads the input.
        let g = geometry(2, 2, (1, 1), 3, (2, 2), 5, 4).unwrap();
        assert_eq!(Plan::new(&g).k_eff, 0);
        check_both(&g, 6);
    }

    #[test]
    fn hand_computed_2x2_to_1x1() {
        // x = [[1, 2], [3, 4]], w = [[1, 2, 3], [4, 5, 6], [7, 8, 9]], stride 2, padding 1:
        // the single output window is centred on x[0][0], so x[i][j] meets w[1 + i][1 + j].
        let g = geometry(1, 1, (2, 2), 1, (3, 3), 2, 1).unwrap();
        assert_eq!((g.h_out, g.w_out), (1, 1));
        assert!(Plan::new(&g).dense);
        let x = [1.0f64, 2.0, 3.0, 4.0];
        let w: Vec<f64> = (1..=9).map(f64::from).collect();
        let mut y = [0.0f64];
        forward(&g, &x, &w, Some(&[0.5]), &mut y);
        assert_eq!(y, [1.0 * 5.0 + 2.0 * 6.0 + 3.0 * 8.0 + 4.0 * 9.0 + 0.5]);
        let mut gx = [0.0f64; 4];
        backward_input(&g, &[1.0], &w, &mut gx);
        assert_eq!(gx, [5.0, 6.0, 8.0, 9.0]);
        let mut gw = [f64::NAN; 9];
        backward_weight(&g, &[2.0], &x, &mut gw);
        assert_eq!(gw, [0.0, 0.0, 0.0, 0.0, 2.0, 4.0, 0.0, 6.0, 8.0]);
        let mut gb = [0.0f64];
        backward_bias(&g, &[2.0], &mut gb);
        assert_eq!(gb, [2.0]);

        // f32, two samples and two output channels (second channel's weight doubled).
        let g = geometry(2, 1, (2, 2), 2, (3, 3), 2, 1).unwrap();
        let x = [1.0f32, 2.0, 3.0, 4.0, -1.0, 0.0, 0.0, 1.0];
        let w: Vec<f32> = (1..=9)
            .chain((1..=9).map(|v| 2 * v))
            .map(|v| v as f32)
            .collect();
        let mut y = [0.0f32; 4];
        forward(&g, &x, &w, None, &mut y);
        assert_eq!(y, [77.0, 154.0, 4.0, 8.0]);
    }

    #[test]
    fn hand_computed_3x3_identity_kernel() {
        // A kernel that is 1 at its centre copies the input (stride 1, padding 1).
        let g = geometry(1, 1, (3, 3), 1, (3, 3), 1, 1).unwrap();
        let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        let mut w = [0.0f32; 9];
        w[4] = 1.0;
        let mut y = [0.0f32; 9];
        forward(&g, &x, &w, None, &mut y);
        assert_eq!(y.to_vec(), x);
        // All-ones kernel: each output is the sum of its 3x3 neighbourhood.
        let ones = [1.0f32; 9];
        forward(&g, &x, &ones, None, &mut y);
        assert_eq!(y, [12.0, 21.0, 16.0, 27.0, 45.0, 33.0, 24.0, 39.0, 28.0]);
        // And the input gradient of all-ones gy counts the windows covering each pixel.
        let mut gx = [0.0f32; 9];
        backward_input(&g, &[1.0; 9], &ones, &mut gx);
        assert_eq!(gx, [4.0, 6.0, 4.0, 6.0, 9.0, 6.0, 4.0, 6.0, 4.0]);
    }

    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn adjoint_identity() {
        // <conv(x, w), gy> = <x, backward_input(gy, w)> = <w, backward_weight(gy, x)>.
        let mut shapes = lesson_layers(3);
        shapes.push(geometry(2, 3, (6, 5), 4, (3, 2), 1, 2).unwrap());
        shapes.push(geometry(1, 2, (9, 9), 3, (5, 5), 3, 0).unwrap());
        for (i, g) in shapes.iter().enumerate() {
            let x = values(g.input_len(), 40 + i as u64);
            let w = values(g.weight_len(), 50 + i as u64);
            let gy = values(g.output_len(), 60 + i as u64);
            let mut y = vec![0.0; g.output_len()];
            forward(g, &x, &w, None, &mut y);
            let mut gx = vec![0.0; g.input_len()];
            backward_input(g, &gy, &w, &mut gx);
            let mut gw = vec![0.0; g.weight_len()];
            backward_weight(g, &gy, &x, &mut gw);
            let (a, b, c) = (dot(&y, &gy), dot(&x, &gx), dot(&w, &gw));
            let scale = 1.0 + a.abs();
            assert!((a - b).abs() <= 1e-11 * scale, "{g:?}: {a} vs {b}");
            assert!((a - c).abs() <= 1e-11 * scale, "{g:?}: {a} vs {c}");
        }
    }

    #[test]
    fn results_are_independent_of_thread_count() {
        for (g, path) in lesson_layers(96)
            .into_iter()
            .flat_map(|g| paths().into_iter().map(move |l| (g, l)))
        {
            assert!(Plan::new(&g).parallel);
            let x: Vec<f32> = to(&values(g.input_len(), 9));
            let gy: Vec<f32> = to(&values(g.output_len(), 10));
            let w: Vec<f32> = to(&values(g.weight_len(), 11));
            let run = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                pool.install(|| {
                    FORCE_DIRECT.with(|c| c.set(path));
                    let mut gw = vec![0.0f32; g.weight_len()];
                    backward_weight(&g, &gy, &x, &mut gw);
                    let mut gx = vec![0.0f32; g.input_len()];
                    backward_input(&g, &gy, &w, &mut gx);
                    let mut y = vec![0.0f32; g.output_len()];
                    forward(&g, &x, &w, None, &mut y);
                    let mut gb = vec![0.0f32; g.c_out];
                    backward_bias(&g, &gy, &mut gb);
                    (gw, gx, y, gb)
                })
            };
            let one = run(1);
            assert!(one.0.iter().all(|v| v.is_finite()));
            assert_eq!(one, run(1));
            assert_eq!(one, run(2));
            assert_eq!(one, run(3));
        }
    }

    fn arb_geometry() -> impl Strategy<Value = Option<Conv2dGeometry>> {
        (
            1usize..4,
            1usize..11,
            1usize..10,
            1usize..10,
            1usize..11,
            1usize..6,
            1usize..6,
            1usize..4,
            0usize..3,
        )
            .prop_map(|(batch, c_in, h, w, c_out, k_h, k_w, stride, padding)| {
                geometry(batch, c_in, (h, w), c_out, (k_h, k_w), stride, padding)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn random_shapes_match_naive(g in arb_geometry(), seed in 0u64..1000) {
            prop_assume!(g.is_some());
            let g = g.unwrap();
            check::<f64>(&g, seed, 1e-12);
            check::<f32>(&g, seed, 2e-5);
        }
    }
}
