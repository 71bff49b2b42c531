//! [`StopVote`]: the ranks of a data-parallel job stop together.
//!
//! Each rank decides locally to stop training: `NonFiniteGuard` sees a NaN in *its* share's
//! activations or loss, another callback cancels. A rank that leaves the loop alone leaves
//! the others blocked in their next collective call (the SyncBatchNorm statistics, the
//! gradient average), for ever. So every rank casts a vote at each *checkpoint* of the loop
//! (`after_loss` of every batch, `begin_validate`, `after_epoch`), one all-reduce of one
//! `f64`, `v_r = 0` to go on:
//!
//! * a healthy rank votes `0` at the checkpoint (its callback runs after the others, order
//!   10); when the sum `V = sum_r v_r` is positive, `V` ranks have stopped and this one
//!   cancels training too (`Flow::CancelTrain`), remembering why ([`StopVote::stopped_by`]);
//! * a rank whose own callbacks cancel at that checkpoint never reaches its vote there (a
//!   cancelling callback ends the event), so it votes `1` from `after_cancel_train`,
//!   which is the same collective call, in sequence, as the others' vote.
//!
//! A rank that votes `1` at the checkpoint where the others vote `0` thus ends the fit on
//! every rank after the same batch. When all ranks cancel alike (the same deterministic
//! decision), all vote `1` at the same point and no one is blamed. A rank that fails with an
//! error (rather than cancelling) casts no vote: the caller must end the job (e.g.
//! `MPI_Abort`, as `xtask train` does) so that nobody waits for it.

use std::rc::Rc;

use collective::Collective;

use crate::runner::{Callback, CbResult, Ctx, Flow};

/// Why this rank stopped though its own callbacks did not ask to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteStop {
    /// How many ranks stopped.
    pub ranks: usize,
    /// The epoch and batch index (within the phase) at which they stopped.
    pub epoch: usize,
    /// The batch index, or `None` at an epoch boundary.
    pub iter: Option<usize>,
    /// The world size.
    pub world: usize,
}

impl std::fmt::Display for RemoteStop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of {} ranks stopped training (epoch {}",
            self.ranks, self.world, self.epoch
        )?;
        if let Some(i) = self.iter {
            write!(f, ", batch {i}")?;
        }
        write!(
            f,
            "), so this rank stopped too; see the other ranks' messages"
        )
    }
}

/// The stop vote (see the module documentation). Order 10: after every other callback of
/// the lesson's loop has had its say at the same event.
pub struct StopVote {
    comm: Rc<dyn Collective>,
    /// Whether the fit's end has been agreed (no more votes).
    settled: bool,
    stopped_by: Option<RemoteStop>,
    votes: usize,
}

impl std::fmt::Debug for StopVote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StopVote")
            .field("rank", &self.comm.rank())
            .field("votes", &self.votes)
            .field("stopped_by", &self.stopped_by)
            .finish()
    }
}

impl StopVote {
    /// Votes over `comm`.
    pub fn new(comm: Rc<dyn Collective>) -> Self {
        StopVote {
            comm,
            settled: false,
            stopped_by: None,
            votes: 0,
        }
    }

    /// Set when other ranks stopped and this one followed.
    pub fn stopped_by(&self) -> Option<RemoteStop> {
        self.stopped_by
    }

    /// Votes cast in the last fit.
    pub fn votes(&self) -> usize {
        self.votes
    }

    /// Casts `mine` (0 go on, 1 stop) and returns how many ranks voted to stop.
    fn vote(&mut self, mine: f64) -> Result<usize, crate::LearnerError> {
        let mut v = [mine];
        self.comm.all_reduce_sum_f64(&mut v)?;
        self.votes += 1;
        Ok(v[0].round() as usize)
    }

    /// A checkpoint vote of a rank that is going on.
    fn checkpoint(&mut self, ctx: &Ctx<'_>, iter: Option<usize>) -> CbResult {
        if self.settled {
            return Ok(Flow::Continue);
        }
        let stopped = self.vote(0.0)?;
        if stopped == 0 {
            return Ok(Flow::Continue);
        }
        self.settled = true;
        self.stopped_by = Some(RemoteStop {
            ranks: stopped,
            epoch: ctx.state.epoch,
            iter,
            world: self.comm.world_size(),
        });
        Ok(Flow::CancelTrain)
    }
}

impl Callback for StopVote {
    fn name(&self) -> &'static str {
        "stop_vote"
    }

    fn order(&self) -> i32 {
        10
    }

    fn begin_fit(&mut self, _ctx: &mut Ctx<'_>) -> CbResult {
        self.settled = false;
        self.stopped_by = None;
        self.votes = 0;
        Ok(Flow::Continue)
    }

    fn after_loss(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        let iter = ctx.state.iter;
        self.checkpoint(ctx, Some(iter))
    }

    fn begin_validate(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        self.checkpoint(ctx, None)
    }

    fn after_epoch(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        self.checkpoint(ctx, None)
    }

    fn after_cancel_train(&mut self, _ctx: &mut Ctx<'_>) -> CbResult {
        if !self.settled {
            // This rank cancelled on its own: the vote the others are casting now.
            self.settled = true;
            self.vote(1.0)?;
        }
        Ok(Flow::Continue)
    }
}
