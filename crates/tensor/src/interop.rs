//! Conversions between tensors and `ndarray` arrays. On the CPU they share one buffer.
//!
//! * ndarray -> tensor ([`Tensor::from_ndarray`], `From<Array<T, D>>`, `From<ArcArray<T, D>>`):
//!   an array in standard (row-major, contiguous) layout is taken as it is, without copying
//!   its elements. Any other layout (a transpose, Fortran order, a strided or reversed
//!   slice) is copied once into row-major order, so the tensor always holds the array's
//!   *logical* elements `a[[i, j, ...]]` at row-major positions.
//! * tensor -> ndarray ([`Tensor::to_ndarray`], [`Tensor::ndarray_view`],
//!   [`Tensor::into_ndarray`]): the tensor's shape is put on its flat buffer; no element
//!   is copied (`into_ndarray` copies only when another tensor still shares the buffer).
//!   The element type must be the tensor's and the tensor must be in host memory,
//!   otherwise the result is a typed [`TensorError`].

use ndarray::{
    ArcArray, Array, Array1, ArrayBase, ArrayD, ArrayViewD, DataOwned, Dimension, IxDyn,
};

use crate::storage::{CpuArray, Element, Storage};
use crate::{Result, Tensor, TensorError};

impl Tensor {
    /// A CPU tensor of the array's shape and logical elements. No copy when the array is in
    /// standard layout (the tensor takes its buffer); one copy into row-major order
    /// otherwise.
    pub fn from_ndarray<T, S, D>(a: ArrayBase<S, D>) -> Tensor
    where
        T: Element,
        S: DataOwned<Elem = T>,
        D: Dimension,
    {
        let shape = a.shape().to_vec();
        let len = a.len();
        let shared: ArcArray<T, D> = a.into_shared();
        let reshaped = if shared.is_standard_layout() {
            // A clone shares the buffer; `shared` is dropped below, so the result is unique.
            shared.clone().into_shape_with_order(len).ok()
        } else {
            None
        };
        let flat = match reshaped {
            Some(flat) => flat,
            None => Array1::from_iter(shared.iter().copied()).into_shared(),
        };
        Tensor::from_cpu_storage(T::array_into_storage(CpuArray::from_array(flat)), shape)
    }

    /// The elements as an `ndarray` array of the tensor's shape, sharing the tensor's
    /// buffer (no copy; an in-place update of either side later copies first).
    ///
    /// Errors: `T` is not the tensor's element type ([`TensorError::DTypeMismatch`]), or
    /// the tensor is on a GPU ([`TensorError::NotOnHost`]).
    pub fn to_ndarray<T: Element>(&self) -> Result<ArcArray<T, IxDyn>> {
        let flat = self.host_array::<T>("to_ndarray")?.as_array().clone();
        flat.into_shape_with_order(IxDyn(self.shape()))
            .map_err(|e| TensorError::InvalidShape {
                op: "to_ndarray",
                reason: e.to_string(),
            })
    }

    /// A borrowed `ndarray` view of the elements with the tensor's shape (no copy).
    /// Errors as for [`Tensor::to_ndarray`].
    pub fn ndarray_view<T: Element>(&self) -> Result<ArrayViewD<'_, T>> {
        let slice = self.host_array::<T>("ndarray_view")?.as_slice();
        ArrayViewD::from_shape(IxDyn(self.shape()), slice).map_err(|e| TensorError::InvalidShape {
            op: "ndarray_view",
            reason: e.to_string(),
        })
    }

    /// The elements as an owned `ndarray` array: the buffer itself when no other tensor
    /// shares it, else one copy. Errors as for [`Tensor::to_ndarray`].
    pub fn into_ndarray<T: Element>(self) -> Result<ArrayD<T>> {
        let shared = self.to_ndarray::<T>()?;
        drop(self);
        Ok(shared.into_owned())
    }

    /// The host array behind the tensor, checked for element type and device.
    fn host_array<T: Element>(&self, op: &'static str) -> Result<&CpuArray<T>> {
        match self.storage() {
            Storage::Cpu(s) => T::array(s).ok_or(TensorError::DTypeMismatch {
                op,
                lhs: self.dtype(),
                rhs: T::DTYPE,
            }),
            #[cfg(feature = "cuda")]
            Storage::Cuda(s) => Err(TensorError::NotOnHost {
                op,
                device: s.device(),
            }),
        }
    }
}

impl<T: Element, D: Dimension> From<Array<T, D>> for Tensor {
    /// See [`Tensor::from_ndarray`]: no copy in standard layout.
    fn from(a: Array<T, D>) -> Tensor {
        Tensor::from_ndarray(a)
    }
}

impl<T: Element, D: Dimension> From<ArcArray<T, D>> for Tensor {
    /// See [`Tensor::from_ndarray`]: shares the buffer in standard layout.
    fn from(a: ArcArray<T, D>) -> Tensor {
        Tensor::from_ndarray(a)
    }
}

impl<T: Element> TryFrom<&Tensor> for ArcArray<T, IxDyn> {
    type Error = TensorError;
    /// See [`Tensor::to_ndarray`].
    fn try_from(t: &Tensor) -> Result<Self> {
        t.to_ndarray()
    }
}

impl<T: Element> TryFrom<Tensor> for ArrayD<T> {
    type Error = TensorError;
    /// See [`Tensor::into_ndarray`].
    fn try_from(t: Tensor) -> Result<Self> {
        t.into_ndarray()
    }
}
