//! Helpers shared by the CUDA test binaries: moving tensors to the GPU and comparing a GPU
//! result with the CPU backend's, exactly or within a per-element tolerance.

#![allow(dead_code)]

pub mod conv;

use rand::rngs::StdRng;
use rand::SeedableRng;
use tensor::{DType, Device, Tensor};

/// The GPU under test.
pub const GPU: Device = Device::Cuda(0);

/// Both element types.
pub const DTYPES: [DType; 2] = [DType::F32, DType::F64];

/// Unit roundoff of `dtype` (2^-24 or 2^-53).
pub fn unit(dtype: DType) -> f64 {
    match dtype {
        DType::F32 => f32::EPSILON as f64 / 2.0,
        DType::F64 => f64::EPSILON / 2.0,
    }
}

/// A seeded generator.
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Standard normal samples on the CPU (the shared seeded generator of `test-oracles`).
pub fn randn(shape: &[usize], dtype: DType, seed: u64) -> Tensor {
    let len = shape.iter().product();
    cpu(test_oracles::seeded::normal(len, seed), shape, dtype)
}

/// Host data as a CPU tensor of `dtype`.
pub fn cpu(data: Vec<f64>, shape: &[usize], dtype: DType) -> Tensor {
    Tensor::from_f64_vec(data, shape, dtype, Device::Cpu).expect("from_f64_vec")
}

/// A copy on the GPU (panics with the reason when CUDA is not usable).
pub fn gpu(t: &Tensor) -> Tensor {
    let g = t
        .to_device(GPU)
        .unwrap_or_else(|e| panic!("copying to {GPU}: {e}"));
    assert_eq!(g.device(), GPU);
    g
}

/// The elements as `f64` (synchronises for a GPU tensor).
pub fn values(t: &Tensor) -> Vec<f64> {
    t.to_vec_f64()
        .unwrap_or_else(|e| panic!("reading {t:?}: {e}"))
}

fn check_meta(what: &str, cpu: &Tensor, gpu: &Tensor) {
    assert_eq!(cpu.shape(), gpu.shape(), "{what}: shapes differ");
    assert_eq!(cpu.dtype(), gpu.dtype(), "{what}: dtypes differ");
    assert_eq!(gpu.device(), GPU, "{what}: result is not on the GPU");
}

/// Bit-identical elements (any NaN matches any NaN).
pub fn assert_exact(what: &str, cpu: &Tensor, gpu: &Tensor) {
    check_meta(what, cpu, gpu);
    let (c, g) = (values(cpu), values(gpu));
    for (i, (x, y)) in c.iter().zip(&g).enumerate() {
        let same = x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan());
        assert!(
            same,
            "{what}: element {i} differs: cpu {x:e}, gpu {y:e} ({:?})",
            cpu.dtype()
        );
    }
}

/// `|gpu_i - cpu_i| <= tol(i, cpu_i)` for every element; NaN must meet NaN.
pub fn assert_close(what: &str, cpu: &Tensor, gpu: &Tensor, tol: impl Fn(usize, f64) -> f64) {
    check_meta(what, cpu, gpu);
    let (c, g) = (values(cpu), values(gpu));
    for (i, (x, y)) in c.iter().zip(&g).enumerate() {
        if x.is_nan() || y.is_nan() {
            assert!(
                x.is_nan() && y.is_nan(),
                "{what}: element {i}: cpu {x:e}, gpu {y:e}"
            );
            continue;
        }
        if x == y {
            continue;
        }
        let t = tol(i, *x);
        assert!(
            (x - y).abs() <= t,
            "{what}: element {i}: cpu {x:e}, gpu {y:e}, |diff| {:e} > tolerance {t:e} ({:?})",
            (x - y).abs(),
            cpu.dtype()
        );
    }
}

/// `|gpu - cpu| <= rtol (|cpu_i| + max_j |cpu_j|)`: relative to the element and to the
/// result's scale (so a tiny element left by cancellation is judged on the scale).
pub fn assert_rel(what: &str, cpu: &Tensor, gpu: &Tensor, rtol: f64) {
    let scale = values(cpu)
        .iter()
        .filter(|v| v.is_finite())
        .fold(0.0f64, |m, v| m.max(v.abs()));
    assert_close(what, cpu, gpu, |_, c| rtol * (c.abs() + scale));
}

/// `|gpu - cpu| <= factor * u * bound_i`, with `u` the unit roundoff and `bound_i` a
/// per-element bound of the magnitudes summed (e.g. `sum |a| |b|` of a product).
pub fn assert_bounded(what: &str, cpu: &Tensor, gpu: &Tensor, bound: &Tensor, factor: f64) {
    let u = unit(cpu.dtype());
    let b = values(bound);
    assert_close(what, cpu, gpu, |i, _| factor * u * b[i] + f64::MIN_POSITIVE);
}
