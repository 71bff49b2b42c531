//! [`Sampler`]s: the order in which a loader visits a dataset's samples, per epoch.
//!
//! * [`SequentialSampler`]: `0..n` every epoch (validation).
//! * [`RandomSampler`]: a seeded permutation per epoch ([`epoch_permutation`]), the
//!   lesson's training order; the same `(seed, epoch)` always gives the same order.
//! * [`ExplicitSampler`]: orders given by the user (e.g. a `torch.randperm` saved to `.npy`),
//!   one for every epoch or one per epoch.
//! * [`DistributedSampler`]: rank `r` of `w` takes every `w`-th index, from `r`, of the
//!   wrapped sampler's order — PyTorch's `DistributedSampler` split: the order is first
//!   padded by repeating its start up to a multiple of `w` (or cut down to one with
//!   `drop_last`), so every rank sees the same number of batches and together the ranks
//!   cover each epoch's permutation.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::error::{LearnerError, Result};

/// The order of indices a loader visits in each epoch.
pub trait Sampler: Send + Sync + fmt::Debug {
    /// Writes epoch `epoch`'s indices into `out` (each `< n`), reusing its allocation.
    fn order_into(&self, n: usize, epoch: usize, out: &mut Vec<usize>) -> Result<()>;

    /// How many indices an epoch has for a dataset of `n` samples.
    fn len(&self, n: usize) -> usize;

    /// Whether different epochs get different orders.
    fn shuffles(&self) -> bool {
        false
    }
}

/// The order of `n` samples in epoch `epoch` of a shuffled loader with this `seed`: a
/// permutation of `0..n` that depends only on `(seed, epoch)`, so a resumed run sees the
/// same batches as an uninterrupted one. Written into `out` (reusing its allocation).
pub fn epoch_permutation(n: usize, seed: u64, epoch: usize, out: &mut Vec<usize>) {
    out.clear();
    out.extend(0..n);
    // Spread (seed, epoch) over the 64-bit seed space (SplitMix64's increment and finaliser)
    // so neighbouring epochs and seeds give unrelated streams.
    let mut z = seed
        ^ (epoch as u64)
            .wrapping_add(1)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let mut rng = StdRng::seed_from_u64(z);
    out.shuffle(&mut rng);
}

/// `0..n`, every epoch.
#[derive(Clone, Copy, Debug, Default)]
pub struct SequentialSampler;

impl Sampler for SequentialSampler {
    fn order_into(&self, n: usize, _epoch: usize, out: &mut Vec<usize>) -> Result<()> {
        out.clear();
        out.extend(0..n);
        Ok(())
    }
    fn len(&self, n: usize) -> usize {
        n
    }
}

/// A new seeded permutation of `0..n` each epoch ([`epoch_permutation`]).
#[derive(Clone, Copy, Debug)]
pub struct RandomSampler {
    seed: u64,
}

impl RandomSampler {
    /// The sampler of `seed`.
    pub fn new(seed: u64) -> Self {
        RandomSampler { seed }
    }
    /// Its seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }
}

impl Sampler for RandomSampler {
    fn order_into(&self, n: usize, epoch: usize, out: &mut Vec<usize>) -> Result<()> {
        epoch_permutation(n, self.seed, epoch, out);
        Ok(())
    }
    fn len(&self, n: usize) -> usize {
        n
    }
    fn shuffles(&self) -> bool {
        true
    }
}

/// Orders given explicitly: epoch `e` uses `orders[e % orders.len()]`. Indices may repeat
/// or leave samples out; each must be below the dataset's length (checked per epoch).
#[derive(Clone, Debug)]
pub struct ExplicitSampler {
    orders: Vec<Vec<usize>>,
}

impl ExplicitSampler {
    /// The same order every epoch.
    pub fn new(order: Vec<usize>) -> Self {
        ExplicitSampler {
            orders: vec![order],
        }
    }

    /// One order per epoch (cycled); all must have the same length.
    pub fn per_epoch(orders: Vec<Vec<usize>>) -> Result<Self> {
        let first = orders
            .first()
            .ok_or_else(|| LearnerError::config("sampler", "no orders given"))?
            .len();
        if let Some((e, o)) = orders.iter().enumerate().find(|(_, o)| o.len() != first) {
            return Err(LearnerError::config(
                "sampler",
                format!(
                    "epoch {e}'s order has {} indices, epoch 0's has {first}",
                    o.len()
                ),
            ));
        }
        Ok(ExplicitSampler { orders })
    }

