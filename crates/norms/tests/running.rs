//! RunningBatchNorm's claims from the spec: the `dbias` division is a no-op, version 2
//! (`factor`/`offset`) is identical in training, its folded factors reproduce eval mode,
//! and a first step (running statistics = batch statistics) has BatchNorm2d's gradient.

mod common;

use autograd::Var;
use common::*;
use layers::{Module, ModuleExt};
use norms::{reference, BatchNorm2d, NormConfig, RunningBatchNorm};
use proptest::prelude::*;
use tensor::DType;

fn rbn(c: usize, mom: f64) -> RunningBatchNorm {
    to_f64(RunningBatchNorm::with_config(c, NormConfig::default().with_momentum(mom)).unwrap())
}

fn batch(seed: u64, shape: &[usize]) -> Vec<f64> {
    let n: usize = shape.iter().product();
    pseudo_random(n, seed)
        .iter()
        .map(|v| 0.7 + 1.5 * v)
        .collect()
}

/// Training steps `(x, dy)` of shape `[bs, c, 2, 3]`.
fn steps(bs: &[usize], c: usize, seed: u64) -> Vec<(Vec<f64>, Vec<f64>, Vec<usize>)> {
    bs.iter()
        .enumerate()
        .map(|(i, &n)| {
            let shape = vec![n, c, 2, 3];
            let s = seed + 10 * i as u64;
            (
                batch(s, &shape),
                pseudo_random(shape.iter().product(), s + 1),
                shape,
            )
        })
        .collect()
}

#[test]
fn dividing_by_dbias_changes_nothing() {
    let (a, b) = (rbn(3, 0.2), rbn(3, 0.2));
    b.step().set_value(t64(&[1000.0], &[])); // b never divides by dbias
    for (x, dy, shape) in steps(&[2, 3, 2, 4], 3, 1) {
        let (xa, xb) = (
            Var::parameter(t64(&x, &shape)),
            Var::parameter(t64(&x, &shape)),
        );
        let (ya, yb) = (a.forward(&xa).unwrap(), b.forward(&xb).unwrap());
        assert_close("y", &vals(&ya), &vals(&yb), 1e-12);
        backprop(&ya, &dy);
        backprop(&yb, &dy);
        assert_close("dx", &grad(&xa), &grad(&xb), 1e-12);
        assert_close("dmults", &grad(a.mults()), &grad(b.mults()), 1e-12);
        a.zero_grad();
        b.zero_grad();
    }
    assert_close("sums", &vals(a.sums()), &vals(b.sums()), 1e-12);
    assert_eq!(vals(a.step()), vec![4.0]);
}

#[test]
fn the_first_step_has_the_gradient_of_batchnorm2d() {
    // Fresh buffers: after debiasing, mean and var are the batch's own (biased) statistics
    // and share = 1/m, so the gradient is BatchNorm2d's (as long as no variance is clamped).
    let (r, bn) = (rbn(2, 0.1), to_f64(BatchNorm2d::new(2).unwrap()));
    let params = vec![vec![1.5, 0.5], vec![0.2, -0.3]];
    set_params(&r, &params);
    set_params(&bn, &params);
    let shape = [2, 2, 2, 3];
    let (x, dy) = (batch(5, &shape), pseudo_random(24, 6));
    let (xa, xb) = (
        Var::parameter(t64(&x, &shape)),
        Var::parameter(t64(&x, &shape)),
    );
    let (ya, yb) = (r.forward(&xa).unwrap(), bn.forward(&xb).unwrap());
    assert_close("y", &vals(&ya), &vals(&yb), 1e-10);
    backprop(&ya, &dy);
    backprop(&yb, &dy);
    assert_close("dx", &grad(&xa), &grad(&xb), 1e-10);
    assert_close(
        "dmults",
        &grad(r.mults()),
        &grad(bn.weight().unwrap()),
        1e-10,
    );
    assert_close("dadds", &grad(r.adds()), &grad(bn.bias().unwrap()), 1e-10);
}

#[test]
fn inference_factors_reproduce_eval_mode() {
    for dtype in [DType::F64, DType::F32] {
        let r = RunningBatchNorm::new(3).unwrap();
        r.to_dtype(dtype).unwrap();
        set_params(&r, &[vec![1.5, 0.5, 2.0], vec![0.2, -0.3, 0.0]]);
        r.to_dtype(dtype).unwrap();
        for (x, _, shape) in steps(&[2, 4, 3], 3, 9) {
            r.forward(&Var::constant(t64(&x, &shape).to_dtype(dtype).unwrap()))
                .unwrap();
        }
        r.eval();
        let shape = [1, 3, 2, 3];
        let x = t64(&batch(40, &shape), &shape).to_dtype(dtype).unwrap();
        let y = r.forward(&Var::constant(x.clone())).unwrap();
        let f = r.inference_factors().unwrap();
        let tol = if dtype == DType::F64 { 1e-12 } else { 1e-5 };
        assert_close(
            "factor x + offset",
            &tvals(&f.apply(&x).unwrap()),
            &vals(&y),
            tol,
        );
        assert_eq!(f.factor.shape(), &[1, 3, 1, 1]);
        let (mean, var) = r.statistics().unwrap();
        let want: Vec<f64> = (0..3)
            .map(|c| vals(r.mults())[c] / (tvals(&var)[c] + 1e-5).sqrt())
            .collect();
        assert_close("factor", &tvals(&f.factor), &want, tol);
        let offset: Vec<f64> = (0..3)
            .map(|c| vals(r.adds())[c] - tvals(&mean)[c] * want[c])
            .collect();
        assert_close("offset", &tvals(&f.offset), &offset, tol);
        assert!(
            f.apply(&t64(&[1.0; 4], &[2, 2])).is_err(),
            "channel count is checked"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Version 1 (fused, with dbias and step) against version 2 (reference, factor and
    /// offset, no debiasing): identical outputs, gradients and running sums in training.
    #[test]
    fn version_two_is_identical_in_training(
        c in 1usize..4,
        mom in 0.05f64..=1.0,
        sizes in prop::collection::vec(2usize..6, 1..6),
        seed in 0u64..1000,
    ) {
        let (v1, v2) = (rbn(c, mom), rbn(c, mom));
        let scale = pseudo_random(c, seed).iter().map(|v| 1.0 + 0.4 * v).collect();
        let params = vec![scale, pseudo_random(c, seed + 1)];
        set_params(&v1, &params);
        set_params(&v2, &params);
        for (x, dy, shape) in steps(&sizes, c, seed) {
            let (xa, xb) = (Var::parameter(t64(&x, &shape)), Var::parameter(t64(&x, &shape)));
            let ya = v1.forward(&xa).unwrap();
            let yb = reference::running_batch_norm_v2(&v2, &xb).unwrap();
            assert_close("y", &vals(&ya), &vals(&yb), 1e-9);
            backprop(&ya, &dy);
            backprop(&yb, &dy);
            assert_close("dx", &grad(&xa), &grad(&xb), 1e-9);
            assert_close("dmults", &grad(v1.mults()), &grad(v2.mults()), 1e-9);
            assert_close("dadds", &grad(v1.adds()), &grad(v2.adds()), 1e-9);
            v1.zero_grad();
            v2.zero_grad();
            let buffers = [
                ("sums", v1.sums(), v2.sums()),
                ("sqrs", v1.sqrs(), v2.sqrs()),
                ("count", v1.count(), v2.count()),
                ("batch", v1.batch(), v2.batch()),
            ];
            for (name, a, b) in buffers {
                assert_close(name, &vals(a), &vals(b), 1e-10);
            }
        }
    }
}
