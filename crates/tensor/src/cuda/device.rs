//! [`CudaBackend`]: everything one GPU needs — its context, its single stream, the kernel
//! modules, the cuBLAS handle, the optional cuDNN state and the device error flag.

use std::sync::{Arc, OnceLock};

use cudarc::cublas::CudaBlas;
use cudarc::driver::{CudaContext, CudaSlice, CudaStream};

use super::dnn::Dnn;
use super::error::{cuda_error, CudaResultExt};
use super::kernels::KernelCache;
use super::probe::{is_present, CudaLib};
use super::storage::{CudaData, CudaStorage};
use crate::storage::Storage;
use crate::{DType, Device, Result, Tensor, TensorError};

/// Environment variable choosing the convolution engine: `im2col` forces our own
/// im2col + cuBLAS kernels even where cuDNN is present (read once per device).
pub const CONV_ENGINE_ENV: &str = "TENSOR_CUDA_CONV";

/// The backend of one CUDA GPU.
///
/// # Ordering and memory
/// All work of the device goes to one non-blocking stream, in the order it is issued;
/// kernels, cuBLAS and cuDNN calls and host copies are therefore ordered by the stream
/// alone, and cudarc's per-allocation event tracking is switched off. Allocations come from
/// the device's stream-ordered memory pool (`cuMemAllocAsync`), whose release threshold is
/// raised so that freed blocks stay cached in the pool instead of going back to the driver
/// at each synchronisation: steady-state training steps allocate without driver calls.
/// Nothing inside an op waits for the GPU; only [`crate::MemoryOps::to_host`] does.
pub struct CudaBackend {
    ordinal: usize,
    /// Set by the registry right after the backend is leaked (storage needs `'static`).
    this: OnceLock<&'static CudaBackend>,
    pub(crate) ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    pub(crate) kernels: KernelCache,
    pub(crate) blas: CudaBlas,
    pub(crate) dnn: Option<Dnn>,
    dnn_status: String,
    /// One `u32` of error bits set by kernels (invalid class ids); see `check_flags`.
    flags: CudaSlice<u32>,
    name: String,
    compute_capability: (i32, i32),
}

impl std::fmt::Debug for CudaBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CudaBackend")
            .field("ordinal", &self.ordinal)
            .field("name", &self.name)
            .field("compute_capability", &self.compute_capability)
            .field("arch", &self.kernels.arch())
            .field("cudnn", &self.dnn_status)
            .finish()
    }
}

impl CudaBackend {
    /// Creates the backend of GPU `ordinal`. The caller has checked that the driver, NVRTC
    /// and cuBLAS libraries are present and that the ordinal exists.
    pub(crate) fn create(ordinal: usize) -> Result<Self> {
        let ctx = CudaContext::new(ordinal).cuda(ordinal, "creating the CUDA context")?;
        // SAFETY: every allocation and launch of this backend goes to the one stream made
        // below, so stream order alone orders all accesses (see the type's docs).
        unsafe { ctx.disable_event_tracking() };
        let stream = ctx.new_stream().cuda(ordinal, "creating the stream")?;
        keep_freed_memory_cached(&ctx);
        let (major, minor) = ctx
            .compute_capability()
            .cuda(ordinal, "reading the compute capability")?;
        let name = ctx.name().unwrap_or_else(|_| "unknown GPU".to_string());
        let kernels = KernelCache::new(ordinal, major * 10 + minor)?;
        let blas = CudaBlas::new(stream.clone()).cuda(ordinal, "creating the cuBLAS handle")?;
        super::blas::no_tf32(&blas)
            .map_err(|e| cuda_error(ordinal, "setting the cuBLAS math mode", e))?;
        let (dnn, dnn_status) = Self::make_dnn(ordinal, &stream);
        let flags = stream
            .alloc_zeros::<u32>(1)
            .cuda(ordinal, "allocating the error flag")?;
        Ok(CudaBackend {
            ordinal,
            this: OnceLock::new(),
            ctx,
            stream,
            kernels,
            blas,
            dnn,
            dnn_status,
            flags,
            name,
            compute_capability: (major, minor),
        })
    }

