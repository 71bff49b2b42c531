//! [`MpiCollective`]: collectives over MPI (Open MPI) through the `mpi` crate (rsmpi).
//!
//! # Reduction order and reproducibility
//!
//! The MPI standard (MPI-4.1, §6.9.1 "Reduce") lets an implementation reorder a reduction
//! using associativity (and commutativity, for a commutative operation such as `MPI_SUM`), and
//! only *advises* implementors to give the same result for the same arguments in the same
//! order; it states no requirement that all ranks of an `MPI_Allreduce` receive bitwise
//! identical results. Open MPI picks its
//! algorithm (recursive doubling, ring, Rabenseifner, …) from the communicator size, the message
//! size and tuning parameters, so the summation order can change with the buffer length, the
//! Open MPI version or its configuration.
//!
//! For reproducible training this backend therefore does **not** use `MPI_Allreduce` by default.
//! [`ReductionOrder::RankOrder`] (the default) sends every rank's buffer to rank 0, which adds
//! them in rank order, `((x_0 + x_1) + x_2) + …`, and then broadcasts the sum, so every rank
//! gets the same bits, and the same bits as any other run with the same world size and inputs.
//! Its cost is `world_size - 1` buffer transfers into rank 0, fine for the few ranks of one
//! machine; [`ReductionOrder::MpiAllreduce`] opts into Open MPI's own (faster, order
//! unspecified) algorithm.
//!
//! Every call first exchanges the buffer lengths (one small `MPI_Allgather` of `u64`s), so that
//! a length mismatch is reported as [`CollectiveError::LengthMismatch`] on every rank instead of
//! truncating or deadlocking.
//!
//! # Failures
//!
//! Errors inside MPI itself, including the death of a peer rank, are handled by MPI's default
//! error handler `MPI_ERRORS_ARE_FATAL`: Open MPI's `mpirun` aborts the whole job and every rank
//! exits; such errors never come back as a [`CollectiveError`]. When a rank dies, Open MPI 4.1
//! ends the other ranks within about a second and `mpirun` exits with `128 + signal` (134 for
//! `abort()`, 137 for `SIGKILL`), printing, for example:
//!
//! ```text
//! Primary job  terminated normally, but 1 process returned
//! a non-zero exit code. Per user-direction, the job has been aborted.
//! mpirun noticed that process rank 1 with PID 0 on node vm exited on signal 6 (Aborted).
//! ```

use crate::error::{CollectiveError, Result};
use crate::launch::require_mpi_launch;
use crate::traits::{check_root, Collective};
use mpi::datatype::Equivalence;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, CommunicatorCollectives, Destination, Root, Source};
use mpi::Threading;
use std::marker::PhantomData;
use std::ops::AddAssign;

/// Largest number of elements in one MPI message (MPI counts are C `int`s); longer buffers are
/// sent in chunks of this many elements.
pub const MAX_MESSAGE_ELEMENTS: usize = i32::MAX as usize;

/// How [`MpiCollective`] computes an all-reduce sum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReductionOrder {
    /// Reduce to rank 0 in rank order, then broadcast: bitwise reproducible (see the module
    /// docs).
    #[default]
    RankOrder,
    /// `MPI_Allreduce` with `MPI_SUM`: Open MPI chooses the order.
    MpiAllreduce,
}

/// The ranks of `MPI_COMM_WORLD`, one per process started by `mpirun`.
///
/// Creating it initialises MPI (with `MPI_THREAD_FUNNELED`: only the creating thread may
/// communicate, which is why the type is neither `Send` nor `Sync`); dropping it finalises MPI.
/// MPI can be initialised only once per process, so create one per process and share it.
/// The collectives run on a private duplicate of `MPI_COMM_WORLD`, so they never match messages
/// that other code sends on the world communicator.
pub struct MpiCollective {
    // Field order matters: the duplicated communicator is freed before MPI is finalised.
    comm: SimpleCommunicator,
    rank: usize,
    world_size: usize,
    order: ReductionOrder,
    _universe: mpi::environment::Universe,
    _single_thread: PhantomData<*const ()>,
}

impl std::fmt::Debug for MpiCollective {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpiCollective")
            .field("rank", &self.rank)
            .field("world_size", &self.world_size)
            .field("order", &self.order)
            .finish()
    }
}

impl MpiCollective {
    /// Initialises MPI and joins `MPI_COMM_WORLD`, with [`ReductionOrder::RankOrder`].
    ///
    /// # Errors
    ///
    /// [`CollectiveError::NotLaunchedByMpi`] when the process was not started by `mpirun` (see
    /// [`crate::launched_by_mpirun`]), [`CollectiveError::AlreadyInitialized`] when MPI was
    /// already initialised in this process.
    pub fn init() -> Result<Self> {
        require_mpi_launch()?;
        Self::init_unchecked()
    }

