//! Elementwise arithmetic with NumPy broadcasting, unary maths, comparisons, and the fused
//! gradient helpers of the piecewise activations.

mod cpu;
#[cfg(feature = "cuda")]
pub(crate) mod cuda;

use crate::shape::broadcast_shapes;
use crate::{Result, Tensor};

/// A two-input elementwise op. Comparisons return 1.0 where true and 0.0 where false.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    /// `a^b`.
    Pow,
    Maximum,
    Minimum,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `d relu / dx` applied to an upstream gradient: `a` is the input x, `b` the gradient:
    /// `b` where `a > 0` or `a` is NaN, else 0 (PyTorch's `threshold_backward`, which
    /// zeroes only where `a <= 0`).
    ReluGrad,
    /// Leaky ReLU's backward: `b` where `a > 0`, else `slope * b`.
    LeakyReluGrad {
        slope: f64,
    },
    /// Clamp's backward: `b` where `min <= a <= max`, else 0.
    ClampGrad {
        min: f64,
        max: f64,
    },
}

/// A one-input elementwise op.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UnaryOp {
    Neg,
    Exp,
    /// Natural logarithm.
    Ln,
    Sqrt,
    /// `1 / sqrt(x)`.
    Rsqrt,
    /// `1 / x`.
    Recip,
    Abs,
    Square,
    /// `max(x, 0)`; NaN stays NaN (as PyTorch's `relu`).
    Relu,
    /// `x` if `x > 0` else `slope * x`.
    LeakyRelu {
        slope: f64,
    },
    /// `min(max(x, min), max)`; use infinities for a one-sided clamp.
    Clamp {
        min: f64,
        max: f64,
    },
    /// `x^exponent` for a scalar exponent.
    Powf {
        exponent: f64,
    },
    /// `x * mul + add`.
    Affine {
        mul: f64,
        add: f64,
    },
}

/// Elementwise kernels a backend provides. Arguments are validated by the callers: same
/// device and dtype; `out_shape` is the broadcast of both shapes.
pub trait ElementwiseOps {
    /// `op(a, b)` broadcast to `out_shape`.
    fn binary(&self, op: BinaryOp, a: &Tensor, b: &Tensor, out_shape: &[usize]) -> Result<Tensor>;
    /// `op(a)`.
    fn unary(&self, op: UnaryOp, a: &Tensor) -> Result<Tensor>;
}

impl Tensor {
    /// `op(self, other)` with broadcasting.
    pub fn binary(&self, op: BinaryOp, other: &Tensor) -> Result<Tensor> {
        self.check_compatible("binary", other)?;
        let out_shape = broadcast_shapes("binary", self.shape(), other.shape())?;
        self.backend().binary(op, self, other, &out_shape)
    }

    /// `op(self)`.
    pub fn unary(&self, op: UnaryOp) -> Result<Tensor> {
        self.backend().unary(op, self)
    }

    /// `self + other`, broadcasting.
    pub fn add(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Add, other)
    }
    /// `self - other`, broadcasting.
    pub fn sub(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Sub, other)
    }
    /// `self * other`, broadcasting.
    pub fn mul(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Mul, other)
    }
    /// `self / other`, broadcasting.
    pub fn div(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Div, other)
    }
    /// `self ^ other`, broadcasting.
    pub fn pow(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Pow, other)
    }
    /// Elementwise maximum, broadcasting.
    pub fn maximum(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Maximum, other)
    }
    /// Elementwise minimum, broadcasting.
    pub fn minimum(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Minimum, other)
    }
    /// 1.0 where `self == other`.
    pub fn eq(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Eq, other)
    }
    /// 1.0 where `self != other`.
    pub fn ne(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Ne, other)
    }
    /// 1.0 where `self < other`.
    pub fn lt(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Lt, other)
    }
    /// 1.0 where `self <= other`.
    pub fn le(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Le, other)
    }
    /// 1.0 where `self > other`.
    pub fn gt(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Gt, other)
    }
    /// 1.0 where `self >= other`.
    pub fn ge(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Ge, other)
    }

    /// `-self`.
    pub fn neg(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Neg)
    }
    /// `e^self`.
    pub fn exp(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Exp)
    }
    /// Natural logarithm.
    pub fn ln(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Ln)
    }
    /// Square root.
    pub fn sqrt(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Sqrt)
    }
    /// `1/sqrt(self)`.
    pub fn rsqrt(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Rsqrt)
    }
    /// `1/self`.
    pub fn recip(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Recip)
    }
    /// `|self|`.
    pub fn abs(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Abs)
    }
    /// `self^2`.
    pub fn square(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Square)
    }
    /// `max(self, 0)`, with NaN propagated (PyTorch's `relu`).
    pub fn relu(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Relu)
    }
    /// Leaky ReLU with negative slope `slope`.
    pub fn leaky_relu(&self, slope: f64) -> Result<Tensor> {
        self.unary(UnaryOp::LeakyRelu { slope })
    }
    /// Clamps into `[min, max]`; `None` leaves that side open.
    pub fn clamp(&self, min: Option<f64>, max: Option<f64>) -> Result<Tensor> {
        self.unary(UnaryOp::Clamp {
            min: min.unwrap_or(f64::NEG_INFINITY),
            max: max.unwrap_or(f64::INFINITY),
        })
    }
    /// `self^exponent`.
    pub fn powf(&self, exponent: f64) -> Result<Tensor> {
        self.unary(UnaryOp::Powf { exponent })
    }
    /// `self * mul + add`.
    pub fn affine(&self, mul: f64, add: f64) -> Result<Tensor> {
        self.unary(UnaryOp::Affine { mul, add })
    }
    /// `self + value`.
    pub fn add_scalar(&self, value: f64) -> Result<Tensor> {
        self.affine(1.0, value)
    }
    /// `self * value`.
    pub fn mul_scalar(&self, value: f64) -> Result<Tensor> {
        self.affine(value, 0.0)
    }
}
