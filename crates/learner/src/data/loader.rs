//! [`DataLoader`]: batches of a [`Dataset`], gathered with `index_select_rows` on the
//! dataset's device, in a seeded random order per epoch (training) or in order
//! (validation). The last partial batch is kept: 50,000 samples in batches of 512 make 98
//! batches, the last of 336.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use tensor::Tensor;

use crate::data::Dataset;
use crate::distributed::DistributedSampler;
use crate::error::{LearnerError, Result};

/// Batches of a dataset.
#[derive(Clone, Debug)]
pub struct DataLoader {
    ds: Dataset,
    bs: usize,
    shuffle: bool,
    seed: u64,
    max_batches: Option<usize>,
    shard: Option<DistributedSampler>,
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

impl DataLoader {
    /// A loader with batch size `bs`; `shuffle` draws a new seeded order every epoch.
    pub fn new(ds: Dataset, bs: usize, shuffle: bool, seed: u64) -> Result<Self> {
        if bs == 0 {
            return Err(LearnerError::config("batch size", "must be at least 1"));
        }
        if ds.is_empty() {
            return Err(LearnerError::Data("the dataset is empty".into()));
        }
        Ok(DataLoader {
            ds,
            bs,
            shuffle,
            seed,
            max_batches: None,
            shard: None,
        })
    }

    /// Caps the number of batches per epoch (`None` for all of them): smoke runs and timed
    /// benchmarks use the first `n` batches of each epoch's order.
    pub fn with_max_batches(mut self, n: Option<usize>) -> Result<Self> {
        if n == Some(0) {
            return Err(LearnerError::config("maximum steps", "must be at least 1"));
        }
        self.max_batches = n;
        Ok(self)
    }

    /// Keeps only one rank's strided share of every epoch's order (data-parallel training;
    /// see [`DistributedSampler`]): batches of `bs` are cut from the share, so `bs` is the
    /// local batch size.
    pub fn with_shard(mut self, shard: DistributedSampler) -> Self {
        self.shard = Some(shard);
        self
    }

    /// The rank's share, if the loader is sharded.
    pub fn shard(&self) -> Option<DistributedSampler> {
        self.shard
    }

    /// Samples in an epoch's order: the dataset's, or this rank's share of it.
    fn order_len(&self) -> usize {
        self.shard
            .map_or(self.ds.len(), |s| s.local_len(self.ds.len()))
    }

    /// The dataset.
    pub fn dataset(&self) -> &Dataset {
        &self.ds
    }

    /// The batch size.
    pub fn batch_size(&self) -> usize {
        self.bs
    }

    /// Whether each epoch has its own random order.
    pub fn shuffles(&self) -> bool {
        self.shuffle
    }

    /// Number of batches in an epoch: `ceil(n / bs)`, or the cap if smaller.
    pub fn len(&self) -> usize {
        let full = self.order_len().div_ceil(self.bs);
        self.max_batches.map_or(full, |m| m.min(full))
    }

    /// Never true: a loader holds at least one sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Size of batch `i` (the last one may be partial).
    pub fn batch_len(&self, i: usize) -> usize {
        let start = i * self.bs;
        self.bs.min(self.order_len().saturating_sub(start))
    }

    /// Writes epoch `epoch`'s sample order into `out`: a seeded permutation when shuffling,
    /// else `0..n`; with a shard, this rank's share of it.
    pub fn order_into(&self, epoch: usize, out: &mut Vec<usize>) {
        if self.shuffle {
            epoch_permutation(self.ds.len(), self.seed, epoch, out);
        } else {
            out.clear();
            out.extend(0..self.ds.len());
        }
        if let Some(shard) = self.shard {
            let full = std::mem::take(out);
            shard.shard_into(&full, out);
        }
    }

    /// Batch `i` of an epoch whose order is `order` (from [`DataLoader::order_into`]).
    pub fn batch(&self, order: &[usize], i: usize) -> Result<(Tensor, Tensor)> {
        if order.len() != self.order_len() {
            return Err(LearnerError::Data(format!(
                "an order of {} indices for {} samples",
                order.len(),
                self.order_len()
            )));
        }
        if i >= self.len() {
            return Err(LearnerError::Data(format!(
                "batch {i} of an epoch of {} batches",
                self.len()
            )));
        }
        let start = i * self.bs;
        let end = (start + self.bs).min(order.len());
        self.ds.gather(&order[start..end])
    }

    /// The batches of epoch `epoch`, in order.
    pub fn iter(&self, epoch: usize) -> Batches<'_> {
        let mut order = Vec::new();
        self.order_into(epoch, &mut order);
        Batches {
            loader: self,
            order,
            next: 0,
        }
    }
}

/// Iterator over one epoch's batches (see [`DataLoader::iter`]).
#[derive(Debug)]
pub struct Batches<'a> {
    loader: &'a DataLoader,
    order: Vec<usize>,
    next: usize,
}

impl Iterator for Batches<'_> {
    type Item = Result<(Tensor, Tensor)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.loader.len() {
            return None;
        }
        let i = self.next;
        self.next += 1;
        Some(self.loader.batch(&self.order, i))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.loader.len() - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Batches<'_> {}
