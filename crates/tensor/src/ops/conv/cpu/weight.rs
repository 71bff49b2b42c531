//! The weight as a GEMM operand: the valid-tap window copied out (row-major or transposed)
//! and, for the weight gradient, copied back into the full OIHW layout.

use super::lowering::copy_short;
use super::plan::Plan;
use super::scratch::{with_scratch, CALL_SCRATCH};
use crate::dtype::CpuFloat;
use crate::ops::conv::Conv2dGeometry;

/// How the prepared weight matrix is laid out.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum WeightLayout {
    /// `c_out × k_eff`, row-major: `wk[co·k_eff + k]`.
    RowMajor,
    /// `k_eff × c_out`, row-major: `wk[k·c_out + co]`.
    Transposed,
}

/// Copies the valid-tap window of `w` into `wk`:
/// `wk[co, (ci, i, j)] = w[co, ci, kh0 + i, kw0 + j]`, in the given layout.
pub(super) fn prepare_weight<T: CpuFloat>(
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

/// Runs `f` with the weight as a `c_out × k_eff` matrix in `layout` (the caller's `w`
/// itself when it already is that matrix).
pub(super) fn with_weight<T: CpuFloat, R>(
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
pub(super) fn expand_weight<T: CpuFloat>(g: &Conv2dGeometry, p: &Plan, wk: &[T], gw: &mut [T]) {
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
