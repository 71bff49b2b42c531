//! [`NormGeometry`]: an input shape read as `N * C` rows of `S` elements, and which rows
//! form each statistic group, with what is normalised (the input or its ReLU).

use smallvec::{smallvec, SmallVec};

use super::{NormInput, NormLayout, NormPlan};
use crate::{Result, TensorError};

/// A validated normalisation input shape `[N, C, spatial...]` under a [`NormPlan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NormGeometry {
    batch: usize,
    channels: usize,
    spatial: usize,
    layout: NormLayout,
    input: NormInput,
}

impl NormGeometry {
    /// Checks that `shape` has rank `>= 2` and no empty dimension, and that the groups of
    /// `layout` divide the channels.
    pub fn new(op: &'static str, shape: &[usize], plan: impl Into<NormPlan>) -> Result<Self> {
        let NormPlan { layout, input } = plan.into();
        if shape.len() < 2 {
            return Err(TensorError::InvalidShape {
                op,
                reason: format!("expected [N, C, ...] (rank >= 2), got {shape:?}"),
            });
        }
        if let Some(axis) = shape.iter().position(|&d| d == 0) {
            return Err(TensorError::EmptyDimension { op, axis });
        }
        let channels = shape[1];
        if let NormLayout::PerGroup { groups } = layout {
            if groups == 0 || !channels.is_multiple_of(groups) {
                return Err(TensorError::InvalidArgument {
                    op,
                    reason: format!("{groups} groups do not divide {channels} channels"),
                });
            }
        }
        Ok(NormGeometry {
            batch: shape[0],
            channels,
            spatial: shape[2..].iter().product(),
            layout,
            input,
        })
    }

    /// `N`.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// `C`.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// `S`, the product of the spatial dimensions (1 for a rank-2 input): the row length.
    pub fn spatial(&self) -> usize {
        self.spatial
    }

    /// The grouping.
    pub fn layout(&self) -> NormLayout {
        self.layout
    }

    /// What is normalised: the input, or its ReLU.
    pub fn input(&self) -> NormInput {
        self.input
    }

    /// This geometry normalising the input as it is (for a backend that composes the
    /// ReLU-input form from `relu` and the identity-input kernels).
    pub fn with_identity_input(&self) -> Self {
        NormGeometry {
            input: NormInput::Identity,
            ..*self
        }
    }

    /// Number of rows, `N * C`.
    pub fn rows(&self) -> usize {
        self.batch * self.channels
    }

    /// Number of elements, `N * C * S`.
    pub fn numel(&self) -> usize {
        self.rows() * self.spatial
    }

    /// Number of statistic groups: `C`, or `N * G`.
    pub fn stat_count(&self) -> usize {
        match self.layout {
            NormLayout::PerChannel => self.channels,
            NormLayout::PerGroup { groups } => self.batch * groups,
        }
    }

    /// The shape of a statistics tensor: `[C]`, or `[N, G]` (held inline).
    pub fn stat_shape(&self) -> SmallVec<[usize; 2]> {
        match self.layout {
            NormLayout::PerChannel => smallvec![self.channels],
            NormLayout::PerGroup { groups } => smallvec![self.batch, groups],
        }
    }

    /// `m`, the number of elements in one statistic group.
    pub fn group_len(&self) -> usize {
        self.numel() / self.stat_count()
    }

    /// Channels per group (1 for a per-channel layout).
    fn channels_per_group(&self) -> usize {
        match self.layout {
            NormLayout::PerChannel => 1,
            NormLayout::PerGroup { groups } => self.channels / groups,
        }
    }

    /// The statistic group of row `r = n C + c`: `c`, or `n G + c / (C/G)` (= `r / (C/G)`).
    #[inline]
    pub fn stat_of_row(&self, row: usize) -> usize {
        match self.layout {
            NormLayout::PerChannel => row % self.channels,
            NormLayout::PerGroup { .. } => row / self.channels_per_group(),
        }
    }

    /// The rows of statistic group `k`: `k, k + C, ...` (`N` rows) per channel, or the
    /// `C/G` consecutive rows from `k (C/G)` per group.
    pub fn rows_of(&self, k: usize) -> impl Iterator<Item = usize> + Clone {
        let (start, stride, len) = match self.layout {
            NormLayout::PerChannel => (k, self.channels, self.batch),
            NormLayout::PerGroup { .. } => {
                let cpg = self.channels_per_group();
                (k * cpg, 1, cpg)
            }
        };
        (0..len).map(move |i| start + i * stride)
    }
}
