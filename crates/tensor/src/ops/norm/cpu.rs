//! CPU kernels of the normalisation family, generic over [`CpuFloat`].
//!
//! Work is organised by rows (`N * C` rows of `S` elements, see [`NormGeometry`]), visited
//! in memory order by a [`RowMap`] that tracks each row's channel and statistic group
//! without a division per row (rows are a single element in the lesson's last layers).
//! Statistics are accumulated in `f64` in two passes (mean, then squared deviations): a
//! per-group statistic reads its group's contiguous block; a per-channel one folds whole
//! samples into per-channel accumulators, in parallel over blocks of samples. Everything
//! runs on rayon when the input has at least [`PAR_ELEMENTS`] elements and inline
//! otherwise, so the tiny tensors of a batch-2 step never pay for fork/join. Nothing is
//! allocated per element beyond the outputs; the backward pass keeps two `f64` per row.

use rayon::prelude::*;

use super::{NormGeometry, NormGrads, NormLayout, NormOps, NormStats, StatGrad, Variance};
use crate::cpu::{host, CpuBackend, PAR_CHUNK, PAR_ELEMENTS};
use crate::dtype::CpuFloat;
use crate::storage::{CpuStorage, Element};
use crate::{Result, Tensor, TensorError};

/// The elements of `t` as `T` (the callers validated the dtype; this keeps it typed).
fn typed<'a, T: Element>(op: &'static str, t: &'a Tensor) -> Result<&'a [T]> {
    T::slice(host(t)?).ok_or(TensorError::DTypeMismatch {
        op,
        lhs: T::DTYPE,
        rhs: t.dtype(),
    })
}

fn tensor_of<T: Element>(v: Vec<T>, shape: Vec<usize>) -> Tensor {
    Tensor::from_cpu_storage(T::into_storage(v), shape)
}

/// Row `r` of `x`.
#[inline]
fn row<T>(x: &[T], s: usize, r: usize) -> &[T] {
    &x[r * s..(r + 1) * s]
}

/// Rows to statistic groups (`k = n stride + group_of_channel[c]`) and affine indices,
/// with the per-task row counts of the parallel passes.
struct RowMap {
    channels: usize,
    spatial: usize,
    rows: usize,
    stride: usize,
    group_of_channel: Vec<usize>,
    per_channel_affine: bool,
    parallel: bool,
    rows_per_task: usize,
}

impl RowMap {
    fn new(g: &NormGeometry, affine_len: usize) -> Self {
        let c = g.channels();
        let (stride, group_of_channel) = match g.layout() {
            NormLayout::PerChannel => (0, (0..c).collect()),
            NormLayout::PerGroup { groups } => {
                (groups, (0..c).map(|ch| ch / (c / groups)).collect())
            }
        };
        RowMap {
            channels: c,
            spatial: g.spatial(),
            rows: g.rows(),
            stride,
            group_of_channel,
            per_channel_affine: affine_len != 1,
            parallel: g.numel() >= PAR_ELEMENTS,
            rows_per_task: (PAR_CHUNK / g.spatial()).max(1),
        }
    }

    /// `f(r, k, a)` for rows `start..end` in order: row, statistic group, affine index.
    #[inline]
    fn for_rows(&self, start: usize, end: usize, mut f: impl FnMut(usize, usize, usize)) {
        let (mut n, mut c) = (start / self.channels, start % self.channels);
        for r in start..end {
            let a = if self.per_channel_affine { c } else { 0 };
            f(r, n * self.stride + self.group_of_channel[c], a);
            c += 1;
            if c == self.channels {
                c = 0;
                n += 1;
            }
        }
    }

    /// A new output of `rows * width` values, written `width` per row by
    /// `f(r, k, a, out)` (in parallel blocks of rows when large).
    fn write_rows<V: Copy + Default + Send>(
        &self,
        width: usize,
        f: impl Fn(usize, usize, usize, &mut [V]) + Sync + Send,
    ) -> Vec<V> {
        let mut out = vec![V::default(); self.rows * width];
        let block = |(i, chunk): (usize, &mut [V])| {
            let start = i * self.rows_per_task;
            let end = start + chunk.len() / width;
            self.for_rows(start, end, |r, k, a| {
                let o = (r - start) * width;
                f(r, k, a, &mut chunk[o..o + width]);
            });
        };
        if self.parallel {
            out.par_chunks_mut(self.rows_per_task * width)
                .enumerate()
                .for_each(block);
        } else if !out.is_empty() {
            block((0, &mut out[..]));
        }
        out
    }

