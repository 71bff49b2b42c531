//! CUDA kernels of the in-place update family (`update.cu`): one flat pass each, writing
//! through the storage that copy-on-write has already made unique.

use super::UpdateOps;
use crate::cuda::{
    elementwise_config, i64_of, Arg, CudaBackend, CudaStorage, Family, KernelSource,
};
use crate::storage::Storage;
use crate::{DType, Result, TensorError};

pub(crate) static KERNELS: KernelSource = KernelSource {
    family: Family::Update,
    name: "update",
    source: include_str!("update.cu"),
    entries: &["axpby", "scale", "fill"],
};

impl CudaBackend {
    /// Enqueues writing `value` (rounded to `dtype`) to `len` elements at device address `y`.
    pub(crate) fn fill_ptr(&self, dtype: DType, y: u64, len: usize, value: f64) -> Result<()> {
        if len == 0 {
            return Ok(());
        }
        let args = [i64_of(len), Arg::F64(value), Arg::Ptr(y)];
        self.launch(&KERNELS, "fill", dtype, elementwise_config(len), &args)
    }

    /// The CUDA storage inside a mutable storage, which must be on this device.
    fn own_mut<'s>(&self, op: &'static str, y: &'s mut Storage) -> Result<&'s mut CudaStorage> {
        let device = match &*y {
            Storage::Cuda(s) => s.device(),
            Storage::Cpu(_) => crate::Device::Cpu,
        };
        match y {
            Storage::Cuda(s) if device == self.device_id() => Ok(s),
            _ => Err(TensorError::DeviceMismatch {
                op,
                lhs: self.device_id(),
                rhs: device,
            }),
        }
    }
}

impl UpdateOps for CudaBackend {
    fn axpby(&self, y: &mut Storage, x: &Storage, a: f64, b: f64) -> Result<()> {
        let xs = self.own("axpby", x)?;
        let (x_ptr, x_len, x_dtype) = (xs.ptr(), xs.len(), xs.dtype());
        let ys = self.own_mut("axpby", y)?;
        if ys.dtype() != x_dtype {
            return Err(TensorError::DTypeMismatch {
                op: "axpby",
                lhs: ys.dtype(),
                rhs: x_dtype,
            });
        }
        if ys.len() != x_len {
            return Err(TensorError::InvalidArgument {
                op: "axpby",
                reason: format!("{} elements updated from {x_len}", ys.len()),
            });
        }
        let n = ys.len();
        if n > 0 {
            let args = [
                i64_of(n),
                Arg::F64(a),
                Arg::F64(b),
                Arg::Ptr(x_ptr),
                Arg::Ptr(ys.ptr()),
            ];
            self.launch(&KERNELS, "axpby", x_dtype, elementwise_config(n), &args)?;
        }
        Ok(())
    }

    fn scale(&self, y: &mut Storage, factor: f64) -> Result<()> {
        let ys = self.own_mut("scale", y)?;
        let n = ys.len();
        if n > 0 {
            let args = [i64_of(n), Arg::F64(factor), Arg::Ptr(ys.ptr())];
            self.launch(&KERNELS, "scale", ys.dtype(), elementwise_config(n), &args)?;
        }
        Ok(())
    }

    fn fill(&self, y: &mut Storage, value: f64) -> Result<()> {
        let ys = self.own_mut("fill", y)?;
        self.fill_ptr(ys.dtype(), ys.ptr(), ys.len(), value)
    }
}
