//! Finite-difference checks (`f64`) of every layer's backward pass, through `Module::call`.

use autograd::{GradCheck, Var};
use layers::{AdaptiveAvgPool2d, Conv2d, Flatten, GeneralRelu, Linear, Module, Sequential};
use proptest::prelude::*;
use tensor::DType;

use crate::support::{f64_tensor, randn};

fn check(inputs: &[tensor::Tensor], f: impl Fn(&[Var]) -> tensor::Result<Var>) {
    GradCheck::default().run(inputs, f).unwrap();
}

#[test]
fn conv2d_with_bias() {
    let x = randn(&[2, 3, 5, 5], DType::F64, 1);
    let w = randn(&[4, 3, 3, 3], DType::F64, 2);
    let b = randn(&[4], DType::F64, 3);
    check(&[x, w, b], |v| {
        Conv2d::from_parts(v[1].clone(), Some(v[2].clone()), 2, 1)?.call(&v[0])
    });
}

#[test]
fn conv2d_without_bias() {
    let x = randn(&[2, 2, 6, 5], DType::F64, 4);
    let w = randn(&[3, 2, 2, 3], DType::F64, 5);
    check(&[x, w], |v| {
        Conv2d::from_parts(v[1].clone(), None, 1, 0)?.call(&v[0])
    });
}

#[test]
fn linear_on_a_batch_and_on_rank_3_input() {
    let w = randn(&[4, 5], DType::F64, 7);
    let b = randn(&[4], DType::F64, 8);
    for (seed, shape) in [(6, vec![3, 5]), (9, vec![2, 3, 5])] {
        let x = randn(&shape, DType::F64, seed);
        check(&[x, w.clone(), b.clone()], |v| {
            Linear::from_parts(v[1].clone(), Some(v[2].clone()))?.call(&v[0])
        });
    }
    let x = randn(&[3, 5], DType::F64, 10);
    check(&[x, w], |v| {
        Linear::from_parts(v[1].clone(), None)?.call(&v[0])
    });
}

#[test]
fn adaptive_avg_pool_global_and_uneven_bins() {
    let x = randn(&[2, 3, 4, 5], DType::F64, 11);
    check(&[x], |v| AdaptiveAvgPool2d::new(1)?.call(&v[0]));
    let x = randn(&[1, 2, 5, 7], DType::F64, 12);
    check(&[x], |v| AdaptiveAvgPool2d::with_size(2, 3)?.call(&v[0]));
}

#[test]
fn small_sequential() {
    let x = randn(&[2, 2, 6, 6], DType::F64, 13);
    let w = randn(&[3, 2, 3, 3], DType::F64, 14);
    let b = randn(&[3], DType::F64, 15);
    let lw = randn(&[4, 3], DType::F64, 16);
    let lb = randn(&[4], DType::F64, 17);
    check(&[x, w, b, lw, lb], |v| {
        Sequential::new()
            .with(Conv2d::from_parts(v[1].clone(), Some(v[2].clone()), 2, 1)?)
            .with(GeneralRelu::new(Some(0.1), Some(0.2), None)?)
            .with(AdaptiveAvgPool2d::new(1)?)
            .with(Flatten::new())
            .with(Linear::from_parts(v[3].clone(), Some(v[4].clone()))?)
            .call(&v[0])
    });
}

/// `leaky(x) - sub`, the value GeneralRelu clamps.
fn pre_clamp(x: f64, leak: Option<f64>, sub: Option<f64>) -> f64 {
    let a = if x > 0.0 { x } else { leak.unwrap_or(0.0) * x };
    a - sub.unwrap_or(0.0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Inputs are kept 0.01 away from the kinks (x = 0 and the clamp point), far beyond the
    /// finite-difference step.
    #[test]
    fn general_relu(
        xs in prop::collection::vec(-3.0f64..3.0, 1..24),
        leak in prop::option::of(0.0f64..0.5),
        sub in prop::option::of(-1.0f64..1.0),
        maxv in prop::option::of(0.2f64..3.0),
    ) {
        let near_kink = |x: f64| {
            x.abs() < 0.01 || maxv.is_some_and(|m| (pre_clamp(x, leak, sub) - m).abs() < 0.01)
        };
        let xs: Vec<f64> = xs.into_iter().filter(|&x| !near_kink(x)).collect();
        prop_assume!(!xs.is_empty());
        let n = xs.len();
        let x = f64_tensor(xs, &[n]);
        GradCheck::default()
            .run(&[x], |v| GeneralRelu::new(leak, sub, maxv)?.call(&v[0]))
            .unwrap();
    }
}
