//! [`SyncBatchNorm`]: batch normalisation whose statistics span every rank of a
//! data-parallel job, with PyTorch's `nn.SyncBatchNorm` semantics, and
//! [`SyncBatchNorm::factory`], which builds the lesson's model with it; [`crate::convert_sync_batchnorm`]
//! swaps it into an existing model.
//!
//! Rank `r` holds `m_r = N_r H W` values of channel `c`; the job holds `M = sum_r m_r`.
//!
//! **Forward (training).** Each rank takes its per-channel power sums `s_c = sum x`,
//! `q_c = sum x^2` from the fused norm kernel ([`tensor::Tensor::norm_power_sums`]) and adds
//! them, with its count, over the ranks in *one* all-reduce of `[s (C), q (C), m]` in `f64`.
//! Then `mu_c = S_c / M`, `s2_c = max(Q_c / M - mu_c^2, 0)` (the *biased* variance of the whole
//! job's batch), `r_c = 1/sqrt(s2_c + eps)` and `y = (x - mu_c) r_c weight_c + bias_c`
//! ([`tensor::Tensor::norm_apply`]). Running buffers move exactly as BatchNorm2d's, with the
//! global count: `running_mean = lerp(running_mean, mu, momentum)`,
//! `running_var = lerp(running_var, s2 M/(M - 1), momentum)`, `num_batches_tracked += 1`
//! (`M < 2` is refused on every rank alike).
//!
//! **Backward.** With `xhat = (x - mu) r` and `g = dy weight`, BatchNorm's input gradient over
//! the whole job's batch is `dx = r g - r weight (Sdy + xhat Sdyx) / M`, where
//! `Sdy_c = sum dy` and `Sdyx_c = sum dy xhat` run over *all* ranks' values. These two sums are
//! exactly the local `dbias` and `dweight` of the fused backward kernel with detached
//! statistics ([`tensor::Tensor::norm_backward`] with `StatGrad::Detached`, which also gives
//! the first term `r g`); one all-reduce of `[dbias (C), dweight (C)]` in `f64` makes them
//! global, and the correction `xhat B_c + A_c` with `A_c = -r weight Sdy / M`,
//! `B_c = -r weight Sdyx / M` is one more `norm_apply`. The parameter gradients returned are
//! the *local* sums `sum dy xhat`, `sum dy` (as PyTorch's): averaging them over the ranks is
//! the data-parallel gradient averaging's job, which then gives the gradient of the mean loss
//! over the global batch.
//!
//! **One process.** With a world of one rank (e.g. [`collective::SingleProcess`]) the layer
//! runs BatchNorm2d's own code path (two-pass statistics, the fused backward through the
//! statistics), so it *is* BatchNorm2d, bit for bit, with the same parameter and buffer names
//! and state dict. Eval mode uses the running buffers and communicates nothing.
//!
//! Every rank must run the same sequence of training forward and backward passes through
//! its SyncBatchNorm layers (the all-reduces are collective calls).

use std::rc::Rc;

use autograd::Var;
use collective::Collective;
use layers::{Forward, Module, ModuleCore, NormFactory};
use tensor::{Dims, NormLayout, Result, StatGrad, Tensor, TensorError, Variance};

use crate::config::{check_channels, check_input, filled};
use crate::fused::{normalize_batch, normalize_with, StatFlow};
use crate::{BatchNorm2d, NormConfig, NormError};

/// The communicator of a [`SyncBatchNorm`] (shown by rank and world size).
#[derive(Clone)]
pub struct SharedCollective(pub Rc<dyn Collective>);

impl std::fmt::Debug for SharedCollective {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "rank {} of {}", self.0.rank(), self.0.world_size())
    }
}

/// PyTorch's SyncBatchNorm (see the module documentation). Parameters `weight` (1) and
/// `bias` (0), buffers `running_mean` (0), `running_var` (1) and `num_batches_tracked`, as
/// [`BatchNorm2d`]'s.
#[derive(Debug, Module)]
pub struct SyncBatchNorm {
    channels: usize,
    config: NormConfig,
    comm: SharedCollective,
    #[param]
    weight: Var,
    #[param]
    bias: Var,
    #[buffer]
    running_mean: Var,
    #[buffer]
    running_var: Var,
    #[buffer(int64)]
    num_batches_tracked: Var,
    core: ModuleCore,
}

/// Maps a collective failure into the tensor error the forward pass returns.
fn comm_err(e: collective::CollectiveError) -> TensorError {
    TensorError::InvalidArgument {
        op: "SyncBatchNorm",
        reason: format!("collective: {e}"),
    }
}

impl SyncBatchNorm {
    /// The layer's name in errors and descriptions.
    pub const NAME: &'static str = "SyncBatchNorm";

