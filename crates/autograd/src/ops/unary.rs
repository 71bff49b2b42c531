//! Unary maths. Derivatives: `exp' = exp`, `ln' = 1/x`, `sqrt' = 1/(2 sqrt x)`,
//! `rsqrt' = -rsqrt^3/2`, `recip' = -1/x^2`, `square' = 2x`, `(x^e)' = e x^(e-1)`,
//! `relu' = [x>0 or x is NaN]` (a NaN passes the gradient, as in PyTorch), `leaky' = [x>0] + slope [x<=0]`, `clamp' = [min<=x<=max]`,
//! `(mul x + add)' = mul`, `|x|' = sign x`.

use tensor::{BinaryOp, Result, UnaryOp};

use crate::Var;

impl Var {
    /// Applies a unary op with its derivative.
    pub fn unary(&self, op: UnaryOp) -> Result<Var> {
        let x = self.value();
        let out = x.unary(op)?;
        let y = out.clone();
        Ok(Var::from_fn(out, &[self], "unary", move |g| {
            let gx = match op {
                UnaryOp::Neg => g.neg()?,
                UnaryOp::Exp => g.mul(&y)?,
                UnaryOp::Ln => g.div(&x)?,
                UnaryOp::Sqrt => g.div(&y)?.mul_scalar(0.5)?,
                UnaryOp::Rsqrt => g.mul(&y.powf(3.0)?)?.mul_scalar(-0.5)?,
                UnaryOp::Recip => g.mul(&y.square()?)?.neg()?,
                UnaryOp::Abs => g.mul(&x.gt(&x.zeros_like()?)?.sub(&x.lt(&x.zeros_like()?)?)?)?,
                UnaryOp::Square => g.mul(&x)?.mul_scalar(2.0)?,
                UnaryOp::Relu => x.binary(BinaryOp::ReluGrad, g)?,
                UnaryOp::LeakyRelu { slope } => x.binary(BinaryOp::LeakyReluGrad { slope }, g)?,
                UnaryOp::Clamp { min, max } => x.binary(BinaryOp::ClampGrad { min, max }, g)?,
                UnaryOp::Powf { exponent } => {
                    g.mul(&x.powf(exponent - 1.0)?)?.mul_scalar(exponent)?
                }
                UnaryOp::Affine { mul, .. } => g.mul_scalar(mul)?,
            };
            Ok(vec![Some(gx)])
        }))
    }

    /// `-self`.
    pub fn neg(&self) -> Result<Var> {
        self.unary(UnaryOp::Neg)
    }
    /// `e^self`.
    pub fn exp(&self) -> Result<Var> {
        self.unary(UnaryOp::Exp)
    }
    /// Natural logarithm.
    pub fn ln(&self) -> Result<Var> {
        self.unary(UnaryOp::Ln)
    }
    /// Square root.
    pub fn sqrt(&self) -> Result<Var> {
        self.unary(UnaryOp::Sqrt)
    }
    /// `1/sqrt(self)`.
    pub fn rsqrt(&self) -> Result<Var> {
        self.unary(UnaryOp::Rsqrt)
    }
    /// `1/self`.
    pub fn recip(&self) -> Result<Var> {
        self.unary(UnaryOp::Recip)
    }
    /// `|self|`.
    pub fn abs(&self) -> Result<Var> {
        self.unary(UnaryOp::Abs)
    }
    /// `self^2`.
    pub fn square(&self) -> Result<Var> {
        self.unary(UnaryOp::Square)
    }
    /// `max(self, 0)`.
    pub fn relu(&self) -> Result<Var> {
        self.unary(UnaryOp::Relu)
    }
    /// Leaky ReLU with negative slope `slope`.
    pub fn leaky_relu(&self, slope: f64) -> Result<Var> {
        self.unary(UnaryOp::LeakyRelu { slope })
    }
    /// Clamp into `[min, max]`; `None` leaves a side open.
    pub fn clamp(&self, min: Option<f64>, max: Option<f64>) -> Result<Var> {
        self.unary(UnaryOp::Clamp {
            min: min.unwrap_or(f64::NEG_INFINITY),
            max: max.unwrap_or(f64::INFINITY),
        })
    }
    /// `self^exponent`.
    pub fn powf(&self, exponent: f64) -> Result<Var> {
        self.unary(UnaryOp::Powf { exponent })
    }
    /// `self * mul + add`.
    pub fn affine(&self, mul: f64, add: f64) -> Result<Var> {
        self.unary(UnaryOp::Affine { mul, add })
    }
    /// `self + value`.
    pub fn add_scalar(&self, value: f64) -> Result<Var> {
        self.affine(1.0, value)
    }
    /// `self * value`.
    pub fn mul_scalar(&self, value: f64) -> Result<Var> {
        self.affine(value, 0.0)
    }
}
