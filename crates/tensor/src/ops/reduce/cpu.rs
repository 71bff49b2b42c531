//! CPU kernels of the reduction family. Sums accumulate in `f64` whatever the element type.

use rayon::prelude::*;

use super::{ReduceOp, ReduceOps};
use crate::cpu::pool::written_like;
use crate::cpu::{CpuBackend, PAR_ELEMENTS};
use crate::dtype::CpuFloat;
use crate::shape::{numel, reduced_shape};
use crate::{Result, Tensor};

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
    out: &mut [T],
) {
    if red == 0 {
        // Only a sum may reduce an empty axis (`Tensor::reduce` checks): it is 0.
        return out.fill(T::zero());
    }
    if red == 1 && !matches!(op, ReduceOp::Var { .. }) {
        // Sum, mean, max and min of one element are that element (e.g. average pooling of
        // a 1×1 map): a copy, instead of one tiny reduction per element.
        return out.copy_from_slice(x);
    }
    if inner == 1 {
        // Each output reduces one contiguous row: the fast, vectorised path.
        let rows = x.chunks(red.max(1));
        if outer > 1 && outer * red >= PAR_ELEMENTS {
            // Rows short enough that one task takes at least `ROW_CHUNK` elements' work.
            let min_rows = ROW_CHUNK.div_ceil(red.max(1));
            out.par_iter_mut()
                .zip(x.par_chunks(red.max(1)))
                .with_min_len(min_rows)
                .for_each(|(d, row)| *d = reduce_row(row, op));
        } else {
            for (d, row) in out.iter_mut().zip(rows) {
                *d = reduce_row(row, op);
            }
        }
        return;
    }
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
}

/// Elements per partial result of a contiguous reduction. Fixed, so the summation order
/// (and therefore the result) does not depend on the number of threads.
const ROW_CHUNK: usize = 1 << 14;

/// Combines `f` of fixed-size chunks of `x` in order with `combine`, starting from `init`;
/// the chunks run in parallel when `x` is large. The result is the same either way, and a
/// short row (one chunk, the common case) allocates nothing.
fn over_chunks<T: CpuFloat, R: Send>(
    x: &[T],
    init: R,
    f: impl Fn(&[T]) -> R + Sync + Send,
    combine: impl Fn(R, R) -> R,
) -> R {
    if x.len() >= PAR_ELEMENTS {
        let partials: Vec<R> = x.par_chunks(ROW_CHUNK).map(f).collect();
        partials.into_iter().fold(init, combine)
    } else {
        x.chunks(ROW_CHUNK).map(f).fold(init, combine)
    }
}

/// `sum_i g(x_i)` in `f64` with eight independent accumulators (vectorisable).
fn lane_sum<T: CpuFloat>(x: &[T], g: impl Fn(f64) -> f64) -> f64 {
    let mut acc = [0f64; 8];
    let mut lanes = x.chunks_exact(8);
    for c in &mut lanes {
        for l in 0..8 {
            acc[l] += g(c[l].as_f64());
        }
    }
    let tail: f64 = lanes.remainder().iter().map(|v| g(v.as_f64())).sum();
    acc.iter().sum::<f64>() + tail
}

/// Reduces one contiguous row.
fn reduce_row<T: CpuFloat>(row: &[T], op: ReduceOp) -> T {
    let n = row.len();
    // `-0.0` is the identity of `f64` addition (as in `Iterator::sum`).
    let sum = |row: &[T]| -> f64 { over_chunks(row, -0.0, |c| lane_sum(c, |v| v), |a, b| a + b) };
    let nan_first = |a: T, b: T, take_b: fn(T, T) -> bool| {
        if a.is_nan() || !take_b(a, b) {
            a
        } else {
            b
        }
    };
    match op {
        ReduceOp::Sum => T::of_f64(sum(row)),
        ReduceOp::Mean => T::of_f64(sum(row) / n as f64),
        ReduceOp::Var { unbiased } => {
            let mean = sum(row) / n as f64;
            let squares = |c: &[T]| lane_sum(c, |v| (v - mean) * (v - mean));
            let ss = over_chunks(row, -0.0, squares, |a, b| a + b);
            let denom = if unbiased { n as f64 - 1.0 } else { n as f64 };
            T::of_f64(ss / denom)
        }
        ReduceOp::Max | ReduceOp::Min => {
            let take_b: fn(T, T) -> bool = if op == ReduceOp::Max {
                |a, b| b.is_nan() || b > a
            } else {
                |a, b| b.is_nan() || b < a
            };
            let empty = if op == ReduceOp::Max {
                T::neg_infinity()
            } else {
                T::infinity()
            };
            let pick = |a, b| nan_first(a, b, take_b);
            let chunk_best = |c: &[T]| c.iter().copied().reduce(pick).unwrap_or(empty);
            over_chunks(
                row,
                None,
                |c| Some(chunk_best(c)),
                |a, b| match (a, b) {
                    (Some(a), Some(b)) => Some(pick(a, b)),
                    (a, b) => a.or(b),
                },
            )
            .unwrap_or(empty)
        }
    }
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

fn argmax_blocks<T: CpuFloat>(x: &[T], outer: usize, red: usize, inner: usize, out: &mut [T]) {
    let mut out = out.iter_mut();
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
            *out.next().expect("the caller sizes the output") = T::of_f64(best as f64);
        }
    }
}

