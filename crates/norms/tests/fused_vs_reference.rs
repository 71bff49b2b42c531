//! Property tests: every fused layer against its reference implementation (primitive
//! autograd ops, `norms::reference`) over shapes (rank 2 to 4, batch sizes 1 and 2
//! included where the layer allows them), eps and momentum: outputs, input gradients,
//! parameter gradients and running buffers over several training steps, then eval-mode
//! outputs and gradients. All in `f64`.

mod common;

use autograd::Var;
use common::*;
use layers::{Module, ModuleExt};
use norms::{
    reference, BatchNorm, BatchNorm2d, GroupNorm, InstanceNorm, LayerNorm, NormConfig,
    RunningBatchNorm,
};
use proptest::prelude::*;
use tensor::Result;

const TOL: f64 = 1e-8;

#[derive(Clone, Copy, Debug)]
enum Kind {
    BatchLesson,
    Batch2d,
    Layer,
    Instance,
    Group(usize),
    Running,
}

fn build(kind: Kind, c: usize, eps: f64, mom: f64) -> Box<dyn Module> {
    let cfg = NormConfig::new(eps, mom);
    let m: Box<dyn Module> = match kind {
        Kind::BatchLesson => Box::new(BatchNorm::with_config(c, cfg).unwrap()),
        Kind::Batch2d => Box::new(BatchNorm2d::with_config(c, cfg).unwrap()),
        Kind::Layer => Box::new(LayerNorm::with_eps(eps).unwrap()),
        Kind::Instance => Box::new(InstanceNorm::with_eps(c, eps).unwrap()),
        Kind::Group(g) => Box::new(GroupNorm::with_eps(g, c, eps).unwrap()),
        Kind::Running => Box::new(RunningBatchNorm::with_config(c, cfg).unwrap()),
    };
    m.to_dtype(tensor::DType::F64).unwrap();
    m
}

fn reference_forward(kind: Kind, m: &dyn Module, x: &Var) -> Result<Var> {
    let any = m.as_any();
    match kind {
        Kind::BatchLesson => reference::batch_norm(any.downcast_ref().unwrap(), x),
        Kind::Batch2d => reference::batch_norm_2d(any.downcast_ref().unwrap(), x),
        Kind::Layer => reference::layer_norm(any.downcast_ref().unwrap(), x),
        Kind::Instance => reference::instance_norm(any.downcast_ref().unwrap(), x),
        Kind::Group(_) => reference::group_norm(any.downcast_ref().unwrap(), x),
        Kind::Running => reference::running_batch_norm(any.downcast_ref().unwrap(), x),
    }
}

/// One run: training steps `(x, dy)` then an eval pass, all of one layer configuration.
#[derive(Clone, Debug)]
struct Scenario {
    kind: Kind,
    shape: Vec<usize>,
    eval_shape: Vec<usize>,
    eps: f64,
    mom: f64,
    params: Vec<Vec<f64>>,
    steps: Vec<(Vec<f64>, Vec<f64>)>,
    eval: (Vec<f64>, Vec<f64>),
    /// RunningBatchNorm only: start past the debiasing steps (`step = 150`) and/or past the
    /// clamping samples (`batch = 30`).
    preset: (bool, bool),
}

fn values(n: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(-2.0f64..3.0, n)
}

fn grads(n: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(-1.0f64..1.0, n)
}

