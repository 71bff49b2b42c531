//! [`Sgd`]: `p -= lr * grad`, optionally with momentum and (L2) weight decay, updating every
//! parameter in one pass with in-place kernels (no allocation after the first step).
//!
//! With momentum `mom` and weight decay `wd` (PyTorch's `torch.optim.SGD` without dampening
//! or Nesterov):
//!
//! ```text
//! g   = grad + wd * p
//! buf = mom * buf + g          (buf = g on the first step)
//! p   = p - lr * buf
//! ```
//!
//! Without momentum this is one fused update, `p = (1 - lr*wd) * p - lr * grad`.

use autograd::Var;
use serde::{Deserialize, Serialize};
use tensor::Tensor;

use crate::error::{LearnerError, Result};

/// The names [`Sgd::hyper`] and [`Sgd::set_hyper`] accept: learning rate, momentum, weight
/// decay.
pub const HYPER_NAMES: [&str; 3] = ["lr", "mom", "wd"];

/// Stochastic gradient descent over a fixed list of parameters.
#[derive(Debug)]
pub struct Sgd {
    params: Vec<Var>,
    lr: f64,
    mom: f64,
    wd: f64,
    buffers: Vec<Option<Tensor>>,
    steps: usize,
}

/// The optimiser's scalar state, as saved in a checkpoint (momentum buffers are tensors and
/// saved beside the model).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SgdState {
    /// Learning rate.
    pub lr: f64,
    /// Momentum.
    pub mom: f64,
    /// Weight decay.
    pub wd: f64,
    /// Steps taken so far.
    pub steps: usize,
}

fn check_hyper(name: &str, value: f64) -> Result<f64> {
    let bad = |reason| {
        Err(LearnerError::InvalidHyper {
            name: name.to_string(),
            value,
            reason,
        })
    };
    if !value.is_finite() {
        return bad("it must be finite");
    }
    match name {
        "lr" if value < 0.0 => bad("a learning rate must be >= 0"),
        "mom" if !(0.0..1.0).contains(&value) => bad("momentum must be in [0, 1)"),
        "wd" if value < 0.0 => bad("weight decay must be >= 0"),
        "lr" | "mom" | "wd" => Ok(value),
        _ => Err(LearnerError::UnknownHyper {
            name: name.to_string(),
            known: HYPER_NAMES.join(", "),
        }),
    }
}

impl Sgd {
    /// Plain SGD with learning rate `lr` (finite, `>= 0`).
    pub fn new(params: Vec<Var>, lr: f64) -> Result<Self> {
        let lr = check_hyper("lr", lr)?;
        let n = params.len();
        Ok(Sgd {
            params,
            lr,
            mom: 0.0,
            wd: 0.0,
            buffers: vec![None; n],
            steps: 0,
        })
    }

    /// Adds momentum `mom` in `[0, 1)`.
    pub fn with_momentum(mut self, mom: f64) -> Result<Self> {
        self.set_hyper("mom", mom)?;
        Ok(self)
    }

    /// Adds weight decay `wd >= 0`.
    pub fn with_weight_decay(mut self, wd: f64) -> Result<Self> {
        self.set_hyper("wd", wd)?;
        Ok(self)
    }

    /// The parameters it updates.
    pub fn params(&self) -> &[Var] {
        &self.params
    }

    /// The learning rate.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// Steps taken.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// A hyper-parameter by name (`lr`, `mom`, `wd`).
    pub fn hyper(&self, name: &str) -> Result<f64> {
        match name {
            "lr" => Ok(self.lr),
            "mom" => Ok(self.mom),
            "wd" => Ok(self.wd),
            _ => Err(LearnerError::UnknownHyper {
                name: name.to_string(),
                known: HYPER_NAMES.join(", "),
            }),
        }
    }

    /// Sets a hyper-parameter by name, refusing impossible values (NaN, a negative
    /// learning rate, momentum outside `[0, 1)`, negative weight decay).
    pub fn set_hyper(&mut self, name: &str, value: f64) -> Result<()> {
        let value = check_hyper(name, value)?;
        match name {
            "lr" => self.lr = value,
            "mom" => self.mom = value,
            _ => self.wd = value,
        }
        Ok(())
    }

    /// One update of every parameter that has a gradient; parameters without one (not
    /// reached by the last backward pass) are left alone.
    pub fn step(&mut self) -> Result<()> {
        let (lr, mom, wd) = (self.lr, self.mom, self.wd);
        for (p, buf) in self.params.iter().zip(self.buffers.iter_mut()) {
            let Some(g) = p.grad() else { continue };
            if mom == 0.0 {
                p.update_value(|t| t.axpby_(&g, -lr, 1.0 - lr * wd))?;
                continue;
            }
            let b = match buf {
                Some(b) => {
                    b.axpby_(&g, 1.0, mom)?;
                    b
                }
                None => buf.insert(g.deep_clone()),
            };
            if wd != 0.0 {
                // L2 decay enters the buffer like a gradient term.
                p.update_value(|t| b.add_scaled_(t, wd))?;
            }
            p.update_value(|t| t.add_scaled_(b, -lr))?;
        }
        self.steps += 1;
        Ok(())
    }

    /// Clears every parameter's gradient.
    pub fn zero_grad(&self) {
        for p in &self.params {
            p.zero_grad();
        }
    }

    /// The scalar state for a checkpoint.
    pub fn state(&self) -> SgdState {
        SgdState {
            lr: self.lr,
            mom: self.mom,
            wd: self.wd,
            steps: self.steps,
        }
    }

    /// Restores the scalar state from a checkpoint (values are validated).
    pub fn load_state(&mut self, state: &SgdState) -> Result<()> {
        self.set_hyper("lr", state.lr)?;
        self.set_hyper("mom", state.mom)?;
        self.set_hyper("wd", state.wd)?;
        self.steps = state.steps;
        Ok(())
    }

    /// The momentum buffers, one per parameter (`None` before the first step or without
    /// momentum).
    pub fn momentum_buffers(&self) -> &[Option<Tensor>] {
        &self.buffers
    }

    /// Replaces the momentum buffers (from a checkpoint); shapes must match the parameters.
    pub fn set_momentum_buffers(&mut self, buffers: Vec<Option<Tensor>>) -> Result<()> {
        if buffers.len() != self.params.len() {
            return Err(LearnerError::Data(format!(
                "{} momentum buffers for {} parameters",
                buffers.len(),
                self.params.len()
            )));
        }
        for (p, b) in self.params.iter().zip(&buffers) {
            if let Some(b) = b {
                p.value_ref().check_same_shape("set_momentum_buffers", b)?;
            }
        }
        self.buffers = buffers;
        Ok(())
    }
}
