//! The per-group engine (LayerNorm, InstanceNorm, GroupNorm: statistics per sample and
//! block of channels). Work is organised by rows (`N * C` rows of `S` elements, see
//! [`NormGeometry`]), visited in memory order by a [`RowMap`] that tracks each row's
//! channel and statistic group without a division per row. A group's statistics read its
//! contiguous block of `C/G` rows with [`lane_sums`]; elementwise passes write blocks of
//! rows in parallel. The backward pass keeps two `f64` per row. Every read of `x` goes
//! through the geometry's [`NormInput`](crate::NormInput) (the value or its ReLU).

use rayon::prelude::*;

use smallvec::smallvec;

use super::{lane_sums, Affine, BackwardSums, DxCoefficients, Sums};
use crate::cpu::{PAR_CHUNK, PAR_ELEMENTS};
use crate::dtype::CpuFloat;
use crate::ops::norm::{NormGeometry, NormLayout, Variance};

/// Row `r` of `x`.
#[inline]
fn row<T>(x: &[T], s: usize, r: usize) -> &[T] {
    &x[r * s..(r + 1) * s]
}

/// Rows to statistic groups (`k = n G + c / (C/G)`) and channels, with the per-task row
/// counts of the parallel passes.
struct RowMap {
    channels: usize,
    rows: usize,
    groups: usize,
    channels_per_group: usize,
    parallel: bool,
    rows_per_task: usize,
}

impl RowMap {
    fn new(g: &NormGeometry) -> Self {
        let c = g.channels();
        let groups = match g.layout() {
            NormLayout::PerGroup { groups } => groups,
            NormLayout::PerChannel => unreachable!("the per-channel layout has its own engine"),
        };
        RowMap {
            channels: c,
            rows: g.rows(),
            groups,
            channels_per_group: c / groups,
            parallel: g.numel() >= PAR_ELEMENTS,
            rows_per_task: (PAR_CHUNK / g.spatial()).max(1),
        }
    }

    /// `f(r, k, c)` for rows `start..end` in order: row, statistic group, channel.
    #[inline]
    fn for_rows(&self, start: usize, end: usize, mut f: impl FnMut(usize, usize, usize)) {
        let (mut n, mut c) = (start / self.channels, start % self.channels);
        for r in start..end {
            f(r, n * self.groups + c / self.channels_per_group, c);
            c += 1;
            if c == self.channels {
                c = 0;
                n += 1;
            }
        }
    }

    /// A new output of `rows * width` values, written `width` per row by
    /// `f(r, k, c, out)` (in parallel blocks of rows when large).
    fn write_rows<V: Copy + Default + Send>(
        &self,
        width: usize,
        f: impl Fn(usize, usize, usize, &mut [V]) + Sync + Send,
    ) -> Vec<V> {
        let mut out = vec![V::default(); self.rows * width];
        self.write_rows_into(&mut out, width, f);
        out
    }

    /// Writes `out` (`rows * width` values) `width` per row with `f(r, k, c, row)`.
    fn write_rows_into<V: Send>(
        &self,
        out: &mut [V],
        width: usize,
        f: impl Fn(usize, usize, usize, &mut [V]) + Sync + Send,
    ) {
        assert_eq!(out.len(), self.rows * width, "the callers size the output");
        let block = |(i, chunk): (usize, &mut [V])| {
            let start = i * self.rows_per_task;
            let end = start + chunk.len() / width;
            self.for_rows(start, end, |r, k, c| {
                let o = (r - start) * width;
                f(r, k, c, &mut chunk[o..o + width]);
            });
        };
        if self.parallel {
            out.par_chunks_mut(self.rows_per_task * width)
                .enumerate()
                .for_each(block);
        } else if !out.is_empty() {
            block((0, out));
        }
    }
}

/// Per statistic group `k`, the two sums of `f(x_i, k)` over the group's contiguous block.
fn group_sums<T: CpuFloat>(
    g: &NormGeometry,
    x: &[T],
    f: impl Fn(T, usize) -> (f64, f64) + Sync + Send,
) -> Sums<(f64, f64)> {
    let m = g.group_len();
    let sum = |(k, block): (usize, &[T])| lane_sums(block.iter().map(|&v| f(v, k)));
    if g.numel() >= PAR_ELEMENTS && g.stat_count() > 1 {
        let sums: Vec<_> = x.par_chunks(m).enumerate().map(sum).collect();
        Sums::from_vec(sums)
    } else {
        x.chunks(m).enumerate().map(sum).collect()
    }
}

