//! Weight initialisation, seeded by a caller-provided random generator (reproducible).
//!
//! For a weight of shape `[out, in, k...]` the fan-in is `in * prod(k)`, the number of
//! inputs each output sums over (PyTorch's `fan_in` mode).
//!
//! - Kaiming (He) with negative slope `a` (for a leaky ReLU of that slope; `a = 0` for ReLU):
//!   gain `g = sqrt(2 / (1 + a^2))`; the normal variant draws `N(0, (g / sqrt(fan_in))^2)`,
//!   the uniform variant `U(-g sqrt(3 / fan_in), g sqrt(3 / fan_in))` (same variance,
//!   since `Var U(-b, b) = b^2 / 3`). This keeps the variance of activations roughly
//!   constant through a stack of layers.
//! - PyTorch's default for `Linear` and `Conv2d`: Kaiming-uniform with `a = sqrt(5)`, i.e.
//!   `U(-1/sqrt(fan_in), 1/sqrt(fan_in))` for the weight, and the same bound for the bias.
//! - [`init_cnn`]: the lesson's `init_cnn` — every [`Conv2d`] weight Kaiming with `a = 0.1`,
//!   every conv bias zeroed; other layers keep their initialisation.

use autograd::Var;
use rand::Rng;
use tensor::{Result, Tensor, TensorError};

use crate::conv::Conv2d;
use crate::module::{Module, ModuleExt};

/// Which Kaiming distribution [`init_cnn_with`] draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Kaiming {
    /// `N(0, gain^2 / fan_in)`.
    #[default]
    Normal,
    /// `U(-gain sqrt(3 / fan_in), gain sqrt(3 / fan_in))`.
    Uniform,
}

/// The negative slope `init_cnn` uses, as in the lesson.
pub const INIT_CNN_SLOPE: f64 = 0.1;

/// `fan_in = shape[1] * prod(shape[2..])` of a weight of rank at least 2.
pub fn fan_in(shape: &[usize]) -> Result<usize> {
    if shape.len() < 2 {
        return Err(TensorError::InvalidShape {
            op: "fan_in",
            reason: format!("a weight needs rank >= 2 to have a fan-in, got {shape:?}"),
        });
    }
    let fan = shape[1..].iter().product::<usize>();
    if fan == 0 {
        return Err(TensorError::EmptyDimension {
            op: "fan_in",
            axis: 1,
        });
    }
    Ok(fan)
}

/// The gain of a leaky ReLU with negative slope `a`: `sqrt(2 / (1 + a^2))`.
pub fn kaiming_gain(a: f64) -> Result<f64> {
    if !a.is_finite() {
        return Err(TensorError::InvalidArgument {
            op: "kaiming_gain",
            reason: format!("the negative slope must be finite, got {a}"),
        });
    }
    Ok((2.0 / (1.0 + a * a)).sqrt())
}

/// Standard deviation of Kaiming-normal: `gain(a) / sqrt(fan_in)`.
pub fn kaiming_std(shape: &[usize], a: f64) -> Result<f64> {
    Ok(kaiming_gain(a)? / (fan_in(shape)? as f64).sqrt())
}

/// Bound of Kaiming-uniform: `gain(a) * sqrt(3 / fan_in)`.
pub fn kaiming_bound(shape: &[usize], a: f64) -> Result<f64> {
    Ok(kaiming_gain(a)? * (3.0 / fan_in(shape)? as f64).sqrt())
}

/// Refills `w` with `N(0, gain(a)^2 / fan_in)` samples (dtype and device kept).
pub fn kaiming_normal_<R: Rng + ?Sized>(w: &Var, a: f64, rng: &mut R) -> Result<()> {
    let std = kaiming_std(&w.shape(), a)?;
    normal_(w, 0.0, std, rng)
}

/// Refills `w` with `U(-b, b)` samples, `b = gain(a) sqrt(3 / fan_in)`.
pub fn kaiming_uniform_<R: Rng + ?Sized>(w: &Var, a: f64, rng: &mut R) -> Result<()> {
    let bound = kaiming_bound(&w.shape(), a)?;
    uniform_(w, -bound, bound, rng)
}

/// PyTorch's default initialisation of `Linear` and `Conv2d`: weight and bias from
/// `U(-1/sqrt(fan_in), 1/sqrt(fan_in))`, `fan_in` taken from the weight.
pub fn pytorch_default_<R: Rng + ?Sized>(
    weight: &Var,
    bias: Option<&Var>,
    rng: &mut R,
) -> Result<()> {
    let bound = 1.0 / (fan_in(&weight.shape())? as f64).sqrt();
    uniform_(weight, -bound, bound, rng)?;
    if let Some(b) = bias {
        uniform_(b, -bound, bound, rng)?;
    }
    Ok(())
}

/// Refills `v` with `N(mean, std^2)` samples (dtype and device kept).
pub fn normal_<R: Rng + ?Sized>(v: &Var, mean: f64, std: f64, rng: &mut R) -> Result<()> {
    let (dtype, device) = (v.value_ref().dtype(), v.value_ref().device());
    let t = Tensor::randn(&v.shape(), mean, std, dtype, device, rng)?;
    v.set_value(t);
    Ok(())
}

/// Refills `v` with `U(low, high)` samples (dtype and device kept).
pub fn uniform_<R: Rng + ?Sized>(v: &Var, low: f64, high: f64, rng: &mut R) -> Result<()> {
    let (dtype, device) = (v.value_ref().dtype(), v.value_ref().device());
    let t = Tensor::rand_uniform(&v.shape(), low, high, dtype, device, rng)?;
    v.set_value(t);
    Ok(())
}

/// Sets every element of `v` to zero in place.
pub fn zeros_(v: &Var) -> Result<()> {
    v.update_value(|t| t.fill_(0.0))
}

/// The lesson's `init_cnn` with Kaiming-normal: see [`init_cnn_with`].
pub fn init_cnn<R: Rng + ?Sized>(model: &dyn Module, rng: &mut R) -> Result<usize> {
    init_cnn_with(model, Kaiming::Normal, rng)
}

/// Every [`Conv2d`] in the tree (found by downcasting, in pre-order) gets a Kaiming weight
/// with negative slope [`INIT_CNN_SLOPE`] and a zero bias. Returns how many convolutions
/// were initialised.
pub fn init_cnn_with<R: Rng + ?Sized>(
    model: &dyn Module,
    kind: Kaiming,
    rng: &mut R,
) -> Result<usize> {
    let mut count = 0;
    for (_, m) in model.named_modules() {
        let Some(conv) = m.as_any().downcast_ref::<Conv2d>() else {
            continue;
        };
        match kind {
            Kaiming::Normal => kaiming_normal_(conv.weight(), INIT_CNN_SLOPE, rng)?,
            Kaiming::Uniform => kaiming_uniform_(conv.weight(), INIT_CNN_SLOPE, rng)?,
        }
        if let Some(b) = conv.bias() {
            zeros_(b)?;
        }
        count += 1;
    }
    Ok(count)
}
