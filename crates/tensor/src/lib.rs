//! # tensor
//!
//! Tensors of `f32` or `f64` on the CPU (ndarray + rayon kernels) or, through the same
//! [`Backend`] trait, on a GPU. A [`Tensor`] is a cheap handle (shared storage plus shape)
//! that is not generic over its device: the device is chosen at run time, every op checks
//! its arguments and returns a typed [`TensorError`], then dispatches once to the backend of
//! the tensors' device.
//!
//! On the CPU a tensor *is* an ndarray array: its storage is a shared, copy-on-write
//! [`ndarray::ArcArray`], so [`Tensor::from_ndarray`] (and `From<Array<T, D>>`) take an
//! array without copying it, and [`Tensor::to_ndarray`] / [`Tensor::ndarray_view`] hand it
//! back without copying (see `interop.rs`). `ndarray` is re-exported for that use.
//!
//! Op families live in `ops/<family>/` with their backend trait, their public methods and
//! their kernels per device side by side.

mod backend;
mod cpu;
#[cfg(feature = "cuda")]
pub mod cuda;
mod device;
mod dispatch;
mod dtype;
mod error;
mod interop;
pub mod npy;
pub mod ops;
pub mod prerequisite;
pub mod profile;
mod random;
pub mod shape;
mod storage;
mod tensor;

pub use ndarray;

pub use backend::{Backend, MemoryOps};
pub use cpu::pool::{
    buffer_pool_bytes, buffer_pool_limit, clear_buffer_pool, set_buffer_pool_limit,
    DEFAULT_BUFFER_POOL_BYTES,
};
pub use cpu::{init_cpu_threads, with_busy_workers, CpuBackend};
#[cfg(feature = "cuda")]
pub use cuda::{CudaBackend, CudaStorage};
pub use device::{Device, ParseDeviceError};
pub use dispatch::backend_for;
pub use dtype::{CpuFloat, DType};
pub use error::{Result, TensorError};
pub use ops::conv::Conv2dGeometry;
pub use ops::elementwise::{BinaryOp, UnaryOp};
pub use ops::matmul::MatmulDims;
pub use ops::norm::{
    NormForward, NormGeometry, NormGrads, NormInput, NormLayout, NormPlan, NormStats, StatGrad,
    Variance,
};
pub use ops::reduce::ReduceOp;
pub use prerequisite::{Prerequisite, Unmet};
pub use storage::{CpuArray, CpuStorage, Element, Storage};
pub use tensor::{Dims, Tensor};
