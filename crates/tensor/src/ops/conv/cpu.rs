//! CPU kernels for 2-D convolution (NCHW input, OIHW weight, no groups, no dilation).
//!
//! With `x[b, ci, ih, iw]`, `w[co, ci, kh, kw]`, stride `s` and zero padding `p`:
//!
//! ```text
//! y[b, co, oh, ow] = bias[co] + Σ_{ci, kh, kw} w[co, ci, kh, kw] · x[b, ci, oh·s + kh − p, ow·s + kw − p]
//! ```
//!
//! where reads outside the input are zero. Every kernel lowers the convolution to one
//! matrix product per chunk of samples (im2col): for a chunk of `nb` samples the *column
//! matrix* `cols[(ci, kh, kw), (b, oh, ow)] = x[b, ci, oh·s + kh − p, ow·s + kw − p]` has
//! `c_in·k_h·k_w` rows and `nb·h_out·w_out` columns, and with `W` the weight seen as a
//! `c_out × (c_in·k_h·k_w)` matrix and `Gy` the output gradient seen as
//! `c_out × (nb·h_out·w_out)`:
//!
//! * forward: `Y = W · cols` (then scattered to NCHW, plus the bias);
//! * input gradient: `dcols = Wᵀ · Gy`, then `gx = col2im(dcols)`, the adjoint of im2col
//!   (every column entry is added back onto the input pixel it was read from);
//! * weight gradient: `gw = Σ_chunks Gy · colsᵀ`;
//! * bias gradient: `gb[co] = Σ_{b, oh, ow} gy[b, co, oh, ow]`.
//!
//! # Design
//!
//! * **Valid-tap window.** Kernel taps that read only padding for every output position
//!   contribute nothing. The kernels find the smallest rectangle of taps
//!   `[kh0, kh0 + th) × [kw0, kw0 + tw)` holding every tap that ever reads the input and
//!   work on that window only (for 3×3/pad-1 on a 2×2 map giving 1×1 that is 4 taps of 9).
//!   When the window is smaller than the kernel, the weight is compacted once per call.
//! * **Dense case.** When the output is 1×1 and the window covers the input exactly, the
//!   column matrix of a sample *is* that sample's input, so no im2col is done at all: the
//!   convolution is a fully connected layer computed by one strided GEMM on `x` itself.
//! * **Chunks of samples.** The batch is cut into chunks sized so that a chunk's column
//!   matrix stays in the per-core L2 cache; each chunk does im2col, one GEMM, and a
//!   scatter/gather. The chunking depends only on the geometry, never on the thread count.
//! * **Parallelism.** Chunks run on rayon only when the call's arithmetic exceeds
//!   [`PAR_MIN_FLOPS`]; smaller calls (e.g. batch 2) run inline with no rayon overhead.
//! * **Scratch reuse.** Column matrices and GEMM outputs live in thread-local buffers that
//!   grow on demand and are reused, so the hot path does not allocate (matrixmultiply's own
//!   packing buffers excepted).
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

/// Target size, in elements, of one chunk's column matrix (plus its GEMM output); chosen
/// so the working set of a chunk stays well inside a 2 MiB L2 cache for `f32` and `f64`.
const CHUNK_ELEMS: usize = 48 * 1024;

/// When a call is parallel, chunks are made small enough that there are at least this many
/// of them, so two or more threads stay balanced.
const MIN_PAR_CHUNKS: usize = 8;

/// Upper bound on the number of independent partial sums of the weight gradient.
const MAX_WEIGHT_GROUPS: usize = 8;

// ------------------------------------------------------------------------------------------
// Scratch buffers
// ------------------------------------------------------------------------------------------

type Slots = RefCell<Vec<Box<dyn Any>>>;

