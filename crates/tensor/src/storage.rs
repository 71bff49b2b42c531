//! Where a tensor's elements live. One enum variant per backend; ops dispatch once per call
//! on the variant, never per element.
//!
//! Host memory is an ndarray array: a flat, contiguous [`ArcArray1`] per element type
//! ([`CpuArray`]). `ArcArray` is reference-counted and copy-on-write, which is exactly the
//! tensor's semantics (cheap clones; an in-place update copies first when the buffer is
//! shared), and it lets a user's `ndarray` array become a tensor, and a tensor an `ndarray`
//! array, without copying the elements. The array is kept one-dimensional because the
//! tensor owns the shape (a `reshape` changes only the tensor's shape, never the buffer);
//! [`crate::Tensor::to_ndarray`] puts the shape back on without a copy. Kernels borrow the
//! elements as contiguous slices through `Deref<Target = [T]>`.

use std::ops::{Deref, DerefMut};

use ndarray::{ArcArray1, Array1};

use crate::dtype::{CpuFloat, DType};

/// A contiguous, shared, copy-on-write host buffer: an [`ArcArray1`] whose layout is always
/// standard (stride 1), so it derefs to a slice.
///
/// Cloning shares the buffer; mutable access ([`DerefMut`]) first copies it when another
/// clone still holds it (`ArcArray`'s own copy-on-write).
#[derive(Clone, Debug)]
pub struct CpuArray<T>(ArcArray1<T>);

impl<T: Clone> CpuArray<T> {
    /// Wraps a flat array, copying it once only when it is not contiguous (a strided view
    /// of a larger buffer).
    pub fn from_array(a: ArcArray1<T>) -> Self {
        if a.as_slice().is_some() {
            CpuArray(a)
        } else {
            CpuArray(a.as_standard_layout().into_owned().into_shared())
        }
    }

    /// The flat ndarray array (shares the buffer).
    pub fn as_array(&self) -> &ArcArray1<T> {
        &self.0
    }

    /// The flat ndarray array, by value (no copy).
    pub fn into_array(self) -> ArcArray1<T> {
        self.0
    }

    /// The elements.
    pub fn as_slice(&self) -> &[T] {
        self
    }

    /// The elements, mutably (copied first when the buffer is shared).
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        self
    }

    /// An independent copy that shares nothing with `self`.
    pub fn deep_copy(&self) -> Self {
        CpuArray(self.0.to_owned().into_shared())
    }

    /// Address of the first element (identity of the buffer, for zero-copy checks).
    pub fn as_ptr(&self) -> *const T {
        self.0.as_ptr()
    }

    /// Whether no other array shares the buffer.
    pub fn is_unique(&self) -> bool {
        self.0.is_unique()
    }
}

impl<T> Deref for CpuArray<T> {
    type Target = [T];
    #[inline]
    fn deref(&self) -> &[T] {
        // Invariant: every constructor leaves the array in standard layout.
        self.0
            .as_slice()
            .expect("CpuArray is contiguous by construction")
    }
}

impl<T: Clone> DerefMut for CpuArray<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [T] {
        // `as_slice_mut` makes the buffer unique first (copy-on-write).
        self.0
            .as_slice_mut()
            .expect("CpuArray is contiguous by construction")
    }
}

impl<T: Clone> From<Vec<T>> for CpuArray<T> {
    /// Takes ownership of the vector (no copy).
    fn from(v: Vec<T>) -> Self {
        CpuArray(Array1::from_vec(v).into_shared())
    }
}

impl<T: PartialEq> PartialEq for CpuArray<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

/// Host memory, one variant per element type.
#[derive(Clone, Debug, PartialEq)]
pub enum CpuStorage {
    F32(CpuArray<f32>),
    F64(CpuArray<f64>),
}

