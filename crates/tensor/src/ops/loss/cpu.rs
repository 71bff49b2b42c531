//! CPU kernels of the loss family. Per-row work is independent; rows run in parallel when
//! the batch is large.

use rayon::prelude::*;

use super::LossOps;
use crate::cpu::pool::{written_like, HostBuffer};
use crate::cpu::{host_pair, CpuBackend, HostPair, PAR_ELEMENTS};
use crate::dtype::CpuFloat;
use crate::{Result, Tensor, TensorError};

fn log_softmax_rows<T: CpuFloat>(x: &[T], c: usize, out: &mut [T]) {
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
}

fn log_softmax_backward_rows<T: CpuFloat>(y: &[T], dy: &[T], c: usize, out: &mut [T]) {
    for ((y, dy), dx) in y.chunks(c).zip(dy.chunks(c)).zip(out.chunks_mut(c)) {
        let s: T = dy.iter().copied().sum();
        for ((d, &yv), &g) in dx.iter_mut().zip(y).zip(dy) {
            *d = g - yv.exp() * s;
        }
    }
}

/// Checks that every target is a class id in `0..c` (an integer-valued float).
fn check_class_ids<T: CpuFloat>(targets: &[T], c: usize) -> Result<()> {
    match targets
        .iter()
        .map(|t| t.as_f64())
        .find(|&v| !(v.fract() == 0.0 && v >= 0.0 && (v as usize) < c))
    {
        None => Ok(()),
        Some(v) => Err(TensorError::InvalidArgument {
            op: "cross_entropy",
            reason: format!("target {v} is not a class id in 0..{c}"),
        }),
    }
}

/// The class ids of targets [`check_class_ids`] accepted.
fn class_ids<T: CpuFloat>(targets: &[T]) -> impl Iterator<Item = usize> + '_ {
    targets.iter().map(|t| t.as_f64() as usize)
}

/// The mean cross-entropy of the rows (targets checked by the caller).
fn cross_entropy_rows<T: CpuFloat>(z: &[T], targets: &[T], c: usize) -> T {
    let n = targets.len();
    let total: f64 = z
        .chunks(c)
        .zip(class_ids(targets))
        .map(|(row, t)| {
            let m = row.iter().copied().fold(T::neg_infinity(), T::max).as_f64();
            let lse = m + row
                .iter()
                .map(|&v| (v.as_f64() - m).exp())
                .sum::<f64>()
                .ln();
            lse - row[t].as_f64()
        })
        .sum();
    T::of_f64(total / n as f64)
}

fn cross_entropy_backward_rows<T: CpuFloat>(
    z: &[T],
    targets: &[T],
    c: usize,
    dloss: T,
    out: &mut [T],
) {
    let scale = dloss / T::of_f64(targets.len() as f64);
    for ((row, dst), t) in z.chunks(c).zip(out.chunks_mut(c)).zip(class_ids(targets)) {
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
}

impl LossOps for CpuBackend {
    fn log_softmax(&self, x: &Tensor) -> Result<Tensor> {
        let c = x.shape()[1];
        Ok(written_like!(x, x.shape(), v, o => log_softmax_rows(v, c, o)))
    }

    fn log_softmax_backward(&self, y: &Tensor, dy: &Tensor) -> Result<Tensor> {
        let c = y.shape()[1];
        let shape = y.shape();
        Ok(match host_pair("log_softmax_backward", y, dy)? {
            HostPair::F32(a, b) => {
                HostBuffer::written(shape, |o| log_softmax_backward_rows(a, b, c, o))
            }
            HostPair::F64(a, b) => {
                HostBuffer::written(shape, |o| log_softmax_backward_rows(a, b, c, o))
            }
        })
    }

    fn cross_entropy(&self, logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
        let c = logits.shape()[1];
        Ok(match host_pair("cross_entropy", logits, targets)? {
            HostPair::F32(z, t) => {
                check_class_ids(t, c)?;
                HostBuffer::written(&[], |o| o[0] = cross_entropy_rows(z, t, c))
            }
            HostPair::F64(z, t) => {
                check_class_ids(t, c)?;
                HostBuffer::written(&[], |o| o[0] = cross_entropy_rows(z, t, c))
            }
        })
    }

    fn cross_entropy_backward(
        &self,
        logits: &Tensor,
        targets: &Tensor,
        dloss: &Tensor,
    ) -> Result<Tensor> {
        let c = logits.shape()[1];
        let g = dloss.to_scalar()?;
        let shape = logits.shape();
        Ok(
            match host_pair("cross_entropy_backward", logits, targets)? {
                HostPair::F32(z, t) => {
                    check_class_ids(t, c)?;
                    HostBuffer::written(shape, |o| {
                        cross_entropy_backward_rows(z, t, c, g as f32, o)
                    })
                }
                HostPair::F64(z, t) => {
                    check_class_ids(t, c)?;
                    HostBuffer::written(shape, |o| cross_entropy_backward_rows(z, t, c, g, o))
                }
            },
        )
    }
}
