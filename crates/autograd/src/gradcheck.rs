//! Finite-difference gradient checking, for this crate's tests and for every crate that
//! defines a differentiable op (layers, norms).
//!
//! The function under test maps input vars to an output var `y`. The check reduces `y` to a
//! scalar with fixed pseudo-random weights, `L = sum(r * y)`, so that every entry of the
//! Jacobian takes part, then compares `dL/dx` from [`Var::backward`] with central
//! differences `(L(x + eps e_i) - L(x - eps e_i)) / (2 eps)` for every input element.

use tensor::{DType, Result, Tensor, TensorError};

use crate::{no_grad, Var};

/// Tolerances of a gradient check. Inputs must be `f64`.
#[derive(Clone, Copy, Debug)]
pub struct GradCheck {
    /// Step of the central difference.
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance (times the numeric gradient's magnitude).
    pub rtol: f64,
}

impl Default for GradCheck {
    fn default() -> Self {
        GradCheck {
            eps: 1e-6,
            atol: 1e-6,
            rtol: 1e-4,
        }
    }
}

/// The first disagreement found by a gradient check.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum GradCheckError {
    #[error("input {input}, element {index}: analytic gradient {analytic} but numeric {numeric}")]
    Mismatch {
        input: usize,
        index: usize,
        analytic: f64,
        numeric: f64,
    },
    #[error("input {input} got no gradient although it requires one")]
    MissingGradient { input: usize },
    #[error("gradient check needs f64 inputs; input {input} is {dtype}")]
    NotF64 { input: usize, dtype: DType },
    #[error(transparent)]
    Tensor(#[from] TensorError),
}

/// Deterministic weights in [-1, 1) (a fixed linear congruential sequence).
fn projection(len: usize) -> Vec<f64> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

fn scalar_loss(y: &Var, weights: &Tensor) -> Result<Var> {
    y.mul(&Var::constant(weights.clone()))?.sum_all()
}

impl GradCheck {
    /// Checks the gradients of `f` with respect to every input at `inputs`.
    pub fn run<F>(&self, inputs: &[Tensor], f: F) -> std::result::Result<(), GradCheckError>
    where
        F: Fn(&[Var]) -> Result<Var>,
    {
        for (i, t) in inputs.iter().enumerate() {
            if t.dtype() != DType::F64 {
                return Err(GradCheckError::NotF64 {
                    input: i,
                    dtype: t.dtype(),
                });
            }
        }
        let vars: Vec<Var> = inputs
            .iter()
            .map(|t| Var::parameter(t.deep_clone()))
            .collect();
        let y = f(&vars)?;
        let weights = Tensor::from_vec(
            projection(y.value().numel()),
            &y.shape(),
            y.value().device(),
        )?;
        let loss = scalar_loss(&y, &weights)?;
        loss.backward()?;
        let eval = |xs: &[Tensor]| -> Result<f64> {
            no_grad(|| {
                let vs: Vec<Var> = xs.iter().map(|t| Var::constant(t.clone())).collect();
                scalar_loss(&f(&vs)?, &weights)?.value().to_scalar()
            })
        };
        for (i, v) in vars.iter().enumerate() {
            let analytic = v
                .grad()
                .ok_or(GradCheckError::MissingGradient { input: i })?
                .to_vec::<f64>()?;
            let base = inputs[i].to_vec::<f64>()?;
            for (j, &a) in analytic.iter().enumerate() {
                let mut probe: Vec<Tensor> = inputs.to_vec();
                let mut plus = base.clone();
                plus[j] += self.eps;
                probe[i] = Tensor::from_vec(plus, inputs[i].shape(), inputs[i].device())?;
                let lp = eval(&probe)?;
                let mut minus = base.clone();
                minus[j] -= self.eps;
                probe[i] = Tensor::from_vec(minus, inputs[i].shape(), inputs[i].device())?;
                let lm = eval(&probe)?;
                let numeric = (lp - lm) / (2.0 * self.eps);
                let within = (a - numeric).abs() <= self.atol + self.rtol * numeric.abs();
                // NaN on either side is a mismatch too.
                if !within || a.is_nan() || numeric.is_nan() {
                    return Err(GradCheckError::Mismatch {
                        input: i,
                        index: j,
                        analytic: a,
                        numeric,
                    });
                }
            }
        }
        Ok(())
    }
}