thread_local! {
    /// Scratch used inside one chunk of work (column matrix, GEMM output).
    static CHUNK_SCRATCH: Slots = const { RefCell::new(Vec::new()) };
    /// Scratch held by the calling thread for a whole call (compacted weight, partial sums);
    /// separate from [`CHUNK_SCRATCH`] because chunks may run on the calling thread.
    static CALL_SCRATCH: Slots = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on a thread-local buffer of at least `len` elements of `T` (contents
/// unspecified). Falls back to a fresh allocation if the buffer is already borrowed
/// (re-entrant use), so it never panics.
fn with_scratch<T: CpuFloat, R>(
    key: &'static LocalKey<Slots>,
    len: usize,
    f: impl FnOnce(&mut [T]) -> R,
) -> R {
    let mut f = Some(f);
    let out = key.with(|cell| {
        let mut slots = cell.try_borrow_mut().ok()?;
        let idx = match slots.iter().position(|s| s.is::<Vec<T>>()) {
            Some(i) => i,
            None => {
                slots.push(Box::new(Vec::<T>::new()));
                slots.len() - 1
            }
        };
        let buf = slots[idx].downcast_mut::<Vec<T>>()?;
        if buf.len() < len {
            buf.resize(len, T::zero());
        }
        let f = f.take()?;
        Some(f(&mut buf[..len]))
    });
    match out {
        Some(r) => r,
        None => {
            let f = f.take().expect("scratch closure already consumed");
            let mut buf = vec![T::zero(); len];
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

/// The range `[lo, hi)` of output indices `o < out` for which `o·stride + t − pad` lies in
/// `[0, input)`, for one kernel tap `t`. Empty ranges are returned as `lo == hi`.
fn valid_outputs(t: usize, input: usize, out: usize, stride: usize, pad: usize) -> (usize, usize) {
    // o·s + t − p ≥ 0  ⇔  o ≥ ceil((p − t) / s)
    let lo = if pad > t {
        (pad - t).div_ceil(stride)
    } else {
        0
    };
    // o·s + t − p ≤ input − 1  ⇔  o ≤ floor((input − 1 + p − t) / s)
    let hi = if input + pad > t {
        (input - 1 + pad - t) / stride + 1
    } else {
        0
    };
    let hi = hi.min(out);
    (lo.min(hi), hi)
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
            (k_eff + g.c_out) * spatial
        };
        let mut nb = (CHUNK_ELEMS / per_sample.max(1)).clamp(1, g.batch.max(1));
        if parallel {
            nb = nb.min(g.batch.div_ceil(MIN_PAR_CHUNKS)).max(1);
        }
        // Balance the chunks: same number of chunks, sizes differing by at most one batch.
        let chunks = g.batch.max(1).div_ceil(nb);
        let nb = g.batch.max(1).div_ceil(chunks);
        Plan {
            kh0,
            th,
            kw0,
            tw,
            k_eff,
            spatial,
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
}

/// Copies the valid-tap window of `w` into `wk`, a `c_out × (c_in·th·tw)` row-major matrix:
/// `wk[co, (ci, i, j)] = w[co, ci, kh0 + i, kw0 + j]`.
fn compact_weight<T: CpuFloat>(g: &Conv2dGeometry, p: &Plan, w: &[T], wk: &mut [T]) {
    let mut dst = wk.iter_mut();
    for co in 0..g.c_out {
        for ci in 0..g.c_in {
            let base = (co * g.c_in + ci) * g.k_h * g.k_w;
            for i in 0..p.th {
                let row = base + (p.kh0 + i) * g.k_w + p.kw0;
                for &v in &w[row..row + p.tw] {
                    if let Some(d) = dst.next() {
                        *d = v;
                    }
                }
            }
        }
    }
}

/// Runs `f` with the weight as a `c_out × k_eff` row-major matrix (compacted if needed).
fn with_weight_matrix<T: CpuFloat, R>(
    g: &Conv2dGeometry,
    p: &Plan,
    w: &[T],
    f: impl FnOnce(&[T]) -> R,
) -> R {
    if p.compact {
        with_scratch::<T, R>(&CALL_SCRATCH, g.c_out * p.k_eff, |wk| {
            compact_weight(g, p, w, wk);
            f(wk)
        })
    } else {
        f(w)
    }
}

/// Runs `f(chunk_index, chunk)` over consecutive `len`-element chunks of `out`, on the rayon
/// pool when `parallel`, else in order on this thread.
fn for_each_chunk<T: CpuFloat>(
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
// im2col / col2im / layout changes
// ------------------------------------------------------------------------------------------

/// Fills `cols` (`k_eff × nb·spatial`, row-major) from the `nb` samples in `x`:
/// `cols[(ci, i, j), (b, oh, ow)] = x[b, ci, oh·s + kh0 + i − p, ow·s + kw0 + j − p]`, zero
/// where that index falls in the padding.
fn im2col<T: CpuFloat>(g: &Conv2dGeometry, p: &Plan, x: &[T], nb: usize, cols: &mut [T]) {
    let (s, pad) = (g.stride, g.padding);
    let plane = g.h_in * g.w_in;
    let ncols = nb * p.spatial;
    let zero = T::zero();
    let mut rows = cols.chunks_exact_mut(ncols);
    for ci in 0..g.c_in {
        for i in 0..p.th {
            let kh = p.kh0 + i;
            let (oh_lo, oh_hi) = valid_outputs(kh, g.h_in, g.h_out, s, pad);
            for j in 0..p.tw {
                let kw = p.kw0 + j;
                let (ow_lo, ow_hi) = valid_outputs(kw, g.w_in, g.w_out, s, pad);
                let Some(row) = rows.next() else { return };
                for b in 0..nb {
                    let src = &x[(b * g.c_in + ci) * plane..][..plane];
                    let dst = &mut row[b * p.spatial..][..p.spatial];
                    dst[..oh_lo * g.w_out].fill(zero);
                    dst[oh_hi * g.w_out..].fill(zero);
                    if ow_lo >= ow_hi {
                        dst[oh_lo * g.w_out..oh_hi * g.w_out].fill(zero);
                        continue;
                    }
                    for oh in oh_lo..oh_hi {
                        let ih = oh * s + kh - pad;
                        let d = &mut dst[oh * g.w_out..][..g.w_out];
                        d[..ow_lo].fill(zero);
                        d[ow_hi..].fill(zero);
                        let iw0 = ow_lo * s + kw - pad;
                        let srow = &src[ih * g.w_in..][..g.w_in];
                        let d = &mut d[ow_lo..ow_hi];
                        if s == 1 {
                            d.copy_from_slice(&srow[iw0..iw0 + d.len()]);
                        } else {
                            for (o, v) in d.iter_mut().zip(srow[iw0..].iter().step_by(s)) {
                                *o = *v;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Adjoint of [`im2col`]: zeroes `gx` (the `nb` samples' input gradient) and adds every
/// entry of `dcols` onto the input pixel it would have been read from.
fn col2im<T: CpuFloat>(g: &Conv2dGeometry, p: &Plan, dcols: &[T], nb: usize, gx: &mut [T]) {
    let (s, pad) = (g.stride, g.padding);
    let plane = g.h_in * g.w_in;
    let ncols = nb * p.spatial;
    gx.fill(T::zero());
    let mut rows = dcols.chunks_exact(ncols);
    for ci in 0..g.c_in {
        for i in 0..p.th {
            let kh = p.kh0 + i;
            let (oh_lo, oh_hi) = valid_outputs(kh, g.h_in, g.h_out, s, pad);
            for j in 0..p.tw {
                let kw = p.kw0 + j;
                let (ow_lo, ow_hi) = valid_outputs(kw, g.w_in, g.w_out, s, pad);
                let Some(row) = rows.next() else { return };
                if ow_lo >= ow_hi {
                    continue;
                }
                for b in 0..nb {
                    let dst = &mut gx[(b * g.c_in + ci) * plane..][..plane];
                    let src = &row[b * p.spatial..][..p.spatial];
                    for oh in oh_lo..oh_hi {
                        let ih = oh * s + kh - pad;
                        let iw0 = ow_lo * s + kw - pad;
                        let srow = &src[oh * g.w_out + ow_lo..oh * g.w_out + ow_hi];
                        let drow = &mut dst[ih * g.w_in..][..g.w_in];
                        if s == 1 {
                            for (d, v) in drow[iw0..iw0 + srow.len()].iter_mut().zip(srow) {
                                *d = *d + *v;
                            }
                        } else {
                            for (d, v) in drow[iw0..].iter_mut().step_by(s).zip(srow) {
                                *d = *d + *v;
                            }
                        }
                    }
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
            match bias {
                Some(bv) => {
                    let c = bv[co];
                    for (d, v) in yrow.iter_mut().zip(src) {
                        *d = *v + c;
                    }
                }
                None => yrow.copy_from_slice(src),
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
            gyc[co * ncols + b * spatial..][..spatial].copy_from_slice(grow);
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
    debug_assert!(bias.map_or(true, |b| b.len() == g.c_out));
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
    with_weight_matrix(g, &p, w, |wk| {
        for_each_chunk(y, p.nb * out_len, p.parallel, |ci, yc| {
            let nb = yc.len() / out_len;
            let xc = &x[ci * p.nb * in_len..][..nb * in_len];
            forward_chunk(g, &p, xc, wk, bias, yc, nb);
        });
    });
}

fn forward_chunk<T: CpuFloat>(
    g: &Conv2dGeometry,
    p: &Plan,
    x: &[T],
    wk: &[T],
    bias: Option<&[T]>,
    y: &mut [T],
    nb: usize,
) {
    let (m, k) = (g.c_out as isize, p.k_eff as isize);
    let (one, zero) = (T::one(), T::zero());
    if p.dense {
        // y[b, co] = Σ_k wk[co, k] · x[b, k]: C = y viewed as c_out × nb (column-major).
        T::gemm(g.c_out, p.k_eff, nb, one, wk, k, 1, x, 1, k, zero, y, 1, m);
        if let Some(b) = bias {
            add_bias(y, b, 1);
        }
        return;
    }
    let ncols = nb * p.spatial;
    if nb == 1 {
        // One sample: the GEMM output already is NCHW.
        with_scratch::<T, ()>(&CHUNK_SCRATCH, p.k_eff * ncols, |cols| {
            im2col(g, p, x, nb, cols);
            T::gemm(
                g.c_out,
                p.k_eff,
                ncols,
                one,
                wk,
                k,
                1,
                cols,
                ncols as isize,
                1,
                zero,
                y,
                ncols as isize,
                1,
            );
        });
        if let Some(b) = bias {
            add_bias(y, b, p.spatial);
        }
        return;
    }
    with_scratch::<T, ()>(&CHUNK_SCRATCH, (p.k_eff + g.c_out) * ncols, |buf| {
        let (cols, out) = buf.split_at_mut(p.k_eff * ncols);
        im2col(g, p, x, nb, cols);
        T::gemm(
            g.c_out,
            p.k_eff,
            ncols,
            one,
            wk,
            k,
            1,
            cols,
            ncols as isize,
            1,
            zero,
            out,
            ncols as isize,
            1,
        );
        scatter_output(out, bias, g.c_out, p.spatial, y);
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
    with_weight_matrix(g, &p, w, |wk| {
        for_each_chunk(gx, p.nb * in_len, p.parallel, |ci, gxc| {
            let nb = gxc.len() / in_len;
            let gyc = &gy[ci * p.nb * out_len..][..nb * out_len];
            backward_input_chunk(g, &p, gyc, wk, gxc, nb);
        });
    });
}

fn backward_input_chunk<T: CpuFloat>(
    g: &Conv2dGeometry,
    p: &Plan,
    gy: &[T],
    wk: &[T],
    gx: &mut [T],
    nb: usize,
) {
    let (m, k) = (g.c_out as isize, p.k_eff as isize);
    let (one, zero) = (T::one(), T::zero());
    if p.dense {
        // gx[b, k] = Σ_co wk[co, k] · gy[b, co]: C = gx viewed as k_eff × nb (column-major).
        T::gemm(
            p.k_eff, g.c_out, nb, one, wk, 1, k, gy, 1, m, zero, gx, 1, k,
        );
        return;
    }
    let ncols = nb * p.spatial;
    let nc = ncols as isize;
    if nb == 1 {
        // One sample: gy already is the c_out × spatial matrix.
        with_scratch::<T, ()>(&CHUNK_SCRATCH, p.k_eff * ncols, |dcols| {
            T::gemm(
                p.k_eff, g.c_out, ncols, one, wk, 1, k, gy, nc, 1, zero, dcols, nc, 1,
            );
            col2im(g, p, dcols, nb, gx);
        });
        return;
    }
    with_scratch::<T, ()>(&CHUNK_SCRATCH, (p.k_eff + g.c_out) * ncols, |buf| {
        let (dcols, gyc) = buf.split_at_mut(p.k_eff * ncols);
        gather_output_grad(gy, g.c_out, p.spatial, gyc);
        T::gemm(
            p.k_eff, g.c_out, ncols, one, wk, 1, k, gyc, nc, 1, zero, dcols, nc, 1,
        );
        col2im(g, p, dcols, nb, gx);
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
    // Group `i` owns chunks [i·chunks/groups, (i+1)·chunks/groups).
    let group_start = |i: usize| i * chunks / groups;
    let wlen = g.c_out * p.k_eff;
    let run_group = |gi: usize, partial: &mut [T]| {
        for (n, chunk) in (group_start(gi)..group_start(gi + 1)).enumerate() {
            let b0 = chunk * p.nb;
            let nb = p.nb.min(g.batch - b0);
            let in_len = g.c_in * g.h_in * g.w_in;
            let out_len = g.c_out * p.spatial;
            let xc = &x[b0 * in_len..][..nb * in_len];
            let gyc = &gy[b0 * out_len..][..nb * out_len];
            let beta = if n == 0 { T::zero() } else { T::one() };
            backward_weight_chunk(g, &p, gyc, xc, partial, nb, beta);
        }
    };
    let finish = |acc: &[T], gw: &mut [T]| {
        if p.compact {
            expand_weight(g, &p, acc, gw);
        } else {
            gw.copy_from_slice(acc);
        }
    };
    if groups == 1 && !p.compact {
        run_group(0, gw);
        return;
    }
    with_scratch::<T, ()>(&CALL_SCRATCH, groups * wlen, |partials| {
        for_each_chunk(partials, wlen, groups > 1, run_group);
        let (acc, rest) = partials.split_at_mut(wlen);
        for part in rest.chunks_exact(wlen) {
            for (a, v) in acc.iter_mut().zip(part) {
                *a = *a + *v;
            }
        }
        finish(acc, gw);
    });
}

/// Inverse of [`compact_weight`]: writes the window `wk` into `gw`, zero elsewhere.
fn expand_weight<T: CpuFloat>(g: &Conv2dGeometry, p: &Plan, wk: &[T], gw: &mut [T]) {
    gw.fill(T::zero());
    let mut src = wk.chunks_exact(p.tw);
    for co in 0..g.c_out {
        for ci in 0..g.c_in {
            let base = (co * g.c_in + ci) * g.k_h * g.k_w;
            for i in 0..p.th {
                let row = base + (p.kh0 + i) * g.k_w + p.kw0;
                if let Some(s) = src.next() {
                    gw[row..row + p.tw].copy_from_slice(s);
                }
            }
        }
    }
}

/// `acc = Gy · colsᵀ + beta · acc` for one chunk of `nb` samples (`acc` is `c_out × k_eff`).
fn backward_weight_chunk<T: CpuFloat>(
    g: &Conv2dGeometry,
    p: &Plan,
    gy: &[T],
    x: &[T],
    acc: &mut [T],
    nb: usize,
    beta: T,
) {
    let (m, k) = (g.c_out as isize, p.k_eff as isize);
    let one = T::one();
    if p.dense {
        // acc[co, k] += Σ_b gy[b, co] · x[b, k].
        T::gemm(
            g.c_out, nb, p.k_eff, one, gy, 1, m, x, k, 1, beta, acc, k, 1,
        );
        return;
    }
    let ncols = nb * p.spatial;
    let nc = ncols as isize;
    if nb == 1 {
        with_scratch::<T, ()>(&CHUNK_SCRATCH, p.k_eff * ncols, |cols| {
            im2col(g, p, x, nb, cols);
            T::gemm(
                g.c_out, ncols, p.k_eff, one, gy, nc, 1, cols, 1, nc, beta, acc, k, 1,
            );
        });
        return;
    }
    with_scratch::<T, ()>(&CHUNK_SCRATCH, (p.k_eff + g.c_out) * ncols, |buf| {
        let (cols, gyc) = buf.split_at_mut(p.k_eff * ncols);
        im2col(g, p, x, nb, cols);
        gather_output_grad(gy, g.c_out, p.spatial, gyc);
        T::gemm(
            g.c_out, ncols, p.k_eff, one, gyc, nc, 1, cols, 1, nc, beta, acc, k, 1,
        );
    });
}

/// Gradient of [`forward`] with respect to the bias: overwrites `gb` (`c_out` elements) with
/// `gb[co] = Σ_{b, oh, ow} gy[b, co, oh, ow]`, summed per sample then over samples in order.
pub fn backward_bias<T: CpuFloat>(g: &Conv2dGeometry, gy: &[T], gb: &mut [T]) {
    debug_assert_eq!(gy.len(), g.output_len());
    debug_assert_eq!(gb.len(), g.c_out);
    let spatial = g.h_out * g.w_out;
    let per_sample = g.c_out * spatial;
    gb.fill(T::zero());
    if per_sample == 0 {
        return;
    }
    let sum_channel = |co: usize, acc: &mut T| {
        for gs in gy.chunks_exact(per_sample) {
            let row = &gs[co * spatial..][..spatial];
            *acc = *acc + row.iter().copied().sum::<T>();
        }
    };
    if gy.len() >= 4 * PAR_MIN_FLOPS && g.c_out >= 2 {
        // Channels are independent sums with a fixed order: parallel and still exact.
        gb.par_iter_mut()
            .enumerate()
            .for_each(|(co, acc)| sum_channel(co, acc));
    } else {
        for gs in gy.chunks_exact(per_sample) {
            for (acc, row) in gb.iter_mut().zip(gs.chunks_exact(spatial)) {
                *acc = *acc + row.iter().copied().sum::<T>();
            }
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

    /// Deterministic pseudo-random values in [-1, 1) (64-bit LCG).
    fn values(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(7);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
            })
            .collect()
    }

    /// The input pixel `(ih, iw)` read by output `(oh, ow)` through tap `(kh, kw)`, if any.
    fn source(
        g: &Conv2dGeometry,
        oh: usize,
        ow: usize,
        kh: usize,
        kw: usize,
    ) -> Option<(usize, usize)> {
        let ih = (oh * g.stride + kh) as isize - g.padding as isize;
        let iw = (ow * g.stride + kw) as isize - g.padding as isize;
        let inside = ih >= 0 && iw >= 0 && (ih as usize) < g.h_in && (iw as usize) < g.w_in;
        inside.then_some((ih as usize, iw as usize))
    }

    /// Calls `f(b, co, ci, oh, ow, kh, kw, x_index, w_index, y_index)` for every product term
    /// of the direct definition of the convolution.
    fn for_each_term(g: &Conv2dGeometry, mut f: impl FnMut(usize, usize, usize)) {
        for b in 0..g.batch {
            for co in 0..g.c_out {
                for oh in 0..g.h_out {
                    for ow in 0..g.w_out {
                        let yi = ((b * g.c_out + co) * g.h_out + oh) * g.w_out + ow;
                        for ci in 0..g.c_in {
                            for kh in 0..g.k_h {
                                for kw in 0..g.k_w {
                                    if let Some((ih, iw)) = source(g, oh, ow, kh, kw) {
                                        let xi = ((b * g.c_in + ci) * g.h_in + ih) * g.w_in + iw;
                                        let wi = ((co * g.c_in + ci) * g.k_h + kh) * g.k_w + kw;
                                        f(xi, wi, yi);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Naive results in f64: (value, sum of |terms|) for y, gx, gw, gb.
    struct Reference {
        y: Vec<(f64, f64)>,
        gx: Vec<(f64, f64)>,
        gw: Vec<(f64, f64)>,
        gb: Vec<(f64, f64)>,
    }

    fn reference(g: &Conv2dGeometry, x: &[f64], w: &[f64], bias: &[f64], gy: &[f64]) -> Reference {
        let mut y = vec![(0.0, 0.0); g.output_len()];
        for b in 0..g.batch {
            for co in 0..g.c_out {
                for s in 0..g.h_out * g.w_out {
                    y[(b * g.c_out + co) * g.h_out * g.w_out + s] = (bias[co], bias[co].abs());
                }
            }
        }
        let mut gx = vec![(0.0, 0.0); g.input_len()];
        let mut gw = vec![(0.0, 0.0); g.weight_len()];
        for_each_term(g, |xi, wi, yi| {
            let add = |acc: &mut (f64, f64), v: f64| {
                acc.0 += v;
                acc.1 += v.abs();
            };
            add(&mut y[yi], w[wi] * x[xi]);
            add(&mut gx[xi], w[wi] * gy[yi]);
            add(&mut gw[wi], gy[yi] * x[xi]);
        });
        let mut gb = vec![(0.0, 0.0); g.c_out];
        let spatial = g.h_out * g.w_out;
        for (i, v) in gy.iter().enumerate() {
            let co = (i / spatial) % g.c_out;
            gb[co].0 += v;
            gb[co].1 += v.abs();
        }
        Reference { y, gx, gw, gb }
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

    /// Runs all four kernels in precision `T` on random data and compares with the naive
    /// f64 reference computed from the same (rounded) inputs.
    fn check<T: CpuFloat>(g: &Conv2dGeometry, seed: u64, tol: f64) {
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
            for (c_in, c_out) in [(1, 1), (2, 3), (3, 5)] {
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
    fn weight_gradient_is_independent_of_thread_count() {
        for g in lesson_layers(96) {
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
            assert_eq!(one, run(1));
            assert_eq!(one, run(2));
            assert_eq!(one, run(3));
        }
    }

    fn arb_geometry() -> impl Strategy<Value = Option<Conv2dGeometry>> {
        (
            1usize..4,
            1usize..4,
            1usize..10,
            1usize..10,
            1usize..5,
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