    /// Per channel, `sum over rows of f(row, c)` (two sums each), folding blocks of whole
    /// samples in parallel when large.
    fn fold_channels<T: CpuFloat>(
        &self,
        x: &[T],
        f: impl Fn(&[T], usize) -> (f64, f64) + Sync + Send,
    ) -> Vec<(f64, f64)> {
        let (c, s) = (self.channels, self.spatial);
        let fold = |samples: &[T]| {
            let mut acc = vec![(0.0, 0.0); c];
            for sample in samples.chunks(c * s) {
                for (ch, (slot, r)) in acc.iter_mut().zip(sample.chunks(s)).enumerate() {
                    let (a, b) = f(r, ch);
                    slot.0 += a;
                    slot.1 += b;
                }
            }
            acc
        };
        if self.parallel {
            let samples_per_task = self.rows_per_task.div_ceil(c);
            x.par_chunks(samples_per_task * c * s).map(fold).reduce(
                || vec![(0.0, 0.0); c],
                |mut a, b| {
                    for (x, y) in a.iter_mut().zip(b) {
                        x.0 += y.0;
                        x.1 += y.1;
                    }
                    a
                },
            )
        } else {
            fold(x)
        }
    }
}

/// Per statistic group `k`, the two sums of `f(x_i, k)` over the group's elements: per
/// channel by [`RowMap::fold_channels`], per group over the group's contiguous block.
fn per_group_sums<T: CpuFloat>(
    geo: &NormGeometry,
    map: &RowMap,
    x: &[T],
    f: impl Fn(T, usize) -> (f64, f64) + Sync + Send,
) -> Vec<(f64, f64)> {
    let sum_row = |r: &[T], k: usize| {
        r.iter().fold((0.0, 0.0), |(a, b), &v| {
            let (p, q) = f(v, k);
            (a + p, b + q)
        })
    };
    match geo.layout() {
        NormLayout::PerChannel => map.fold_channels(x, sum_row),
        NormLayout::PerGroup { .. } => {
            let m = geo.group_len();
            if map.parallel && geo.stat_count() > 1 {
                x.par_chunks(m)
                    .enumerate()
                    .map(|(k, b)| sum_row(b, k))
                    .collect()
            } else {
                x.chunks(m)
                    .enumerate()
                    .map(|(k, b)| sum_row(b, k))
                    .collect()
            }
        }
    }
}

/// Per group: `(mean, variance)` in `f64`, two passes.
fn moments<T: CpuFloat>(
    g: &NormGeometry,
    map: &RowMap,
    x: &[T],
    variance: Variance,
) -> Vec<(f64, f64)> {
    let m = g.group_len() as f64;
    let d = variance.divisor(g.group_len());
    let mean: Vec<f64> = per_group_sums(g, map, x, |v, _| (v.as_f64(), 0.0))
        .iter()
        .map(|&(s, _)| s / m)
        .collect();
    let squares = per_group_sums(g, map, x, |v, k| {
        let e = v.as_f64() - mean[k];
        (e * e, 0.0)
    });
    mean.iter()
        .zip(&squares)
        .map(|(&mu, &(sq, _))| (mu, sq / d))
        .collect()
}

fn stats<T: Element>(
    g: &NormGeometry,
    x: &Tensor,
    variance: Variance,
    eps: f64,
) -> Result<NormStats> {
    let x = typed::<T>("norm_stats", x)?;
    let mv = moments(g, &RowMap::new(g, 1), x, variance);
    let mean = mv.iter().map(|&(m, _)| T::of_f64(m)).collect();
    let var = mv.iter().map(|&(_, v)| T::of_f64(v)).collect();
    let invstd = mv
        .iter()
        .map(|&(_, v)| T::of_f64(1.0 / (v + eps).sqrt()))
        .collect();
    Ok(NormStats {
        mean: tensor_of::<T>(mean, g.stat_shape()),
        var: tensor_of::<T>(var, g.stat_shape()),
        invstd: tensor_of::<T>(invstd, g.stat_shape()),
    })
}

