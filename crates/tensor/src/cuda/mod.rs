//! The CUDA backend: tensors in GPU memory, computed by our own CUDA C kernels (compiled at
//! run time by NVRTC), cuBLAS for matrix products and cuDNN for convolutions.
//!
//! # Organisation
//!
//! * `registry` — one [`CudaBackend`] per GPU, created on first use of `Device::Cuda(n)`
//!   and kept for the process; creation probes for each library first (`probe`), because
//!   cudarc's loader panics on a missing one, so every failure is a typed
//!   [`crate::TensorError::DeviceUnavailable`] naming what is missing.
//! * `device` — the backend of one GPU: its context, its single stream (all work, in
//!   issue order), the stream-ordered memory pool (freed blocks kept cached), the cuBLAS
//!   handle, the optional cuDNN state and a device error flag.
//! * `storage` — [`CudaStorage`], a typed device allocation; `memory` — creation, host
//!   transfers (`to_host` is the only place that waits for the GPU) and casts.
//! * `kernels` — NVRTC compilation of each family's `.cu` file (after `common.cuh`), once
//!   per process and device, with an on-disk PTX cache; `launch` — argument lists, launch
//!   configurations and the strided-operand metadata of broadcasting kernels.
//! * `blas` — row-major (batched) GEMM on cuBLAS; `dnn` — cuDNN convolution plans.
//! * The kernels of each op family live beside its CPU kernels:
//!   `ops/<family>/cuda.rs` (the family's backend trait for [`CudaBackend`]) and
//!   `ops/<family>/<family>.cu` (its CUDA C), e.g. `ops/elementwise/elementwise.cu`.

mod blas;
mod device;
mod dnn;
#[cfg(test)]
mod entries;
mod error;
mod kernels;
mod launch;
mod memory;
mod probe;
mod registry;
mod storage;

pub(crate) use blas::RowMajorGemm;
pub use device::{CudaBackend, CONV_ENGINE_ENV};
pub(crate) use dnn::Pass;
pub(crate) use kernels::{Family, KernelSource};
pub(crate) use launch::{elementwise_config, i64_of, one_block, rows_config, Arg, Strided};
pub(crate) use memory::slice_ptr;
pub(crate) use registry::backend;
pub use storage::CudaStorage;

/// Whether a CUDA GPU can be used: the driver library loads and reports at least one
/// device. (The other libraries are checked when a device is first used.)
pub fn is_available() -> bool {
    registry::device_count() > 0
}

/// The backend of GPU `ordinal` (created on first use), for inspecting it: its name,
/// compute capability and convolution engine. Errors as [`crate::backend_for`].
pub fn device(ordinal: usize) -> crate::Result<&'static CudaBackend> {
    registry::backend(ordinal)
}

/// Number of CUDA GPUs visible to this process (0 without a driver or GPU).
pub fn device_count() -> usize {
    registry::device_count()
}

/// Every family's kernel source, for checks that need no GPU.
#[cfg(test)]
pub(crate) fn all_sources() -> Vec<&'static KernelSource> {
    vec![
        &memory::MEMORY_KERNELS,
        &crate::ops::elementwise::cuda::KERNELS,
        &crate::ops::reduce::cuda::KERNELS,
        &crate::ops::layout::cuda::KERNELS,
        &crate::ops::conv::cuda::KERNELS,
        &crate::ops::loss::cuda::KERNELS,
        &crate::ops::update::cuda::KERNELS,
        &crate::ops::norm::cuda::KERNELS,
    ]
}
