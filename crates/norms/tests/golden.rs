//! Every PyTorch-style layer and option against PyTorch's own f64 results
//! (`tests/fixtures`, written by `generate.py`): outputs, input and parameter gradients of
//! three training steps, the buffers after each, and an eval pass; `<= 1e-10` relative.

mod common;

use common::fixture::Fixture;
use common::golden::{replay, Hooks, NO_HOOKS};
use layers::Module;
use norms::{
    BatchNorm1d, BatchNorm2d, BatchNormOptions, BatchRenorm, GroupNorm, InstanceNorm2d,
    TorchLayerNorm,
};

/// The options a case's suffix names.
fn options(suffix: &str) -> BatchNormOptions {
    let d = BatchNormOptions::default();
    match suffix {
        "defaults" | "batch1" => d,
        "eps1e-3" => d.with_eps(1e-3),
        "momentum_none" => d.with_momentum(None),
        "no_affine" => d.with_affine(false),
        "no_tracking" => d.with_track_running_stats(false),
        other => panic!("unknown suffix {other}"),
    }
}

const SUFFIXES: [&str; 5] = [
    "defaults",
    "eps1e-3",
    "momentum_none",
    "no_affine",
    "no_tracking",
];

fn all(cases: &[(String, Box<dyn Module>)]) -> f64 {
    let worst = cases
        .iter()
        .map(|(name, m)| replay(name, m.as_ref(), &NO_HOOKS))
        .fold(0.0, f64::max);
    eprintln!("worst of {} cases: {worst:.3e}", cases.len());
    worst
}

#[test]
fn batchnorm1d_nc_and_ncl_every_option() {
    let mut cases: Vec<(String, Box<dyn Module>)> = Vec::new();
    for input in ["nc", "ncl"] {
        for s in SUFFIXES {
            let m = BatchNorm1d::with_options(3, options(s)).unwrap();
            cases.push((format!("batchnorm1d_{input}_{s}"), Box::new(m)));
        }
    }
    cases.push((
        "batchnorm1d_ncl_batch1".into(),
        Box::new(BatchNorm1d::new(3).unwrap()),
    ));
    all(&cases);
}

#[test]
fn batchnorm2d_every_option() {
    let mut cases: Vec<(String, Box<dyn Module>)> = Vec::new();
    for s in SUFFIXES {
        let m = BatchNorm2d::with_options(3, options(s)).unwrap();
        cases.push((format!("batchnorm2d_{s}"), Box::new(m)));
    }
    cases.push((
        "batchnorm2d_batch1".into(),
        Box::new(BatchNorm2d::new(3).unwrap()),
    ));
    all(&cases);
}

#[test]
fn layernorm_pytorch_every_option() {
    let ln = |shape: &[usize], affine, bias| -> Box<dyn Module> {
        Box::new(TorchLayerNorm::with_options(shape, 1e-5, affine, bias).unwrap())
    };
    all(&[
        (
            "layernorm_last1".into(),
            Box::new(TorchLayerNorm::new(&[5]).unwrap()),
        ),
        ("layernorm_last2".into(), ln(&[4, 5], true, true)),
        ("layernorm_last3".into(), ln(&[3, 4, 5], true, true)),
        ("layernorm_last2_no_affine".into(), ln(&[4, 5], false, true)),
        ("layernorm_last2_no_bias".into(), ln(&[4, 5], true, false)),
    ]);
}

#[test]
fn instancenorm2d_every_option() {
    let i = BatchNormOptions::instance();
    let tracking = i.with_track_running_stats(true).with_momentum(Some(0.2));
    let m = |o| -> Box<dyn Module> { Box::new(InstanceNorm2d::with_options(3, o).unwrap()) };
    all(&[
        (
            "instancenorm2d_defaults".into(),
            Box::new(InstanceNorm2d::new(3).unwrap()),
        ),
        ("instancenorm2d_affine".into(), m(i.with_affine(true))),
        ("instancenorm2d_tracking".into(), m(tracking)),
    ]);
}

#[test]
fn groupnorm_every_option() {
    let mut cases: Vec<(String, Box<dyn Module>)> = Vec::new();
    for g in [1, 2, 3, 6] {
        cases.push((
            format!("groupnorm_g{g}"),
            Box::new(GroupNorm::new(g, 6).unwrap()),
        ));
    }
    let no_affine = GroupNorm::with_options(2, 6, 1e-5, false).unwrap();
    cases.push(("groupnorm_g2_no_affine".into(), Box::new(no_affine)));
    all(&cases);
}

/// Replays a Batch Renorm case with its per-step `rmax`/`dmax` and checks `r`, `d`.
fn renorm(name: &str) -> f64 {
    let fx = Fixture::load(name);
    let m =
        BatchRenorm::with_options(3, 1e-5, 0.1, fx.scalar("rmax1"), fx.scalar("dmax1")).unwrap();
    let before = |fx: &Fixture, k: usize| {
        m.set_clip(
            fx.scalar(&format!("rmax{k}")),
            fx.scalar(&format!("dmax{k}")),
        )
        .unwrap();
    };
    let after = |fx: &Fixture, k: usize, _: &autograd::Var| {
        let (r, d) = m.last_correction().expect("a training pass");
        fx.check(&format!("r{k}"), &r)
            .max(fx.check(&format!("d{k}"), &d))
    };
    let hooks = Hooks {
        before: &before,
        after: &after,
    };
    replay(name, &m, &hooks)
}

#[test]
fn batch_renorm_clipping_active_and_schedule() {
    for name in [
        "batchrenorm_clip",
        "batchrenorm_schedule",
        "batchrenorm_2d_nc",
    ] {
        renorm(name);
    }
    // The clipping case really clips: r sits on its bound 1.5 in every channel and step.
    let fx = Fixture::load("batchrenorm_clip");
    for k in 1..=3 {
        assert!(fx.vals(&format!("r_clipped{k}")).iter().all(|&c| c == 1.0));
        assert!(fx
            .vals(&format!("r{k}"))
            .iter()
            .all(|&r| (r - 1.5).abs() < 1e-12 || (r - 1.0 / 1.5).abs() < 1e-12));
    }
}

/// `rmax = 1`, `dmax = 0`: training is batch normalisation, both for PyTorch's
/// `BatchNorm2d` outputs stored beside (`bn_*`) and for our own `BatchNorm2d`.
#[test]
fn batch_renorm_with_rmax_1_dmax_0_is_batchnorm() {
    renorm("batchrenorm_as_batchnorm");
    let fx = Fixture::load("batchrenorm_as_batchnorm");
    let bn = BatchNorm2d::new(3).unwrap();
    let rn = BatchRenorm::new(3).unwrap();
    for m in [&bn as &dyn Module, &rn] {
        layers::ModuleExt::to_dtype(m, tensor::DType::F64).unwrap();
        let params = layers::ModuleExt::named_parameters(m);
        for (n, p) in &params {
            p.set_value(fx.tensor(n));
        }
        for k in 1..=3 {
            layers::ModuleExt::zero_grad(m);
            let x = autograd::Var::parameter(fx.tensor(&format!("x{k}")));
            let y = m.forward(&x).unwrap();
            y.backward_with(fx.tensor(&format!("dy{k}"))).unwrap();
            fx.check_var(&format!("bn_y{k}"), &y);
            fx.check(&format!("bn_dx{k}"), &x.grad().unwrap());
            for (n, p) in &params {
                fx.check(&format!("bn_d{n}{k}"), &p.grad().unwrap());
            }
        }
    }
}
