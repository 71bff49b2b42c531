//! Choosing the backend for a device: the one place that names the concrete backends.

use crate::backend::Backend;
#[cfg(not(feature = "cuda"))]
use crate::TensorError;
use crate::{Device, Result};

/// The backend for a device, or a typed error when the device is not available.
pub fn backend_for(device: Device) -> Result<&'static dyn Backend> {
    match device {
        Device::Cpu => Ok(&crate::cpu::CpuBackend),
        #[cfg(feature = "cuda")]
        Device::Cuda(n) => Ok(crate::cuda::backend(n)?),
        #[cfg(not(feature = "cuda"))]
        Device::Cuda(_) => Err(TensorError::DeviceUnavailable {
            device,
            reason: "this build has no CUDA backend (the tensor crate's `cuda` feature is off)"
                .to_string(),
        }),
    }
}
