//! The [`Collective`] trait: what data-parallel training needs from a communication engine.

use crate::error::Result;

/// A group of `world_size` cooperating processes ("ranks"), one of which is this process.
///
/// Every method is a *collective* call: all ranks of the group must make the same sequence of
/// calls, with the same method, root and buffer length, or the group deadlocks or fails. A call
/// returns on a rank once that rank's part is complete; it is not a barrier unless stated.
///
/// Methods take `&self` so that one communicator can be shared (for example through an `Rc`)
/// by a training loop and the layers that synchronise statistics; the MPI and NCCL backends are
/// neither `Send` nor `Sync`, so calls always come from the thread that created them, in
/// program order.
///
/// # Semantics
///
/// With ranks `0..n` and `x_r` the buffer passed on rank `r`:
///
/// * [`all_reduce_sum_f32`](Collective::all_reduce_sum_f32) /
///   [`all_reduce_sum_f64`](Collective::all_reduce_sum_f64): afterwards, on every rank, element
///   `i` of the buffer holds `(((x_0[i] + x_1[i]) + x_2[i]) + …) + x_{n-1}[i]`, summed in rank
///   order in the element type's precision, and identical bit for bit on all ranks (backends
///   that cannot promise this order say so in their docs).
/// * [`broadcast_f32`](Collective::broadcast_f32) (and the `f64`, `u8` variants): afterwards
///   every rank's buffer is a copy of the buffer that `root` passed.
/// * [`barrier`](Collective::barrier): no rank returns before every rank has entered it.
///
/// # Errors
///
/// Buffers of different lengths on different ranks give
/// [`CollectiveError::LengthMismatch`](crate::CollectiveError::LengthMismatch) on every rank
/// (for the backends that check; see each backend), and a root outside `0..world_size` gives
/// [`CollectiveError::InvalidRoot`](crate::CollectiveError::InvalidRoot).
pub trait Collective {
    /// This process's rank, in `0..world_size()`.
    fn rank(&self) -> usize;

    /// The number of ranks in the group (at least 1).
    fn world_size(&self) -> usize;

    /// Sums `buf` element-wise over all ranks, in rank order, leaving the sum on every rank.
    fn all_reduce_sum_f32(&self, buf: &mut [f32]) -> Result<()>;

    /// Sums `buf` element-wise over all ranks, in rank order, leaving the sum on every rank.
    fn all_reduce_sum_f64(&self, buf: &mut [f64]) -> Result<()>;

    /// Copies `root`'s `buf` into `buf` on every other rank.
    fn broadcast_f32(&self, buf: &mut [f32], root: usize) -> Result<()>;

    /// Copies `root`'s `buf` into `buf` on every other rank.
    fn broadcast_f64(&self, buf: &mut [f64], root: usize) -> Result<()>;

    /// Copies `root`'s `buf` into `buf` on every other rank.
    fn broadcast_u8(&self, buf: &mut [u8], root: usize) -> Result<()>;

    /// Blocks until every rank has called `barrier`.
    fn barrier(&self) -> Result<()>;

    /// Ends this process with exit status `code`, and with it the whole job where the backend
    /// can: MPI's `MPI_Abort` terminates every rank (`mpirun` then reports the code). For a
    /// rank that failed alone, so that the others do not wait for it in their next
    /// collective call. The default (one process) exits with `code`.
    fn abort(&self, code: i32) -> ! {
        std::process::exit(code)
    }

    /// `true` on rank 0, the conventional rank for logging and checkpoints.
    fn is_root(&self) -> bool {
        self.rank() == 0
    }
}

/// Checks that `root` names a rank of a group of `world_size` ranks.
pub(crate) fn check_root(root: usize, world_size: usize) -> Result<()> {
    if root < world_size {
        Ok(())
    } else {
        Err(crate::CollectiveError::InvalidRoot { root, world_size })
    }
}
