//! The backend trait: every kernel a device must provide, grouped by op family.
//!
//! Each family's trait is declared beside its public `Tensor` methods in `ops/<family>/mod.rs`
//! and implemented per device in `ops/<family>/cpu.rs` (and `cuda.rs`). Callers never see the
//! backend: `Tensor` methods validate their arguments, then dispatch once per call.
//!
//! This file only declares: it names no concrete backend. Choosing the backend for a
//! device is `dispatch.rs`'s job, so the dependency runs one way, from the kernels
//! (`ops/<family>/cpu.rs`, `cuda.rs`) and the dispatcher to the declarations.

use crate::ops::conv::ConvOps;
use crate::ops::elementwise::ElementwiseOps;
use crate::ops::layout::LayoutOps;
use crate::ops::loss::LossOps;
use crate::ops::matmul::MatmulOps;
use crate::ops::norm::NormOps;
use crate::ops::reduce::ReduceOps;
use crate::ops::update::UpdateOps;
use std::sync::Arc;

use crate::storage::{CpuStorage, Storage};
use crate::{DType, Device, Result};

/// Memory management a device provides: creation, host transfer, casts.
pub trait MemoryOps {
    /// The device this backend computes on.
    fn device(&self) -> Device;
    /// `len` copies of `value`, behind the `Arc` a tensor holds (the CPU backend hands
    /// out a recycled one when it has one).
    fn full(&self, len: usize, value: f64, dtype: DType) -> Result<Arc<Storage>>;
    /// Copies host data onto this device.
    #[allow(clippy::wrong_self_convention)]
    fn from_host(&self, host: CpuStorage) -> Result<Storage>;
    /// Copies this device's data to the host.
    fn to_host(&self, storage: &Storage) -> Result<CpuStorage>;
    /// Converts the element type.
    fn cast(&self, storage: &Storage, dtype: DType) -> Result<Storage>;
}

/// Everything a device must implement.
pub trait Backend:
    MemoryOps
    + ElementwiseOps
    + ReduceOps
    + LayoutOps
    + MatmulOps
    + ConvOps
    + LossOps
    + UpdateOps
    + NormOps
    + Send
    + Sync
{
}

impl<T> Backend for T where
    T: MemoryOps
        + ElementwiseOps
        + ReduceOps
        + LayoutOps
        + MatmulOps
        + ConvOps
        + LossOps
        + UpdateOps
        + NormOps
        + Send
        + Sync
{
}
