//! [`DataLoader`]: batches of a [`Dataset`] in the order of a [`Sampler`]. The last partial
//! batch is kept: 50,000 samples in batches of 512 make 98 batches, the last of 336.
//!
//! Batches are gathered by [`Dataset::gather`] (for tensor datasets, `index_select_rows`
//! on the dataset's device). With [`DataLoader::with_prefetch`], an epoch's batches are
//! gathered on a worker thread one batch ahead of the consumer.

use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;

use tensor::Tensor;

use crate::data::{Dataset, RandomSampler, Sampler, SequentialSampler};
use crate::error::{LearnerError, Result};

/// Batches of a dataset.
#[derive(Clone, Debug)]
pub struct DataLoader {
    ds: Arc<dyn Dataset>,
    sampler: Arc<dyn Sampler>,
    bs: usize,
    max_batches: Option<usize>,
    prefetch: bool,
}

impl DataLoader {
    /// The lesson's loader: batch size `bs`; `shuffle` draws a new seeded order every
    /// epoch ([`RandomSampler`]), else samples come in order ([`SequentialSampler`]).
    pub fn new(ds: impl Dataset + 'static, bs: usize, shuffle: bool, seed: u64) -> Result<Self> {
        if shuffle {
            Self::with_sampler(ds, bs, RandomSampler::new(seed))
        } else {
            Self::with_sampler(ds, bs, SequentialSampler)
        }
    }

    /// A loader visiting `ds` in `sampler`'s order, `bs` samples per batch.
    pub fn with_sampler(
        ds: impl Dataset + 'static,
        bs: usize,
        sampler: impl Sampler + 'static,
    ) -> Result<Self> {
        Self::from_shared(Arc::new(ds), bs, Arc::new(sampler))
    }

    /// As [`DataLoader::with_sampler`], for a dataset and sampler already shared.
    pub fn from_shared(ds: Arc<dyn Dataset>, bs: usize, sampler: Arc<dyn Sampler>) -> Result<Self> {
        if bs == 0 {
            return Err(LearnerError::config("batch size", "must be at least 1"));
        }
        if ds.is_empty() {
            return Err(LearnerError::Data("the dataset is empty".into()));
        }
        if sampler.len(ds.len()) == 0 {
            return Err(LearnerError::Data("the sampler yields no samples".into()));
        }
        Ok(DataLoader {
            ds,
            sampler,
            bs,
            max_batches: None,
            prefetch: false,
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

    /// Gathers each epoch's batches on a worker thread, one batch ahead (`false`: on the
    /// caller's thread, when asked for). Batches and their order are the same either way.
    pub fn with_prefetch(mut self, on: bool) -> Self {
        self.prefetch = on;
        self
    }

    /// The dataset.
    pub fn dataset(&self) -> &dyn Dataset {
        &*self.ds
    }

    /// The sampler.
    pub fn sampler(&self) -> &dyn Sampler {
        &*self.sampler
    }

    /// The batch size.
    pub fn batch_size(&self) -> usize {
        self.bs
    }

    /// Whether each epoch has its own order.
    pub fn shuffles(&self) -> bool {
        self.sampler.shuffles()
    }

    /// Whether batches are gathered ahead on a worker thread.
    pub fn prefetches(&self) -> bool {
        self.prefetch
    }

    /// Number of samples an epoch visits (the sampler's length).
    pub fn samples_per_epoch(&self) -> usize {
        self.sampler.len(self.ds.len())
    }

    /// Number of batches in an epoch: `ceil(samples / bs)`, or the cap if smaller.
    pub fn len(&self) -> usize {
        let full = self.samples_per_epoch().div_ceil(self.bs);
        self.max_batches.map_or(full, |m| m.min(full))
    }

    /// Never true: a loader visits at least one sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Size of batch `i` (the last one may be partial).
    pub fn batch_len(&self, i: usize) -> usize {
        let start = i * self.bs;
        self.bs.min(self.samples_per_epoch().saturating_sub(start))
    }

    /// Writes epoch `epoch`'s sample order into `out` (the sampler's order).
    pub fn order_into(&self, epoch: usize, out: &mut Vec<usize>) -> Result<()> {
        self.sampler.order_into(self.ds.len(), epoch, out)
    }

    /// Batch `i` of an epoch whose order is `order` (from [`DataLoader::order_into`]).
    pub fn batch(&self, order: &[usize], i: usize) -> Result<(Tensor, Tensor)> {
        if order.len() != self.samples_per_epoch() {
            return Err(LearnerError::Data(format!(
                "an order of {} indices for an epoch of {} samples",
                order.len(),
                self.samples_per_epoch()
            )));
        }
        if i >= self.len() {
            return Err(LearnerError::Data(format!(
                "batch {i} of an epoch of {} batches",
                self.len()
            )));
        }
        batch_of(&*self.ds, order, self.bs, i)
    }

    /// The batches of epoch `epoch`, in order. The iterator owns what it needs (it does
    /// not borrow the loader), so a training loop can hold it while mutating the model.
    pub fn iter(&self, epoch: usize) -> Batches {
        let mut order = Vec::new();
        let len = self.len();
        if let Err(e) = self.order_into(epoch, &mut order) {
            return Batches::failed(self.ds.clone(), e, len);
        }
        let ahead = self
            .prefetch
            .then(|| spawn_prefetch(self.ds.clone(), order.clone(), self.bs, len));
        Batches {
            ds: self.ds.clone(),
            order,
            bs: self.bs,
            len,
            next: 0,
            ahead,
            error: None,
        }
    }
}

fn batch_of(ds: &dyn Dataset, order: &[usize], bs: usize, i: usize) -> Result<(Tensor, Tensor)> {
    let start = i * bs;
    let end = (start + bs).min(order.len());
    ds.gather(&order[start..end])
}

type BatchResult = Result<(Tensor, Tensor)>;

/// Gathers batches `0..len` on a worker thread into a channel holding one finished batch;
/// the worker stops when the receiver is dropped.
fn spawn_prefetch(
    ds: Arc<dyn Dataset>,
    order: Vec<usize>,
    bs: usize,
    len: usize,
) -> Receiver<BatchResult> {
    let (tx, rx) = sync_channel(1);
    std::thread::spawn(move || {
        for i in 0..len {
            let b = batch_of(&*ds, &order, bs, i);
            let stop = b.is_err();
            if tx.send(b).is_err() || stop {
                break;
            }
        }
    });
    rx
}

/// One epoch's batches (see [`DataLoader::iter`]).
#[derive(Debug)]
pub struct Batches {
    ds: Arc<dyn Dataset>,
    order: Vec<usize>,
    bs: usize,
    len: usize,
    next: usize,
    ahead: Option<Receiver<BatchResult>>,
    error: Option<LearnerError>,
}

impl Batches {
    fn failed(ds: Arc<dyn Dataset>, e: LearnerError, len: usize) -> Self {
        Batches {
            ds,
            order: Vec::new(),
            bs: 1,
            len,
            next: 0,
            ahead: None,
            error: Some(e),
        }
    }
}

impl Iterator for Batches {
    type Item = BatchResult;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.error.take() {
            self.next = self.len;
            return Some(Err(e));
        }
        if self.next >= self.len {
            return None;
        }
        let i = self.next;
        self.next += 1;
        let b = match &self.ahead {
            Some(rx) => rx.recv().unwrap_or_else(|_| {
                Err(LearnerError::Data("the prefetching thread stopped".into()))
            }),
            None => batch_of(&*self.ds, &self.order, self.bs, i),
        };
        if b.is_err() {
            self.next = self.len;
        }
        Some(b)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.len - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Batches {}
