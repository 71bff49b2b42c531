//! `.npy` and `.npz` files (numpy's formats), read and written with `ndarray-npy`.
//!
//! * [`NpyArray`]: an array of any element type numpy commonly writes (floats, integers,
//!   bool), because data files hold `uint8` images and `int64` labels as well as floats.
//!   [`NpyArray::into_tensor`] turns a float array into a [`Tensor`] without copying it.
//! * [`read_npy`] / [`write_npy`] for one array, [`read_npz`] / [`write_npz`] for a named
//!   collection (`np.savez` / `np.savez_compressed`); [`Tensor::read_npy`] and
//!   [`Tensor::write_npy`] for tensors.
//!
//! Reading checks the header against the bytes present before decoding anything, so a
//! corrupt or truncated file is one typed [`NpyError`] naming the file, never a panic or a
//! huge allocation. Fortran-order and big-endian files read as the same logical array.
//! Writing goes through a temporary file and a rename: a failed write leaves no file.

mod error;
mod header;
mod npz;

use std::path::Path;

use ndarray::{ArrayD, ArrayViewD};
use ndarray_npy::{ReadNpyExt, WriteNpyExt};

use crate::{DType, Device, Tensor};

pub use error::{NpyError, NpyResult};
pub use npz::{read_npz, read_npz_bytes, write_npz, write_npz_bytes, Npz, NpzItem};

/// Declares [`NpyArray`] and the per-type code from one list of `(variant, type, descr
/// body, numpy name)`.
macro_rules! npy_array {
    ($(($v:ident, $t:ty, $body:literal, $name:literal)),* $(,)?) => {
        /// An array read from (or to be written to) a `.npy` file, one variant per element
        /// type. The arrays keep the file's memory order (a Fortran-order file gives a
        /// column-major array); their logical elements are always the file's.
        #[derive(Clone, Debug, PartialEq)]
        pub enum NpyArray {
            $($v(ArrayD<$t>),)*
        }

        impl NpyArray {
            /// numpy's name of the element type (`float32`, `int64`, `uint8`, `bool`, ...).
            pub fn dtype_name(&self) -> &'static str {
                match self {
                    $(NpyArray::$v(_) => $name,)*
                }
            }

            /// The shape.
            pub fn shape(&self) -> &[usize] {
                match self {
                    $(NpyArray::$v(a) => a.shape(),)*
                }
            }

            /// The `.npy` bytes of this array (format version 1.0, little-endian).
            pub fn to_npy_bytes(&self) -> NpyResult<Vec<u8>> {
                let mut out = Vec::new();
                let r = match self {
                    $(NpyArray::$v(a) => a.write_npy(&mut out),)*
                };
                r.map_err(|e| NpyError::Format { src: "<array>".into(), reason: e.to_string() })?;
                Ok(out)
            }
        }

        /// Decodes a probed `.npy` byte buffer by its descriptor.
        fn decode(src: &str, bytes: &[u8], descr: &str) -> NpyResult<NpyArray> {
            let body = descr.strip_prefix(['<', '>', '|', '=']).unwrap_or(descr);
            let fmt = |e: ndarray_npy::ReadNpyError| NpyError::Format {
                src: src.to_string(),
                reason: e.to_string(),
            };
            match body {
                $($body => Ok(NpyArray::$v(ArrayD::<$t>::read_npy(bytes).map_err(fmt)?)),)*
                _ => Err(NpyError::UnsupportedDType { src: src.to_string(), descr: descr.to_string() }),
            }
        }
    };
}

npy_array!(
    (F32, f32, "f4", "float32"),
    (F64, f64, "f8", "float64"),
    (I8, i8, "i1", "int8"),
    (I16, i16, "i2", "int16"),
    (I32, i32, "i4", "int32"),
    (I64, i64, "i8", "int64"),
    (U8, u8, "u1", "uint8"),
    (U16, u16, "u2", "uint16"),
    (U32, u32, "u4", "uint32"),
    (U64, u64, "u8", "uint64"),
    (Bool, bool, "b1", "bool"),
);

