//! Mapping the errors of the CUDA libraries (driver, NVRTC, cuBLAS, cuDNN) onto
//! [`TensorError::Cuda`], naming the operation that failed.

use std::fmt::Display;

use crate::{Device, TensorError};

/// A [`TensorError::Cuda`] on device `ordinal`: `"<op>: <library error>"`.
pub(crate) fn cuda_error(ordinal: usize, op: &str, err: impl Display) -> TensorError {
    TensorError::Cuda {
        device: Device::Cuda(ordinal),
        message: format!("{op}: {err}"),
    }
}

/// Extension to attach device and op to any CUDA library result.
pub(crate) trait CudaResultExt<T> {
    /// Converts the library error into a [`TensorError::Cuda`].
    fn cuda(self, ordinal: usize, op: &str) -> crate::Result<T>;
}

impl<T, E: Display> CudaResultExt<T> for std::result::Result<T, E> {
    fn cuda(self, ordinal: usize, op: &str) -> crate::Result<T> {
        self.map_err(|e| cuda_error(ordinal, op, e))
    }
}

/// A [`TensorError::DeviceUnavailable`] for `Device::Cuda(ordinal)`.
pub(crate) fn unavailable(ordinal: usize, reason: impl Into<String>) -> TensorError {
    TensorError::DeviceUnavailable {
        device: Device::Cuda(ordinal),
        reason: reason.into(),
    }
}