    fn make_dnn(ordinal: usize, stream: &Arc<CudaStream>) -> (Option<Dnn>, String) {
        let forced = std::env::var(CONV_ENGINE_ENV).unwrap_or_default();
        if forced.eq_ignore_ascii_case("im2col") {
            return (None, format!("off ({CONV_ENGINE_ENV}=im2col)"));
        }
        if !is_present(CudaLib::Cudnn) {
            return (
                None,
                format!("off: {}", super::probe::missing_message(CudaLib::Cudnn)),
            );
        }
        match Dnn::new(stream) {
            Ok(d) => (Some(d), "on".to_string()),
            Err(e) => (
                None,
                format!("off: cuDNN failed to start on device {ordinal}: {e}"),
            ),
        }
    }

    /// Records the `'static` reference this backend lives at (done once by the registry).
    pub(crate) fn set_static(&'static self) {
        let _ = self.this.set(self);
    }

    /// This backend as a `'static` reference, for storages it allocates.
    pub(crate) fn this(&self) -> &'static CudaBackend {
        self.this
            .get()
            .copied()
            .expect("CUDA backends are only handed out by the registry, after set_static")
    }

    /// The CUDA ordinal of the GPU.
    pub fn ordinal(&self) -> usize {
        self.ordinal
    }

    /// The GPU's name as the driver reports it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The GPU's compute capability `(major, minor)`.
    pub fn compute_capability(&self) -> (i32, i32) {
        self.compute_capability
    }

    /// Whether convolutions use cuDNN (else our im2col + cuBLAS kernels), and why not.
    pub fn conv_engine(&self) -> &str {
        &self.dnn_status
    }

    /// The device's stream.
    pub(crate) fn stream(&self) -> &Arc<CudaStream> {
        &self.stream
    }

    /// The device as a [`Device`].
    pub(crate) fn device_id(&self) -> Device {
        Device::Cuda(self.ordinal)
    }

    /// Uninitialised storage for `len` elements (the kernels write every element).
    pub(crate) fn alloc(&self, dtype: DType, len: usize) -> Result<CudaStorage> {
        let n = len.max(1);
        // SAFETY: the memory is uninitialised; every caller fills all `len` elements with a
        // kernel or copy enqueued before any read.
        let data = match dtype {
            DType::F32 => unsafe { self.stream.alloc::<f32>(n) }.map(CudaData::F32),
            DType::F64 => unsafe { self.stream.alloc::<f64>(n) }.map(CudaData::F64),
        }
        .map_err(|e| cuda_error(self.ordinal, &format!("allocating {len} x {dtype}"), e))?;
        Ok(CudaStorage::new(self.this(), len, data))
    }

    /// Storage for `len` zeros.
    pub(crate) fn alloc_zeros(&self, dtype: DType, len: usize) -> Result<CudaStorage> {
        let n = len.max(1);
        let data = match dtype {
            DType::F32 => self.stream.alloc_zeros::<f32>(n).map(CudaData::F32),
            DType::F64 => self.stream.alloc_zeros::<f64>(n).map(CudaData::F64),
        }
        .map_err(|e| cuda_error(self.ordinal, &format!("allocating {len} x {dtype}"), e))?;
        Ok(CudaStorage::new(self.this(), len, data))
    }

    /// Uninitialised `f64` scratch space of `len` elements (at least one).
    pub(crate) fn scratch_f64(&self, len: usize) -> Result<CudaSlice<f64>> {
        // SAFETY: scratch is written by a kernel before it is read.
        unsafe { self.stream.alloc::<f64>(len.max(1)) }.cuda(self.ordinal, "allocating scratch")
    }

    /// A device copy of `src` (stream-ordered, no synchronisation).
    pub(crate) fn copy_storage(&self, src: &CudaStorage) -> Result<CudaStorage> {
        let mut out = self.alloc(src.dtype(), src.len())?;
        if !src.is_empty() {
            let bytes = src.len() * src.dtype().size_in_bytes();
            self.copy_bytes(src.ptr(), out_ptr(&mut out), bytes)?;
        }
        Ok(out)
    }

    /// Enqueues a device-to-device copy of `bytes` bytes.
    pub(crate) fn copy_bytes(&self, src: u64, dst: u64, bytes: usize) -> Result<()> {
        self.ctx
            .bind_to_thread()
            .cuda(self.ordinal, "binding the context")?;
        // SAFETY: both addresses point into live allocations of this device of at least
        // `bytes` bytes (callers pass storages' own lengths); the copy is stream-ordered.
        unsafe {
            cudarc::driver::result::memcpy_dtod_async(dst, src, bytes, self.stream.cu_stream())
        }
        .cuda(self.ordinal, "device-to-device copy")
    }

    /// Enqueues setting `bytes` bytes at `dst` to zero.
    pub(crate) fn memset_zero(&self, dst: u64, bytes: usize) -> Result<()> {
        self.ctx
            .bind_to_thread()
            .cuda(self.ordinal, "binding the context")?;
        // SAFETY: `dst` points into a live allocation of this device of at least `bytes`
        // bytes; the memset is stream-ordered.
        unsafe { cudarc::driver::result::memset_d8_async(dst, 0, bytes, self.stream.cu_stream()) }
            .cuda(self.ordinal, "memset")
    }

    /// The CUDA storage of `t`, which must live on this device.
    pub(crate) fn storage_of<'t>(
        &self,
        op: &'static str,
        t: &'t Tensor,
    ) -> Result<&'t CudaStorage> {
        match t.storage() {
            Storage::Cuda(s) if s.ordinal() == self.ordinal => Ok(s),
            _ => Err(TensorError::DeviceMismatch {
                op,
                lhs: self.device_id(),
                rhs: t.device(),
            }),
        }
    }

    /// The CUDA storages of `a` and `b`, which must live on this device with one dtype.
    pub(crate) fn pair_of<'t>(
        &self,
        op: &'static str,
        a: &'t Tensor,
        b: &'t Tensor,
    ) -> Result<(&'t CudaStorage, &'t CudaStorage)> {
        let (x, y) = (self.storage_of(op, a)?, self.storage_of(op, b)?);
        if x.dtype() != y.dtype() {
            return Err(TensorError::DTypeMismatch {
                op,
                lhs: x.dtype(),
                rhs: y.dtype(),
            });
        }
        Ok((x, y))
    }

    /// The device address of the error flag, for kernels that validate data.
    pub(crate) fn flags_ptr(&self) -> u64 {
        self.flags_addr()
    }

    fn flags_addr(&self) -> u64 {
        use cudarc::driver::DevicePtr;
        self.flags.device_ptr(&self.stream).0
    }

    /// Waits for all enqueued work, then reports (and clears) errors that kernels flagged
    /// and errors the driver recorded where none could be returned.
    pub(crate) fn synchronize_and_check(&self) -> Result<()> {
        self.stream
            .synchronize()
            .cuda(self.ordinal, "synchronising the stream")?;
        self.ctx
            .check_err()
            .cuda(self.ordinal, "an earlier asynchronous CUDA call")?;
        let bits = self
            .stream
            .clone_dtoh(&self.flags)
            .cuda(self.ordinal, "reading the error flag")?;
        let bits = bits.first().copied().unwrap_or(0);
        if bits == 0 {
            return Ok(());
        }
        // Clear the flag so one bad batch is reported once.
        self.memset_zero(self.flags_addr(), std::mem::size_of::<u32>())?;
        Err(flag_error(bits))
    }
}

