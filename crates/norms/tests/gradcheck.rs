//! `f64` finite-difference checks (`autograd::GradCheck`) of every fused norm's backward
//! pass, for the input and both affine parameters, in training and eval mode. Buffers are
//! restored before every evaluation so that each one sees the same running statistics.

mod common;

use autograd::{GradCheck, Var};
use common::*;
use layers::Module;
use norms::{
    BatchNorm, BatchNorm2d, GroupNorm, InstanceNorm, LayerNorm, NormConfig, RunningBatchNorm,
};
use tensor::{Result, Tensor};

type ForwardWith<'a> = dyn Fn(&Var, &Var, &Var) -> Result<Var> + 'a;

/// A `[2, 3, 2, 2]` input with distinct channel means and spreads.
fn input(seed: u64) -> Tensor {
    let shape = [2, 3, 2, 2];
    let r = pseudo_random(24, seed);
    let v: Vec<f64> = r
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let c = (i / 4) % 3;
            0.5 * c as f64 - 0.3 + (1.0 + 0.5 * c as f64) * x
        })
        .collect();
    t64(&v, &shape)
}

/// Non-trivial parameter values of the given shapes.
fn params(m: &dyn Module) -> Vec<Tensor> {
    m.local_parameters()
        .iter()
        .enumerate()
        .map(|(k, (_, p))| {
            let shape = p.shape();
            let n: usize = shape.iter().product();
            let base = if k == 0 { 1.0 } else { 0.0 };
            let v: Vec<f64> = pseudo_random(n, 11 + k as u64)
                .iter()
                .map(|r| base + 0.5 * r)
                .collect();
            t64(&v, &shape)
        })
        .collect()
}

/// Checks `d/d(x, scale, shift)` of `f` at `x` and the layer's parameter shapes.
fn check_all(m: &dyn Module, x: Tensor, f: &ForwardWith<'_>) {
    let snap = snapshot(m);
    let mut inputs = vec![x];
    inputs.extend(params(m));
    GradCheck::default()
        .run(&inputs, |v| {
            restore(m, &snap);
            f(&v[0], &v[1], &v[2])
        })
        .unwrap_or_else(|e| panic!("{} (training: {}): {e}", m.type_name(), m.is_training()));
    restore(m, &snap);
}

/// Checks only the parameters, the input held fixed.
fn check_params(m: &dyn Module, x: Tensor, f: &ForwardWith<'_>) {
    let snap = snapshot(m);
    let xv = Var::constant(x);
    GradCheck::default()
        .run(&params(m), |v| {
            restore(m, &snap);
            f(&xv, &v[0], &v[1])
        })
        .unwrap_or_else(|e| panic!("{} parameters: {e}", m.type_name()));
    restore(m, &snap);
}

/// A few training steps so that running buffers hold something.
fn warm_up(m: &dyn Module) {
    for seed in 0..3 {
        m.forward(&Var::constant(input(100 + seed))).unwrap();
    }
}

#[test]
fn lesson_batchnorm() {
    let bn = to_f64(BatchNorm::new(3).unwrap());
    // Training: the statistics carry no gradient, so the function of x is not what the
    // backward pass differentiates; the parameters are checked there, x in eval.
    check_params(&bn, input(1), &|x, a, b| bn.forward_with(x, a, b));
    warm_up(&bn);
    bn.eval();
    check_all(&bn, input(2), &|x, a, b| bn.forward_with(x, a, b));
}

#[test]
fn batchnorm2d() {
    let bn = to_f64(BatchNorm2d::new(3).unwrap());
    check_all(&bn, input(3), &|x, a, b| bn.forward_with(x, a, b));
    warm_up(&bn);
    bn.eval();
    check_all(&bn, input(4), &|x, a, b| bn.forward_with(x, a, b));
}

#[test]
fn layernorm() {
    let ln = to_f64(LayerNorm::new().unwrap());
    check_all(&ln, input(5), &|x, a, b| ln.forward_with(x, a, b));
}

#[test]
fn instancenorm() {
    for eps in [1.0, 1e-5] {
        let inorm = to_f64(InstanceNorm::with_eps(3, eps).unwrap());
        check_all(&inorm, input(6), &|x, a, b| inorm.forward_with(x, a, b));
    }
}

#[test]
fn groupnorm() {
    for groups in [1, 2, 4] {
        let gn = to_f64(GroupNorm::new(groups, 4).unwrap());
        let x = t64(&pseudo_random(2 * 4 * 3, 7), &[2, 4, 3]);
        check_all(&gn, x, &|x, a, b| gn.forward_with(x, a, b));
    }
}

#[test]
fn running_batchnorm_first_step_with_a_clamped_channel() {
    let rbn = to_f64(RunningBatchNorm::new(3).unwrap());
    // Channel 0 nearly constant: its variance is clamped to 0.01 (batch < 20).
    let mut v = tvals(&input(8));
    for (i, x) in v.iter_mut().enumerate() {
        if (i / 4) % 3 == 0 {
            *x = 0.2 + 0.01 * *x;
        }
    }
    let x = t64(&v, &[2, 3, 2, 2]);
    check_all(&rbn, x, &|x, a, b| rbn.forward_with(x, a, b));
}

#[test]
fn running_batchnorm_after_warm_up_and_past_the_debiasing_steps() {
    let cfg = NormConfig::default().with_momentum(0.3);
    let rbn = to_f64(RunningBatchNorm::with_config(3, cfg).unwrap());
    for _ in 0..4 {
        warm_up(&rbn); // 24 samples: no clamp any more
    }
    check_all(&rbn, input(9), &|x, a, b| rbn.forward_with(x, a, b));
    rbn.step().set_value(t64(&[150.0], &[])); // no division by dbias
    check_all(&rbn, input(10), &|x, a, b| rbn.forward_with(x, a, b));
    // Batch size 3: mom1 = 1 - 0.7/sqrt(2).
    let x3 = t64(&pseudo_random(3 * 3 * 2, 12), &[3, 3, 2]);
    check_all(&rbn, x3, &|x, a, b| rbn.forward_with(x, a, b));
    rbn.eval();
    check_all(&rbn, input(13), &|x, a, b| rbn.forward_with(x, a, b));
}
