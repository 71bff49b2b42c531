//! The crate's error type.

use thiserror::Error;

/// Everything that can go wrong in a collective operation or while setting one up.
///
/// Errors that come from a collective call (such as [`CollectiveError::LengthMismatch`]) are
/// returned on *every* rank of that call, so that all ranks leave the collective together and no
/// rank is left waiting for a peer that gave up.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CollectiveError {
    /// The `mpirun` launcher is not on `PATH`.
    #[error(
        "`mpirun` was not found on PATH; install Open MPI \
         (`apt-get install openmpi-bin libopenmpi-dev`)"
    )]
    MpirunNotFound,

    /// An MPI backend was requested in a process that no MPI launcher started.
    #[error(
        "this process was not started by an MPI launcher (neither OMPI_COMM_WORLD_SIZE, \
         PMIX_RANK nor PMI_RANK is set); run it as `mpirun -np N {program}`"
    )]
    NotLaunchedByMpi {
        /// The program that should have been started under `mpirun`.
        program: String,
    },

    /// MPI was already initialised in this process (MPI allows one initialisation per process).
    #[error("MPI is already initialised in this process; create one MpiCollective per process")]
    AlreadyInitialized,

    /// A rank named as a root is not a rank of the communicator.
    #[error("root rank {root} is out of range for a world of {world_size} ranks")]
    InvalidRoot {
        /// The root that was asked for.
        root: usize,
        /// The number of ranks.
        world_size: usize,
    },

    /// The ranks passed buffers of different lengths to the same collective call.
    #[error("ranks passed buffers of different lengths to one collective: {lengths:?} (by rank)")]
    LengthMismatch {
        /// The buffer length each rank passed, indexed by rank.
        lengths: Vec<u64>,
    },

    /// A buffer is larger than the backend can address.
    #[error("buffer of {len} elements exceeds the backend's limit of {max} elements")]
    BufferTooLarge {
        /// The buffer's length.
        len: usize,
        /// The largest supported length.
        max: usize,
    },

    /// The CUDA driver or the NCCL library could not be loaded or used.
    #[error("NCCL/CUDA backend error: {0}")]
    Nccl(String),
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, CollectiveError>;
