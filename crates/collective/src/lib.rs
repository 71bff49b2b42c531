//! Collective communication for data-parallel training: one process per rank, on engines that
//! clusters already run (MPI, NCCL), never a home-made protocol.
//!
//! The [`Collective`] trait is the whole interface that data-parallel training needs:
//! [`rank`](Collective::rank), [`world_size`](Collective::world_size), an in-place all-reduce
//! sum of `f32`/`f64` buffers, an in-place broadcast of `f32`/`f64`/`u8` buffers from a root
//! rank, and a [`barrier`](Collective::barrier). See the trait for the exact semantics, including
//! the reduction order.
//!
//! Backends:
//!
//! * [`SingleProcess`], always available: the world of one rank, every operation a no-op.
//! * `MpiCollective` (feature `mpi`): MPI through the `mpi` crate over the system's Open MPI
//!   (`apt-get install openmpi-bin libopenmpi-dev libclang-dev`); processes are started by
//!   `mpirun -np N program`. Its all-reduce is reproducible bit for bit (rank-order reduction).
//! * `NcclCollective` (feature `nccl`, implies `mpi`): NCCL through `cudarc`, loaded at run
//!   time, one process per GPU, bootstrapped over MPI.
//!
//! [`find_mpirun`] and [`launched_by_mpirun`] need no MPI library and are always available.
//!
//! # Example
//!
//! Averaging gradients over ranks, written once for any backend:
//!
//! ```
//! use collective::{Collective, SingleProcess};
//!
//! fn average_gradients(comm: &dyn Collective, grads: &mut [f32]) -> collective::Result<()> {
//!     comm.all_reduce_sum_f32(grads)?;
//!     let n = comm.world_size() as f32;
//!     grads.iter_mut().for_each(|g| *g /= n);
//!     Ok(())
//! }
//!
//! let comm = SingleProcess::new();
//! let mut grads = vec![0.5f32, -1.0, 2.0];
//! average_gradients(&comm, &mut grads)?;
//! assert_eq!(grads, [0.5, -1.0, 2.0]);
//!
//! // Every rank starts from rank 0's parameters.
//! let mut params = vec![0.25f32; 4];
//! comm.broadcast_f32(&mut params, 0)?;
//! comm.barrier()?;
//! # Ok::<(), collective::CollectiveError>(())
//! ```
//!
//! Under MPI the same function runs in each process started by `mpirun -np 4 train`, with
//! `let comm = collective::MpiCollective::init()?;` in place of `SingleProcess::new()`.

mod error;
mod launch;
#[cfg(feature = "mpi")]
mod mpi_backend;
#[cfg(feature = "nccl")]
mod nccl_backend;
mod single;
mod traits;

pub use error::{CollectiveError, Result};
pub use launch::{
    find_in_path, find_mpirun, launched_by_mpirun, launched_by_mpirun_with, require_mpi_launch,
    LAUNCHER_ENV_VARS,
};
#[cfg(feature = "mpi")]
pub use mpi_backend::{MpiCollective, ReductionOrder, MAX_MESSAGE_ELEMENTS};
#[cfg(feature = "nccl")]
pub use nccl_backend::{NcclCollective, LOCAL_RANK_ENV_VARS};
pub use single::SingleProcess;
pub use traits::Collective;