    /// Like [`init`](Self::init) but without requiring `mpirun`: a process started directly
    /// becomes an MPI "singleton", a world of one rank (Open MPI supports this).
    pub fn init_unchecked() -> Result<Self> {
        let (universe, _provided) = mpi::initialize_with_threading(Threading::Funneled)
            .ok_or(CollectiveError::AlreadyInitialized)?;
        let comm = universe.world().duplicate();
        let rank = usize::try_from(comm.rank()).expect("MPI ranks are non-negative");
        let world_size = usize::try_from(comm.size()).expect("MPI sizes are positive");
        Ok(Self {
            comm,
            rank,
            world_size,
            order: ReductionOrder::default(),
            _universe: universe,
            _single_thread: PhantomData,
        })
    }

    /// The same communicator computing all-reduce sums in `order`.
    pub fn with_reduction_order(mut self, order: ReductionOrder) -> Self {
        self.order = order;
        self
    }

    /// Switches how all-reduce sums are computed; all ranks must switch together.
    pub fn set_reduction_order(&mut self, order: ReductionOrder) {
        self.order = order;
    }

    /// How all-reduce sums are computed.
    pub fn reduction_order(&self) -> ReductionOrder {
        self.order
    }

    /// Ends the whole MPI job with `code` (`MPI_Abort`): every rank is terminated.
    pub fn abort(&self, code: i32) -> ! {
        self.comm.abort(code)
    }

    /// Checks, collectively, that every rank passes a buffer of `len` elements.
    ///
    /// All ranks see the same gathered lengths, so all of them return the same result.
    pub(crate) fn agree_on_length(&self, len: usize) -> Result<()> {
        let mine = len as u64;
        let mut lengths = vec![0u64; self.world_size];
        self.comm.all_gather_into(&mine, &mut lengths[..]);
        if lengths.iter().all(|&l| l == lengths[0]) {
            Ok(())
        } else {
            Err(CollectiveError::LengthMismatch { lengths })
        }
    }

    fn all_reduce_sum<T>(&self, buf: &mut [T]) -> Result<()>
    where
        T: Equivalence + Copy + Default + AddAssign,
    {
        self.agree_on_length(buf.len())?;
        if self.world_size == 1 || buf.is_empty() {
            return Ok(());
        }
        match self.order {
            ReductionOrder::RankOrder => {
                self.reduce_to_root_in_rank_order(buf);
                self.broadcast_chunks(buf, 0);
            }
            ReductionOrder::MpiAllreduce => {
                for chunk in buf.chunks_mut(MAX_MESSAGE_ELEMENTS) {
                    let send = chunk.to_vec();
                    self.comm.all_reduce_into(
                        &send[..],
                        chunk,
                        mpi::collective::SystemOperation::sum(),
                    );
                }
            }
        }
        Ok(())
    }

    /// Leaves `x_0 + x_1 + … + x_{n-1}` (left to right) in rank 0's `buf`; other ranks' `buf`s
    /// are unchanged.
    fn reduce_to_root_in_rank_order<T>(&self, buf: &mut [T])
    where
        T: Equivalence + Copy + Default + AddAssign,
    {
        if self.rank == 0 {
            let mut incoming = vec![T::default(); buf.len().min(MAX_MESSAGE_ELEMENTS)];
            for peer in 1..self.world_size {
                let source = self.comm.process_at_rank(peer as i32);
                for chunk in buf.chunks_mut(MAX_MESSAGE_ELEMENTS) {
                    let part = &mut incoming[..chunk.len()];
                    source.receive_into(part);
                    for (acc, &x) in chunk.iter_mut().zip(part.iter()) {
                        *acc += x;
                    }
                }
            }
        } else {
            let root = self.comm.process_at_rank(0);
            for chunk in buf.chunks(MAX_MESSAGE_ELEMENTS) {
                root.send(chunk);
            }
        }
    }

    fn broadcast_chunks<T: Equivalence>(&self, buf: &mut [T], root: usize) {
        let root = self.comm.process_at_rank(root as i32);
        for chunk in buf.chunks_mut(MAX_MESSAGE_ELEMENTS) {
            root.broadcast_into(chunk);
        }
    }

    fn broadcast<T: Equivalence>(&self, buf: &mut [T], root: usize) -> Result<()> {
        check_root(root, self.world_size)?;
        self.agree_on_length(buf.len())?;
        if self.world_size > 1 && !buf.is_empty() {
            self.broadcast_chunks(buf, root);
        }
        Ok(())
    }
}

impl Collective for MpiCollective {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world_size(&self) -> usize {
        self.world_size
    }

    fn all_reduce_sum_f32(&self, buf: &mut [f32]) -> Result<()> {
        self.all_reduce_sum(buf)
    }

    fn all_reduce_sum_f64(&self, buf: &mut [f64]) -> Result<()> {
        self.all_reduce_sum(buf)
    }

    fn broadcast_f32(&self, buf: &mut [f32], root: usize) -> Result<()> {
        self.broadcast(buf, root)
    }

    fn broadcast_f64(&self, buf: &mut [f64], root: usize) -> Result<()> {
        self.broadcast(buf, root)
    }

    fn broadcast_u8(&self, buf: &mut [u8], root: usize) -> Result<()> {
        self.broadcast(buf, root)
    }

    fn barrier(&self) -> Result<()> {
        self.comm.barrier();
        Ok(())
    }

    fn abort(&self, code: i32) -> ! {
        self.comm.abort(code)
    }
}
