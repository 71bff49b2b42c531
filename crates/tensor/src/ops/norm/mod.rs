//! Fused normalisation kernels (statistics, normalise, affine, and their backward passes),
//! shared by every layer of the `norms` crate.
//!
//! # Layout
//!
//! An input of rank `>= 2` is read as `[N, C, S]`, `S` the product of the spatial
//! dimensions, i.e. as `N * C` contiguous *rows* of `S` elements. A [`NormLayout`] groups
//! the rows into *statistic groups* `k`, each of `m` elements:
//!
//! * [`NormLayout::PerChannel`] — one group per channel over `(N, S)`, `m = N S`
//!   (the batch norms); statistics have shape `[C]`.
//! * [`NormLayout::PerGroup`]`{ groups: G }` — one group per sample and block of `C/G`
//!   consecutive channels over `(C/G, S)`, `m = (C/G) S` (LayerNorm is `G = 1`,
//!   InstanceNorm `G = C`, GroupNorm in between); statistics have shape `[N, G]`.
//!
//! # Forward
//!
//! With `mu_k = (1/m) sum_i x_i`, `v_k = sum_i (x_i - mu_k)^2 / d` (`d = m` biased,
//! `d = m - 1` unbiased, see [`Variance`]) and `r_k = 1 / sqrt(v_k + eps)`:
//!
//! `xhat_i = (x_i - mu_k) r_k`, `y_i = xhat_i gamma_c + beta_c`,
//!
//! where `gamma`/`beta` hold one value per channel (`C` elements) or one for all (1 element).
//! Statistics are accumulated in `f64` whatever the element type.
//!
//! # Backward
//!
//! With `g_i = dy_i gamma_c`, and per group `Sg = sum_i g_i`, `Sgx = sum_i g_i xhat_i`:
//!
//! * `dgamma_c = sum_{i in c} dy_i xhat_i`, `dbeta_c = sum_{i in c} dy_i` (summed over
//!   everything for a one-element affine).
//! * `dx_i = g_i r_k + A_k + B_k xhat_i`, with `A`, `B` chosen by [`StatGrad`]:
//!   - `Detached` (statistics are constants): `A = B = 0`.
//!   - `Batch` (gradient through the group's own mean and variance):
//!     `dL/dv = -r^3/2 sum g (x - mu)`, `dv/dx_i = 2 (x_i - mu)/d`, `dL/dmu = -r Sg` (the
//!     variance's own `dmu` term vanishes because `sum (x - mu) = 0`), so
//!     `A = -r Sg / m`, `B = -r Sgx / d`.
//!   - `Running` (fastai's RunningBatchNorm: `mu = S/K`, `v = Q/K - mu^2`, where the
//!     running sums `S`, `Q` hold a weight `w = dS/ds = dQ/dss` of this batch's
//!     `s = sum x`, `ss = sum x^2`, and `share = w / K`). Through `v`:
//!     `Gv = dL/dv = -r^3/2 sum g (x - mu) = -r^2 Sgx / 2` (0 where `v` was clamped);
//!     through `mu`: `Gm = dL/dmu = -r Sg - 2 mu Gv`; then `dL/ds = share Gm`,
//!     `dL/dss = share Gv`, and `ds/dx_i = 1`, `dss/dx_i = 2 x_i` give
//!     `dx_i = g_i r + share Gm + 2 share Gv x_i`. Substituting `x_i = mu + xhat_i / r`
//!     the `mu` terms cancel: `A = -share r Sg`, `B = -share r Sgx` (0 where clamped).
//!     (On a first step the running statistics are the batch's own, `share = 1/m`, and this
//!     is the `Batch(Biased)` gradient wherever no variance is clamped.)
//!
//! # Input
//!
//! A [`NormPlan`] says what is normalised: the input `x` itself ([`NormInput::Identity`])
//! or its ReLU ([`NormInput::Relu`]), `x_i := relu(z_i) = [z_i > 0] z_i` (NaN kept), read
//! from the pre-activation `z` without materialising it: everything above holds with `x`
//! replaced by `relu(z)`, and the backward returns `dz_i = [z_i > 0 or z_i is NaN] dx_i`
//! (the ReLU's derivative as [`crate::BinaryOp::ReluGrad`] gives it). The results are the
//! bits of `relu` followed by the identity-input kernel; the fused form saves the pass
//! that writes `relu(z)` and the one that masks the gradient.

mod api;
mod cpu;
#[cfg(feature = "cuda")]
pub(crate) mod cuda;
mod geometry;
#[cfg(test)]
mod relu_input_tests;
#[cfg(test)]
mod tests;

pub use geometry::NormGeometry;

use crate::{Result, Tensor};

/// How rows are grouped into statistic groups (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NormLayout {
    /// One group per channel, over the batch and spatial dimensions. Statistics `[C]`.
    PerChannel,
    /// One group per sample and block of `C / groups` channels. Statistics `[N, groups]`.
    PerGroup {
        /// Number of channel blocks; must divide the channel count.
        groups: usize,
    },
}

/// What a normalisation reads from its input tensor (see the module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum NormInput {
    /// The input is normalised as it is.
    #[default]
    Identity,
    /// The input is a pre-activation `z`; `relu(z)` is normalised and the input gradient is
    /// `dz = [z > 0 or z is NaN] dx`.
    Relu,
}

impl NormInput {
    /// The value normalised for the stored element `v`: `v`, or `relu(v)` (NaN kept).
    #[inline(always)]
    pub(crate) fn value<T: crate::CpuFloat>(self, v: T) -> T {
        match self {
            NormInput::Identity => v,
            NormInput::Relu => relu(v),
        }
    }

