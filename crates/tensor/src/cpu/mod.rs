//! The CPU backend: host vectors, generic kernels over [`CpuFloat`], rayon for large work.
//!
//! Its kernels live with their op family (`ops/<family>/cpu.rs`); this module holds the
//! backend type, memory management and the helpers those kernels share.

pub(crate) mod pool;
pub(crate) mod scratch;
mod threads;
pub(crate) mod vector;

use std::sync::Arc;

use rayon::prelude::*;

use pool::HostBuffer;

use crate::backend::MemoryOps;
use crate::dtype::CpuFloat;
use crate::storage::{CpuStorage, Storage};
use crate::{DType, Device, Result, Tensor, TensorError};

pub use threads::{init_cpu_threads, with_busy_workers};
pub(crate) use vector::vectorized;

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

/// Writes `out` chunk by chunk with `fill(start, chunk)` (`chunk` the elements
/// `start..start + chunk.len()`), on rayon when it reaches [`PAR_ELEMENTS`] elements.
fn write_chunks<T: Send>(out: &mut [T], fill: impl Fn(usize, &mut [T]) + Sync + Send) {
    if out.len() < PAR_ELEMENTS {
        fill(0, out);
    } else {
        out.par_chunks_mut(PAR_CHUNK)
            .enumerate()
            .for_each(|(i, chunk)| fill(i * PAR_CHUNK, chunk));
    }
}

/// `out[i] = f(x[i])`, in parallel chunks when large, each a [`vectorized`] loop.
pub(crate) fn map_slice<T: CpuFloat>(x: &[T], out: &mut [T], f: impl Fn(T) -> T + Sync + Send) {
    assert_eq!(x.len(), out.len(), "map_slice: the callers size the output");
    write_chunks(out, |start, out| {
        let x = &x[start..start + out.len()];
        vectorized(|| {
            for (o, &v) in out.iter_mut().zip(x) {
                *o = f(v);
            }
        })
    });
}

/// `out[i] = f(a[i], b[i])` for equal-length slices, in parallel chunks when large.
pub(crate) fn zip_slices<T: CpuFloat>(
    a: &[T],
    b: &[T],
    out: &mut [T],
    f: impl Fn(T, T) -> T + Sync + Send,
) {
    assert!(
        a.len() == b.len() && a.len() == out.len(),
        "zip_slices: the callers check the shapes"
    );
    write_chunks(out, |start, out| {
        let end = start + out.len();
        let (a, b) = (&a[start..end], &b[start..end]);
        vectorized(|| {
            for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
                *o = f(x, y);
            }
        })
    });
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
    fn full(&self, len: usize, value: f64, dtype: DType) -> Result<Arc<Storage>> {
        Ok(match dtype {
            DType::F32 => HostBuffer::filled(len, value as f32).into_storage(),
            DType::F64 => HostBuffer::filled(len, value).into_storage(),
        })
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
