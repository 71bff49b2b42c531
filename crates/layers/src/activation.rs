//! [`GeneralRelu`]: the course's generalised ReLU.
//!
//! `y = min(f(x) - sub, maxv)` with `f(x) = x` for `x > 0` and `f(x) = leak x` otherwise
//! (`leak = 0`, plain ReLU, when no leak is given); a missing `sub` subtracts nothing and a
//! missing `maxv` clamps nothing. The derivative is `f'(x) = 1` or `leak`, times
//! `[f(x) - sub <= maxv]`.

use autograd::Var;
use tensor::{Result, TensorError};

use crate::{Forward, Module, ModuleCore};

/// Leaky ReLU (or ReLU), then a shift down by `sub`, then a clamp at `maxv`.
#[derive(Debug, Default, Module)]
pub struct GeneralRelu {
    leak: Option<f64>,
    sub: Option<f64>,
    maxv: Option<f64>,
    core: ModuleCore,
}

impl GeneralRelu {
    /// A generalised ReLU; every given value must be finite.
    pub fn new(leak: Option<f64>, sub: Option<f64>, maxv: Option<f64>) -> Result<Self> {
        for (what, v) in [("leak", leak), ("sub", sub), ("maxv", maxv)] {
            if let Some(v) = v.filter(|v| !v.is_finite()) {
                return Err(TensorError::InvalidArgument {
                    op: "GeneralRelu::new",
                    reason: format!("{what} must be finite, got {v}"),
                });
            }
        }
        Ok(GeneralRelu {
            leak,
            sub,
            maxv,
            ..GeneralRelu::default()
        })
    }

    /// Plain ReLU, `max(x, 0)` (what the lesson uses).
    pub fn relu() -> Self {
        GeneralRelu::default()
    }

    /// True for plain ReLU: no leak, no shift, no clamp.
    pub fn is_plain_relu(&self) -> bool {
        self.leak.is_none() && self.sub.is_none() && self.maxv.is_none()
    }

    /// The negative slope, if leaky.
    pub fn leak(&self) -> Option<f64> {
        self.leak
    }

    /// The shift subtracted after the activation.
    pub fn sub(&self) -> Option<f64> {
        self.sub
    }

    /// The clamp's upper bound.
    pub fn maxv(&self) -> Option<f64> {
        self.maxv
    }
}

impl Forward for GeneralRelu {
    fn forward(&self, x: &Var) -> Result<Var> {
        let mut y = match self.leak {
            Some(slope) => x.leaky_relu(slope)?,
            None => x.relu()?,
        };
        if let Some(sub) = self.sub {
            y = y.add_scalar(-sub)?;
        }
        if let Some(maxv) = self.maxv {
            y = y.clamp(None, Some(maxv))?;
        }
        Ok(y)
    }

    fn describe(&self) -> String {
        let show = |v: Option<f64>| v.map_or("None".to_string(), |v| v.to_string());
        format!(
            "GeneralRelu(leak={}, sub={}, maxv={})",
            show(self.leak),
            show(self.sub),
            show(self.maxv)
        )
    }
}
