//! The few-pixel engine: calls whose whole batch has only a few output pixels (the lesson's
//! 4×4 → 2×2 and 2×2 → 1×1 layers at small batch sizes).
//!
//! There the other engines spend most of their time rearranging the weight: the GEMM packs
//! it into panels (for the dense 1×1 case, one strided gather per kernel tap), the direct
//! engines transpose it, and either costs as much as all the arithmetic of a call with
//! `N = batch·h_out·w_out` of 2 to 32 pixels. This engine reads the weight in place, as
//! `c_out` rows of `K = c_in·k_h·k_w` contiguous elements, and lowers the input to `N`
//! *full* patches, `P[j, (ci, kh, kw)] = x[b, ci, oh·s + kh − p, ow·s + kw − p]` (zero
//! outside the input: every tap, so no weight compaction either), gathered through a table
//! of every entry's input offset per output position, built once per shape (no padded
//! copy). With `gy[j, co]` the output gradient of pixel `j = (b, oh, ow)`:
//!
//! * forward: `y[j, co] = bias[co] + P[j, :] · w[co, :]`, dot products of contiguous rows;
//! * weight gradient: `gw[co, :] = Σ_j gy[j, co] · P[j, :]`, written in place, in order of `j`;
//! * input gradient: `dP[j, :] = Σ_co gy[j, co] · w[co, :]`, then every entry of `dP` is
//!   added back onto the input element its patch entry was read from (col2im).
//!
//! Each call runs on the calling thread (the calls it takes are small), so results do not
//! depend on the thread count. Kernels: `few_pixels_kernels.rs`.

use std::cell::RefCell;
use std::rc::Rc;

use super::few_pixels_kernels::{
    dot_block, gather_patch, scatter_add_patch, strip_len, update_block, UR,
};
use super::plan::Plan;
use super::scratch::{with_scratch, CHUNK_SCRATCH};
use super::simd::Simd;
use crate::dtype::CpuFloat;
use crate::ops::conv::Conv2dGeometry;

/// Calls use this engine when the batch has at most this many output pixels, each weighted
/// by `K / k_eff` (the patch length over the valid window's): measured per pass on the
/// lesson's layers, it wins up to 8 pixels of the 2×2 → 1×1 layer (weight 2.25, so 18)
/// and up to 16 of the 4×4 → 2×2 one, and loses at 16 pixels of the first (36) and at 32
/// of the 7×7 → 4×4 layer (`docs/benchmarks.md`).
pub(super) const FEW_PIXELS: usize = 20;

/// The patch length `K = c_in·k_h·k_w` and the pixel count `N = batch·h_out·w_out`.
fn sizes(g: &Conv2dGeometry, p: &Plan) -> (usize, usize) {
    (g.c_in * g.k_h * g.k_w, g.batch * p.spatial)
}

/// Scratch elements a call needs (patches or their gradient, and a coefficient panel);
/// the dispatcher keeps this bounded.
pub(super) fn scratch_len(g: &Conv2dGeometry, p: &Plan) -> usize {
    let (k, n) = sizes(g, p);
    n * k + g.c_out.max(n) * UR
}

/// What a patch index table depends on: the geometry less the batch.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct TableKey([usize; 7]);

impl TableKey {
    fn of(g: &Conv2dGeometry) -> Self {
        TableKey([g.c_in, g.h_in, g.w_in, g.k_h, g.k_w, g.stride, g.padding])
    }
}

/// Index tables kept per thread (one per recently used geometry).
const MAX_TABLES: usize = 16;

thread_local! {
    /// Patch index tables by geometry: built once per shape, reused by every later call.
    static TABLES: RefCell<Vec<(TableKey, Rc<[i32]>)>> = const { RefCell::new(Vec::new()) };
}

/// Whether every offset inside one sample fits the gathers' 32-bit indices.
pub(super) fn indexable(g: &Conv2dGeometry) -> bool {
    i32::try_from(g.c_in * g.h_in * g.w_in).is_ok()
}

