//! CUDA kernels of the elementwise family (`elementwise.cu`).
//!
//! Equal shapes run `binary_same` (one thread per element, no index arithmetic); other
//! broadcasts run `binary_bcast`, which reads both operands through [`Strided`] metadata
//! (adjacent contiguous dims merged on the host, so a `[N, C, H, W] + [C, 1, 1]` reads
//! through three dims). Unary ops are one flat pass. Op codes are the `#define`s at the top
//! of `elementwise.cu`.

use super::{BinaryOp, ElementwiseOps, UnaryOp};
use crate::cuda::{elementwise_config, i64_of, Arg, CudaBackend, Family, KernelSource, Strided};
use crate::shape::{broadcast_strides, numel};
use crate::storage::Storage;
use crate::{Result, Tensor};

pub(crate) static KERNELS: KernelSource = KernelSource {
    family: Family::Elementwise,
    name: "elementwise",
    source: include_str!("elementwise.cu"),
    entries: &["binary_same", "binary_bcast", "unary"],
};

/// The kernel's op code and scalar parameters of a binary op.
fn binary_code(op: BinaryOp) -> (i32, f64, f64) {
    match op {
        BinaryOp::Add => (0, 0.0, 0.0),
        BinaryOp::Sub => (1, 0.0, 0.0),
        BinaryOp::Mul => (2, 0.0, 0.0),
        BinaryOp::Div => (3, 0.0, 0.0),
        BinaryOp::Pow => (4, 0.0, 0.0),
        BinaryOp::Maximum => (5, 0.0, 0.0),
        BinaryOp::Minimum => (6, 0.0, 0.0),
        BinaryOp::Eq => (7, 0.0, 0.0),
        BinaryOp::Ne => (8, 0.0, 0.0),
        BinaryOp::Lt => (9, 0.0, 0.0),
        BinaryOp::Le => (10, 0.0, 0.0),
        BinaryOp::Gt => (11, 0.0, 0.0),
        BinaryOp::Ge => (12, 0.0, 0.0),
        BinaryOp::ReluGrad => (13, 0.0, 0.0),
        BinaryOp::LeakyReluGrad { slope } => (14, slope, 0.0),
        BinaryOp::ClampGrad { min, max } => (15, min, max),
    }
}

/// The kernel's op code and scalar parameters of a unary op.
fn unary_code(op: UnaryOp) -> (i32, f64, f64) {
    match op {
        UnaryOp::Neg => (0, 0.0, 0.0),
        UnaryOp::Exp => (1, 0.0, 0.0),
        UnaryOp::Ln => (2, 0.0, 0.0),
        UnaryOp::Sqrt => (3, 0.0, 0.0),
        UnaryOp::Rsqrt => (4, 0.0, 0.0),
        UnaryOp::Recip => (5, 0.0, 0.0),
        UnaryOp::Abs => (6, 0.0, 0.0),
        UnaryOp::Square => (7, 0.0, 0.0),
        UnaryOp::Relu => (8, 0.0, 0.0),
        UnaryOp::LeakyRelu { slope } => (9, slope, 0.0),
        UnaryOp::Clamp { min, max } => (10, min, max),
        UnaryOp::Powf { exponent } => (11, exponent, 0.0),
        UnaryOp::Affine { mul, add } => (12, mul, add),
    }
}

impl ElementwiseOps for CudaBackend {
    fn binary(&self, op: BinaryOp, a: &Tensor, b: &Tensor, out_shape: &[usize]) -> Result<Tensor> {
        let (sa, sb) = self.pair_of("binary", a, b)?;
        let n = numel(out_shape);
        let out = self.alloc(sa.dtype(), n)?;
        if n > 0 {
            let (code, p0, p1) = binary_code(op);
            let head = [i64_of(n)];
            let scalars = [Arg::I32(code), Arg::F64(p0), Arg::F64(p1)];
            if a.shape() == b.shape() {
                let args: Vec<Arg> = head
                    .into_iter()
                    .chain(scalars)
                    .chain([Arg::Ptr(sa.ptr()), Arg::Ptr(sb.ptr()), Arg::Ptr(out.ptr())])
                    .collect();
                self.launch(
                    &KERNELS,
                    "binary_same",
                    sa.dtype(),
                    elementwise_config(n),
                    &args,
                )?;
            } else {
                let m = Strided::new(
                    "binary",
                    out_shape,
                    &broadcast_strides(a.shape(), out_shape),
                    Some(&broadcast_strides(b.shape(), out_shape)),
                )?;
                debug_assert!(m.extent(0) <= sa.len() as i64 && m.extent(1) <= sb.len() as i64);
                let args: Vec<Arg> = head
                    .into_iter()
                    .chain([Arg::Strided(m)])
                    .chain(scalars)
                    .chain([
                        Arg::Ptr(sa.ptr()),
                        i64_of(sa.len()),
                        Arg::Ptr(sb.ptr()),
                        i64_of(sb.len()),
                        Arg::Ptr(out.ptr()),
                    ])
                    .collect();
                self.launch(
                    &KERNELS,
                    "binary_bcast",
                    sa.dtype(),
                    elementwise_config(n),
                    &args,
                )?;
            }
        }
        Ok(Tensor::from_storage(Storage::Cuda(out), out_shape))
    }

    fn unary(&self, op: UnaryOp, a: &Tensor) -> Result<Tensor> {
        let sa = self.storage_of("unary", a)?;
        let n = sa.len();
        let out = self.alloc(sa.dtype(), n)?;
        if n > 0 {
            let (code, p0, p1) = unary_code(op);
            let args = [
                i64_of(n),
                Arg::I32(code),
                Arg::F64(p0),
                Arg::F64(p1),
                Arg::Ptr(sa.ptr()),
                Arg::Ptr(out.ptr()),
            ];
            self.launch(&KERNELS, "unary", sa.dtype(), elementwise_config(n), &args)?;
        }
        Ok(Tensor::from_storage(Storage::Cuda(out), a.shape()))
    }
}
