//! [`MemoryOps`] on a GPU: creation, host transfers (the only synchronisation point) and
//! element-type casts.

use std::sync::Arc;

use cudarc::driver::{CudaSlice, DevicePtr};

use super::device::out_ptr;
use super::error::CudaResultExt;
use super::kernels::{Family, KernelSource};
use super::launch::{elementwise_config, i64_of, Arg};
use super::storage::{CudaData, CudaStorage};
use super::CudaBackend;
use crate::backend::MemoryOps;
use crate::storage::{CpuStorage, Storage};
use crate::{DType, Device, Result, TensorError};

/// The cast kernels (`cuda/memory.cu`).
pub(crate) static MEMORY_KERNELS: KernelSource = KernelSource {
    family: Family::Memory,
    name: "memory",
    source: include_str!("memory.cu"),
    entries: &["cast"],
};

impl CudaBackend {
    /// The CUDA storage inside `storage`, which must be on this device.
    pub(crate) fn own<'s>(
        &self,
        op: &'static str,
        storage: &'s Storage,
    ) -> Result<&'s CudaStorage> {
        match storage {
            Storage::Cuda(s) if s.ordinal() == self.ordinal() => Ok(s),
            other => Err(TensorError::DeviceMismatch {
                op,
                lhs: self.device_id(),
                rhs: storage_device(other),
            }),
        }
    }

    /// Copies host elements into a new device allocation (stream-ordered; pageable host
    /// memory is staged by the driver, so the host vector may be dropped on return).
    pub(crate) fn upload<T: cudarc::driver::DeviceRepr>(&self, host: &[T]) -> Result<CudaSlice<T>> {
        let stream = self.stream();
        // SAFETY: every element is written by the copy below (empty: never read).
        let mut dst =
            unsafe { stream.alloc::<T>(host.len().max(1)) }.cuda(self.ordinal(), "allocating")?;
        if !host.is_empty() {
            let mut view = dst.slice_mut(0..host.len());
            stream
                .memcpy_htod(host, &mut view)
                .cuda(self.ordinal(), "host-to-device copy")?;
        }
        Ok(dst)
    }

    fn download<T: cudarc::driver::DeviceRepr + Default + Clone>(
        &self,
        src: &CudaSlice<T>,
        len: usize,
    ) -> Result<Vec<T>> {
        let mut host = vec![T::default(); len];
        if len > 0 {
            self.stream()
                .memcpy_dtoh(&src.slice(0..len), &mut host)
                .cuda(self.ordinal(), "device-to-host copy")?;
        }
        self.synchronize_and_check()?;
        Ok(host)
    }
}

fn storage_device(s: &Storage) -> Device {
    match s {
        Storage::Cpu(_) => Device::Cpu,
        Storage::Cuda(c) => c.device(),
    }
}

impl MemoryOps for CudaBackend {
    fn device(&self) -> Device {
        self.device_id()
    }

    fn full(&self, len: usize, value: f64, dtype: DType) -> Result<Arc<Storage>> {
        if value == 0.0 && value.is_sign_positive() {
            return Ok(Arc::new(Storage::Cuda(self.alloc_zeros(dtype, len)?)));
        }
        let mut out = self.alloc(dtype, len)?;
        if len > 0 {
            let ptr = out_ptr(&mut out);
            self.fill_ptr(dtype, ptr, len, value)?;
        }
        Ok(Arc::new(Storage::Cuda(out)))
    }

    fn from_host(&self, host: CpuStorage) -> Result<Storage> {
        let len = host.len();
        let data = match &host {
            CpuStorage::F32(v) => CudaData::F32(self.upload(v)?),
            CpuStorage::F64(v) => CudaData::F64(self.upload(v)?),
        };
        Ok(Storage::Cuda(CudaStorage::new(self.this(), len, data)))
    }

    fn to_host(&self, storage: &Storage) -> Result<CpuStorage> {
        let s = self.own("to_host", storage)?;
        Ok(match s.data() {
            CudaData::F32(d) => CpuStorage::F32(self.download(d, s.len())?.into()),
            CudaData::F64(d) => CpuStorage::F64(self.download(d, s.len())?.into()),
        })
    }

    fn cast(&self, storage: &Storage, dtype: DType) -> Result<Storage> {
        let s = self.own("cast", storage)?;
        if s.dtype() == dtype {
            return Ok(Storage::Cuda(self.copy_storage(s)?));
        }
        let mut out = self.alloc(dtype, s.len())?;
        if !s.is_empty() {
            let dst = out_ptr(&mut out);
            self.launch(
                &MEMORY_KERNELS,
                "cast",
                s.dtype(),
                elementwise_config(s.len()),
                &[i64_of(s.len()), Arg::Ptr(s.ptr()), Arg::Ptr(dst)],
            )?;
        }
        Ok(Storage::Cuda(out))
    }
}

/// The device address of a slice (see [`CudaStorage::ptr`] for why reads and writes may
/// share it).
pub(crate) fn slice_ptr<T>(backend: &CudaBackend, s: &CudaSlice<T>) -> u64 {
    s.device_ptr(backend.stream()).0
}
