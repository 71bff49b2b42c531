//! [`NormKind`]: the norm layers by name, for command lines and the model builder
//! (`layers::NormFactory`).

use std::fmt;
use std::str::FromStr;

use layers::{Module, NormFactory};

use crate::{
    BatchNorm, BatchNorm2d, GroupNorm, InstanceNorm, LayerNorm, NormError, RunningBatchNorm,
};

/// Which norm layer a model's `conv_layer`s get.
///
/// Names (`FromStr`/`Display`): `batch-lesson`, `batch`, `layer`, `instance` (eps 1.0, the
/// lesson's) or `instance:EPS`, `group` (4 groups) or `group:GROUPS`, `running-batch`.
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
}

impl NormKind {
    /// Groups of a plain `group`: 4 divides every width of the lesson's model (8..64).
    pub const DEFAULT_GROUPS: usize = 4;

    /// Every plain name, in the order of the lesson.
    pub const NAMES: [&'static str; 6] = [
        "batch-lesson",
        "batch",
        "layer",
        "instance",
        "group",
        "running-batch",
    ];

    /// The layer for `channels` channels, with its defaults.
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
        })
    }

    /// A factory for `layers::conv_layer` / `get_cnn_model` building this kind.
    pub fn factory(self) -> NormFactory {
        NormFactory::new(move |nf| Ok(self.build(nf)?))
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
        }
    }
}