/// Runs `f(index)` with the patch index table of `g`: for every output position `t` and
/// patch entry `k = (ci, kh, kw)`, `index[t·K + k]` is the offset `ci·h_in·w_in + ih·w_in +
/// iw` inside one sample of the input element that entry reads, or −1 when it reads
/// padding.
fn with_index<R>(g: &Conv2dGeometry, p: &Plan, f: impl FnOnce(&[i32]) -> R) -> R {
    let key = TableKey::of(g);
    let cached = TABLES.with(|t| {
        let t = t.borrow();
        t.iter().find(|(k, _)| *k == key).map(|(_, v)| Rc::clone(v))
    });
    let table = cached.unwrap_or_else(|| {
        let table = build_index(g, p);
        TABLES.with(|t| {
            let mut t = t.borrow_mut();
            if t.len() >= MAX_TABLES {
                t.remove(0);
            }
            t.push((key, Rc::clone(&table)));
        });
        table
    });
    f(&table)
}

fn build_index(g: &Conv2dGeometry, p: &Plan) -> Rc<[i32]> {
    let (k, _) = sizes(g, p);
    let plane = g.h_in * g.w_in;
    let at = |o: usize, t: usize, size: usize| {
        (o * g.stride + t)
            .checked_sub(g.padding)
            .filter(|&i| i < size)
    };
    let mut index = vec![-1i32; p.spatial * k];
    for (t, row) in index.chunks_exact_mut(k).enumerate() {
        let (oh, ow) = (t / g.w_out, t % g.w_out);
        for (ci, taps) in row.chunks_exact_mut(g.k_h * g.k_w).enumerate() {
            for (kh, taps) in taps.chunks_exact_mut(g.k_w).enumerate() {
                for (kw, o) in taps.iter_mut().enumerate() {
                    if let (Some(ih), Some(iw)) = (at(oh, kh, g.h_in), at(ow, kw, g.w_in)) {
                        // In range: `indexable` bounds every offset inside one sample.
                        *o = (ci * plane + ih * g.w_in + iw) as i32;
                    }
                }
            }
        }
    }
    index.into()
}

/// Runs `f(index, patches, rest)`: the index table, the `N × K` patches of `x`
/// (`P[(b, t), k] = x[b·c_in·h_in·w_in + index[t·K + k]]`, zero for padding) and `extra`
/// more scratch elements.
fn with_patches<T: CpuFloat, R>(
    g: &Conv2dGeometry,
    p: &Plan,
    simd: Simd,
    x: &[T],
    extra: usize,
    f: impl FnOnce(&[i32], &[T], &mut [T]) -> R,
) -> R {
    let (k, n) = sizes(g, p);
    let sample_len = g.c_in * g.h_in * g.w_in;
    with_index(g, p, |index| {
        with_scratch::<T, R>(&CHUNK_SCRATCH, n * k + extra, |buf| {
            let (patches, rest) = buf.split_at_mut(n * k);
            for (j, patch) in patches.chunks_exact_mut(k).enumerate() {
                let (b, t) = (j / p.spatial, j % p.spatial);
                let sample = &x[b * sample_len..][..sample_len];
                gather_patch(simd, sample, &index[t * k..][..k], patch);
            }
            f(index, patches, rest)
        })
    })
}

/// Index of `gy[j, co]` in the NCHW output (gradient).
fn out_index(g: &Conv2dGeometry, p: &Plan, j: usize, co: usize) -> usize {
    let (b, t) = (j / p.spatial, j % p.spatial);
    (b * g.c_out + co) * p.spatial + t
}

/// Forward pass: `y[b, co, oh, ow] = bias[co] + Σ_k w[co, k] · P[(b, oh, ow), k]`.
pub(super) fn forward<T: CpuFloat>(
    g: &Conv2dGeometry,
    p: &Plan,
    simd: Simd,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    y: &mut [T],
) {
    let (_, n) = sizes(g, p);
    // Blocks of 4 weight rows by 4 patches, or 8 by 2 and 16 by 1 when there are fewer.
    match n {
        1 => forward_blocks::<T, 16, 1>(g, p, simd, x, w, bias, y),
        2 | 3 => forward_blocks::<T, 8, 2>(g, p, simd, x, w, bias, y),
        _ => forward_blocks::<T, 4, 4>(g, p, simd, x, w, bias, y),
    }
}