/// Per group: `(mean, variance)` in `f64`, two passes.
pub(super) fn moments<T: CpuFloat>(
    g: &NormGeometry,
    x: &[T],
    variance: Variance,
) -> Sums<(f64, f64)> {
    let (m, input) = (g.group_len() as f64, g.input());
    let d = variance.divisor(g.group_len());
    let mean: Sums<f64> = group_sums(g, x, |v, _| (input.value(v).as_f64(), 0.0))
        .iter()
        .map(|&(s, _)| s / m)
        .collect();
    let squares = group_sums(g, x, |v, k| {
        let e = input.value(v).as_f64() - mean[k];
        (e * e, 0.0)
    });
    mean.iter()
        .zip(&squares)
        .map(|(&mu, &(sq, _))| (mu, sq / d))
        .collect()
}

/// Per group: `(Σ x, Σ x²)` in `f64`.
pub(super) fn power_sums<T: CpuFloat>(g: &NormGeometry, x: &[T]) -> Sums<(f64, f64)> {
    let input = g.input();
    group_sums(g, x, |v, _| {
        let v = input.value(v).as_f64();
        (v, v * v)
    })
}

/// `y = (x - mean_k) invstd_k gamma_c + beta_c`.
pub(super) fn apply<T: CpuFloat>(g: &NormGeometry, x: &[T], p: &Affine<'_, T>, out: &mut [T]) {
    let (s, input) = (g.spatial(), g.input());
    RowMap::new(g).write_rows_into(out, s, |r, k, c, out: &mut [T]| {
        let (mu, inv, gamma, beta) = (p.mean[k], p.invstd[k], p.gamma(c), p.beta(c));
        for (o, &v) in out.iter_mut().zip(row(x, s, r)) {
            *o = (input.value(v) - mu) * inv * gamma + beta;
        }
    })
}

/// The backward's first pass: per row `Σ dy` and `Σ dy xhat`, then per affine index and
/// per group.
pub(super) fn backward_sums<T: CpuFloat>(
    g: &NormGeometry,
    x: &[T],
    dy: &[T],
    p: &Affine<'_, T>,
) -> BackwardSums {
    let (s, input) = (g.spatial(), g.input());
    let map = RowMap::new(g);
    let row_sums = map.write_rows(1, |r, k, _, out: &mut [(f64, f64)]| {
        let (mu, inv) = (p.mean[k].as_f64(), p.invstd[k].as_f64());
        out[0] = lane_sums(row(x, s, r).iter().zip(row(dy, s, r)).map(|(&xv, &d)| {
            let d = d.as_f64();
            (d, d * (input.value(xv).as_f64() - mu) * inv)
        }));
    });
    let affine_len = p.scale.len();
    let mut sums = BackwardSums {
        dshift: smallvec![0.0; affine_len],
        dscale: smallvec![0.0; affine_len],
        sg: smallvec![0.0; g.stat_count()],
        sgx: smallvec![0.0; g.stat_count()],
    };
    map.for_rows(0, g.rows(), |r, k, c| {
        let (a, b) = row_sums[r];
        let gamma = p.gamma(c).as_f64();
        let ai = if affine_len == 1 { 0 } else { c };
        sums.dshift[ai] += a;
        sums.dscale[ai] += b;
        sums.sg[k] += gamma * a;
        sums.sgx[k] += gamma * b;
    });
    sums
}

/// The backward's second pass: `dx = dy gamma r + A + B xhat`.
pub(super) fn backward_dx<T: CpuFloat>(
    g: &NormGeometry,
    x: &[T],
    dy: &[T],
    p: &Affine<'_, T>,
    coef: &DxCoefficients<T>,
    out: &mut [T],
) {
    let (s, input) = (g.spatial(), g.input());
    RowMap::new(g).write_rows_into(out, s, |r, k, c, out: &mut [T]| {
        let (mu, inv) = (p.mean[k], p.invstd[k]);
        let gr = p.gamma(c) * inv;
        let (a, b) = coef.ab[k];
        let rows = out.iter_mut().zip(row(x, s, r)).zip(row(dy, s, r));
        if coef.detached {
            rows.for_each(|((o, &xv), &d)| *o = input.gradient(xv, d * gr));
        } else {
            rows.for_each(|((o, &xv), &d)| {
                let xhat = (input.value(xv) - mu) * inv;
                *o = input.gradient(xv, d * gr + a + b * xhat)
            });
        }
    })
}
