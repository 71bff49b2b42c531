//! The ReLU-input plans ([`NormLayout::after_relu`]) against their definition: `relu` of
//! the input, then the identity-input kernel (tested against the naive reference in
//! `tests.rs`), then `ReluGrad` on the input gradient. The fused loops promise those bits,
//! so every comparison here is exact, in `f32` and `f64`, on the inline and the parallel
//! paths, for every kind of statistics gradient.

use proptest::prelude::*;

use super::tests::{case, Case};
use super::{NormLayout, StatGrad, Variance};
use crate::{BinaryOp, DType, Tensor};

/// Equal bits, or both NaN.
fn same_bits(what: &str, got: &Tensor, want: &Tensor) {
    let (got, want) = (got.to_vec_f64().unwrap(), want.to_vec_f64().unwrap());
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (a, b)) in got.iter().zip(&want).enumerate() {
        let same = a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
        assert!(same, "{what} [{i}]: {a:e} vs {b:e}");
    }
}

/// Every ReLU-input kernel on `z` against the composition, in `dtype`.
fn fused_equals_composed(case: &Case, z: &[f64], dy: &[f64], dtype: DType) {
    let t = |v: &[f64], shape: &[usize]| case.tensor(v, shape).to_dtype(dtype).unwrap();
    let (z, dy) = (t(z, &case.shape), t(dy, &case.shape));
    let a = case.affine_shape();
    let (gamma, beta) = (t(&case.gamma, &a), t(&case.beta, &a));
    let (plain, fused) = (case.layout, case.layout.after_relu());
    let x = z.relu().unwrap();
    for variance in [Variance::Biased, Variance::Unbiased] {
        let want = x
            .norm_forward(plain, &gamma, &beta, variance, 1e-3)
            .unwrap();
        let got = z
            .norm_forward(fused, &gamma, &beta, variance, 1e-3)
            .unwrap();
        same_bits("y", &got.y, &want.y);
        same_bits("mean", &got.stats.mean, &want.stats.mean);
        same_bits("var", &got.stats.var, &want.stats.var);
        same_bits("invstd", &got.stats.invstd, &want.stats.invstd);
        let (mean, invstd) = (&want.stats.mean, &want.stats.invstd);
        let applied = z.norm_apply(fused, mean, invstd, &gamma, &beta).unwrap();
        same_bits("apply", &applied, &want.y);
        let live = t(
            &(0..case.groups())
                .map(|k| (k % 2) as f64)
                .collect::<Vec<_>>(),
            &[case.groups()],
        );
        let mut grads = vec![StatGrad::Detached, StatGrad::Batch(variance)];
        if case.layout == NormLayout::PerChannel {
            grads.push(StatGrad::Running {
                share: 0.25 / case.x.len() as f64,
                var_live: Some(&live),
            });
        }
        for grad in grads {
            let want = x
                .norm_backward(&dy, plain, mean, invstd, &gamma, grad)
                .unwrap();
            let got = z
                .norm_backward(&dy, fused, mean, invstd, &gamma, grad)
                .unwrap();
            let want_dz = z.binary(BinaryOp::ReluGrad, &want.dx).unwrap();
            same_bits(&format!("dz {grad:?}"), &got.dx, &want_dz);
            same_bits("dscale", &got.dscale, &want.dscale);
            same_bits("dshift", &got.dshift, &want.dshift);
        }
    }
    let (s, ss) = x.norm_power_sums(plain).unwrap();
    let (fs, fss) = z.norm_power_sums(fused).unwrap();
    same_bits("sum", &fs, &s);
    same_bits("sum of squares", &fss, &ss);
}

/// The case's values with some set to `+0` and `-0` (the ReLU's edge).
fn with_zeros(x: &[f64]) -> Vec<f64> {
    x.iter()
        .enumerate()
        .map(|(i, &v)| match i % 7 {
            3 => 0.0,
            5 => -0.0,
            _ => v,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn relu_input_kernels_equal_relu_then_the_kernel(case in case(), f32s in any::<bool>()) {
        let z = with_zeros(&case.x);
        let dy: Vec<f64> = (0..z.len()).map(|i| ((i * 13 % 17) as f64) / 8.0 - 1.0).collect();
        let dtype = if f32s { DType::F32 } else { DType::F64 };
        fused_equals_composed(&case, &z, &dy, dtype);
    }
}

#[test]
fn relu_input_on_the_parallel_path_and_with_nan() {
    // [6, 8, 24, 24] is past the parallel threshold; the second input holds a NaN, which
    // the ReLU keeps (its group's statistics are NaN) and whose gradient passes.
    let shape = vec![6usize, 8, 24, 24];
    let numel: usize = shape.iter().product();
    let x: Vec<f64> = (0..numel)
        .map(|i| ((i * 37 % 101) as f64).sin() * 2.0 - 0.3)
        .collect();
    let mut with_nan = x.clone();
    with_nan[numel / 3] = f64::NAN;
    let dy: Vec<f64> = (0..numel)
        .map(|i| ((i * 29 % 97) as f64).cos() - 0.25)
        .collect();
    for layout in [NormLayout::PerChannel, NormLayout::PerGroup { groups: 4 }] {
        let case = Case {
            shape: shape.clone(),
            layout,
            x: x.clone(),
            per_channel_affine: true,
            gamma: (0..8).map(|i| 1.0 + 0.1 * i as f64).collect(),
            beta: (0..8).map(|i| 0.05 * i as f64).collect(),
        };
        for z in [&x, &with_nan] {
            for dtype in [DType::F32, DType::F64] {
                fused_equals_composed(&case, z, &dy, dtype);
            }
        }
    }
}

#[test]
fn the_relu_input_changes_the_result() {
    // Guards the tests above against a plan that is ignored: with negative inputs the
    // ReLU-input forward differs from the identity-input one.
    let z = Tensor::from_slice(&[-1.0, 2.0, -3.0, 4.0], &[2, 2], crate::Device::Cpu).unwrap();
    let (one, zero) = (
        Tensor::from_slice(&[1.0], &[1], crate::Device::Cpu).unwrap(),
        Tensor::from_slice(&[0.0], &[1], crate::Device::Cpu).unwrap(),
    );
    let layout = NormLayout::PerChannel;
    let plain = z
        .norm_forward(layout, &one, &zero, Variance::Biased, 0.0)
        .unwrap();
    let fused = z
        .norm_forward(layout.after_relu(), &one, &zero, Variance::Biased, 0.0)
        .unwrap();
    // Channel 0 holds {-1, -3}: its ReLU is {0, 0}, mean 0; channel 1 {2, 4} is unchanged.
    assert_eq!(fused.stats.mean.to_vec_f64().unwrap(), [0.0, 3.0]);
    assert_eq!(plain.stats.mean.to_vec_f64().unwrap(), [-2.0, 3.0]);
}
