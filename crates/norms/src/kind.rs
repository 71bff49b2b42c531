//! [`NormKind`]: the norm layers by name, for command lines and the model builder
//! (`layers::NormFactory`).

use std::fmt;
use std::str::FromStr;

use layers::{Module, NormFactory};

use crate::{
    BatchNorm, BatchNorm2d, BatchRenorm, GroupNorm, InstanceNorm, InstanceNorm2d, LayerNorm,
    NormError, RunningBatchNorm, TorchLayerNorm,
};

/// Which norm layer a model's `conv_layer`s get.
///
/// Names (`FromStr`/`Display`): `batch-lesson`, `batch`, `layer`, `instance` (eps 1.0, the
/// lesson's) or `instance:EPS`, `group` (4 groups) or `group:GROUPS`, `running-batch`,
/// `batch-renorm`, `layer-pytorch`, `instance-pytorch`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NormKind {
    /// The lesson's [`BatchNorm`].
    BatchLesson,
    /// PyTorch's [`BatchNorm2d`].
    Batch,
    /// The lesson's [`LayerNorm`] (scalar affine; any channel count).
    Layer,
    /// The lesson's [`InstanceNorm`] with this eps.
    Instance { eps: f64 },
    /// PyTorch's [`GroupNorm`] with this many groups.
    Group { groups: usize },
    /// fastai's [`RunningBatchNorm`].
    RunningBatch,
    /// [`BatchRenorm`] (Batch Renormalization), built with `rmax = 1`, `dmax = 0`; a
    /// training schedule relaxes them with [`BatchRenorm::set_clip`].
    BatchRenorm,
    /// PyTorch's LayerNorm ([`TorchLayerNorm`]) over `(C, H, W)`. Its `normalized_shape`
    /// needs the spatial size, which a factory does not get: [`NormKind::factory`] assumes
    /// the lesson's model on 28x28 inputs (stride-2 layers: 14, 7, 4, 2, 1, in the order
    /// the layers are built), [`NormKind::build_spatial`] takes it.
    LayerPytorch,
    /// PyTorch's [`InstanceNorm2d`] with its defaults (no affine, no running statistics;
    /// like PyTorch it refuses a 1x1 map, which the lesson's last layer has).
    InstancePytorch,
}

impl NormKind {
    /// Groups of a plain `group`: 4 divides every width of the lesson's model (8..64).
    pub const DEFAULT_GROUPS: usize = 4;

    /// Every plain name, in the order of the lesson.
    pub const NAMES: [&'static str; 9] = [
        "batch-lesson",
        "batch",
        "layer",
        "instance",
        "group",
        "running-batch",
        "batch-renorm",
        "layer-pytorch",
        "instance-pytorch",
    ];

    /// The input side of the lesson's MNIST model.
    pub const LESSON_INPUT: usize = 28;

    /// The layer for `channels` channels on `side x side` maps (only `layer-pytorch` uses
    /// the side), with its defaults.
    pub fn build_spatial(
        &self,
        channels: usize,
        side: usize,
    ) -> Result<Box<dyn Module>, NormError> {
        match self {
            NormKind::LayerPytorch => Ok(Box::new(TorchLayerNorm::new(&[channels, side, side])?)),
            other => other.build(channels),
        }
    }

    /// The layer for `channels` channels, with its defaults (`layer-pytorch`: on 1x1 maps;
    /// see [`NormKind::build_spatial`]).
    pub fn build(&self, channels: usize) -> Result<Box<dyn Module>, NormError> {
        if channels == 0 {
            return Err(NormError::ZeroChannels {
                norm: self.layer_name(),
            });
        }
        Ok(match *self {
            NormKind::BatchLesson => Box::new(BatchNorm::new(channels)?),
            NormKind::Batch => Box::new(BatchNorm2d::new(channels)?),
            NormKind::Layer => Box::new(LayerNorm::new()?),
            NormKind::Instance { eps } => Box::new(InstanceNorm::with_eps(channels, eps)?),
            NormKind::Group { groups } => Box::new(GroupNorm::new(groups, channels)?),
            NormKind::RunningBatch => Box::new(RunningBatchNorm::new(channels)?),
            NormKind::BatchRenorm => Box::new(BatchRenorm::new(channels)?),
            NormKind::LayerPytorch => Box::new(TorchLayerNorm::new(&[channels, 1, 1])?),
            NormKind::InstancePytorch => Box::new(InstanceNorm2d::new(channels)?),
        })
    }

