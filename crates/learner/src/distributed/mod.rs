//! Data-parallel training: one process per rank, each on its share of every batch, over a
//! [`collective::Collective`] (MPI between processes; [`collective::SingleProcess`] is the
//! world of one, where everything here is a no-op).
//!
//! What each rank does, and why the ranks stay identical:
//!
//! 1. Every rank draws the same seeded permutation and trains on its strided share
//!    ([`DistributedSampler`](crate::data::DistributedSampler), put behind a loader's
//!    sampler with [`DataLoader::distributed`](crate::DataLoader::distributed)), at the
//!    local batch size `B / w` for a global batch `B`: local batch `i` of all ranks
//!    together is global batch `i` of one process at batch size `B`.
//! 2. At the start of `fit`, rank 0's parameters and buffers are broadcast
//!    ([`broadcast_module`]).
//! 3. After each backward pass, gradients are averaged over the ranks in a few large
//!    all-reduces ([`GradBuckets`]); every rank then takes the same optimiser step.
//! 4. Epoch figures are summed over the ranks before they are divided
//!    ([`AvgStats::with_collective`](crate::callbacks::AvgStats::with_collective)), so every
//!    rank reports the figures of the whole epoch.
//! 5. Only rank 0 writes reports and checkpoints (the caller adds those callbacks on rank 0
//!    only; checkpoints are written atomically); a resumed run loads the checkpoint on every
//!    rank and must use the same world size (the sharding depends on it).
//!
//! 6. A rank that stops (a NaN in its share, a cancelling callback) stops every rank after
//!    the same batch ([`StopVote`]); a rank that fails with an error must end the job (MPI's
//!    abort, [`collective::Collective::abort`]) so that no rank waits for it.
//!
//! [`DataParallel`] is the callback doing 2 and 3. Norm layers whose statistics must span
//! the ranks (SyncBatchNorm) take the same communicator.

mod broadcast;
mod buckets;
mod callback;
mod flat;
mod stop;

pub use broadcast::{broadcast_module, broadcast_vars};
pub use buckets::{GradBuckets, DEFAULT_BUCKET_ELEMENTS};
pub use callback::DataParallel;
pub use stop::{RemoteStop, StopVote};
