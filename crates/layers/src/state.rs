//! State dicts: every parameter and buffer of a module tree by dotted name, in PyTorch's
//! order, and loading them back with checked names and shapes.
//!
//! Order (PyTorch's `Module.state_dict`): for each module in pre-order, its own parameters,
//! then its own buffers, then its children's entries under `child_name.`.
//!
//! A state dict holds snapshots: the tensors share storage with the module's values until
//! either side is updated in place, which copies first (copy-on-write), so later training
//! does not change a saved state dict.

use std::collections::HashMap;

use autograd::Var;
use tensor::Tensor;

use crate::error::LayersError;
use crate::module::{join, Module};

/// How a checkpoint file stores an entry. Values are always floats in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Encoding {
    /// As the tensor's own float type (`F32` or `F64`).
    #[default]
    Float,
    /// As `int64` (PyTorch's counters such as `num_batches_tracked`); the values must be
    /// whole numbers.
    Int64,
}

/// One state-dict value: a tensor and its file encoding.
#[derive(Clone, Debug)]
pub struct StateEntry {
    pub tensor: Tensor,
    pub encoding: Encoding,
}

/// An ordered map from dotted names to tensors.
#[derive(Clone, Debug, Default)]
pub struct StateDict {
    entries: Vec<(String, StateEntry)>,
    index: HashMap<String, usize>,
}

impl StateDict {
    /// An empty state dict.
    pub fn new() -> Self {
        StateDict::default()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Inserts a float-encoded tensor; an existing entry of that name is replaced in place
    /// (keeping its position) and returned.
    pub fn insert(&mut self, name: impl Into<String>, tensor: Tensor) -> Option<StateEntry> {
        self.insert_entry(
            name,
            StateEntry {
                tensor,
                encoding: Encoding::Float,
            },
        )
    }

    /// Inserts an entry with an explicit encoding (see [`StateDict::insert`]).
    pub fn insert_entry(
        &mut self,
        name: impl Into<String>,
        entry: StateEntry,
    ) -> Option<StateEntry> {
        let name = name.into();
        match self.index.get(&name) {
            Some(&i) => Some(std::mem::replace(&mut self.entries[i].1, entry)),
            None => {
                self.index.insert(name.clone(), self.entries.len());
                self.entries.push((name, entry));
                None
            }
        }
    }

    /// Removes an entry, keeping the order of the others.
    pub fn remove(&mut self, name: &str) -> Option<StateEntry> {
        let i = self.index.remove(name)?;
        let (_, entry) = self.entries.remove(i);
        for (_, idx) in self.index.iter_mut() {
            if *idx > i {
                *idx -= 1;
            }
        }
        Some(entry)
    }

    /// The tensor called `name`.
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.entry(name).map(|e| &e.tensor)
    }

    /// The entry called `name`.
    pub fn entry(&self, name: &str) -> Option<&StateEntry> {
        self.index.get(name).map(|&i| &self.entries[i].1)
    }

    /// Whether an entry is called `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// Names in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(n, _)| n.as_str())
    }

    /// `(name, tensor)` in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        self.entries.iter().map(|(n, e)| (n.as_str(), &e.tensor))
    }

    /// `(name, entry)` in order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &StateEntry)> {
        self.entries.iter().map(|(n, e)| (n.as_str(), e))
    }
}

/// A module tensor slot: its dotted name, its var and its file encoding.
struct Slot {
    name: String,
    var: Var,
    encoding: Encoding,
}

/// Every parameter and buffer of the tree, in state-dict order.
fn slots(model: &dyn Module) -> Vec<Slot> {
    fn walk(m: &dyn Module, prefix: &str, out: &mut Vec<Slot>) {
        for (n, v) in m.local_parameters() {
            out.push(Slot {
                name: join(prefix, n),
                var: v.clone(),
                encoding: Encoding::Float,
            });
        }
        for (n, v) in m.local_buffers() {
            let encoding = if m.int64_buffer(n) {
                Encoding::Int64
            } else {
                Encoding::Float
            };
            out.push(Slot {
                name: join(prefix, n),
                var: v.clone(),
                encoding,
            });
        }
        for (child, c) in m.children() {
            walk(c, &join(prefix, &child), out);
        }
    }
    let mut out = Vec::new();
    walk(model, "", &mut out);
    out
}

/// A snapshot of every parameter and buffer of `model` (see the module docs for the order).
pub fn state_dict(model: &dyn Module) -> StateDict {
    let mut sd = StateDict::new();
    for s in slots(model) {
        sd.insert_entry(
            s.name,
            StateEntry {
                tensor: s.var.value(),
                encoding: s.encoding,
            },
        );
    }
    sd
}

/// What a non-strict load skipped (a strict load returns both empty).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Module tensors without a state-dict entry (left unchanged).
    pub missing: Vec<String>,
    /// State-dict entries without a module tensor (ignored).
    pub unexpected: Vec<String>,
}

/// Copies the entries of `sd` into the parameters and buffers of `model` with the same names.
///
/// Every matched entry must have exactly the module tensor's shape. Values are converted to
/// the module tensor's dtype and moved to its device, so loading never changes where or in
/// which precision a module computes. With `strict`, missing and unexpected names are errors
/// too ([`LayersError::MissingTensors`], [`LayersError::UnexpectedTensors`]); without, they
/// are reported. All or nothing: everything is checked and converted before the first
/// tensor is replaced, so on error the module is unchanged. Parameters keep their identity
/// (optimisers holding them see the new values).
pub fn load_state_dict(
    model: &dyn Module,
    sd: &StateDict,
    strict: bool,
) -> Result<LoadReport, LayersError> {
    let slots = slots(model);
    let report = LoadReport {
        missing: slots
            .iter()
            .filter(|s| !sd.contains(&s.name))
            .map(|s| s.name.clone())
            .collect(),
        unexpected: {
            let known: HashMap<&str, ()> = slots.iter().map(|s| (s.name.as_str(), ())).collect();
            sd.names()
                .filter(|n| !known.contains_key(n))
                .map(str::to_string)
                .collect()
        },
    };
    if strict && !report.missing.is_empty() {
        return Err(LayersError::MissingTensors {
            names: report.missing,
        });
    }
    if strict && !report.unexpected.is_empty() {
        return Err(LayersError::UnexpectedTensors {
            names: report.unexpected,
        });
    }
    let mut updates = Vec::new();
    for s in &slots {
        let Some(src) = sd.get(&s.name) else { continue };
        let current = s.var.value();
        if src.shape() != current.shape() {
            return Err(LayersError::ShapeMismatch {
                name: s.name.clone(),
                expected: current.shape().to_vec(),
                found: src.shape().to_vec(),
            });
        }
        // May share storage with `sd`; in-place updates copy first (copy-on-write).
        let value = src.to_dtype(current.dtype())?.to_device(current.device())?;
        updates.push((&s.var, value));
    }
    for (var, value) in updates {
        var.set_value(value);
    }
    Ok(report)
}
