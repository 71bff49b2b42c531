//! Batch Renormalization beyond the PyTorch goldens (`golden.rs`): the fused backward pass
//! (derived in `renorm_fused`) against f64 finite differences and against autograd through
//! the reference built from primitives, and its refused settings.

mod common;

use autograd::{GradCheck, Var};
use common::*;
use layers::{Module, ModuleExt};
use norms::{reference, BatchRenorm, NormError};
use proptest::prelude::*;
use tensor::Tensor;

/// A `[3, 2, 2, 2]` input with distinct channel means and spreads.
fn input(seed: u64) -> Tensor {
    let r = pseudo_random(24, seed);
    let v: Vec<f64> = r
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let c = (i / 4) % 2;
            c as f64 - 0.5 + (1.0 + c as f64) * x
        })
        .collect();
    t64(&v, &[3, 2, 2, 2])
}

fn layer(rmax: f64, dmax: f64, running: (&[f64], &[f64])) -> BatchRenorm {
    let m = to_f64(BatchRenorm::with_options(2, 1e-5, 0.1, rmax, dmax).unwrap());
    m.running_mean().set_value(t64(running.0, &[2]));
    m.running_std().set_value(t64(running.1, &[2]));
    m.weight().set_value(t64(&[1.3, 0.7], &[2]));
    m.bias().set_value(t64(&[0.2, -0.4], &[2]));
    m
}

/// Finite differences of (x, weight, bias) -> y. `r`, `d` are constants of the backward
/// pass, so this only holds where they are locally constant: both clipped (here in every
/// channel: running std far below the batch's, running mean far from it) or `rmax = 1`,
/// `dmax = 0`.
fn gradcheck(m: &BatchRenorm) {
    let snap = snapshot(m);
    let inputs = vec![input(7), m.weight().value(), m.bias().value()];
    GradCheck::default()
        .run(&inputs, |v| {
            restore(m, &snap);
            m.forward_with(&v[0], &v[1], &v[2])
        })
        .unwrap();
    restore(m, &snap);
    m.forward(&Var::constant(input(7))).unwrap();
    let (r, d) = m.last_correction().unwrap();
    let (rmax, dmax) = m.clip();
    for (&r, d) in tvals(&r).iter().zip(tvals(&d)) {
        assert!(r == rmax || r == 1.0 / rmax, "r = {r} not clipped");
        assert!(d.abs() == dmax, "d = {d} not clipped");
    }
}

#[test]
fn fused_backward_matches_finite_differences_with_clipping_active() {
    gradcheck(&layer(1.5, 0.5, (&[10.0, -10.0], &[0.05, 0.05])));
    gradcheck(&layer(2.0, 0.05, (&[-8.0, 9.0], &[40.0, 30.0])));
}

#[test]
fn fused_backward_matches_finite_differences_as_batchnorm() {
    gradcheck(&layer(1.0, 0.0, (&[0.3, -0.2], &[1.1, 0.9])));
}

#[test]
fn eval_backward_matches_finite_differences() {
    let m = layer(1.5, 0.5, (&[0.3, -0.2], &[1.1, 0.9]));
    m.eval();
    let inputs = vec![input(8), m.weight().value(), m.bias().value()];
    GradCheck::default()
        .run(&inputs, |v| m.forward_with(&v[0], &v[1], &v[2]))
        .unwrap();
}

/// One training step of the fused layer and of the reference on twin layers.
fn twin_step(rmax: f64, dmax: f64, running: (&[f64], &[f64]), x: Tensor, train: bool) {
    let (a, b) = (layer(rmax, dmax, running), layer(rmax, dmax, running));
    if !train {
        a.eval();
        b.eval();
    }
    let w: Vec<f64> = pseudo_random(x.numel(), 5);
    let (xa, xb) = (Var::parameter(x.deep_clone()), Var::parameter(x));
    let ya = a.forward(&xa).unwrap();
    let yb = reference::batch_renorm(&b, &xb).unwrap();
    assert_close("y", &vals(&ya), &vals(&yb), 1e-12);
    backprop(&ya, &w);
    backprop(&yb, &w);
    assert_close("dx", &grad(&xa), &grad(&xb), 1e-11);
    assert_close("dweight", &grad(a.weight()), &grad(b.weight()), 1e-11);
    assert_close("dbias", &grad(a.bias()), &grad(b.bias()), 1e-11);
    for ((n, p), (_, q)) in a.named_buffers().iter().zip(b.named_buffers()) {
        assert_close(n, &vals(p), &vals(&q), 1e-13);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any bounds and running statistics (clipped or not): fused == reference, forward,
    /// every gradient, the buffers; training and eval.
    #[test]
    fn fused_matches_reference(
        rmax in 1.0f64..4.0,
        dmax in 0.0f64..3.0,
        mean in prop::collection::vec(-2.0f64..2.0, 2),
        std in prop::collection::vec(0.2f64..3.0, 2),
        seed in 0u64..1000,
        train in any::<bool>(),
    ) {
        twin_step(rmax, dmax, (&mean, &std), input(seed), train);
    }
}

#[test]
fn bad_bounds_are_typed_errors() {
    let bad = |rmax: f64, dmax: f64| NormError::InvalidClip {
        norm: "BatchRenorm",
        rmax,
        dmax,
    };
    for (rmax, dmax) in [
        (0.99, 0.0),
        (1.0, -0.1),
        (f64::NAN, 0.0),
        (2.0, f64::INFINITY),
    ] {
        let e = BatchRenorm::with_options(3, 1e-5, 0.1, rmax, dmax).unwrap_err();
        assert_eq!(e.to_string(), bad(rmax, dmax).to_string());
        let m = BatchRenorm::new(3).unwrap();
        assert_eq!(
            m.set_clip(rmax, dmax).unwrap_err().to_string(),
            bad(rmax, dmax).to_string()
        );
        assert_eq!(m.clip(), (1.0, 0.0), "a refused set_clip changes nothing");
    }
    assert!(matches!(
        BatchRenorm::with_options(3, 1e-5, 1.5, 1.0, 0.0),
        Err(NormError::InvalidMomentum { .. })
    ));
    // One value per channel cannot be normalised in training.
    let m = BatchRenorm::new(3).unwrap();
    let x = Var::constant(Tensor::zeros(&[1, 3], tensor::DType::F32, tensor::Device::Cpu).unwrap());
    assert!(m.forward(&x).is_err());
}
