//! Checkpoints in the safetensors format, readable and writable by PyTorch
//! (`safetensors.torch.load_file` / `save_file`).
//!
//! Layout: an 8-byte little-endian `u64` header length `n`; `n` bytes of JSON mapping each
//! name to `{"dtype", "shape", "data_offsets": [begin, end]}` (padded with spaces to a
//! multiple of 8); then the raw little-endian, row-major data, where a tensor's bytes are
//! `data[begin..end]`, `end - begin = numel * size_of(dtype)`. Entries are laid out by
//! descending dtype, then by name, as PyTorch's `save_file` does.
//!
//! Element types: float entries are stored as `F32` or `F64`, the tensor's own type;
//! [`Encoding::Int64`] entries (PyTorch's `num_batches_tracked`) as `I64`. Reading accepts
//! `F32`, `F64` and `I64`; an `I64` tensor becomes an `f64` tensor (exact up to 2^53) marked
//! `Int64`, so it is written back as `I64`, and `load_state_dict` converts it to the module's
//! dtype.

use std::borrow::Cow;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, View};
use tensor::{DType, Device, Tensor};

use crate::error::LayersError;
use crate::state::{Encoding, StateDict, StateEntry};

/// The header key safetensors reserves for free-form metadata.
const RESERVED: &str = "__metadata__";

/// The largest magnitude below which every integer is an exact `f64`: 2^53.
const EXACT_INT: i64 = 1 << 53;

/// One tensor encoded for the file.
struct Encoded {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Encoded {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// The file bytes of one entry.
fn encode(name: &str, entry: &StateEntry) -> Result<Encoded, LayersError> {
    let t = &entry.tensor;
    let (dtype, bytes) = match (entry.encoding, t.dtype()) {
        (Encoding::Float, DType::F32) => (
            Dtype::F32,
            t.to_vec::<f32>()?
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        ),
        (Encoding::Float, DType::F64) => (
            Dtype::F64,
            t.to_vec::<f64>()?
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        ),
        (Encoding::Int64, _) => {
            // `i64` holds [-2^63, 2^63): -2^63 is `i64::MIN` exactly, 2^63 is out of range.
            let limit = 2f64.powi(63);
            let mut bytes = Vec::with_capacity(8 * t.numel());
            for v in t.to_vec_f64()? {
                let whole = v.fract() == 0.0 && (-limit..limit).contains(&v);
                if !whole {
                    return Err(LayersError::NotAnInteger {
                        name: name.to_string(),
                        value: v,
                    });
                }
                bytes.extend((v as i64).to_le_bytes());
            }
            (Dtype::I64, bytes)
        }
    };
    Ok(Encoded {
        dtype,
        shape: t.shape().to_vec(),
        bytes,
    })
}

/// Serialises a state dict to safetensors bytes.
pub fn to_safetensors_bytes(sd: &StateDict) -> Result<Vec<u8>, LayersError> {
    let mut encoded = Vec::with_capacity(sd.len());
    for (name, entry) in sd.entries() {
        if name == RESERVED {
            return Err(LayersError::ReservedName {
                name: name.to_string(),
            });
        }
        encoded.push((name.to_string(), encode(name, entry)?));
    }
    safetensors::serialize(encoded.iter().map(|(n, e)| (n.as_str(), e)), &None).map_err(|e| {
        LayersError::Corrupt {
            location: "serialising a state dict".to_string(),
            reason: e.to_string(),
        }
    })
}

/// Writes a state dict to `path` in the safetensors format, atomically (a temporary file in
/// the same directory, synced, renamed over `path`; see the `atomic-file` crate). The
/// directory must exist.
pub fn save_safetensors(path: impl AsRef<Path>, sd: &StateDict) -> Result<(), LayersError> {
    let path = path.as_ref();
    let bytes = to_safetensors_bytes(sd)?;
    atomic_file::write_atomic(path, &bytes).map_err(|e| LayersError::io(path, e))
}

/// Reads a state dict from `path`. The entries come in file order.
pub fn load_safetensors(path: impl AsRef<Path>) -> Result<StateDict, LayersError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| LayersError::io(path, e))?;
    parse(&bytes, &path.display().to_string())
}

/// Parses safetensors bytes into a state dict (on the CPU), in file order.
pub fn from_safetensors_bytes(bytes: &[u8]) -> Result<StateDict, LayersError> {
    parse(bytes, "<memory>")
}

fn parse(bytes: &[u8], location: &str) -> Result<StateDict, LayersError> {
    let corrupt = |e: safetensors::SafeTensorError| LayersError::Corrupt {
        location: location.to_string(),
        reason: e.to_string(),
    };
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(corrupt)?;
    let st = SafeTensors::deserialize(bytes).map_err(corrupt)?;
    let mut views = st.tensors();
    views.sort_by(|(a, _), (b, _)| {
        let offsets = |n: &str| meta.info(n).map(|i| i.data_offsets);
        offsets(a).cmp(&offsets(b)).then_with(|| a.cmp(b))
    });
    let mut sd = StateDict::new();
    for (name, view) in views {
        let entry = decode(&name, view.dtype(), view.shape(), view.data())?;
        sd.insert_entry(name, entry);
    }
    Ok(sd)
}

/// Decodes one tensor's little-endian bytes.
fn decode(
    name: &str,
    dtype: Dtype,
    shape: &[usize],
    data: &[u8],
) -> Result<StateEntry, LayersError> {
    let numel = shape.iter().product::<usize>();
    let width = dtype.size();
    if data.len() != numel * width {
        return Err(LayersError::Corrupt {
            location: name.to_string(),
            reason: format!("{} bytes for {dtype:?} of shape {shape:?}", data.len()),
        });
    }
    let float = |tensor| StateEntry {
        tensor,
        encoding: Encoding::Float,
    };
    Ok(match dtype {
        Dtype::F32 => {
            let v: Vec<f32> = data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            float(Tensor::from_vec(v, shape, Device::Cpu)?)
        }
        Dtype::F64 => {
            let v: Vec<f64> = data
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("chunks of 8")))
                .collect();
            float(Tensor::from_vec(v, shape, Device::Cpu)?)
        }
        Dtype::I64 => {
            let mut v = Vec::with_capacity(numel);
            for c in data.chunks_exact(8) {
                let i = i64::from_le_bytes(c.try_into().expect("chunks of 8"));
                if !(-EXACT_INT..=EXACT_INT).contains(&i) {
                    return Err(LayersError::IntegerOutOfRange {
                        name: name.to_string(),
                        value: i,
                    });
                }
                v.push(i as f64);
            }
            StateEntry {
                tensor: Tensor::from_vec(v, shape, Device::Cpu)?,
                encoding: Encoding::Int64,
            }
        }
        other => {
            return Err(LayersError::UnsupportedDType {
                name: name.to_string(),
                dtype: format!("{other:?}"),
            })
        }
    })
}
