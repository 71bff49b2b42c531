//! `.npz` archives: a zip file with one `<name>.npy` member per array, as `np.savez`
//! (members stored) and `np.savez_compressed` (members deflated) write them.
//!
//! Reading takes every member's size from the zip central directory and probes each
//! member's `.npy` header before decoding it (see `header.rs`); writing uses
//! `ndarray-npy`'s `NpzWriter`.

use std::io::{Cursor, Read};
use std::path::Path;

use ndarray::{ArrayBase, Data, Dimension};
use ndarray_npy::{NpzWriter, WritableElement};
use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

use super::error::{NpyError, NpyResult};
use super::{read_npy_bytes, write_file, NpyArray};
use crate::{DType, Device, Tensor};

/// The arrays of one `.npz` archive, in archive order, with the name of the file they came
/// from (for errors).
#[derive(Clone, Debug, PartialEq)]
pub struct Npz {
    src: String,
    entries: Vec<(String, NpyArray)>,
}

impl Npz {
    /// An archive's worth of arrays, named `src` in errors.
    pub fn new(src: impl Into<String>, entries: Vec<(String, NpyArray)>) -> Self {
        Npz {
            src: src.into(),
            entries,
        }
    }

    /// Where the arrays came from (a path, or a name given to bytes).
    pub fn source(&self) -> &str {
        &self.src
    }

    /// The member names (without `.npy`), in archive order.
    pub fn names(&self) -> Vec<&str> {
        self.entries.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// The arrays, in archive order.
    pub fn entries(&self) -> &[(String, NpyArray)] {
        &self.entries
    }

    /// The array named `key`, or [`NpyError::MissingKey`] listing the names present.
    pub fn get(&self, key: &str) -> NpyResult<&NpyArray> {
        self.entries
            .iter()
            .find(|(n, _)| n == key)
            .map(|(_, a)| a)
            .ok_or_else(|| self.missing(key))
    }

    /// Removes and returns the array named `key` (no copy).
    pub fn take(&mut self, key: &str) -> NpyResult<NpyArray> {
        match self.entries.iter().position(|(n, _)| n == key) {
            Some(i) => Ok(self.entries.remove(i).1),
            None => Err(self.missing(key)),
        }
    }

    /// Every array as a CPU tensor, in archive order (float arrays only; another element
    /// type is [`NpyError::NotFloat`] naming the member).
    pub fn into_tensors(self) -> NpyResult<Vec<(String, Tensor)>> {
        let src = self.src;
        self.entries
            .into_iter()
            .map(|(name, a)| match a.into_tensor() {
                Ok(t) => Ok((name, t)),
                Err(NpyError::NotFloat { dtype, .. }) => Err(NpyError::NotFloat {
                    src: format!("{src}: member `{name}`"),
                    dtype,
                }),
                Err(e) => Err(e),
            })
            .collect()
    }

    fn missing(&self, key: &str) -> NpyError {
        let names = self.names();
        NpyError::MissingKey {
            src: self.src.clone(),
            key: key.to_string(),
            available: if names.is_empty() {
                "no arrays".to_string()
            } else {
                names.join(", ")
            },
        }
    }
}

/// Reads every array of an `.npz` archive held in memory; `src` names it in errors.
pub fn read_npz_bytes(src: &str, bytes: &[u8]) -> NpyResult<Npz> {
    let archive_err = |reason: String| NpyError::Archive {
        src: src.to_string(),
        reason,
    };
    let mut zip =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| archive_err(e.to_string()))?;
    let mut entries = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let mut member = zip.by_index(i).map_err(|e| archive_err(e.to_string()))?;
        let full = member.name().to_string();
        let name = full.strip_suffix(".npy").unwrap_or(&full).to_string();
        let member_src = format!("{src}: member `{full}`");
        // The declared size only reserves memory up to what the archive itself could hold
        // uncompressed at deflate's best ratio; the data decides the real length.
        let cap = (member.size() as usize).min(bytes.len().saturating_mul(1032));
        let mut data = Vec::with_capacity(cap);
        member
            .read_to_end(&mut data)
            .map_err(|e| NpyError::Archive {
                src: member_src.clone(),
                reason: e.to_string(),
            })?;
        entries.push((name, read_npy_bytes(&member_src, &data)?));
    }
    Ok(Npz::new(src, entries))
}

