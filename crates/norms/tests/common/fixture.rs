//! The one reader of the PyTorch golden fixtures (`tests/fixtures/*.safetensors`, format in
//! `tests/fixtures/README.md`), shared by every golden test: tensors by key as `f64`
//! (`F64` and `I64` entries), and the relative comparison the goldens are held to.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;

use autograd::Var;
use safetensors::{Dtype, SafeTensors};
use tensor::{Device, Tensor};

/// Agreement required with PyTorch's f64 results: `|a - b| <= RTOL |b| + ATOL`.
pub const RTOL: f64 = 1e-10;
/// Absolute floor of the comparison, for values that are 0 up to rounding.
pub const ATOL: f64 = 1e-12;

/// The directory of the fixtures (`sub` = "" or "lesson_state").
pub fn fixture_dir(sub: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(sub)
}

/// Every tensor of one fixture file, as `f64` values with their shape.
#[derive(Debug)]
pub struct Fixture {
    pub name: String,
    tensors: HashMap<String, (Vec<f64>, Vec<usize>)>,
}

impl Fixture {
    /// Reads `tests/fixtures/<name>.safetensors`.
    pub fn load(name: &str) -> Fixture {
        Self::load_from("", name)
    }

    /// Reads `tests/fixtures/<sub>/<name>.safetensors`.
    pub fn load_from(sub: &str, name: &str) -> Fixture {
        let path = fixture_dir(sub).join(format!("{name}.safetensors"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        let st = SafeTensors::deserialize(&bytes).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        let mut tensors = HashMap::new();
        for (key, view) in st.tensors() {
            let data = view.data();
            let values: Vec<f64> = match view.dtype() {
                Dtype::F64 => data
                    .chunks_exact(8)
                    .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
                    .collect(),
                Dtype::I64 => data
                    .chunks_exact(8)
                    .map(|b| i64::from_le_bytes(b.try_into().unwrap()) as f64)
                    .collect(),
                other => panic!("{path:?}: {key} has dtype {other:?}, expected F64 or I64"),
            };
            tensors.insert(key, (values, view.shape().to_vec()));
        }
        Fixture {
            name: name.to_string(),
            tensors,
        }
    }

    /// Whether the file has `key`.
    pub fn has(&self, key: &str) -> bool {
        self.tensors.contains_key(key)
    }

    /// The values of `key` (panics, failing the test, when absent).
    pub fn vals(&self, key: &str) -> &[f64] {
        &self.entry(key).0
    }

    /// The shape of `key`.
    pub fn shape(&self, key: &str) -> &[usize] {
        &self.entry(key).1
    }

    /// `key` as an `f64` CPU tensor.
    pub fn tensor(&self, key: &str) -> Tensor {
        let (v, s) = self.entry(key);
        Tensor::from_slice(v, s, Device::Cpu).unwrap()
    }

    /// The one value of a 0-d `key`.
    pub fn scalar(&self, key: &str) -> f64 {
        let v = self.vals(key);
        assert_eq!(v.len(), 1, "{}: {key} is not a scalar", self.name);
        v[0]
    }

    fn entry(&self, key: &str) -> &(Vec<f64>, Vec<usize>) {
        self.tensors
            .get(key)
            .unwrap_or_else(|| panic!("{}: no key {key}", self.name))
    }

    /// Asserts `got` matches `key` in shape and in value (`RTOL`/`ATOL`), returning the
    /// worst relative error `|a - b| / max(|b|, ATOL / RTOL)`.
    pub fn check(&self, key: &str, got: &Tensor) -> f64 {
        assert_eq!(
            got.shape(),
            self.shape(key),
            "{}: shape of {key}",
            self.name
        );
        compare(
            &format!("{}: {key}", self.name),
            &got.to_vec_f64().unwrap(),
            self.vals(key),
        )
    }

    /// [`Fixture::check`] of a var's value.
    pub fn check_var(&self, key: &str, got: &Var) -> f64 {
        self.check(key, &got.value())
    }
}

/// `|a - b| <= RTOL |b| + ATOL` elementwise; the worst relative error.
pub fn compare(what: &str, a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let mut worst = 0.0f64;
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let err = (x - y).abs();
        assert!(
            err <= RTOL * y.abs() + ATOL,
            "{what}[{i}]: {x} vs PyTorch {y} (|diff| {err:e})"
        );
        worst = worst.max(err / y.abs().max(ATOL / RTOL));
    }
    worst
}