impl NpyArray {
    /// A CPU tensor of a float32 or float64 array: no copy for a C-order array, one copy
    /// into row-major order for a Fortran-order one. Other element types are refused
    /// ([`NpyError::NotFloat`]); convert them explicitly.
    pub fn into_tensor(self) -> NpyResult<Tensor> {
        match self {
            NpyArray::F32(a) => Ok(Tensor::from_ndarray(a)),
            NpyArray::F64(a) => Ok(Tensor::from_ndarray(a)),
            other => Err(NpyError::NotFloat {
                src: "<array>".into(),
                dtype: other.dtype_name(),
            }),
        }
    }

    /// An owned copy of a tensor's elements (from a GPU too).
    pub fn from_tensor(t: &Tensor) -> NpyResult<NpyArray> {
        let host = t.to_device(Device::Cpu)?;
        Ok(match host.dtype() {
            DType::F32 => NpyArray::F32(host.to_ndarray::<f32>()?.into_owned()),
            DType::F64 => NpyArray::F64(host.to_ndarray::<f64>()?.into_owned()),
        })
    }
}

/// Decodes one `.npy` file held in memory; `src` names it in errors.
pub fn read_npy_bytes(src: &str, bytes: &[u8]) -> NpyResult<NpyArray> {
    let info = header::probe(src, bytes)?;
    decode(src, bytes, &info.descr)
}

/// Reads one `.npy` file.
pub fn read_npy(path: impl AsRef<Path>) -> NpyResult<NpyArray> {
    let path = path.as_ref();
    let src = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| NpyError::Io {
        src: src.clone(),
        source,
    })?;
    read_npy_bytes(&src, &bytes)
}

/// Writes one array as a `.npy` file (atomically: all of it or nothing).
pub fn write_npy(path: impl AsRef<Path>, array: &NpyArray) -> NpyResult<()> {
    let path = path.as_ref();
    let bytes = array.to_npy_bytes()?;
    write_file(path, &bytes)
}

/// The `.npy` bytes of a tensor's elements (read in place on the CPU).
fn tensor_npy_bytes(t: &Tensor) -> NpyResult<Vec<u8>> {
    let host = t.to_device(Device::Cpu)?;
    let mut out = Vec::new();
    let r = match host.dtype() {
        DType::F32 => view::<f32>(&host)?.write_npy(&mut out),
        DType::F64 => view::<f64>(&host)?.write_npy(&mut out),
    };
    r.map_err(|e| NpyError::Format {
        src: "<tensor>".into(),
        reason: e.to_string(),
    })?;
    Ok(out)
}

fn view<T: crate::Element>(t: &Tensor) -> NpyResult<ArrayViewD<'_, T>> {
    Ok(t.ndarray_view::<T>()?)
}

fn write_file(path: &Path, bytes: &[u8]) -> NpyResult<()> {
    atomic_file::write_atomic(path, bytes).map_err(|source| NpyError::Io {
        src: path.display().to_string(),
        source,
    })
}

impl Tensor {
    /// Reads a float32 or float64 `.npy` file as a CPU tensor (other element types are a
    /// typed error naming the file and the type).
    pub fn read_npy(path: impl AsRef<Path>) -> NpyResult<Tensor> {
        let path = path.as_ref();
        read_npy(path)?.into_tensor().map_err(|e| match e {
            NpyError::NotFloat { dtype, .. } => NpyError::NotFloat {
                src: path.display().to_string(),
                dtype,
            },
            other => other,
        })
    }

    /// Writes the tensor as a `.npy` file of its element type (C order), atomically.
    pub fn write_npy(&self, path: impl AsRef<Path>) -> NpyResult<()> {
        write_file(path.as_ref(), &tensor_npy_bytes(self)?)
    }
}
