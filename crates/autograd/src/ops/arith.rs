//! Broadcasting binary arithmetic. With `g` the output gradient and `sum_to` the adjoint of
//! broadcasting: `d(a+b) = (g, g)`, `d(a-b) = (g, -g)`, `d(ab) = (g b, g a)`,
//! `d(a/b) = (g/b, -g a/b^2)`, `d(a^b) = (g b a^(b-1), g a^b ln a)`,
//! `d max(a,b) = (g [a>=b], g [a<b])`, `d min(a,b) = (g [a<=b], g [a>b])`.

use tensor::{BinaryOp, Result, Tensor};

use crate::Var;

fn reduce_to(g: Tensor, shape: &[usize]) -> Result<Option<Tensor>> {
    Ok(Some(g.sum_to_shape(shape)?))
}

impl Var {
    fn binary_op(&self, other: &Var, op: BinaryOp, name: &'static str) -> Result<Var> {
        let (a, b) = (self.value(), other.value());
        let out = a.binary(op, &b)?;
        let (need_a, need_b) = (self.requires_grad(), other.requires_grad());
        let saved_out = out.clone();
        Ok(Var::from_fn(out, &[self, other], name, move |g| {
            let (sa, sb) = (a.shape(), b.shape());
            let (ga, gb) = match op {
                BinaryOp::Add => (g.clone(), g.clone()),
                BinaryOp::Sub => (g.clone(), g.neg()?),
                BinaryOp::Mul => (
                    if need_a { g.mul(&b)? } else { g.clone() },
                    if need_b { g.mul(&a)? } else { g.clone() },
                ),
                BinaryOp::Div => (
                    if need_a { g.div(&b)? } else { g.clone() },
                    if need_b {
                        g.mul(&saved_out)?.div(&b)?.neg()?
                    } else {
                        g.clone()
                    },
                ),
                BinaryOp::Pow => (
                    if need_a {
                        g.mul(&b)?.mul(&a.pow(&b.add_scalar(-1.0)?)?)?
                    } else {
                        g.clone()
                    },
                    if need_b {
                        g.mul(&saved_out)?.mul(&a.ln()?)?
                    } else {
                        g.clone()
                    },
                ),
                BinaryOp::Maximum => (g.mul(&a.ge(&b)?)?, g.mul(&a.lt(&b)?)?),
                BinaryOp::Minimum => (g.mul(&a.le(&b)?)?, g.mul(&a.gt(&b)?)?),
                other => {
                    return Err(tensor::TensorError::InvalidArgument {
                        op: "backward",
                        reason: format!("{other:?} is not differentiable"),
                    })
                }
            };
            Ok(vec![
                if need_a { reduce_to(ga, sa)? } else { None },
                if need_b { reduce_to(gb, sb)? } else { None },
            ])
        }))
    }

    /// `self + other`, broadcasting.
    pub fn add(&self, other: &Var) -> Result<Var> {
        self.binary_op(other, BinaryOp::Add, "add")
    }
    /// `self - other`, broadcasting.
    pub fn sub(&self, other: &Var) -> Result<Var> {
        self.binary_op(other, BinaryOp::Sub, "sub")
    }
    /// `self * other`, broadcasting.
    pub fn mul(&self, other: &Var) -> Result<Var> {
        self.binary_op(other, BinaryOp::Mul, "mul")
    }
    /// `self / other`, broadcasting.
    pub fn div(&self, other: &Var) -> Result<Var> {
        self.binary_op(other, BinaryOp::Div, "div")
    }
    /// `self ^ other`, broadcasting.
    pub fn pow(&self, other: &Var) -> Result<Var> {
        self.binary_op(other, BinaryOp::Pow, "pow")
    }
    /// Elementwise maximum (ties send the gradient to `self`).
    pub fn maximum(&self, other: &Var) -> Result<Var> {
        self.binary_op(other, BinaryOp::Maximum, "maximum")
    }
    /// Elementwise minimum (ties send the gradient to `self`).
    pub fn minimum(&self, other: &Var) -> Result<Var> {
        self.binary_op(other, BinaryOp::Minimum, "minimum")
    }
}