    /// `nn.SyncBatchNorm(nf)` over `comm`: `eps = 1e-5`, `momentum = 0.1`.
    pub fn new(channels: usize, comm: Rc<dyn Collective>) -> std::result::Result<Self, NormError> {
        Self::with_config(channels, NormConfig::default(), comm)
    }

    /// `nn.SyncBatchNorm(nf, eps, momentum)` over `comm`.
    pub fn with_config(
        channels: usize,
        config: NormConfig,
        comm: Rc<dyn Collective>,
    ) -> std::result::Result<Self, NormError> {
        check_channels(Self::NAME, channels)?;
        config.validate(Self::NAME)?;
        Ok(SyncBatchNorm {
            channels,
            config,
            comm: SharedCollective(comm),
            weight: Var::parameter(filled(&[channels], 1.0)?),
            bias: Var::parameter(filled(&[channels], 0.0)?),
            running_mean: Var::constant(filled(&[channels], 0.0)?),
            running_var: Var::constant(filled(&[channels], 1.0)?),
            num_batches_tracked: Var::constant(filled(&[], 0.0)?),
            core: ModuleCore::default(),
        })
    }

    /// The synchronised version of `bn`, sharing its parameters and buffers (the same
    /// [`Var`]s: an optimiser built over `bn`'s parameters keeps training them) and its mode.
    ///
    /// SyncBatchNorm implements PyTorch's default options only: `bn` must have `affine`,
    /// `track_running_stats` and a fixed momentum, else [`NormError::UnsupportedOption`].
    pub fn from_batch_norm(
        bn: &BatchNorm2d,
        comm: Rc<dyn Collective>,
    ) -> std::result::Result<Self, NormError> {
        let o = bn.options();
        let unsupported = |option| NormError::UnsupportedOption {
            norm: Self::NAME,
            option,
        };
        let momentum = o.momentum.ok_or(unsupported("momentum=None"))?;
        let slot = |v: Option<&Var>, option| v.cloned().ok_or(unsupported(option));
        let layer = SyncBatchNorm {
            channels: bn.channels(),
            config: NormConfig {
                eps: o.eps,
                momentum,
            },
            comm: SharedCollective(comm),
            weight: slot(bn.weight(), "affine=false")?,
            bias: slot(bn.bias(), "affine=false")?,
            running_mean: slot(bn.running_mean(), "track_running_stats=false")?,
            running_var: slot(bn.running_var(), "track_running_stats=false")?,
            num_batches_tracked: slot(bn.num_batches_tracked(), "track_running_stats=false")?,
            core: ModuleCore::default(),
        };
        layer.set_training(bn.is_training());
        Ok(layer)
    }

    /// A [`NormFactory`] building `SyncBatchNorm(nf)` layers over `comm`: the lesson's model
    /// with it (`get_cnn_model(nfs, &SyncBatchNorm::factory(comm), rng)`) draws the same
    /// initialisation as with BatchNorm2d and has the same state dict.
    pub fn factory(comm: Rc<dyn Collective>) -> NormFactory {
        NormFactory::new(move |nf| {
            Ok(Box::new(SyncBatchNorm::new(nf, comm.clone())?) as Box<dyn Module>)
        })
    }

    /// `C`.
    pub fn channels(&self) -> usize {
        self.channels
    }
    /// eps and momentum.
    pub fn config(&self) -> NormConfig {
        self.config
    }
    /// The communicator.
    pub fn collective(&self) -> &Rc<dyn Collective> {
        &self.comm.0
    }
    /// The scale parameter `[C]`.
    pub fn weight(&self) -> &Var {
        &self.weight
    }
    /// The shift parameter `[C]`.
    pub fn bias(&self) -> &Var {
        &self.bias
    }
    /// The running mean `[C]`.
    pub fn running_mean(&self) -> &Var {
        &self.running_mean
    }
    /// The running unbiased variance `[C]`.
    pub fn running_var(&self) -> &Var {
        &self.running_var
    }
    /// The number of training forward passes `[]`.
    pub fn num_batches_tracked(&self) -> &Var {
        &self.num_batches_tracked
    }

    /// Moves the running buffers towards this batch's `mean` and biased `var` over `m`
    /// values, as BatchNorm2d does.
    fn update_running(&self, mean: &Tensor, var: &Tensor, m: f64) -> Result<()> {
        let momentum = self.config.momentum;
        let unbiased = var.mul_scalar(m / (m - 1.0))?;
        self.running_mean
            .update_value(|t| t.lerp_(mean, momentum))?;
        self.running_var
            .update_value(|t| t.lerp_(&unbiased, momentum))?;
        self.num_batches_tracked.update_value(|t| -> Result<()> {
            *t = t.add_scalar(1.0)?;
            Ok(())
        })
    }

