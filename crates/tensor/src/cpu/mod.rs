//! The CPU backend: host vectors, generic kernels over [`CpuFloat`], rayon for large work.
//!
//! Its kernels live with their op family (`ops/<family>/cpu.rs`); this module holds the
//! backend type, memory management and the helpers those kernels share.

pub(crate) mod scratch;
mod threads;
pub(crate) mod vector;

use std::mem::MaybeUninit;

use rayon::prelude::*;

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

/// A new vector of `len` values written once, chunk by chunk, by `fill(start, out)`
/// (`out` the chunk of elements `start..start + out.len()`), on rayon when `len` reaches
/// [`PAR_ELEMENTS`]. Nothing is zero-filled first.
///
/// # Safety
/// `fill` must write every element of each chunk it is given.
unsafe fn write_chunks<T: Send>(
    len: usize,
    fill: impl Fn(usize, &mut [MaybeUninit<T>]) + Sync + Send,
) -> Vec<T> {
    let mut out = Vec::with_capacity(len);
    let spare = &mut out.spare_capacity_mut()[..len];
    if len < PAR_ELEMENTS {
        fill(0, spare);
    } else {
        spare
            .par_chunks_mut(PAR_CHUNK)
            .enumerate()
            .for_each(|(i, chunk)| fill(i * PAR_CHUNK, chunk));
    }
    // SAFETY: the chunks cover `0..len` and `fill` wrote each of their elements.
    unsafe { out.set_len(len) };
    out
}

/// `out[i] = f(x[i])`, in parallel chunks when large, each a [`vectorized`] loop. The
/// output is written once (no zero-fill first).
pub(crate) fn map_slice<T: CpuFloat>(x: &[T], f: impl Fn(T) -> T + Sync + Send) -> Vec<T> {
    let fill = |start: usize, out: &mut [MaybeUninit<T>]| {
        let x = &x[start..start + out.len()];
        vectorized(|| {
            for (o, &v) in out.iter_mut().zip(x) {
                o.write(f(v));
            }
        })
    };
    // SAFETY: `x`'s part has the chunk's length, so `fill` writes all of it.
    unsafe { write_chunks(x.len(), fill) }
}

/// `out[i] = f(a[i], b[i])` for equal-length slices, in parallel chunks when large.
pub(crate) fn zip_slices<T: CpuFloat>(
    a: &[T],
    b: &[T],
    f: impl Fn(T, T) -> T + Sync + Send,
) -> Vec<T> {
    assert_eq!(a.len(), b.len(), "zip_slices: the callers check the shapes");
    let fill = |start: usize, out: &mut [MaybeUninit<T>]| {
        let end = start + out.len();
        let (a, b) = (&a[start..end], &b[start..end]);
        vectorized(|| {
            for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
                o.write(f(x, y));
            }
        })
    };
    // SAFETY: both parts have the chunk's length, so `fill` writes all of it.
    unsafe { write_chunks(a.len(), fill) }
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
