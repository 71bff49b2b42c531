//! CPU kernels of the loss family. Per-row work is independent; rows run in parallel when
//! the batch is large.

use rayon::prelude::*;

use super::LossOps;
use crate::cpu::{host, host_pair, CpuBackend, HostPair, PAR_ELEMENTS};
use crate::dtype::CpuFloat;
use crate::{map_cpu, CpuStorage, Result, Tensor, TensorError};

fn log_softmax_rows<T: CpuFloat>(x: &[T], c: usize) -> Vec<T> {
    let mut out = vec![T::zero(); x.len()];
    let row = |(src, dst): (&[T], &mut [T])| {
        let m = src.iter().copied().fold(T::neg_infinity(), T::max);
        let lse = m + src.iter().map(|&v| (v - m).exp()).sum::<T>().ln();
        for (d, &v) in dst.iter_mut().zip(src) {
            *d = v - lse;
        }
    };
    if x.len() >= PAR_ELEMENTS {
        x.par_chunks(c).zip(out.par_chunks_mut(c)).for_each(row);
    } else {
        x.chunks(c).zip(out.chunks_mut(c)).for_each(row);
    }
    out
}

fn log_softmax_backward_rows<T: CpuFloat>(y: &[T], dy: &[T], c: usize) -> Vec<T> {
    let mut out = vec![T::zero(); y.len()];
    for ((y, dy), dx) in y.chunks(c).zip(dy.chunks(c)).zip(out.chunks_mut(c)) {
        let s: T = dy.iter().copied().sum();
        for ((d, &yv), &g) in dx.iter_mut().zip(y).zip(dy) {
            *d = g - yv.exp() * s;
        }
    }
    out
}

fn class_ids<T: CpuFloat>(targets: &[T], c: usize) -> Result<Vec<usize>> {
    targets
        .iter()
        .map(|&t| {
            let v = t.as_f64();
            if v.fract() == 0.0 && v >= 0.0 && (v as usize) < c {
                Ok(v as usize)
            } else {
                Err(TensorError::InvalidArgument {
                    op: "cross_entropy",
                    reason: format!("target {v} is not a class id in 0..{c}"),
                })
            }
        })
        .collect()
}

fn cross_entropy_rows<T: CpuFloat>(z: &[T], targets: &[T], c: usize) -> Result<Vec<T>> {
    let ids = class_ids(targets, c)?;
    let n = ids.len();
    let total: f64 = z
        .chunks(c)
        .zip(&ids)
        .map(|(row, &t)| {
            let m = row.iter().copied().fold(T::neg_infinity(), T::max).as_f64();
            let lse = m + row
                .iter()
                .map(|&v| (v.as_f64() - m).exp())
                .sum::<f64>()
                .ln();
            lse - row[t].as_f64()
        })
        .sum();
    Ok(vec![T::of_f64(total / n as f64)])
}

fn cross_entropy_backward_rows<T: CpuFloat>(
    z: &[T],
    targets: &[T],
    c: usize,
    dloss: T,
) -> Result<Vec<T>> {
    let ids = class_ids(targets, c)?;
    let scale = dloss / T::of_f64(ids.len() as f64);
    let mut out = vec![T::zero(); z.len()];
    for ((row, dst), &t) in z.chunks(c).zip(out.chunks_mut(c)).zip(&ids) {
        let m = row.iter().copied().fold(T::neg_infinity(), T::max);
        let mut sum = T::zero();
        for (d, &v) in dst.iter_mut().zip(row) {
            *d = (v - m).exp();
            sum = sum + *d;
        }
        for d in dst.iter_mut() {
            *d = *d / sum * scale;
        }
        dst[t] = dst[t] - scale;
    }
    Ok(out)
}

impl LossOps for CpuBackend {
    fn log_softmax(&self, x: &Tensor) -> Result<Tensor> {
        let c = x.shape()[1];
        let storage = map_cpu!(host(x)?, v => log_softmax_rows(v, c));
        Ok(Tensor::from_cpu_storage(storage, x.shape()))
    }

    fn log_softmax_backward(&self, y: &Tensor, dy: &Tensor) -> Result<Tensor> {
        let c = y.shape()[1];
        let storage = match host_pair("log_softmax_backward", y, dy)? {
            HostPair::F32(a, b) => CpuStorage::F32(log_softmax_backward_rows(a, b, c).into()),
            HostPair::F64(a, b) => CpuStorage::F64(log_softmax_backward_rows(a, b, c).into()),
        };
        Ok(Tensor::from_cpu_storage(storage, y.shape()))
    }

    fn cross_entropy(&self, logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
        let c = logits.shape()[1];
        let storage = match host_pair("cross_entropy", logits, targets)? {
            HostPair::F32(z, t) => CpuStorage::F32(cross_entropy_rows(z, t, c)?.into()),
            HostPair::F64(z, t) => CpuStorage::F64(cross_entropy_rows(z, t, c)?.into()),
        };
        Ok(Tensor::from_cpu_storage(storage, vec![]))
    }

    fn cross_entropy_backward(
        &self,
        logits: &Tensor,
        targets: &Tensor,
        dloss: &Tensor,
    ) -> Result<Tensor> {
        let c = logits.shape()[1];
        let g = dloss.to_scalar()?;
        let storage = match host_pair("cross_entropy_backward", logits, targets)? {
            HostPair::F32(z, t) => {
                CpuStorage::F32(cross_entropy_backward_rows(z, t, c, g as f32)?.into())
            }
            HostPair::F64(z, t) => CpuStorage::F64(cross_entropy_backward_rows(z, t, c, g)?.into()),
        };
        Ok(Tensor::from_cpu_storage(storage, logits.shape()))
    }
}
