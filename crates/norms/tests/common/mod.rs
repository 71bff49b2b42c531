//! Helpers shared by the integration tests.

#![allow(dead_code)]

pub mod fixture;
pub mod golden;

use autograd::Var;
use layers::{Module, ModuleExt};
use tensor::{DType, Device, Tensor};

/// An `f64` CPU tensor.
pub fn t64(data: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_slice(data, shape, Device::Cpu).unwrap()
}

/// Values of a var as `f64`.
pub fn vals(v: &Var) -> Vec<f64> {
    v.value().to_vec_f64().unwrap()
}

/// Values of a tensor as `f64`.
pub fn tvals(t: &Tensor) -> Vec<f64> {
    t.to_vec_f64().unwrap()
}

/// The gradient of a leaf as `f64` (panics when there is none: a test failure).
pub fn grad(v: &Var) -> Vec<f64> {
    v.grad().expect("a gradient").to_vec_f64().unwrap()
}

/// Converts a layer to `f64`.
pub fn to_f64<M: Module>(m: M) -> M {
    m.to_dtype(DType::F64).unwrap();
    m
}

/// Copies of every buffer's value, to restore later.
pub fn snapshot(m: &dyn Module) -> Vec<Tensor> {
    m.local_buffers()
        .iter()
        .map(|(_, v)| v.value().deep_clone())
        .collect()
}

/// Puts back the buffers from [`snapshot`].
pub fn restore(m: &dyn Module, snap: &[Tensor]) {
    for ((_, v), t) in m.local_buffers().iter().zip(snap) {
        v.set_value(t.deep_clone());
    }
}

/// Sets the parameters to the given values (in `local_parameters` order).
pub fn set_params(m: &dyn Module, values: &[Vec<f64>]) {
    for ((_, p), v) in m.local_parameters().iter().zip(values) {
        let shape = p.shape();
        p.set_value(t64(v, &shape));
    }
}

/// `|a - b| <= tol (1 + |b|)` elementwise, NaN only against NaN.
pub fn assert_close(what: &str, a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let ok = (x.is_nan() && y.is_nan()) || (x - y).abs() <= tol * (1.0 + y.abs());
        assert!(ok, "{what}[{i}]: {x} vs {y} (all: {a:?} vs {b:?})");
    }
}

/// Deterministic values in `[-1, 1)` for test inputs (the shared seeded generator).
pub fn pseudo_random(len: usize, seed: u64) -> Vec<f64> {
    test_oracles::seeded::uniform(len, seed)
}

/// `sum(y * w)`, backpropagated.
pub fn backprop(y: &Var, w: &[f64]) {
    let wt = Var::constant(t64(w, &y.shape()));
    y.mul(&wt).unwrap().sum_all().unwrap().backward().unwrap();
}