    /// A factory for `layers::conv_layer` / `get_cnn_model` building this kind.
    /// (`layer-pytorch`: the k-th layer built gets the k-th stride-2 side of a 28x28
    /// input, `ceil(28 / 2^k)`.)
    pub fn factory(self) -> NormFactory {
        let built = std::cell::Cell::new(0u32);
        NormFactory::new(move |nf| {
            let k = built.get() + 1;
            built.set(k);
            let side = Self::LESSON_INPUT.div_ceil(1usize << k.min(20));
            Ok(self.build_spatial(nf, side)?)
        })
    }

    /// The type name of the layer this kind builds.
    pub fn layer_name(&self) -> &'static str {
        match self {
            NormKind::BatchLesson => BatchNorm::NAME,
            NormKind::Batch => BatchNorm2d::NAME,
            NormKind::Layer => LayerNorm::NAME,
            NormKind::Instance { .. } => InstanceNorm::NAME,
            NormKind::Group { .. } => GroupNorm::NAME,
            NormKind::RunningBatch => RunningBatchNorm::NAME,
            NormKind::BatchRenorm => BatchRenorm::NAME,
            NormKind::LayerPytorch => TorchLayerNorm::NAME,
            NormKind::InstancePytorch => InstanceNorm2d::NAME,
        }
    }
}

impl FromStr for NormKind {
    type Err = NormError;

    fn from_str(s: &str) -> Result<Self, NormError> {
        let unknown = || NormError::UnknownKind {
            given: s.to_string(),
        };
        let (name, arg) = match s.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (s, None),
        };
        match (name, arg) {
            ("batch-lesson", None) => Ok(NormKind::BatchLesson),
            ("batch", None) => Ok(NormKind::Batch),
            ("layer", None) => Ok(NormKind::Layer),
            ("running-batch", None) => Ok(NormKind::RunningBatch),
            ("batch-renorm", None) => Ok(NormKind::BatchRenorm),
            ("layer-pytorch", None) => Ok(NormKind::LayerPytorch),
            ("instance-pytorch", None) => Ok(NormKind::InstancePytorch),
            ("instance", None) => Ok(NormKind::Instance {
                eps: InstanceNorm::DEFAULT_EPS,
            }),
            ("instance", Some(a)) => {
                let eps: f64 = a.parse().map_err(|_| unknown())?;
                crate::config::check_eps(InstanceNorm::NAME, eps)?;
                Ok(NormKind::Instance { eps })
            }
            ("group", None) => Ok(NormKind::Group {
                groups: Self::DEFAULT_GROUPS,
            }),
            ("group", Some(a)) => match a.parse::<usize>() {
                Ok(groups) if groups > 0 => Ok(NormKind::Group { groups }),
                _ => Err(unknown()),
            },
            _ => Err(unknown()),
        }
    }
}

impl fmt::Display for NormKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NormKind::BatchLesson => f.write_str("batch-lesson"),
            NormKind::Batch => f.write_str("batch"),
            NormKind::Layer => f.write_str("layer"),
            NormKind::Instance { eps } => write!(f, "instance:{eps}"),
            NormKind::Group { groups } => write!(f, "group:{groups}"),
            NormKind::RunningBatch => f.write_str("running-batch"),
            NormKind::BatchRenorm => f.write_str("batch-renorm"),
            NormKind::LayerPytorch => f.write_str("layer-pytorch"),
            NormKind::InstancePytorch => f.write_str("instance-pytorch"),
        }
    }
}
