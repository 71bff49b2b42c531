//! [`CudaStorage`]: a tensor's elements in GPU memory.

use std::fmt;

use cudarc::driver::{CudaSlice, DevicePtr};

use super::CudaBackend;
use crate::{DType, Device};

/// The typed device allocation behind a [`CudaStorage`].
///
/// Allocations hold at least one element (CUDA refuses empty allocations); the logical
/// length is kept beside them in [`CudaStorage`].
pub(crate) enum CudaData {
    F32(CudaSlice<f32>),
    F64(CudaSlice<f64>),
}

/// Elements of one tensor on one GPU, allocated from that device's stream-ordered pool and
/// returned to it (stream-ordered) when dropped.
///
/// Cloning allocates a new buffer and enqueues a device-to-device copy on the device's
/// stream (this is how copy-on-write in-place updates copy a shared storage). `Clone`
/// cannot return an error, so a clone that fails (the GPU is out of memory) panics with the
/// CUDA error; every other CUDA failure is a typed error.
pub struct CudaStorage {
    backend: &'static CudaBackend,
    len: usize,
    data: CudaData,
}

impl CudaStorage {
    /// Wraps an allocation of at least `max(len, 1)` elements made on `backend`'s stream.
    pub(crate) fn new(backend: &'static CudaBackend, len: usize, data: CudaData) -> Self {
        debug_assert!(match &data {
            CudaData::F32(s) => s.len() >= len.max(1),
            CudaData::F64(s) => s.len() >= len.max(1),
        });
        CudaStorage { backend, len, data }
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        match self.data {
            CudaData::F32(_) => DType::F32,
            CudaData::F64(_) => DType::F64,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The CUDA ordinal of the GPU holding the elements.
    pub fn ordinal(&self) -> usize {
        self.backend.ordinal()
    }

    /// The device holding the elements.
    pub fn device(&self) -> Device {
        Device::Cuda(self.ordinal())
    }

    /// The backend of the device holding the elements.
    pub(crate) fn backend(&self) -> &'static CudaBackend {
        self.backend
    }

    /// The typed allocation.
    pub(crate) fn data(&self) -> &CudaData {
        &self.data
    }

    /// The device address of the first element, for passing to kernels and libraries.
    ///
    /// Every launch goes to the one stream of the device and event tracking is off (see
    /// [`CudaBackend`]), so the address may be used for reads and writes alike: stream
    /// order alone orders every access, and the allocation is freed stream-ordered after
    /// the last use that was enqueued while it was alive.
    pub(crate) fn ptr(&self) -> u64 {
        let stream = self.backend.stream();
        match &self.data {
            CudaData::F32(s) => s.device_ptr(stream).0,
            CudaData::F64(s) => s.device_ptr(stream).0,
        }
    }
}

impl Clone for CudaStorage {
    fn clone(&self) -> Self {
        match self.backend.copy_storage(self) {
            Ok(s) => s,
            Err(e) => panic!("cloning a CUDA storage (copy-on-write) failed: {e}"),
        }
    }
}

impl fmt::Debug for CudaStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CudaStorage({} x {}, {})",
            self.len,
            self.dtype(),
            self.device()
        )
    }
}
