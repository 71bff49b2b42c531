//! [`NormConfig`] (eps and momentum) and the checks every layer shares: settings at
//! construction, the input's shape at each forward pass.

use autograd::Var;
use tensor::Dims;

use crate::NormError;

/// The numeric settings of a norm layer.
///
/// * `eps` (inside the square root, `sqrt(var + eps)`): finite and `> 0`.
/// * `momentum`: the weight of a new batch in running averages,
///   `running = lerp(running, batch, momentum) = (1 - momentum) running + momentum batch`;
///   finite and in `[0, 1]`. Layers without running statistics ignore it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NormConfig {
    pub eps: f64,
    pub momentum: f64,
}

impl Default for NormConfig {
    /// `eps = 1e-5`, `momentum = 0.1` (PyTorch's and the lesson's defaults).
    fn default() -> Self {
        NormConfig {
            eps: 1e-5,
            momentum: 0.1,
        }
    }
}

impl NormConfig {
    /// These settings.
    pub fn new(eps: f64, momentum: f64) -> Self {
        NormConfig { eps, momentum }
    }

    /// The same settings with another `eps`.
    pub fn with_eps(self, eps: f64) -> Self {
        NormConfig { eps, ..self }
    }

    /// The same settings with another momentum.
    pub fn with_momentum(self, momentum: f64) -> Self {
        NormConfig { momentum, ..self }
    }

    /// Checks both settings for the layer `norm`.
    pub fn validate(&self, norm: &'static str) -> Result<(), NormError> {
        check_eps(norm, self.eps)?;
        if !(self.momentum.is_finite() && (0.0..=1.0).contains(&self.momentum)) {
            return Err(NormError::InvalidMomentum {
                norm,
                momentum: self.momentum,
            });
        }
        Ok(())
    }
}

/// `eps` must be finite and positive.
pub(crate) fn check_eps(norm: &'static str, eps: f64) -> Result<(), NormError> {
    if eps.is_finite() && eps > 0.0 {
        Ok(())
    } else {
        Err(NormError::InvalidEps { norm, eps })
    }
}

/// A layer needs at least one channel.
pub(crate) fn check_channels(norm: &'static str, channels: usize) -> Result<(), NormError> {
    if channels == 0 {
        Err(NormError::ZeroChannels { norm })
    } else {
        Ok(())
    }
}

/// The input's shape, once it is known to be `[N, C, ...]` with `C` as expected (`None`
/// accepts any channel count). Held inline up to rank 4, so checking allocates nothing.
pub(crate) fn check_input(
    norm: &'static str,
    x: &Var,
    channels: Option<usize>,
) -> Result<Dims, NormError> {
    let shape = x.dims();
    if shape.len() < 2 {
        return Err(NormError::InputRank {
            norm,
            shape: shape.to_vec(),
        });
    }
    match channels {
        Some(expected) if shape[1] != expected => Err(NormError::ChannelMismatch {
            norm,
            expected,
            got: shape[1],
        }),
        _ => Ok(shape),
    }
}

/// The shape `[C, 1, 1]` of the lesson's per-channel parameters (`mults`, `adds`: the
/// seed's `nn.Parameter(torch.ones(nf, 1, 1))`).
pub(crate) fn lesson_param_shape(channels: usize) -> [usize; 3] {
    [channels, 1, 1]
}

/// The per-channel broadcast shape `[1, C, 1, 1]` of the lesson's buffers.
pub(crate) fn channel_shape(channels: usize) -> [usize; 4] {
    [1, channels, 1, 1]
}

/// A new `f32` CPU tensor of `shape` filled with `value` (layers start on the CPU in `f32`;
/// `layers::ModuleExt::to_device` / `to_dtype` move them).
pub(crate) fn filled(shape: &[usize], value: f64) -> Result<tensor::Tensor, NormError> {
    Ok(tensor::Tensor::full(
        shape,
        value,
        tensor::DType::F32,
        tensor::Device::Cpu,
    )?)
}
