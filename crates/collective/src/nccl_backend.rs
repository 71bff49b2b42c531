//! [`NcclCollective`]: collectives between GPUs through NCCL (via `cudarc`, loaded at run time),
//! one process per GPU, bootstrapped over MPI.
//!
//! Rank 0 creates the NCCL unique id (`ncclGetUniqueId`), broadcasts its 128 bytes to the other
//! ranks over MPI, and every rank joins the NCCL communicator with its MPI rank
//! (`ncclCommInitRank`). The MPI communicator stays available for host-side control traffic
//! (length checks, barriers).
//!
//! # Reduction order
//!
//! NCCL chooses its algorithm (ring, tree, NVLS, …) from the topology, the message size and the
//! NCCL version, and documents no summation order. Its maintainers state that every rank
//! receives the same result bits (the finished sum is forwarded unchanged), but the order, and so
//! the rounding, can differ between message sizes, topologies and NCCL versions, and the
//! hardware-reduced NVLS algorithm is not deterministic between calls. So this backend's sums
//! are identical on all ranks but are *not* guaranteed to equal the rank-order sum of the
//! [`Collective`] docs; use [`MpiCollective`] where bitwise reproducibility matters.
//!
//! # Host and device buffers
//!
//! The [`Collective`] methods take host slices: each call copies the slice to the GPU, runs the
//! NCCL collective on [`stream`](NcclCollective::stream), copies the result back and waits. For
//! data already on the GPU, [`all_reduce_sum_device`](NcclCollective::all_reduce_sum_device) and
//! [`broadcast_device`](NcclCollective::broadcast_device) enqueue the collective on the stream
//! without copies and without waiting.

use crate::error::{CollectiveError, Result};
use crate::mpi_backend::MpiCollective;
use crate::traits::{check_root, Collective};
use cudarc::driver::{CudaContext, CudaSlice, CudaStream, DeviceRepr};
use cudarc::nccl::{Comm, Id, NcclType, ReduceOp};
use std::sync::Arc;

/// Environment variables in which launchers give a process's rank among those on its own host:
/// Open MPI, MPICH/Intel MPI, Slurm.
pub const LOCAL_RANK_ENV_VARS: [&str; 3] = [
    "OMPI_COMM_WORLD_LOCAL_RANK",
    "MPI_LOCALRANKID",
    "SLURM_LOCALID",
];

/// One rank of an NCCL communicator, driving one GPU.
pub struct NcclCollective {
    // Field order matters: the NCCL communicator goes before the MPI one finalises MPI.
    comm: Comm,
    stream: Arc<CudaStream>,
    mpi: MpiCollective,
}

impl std::fmt::Debug for NcclCollective {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NcclCollective")
            .field("rank", &self.comm.rank())
            .field("world_size", &self.comm.world_size())
            .field("device", &self.stream.context().ordinal())
            .finish()
    }
}

fn nccl_error(what: &str, e: impl std::fmt::Debug) -> CollectiveError {
    CollectiveError::Nccl(format!("{what}: {e:?}"))
}

/// Makes a local setup step collective: if it failed on any rank, every rank returns an error
/// (the local one where it failed), so no rank waits forever for a peer that gave up.
fn agree<T>(mpi: &MpiCollective, local: Result<T>) -> Result<T> {
    let mut failures = [f64::from(u8::from(local.is_err()))];
    mpi.all_reduce_sum_f64(&mut failures)?;
    match local {
        Err(e) => Err(e),
        Ok(_) if failures[0] > 0.0 => Err(CollectiveError::Nccl(format!(
            "NCCL setup failed on {} of {} ranks",
            failures[0],
            mpi.world_size()
        ))),
        ok => ok,
    }
}

fn load_device(ordinal: usize) -> Result<Arc<CudaStream>> {
    // SAFETY: probing only tries to open the shared libraries; it calls none of their symbols.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        return Err(CollectiveError::Nccl(
            "the CUDA driver library (libcuda.so) was not found".into(),
        ));
    }
    // SAFETY: as above.
    if !unsafe { cudarc::nccl::sys::is_culib_present() } {
        return Err(CollectiveError::Nccl(
            "the NCCL library (libnccl.so.2) was not found; install NCCL \
             (Debian/Ubuntu with NVIDIA's repository: `apt-get install libnccl2`)"
                .into(),
        ));
    }
    let ctx = CudaContext::new(ordinal).map_err(|e| nccl_error("CUDA device", e))?;
    Ok(ctx.default_stream())
}

