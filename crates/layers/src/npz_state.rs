//! State dicts as numpy `.npz` archives (one member per entry, in state-dict order), so a
//! PyTorch user can `np.load` them and `torch.from_numpy` each array. Float entries keep
//! their element type; `Int64` entries (counters such as `num_batches_tracked`) are stored
//! as int64 and read back as such.

use std::path::Path;

use tensor::ndarray::ArrayD;
use tensor::npy::{self, NpyArray, NpzItem};
use tensor::{Device, Tensor};

use crate::error::LayersError;
use crate::state::{Encoding, StateDict, StateEntry};

fn corrupt(e: impl std::fmt::Display) -> LayersError {
    LayersError::Corrupt {
        location: "npz state dict".to_string(),
        reason: e.to_string(),
    }
}

/// Writes `sd` to `path` as an `.npz` (deflated when `compressed`), atomically.
pub fn save_npz(
    path: impl AsRef<Path>,
    sd: &StateDict,
    compressed: bool,
) -> Result<(), LayersError> {
    // Int64 entries become int64 arrays; they are checked to be exact integers first.
    let mut ints = Vec::new();
    for (name, entry) in sd.entries() {
        if entry.encoding == Encoding::Int64 {
            let values = entry.tensor.to_vec_f64()?;
            let mut out = Vec::with_capacity(values.len());
            for v in values {
                if v.fract() != 0.0 || v.abs() > 9_007_199_254_740_992.0 {
                    return Err(LayersError::NotAnInteger {
                        name: name.to_string(),
                        value: v,
                    });
                }
                out.push(v as i64);
            }
            let a = ArrayD::from_shape_vec(entry.tensor.shape().to_vec(), out).map_err(corrupt)?;
            ints.push((name.to_string(), NpyArray::I64(a)));
        }
    }
    let items = sd.entries().map(|(name, entry)| {
        let item = match entry.encoding {
            Encoding::Float => NpzItem::from(&entry.tensor),
            Encoding::Int64 => NpzItem::from(
                &ints
                    .iter()
                    .find(|(n, _)| n == name)
                    .expect("every Int64 entry was converted above")
                    .1,
            ),
        };
        (name, item)
    });
    npy::write_npz(path, items, compressed).map_err(corrupt)
}

/// Reads a state dict (on the CPU) from an `.npz`: float arrays as they are, integer
/// arrays as `Int64` entries (exact up to 2^53).
pub fn load_npz(path: impl AsRef<Path>) -> Result<StateDict, LayersError> {
    let z = npy::read_npz(path).map_err(corrupt)?;
    let mut sd = StateDict::new();
    for (name, a) in z.entries() {
        let entry = match a {
            NpyArray::F32(_) | NpyArray::F64(_) => StateEntry {
                tensor: a.clone().into_tensor().map_err(corrupt)?,
                encoding: Encoding::Float,
            },
            NpyArray::I64(x) => {
                let mut vals = Vec::with_capacity(x.len());
                for &v in x.iter() {
                    if v.unsigned_abs() > 1 << 53 {
                        return Err(LayersError::IntegerOutOfRange {
                            name: name.clone(),
                            value: v,
                        });
                    }
                    vals.push(v as f64);
                }
                StateEntry {
                    tensor: Tensor::from_vec(vals, x.shape(), Device::Cpu)?,
                    encoding: Encoding::Int64,
                }
            }
            other => {
                return Err(LayersError::UnsupportedDType {
                    name: name.clone(),
                    dtype: other.dtype_name().to_string(),
                })
            }
        };
        sd.insert_entry(name.clone(), entry);
    }
    Ok(sd)
}
