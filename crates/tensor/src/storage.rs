//! Where a tensor's elements live. One enum variant per backend; ops dispatch once per call
//! on the variant, never per element.

use crate::dtype::{CpuFloat, DType};

/// Host memory, one variant per element type.
#[derive(Clone, Debug, PartialEq)]
pub enum CpuStorage {
    F32(Vec<f32>),
    F64(Vec<f64>),
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
            DType::F32 => CpuStorage::F32(vec![value as f32; len]),
            DType::F64 => CpuStorage::F64(vec![value; len]),
        }
    }
    /// Converts every element to `dtype`.
    pub fn to_dtype(&self, dtype: DType) -> Self {
        match (self, dtype) {
            (CpuStorage::F32(v), DType::F32) => CpuStorage::F32(v.clone()),
            (CpuStorage::F64(v), DType::F64) => CpuStorage::F64(v.clone()),
            (CpuStorage::F32(v), DType::F64) => {
                CpuStorage::F64(v.iter().map(|&x| x as f64).collect())
            }
            (CpuStorage::F64(v), DType::F32) => {
                CpuStorage::F32(v.iter().map(|&x| x as f32).collect())
            }
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
}

impl Element for f32 {
    fn into_storage(v: Vec<Self>) -> CpuStorage {
        CpuStorage::F32(v)
    }
    fn slice(s: &CpuStorage) -> Option<&[Self]> {
        match s {
            CpuStorage::F32(v) => Some(v),
            CpuStorage::F64(_) => None,
        }
    }
    fn slice_mut(s: &mut CpuStorage) -> Option<&mut [Self]> {
        match s {
            CpuStorage::F32(v) => Some(v),
            CpuStorage::F64(_) => None,
        }
    }
}

impl Element for f64 {
    fn into_storage(v: Vec<Self>) -> CpuStorage {
        CpuStorage::F64(v)
    }
    fn slice(s: &CpuStorage) -> Option<&[Self]> {
        match s {
            CpuStorage::F64(v) => Some(v),
            CpuStorage::F32(_) => None,
        }
    }
    fn slice_mut(s: &mut CpuStorage) -> Option<&mut [Self]> {
        match s {
            CpuStorage::F64(v) => Some(v),
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

/// Applies a generic expression to the typed slice inside a [`CpuStorage`], producing a new
/// `CpuStorage` of the same element type: `map_cpu!(storage, x => f(x))`, where `f` returns
/// a `Vec` of the same element type.
#[macro_export]
#[doc(hidden)]
macro_rules! map_cpu {
    ($s:expr, $x:ident => $e:expr) => {
        match $s {
            $crate::CpuStorage::F32($x) => $crate::CpuStorage::F32($e),
            $crate::CpuStorage::F64($x) => $crate::CpuStorage::F64($e),
        }
    };
}