/// Reads every array of an `.npz` file.
pub fn read_npz(path: impl AsRef<Path>) -> NpyResult<Npz> {
    let path = path.as_ref();
    let src = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| NpyError::Io {
        src: src.clone(),
        source,
    })?;
    read_npz_bytes(&src, &bytes)
}

/// What can be stored as a member of an archive.
#[derive(Clone, Copy, Debug)]
pub enum NpzItem<'a> {
    /// An array of any supported element type.
    Array(&'a NpyArray),
    /// A tensor (read in place on the CPU, copied from a GPU).
    Tensor(&'a Tensor),
}

impl<'a> From<&'a NpyArray> for NpzItem<'a> {
    fn from(a: &'a NpyArray) -> Self {
        NpzItem::Array(a)
    }
}

impl<'a> From<&'a Tensor> for NpzItem<'a> {
    fn from(t: &'a Tensor) -> Self {
        NpzItem::Tensor(t)
    }
}

/// The bytes of an `.npz` archive holding `items` in order (`compressed`: deflated like
/// `np.savez_compressed`, else stored like `np.savez`). Names must be unique.
pub fn write_npz_bytes<'a>(
    items: impl IntoIterator<Item = (&'a str, NpzItem<'a>)>,
    compressed: bool,
) -> NpyResult<Vec<u8>> {
    let method = if compressed {
        CompressionMethod::Deflated
    } else {
        CompressionMethod::Stored
    };
    let options = SimpleFileOptions::default().compression_method(method);
    let mut w = NpzWriter::new_with_options(Cursor::new(Vec::new()), options);
    let mut seen = std::collections::HashSet::new();
    for (name, item) in items {
        if !seen.insert(name.to_string()) {
            return Err(NpyError::Archive {
                src: "<writing>".into(),
                reason: format!("the name `{name}` is given twice"),
            });
        }
        match item {
            NpzItem::Array(a) => add_array(&mut w, name, a)?,
            NpzItem::Tensor(t) => {
                let host = t.to_device(Device::Cpu)?;
                match host.dtype() {
                    DType::F32 => add(&mut w, name, &host.ndarray_view::<f32>()?)?,
                    DType::F64 => add(&mut w, name, &host.ndarray_view::<f64>()?)?,
                }
            }
        }
    }
    let out = w.finish().map_err(|e| NpyError::Archive {
        src: "<writing>".into(),
        reason: e.to_string(),
    })?;
    Ok(out.into_inner())
}

/// Writes an `.npz` file holding `items` (see [`write_npz_bytes`]), atomically.
pub fn write_npz<'a>(
    path: impl AsRef<Path>,
    items: impl IntoIterator<Item = (&'a str, NpzItem<'a>)>,
    compressed: bool,
) -> NpyResult<()> {
    let bytes = write_npz_bytes(items, compressed)?;
    write_file(path.as_ref(), &bytes)
}

type Writer = NpzWriter<Cursor<Vec<u8>>>;

fn add<S, D>(w: &mut Writer, name: &str, a: &ArrayBase<S, D>) -> NpyResult<()>
where
    S: Data,
    S::Elem: WritableElement,
    D: Dimension,
{
    w.add_array(name, a).map_err(|e| NpyError::Archive {
        src: format!("<writing> member `{name}`"),
        reason: e.to_string(),
    })
}

macro_rules! add_each {
    ($w:expr, $name:expr, $a:expr, $($v:ident),*) => {
        match $a {
            $(NpyArray::$v(x) => add($w, $name, x),)*
        }
    };
}

fn add_array(w: &mut Writer, name: &str, a: &NpyArray) -> NpyResult<()> {
    add_each!(w, name, a, F32, F64, I8, I16, I32, I64, U8, U16, U32, U64, Bool)
}