fn forward_blocks<T: CpuFloat, const R: usize, const C: usize>(
    g: &Conv2dGeometry,
    p: &Plan,
    simd: Simd,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    y: &mut [T],
) {
    let (k, n) = sizes(g, p);
    with_patches(g, p, simd, x, 0, |_, patches, _| {
        for co0 in (0..g.c_out).step_by(R) {
            let rows = (g.c_out - co0).min(R);
            let a = &w[co0 * k..];
            for j0 in (0..n).step_by(C) {
                let cols = (n - j0).min(C);
                let acc = dot_block::<T, R, C>(simd, a, k, rows, &patches[j0 * k..], k, cols, k);
                for (r, acc) in acc.iter().enumerate().take(rows) {
                    let b = bias.map_or(T::zero(), |b| b[co0 + r]);
                    for (c, &v) in acc.iter().enumerate().take(cols) {
                        y[out_index(g, p, j0 + c, co0 + r)] = v + b;
                    }
                }
            }
        }
    });
}

/// Weight gradient: overwrites `gw[co, k]` with `Σ_j gy[j, co] · P[j, k]`.
pub(super) fn backward_weight<T: CpuFloat>(
    g: &Conv2dGeometry,
    p: &Plan,
    simd: Simd,
    gy: &[T],
    x: &[T],
    gw: &mut [T],
) {
    let (k, n) = sizes(g, p);
    let strip = strip_len::<T>(simd);
    with_patches(g, p, simd, x, n * UR, |_, patches, panel| {
        for co0 in (0..g.c_out).step_by(UR) {
            let rows = (g.c_out - co0).min(UR);
            // panel[j·UR + r] = gy[j, co0 + r] (zero past the last channel).
            for (j, coefs) in panel.chunks_exact_mut(UR).enumerate() {
                for (r, c) in coefs.iter_mut().enumerate() {
                    *c = if r < rows {
                        gy[out_index(g, p, j, co0 + r)]
                    } else {
                        T::zero()
                    };
                }
            }
            for start in (0..k).step_by(strip) {
                let len = (k - start).min(strip);
                let out = &mut gw[co0 * k + start..];
                update_block(simd, patches, n, k, start, panel, out, k, rows, len);
            }
        }
    });
}

/// Input gradient: `gx` is the col2im of `dP[j, :] = Σ_co gy[j, co] · w[co, :]` (every
/// entry added onto the input element its patch entry reads; pixels in order, then taps).
pub(super) fn backward_input<T: CpuFloat>(
    g: &Conv2dGeometry,
    p: &Plan,
    simd: Simd,
    gy: &[T],
    w: &[T],
    gx: &mut [T],
) {
    let (k, n) = sizes(g, p);
    let sample_len = g.c_in * g.h_in * g.w_in;
    let strip = strip_len::<T>(simd);
    let panel_len = g.c_out * UR;
    with_index(g, p, |index| {
        with_scratch::<T, ()>(&CHUNK_SCRATCH, n * k + panel_len, |buf| {
            let (dpatches, panel) = buf.split_at_mut(n * k);
            for j0 in (0..n).step_by(UR) {
                let rows = (n - j0).min(UR);
                // panel[co·UR + r] = gy[j0 + r, co] (zero past the last pixel).
                for (co, coefs) in panel.chunks_exact_mut(UR).enumerate() {
                    for (r, c) in coefs.iter_mut().enumerate() {
                        *c = if r < rows {
                            gy[out_index(g, p, j0 + r, co)]
                        } else {
                            T::zero()
                        };
                    }
                }
                for start in (0..k).step_by(strip) {
                    let len = (k - start).min(strip);
                    let out = &mut dpatches[j0 * k + start..];
                    update_block(simd, w, g.c_out, k, start, panel, out, k, rows, len);
                }
            }
            gx.fill(T::zero());
            for (j, dpatch) in dpatches.chunks_exact(k).enumerate() {
                let (b, t) = (j / p.spatial, j % p.spatial);
                let sample = &mut gx[b * sample_len..][..sample_len];
                scatter_add_patch(simd, dpatch, &index[t * k..][..k], sample);
            }
        });
    });
}
