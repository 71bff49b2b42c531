//! Replays one PyTorch golden case (`tests/fixtures/README.md`, "One case") on one of our
//! layers: the same parameters, three training steps and an eval pass on the same inputs
//! and upstream gradients, comparing outputs, input and parameter gradients and every
//! buffer with PyTorch's (through [`Fixture::check`]).

#![allow(dead_code)]

use autograd::Var;
use layers::{Module, ModuleExt};
use tensor::DType;

use super::fixture::Fixture;

/// Training steps in every case.
pub const STEPS: usize = 3;

/// What the replay checks beyond the common keys: called before step `k` (1..=3) and after
/// it with its output.
pub struct Hooks<'a> {
    pub before: &'a dyn Fn(&Fixture, usize),
    pub after: &'a dyn Fn(&Fixture, usize, &Var) -> f64,
}

fn nothing(_: &Fixture, _: usize) {}
fn nothing_after(_: &Fixture, _: usize, _: &Var) -> f64 {
    0.0
}

/// No extra checks.
pub const NO_HOOKS: Hooks<'static> = Hooks {
    before: &nothing,
    after: &nothing_after,
};

/// Replays the case `name` on `m` (built with the case's options, any dtype) and returns
/// the worst relative error over every compared value.
pub fn replay(name: &str, m: &dyn Module, hooks: &Hooks<'_>) -> f64 {
    let fx = Fixture::load(name);
    m.to_dtype(DType::F64).unwrap();
    let params: Vec<(String, Var)> = m.named_parameters();
    let buffers: Vec<(String, Var)> = m.named_buffers();
    // Exactly PyTorch's parameters and buffers, with its initial buffer values.
    for (p, _) in &params {
        assert!(fx.has(p), "{name}: we have parameter {p}, PyTorch does not");
    }
    for key in ["weight", "bias"] {
        assert_eq!(
            fx.has(key),
            params.iter().any(|(p, _)| p == key),
            "{name}: parameter {key} presence"
        );
    }
    for key in [
        "running_mean",
        "running_var",
        "running_std",
        "num_batches_tracked",
    ] {
        assert_eq!(
            fx.has(&format!("{key}0")),
            buffers.iter().any(|(b, _)| b == key),
            "{name}: buffer {key} presence"
        );
    }
    let mut worst = 0.0f64;
    for (b, v) in &buffers {
        worst = worst.max(fx.check_var(&format!("{b}0"), v));
    }
    for (p, v) in &params {
        v.set_value(fx.tensor(p));
    }
    let mut pass = |suffix: &str, k: usize| {
        m.zero_grad();
        let x = Var::parameter(fx.tensor(&format!("x{suffix}")));
        let y = m
            .forward(&x)
            .unwrap_or_else(|e| panic!("{name} step {suffix}: {e}"));
        y.backward_with(fx.tensor(&format!("dy{suffix}"))).unwrap();
        worst = worst.max(fx.check_var(&format!("y{suffix}"), &y));
        worst = worst.max(fx.check(&format!("dx{suffix}"), &x.grad().unwrap()));
        for (p, v) in &params {
            let g = v
                .grad()
                .unwrap_or_else(|| panic!("{name}: no gradient of {p}"));
            worst = worst.max(fx.check(&format!("d{p}{suffix}"), &g));
        }
        if k > 0 {
            for (b, v) in &buffers {
                worst = worst.max(fx.check_var(&format!("{b}{k}"), v));
            }
            worst = worst.max((hooks.after)(&fx, k, &y));
        }
    };
    for k in 1..=STEPS {
        m.train();
        (hooks.before)(&fx, k);
        pass(&k.to_string(), k);
    }
    m.eval();
    pass("_eval", 0);
    // Eval changes no buffer.
    for (b, v) in &buffers {
        worst = worst.max(fx.check_var(&format!("{b}{STEPS}"), v));
    }
    eprintln!("golden {name}: worst relative error {worst:.3e}");
    worst
}