impl NcclCollective {
    /// Joins an NCCL communicator over the ranks of `mpi`, this rank driving GPU
    /// `device_ordinal` (each rank must use a different GPU).
    ///
    /// # Errors
    ///
    /// [`CollectiveError::Nccl`] on every rank if CUDA or NCCL cannot be loaded, the device
    /// cannot be opened or the unique id cannot be made on some rank.
    pub fn new(mpi: MpiCollective, device_ordinal: usize) -> Result<Self> {
        let stream = agree(&mpi, load_device(device_ordinal))?;
        let id = if mpi.rank() == 0 {
            Id::new().map_err(|e| nccl_error("ncclGetUniqueId", e))
        } else {
            Ok(Id::uninit([0; 128]))
        };
        let id = agree(&mpi, id)?;
        let mut bytes: Vec<u8> = id.internal().iter().map(|&c| c as u8).collect();
        mpi.broadcast_u8(&mut bytes, 0)?;
        let mut internal = [0 as std::ffi::c_char; 128];
        for (dst, &src) in internal.iter_mut().zip(&bytes) {
            *dst = src as std::ffi::c_char;
        }
        let comm = Comm::from_rank(
            stream.clone(),
            mpi.rank(),
            mpi.world_size(),
            Id::uninit(internal),
        )
        .map_err(|e| nccl_error("ncclCommInitRank", e))?;
        Ok(Self { comm, stream, mpi })
    }

    /// Like [`new`](Self::new) with the GPU chosen by the rank's position on its host (see
    /// [`LOCAL_RANK_ENV_VARS`]; 0 when the launcher sets none).
    pub fn on_local_rank_device(mpi: MpiCollective) -> Result<Self> {
        let local = LOCAL_RANK_ENV_VARS
            .iter()
            .find_map(|v| std::env::var(v).ok()?.parse::<usize>().ok())
            .unwrap_or(0);
        Self::new(mpi, local)
    }

    /// The MPI communicator over the same ranks.
    pub fn mpi(&self) -> &MpiCollective {
        &self.mpi
    }

    /// The CUDA stream on which the NCCL collectives run.
    pub fn stream(&self) -> &Arc<CudaStream> {
        &self.stream
    }

    /// Enqueues an in-place sum of the device buffer over all ranks on [`stream`](Self::stream).
    pub fn all_reduce_sum_device<T: NcclType>(&self, buf: &mut CudaSlice<T>) -> Result<()> {
        self.mpi.agree_on_length(buf.len())?;
        if buf.is_empty() {
            return Ok(());
        }
        self.comm
            .all_reduce_in_place(buf, &ReduceOp::Sum)
            .map_err(|e| nccl_error("ncclAllReduce", e))?;
        Ok(())
    }

    /// Enqueues an in-place broadcast of `root`'s device buffer on [`stream`](Self::stream).
    pub fn broadcast_device<T: NcclType>(&self, buf: &mut CudaSlice<T>, root: usize) -> Result<()> {
        check_root(root, self.world_size())?;
        self.mpi.agree_on_length(buf.len())?;
        if buf.is_empty() {
            return Ok(());
        }
        self.comm
            .broadcast_in_place(buf, root as i32)
            .map_err(|e| nccl_error("ncclBroadcast", e))?;
        Ok(())
    }

    /// Copies `buf` to the GPU, runs `op` on it, copies it back and waits for the stream.
    fn staged<T: NcclType + DeviceRepr>(
        &self,
        buf: &mut [T],
        op: impl FnOnce(&mut CudaSlice<T>) -> Result<()>,
    ) -> Result<()> {
        if buf.is_empty() {
            return op(&mut self
                .stream
                .null::<T>()
                .map_err(|e| nccl_error("alloc", e))?);
        }
        let mut dev = self
            .stream
            .clone_htod(buf)
            .map_err(|e| nccl_error("copy to device", e))?;
        op(&mut dev)?;
        self.stream
            .memcpy_dtoh(&dev, buf)
            .map_err(|e| nccl_error("copy to host", e))?;
        self.stream
            .synchronize()
            .map_err(|e| nccl_error("stream synchronize", e))
    }
}

impl Collective for NcclCollective {
    fn rank(&self) -> usize {
        self.comm.rank()
    }

    fn world_size(&self) -> usize {
        self.comm.world_size()
    }

    fn all_reduce_sum_f32(&self, buf: &mut [f32]) -> Result<()> {
        self.staged(buf, |d| self.all_reduce_sum_device(d))
    }

    fn all_reduce_sum_f64(&self, buf: &mut [f64]) -> Result<()> {
        self.staged(buf, |d| self.all_reduce_sum_device(d))
    }

    fn broadcast_f32(&self, buf: &mut [f32], root: usize) -> Result<()> {
        self.staged(buf, |d| self.broadcast_device(d, root))
    }

    fn broadcast_f64(&self, buf: &mut [f64], root: usize) -> Result<()> {
        self.staged(buf, |d| self.broadcast_device(d, root))
    }

    fn broadcast_u8(&self, buf: &mut [u8], root: usize) -> Result<()> {
        self.staged(buf, |d| self.broadcast_device(d, root))
    }

    fn barrier(&self) -> Result<()> {
        self.stream
            .synchronize()
            .map_err(|e| nccl_error("stream synchronize", e))?;
        self.mpi.barrier()
    }

    /// `MPI_Abort` over the MPI world that shared the NCCL id (every rank's process ends).
    fn abort(&self, code: i32) -> ! {
        self.mpi.abort(code)
    }
}