fn power_sums<T: Element>(g: &NormGeometry, x: &Tensor) -> Result<(Tensor, Tensor)> {
    let x = typed::<T>("norm_power_sums", x)?;
    let sums = per_group_sums(g, &RowMap::new(g, 1), x, |v, _| {
        let v = v.as_f64();
        (v, v * v)
    });
    Ok((
        tensor_of::<T>(
            sums.iter().map(|&(a, _)| T::of_f64(a)).collect(),
            g.stat_shape(),
        ),
        tensor_of::<T>(
            sums.iter().map(|&(_, b)| T::of_f64(b)).collect(),
            g.stat_shape(),
        ),
    ))
}

fn apply<T: Element>(
    g: &NormGeometry,
    x: &Tensor,
    mean: &Tensor,
    invstd: &Tensor,
    scale: &Tensor,
    shift: &Tensor,
) -> Result<Tensor> {
    const OP: &str = "norm_apply";
    let shape = x.shape().to_vec();
    let (x, mean, invstd) = (
        typed::<T>(OP, x)?,
        typed::<T>(OP, mean)?,
        typed::<T>(OP, invstd)?,
    );
    let (scale, shift) = (typed::<T>(OP, scale)?, typed::<T>(OP, shift)?);
    let s = g.spatial();
    let map = RowMap::new(g, scale.len());
    let y = map.write_rows(s, |r, k, a, out: &mut [T]| {
        let (mu, inv, gamma, beta) = (mean[k], invstd[k], scale[a], shift[a]);
        for (o, &v) in out.iter_mut().zip(row(x, s, r)) {
            *o = (v - mu) * inv * gamma + beta;
        }
    });
    Ok(tensor_of(y, shape))
}

/// Per group, `(A_k, B_k)` of `dx = g r + A + B xhat` (see the module documentation of
/// `ops::norm`), from `Sg = sum g` and `Sgx = sum g xhat`.
fn coefficients(
    g: &NormGeometry,
    grad: &StatGrad<'_>,
    live: Option<&[f64]>,
    invstd: impl Fn(usize) -> f64,
    sg: &[f64],
    sgx: &[f64],
) -> Vec<(f64, f64)> {
    let m = g.group_len();
    (0..g.stat_count())
        .map(|k| {
            let r = invstd(k);
            match grad {
                StatGrad::Detached => (0.0, 0.0),
                StatGrad::Batch(variance) => {
                    (-r * sg[k] / m as f64, -r * sgx[k] / variance.divisor(m))
                }
                StatGrad::Running { share, .. } => {
                    let var_flows = match live {
                        Some(l) => l[k] != 0.0,
                        None => true,
                    };
                    let b = if var_flows { -share * r * sgx[k] } else { 0.0 };
                    (-share * r * sg[k], b)
                }
            }
        })
        .collect()
}

