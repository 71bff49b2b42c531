//! CPU kernels of the elementwise family.

use rayon::prelude::*;

use super::{BinaryOp, ElementwiseOps, UnaryOp};
use crate::cpu::{host, host_pair, map_slice, zip_slices, CpuBackend, HostPair, PAR_ELEMENTS};
use crate::dtype::CpuFloat;
use crate::shape::{broadcast_strides, contiguous_strides, numel};
use crate::{map_cpu, Result, Tensor};

fn binary_fn<T: CpuFloat>(op: BinaryOp) -> impl Fn(T, T) -> T + Sync {
    let one = T::one();
    let zero = T::zero();
    let flag = move |b: bool| if b { one } else { zero };
    move |a: T, b: T| match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        BinaryOp::Pow => a.powf(b),
        BinaryOp::Maximum => {
            if a.is_nan() || a >= b {
                a
            } else {
                b
            }
        }
        BinaryOp::Minimum => {
            if a.is_nan() || a <= b {
                a
            } else {
                b
            }
        }
        BinaryOp::Eq => flag(a == b),
        BinaryOp::Ne => flag(a != b),
        BinaryOp::Lt => flag(a < b),
        BinaryOp::Le => flag(a <= b),
        BinaryOp::Gt => flag(a > b),
        BinaryOp::Ge => flag(a >= b),
        BinaryOp::ReluGrad => {
            if a > zero {
                b
            } else {
                zero
            }
        }
        BinaryOp::LeakyReluGrad { slope } => {
            if a > zero {
                b
            } else {
                T::of_f64(slope) * b
            }
        }
        BinaryOp::ClampGrad { min, max } => {
            let x = a.as_f64();
            if x >= min && x <= max {
                b
            } else {
                zero
            }
        }
    }
}

fn unary_fn<T: CpuFloat>(op: UnaryOp) -> impl Fn(T) -> T + Sync {
    move |x: T| match op {
        UnaryOp::Neg => -x,
        UnaryOp::Exp => x.exp(),
        UnaryOp::Ln => x.ln(),
        UnaryOp::Sqrt => x.sqrt(),
        UnaryOp::Rsqrt => x.sqrt().recip(),
        UnaryOp::Recip => x.recip(),
        UnaryOp::Abs => x.abs(),
        UnaryOp::Square => x * x,
        UnaryOp::Relu => {
            if x > T::zero() {
                x
            } else {
                T::zero()
            }
        }
        UnaryOp::LeakyRelu { slope } => {
            if x > T::zero() {
                x
            } else {
                T::of_f64(slope) * x
            }
        }
        UnaryOp::Clamp { min, max } => {
            let lo = T::of_f64(min);
            let hi = T::of_f64(max);
            if x < lo {
                lo
            } else if x > hi {
                hi
            } else {
                x
            }
        }
        UnaryOp::Powf { exponent } => x.powf(T::of_f64(exponent)),
        UnaryOp::Affine { mul, add } => x * T::of_f64(mul) + T::of_f64(add),
    }
}

/// `f(a, b)` with `a` and `b` read through broadcast strides into a contiguous output.
/// Fast paths: equal shapes, and either side a single element.
fn broadcast_zip<T: CpuFloat>(
    a: &[T],
    a_shape: &[usize],
    b: &[T],
    b_shape: &[usize],
    out_shape: &[usize],
    f: impl Fn(T, T) -> T + Sync,
) -> Vec<T> {
    if a_shape == b_shape {
        return zip_slices(a, b, f);
    }
    let n = numel(out_shape);
    if b.len() == 1 && a.len() == n {
        let y = b[0];
        return map_slice(a, |x| f(x, y));
    }
    if a.len() == 1 && b.len() == n {
        let x = a[0];
        return map_slice(b, |y| f(x, y));
    }
    let rank = out_shape.len();
    let sa = broadcast_strides(a_shape, out_shape);
    let sb = broadcast_strides(b_shape, out_shape);
    let inner = out_shape[rank - 1].max(1);
    let (ia, ib) = (sa[rank - 1], sb[rank - 1]);
    let out_strides = contiguous_strides(out_shape);
    let row = |r: usize, out: &mut [T]| {
        // Offsets of the first element of output row `r` in `a` and `b`.
        let start = r * inner;
        let (mut oa, mut ob) = (0usize, 0usize);
        for d in 0..rank - 1 {
            let idx = (start / out_strides[d]) % out_shape[d];
            oa += idx * sa[d];
            ob += idx * sb[d];
        }
        for (j, o) in out.iter_mut().enumerate() {
            *o = f(a[oa + j * ia], b[ob + j * ib]);
        }
    };
    let mut out = vec![T::zero(); n];
    if n == 0 {
        return out;
    }
    if n < PAR_ELEMENTS {
        for (r, chunk) in out.chunks_mut(inner).enumerate() {
            row(r, chunk);
        }
    } else {
        out.par_chunks_mut(inner)
            .enumerate()
            .for_each(|(r, chunk)| row(r, chunk));
    }
    out
}

impl ElementwiseOps for CpuBackend {
    fn binary(&self, op: BinaryOp, a: &Tensor, b: &Tensor, out_shape: &[usize]) -> Result<Tensor> {
        let storage = match host_pair("binary", a, b)? {
            HostPair::F32(x, y) => crate::CpuStorage::F32(broadcast_zip(
                x,
                a.shape(),
                y,
                b.shape(),
                out_shape,
                binary_fn::<f32>(op),
            )),
            HostPair::F64(x, y) => crate::CpuStorage::F64(broadcast_zip(
                x,
                a.shape(),
                y,
                b.shape(),
                out_shape,
                binary_fn::<f64>(op),
            )),
        };
        Ok(Tensor::from_cpu_storage(storage, out_shape.to_vec()))
    }

    fn unary(&self, op: UnaryOp, a: &Tensor) -> Result<Tensor> {
        let storage = map_cpu!(host(a)?, x => map_slice(x, unary_fn(op)));
        Ok(Tensor::from_cpu_storage(storage, a.shape().to_vec()))
    }
}
