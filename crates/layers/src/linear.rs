//! [`Linear`]: an affine map over the last axis, `y = x W^T + b`.
//!
//! With `x: [..., in]` viewed as `X: [m, in]`, weight `W: [out, in]` and bias `b: [out]`:
//! `Y = X W^T + b` (`[m, out]`, the bias broadcast over rows). One fused autograd node with
//! the vector-Jacobian products, for the output gradient `G: [m, out]`:
//!
//! - `dX = G W`       (`[m, in]`)
//! - `dW = G^T X`     (`[out, in]`)
//! - `db = sum_rows G` (`[out]`)
//!
//! The transposes are flags of `Tensor::matmul_t`, never copies.

use autograd::Var;
use rand::Rng;
use tensor::{DType, Device, Result, Tensor, TensorError};

use crate::init::pytorch_default_;
use crate::{Forward, Module, ModuleCore};

/// A fully connected layer: weight `[out, in]`, optional bias `[out]`.
#[derive(Debug, Module)]
pub struct Linear {
    #[param]
    weight: Var,
    #[param]
    bias: Option<Var>,
    core: ModuleCore,
}

impl Linear {
    /// An `f32` layer from `in_features` to `out_features` with a bias and PyTorch's default
    /// initialisation: weight and bias from `U(-1/sqrt(in), 1/sqrt(in))`.
    pub fn new<R: Rng + ?Sized>(
        in_features: usize,
        out_features: usize,
        rng: &mut R,
    ) -> Result<Self> {
        if in_features == 0 || out_features == 0 {
            return Err(TensorError::InvalidArgument {
                op: "Linear::new",
                reason: format!("features must be at least 1, got {in_features} -> {out_features}"),
            });
        }
        let weight = Var::parameter(Tensor::zeros(
            &[out_features, in_features],
            DType::F32,
            Device::Cpu,
        )?);
        let bias = Var::parameter(Tensor::zeros(&[out_features], DType::F32, Device::Cpu)?);
        pytorch_default_(&weight, Some(&bias), rng)?;
        Self::from_parts(weight, Some(bias))
    }

    /// A layer around existing parameters (shared, not copied): `weight: [out, in]` and
    /// `bias: [out]` with the weight's dtype and device.
    pub fn from_parts(weight: Var, bias: Option<Var>) -> Result<Self> {
        let shape = weight.shape();
        if shape.len() != 2 || shape.contains(&0) {
            return Err(TensorError::InvalidShape {
                op: "Linear",
                reason: format!("the weight must be a non-empty [out, in], got {shape:?}"),
            });
        }
        if let Some(b) = &bias {
            weight
                .value_ref()
                .check_compatible("Linear", &b.value_ref())?;
            if b.shape() != [shape[0]] {
                return Err(TensorError::ShapeMismatch {
                    op: "Linear bias",
                    lhs: b.shape(),
                    rhs: vec![shape[0]],
                });
            }
        }
        Ok(Linear {
            weight,
            bias,
            core: ModuleCore::default(),
        })
    }

    /// The weight `[out, in]`.
    pub fn weight(&self) -> &Var {
        &self.weight
    }

    /// The bias `[out]`, if any.
    pub fn bias(&self) -> Option<&Var> {
        self.bias.as_ref()
    }

    /// `in`.
    pub fn in_features(&self) -> usize {
        self.weight.shape()[1]
    }

    /// `out`.
    pub fn out_features(&self) -> usize {
        self.weight.shape()[0]
    }
}

/// The fused `x W^T + b` node (see the module docs for its backward pass).
fn linear(x: &Var, w: &Var, b: Option<&Var>) -> Result<Var> {
    let (xv, wv) = (x.value(), w.value());
    let x_shape = xv.shape().to_vec();
    let (out_f, in_f) = (wv.shape()[0], wv.shape()[1]);
    if x_shape.last() != Some(&in_f) {
        return Err(TensorError::InvalidShape {
            op: "Linear",
            reason: format!("expected input [..., {in_f}], got {x_shape:?}"),
        });
    }
    let rows = x_shape[..x_shape.len() - 1].iter().product::<usize>();
    let x2 = xv.reshape(&[rows, in_f])?;
    let mut y2 = x2.matmul_t(&wv, false, true)?;
    if let Some(b) = b {
        y2 = y2.add(&b.value_ref())?;
    }
    let mut y_shape = x_shape.clone();
    *y_shape.last_mut().expect("rank >= 1 checked above") = out_f;
    let y = y2.reshape(&y_shape)?;

    let (need_x, need_w) = (x.requires_grad(), w.requires_grad());
    let need_b = b.is_some_and(|b| b.requires_grad());
    let with_bias = b.is_some();
    let mut inputs = vec![x, w];
    inputs.extend(b);
    Ok(Var::from_fn(y, &inputs, "linear", move |g| {
        let g2 = g.reshape(&[rows, out_f])?;
        let mut grads = vec![
            if need_x {
                Some(g2.matmul(&wv)?.reshape(&x_shape)?)
            } else {
                None
            },
            if need_w {
                Some(g2.matmul_t(&x2, true, false)?)
            } else {
                None
            },
        ];
        if with_bias {
            grads.push(if need_b {
                Some(g2.sum(&[0], false)?)
            } else {
                None
            });
        }
        Ok(grads)
    }))
}

impl Forward for Linear {
    /// `x: [..., in] -> [..., out]`.
    fn forward(&self, x: &Var) -> Result<Var> {
        linear(x, &self.weight, self.bias.as_ref())
    }

    fn describe(&self) -> String {
        format!(
            "Linear({}, {}, bias={})",
            self.in_features(),
            self.out_features(),
            self.bias.is_some()
        )
    }
}