    /// Orders read from an integer `.npy` file: a vector (one order for every epoch) or a
    /// matrix `[epochs, n]` (row `e` for epoch `e`), e.g. `torch.randperm(n)` saved with
    /// `np.save`.
    pub fn from_npy(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bad = |reason: String| LearnerError::Data(format!("{}: {reason}", path.display()));
        let a = tensor::npy::read_npy(path).map_err(|e| LearnerError::Data(e.to_string()))?;
        let shape = a.shape().to_vec();
        let flat = integer_values(&a).ok_or_else(|| {
            bad(format!(
                "an index order must hold integers, this file holds {}",
                a.dtype_name()
            ))
        })?;
        if let Some(v) = flat.iter().find(|&&v| v < 0) {
            return Err(bad(format!("negative index {v}")));
        }
        let flat: Vec<usize> = flat.into_iter().map(|v| v as usize).collect();
        match shape.as_slice() {
            [_] => Ok(ExplicitSampler::new(flat)),
            [_, n] if *n > 0 => {
                ExplicitSampler::per_epoch(flat.chunks(*n).map(<[usize]>::to_vec).collect())
            }
            _ => Err(bad(format!(
                "an index order must be a vector or an [epochs, n] matrix, not shape {shape:?}"
            ))),
        }
    }

    /// The orders.
    pub fn orders(&self) -> &[Vec<usize>] {
        &self.orders
    }
}

/// The elements of an integer array as `i128`, in logical (row-major) order.
pub(crate) fn integer_values(a: &tensor::npy::NpyArray) -> Option<Vec<i128>> {
    use tensor::npy::NpyArray as A;
    Some(match a {
        A::I8(x) => x.iter().map(|&v| v as i128).collect(),
        A::I16(x) => x.iter().map(|&v| v as i128).collect(),
        A::I32(x) => x.iter().map(|&v| v as i128).collect(),
        A::I64(x) => x.iter().map(|&v| v as i128).collect(),
        A::U8(x) => x.iter().map(|&v| v as i128).collect(),
        A::U16(x) => x.iter().map(|&v| v as i128).collect(),
        A::U32(x) => x.iter().map(|&v| v as i128).collect(),
        A::U64(x) => x.iter().map(|&v| v as i128).collect(),
        _ => return None,
    })
}

impl Sampler for ExplicitSampler {
    fn order_into(&self, n: usize, epoch: usize, out: &mut Vec<usize>) -> Result<()> {
        let order = &self.orders[epoch % self.orders.len()];
        if let Some(&bad) = order.iter().find(|&&i| i >= n) {
            return Err(LearnerError::Data(format!(
                "the sampler's order holds index {bad}, the dataset has {n} samples"
            )));
        }
        out.clear();
        out.extend_from_slice(order);
        Ok(())
    }
    fn len(&self, _n: usize) -> usize {
        self.orders[0].len()
    }
    fn shuffles(&self) -> bool {
        self.orders.len() > 1
    }
}

/// Rank `rank` of `world`'s share of another sampler's order (see the module docs).
#[derive(Clone, Debug)]
pub struct DistributedSampler {
    inner: Arc<dyn Sampler>,
    rank: usize,
    world: usize,
    drop_last: bool,
}

impl DistributedSampler {
    /// The share of `rank` (`< world`) of `inner`'s order; padded like PyTorch's default.
    pub fn new(inner: impl Sampler + 'static, rank: usize, world: usize) -> Result<Self> {
        if world == 0 || rank >= world {
            return Err(LearnerError::config(
                "distributed sampler",
                format!("rank {rank} of a world of {world}"),
            ));
        }
        Ok(DistributedSampler {
            inner: Arc::new(inner),
            rank,
            world,
            drop_last: false,
        })
    }

    /// Cut the order down to a multiple of the world size instead of padding it.
    pub fn drop_last(mut self, drop: bool) -> Self {
        self.drop_last = drop;
        self
    }

    fn total(&self, full: usize) -> usize {
        if self.drop_last {
            full / self.world * self.world
        } else {
            full.div_ceil(self.world) * self.world
        }
    }
}

impl Sampler for DistributedSampler {
    fn order_into(&self, n: usize, epoch: usize, out: &mut Vec<usize>) -> Result<()> {
        let mut full = Vec::new();
        self.inner.order_into(n, epoch, &mut full)?;
        let total = self.total(full.len());
        if full.is_empty() && total > 0 {
            return Err(LearnerError::Data("nothing to share between ranks".into()));
        }
        out.clear();
        out.extend(
            (self.rank..total)
                .step_by(self.world)
                .map(|i| full[i % full.len()]),
        );
        Ok(())
    }
    fn len(&self, n: usize) -> usize {
        self.total(self.inner.len(n)) / self.world
    }
    fn shuffles(&self) -> bool {
        self.inner.shuffles()
    }
}
