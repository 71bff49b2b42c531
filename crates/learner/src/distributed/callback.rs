//! [`DataParallel`]: the callback that turns the lesson's loop into data-parallel training.

use std::rc::Rc;

use collective::Collective;

use crate::distributed::{broadcast_module, GradBuckets, DEFAULT_BUCKET_ELEMENTS};
use crate::error::LearnerError;
use crate::runner::{Callback, CbResult, Ctx, Flow};

/// Keeps the model identical on every rank of `comm`:
///
/// * `begin_fit`: broadcasts rank 0's parameters and buffers to every rank (so ranks that
///   initialised or resumed differently start from the same model) and plans the
///   [`GradBuckets`] over the optimiser's parameters;
/// * `after_backward`: averages every gradient over the ranks, bucketed (see
///   [`GradBuckets`]), before any other callback or the optimiser sees it.
///
/// Each rank must run the same steps on its own share of the data (a loader with a
/// [`DistributedSampler`](crate::data::DistributedSampler) and the local batch size)
/// and reduce its epoch figures ([`AvgStats::with_collective`](crate::callbacks::AvgStats::with_collective)).
/// Order -20: before every other callback.
pub struct DataParallel {
    comm: Rc<dyn Collective>,
    cap_elements: usize,
    buckets: Option<GradBuckets>,
    syncs: usize,
}

impl std::fmt::Debug for DataParallel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataParallel")
            .field("rank", &self.comm.rank())
            .field("world_size", &self.comm.world_size())
            .field("buckets", &self.buckets)
            .finish()
    }
}

impl DataParallel {
    /// Data parallelism over `comm` with buckets of [`DEFAULT_BUCKET_ELEMENTS`].
    pub fn new(comm: Rc<dyn Collective>) -> Self {
        DataParallel {
            comm,
            cap_elements: DEFAULT_BUCKET_ELEMENTS,
            buckets: None,
            syncs: 0,
        }
    }

    /// Buckets of at most `cap` elements (0 is refused when the fit starts).
    pub fn with_bucket_elements(mut self, cap: usize) -> Self {
        self.cap_elements = cap;
        self
    }

    /// The bucket plan (after `begin_fit`).
    pub fn buckets(&self) -> Option<&GradBuckets> {
        self.buckets.as_ref()
    }

    /// Gradient averages done so far (one per training step).
    pub fn syncs(&self) -> usize {
        self.syncs
    }
}

impl Callback for DataParallel {
    fn name(&self) -> &'static str {
        "data_parallel"
    }

    fn order(&self) -> i32 {
        -20
    }

    fn begin_fit(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        broadcast_module(self.comm.as_ref(), ctx.learn.model.as_ref(), 0)?;
        self.buckets = Some(GradBuckets::plan(
            ctx.learn.opt.params(),
            self.cap_elements,
        )?);
        Ok(Flow::Continue)
    }

    fn after_backward(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        let buckets = self
            .buckets
            .as_ref()
            .ok_or_else(|| LearnerError::Data("DataParallel ran before begin_fit".into()))?;
        buckets.average(self.comm.as_ref(), ctx.learn.opt.params())?;
        self.syncs += 1;
        Ok(Flow::Continue)
    }
}
