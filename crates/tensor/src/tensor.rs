//! The [`Tensor`]: cheap to clone (shared storage), contiguous row-major, on a [`Device`].

use std::fmt;
use std::sync::Arc;

use smallvec::SmallVec;

use crate::backend::Backend;
use crate::cpu::pool::StorageHandle;
use crate::dispatch::backend_for;
use crate::shape::numel;
use crate::storage::{CpuStorage, Element, Storage};
use crate::{DType, Device, Result, TensorError};

/// An n-dimensional array of `f32` or `f64` on the CPU or a GPU.
///
/// Cloning shares the storage; in-place updates (`add_scaled_`, `lerp_`, ...) copy the
/// storage first when it is shared (copy-on-write), so a clone never sees another's update.
#[derive(Clone)]
pub struct Tensor {
    storage: StorageHandle,
    shape: Dims,
}

/// A tensor's dimensions, held inline up to four (NCHW), so that making or cloning a
/// tensor of rank ≤ 4 allocates nothing for its shape.
pub type Dims = SmallVec<[usize; 4]>;

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Tensor({:?}, {}, {})",
            self.shape,
            self.dtype(),
            self.device()
        )
    }
}

impl Tensor {
    /// Wraps a storage whose length equals the product of `shape` (checked in debug builds).
    pub fn from_storage(storage: Storage, shape: impl AsRef<[usize]>) -> Self {
        Self::with_dims(storage, Dims::from_slice(shape.as_ref()))
    }

    fn with_dims(storage: Storage, shape: Dims) -> Self {
        Self::from_shared_storage(Arc::new(storage), shape)
    }

    /// Wraps a storage behind its `Arc` (a new one, or a recycled result buffer).
    pub(crate) fn from_shared_storage(storage: Arc<Storage>, shape: Dims) -> Self {
        debug_assert_eq!(
            storage.len(),
            numel(&shape),
            "storage length vs shape {shape:?}"
        );
        Tensor {
            storage: StorageHandle::new(storage),
            shape,
        }
    }

    /// Wraps host data already in CPU memory.
    pub fn from_cpu_storage(storage: CpuStorage, shape: impl AsRef<[usize]>) -> Self {
        Self::from_storage(Storage::Cpu(storage), shape)
    }

    /// A tensor holding `data` (row-major) with this shape, on `device`.
    pub fn from_vec<T: Element>(data: Vec<T>, shape: &[usize], device: Device) -> Result<Self> {
        let expected = crate::shape::checked_numel("from_vec", shape)?;
        if data.len() != expected {
            return Err(TensorError::DataLength {
                op: "from_vec",
                len: data.len(),
                shape: shape.to_vec(),
                expected,
            });
        }
        let cpu = Self::from_cpu_storage(T::into_storage(data), shape);
        cpu.to_device(device)
    }

    /// A tensor copied from a host slice.
    pub fn from_slice<T: Element>(data: &[T], shape: &[usize], device: Device) -> Result<Self> {
        Self::from_vec(data.to_vec(), shape, device)
    }

    /// A tensor of `shape` filled with `value`.
    pub fn full(shape: &[usize], value: f64, dtype: DType, device: Device) -> Result<Self> {
        let backend = backend_for(device)?;
        let len = crate::shape::checked_numel("full", shape)?;
        let storage = backend.full(len, value, dtype)?;
        Ok(Self::from_shared_storage(storage, Dims::from_slice(shape)))
    }

    /// Zeros.
    pub fn zeros(shape: &[usize], dtype: DType, device: Device) -> Result<Self> {
        Self::full(shape, 0.0, dtype, device)
    }

    /// Ones.
    pub fn ones(shape: &[usize], dtype: DType, device: Device) -> Result<Self> {
        Self::full(shape, 1.0, dtype, device)
    }

    /// A 0-dimensional tensor.
    pub fn scalar(value: f64, dtype: DType, device: Device) -> Result<Self> {
        Self::full(&[], value, dtype, device)
    }

