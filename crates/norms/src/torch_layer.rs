//! [`TorchLayerNorm`]: PyTorch's `nn.LayerNorm(normalized_shape, eps, elementwise_affine,
//! bias)`, beside the lesson's [`crate::LayerNorm`] (which keeps its scalar affine and
//! unbiased variance).
//!
//! For an input whose last `k` dimensions equal `normalized_shape` (`M` elements), each of
//! the `R` leading positions is one group of `M` values, the same in training and eval:
//! `mu = mean x`, `s2 = sum (x - mu)^2 / M` (biased), `xhat = (x - mu) / sqrt(s2 + eps)`,
//! `y = xhat weight + bias` with *per-element* `weight` (1) and `bias` (0) of shape
//! `normalized_shape`. Backward (gradient through `mu` and `s2`), `g = dy weight`:
//! `dx = (g - mean g - xhat mean(g xhat)) / sqrt(s2 + eps)` per group,
//! `dweight = sum_R dy xhat`, `dbias = sum_R dy`.
//!
//! The fused kernels normalise per (sample, channel block) with a per-channel affine, so
//! the input is viewed as `[R, M, 1]`: one sample per group, its `M` elements as channels,
//! one group (`NormLayout::PerGroup { groups: 1 }`); the per-element affine is then the
//! per-channel one and the layer runs on every device the kernels run on.

use autograd::Var;
use layers::{Forward, Module, ModuleCore};
use tensor::{NormLayout, Result, Variance};

use crate::config::{check_eps, filled};
use crate::fused::normalize_batch;
use crate::torch_core::scale_shift;
use crate::NormError;

/// PyTorch's LayerNorm: with `elementwise_affine`, parameter `weight` (1) and, with `bias`,
/// `bias` (0), both of shape `normalized_shape`; no buffers. `f32` on the CPU until moved.
#[derive(Debug, Module)]
pub struct TorchLayerNorm {
    normalized_shape: Vec<usize>,
    eps: f64,
    #[param]
    weight: Option<Var>,
    #[param]
    bias: Option<Var>,
    core: ModuleCore,
}

impl TorchLayerNorm {
    /// The layer's name in errors and descriptions.
    pub const NAME: &'static str = "TorchLayerNorm";
    /// PyTorch's default eps.
    pub const DEFAULT_EPS: f64 = 1e-5;

    /// `nn.LayerNorm(normalized_shape)`: `eps = 1e-5`, affine weight and bias.
    pub fn new(normalized_shape: &[usize]) -> std::result::Result<Self, NormError> {
        Self::with_options(normalized_shape, Self::DEFAULT_EPS, true, true)
    }

    /// `nn.LayerNorm(normalized_shape, eps, elementwise_affine, bias)` (`bias` only matters
    /// with `elementwise_affine`, as in PyTorch). `normalized_shape` must be non-empty
    /// without zeros.
    pub fn with_options(
        normalized_shape: &[usize],
        eps: f64,
        elementwise_affine: bool,
        bias: bool,
    ) -> std::result::Result<Self, NormError> {
        if normalized_shape.is_empty() || normalized_shape.contains(&0) {
            return Err(NormError::InvalidNormalizedShape {
                norm: Self::NAME,
                shape: normalized_shape.to_vec(),
            });
        }
        check_eps(Self::NAME, eps)?;
        let param = |v| -> std::result::Result<Var, NormError> {
            Ok(Var::parameter(filled(normalized_shape, v)?))
        };
        Ok(TorchLayerNorm {
            normalized_shape: normalized_shape.to_vec(),
            eps,
            weight: elementwise_affine.then(|| param(1.0)).transpose()?,
            bias: (elementwise_affine && bias)
                .then(|| param(0.0))
                .transpose()?,
            core: ModuleCore::default(),
        })
    }

    /// `normalized_shape`.
    pub fn normalized_shape(&self) -> &[usize] {
        &self.normalized_shape
    }
    /// eps.
    pub fn eps(&self) -> f64 {
        self.eps
    }
    /// The per-element scale (with `elementwise_affine`).
    pub fn weight(&self) -> Option<&Var> {
        self.weight.as_ref()
    }
    /// The per-element shift (with `elementwise_affine` and `bias`).
    pub fn bias(&self) -> Option<&Var> {
        self.bias.as_ref()
    }
}

impl Forward for TorchLayerNorm {
    fn forward(&self, x: &Var) -> Result<Var> {
        let shape = x.shape();
        let k = self.normalized_shape.len();
        if shape.len() < k || shape[shape.len() - k..] != self.normalized_shape[..] {
            return Err(NormError::NormalizedShapeMismatch {
                norm: Self::NAME,
                expected: self.normalized_shape.clone(),
                got: shape,
            }
            .into());
        }
        let m: usize = self.normalized_shape.iter().product();
        let rows: usize = shape[..shape.len() - k].iter().product();
        let flat = |v: &Var| v.reshape(&[m]);
        let weight = self.weight.as_ref().map(flat).transpose()?;
        let bias = self.bias.as_ref().map(flat).transpose()?;
        let (scale, shift) = scale_shift(x, weight.as_ref(), bias.as_ref())?;
        let xr = x.reshape(&[rows, m, 1])?;
        let layout = NormLayout::PerGroup { groups: 1 };
        let (y, _) = normalize_batch(
            &xr,
            &scale,
            &shift,
            layout,
            Variance::Biased,
            self.eps,
            true,
        )?;
        y.reshape(&shape)
    }

    fn describe(&self) -> String {
        format!(
            "TorchLayerNorm({:?}, eps={}, elementwise_affine={}, bias={})",
            self.normalized_shape,
            self.eps,
            self.weight.is_some(),
            self.bias.is_some()
        )
    }
}