    /// The gradient reaching the stored element `v` from the gradient `g` of its
    /// normalised value: `g`, or `[v > 0 or v is NaN] g`.
    #[inline(always)]
    pub(crate) fn gradient<T: crate::CpuFloat>(self, v: T, g: T) -> T {
        match self {
            NormInput::Identity => g,
            NormInput::Relu => {
                if v <= T::zero() {
                    T::zero()
                } else {
                    g
                }
            }
        }
    }
}

/// `max(v, 0)` with NaN kept, the bits of the elementwise `relu`.
#[inline(always)]
fn relu<T: crate::CpuFloat>(v: T) -> T {
    if v <= T::zero() {
        T::zero()
    } else {
        v
    }
}

/// What a normalisation normalises ([`NormInput`]) and how it groups it ([`NormLayout`]).
/// Every `Tensor` norm method takes one; a bare [`NormLayout`] converts to the plan that
/// normalises the input as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NormPlan {
    /// The statistic groups.
    pub layout: NormLayout,
    /// The input, or its ReLU.
    pub input: NormInput,
}

impl From<NormLayout> for NormPlan {
    fn from(layout: NormLayout) -> Self {
        NormPlan {
            layout,
            input: NormInput::Identity,
        }
    }
}

impl NormLayout {
    /// The plan normalising `input` of an input `x` (`x` itself, or `relu(x)`) with this
    /// layout.
    pub fn with_input(self, input: NormInput) -> NormPlan {
        NormPlan {
            layout: self,
            input,
        }
    }

    /// The plan normalising `relu(x)` of an input `x` with this layout.
    pub fn after_relu(self) -> NormPlan {
        self.with_input(NormInput::Relu)
    }
}

/// Which variance normalises: divide the squared deviations by `m` or by `m - 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variance {
    /// `sum (x - mu)^2 / m` (PyTorch's BatchNorm2d and GroupNorm normalise with it).
    Biased,
    /// `sum (x - mu)^2 / (m - 1)` (`torch.var`'s default, used by the lesson's norms);
    /// `0/0 = NaN` for a one-element group, as in PyTorch.
    Unbiased,
}

impl Variance {
    /// The divisor `d` of the squared deviations of a group of `m` elements.
    pub fn divisor(self, m: usize) -> f64 {
        match self {
            Variance::Biased => m as f64,
            Variance::Unbiased => m as f64 - 1.0,
        }
    }
}

/// Which statistics the input gradient flows through (see the module documentation).
#[derive(Clone, Copy, Debug)]
pub enum StatGrad<'a> {
    /// The statistics are constants: `dx = dy gamma r`.
    Detached,
    /// The statistics are the group's own mean and (this kind of) variance.
    Batch(Variance),
    /// RunningBatchNorm's running statistics (per channel, layout `PerChannel`).
    Running {
        /// `d mean / d (sum x)` = `d var / d (sum x^2)` of this batch: `w / K`, with `w`
        /// the weight of this batch's sums in the (debiased) running sums and `K` the
        /// (debiased) running count.
        share: f64,
        /// Per statistic group, 1 where the variance was used as computed and 0 where it was
        /// clamped (its gradient is then zero); `None` means nothing was clamped.
        var_live: Option<&'a Tensor>,
    },
}

/// Statistics of each group, shaped `[C]` or `[N, G]`.
#[derive(Clone, Debug)]
pub struct NormStats {
    /// `mu_k`.
    pub mean: Tensor,
    /// `v_k` of the requested [`Variance`].
    pub var: Tensor,
    /// `1 / sqrt(v_k + eps)`.
    pub invstd: Tensor,
}

/// The output of a fused normalisation forward pass with the statistics it used.
#[derive(Clone, Debug)]
pub struct NormForward {
    /// `y = xhat gamma + beta`, shaped like the input.
    pub y: Tensor,
    /// The statistics (needed by the backward pass and by running averages).
    pub stats: NormStats,
}

/// Gradients of a fused normalisation.
#[derive(Clone, Debug)]
pub struct NormGrads {
    /// `dL/dx`, shaped like the input.
    pub dx: Tensor,
    /// `dL/dgamma`, shaped like `gamma`.
    pub dscale: Tensor,
    /// `dL/dbeta`, shaped like `beta` (which has `gamma`'s shape).
    pub dshift: Tensor,
}

/// Normalisation kernels a backend provides. Arguments are validated by the callers (the
/// `Tensor` methods in this module): one device and dtype; statistics with
/// [`NormGeometry::stat_count`] elements; `scale`/`shift` with `C` or 1 elements.
pub trait NormOps {
    /// Mean, variance and inverse standard deviation of every statistic group.
    fn norm_stats(
        &self,
        g: &NormGeometry,
        x: &Tensor,
        variance: Variance,
        eps: f64,
    ) -> Result<NormStats>;

    /// `(sum x, sum x^2)` of every statistic group (RunningBatchNorm's batch sums).
    fn norm_power_sums(&self, g: &NormGeometry, x: &Tensor) -> Result<(Tensor, Tensor)>;

    /// `y_i = (x_i - mean_k) invstd_k gamma_c + beta_c`.
    fn norm_apply(
        &self,
        g: &NormGeometry,
        x: &Tensor,
        mean: &Tensor,
        invstd: &Tensor,
        scale: &Tensor,
        shift: &Tensor,
    ) -> Result<Tensor>;

    /// `(dx, dgamma, dbeta)` of [`NormOps::norm_apply`] given its output gradient `dy`, with
    /// the input gradient through the statistics as `grad` says.
    fn norm_backward(
        &self,
        g: &NormGeometry,
        x: &Tensor,
        dy: &Tensor,
        mean: &Tensor,
        invstd: &Tensor,
        scale: &Tensor,
        grad: StatGrad<'_>,
    ) -> Result<NormGrads>;
}