    /// The training forward pass over the whole job (see the module documentation).
    fn forward_sync(&self, x: &Var, shape: Dims) -> Result<Var> {
        let c = self.channels;
        let comm = self.comm.0.clone();
        let xv = x.value();
        let (dtype, device) = (xv.dtype(), xv.device());
        let m_local = shape[0] * shape[2..].iter().product::<usize>();
        let (s, q) = xv.norm_power_sums(NormLayout::PerChannel)?;
        let mut packed = s.to_vec_f64()?;
        packed.extend(q.to_vec_f64()?);
        packed.push(m_local as f64);
        comm.all_reduce_sum_f64(&mut packed).map_err(comm_err)?;
        let m = packed[2 * c];
        if m < 2.0 {
            return Err(NormError::TooFewValues {
                norm: Self::NAME,
                shape: shape.to_vec(),
            }
            .into());
        }
        let mean: Vec<f64> = packed[..c].iter().map(|s| s / m).collect();
        let var: Vec<f64> = (0..c)
            .map(|k| (packed[c + k] / m - mean[k] * mean[k]).max(0.0))
            .collect();
        let invstd: Vec<f64> = var
            .iter()
            .map(|v| 1.0 / (v + self.config.eps).sqrt())
            .collect();
        let to_t = move |v: &[f64]| -> Result<Tensor> {
            Tensor::from_slice(v, &[c], device)?.to_dtype(dtype)
        };
        let (mean_t, var_t, invstd_t) = (to_t(&mean)?, to_t(&var)?, to_t(&invstd)?);
        let (w, b) = (self.weight.value(), self.bias.value());
        let y = xv.norm_apply(NormLayout::PerChannel, &mean_t, &invstd_t, &w, &b)?;
        self.update_running(&mean_t, &var_t, m)?;
        let need = [
            x.requires_grad(),
            self.weight.requires_grad(),
            self.bias.requires_grad(),
        ];
        let out = Var::from_fn(
            y,
            &[x, &self.weight, &self.bias],
            "sync_batch_norm",
            move |dy| {
                let layout = NormLayout::PerChannel;
                let g = xv.norm_backward(dy, layout, &mean_t, &invstd_t, &w, StatGrad::Detached)?;
                // g.dshift = sum dy, g.dscale = sum dy xhat (this rank's): make them global.
                let mut sums = g.dshift.to_vec_f64()?;
                sums.extend(g.dscale.to_vec_f64()?);
                comm.all_reduce_sum_f64(&mut sums).map_err(comm_err)?;
                let wv = w.to_vec_f64()?;
                let weight_of = |k: usize| if wv.len() == 1 { wv[0] } else { wv[k] };
                let a: Vec<f64> = (0..c)
                    .map(|k| -invstd[k] * weight_of(k) * sums[k] / m)
                    .collect();
                let bcoef: Vec<f64> = (0..c)
                    .map(|k| -invstd[k] * weight_of(k) * sums[c + k] / m)
                    .collect();
                let dx = if need[0] {
                    let (a, bcoef) = (to_t(&a)?, to_t(&bcoef)?);
                    let corr = xv.norm_apply(layout, &mean_t, &invstd_t, &bcoef, &a)?;
                    Some(g.dx.add(&corr)?)
                } else {
                    None
                };
                Ok(vec![
                    dx,
                    need[1].then_some(g.dscale),
                    need[2].then_some(g.dshift),
                ])
            },
        );
        Ok(out)
    }
}

impl Forward for SyncBatchNorm {
    fn forward(&self, x: &Var) -> Result<Var> {
        let shape = check_input(Self::NAME, x, Some(self.channels))?;
        let eps = self.config.eps;
        let layout = NormLayout::PerChannel;
        if !self.is_training() {
            let invstd = self.running_var.value().add_scalar(eps)?.rsqrt()?;
            let mean = self.running_mean.value();
            return normalize_with(
                x,
                &self.weight,
                &self.bias,
                layout,
                &mean,
                &invstd,
                StatFlow::Detached,
            );
        }
        if self.comm.0.world_size() > 1 {
            return self.forward_sync(x, shape);
        }
        // One rank: BatchNorm2d's own path.
        let m = shape[0] * shape[2..].iter().product::<usize>();
        if m < 2 {
            return Err(NormError::TooFewValues {
                norm: Self::NAME,
                shape: shape.to_vec(),
            }
            .into());
        }
        let (y, stats) = normalize_batch(
            x,
            &self.weight,
            &self.bias,
            layout,
            Variance::Biased,
            eps,
            true,
        )?;
        self.update_running(&stats.mean, &stats.var, m as f64)?;
        Ok(y)
    }

    fn describe(&self) -> String {
        format!(
            "SyncBatchNorm({}, eps={}, momentum={}, world_size={})",
            self.channels,
            self.config.eps,
            self.config.momentum,
            self.comm.0.world_size()
        )
    }
}
