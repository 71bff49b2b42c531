//! [`NormError`]: everything a norm layer refuses, and its conversion to
//! [`tensor::TensorError`] (the error type of [`layers::Module::forward`] and of
//! `layers::NormFactory`).

use std::fmt;

use tensor::TensorError;

/// A refused configuration or input of a norm layer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NormError {
    /// A layer needs at least one channel.
    ZeroChannels { norm: &'static str },
    /// `eps` must be finite and positive.
    InvalidEps { norm: &'static str, eps: f64 },
    /// The momentum must be a finite number in `[0, 1]`.
    InvalidMomentum { norm: &'static str, momentum: f64 },
    /// `GroupNorm`'s groups must be at least 1 and divide the channels.
    GroupsMustDivideChannels {
        norm: &'static str,
        groups: usize,
        channels: usize,
    },
    /// The input is not `[N, C, ...]`.
    InputRank {
        norm: &'static str,
        shape: Vec<usize>,
    },
    /// The input's channel count differs from the layer's.
    ChannelMismatch {
        norm: &'static str,
        expected: usize,
        got: usize,
    },
    /// RunningBatchNorm's training step needs a batch of at least 2:
    /// `mom1 = 1 - (1 - mom)/sqrt(bs - 1)` divides by zero at `bs = 1`.
    BatchTooSmall { norm: &'static str, batch: usize },
    /// BatchNorm2d's training step needs more than one value per channel (PyTorch refuses
    /// it too: the unbiased running variance would divide by zero).
    TooFewValues {
        norm: &'static str,
        shape: Vec<usize>,
    },
    /// Batch Renormalization's clipping bounds: `rmax >= 1` and `dmax >= 0`, both finite.
    InvalidClip {
        norm: &'static str,
        rmax: f64,
        dmax: f64,
    },
    /// A `normalized_shape` that is empty or holds a zero.
    InvalidNormalizedShape {
        norm: &'static str,
        shape: Vec<usize>,
    },
    /// The input's trailing dimensions differ from the layer's `normalized_shape`.
    NormalizedShapeMismatch {
        norm: &'static str,
        expected: Vec<usize>,
        got: Vec<usize>,
    },
    /// The input's rank is not one the layer accepts (`BatchNorm1d`: 2 or 3).
    UnsupportedRank {
        norm: &'static str,
        expected: &'static str,
        shape: Vec<usize>,
    },
    /// An option the layer does not implement (e.g. converting a BatchNorm2d without
    /// `affine` into a SyncBatchNorm, which implements PyTorch's defaults only).
    UnsupportedOption {
        norm: &'static str,
        option: &'static str,
    },
    /// A norm name that [`crate::NormKind`] does not know.
    UnknownKind { given: String },
    /// A tensor operation failed.
    Tensor(TensorError),
}

impl NormError {
    /// The layer the error comes from (`"NormKind"` for parse errors, `"tensor"` for
    /// wrapped tensor errors).
    pub fn norm(&self) -> &'static str {
        match self {
            NormError::ZeroChannels { norm }
            | NormError::InvalidEps { norm, .. }
            | NormError::InvalidMomentum { norm, .. }
            | NormError::GroupsMustDivideChannels { norm, .. }
            | NormError::InputRank { norm, .. }
            | NormError::ChannelMismatch { norm, .. }
            | NormError::BatchTooSmall { norm, .. }
            | NormError::TooFewValues { norm, .. }
            | NormError::InvalidClip { norm, .. }
            | NormError::InvalidNormalizedShape { norm, .. }
            | NormError::NormalizedShapeMismatch { norm, .. }
            | NormError::UnsupportedRank { norm, .. }
            | NormError::UnsupportedOption { norm, .. } => norm,
            NormError::UnknownKind { .. } => "NormKind",
            NormError::Tensor(_) => "tensor",
        }
    }

    /// The message without the layer name.
    fn detail(&self) -> String {
        match self {
            NormError::ZeroChannels { .. } => "the channel count must be at least 1".to_string(),
            NormError::InvalidEps { eps, .. } => format!("eps must be finite and > 0, got {eps}"),
            NormError::InvalidMomentum { momentum, .. } => {
                format!("momentum must be in [0, 1], got {momentum}")
            }
            NormError::GroupsMustDivideChannels {
                groups, channels, ..
            } => format!("{groups} groups do not divide {channels} channels"),
            NormError::InputRank { shape, .. } => {
                format!("expected an input [N, C, ...] of rank >= 2, got shape {shape:?}")
            }
            NormError::ChannelMismatch { expected, got, .. } => {
                format!("expected {expected} channels, got {got}")
            }
            NormError::BatchTooSmall { batch, .. } => format!(
                "training needs a batch of at least 2 (mom1 = 1 - (1 - mom)/sqrt(bs - 1) \
                 divides by zero at bs = 1), got {batch}"
            ),
            NormError::TooFewValues { shape, .. } => {
                format!("training needs more than 1 value per channel, got input shape {shape:?}")
            }
            NormError::InvalidClip { rmax, dmax, .. } => format!(
                "clipping bounds need finite rmax >= 1 and dmax >= 0, got rmax {rmax}, dmax {dmax}"
            ),
            NormError::InvalidNormalizedShape { shape, .. } => {
                format!("normalized_shape must be non-empty without zeros, got {shape:?}")
            }
            NormError::NormalizedShapeMismatch { expected, got, .. } => format!(
                "the input's last dimensions must be normalized_shape {expected:?}, got input shape {got:?}"
            ),
            NormError::UnsupportedRank {
                expected, shape, ..
            } => format!("expected an input {expected}, got shape {shape:?}"),
            NormError::UnsupportedOption { option, .. } => {
                format!("the option {option} is not supported")
            }
            NormError::UnknownKind { given } => format!(
                "unknown norm `{given}`; expected batch-lesson, batch, layer, instance[:EPS], \
                 group[:GROUPS], running-batch, batch-renorm, layer-pytorch or instance-pytorch"
            ),
            NormError::Tensor(e) => e.to_string(),
        }
    }
}

impl fmt::Display for NormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NormError::Tensor(e) => e.fmt(f),
            other => write!(f, "{}: {}", other.norm(), other.detail()),
        }
    }
}

impl From<TensorError> for NormError {
    fn from(e: TensorError) -> Self {
        NormError::Tensor(e)
    }
}

impl From<NormError> for TensorError {
    /// Shape problems become [`TensorError::InvalidShape`], bad settings
    /// [`TensorError::InvalidArgument`], both with the layer's name as the op.
    fn from(e: NormError) -> Self {
        let op = e.norm();
        match e {
            NormError::Tensor(t) => t,
            NormError::InputRank { .. }
            | NormError::ChannelMismatch { .. }
            | NormError::BatchTooSmall { .. }
            | NormError::TooFewValues { .. }
            | NormError::NormalizedShapeMismatch { .. }
            | NormError::UnsupportedRank { .. } => TensorError::InvalidShape {
                op,
                reason: e.detail(),
            },
            _ => TensorError::InvalidArgument {
                op,
                reason: e.detail(),
            },
        }
    }
}
