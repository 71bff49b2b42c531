//! CPU kernels of the elementwise family.

use rayon::prelude::*;

use super::{BinaryOp, ElementwiseOps, UnaryOp};
use crate::cpu::pool::{written_like, HostBuffer};
use crate::cpu::{host_pair, map_slice, zip_slices, CpuBackend, HostPair, PAR_ELEMENTS};
use crate::dtype::CpuFloat;
use crate::shape::{broadcast_strides, contiguous_strides, numel};
use crate::{Result, Tensor};

/// `op(a, b)` broadcast to `out_shape`. The op is matched once, outside the element loop,
/// so every arm compiles to its own (vectorisable) loop.
fn binary_apply<T: CpuFloat>(
    op: BinaryOp,
    a: &[T],
    a_shape: &[usize],
    b: &[T],
    b_shape: &[usize],
    out_shape: &[usize],
    out: &mut [T],
) {
    let (zero, one) = (T::zero(), T::one());
    let flag = move |c: bool| if c { one } else { zero };
    macro_rules! go {
        ($f:expr) => {
            broadcast_zip(a, a_shape, b, b_shape, out_shape, out, $f)
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
        // As PyTorch's `threshold_backward`: zero where `x <= 0`, so a NaN passes.
        BinaryOp::ReluGrad => go!(move |x: T, g: T| if x <= zero { zero } else { g }),
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

/// `out = op(x)`, matched once outside the element loop.
fn unary_apply<T: CpuFloat>(op: UnaryOp, x: &[T], out: &mut [T]) {
    let zero = T::zero();
    macro_rules! map {
        ($f:expr) => {
            map_slice(x, out, $f)
        };
    }
    match op {
        UnaryOp::Neg => map!(|v| -v),
        UnaryOp::Exp => map!(|v| v.exp()),
        UnaryOp::Ln => map!(|v| v.ln()),
        UnaryOp::Sqrt => map!(|v| v.sqrt()),
        UnaryOp::Rsqrt => map!(|v| v.sqrt().recip()),
        UnaryOp::Recip => map!(|v| v.recip()),
        UnaryOp::Abs => map!(|v| v.abs()),
        UnaryOp::Square => map!(|v| v * v),
        // `x <= 0` is false for NaN, which therefore stays NaN (as PyTorch's `relu`).
        UnaryOp::Relu => map!(move |v| if v <= zero { zero } else { v }),
        UnaryOp::LeakyRelu { slope } => {
            let slope = T::of_f64(slope);
            map!(move |v| if v > zero { v } else { slope * v })
        }
        UnaryOp::Clamp { min, max } => {
            let (lo, hi) = (T::of_f64(min), T::of_f64(max));
            map!(move |v| {
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
            map!(move |v| v.powf(e))
        }
        UnaryOp::Affine { mul, add } => {
            let (m, a) = (T::of_f64(mul), T::of_f64(add));
            map!(move |v| v * m + a)
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
    out: &mut [T],
    f: impl Fn(T, T) -> T + Sync + Send,
) {
    if a_shape == b_shape {
        return zip_slices(a, b, out, f);
    }
    let n = numel(out_shape);
    if b.len() == 1 && a.len() == n {
        let y = b[0];
        return map_slice(a, out, |x| f(x, y));
    }
    if a.len() == 1 && b.len() == n {
        let x = a[0];
        return map_slice(b, out, |y| f(x, y));
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
    if n == 0 {
        return;
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
}

impl ElementwiseOps for CpuBackend {
    fn binary(&self, op: BinaryOp, a: &Tensor, b: &Tensor, out_shape: &[usize]) -> Result<Tensor> {
        let (a_shape, b_shape) = (a.shape(), b.shape());
        Ok(match host_pair("binary", a, b)? {
            HostPair::F32(x, y) => HostBuffer::written(out_shape, |out| {
                binary_apply(op, x, a_shape, y, b_shape, out_shape, out)
            }),
            HostPair::F64(x, y) => HostBuffer::written(out_shape, |out| {
                binary_apply(op, x, a_shape, y, b_shape, out_shape, out)
            }),
        })
    }

    fn unary(&self, op: UnaryOp, a: &Tensor) -> Result<Tensor> {
        Ok(written_like!(a, a.shape(), x, out => unary_apply(op, x, out)))
    }
}
