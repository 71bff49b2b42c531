//! CPU kernels of the elementwise family.

use rayon::prelude::*;

use super::{BinaryOp, ElementwiseOps, UnaryOp};
use crate::cpu::{host, host_pair, map_slice, zip_slices, CpuBackend, HostPair, PAR_ELEMENTS};
use crate::dtype::CpuFloat;
use crate::shape::{broadcast_strides, contiguous_strides, numel};
use crate::{map_cpu, Result, Tensor};

/// `op(a, b)` broadcast to `out_shape`. The op is matched once, outside the element loop,
/// so every arm compiles to its own (vectorisable) loop.
fn binary_apply<T: CpuFloat>(
    op: BinaryOp,
    a: &[T],
    a_shape: &[usize],
    b: &[T],
    b_shape: &[usize],
    out_shape: &[usize],
) -> Vec<T> {
    let (zero, one) = (T::zero(), T::one());
    let flag = move |c: bool| if c { one } else { zero };
    macro_rules! go {
        ($f:expr) => {
            broadcast_zip(a, a_shape, b, b_shape, out_shape, $f)
        };
    }
    match op {
        BinaryOp::Add => go!(|x: T, y: T| x + y),
        BinaryOp::Sub => go!(|x: T, y: T| x - y),
        BinaryOp::Mul => go!(|x: T, y: T| x * y),
        BinaryOp::Div => go!(|x: T, y: T| x / y),
        BinaryOp::Pow => go!(|x: T, y: T| x.powf(y)),
        BinaryOp::Maximum => go!(|x: T, y: T| if x.is_nan() || x >= y { x } else { y }),
        BinaryOp::Minimum => go!(|x: T, y: T| if x.is_nan() || x <= y { x } else { y }),
        BinaryOp::Eq => go!(move |x: T, y: T| flag(x == y)),
        BinaryOp::Ne => go!(move |x: T, y: T| flag(x != y)),
        BinaryOp::Lt => go!(move |x: T, y: T| flag(x < y)),
        BinaryOp::Le => go!(move |x: T, y: T| flag(x <= y)),
        BinaryOp::Gt => go!(move |x: T, y: T| flag(x > y)),
        BinaryOp::Ge => go!(move |x: T, y: T| flag(x >= y)),
        BinaryOp::ReluGrad => go!(move |x: T, g: T| if x > zero { g } else { zero }),
        BinaryOp::LeakyReluGrad { slope } => {
            let slope = T::of_f64(slope);
            go!(move |x: T, g: T| if x > zero { g } else { slope * g })
        }
        BinaryOp::ClampGrad { min, max } => {
            go!(move |x: T, g: T| {
                let v = x.as_f64();
                if v >= min && v <= max {
                    g
                } else {
                    zero
                }
            })
        }
    }
}

/// `op(x)`, matched once outside the element loop.
fn unary_apply<T: CpuFloat>(op: UnaryOp, x: &[T]) -> Vec<T> {
    let zero = T::zero();
    match op {
        UnaryOp::Neg => map_slice(x, |v| -v),
        UnaryOp::Exp => map_slice(x, |v| v.exp()),
        UnaryOp::Ln => map_slice(x, |v| v.ln()),
        UnaryOp::Sqrt => map_slice(x, |v| v.sqrt()),
        UnaryOp::Rsqrt => map_slice(x, |v| v.sqrt().recip()),
        UnaryOp::Recip => map_slice(x, |v| v.recip()),
        UnaryOp::Abs => map_slice(x, |v| v.abs()),
        UnaryOp::Square => map_slice(x, |v| v * v),
        UnaryOp::Relu => map_slice(x, move |v| if v > zero { v } else { zero }),
        UnaryOp::LeakyRelu { slope } => {
            let slope = T::of_f64(slope);
            map_slice(x, move |v| if v > zero { v } else { slope * v })
        }
        UnaryOp::Clamp { min, max } => {
            let (lo, hi) = (T::of_f64(min), T::of_f64(max));
            map_slice(x, move |v| {
                if v < lo {
                    lo
                } else if v > hi {
                    hi
                } else {
                    v
                }
            })
        }
        UnaryOp::Powf { exponent } => {
            let e = T::of_f64(exponent);
            map_slice(x, move |v| v.powf(e))
        }
        UnaryOp::Affine { mul, add } => {
            let (m, a) = (T::of_f64(mul), T::of_f64(add));
            map_slice(x, move |v| v * m + a)
        }
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
    f: impl Fn(T, T) -> T + Sync + Send,
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
            HostPair::F32(x, y) => crate::CpuStorage::F32(
                binary_apply(op, x, a.shape(), y, b.shape(), out_shape).into(),
            ),
            HostPair::F64(x, y) => crate::CpuStorage::F64(
                binary_apply(op, x, a.shape(), y, b.shape(), out_shape).into(),
            ),
        };
        Ok(Tensor::from_cpu_storage(storage, out_shape))
    }

    fn unary(&self, op: UnaryOp, a: &Tensor) -> Result<Tensor> {
        let storage = map_cpu!(host(a)?, x => unary_apply(op, x));
        Ok(Tensor::from_cpu_storage(storage, a.shape()))
    }
}