    /// Same shape, dtype and device, filled with `value`.
    pub fn full_like(&self, value: f64) -> Result<Self> {
        Self::full(&self.shape, value, self.dtype(), self.device())
    }

    /// Zeros shaped like `self`.
    pub fn zeros_like(&self) -> Result<Self> {
        self.full_like(0.0)
    }

    /// Ones shaped like `self`.
    pub fn ones_like(&self) -> Result<Self> {
        self.full_like(1.0)
    }

    /// The dimensions.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The dimensions (alias of [`Tensor::shape`]).
    pub fn dims(&self) -> &[usize] {
        &self.shape
    }

    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.storage.dtype()
    }

    /// The device the elements live on.
    pub fn device(&self) -> Device {
        match &**self.storage {
            Storage::Cpu(_) => Device::Cpu,
            #[cfg(feature = "cuda")]
            Storage::Cuda(s) => s.device(),
        }
    }

    /// The backend that computes on this tensor's device.
    pub fn backend(&self) -> &'static dyn Backend {
        match &**self.storage {
            Storage::Cpu(_) => &crate::cpu::CpuBackend,
            #[cfg(feature = "cuda")]
            Storage::Cuda(s) => s.backend(),
        }
    }

    /// The raw storage.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Mutable storage, copied first if shared with another tensor.
    pub fn storage_mut(&mut self) -> &mut Storage {
        Arc::make_mut(&mut self.storage)
    }

    /// The host storage; an error for tensors on a GPU.
    pub fn cpu_storage(&self) -> Result<&CpuStorage> {
        match &**self.storage {
            Storage::Cpu(s) => Ok(s),
            #[cfg(feature = "cuda")]
            Storage::Cuda(s) => Err(TensorError::DeviceMismatch {
                op: "cpu_storage",
                lhs: Device::Cpu,
                rhs: s.device(),
            }),
        }
    }

    /// Whether two tensors share one storage (a view or clone of each other, or two
    /// tensors made from one host buffer without a copy).
    pub fn shares_storage(&self, other: &Tensor) -> bool {
        if Arc::ptr_eq(&self.storage, &other.storage) {
            return true;
        }
        match (&**self.storage, &**other.storage) {
            (Storage::Cpu(a), Storage::Cpu(b)) => {
                !a.is_empty() && a.dtype() == b.dtype() && a.data_ptr() == b.data_ptr()
            }
            #[cfg(feature = "cuda")]
            _ => false,
        }
    }

    /// Copies the elements to a host vector; `T` must be the tensor's element type.
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        if T::DTYPE != self.dtype() {
            return Err(TensorError::DTypeMismatch {
                op: "to_vec",
                lhs: self.dtype(),
                rhs: T::DTYPE,
            });
        }
        let host = self.backend().to_host(&self.storage)?;
        Ok(T::slice(&host).expect("dtype checked above").to_vec())
    }

    /// Copies the elements to a host `Vec<f64>`, converting from any element type.
    pub fn to_vec_f64(&self) -> Result<Vec<f64>> {
        let host = self.backend().to_host(&self.storage)?;
        Ok(match host {
            CpuStorage::F64(v) => v.to_vec(),
            CpuStorage::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
        })
    }

    /// Copies the elements to a host `Vec<f32>`, converting from any element type.
    pub fn to_vec_f32(&self) -> Result<Vec<f32>> {
        let host = self.backend().to_host(&self.storage)?;
        Ok(match host {
            CpuStorage::F32(v) => v.to_vec(),
            CpuStorage::F64(v) => v.iter().map(|&x| x as f32).collect(),
        })
    }

    /// The single element of a one-element tensor, as `f64`.
    pub fn to_scalar(&self) -> Result<f64> {
        if self.numel() != 1 {
            return Err(TensorError::InvalidShape {
                op: "to_scalar",
                reason: format!("expected one element, the shape is {:?}", self.shape),
            });
        }
        // Read in place (no `Vec`): a CPU tensor's storage is shared, not copied.
        let host = self.backend().to_host(&self.storage)?;
        let first = match host {
            CpuStorage::F64(v) => v.iter().next().copied(),
            CpuStorage::F32(v) => v.iter().next().map(|&x| f64::from(x)),
        };
        // `ok_or_else`: the error's message is only built when there is an error.
        first.ok_or_else(|| TensorError::InvalidShape {
            op: "to_scalar",
            reason: "the storage holds no element".to_string(),
        })
    }

    /// The same elements under a new shape with the same number of elements (no copy).
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        if crate::shape::checked_numel("reshape", shape)? != self.numel() {
            return Err(TensorError::ShapeMismatch {
                op: "reshape",
                lhs: self.shape.to_vec(),
                rhs: shape.to_vec(),
            });
        }
        Ok(Tensor {
            storage: self.storage.clone(),
            shape: Dims::from_slice(shape),
        })
    }

    /// Flattens every dimension from `start` on into one (no copy).
    pub fn flatten_from(&self, start: usize) -> Result<Tensor> {
        if start > self.rank() {
            return Err(TensorError::InvalidAxis {
                op: "flatten_from",
                axis: start as isize,
                rank: self.rank(),
            });
        }
        let mut shape = self.shape[..start].to_vec();
        shape.push(numel(&self.shape[start..]));
        self.reshape(&shape)
    }

    /// A copy on `device` (a cheap clone when it is already there).
    pub fn to_device(&self, device: Device) -> Result<Tensor> {
        if device == self.device() {
            return Ok(self.clone());
        }
        let host = self.backend().to_host(&self.storage)?;
        let target = backend_for(device)?;
        Ok(Tensor::with_dims(
            target.from_host(host)?,
            self.shape.clone(),
        ))
    }

    /// A copy with elements converted to `dtype` (a cheap clone when it already is).
    pub fn to_dtype(&self, dtype: DType) -> Result<Tensor> {
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        let storage = self.backend().cast(&self.storage, dtype)?;
        Ok(Tensor::with_dims(storage, self.shape.clone()))
    }

    /// A deep copy that shares nothing with `self`.
    pub fn deep_clone(&self) -> Tensor {
        let storage = match &**self.storage {
            // Cloning a host array only shares its buffer: copy the elements.
            Storage::Cpu(s) => Storage::Cpu(s.deep_copy()),
            #[cfg(feature = "cuda")]
            Storage::Cuda(s) => Storage::Cuda(s.clone()),
        };
        Tensor::with_dims(storage, self.shape.clone())
    }

    /// Error unless both tensors have the same device and element type.
    pub fn check_compatible(&self, op: &'static str, other: &Tensor) -> Result<()> {
        if self.device() != other.device() {
            return Err(TensorError::DeviceMismatch {
                op,
                lhs: self.device(),
                rhs: other.device(),
            });
        }
        if self.dtype() != other.dtype() {
            return Err(TensorError::DTypeMismatch {
                op,
                lhs: self.dtype(),
                rhs: other.dtype(),
            });
        }
        Ok(())
    }

    /// Error unless both tensors have the same shape (and device and dtype).
    pub fn check_same_shape(&self, op: &'static str, other: &Tensor) -> Result<()> {
        self.check_compatible(op, other)?;
        if self.shape != other.shape {
            return Err(TensorError::ShapeMismatch {
                op,
                lhs: self.shape.to_vec(),
                rhs: other.shape.to_vec(),
            });
        }
        Ok(())
    }

    /// Bit-exact equality of shape, dtype, device and elements (for tests and checkpoints).
    pub fn bit_eq(&self, other: &Tensor) -> bool {
        if self.shape != other.shape || self.dtype() != other.dtype() {
            return false;
        }
        match (self.to_vec_f64(), other.to_vec_f64()) {
            (Ok(a), Ok(b)) => a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
            _ => false,
        }
    }
}