fn backward<T: Element>(
    g: &NormGeometry,
    x: &Tensor,
    dy: &Tensor,
    mean: &Tensor,
    invstd: &Tensor,
    scale: &Tensor,
    grad: StatGrad<'_>,
) -> Result<NormGrads> {
    const OP: &str = "norm_backward";
    let (x_shape, scale_shape) = (x.shape().to_vec(), scale.shape().to_vec());
    let (x, dy) = (typed::<T>(OP, x)?, typed::<T>(OP, dy)?);
    let (mean, invstd, scale) = (
        typed::<T>(OP, mean)?,
        typed::<T>(OP, invstd)?,
        typed::<T>(OP, scale)?,
    );
    let live: Option<Vec<f64>> = match grad {
        StatGrad::Running {
            var_live: Some(l), ..
        } => Some(typed::<T>(OP, l)?.iter().map(|v| v.as_f64()).collect()),
        _ => None,
    };
    let s = g.spatial();
    let map = RowMap::new(g, scale.len());

    // Pass 1: per row, sum dy and sum dy xhat.
    let row_sums = map.write_rows(1, |r, k, _, out: &mut [(f64, f64)]| {
        let (mu, inv) = (mean[k].as_f64(), invstd[k].as_f64());
        out[0] = row(x, s, r)
            .iter()
            .zip(row(dy, s, r))
            .fold((0.0, 0.0), |(a, b), (&xv, &d)| {
                let d = d.as_f64();
                (a + d, b + d * (xv.as_f64() - mu) * inv)
            });
    });

    // Per channel (affine gradients) and per group (`Sg`, `Sgx`).
    let mut dscale = vec![0.0f64; scale.len()];
    let mut dshift = vec![0.0f64; scale.len()];
    let mut sg = vec![0.0f64; g.stat_count()];
    let mut sgx = vec![0.0f64; g.stat_count()];
    map.for_rows(0, g.rows(), |r, k, c| {
        let (a, b) = row_sums[r];
        let gamma = scale[c].as_f64();
        dshift[c] += a;
        dscale[c] += b;
        sg[k] += gamma * a;
        sgx[k] += gamma * b;
    });
    let coef: Vec<(T, T)> =
        coefficients(g, &grad, live.as_deref(), |k| invstd[k].as_f64(), &sg, &sgx)
            .into_iter()
            .map(|(a, b)| (T::of_f64(a), T::of_f64(b)))
            .collect();
    let detached = matches!(grad, StatGrad::Detached);

    // Pass 2: dx = dy gamma r + A + B xhat.
    let dx = map.write_rows(s, |r, k, c, out: &mut [T]| {
        let (mu, inv) = (mean[k], invstd[k]);
        let gr = scale[c] * inv;
        let (a, b) = coef[k];
        let rows = out.iter_mut().zip(row(x, s, r)).zip(row(dy, s, r));
        if detached {
            rows.for_each(|((o, _), &d)| *o = d * gr);
        } else {
            rows.for_each(|((o, &xv), &d)| *o = d * gr + a + b * ((xv - mu) * inv));
        }
    });
    let to_t = |v: Vec<f64>| v.into_iter().map(T::of_f64).collect::<Vec<T>>();
    Ok(NormGrads {
        dx: tensor_of(dx, x_shape),
        dscale: tensor_of(to_t(dscale), scale_shape.clone()),
        dshift: tensor_of(to_t(dshift), scale_shape),
    })
}

impl NormOps for CpuBackend {
    fn norm_stats(
        &self,
        g: &NormGeometry,
        x: &Tensor,
        variance: Variance,
        eps: f64,
    ) -> Result<NormStats> {
        match host(x)? {
            CpuStorage::F32(_) => stats::<f32>(g, x, variance, eps),
            CpuStorage::F64(_) => stats::<f64>(g, x, variance, eps),
        }
    }

    fn norm_power_sums(&self, g: &NormGeometry, x: &Tensor) -> Result<(Tensor, Tensor)> {
        match host(x)? {
            CpuStorage::F32(_) => power_sums::<f32>(g, x),
            CpuStorage::F64(_) => power_sums::<f64>(g, x),
        }
    }

    fn norm_apply(
        &self,
        g: &NormGeometry,
        x: &Tensor,
        mean: &Tensor,
        invstd: &Tensor,
        scale: &Tensor,
        shift: &Tensor,
    ) -> Result<Tensor> {
        match host(x)? {
            CpuStorage::F32(_) => apply::<f32>(g, x, mean, invstd, scale, shift),
            CpuStorage::F64(_) => apply::<f64>(g, x, mean, invstd, scale, shift),
        }
    }

    fn norm_backward(
        &self,
        g: &NormGeometry,
        x: &Tensor,
        dy: &Tensor,
        mean: &Tensor,
        invstd: &Tensor,
        scale: &Tensor,
        grad: StatGrad<'_>,
    ) -> Result<NormGrads> {
        match host(x)? {
            CpuStorage::F32(_) => backward::<f32>(g, x, dy, mean, invstd, scale, grad),
            CpuStorage::F64(_) => backward::<f64>(g, x, dy, mean, invstd, scale, grad),
        }
    }
}
