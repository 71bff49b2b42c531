//! The CPU backend: host vectors, generic kernels over [`CpuFloat`], rayon for large work.
//!
//! Its kernels live with their op family (`ops/<family>/cpu.rs`); this module holds the
//! backend type, memory management and the helpers those kernels share.

use rayon::prelude::*;

use crate::backend::MemoryOps;
use crate::dtype::CpuFloat;
use crate::storage::{CpuStorage, Storage};
use crate::{DType, Device, Result, Tensor, TensorError};

/// The host backend. Stateless; scratch buffers are thread-local inside the kernels.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuBackend;

/// Below this many elements an elementwise kernel runs inline: rayon's fork/join costs
/// more than it saves (the batch-2 training step lives entirely below it).
pub const PAR_ELEMENTS: usize = 1 << 15;

/// Elements per rayon task for elementwise kernels.
pub const PAR_CHUNK: usize = 1 << 13;

/// The host storage of a tensor the CPU backend was asked to compute on.
pub(crate) fn host(t: &Tensor) -> Result<&CpuStorage> {
    t.cpu_storage()
}

/// The two host storages of a binary op, known to have one element type.
pub(crate) enum HostPair<'a> {
    F32(&'a [f32], &'a [f32]),
    F64(&'a [f64], &'a [f64]),
}

pub(crate) fn host_pair<'a>(
    op: &'static str,
    a: &'a Tensor,
    b: &'a Tensor,
) -> Result<HostPair<'a>> {
    match (host(a)?, host(b)?) {
        (CpuStorage::F32(x), CpuStorage::F32(y)) => Ok(HostPair::F32(x, y)),
        (CpuStorage::F64(x), CpuStorage::F64(y)) => Ok(HostPair::F64(x, y)),
        (x, y) => Err(TensorError::DTypeMismatch {
            op,
            lhs: x.dtype(),
            rhs: y.dtype(),
        }),
    }
}

/// `out[i] = f(x[i])`, in parallel chunks when large. The output is written once (no
/// zero-fill first).
pub(crate) fn map_slice<T: CpuFloat>(x: &[T], f: impl Fn(T) -> T + Sync + Send) -> Vec<T> {
    if x.len() < PAR_ELEMENTS {
        x.iter().map(|&v| f(v)).collect()
    } else {
        let mut out = Vec::with_capacity(x.len());
        x.par_iter()
            .with_min_len(PAR_CHUNK)
            .map(|&v| f(v))
            .collect_into_vec(&mut out);
        out
    }
}

/// `out[i] = f(a[i], b[i])` for equal-length slices, in parallel chunks when large.
pub(crate) fn zip_slices<T: CpuFloat>(
    a: &[T],
    b: &[T],
    f: impl Fn(T, T) -> T + Sync + Send,
) -> Vec<T> {
    debug_assert_eq!(a.len(), b.len());
    if a.len() < PAR_ELEMENTS {
        a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect()
    } else {
        let mut out = Vec::with_capacity(a.len());
        a.par_iter()
            .zip(b.par_iter())
            .with_min_len(PAR_CHUNK)
            .map(|(&x, &y)| f(x, y))
            .collect_into_vec(&mut out);
        out
    }
}

/// The error for a GPU storage handed to the CPU backend.
#[cfg(feature = "cuda")]
pub(crate) fn not_host(op: &'static str, device: Device) -> TensorError {
    TensorError::DeviceMismatch {
        op,
        lhs: Device::Cpu,
        rhs: device,
    }
}

impl MemoryOps for CpuBackend {
    fn device(&self) -> Device {
        Device::Cpu
    }
    fn full(&self, len: usize, value: f64, dtype: DType) -> Result<Storage> {
        Ok(Storage::Cpu(CpuStorage::full(dtype, len, value)))
    }
    fn from_host(&self, host: CpuStorage) -> Result<Storage> {
        Ok(Storage::Cpu(host))
    }
    fn to_host(&self, storage: &Storage) -> Result<CpuStorage> {
        match storage {
            Storage::Cpu(s) => Ok(s.clone()),
            #[cfg(feature = "cuda")]
            Storage::Cuda(s) => Err(not_host("to_host", s.device())),
        }
    }
    fn cast(&self, storage: &Storage, dtype: DType) -> Result<Storage> {
        match storage {
            Storage::Cpu(s) => Ok(Storage::Cpu(s.to_dtype(dtype))),
            #[cfg(feature = "cuda")]
            Storage::Cuda(s) => Err(not_host("cast", s.device())),
        }
    }
}
