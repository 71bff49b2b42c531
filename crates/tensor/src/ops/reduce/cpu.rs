//! CPU kernels of the reduction family. Sums accumulate in `f64` whatever the element type.

use rayon::prelude::*;

use super::{ReduceOp, ReduceOps};
use crate::cpu::{host, CpuBackend, PAR_ELEMENTS};
use crate::dtype::CpuFloat;
use crate::shape::{numel, reduced_shape};
use crate::{map_cpu, Result, Tensor};

/// Splits `shape` into `[outer, reduced, inner]` when `axes` form one contiguous block.
fn as_three_blocks(shape: &[usize], axes: &[usize]) -> Option<(usize, usize, usize)> {
    let (first, last) = (axes[0], axes[axes.len() - 1]);
    if last - first + 1 != axes.len() {
        return None;
    }
    Some((
        numel(&shape[..first]),
        numel(&shape[first..=last]),
        numel(&shape[last + 1..]),
    ))
}

/// Reduces the middle axis of `x` viewed as `[outer, red, inner]`.
fn reduce_blocks<T: CpuFloat>(
    x: &[T],
    outer: usize,
    red: usize,
    inner: usize,
    op: ReduceOp,
) -> Vec<T> {
    let mut out = vec![T::zero(); outer * inner];
    let one_outer = |o: usize, dst: &mut [T]| {
        let block = &x[o * red * inner..(o + 1) * red * inner];
        for (i, d) in dst.iter_mut().enumerate() {
            let column = (0..red).map(|r| block[r * inner + i]);
            *d = reduce_column(column, red, op);
        }
    };
    if outer * red * inner >= PAR_ELEMENTS && outer > 1 {
        out.par_chunks_mut(inner.max(1))
            .enumerate()
            .for_each(|(o, d)| one_outer(o, d));
    } else if inner > 0 {
        for (o, d) in out.chunks_mut(inner).enumerate() {
            one_outer(o, d);
        }
    }
    out
}

fn reduce_column<T: CpuFloat>(
    column: impl Iterator<Item = T> + Clone,
    n: usize,
    op: ReduceOp,
) -> T {
    match op {
        ReduceOp::Sum => T::of_f64(column.map(|v| v.as_f64()).sum::<f64>()),
        ReduceOp::Mean => T::of_f64(column.map(|v| v.as_f64()).sum::<f64>() / n as f64),
        ReduceOp::Max => column
            .reduce(|a, b| if a.is_nan() || a >= b { a } else { b })
            .unwrap_or(T::neg_infinity()),
        ReduceOp::Min => column
            .reduce(|a, b| if a.is_nan() || a <= b { a } else { b })
            .unwrap_or(T::infinity()),
        ReduceOp::Var { unbiased } => {
            let mean = column.clone().map(|v| v.as_f64()).sum::<f64>() / n as f64;
            let ss: f64 = column.map(|v| (v.as_f64() - mean).powi(2)).sum();
            let denom = if unbiased { n as f64 - 1.0 } else { n as f64 };
            T::of_f64(ss / denom)
        }
    }
}

fn argmax_blocks<T: CpuFloat>(x: &[T], outer: usize, red: usize, inner: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(outer * inner);
    for o in 0..outer {
        for i in 0..inner {
            let mut best = 0usize;
            let mut best_v = x[o * red * inner + i];
            for r in 1..red {
                let v = x[o * red * inner + r * inner + i];
                if !best_v.is_nan() && (v.is_nan() || v > best_v) {
                    best = r;
                    best_v = v;
                }
            }
            out.push(T::of_f64(best as f64));
        }
    }
    out
}

impl ReduceOps for CpuBackend {
    fn reduce(&self, op: ReduceOp, x: &Tensor, axes: &[usize]) -> Result<Tensor> {
        let out_shape = reduced_shape(x.shape(), axes, true);
        if axes.is_empty() {
            return Ok(x.clone());
        }
        let storage = match as_three_blocks(x.shape(), axes) {
            Some((outer, red, inner)) => {
                map_cpu!(host(x)?, v => reduce_blocks(v, outer, red, inner, op))
            }
            None => {
                // Move the reduced axes to the end (one copy), then reduce the last block.
                let kept: Vec<usize> = (0..x.rank()).filter(|a| !axes.contains(a)).collect();
                let order: Vec<usize> = kept.iter().chain(axes).copied().collect();
                let moved = x.permute(&order)?;
                let red = numel(&axes.iter().map(|&a| x.shape()[a]).collect::<Vec<_>>());
                let outer: usize = kept.iter().map(|&a| x.shape()[a]).product();
                map_cpu!(host(&moved)?, v => reduce_blocks(v, outer, red, 1, op))
            }
        };
        Ok(Tensor::from_cpu_storage(storage, out_shape))
    }

    fn argmax(&self, x: &Tensor, axis: usize) -> Result<Tensor> {
        let (outer, red, inner) = as_three_blocks(x.shape(), &[axis]).expect("one axis");
        let storage = map_cpu!(host(x)?, v => argmax_blocks(v, outer, red, inner));
        Ok(Tensor::from_cpu_storage(
            storage,
            reduced_shape(x.shape(), &[axis], true),
        ))
    }
}