/// Scenarios for one kind of layer; `min_batch` is the smallest training batch it allows.
fn scenario(kind: fn(usize) -> Kind, min_batch: usize) -> impl Strategy<Value = Scenario> {
    (
        min_batch..=3usize,
        1usize..=3,
        1usize..=4,
        prop::collection::vec(1usize..=3, 0..=2),
        prop_oneof![Just(1e-5), 1e-3f64..1.0],
        0.0f64..=1.0,
        1usize..=3,
        any::<usize>(),
        any::<(bool, bool)>(),
    )
        .prop_filter(
            "BatchNorm2d needs 2 values per channel",
            move |(n, _, c, sp, ..)| {
                let s: usize = sp.iter().product();
                !matches!(kind(*c), Kind::Batch2d) || n * s >= 2
            },
        )
        .prop_flat_map(
            move |(n, eval_n, c, spatial, eps, mom, steps, pick, preset)| {
                let divisors: Vec<usize> = (1..=c).filter(|g| c.is_multiple_of(*g)).collect();
                let k = match kind(c) {
                    Kind::Group(_) => Kind::Group(divisors[pick % divisors.len()]),
                    other => other,
                };
                let mom = if matches!(k, Kind::Running) {
                    mom.max(0.05)
                } else {
                    mom
                };
                let mut shape = vec![n, c];
                shape.extend(&spatial);
                let mut eval_shape = vec![eval_n, c];
                eval_shape.extend(&spatial);
                let numel: usize = shape.iter().product();
                let eval_numel: usize = eval_shape.iter().product();
                let affine = if matches!(k, Kind::Layer) { 1 } else { c };
                (
                    Just((k, shape, eval_shape, eps, mom, preset)),
                    (
                        prop::collection::vec(0.5f64..1.5, affine),
                        prop::collection::vec(-0.5f64..0.5, affine),
                    ),
                    prop::collection::vec((values(numel), grads(numel)), steps),
                    (values(eval_numel), grads(eval_numel)),
                )
            },
        )
        .prop_map(
            |((kind, shape, eval_shape, eps, mom, preset), (scale, shift), steps, eval)| Scenario {
                kind,
                shape,
                eval_shape,
                eps,
                mom,
                params: vec![scale, shift],
                steps,
                eval,
                preset,
            },
        )
}

/// Runs one pass of both layers on `x` with output gradient `dy` and compares everything.
fn compare_pass(
    sc: &Scenario,
    fused: &dyn Module,
    refm: &dyn Module,
    x: &[f64],
    shape: &[usize],
    dy: &[f64],
) {
    let (xa, xb) = (Var::parameter(t64(x, shape)), Var::parameter(t64(x, shape)));
    let ya = fused.forward(&xa).unwrap();
    let yb = reference_forward(sc.kind, refm, &xb).unwrap();
    assert_close("y", &vals(&ya), &vals(&yb), TOL);
    backprop(&ya, dy);
    backprop(&yb, dy);
    assert_close("dx", &grad(&xa), &grad(&xb), TOL);
    for ((name, pa), (_, pb)) in fused.local_parameters().iter().zip(refm.local_parameters()) {
        assert_close(name, &grad(pa), &grad(pb), TOL);
    }
    for ((name, ba), (_, bb)) in fused.local_buffers().iter().zip(refm.local_buffers()) {
        assert_close(name, &vals(ba), &vals(bb), TOL);
    }
    fused.zero_grad();
    refm.zero_grad();
}

fn run(sc: &Scenario) {
    let c = sc.shape[1];
    let fused = build(sc.kind, c, sc.eps, sc.mom);
    let refm = build(sc.kind, c, sc.eps, sc.mom);
    set_params(fused.as_ref(), &sc.params);
    set_params(refm.as_ref(), &sc.params);
    for m in [fused.as_ref(), refm.as_ref()] {
        for (name, b) in m.local_buffers() {
            match name {
                "step" if sc.preset.0 => b.set_value(t64(&[150.0], &[])),
                "batch" if sc.preset.1 => b.set_value(t64(&[30.0], &[])),
                _ => {}
            }
        }
    }
    for (x, dy) in &sc.steps {
        compare_pass(sc, fused.as_ref(), refm.as_ref(), x, &sc.shape, dy);
    }
    fused.eval();
    refm.eval();
    compare_pass(
        sc,
        fused.as_ref(),
        refm.as_ref(),
        &sc.eval.0,
        &sc.eval_shape,
        &sc.eval.1,
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn lesson_batchnorm_matches_reference(sc in scenario(|_| Kind::BatchLesson, 1)) {
        run(&sc);
    }

    #[test]
    fn batchnorm2d_matches_reference(sc in scenario(|_| Kind::Batch2d, 1)) {
        run(&sc);
    }

    #[test]
    fn layernorm_matches_reference(sc in scenario(|_| Kind::Layer, 1)) {
        run(&sc);
    }

    #[test]
    fn instancenorm_matches_reference(sc in scenario(|_| Kind::Instance, 1)) {
        run(&sc);
    }

    #[test]
    fn groupnorm_matches_reference(sc in scenario(Kind::Group, 1)) {
        run(&sc);
    }

    #[test]
    fn running_batchnorm_matches_reference(sc in scenario(|_| Kind::Running, 2)) {
        run(&sc);
    }
}