impl CpuStorage {
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            CpuStorage::F32(_) => DType::F32,
            CpuStorage::F64(_) => DType::F64,
        }
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            CpuStorage::F32(v) => v.len(),
            CpuStorage::F64(v) => v.len(),
        }
    }
    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// A storage of `len` copies of `value`.
    pub fn full(dtype: DType, len: usize, value: f64) -> Self {
        match dtype {
            DType::F32 => CpuStorage::F32(vec![value as f32; len].into()),
            DType::F64 => CpuStorage::F64(vec![value; len].into()),
        }
    }
    /// Converts every element to `dtype` (shares the buffer when it already has that type).
    pub fn to_dtype(&self, dtype: DType) -> Self {
        match (self, dtype) {
            (CpuStorage::F32(v), DType::F32) => CpuStorage::F32(v.clone()),
            (CpuStorage::F64(v), DType::F64) => CpuStorage::F64(v.clone()),
            (CpuStorage::F32(v), DType::F64) => {
                CpuStorage::F64(CpuArray(v.as_array().mapv(f64::from).into_shared()))
            }
            (CpuStorage::F64(v), DType::F32) => {
                CpuStorage::F32(CpuArray(v.as_array().mapv(|x| x as f32).into_shared()))
            }
        }
    }
    /// An independent copy that shares no buffer with `self`.
    pub fn deep_copy(&self) -> Self {
        match self {
            CpuStorage::F32(v) => CpuStorage::F32(v.deep_copy()),
            CpuStorage::F64(v) => CpuStorage::F64(v.deep_copy()),
        }
    }
    /// Whether no other array shares the buffer.
    pub fn is_unique(&self) -> bool {
        match self {
            CpuStorage::F32(v) => v.is_unique(),
            CpuStorage::F64(v) => v.is_unique(),
        }
    }
    /// Address of the first element, as an untyped pointer (buffer identity).
    pub fn data_ptr(&self) -> *const u8 {
        match self {
            CpuStorage::F32(v) => v.as_ptr().cast(),
            CpuStorage::F64(v) => v.as_ptr().cast(),
        }
    }
}

/// Element types that can cross between host vectors and tensors.
pub trait Element: CpuFloat {
    /// Wraps a host vector.
    fn into_storage(v: Vec<Self>) -> CpuStorage;
    /// Borrows the elements when the storage has this type.
    fn slice(s: &CpuStorage) -> Option<&[Self]>;
    /// Borrows the elements mutably when the storage has this type.
    fn slice_mut(s: &mut CpuStorage) -> Option<&mut [Self]>;
    /// Wraps a host array (no copy).
    fn array_into_storage(a: CpuArray<Self>) -> CpuStorage;
    /// Borrows the host array when the storage has this type.
    fn array(s: &CpuStorage) -> Option<&CpuArray<Self>>;
}

impl Element for f32 {
    fn into_storage(v: Vec<Self>) -> CpuStorage {
        CpuStorage::F32(v.into())
    }
    fn array_into_storage(a: CpuArray<Self>) -> CpuStorage {
        CpuStorage::F32(a)
    }
    fn array(s: &CpuStorage) -> Option<&CpuArray<Self>> {
        match s {
            CpuStorage::F32(v) => Some(v),
            CpuStorage::F64(_) => None,
        }
    }
    fn slice(s: &CpuStorage) -> Option<&[Self]> {
        match s {
            CpuStorage::F32(v) => Some(v.as_slice()),
            CpuStorage::F64(_) => None,
        }
    }
    fn slice_mut(s: &mut CpuStorage) -> Option<&mut [Self]> {
        match s {
            CpuStorage::F32(v) => Some(v.as_mut_slice()),
            CpuStorage::F64(_) => None,
        }
    }
}

impl Element for f64 {
    fn into_storage(v: Vec<Self>) -> CpuStorage {
        CpuStorage::F64(v.into())
    }
    fn array_into_storage(a: CpuArray<Self>) -> CpuStorage {
        CpuStorage::F64(a)
    }
    fn array(s: &CpuStorage) -> Option<&CpuArray<Self>> {
        match s {
            CpuStorage::F64(v) => Some(v),
            CpuStorage::F32(_) => None,
        }
    }
    fn slice(s: &CpuStorage) -> Option<&[Self]> {
        match s {
            CpuStorage::F64(v) => Some(v.as_slice()),
            CpuStorage::F32(_) => None,
        }
    }
    fn slice_mut(s: &mut CpuStorage) -> Option<&mut [Self]> {
        match s {
            CpuStorage::F64(v) => Some(v.as_mut_slice()),
            CpuStorage::F32(_) => None,
        }
    }
}

/// A tensor's elements on some device.
#[derive(Clone, Debug)]
pub enum Storage {
    Cpu(CpuStorage),
    /// GPU memory (cloning enqueues a device-to-device copy).
    #[cfg(feature = "cuda")]
    Cuda(crate::cuda::CudaStorage),
}

impl Storage {
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            Storage::Cpu(s) => s.dtype(),
            #[cfg(feature = "cuda")]
            Storage::Cuda(s) => s.dtype(),
        }
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Storage::Cpu(s) => s.len(),
            #[cfg(feature = "cuda")]
            Storage::Cuda(s) => s.len(),
        }
    }
    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