impl ReduceOps for CpuBackend {
    fn reduce(&self, op: ReduceOp, x: &Tensor, axes: &[usize]) -> Result<Tensor> {
        let out_shape = reduced_shape(x.shape(), axes, true);
        if axes.is_empty() {
            return Ok(x.clone());
        }
        let shape = &out_shape;
        Ok(match as_three_blocks(x.shape(), axes) {
            Some((outer, red, inner)) => written_like!(x, shape, v, out => {
                reduce_blocks(v, outer, red, inner, op, out)
            }),
            None => {
                // Move the reduced axes to the end (one copy), then reduce the last block.
                let kept: Vec<usize> = (0..x.rank()).filter(|a| !axes.contains(a)).collect();
                let order: Vec<usize> = kept.iter().chain(axes).copied().collect();
                let moved = x.permute(&order)?;
                let red = numel(&axes.iter().map(|&a| x.shape()[a]).collect::<Vec<_>>());
                let outer: usize = kept.iter().map(|&a| x.shape()[a]).product();
                written_like!(&moved, shape, v, out => reduce_blocks(v, outer, red, 1, op, out))
            }
        })
    }

    fn argmax(&self, x: &Tensor, axis: usize) -> Result<Tensor> {
        let (outer, red, inner) = as_three_blocks(x.shape(), &[axis]).expect("one axis");
        let shape = reduced_shape(x.shape(), &[axis], true);
        Ok(written_like!(x, &shape, v, out => argmax_blocks(v, outer, red, inner, out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `reduce_blocks` into a new vector of `outer * inner` values (NaN before).
    fn reduced(x: &[f32], outer: usize, red: usize, inner: usize, op: ReduceOp) -> Vec<f32> {
        let mut out = vec![f32::NAN; outer * inner];
        reduce_blocks(x, outer, red, inner, op, &mut out);
        out
    }

    #[test]
    fn one_element_reductions_are_the_element() {
        let x = [1.5f32, -0.0, f32::NAN, -3.25, f32::INFINITY, 7.0];
        for op in [ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max, ReduceOp::Min] {
            let got = reduced(&x, 6, 1, 1, op);
            let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&x), "{op:?}");
            // The same through the strided (inner > 1) layout.
            assert_eq!(bits(&reduced(&x, 2, 1, 3, op)), bits(&x), "{op:?}");
        }
        let var = |unbiased| reduced(&x[..1], 1, 1, 1, ReduceOp::Var { unbiased })[0];
        assert!(var(true).is_nan());
        assert_eq!(var(false), 0.0);
    }

    #[test]
    fn long_rows_sum_chunk_by_chunk_in_order() {
        // Longer than `PAR_ELEMENTS`: the chunks' partial sums come from the pool.
        let n = 3 * PAR_ELEMENTS + 17;
        let x: Vec<f64> = (0..n)
            .map(|i| ((i * 7919) % 1000) as f64 * 1e-3 - 0.4)
            .collect();
        let mut want = -0.0;
        for c in x.chunks(ROW_CHUNK) {
            // Eight interleaved accumulators per chunk, then the tail, as `lane_sum` states.
            let mut acc = [0.0; 8];
            let mut lanes = c.chunks_exact(8);
            for l in &mut lanes {
                for (a, v) in acc.iter_mut().zip(l) {
                    *a += v;
                }
            }
            let tail: f64 = lanes.remainder().iter().sum();
            want += acc.iter().sum::<f64>() + tail;
        }
        assert_eq!(reduce_row(&x, ReduceOp::Sum), want);
        assert_eq!(reduce_row(&x, ReduceOp::Mean), want / n as f64);
        let mut with_nan = x.clone();
        with_nan[n - 1] = f64::NAN;
        assert!(reduce_row(&with_nan, ReduceOp::Max).is_nan());
        assert!(reduce_row(&with_nan, ReduceOp::Min).is_nan());
        let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(reduce_row(&x, ReduceOp::Max), max);
        assert_eq!(reduce_row::<f64>(&[], ReduceOp::Max), f64::NEG_INFINITY);
    }
}