/// The error an error-flag word stands for.
fn flag_error(bits: u32) -> TensorError {
    if bits & 1 != 0 {
        TensorError::InvalidArgument {
            op: "cross_entropy",
            reason: "a target was not a class id in 0..C (detected on the GPU; the loss of that row is NaN)"
                .to_string(),
        }
    } else {
        TensorError::InvalidArgument {
            op: "gather",
            reason: format!("a kernel found an index out of range (error bits {bits:#x})"),
        }
    }
}

/// The device address of a storage about to be written.
pub(crate) fn out_ptr(s: &mut CudaStorage) -> u64 {
    s.ptr()
}

/// Raises the release threshold of the device's default memory pool to the maximum, so
/// that memory freed with `cuMemFreeAsync` stays in the pool for reuse (best effort).
fn keep_freed_memory_cached(ctx: &Arc<CudaContext>) {
    use cudarc::driver::sys;
    if !ctx.has_async_alloc() {
        return;
    }
    let mut pool: sys::CUmemoryPool = std::ptr::null_mut();
    // SAFETY: out-parameter query on a valid device handle.
    let got = unsafe { sys::cuDeviceGetDefaultMemPool(&mut pool, ctx.cu_device()) };
    if got != sys::CUresult::CUDA_SUCCESS || pool.is_null() {
        return;
    }
    let mut threshold: u64 = u64::MAX;
    // SAFETY: the attribute takes a pointer to a `cuuint64_t`.
    let _ = unsafe {
        sys::cuMemPoolSetAttribute(
            pool,
            sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
            (&mut threshold as *mut u64).cast(),
        )
    };
}
