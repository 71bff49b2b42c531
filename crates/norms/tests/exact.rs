//! Exact values worked out by hand (or with the spec's formulas written out in the test) on
//! a tiny `[2, 2, 1, 2]` batch:
//!
//! ```text
//! sample 0: channel 0 = [1, 2], channel 1 = [3, 5]
//! sample 1: channel 0 = [3, 4], channel 1 = [-1, 1]
//! channel 0: {1, 2, 3, 4}: mean 2.5, sum of squared deviations 5 -> biased 5/4, unbiased 5/3
//! channel 1: {3, 5, -1, 1}: mean 2, squared deviations 1 + 9 + 9 + 1 = 20 -> 5, 20/3
//! sample 0: {1, 2, 3, 5}: mean 2.75, squared deviations 8.75
//! sample 1: {3, 4, -1, 1}: mean 1.75, squared deviations 14.75
//! ```

mod common;

use autograd::Var;
use common::*;
use layers::Module;
use norms::{
    BatchNorm, BatchNorm2d, GroupNorm, InstanceNorm, LayerNorm, NormConfig, RunningBatchNorm,
};
use test_oracles::norm::{
    normalize_backward, Grouping, NormGrads, NormShape, StatsGradient, Variance,
};

const X: [f64; 8] = [1.0, 2.0, 3.0, 5.0, 3.0, 4.0, -1.0, 1.0];
const SHAPE: [usize; 4] = [2, 2, 1, 2];
const EPS: f64 = 1e-5;

/// A non-constant upstream gradient for the backward checks.
const DY: [f64; 8] = [0.5, -1.0, 2.0, 0.25, -0.75, 1.5, 1.0, -2.0];

/// The f64 oracle's gradients of `sum(dy * norm(X))` for `X` of shape `SHAPE`, the
/// statistics differentiated.
fn oracle(grouping: Grouping, gamma: &[f64], dy: &[f64], var: Variance, eps: f64) -> NormGrads {
    let shape = NormShape::new(&SHAPE, grouping).unwrap();
    normalize_backward(&shape, &X, gamma, dy, var, eps, StatsGradient::Through).unwrap()
}

fn x() -> Var {
    Var::parameter(t64(&X, &SHAPE))
}

/// Channel of flat index `i` in `[2, 2, 1, 2]`.
fn ch(i: usize) -> usize {
    (i / 2) % 2
}

#[test]
fn batchnorm2d_normalises_with_the_biased_variance_and_tracks_the_unbiased_one() {
    let bn = to_f64(BatchNorm2d::new(2).unwrap());
    let xv = x();
    let y = bn.forward(&xv).unwrap();
    let (mean, biased) = ([2.5, 2.0], [1.25, 5.0]);
    let want: Vec<f64> = (0..8)
        .map(|i| (X[i] - mean[ch(i)]) / (biased[ch(i)] + EPS).sqrt())
        .collect();
    assert_close("y", &vals(&y), &want, 1e-12);
    // running_mean = 0.9 * 0 + 0.1 * mean; running_var = 0.9 * 1 + 0.1 * unbiased.
    assert_close(
        "running_mean",
        &vals(bn.running_mean().unwrap()),
        &[0.25, 0.2],
        1e-12,
    );
    let rv = [0.9 + 0.1 * 5.0 / 3.0, 0.9 + 0.1 * 20.0 / 3.0];
    assert_close("running_var", &vals(bn.running_var().unwrap()), &rv, 1e-12);
    assert_eq!(vals(bn.num_batches_tracked().unwrap()), vec![1.0]);

    // A non-constant upstream gradient (with dy = 1, dx and dweight are 0 and a backward
    // returning zeros would pass), against the f64 oracle: per channel, with xhat the
    // normalised input, M = 4 and r = 1 / sqrt(var + eps),
    // dx = r (dy - sum dy / M - xhat sum (dy xhat) / M), dweight = sum dy xhat, dbias = sum dy.
    let g = DY;
    backprop(&y, &g);
    let want = oracle(Grouping::PerChannel, &[1.0, 1.0], &g, Variance::Biased, EPS);
    assert!(want.dx.iter().all(|v| v.abs() > 1e-3), "{:?}", want.dx);
    assert_close("dx", &grad(&xv), &want.dx, 1e-10);
    assert_close("dweight", &grad(bn.weight().unwrap()), &want.dgamma, 1e-10);
    // dbias by hand: dy of channel 0 sits at flat indices 0, 1, 4, 5, of channel 1 at
    // 2, 3, 6, 7.
    assert_close(
        "dbias",
        &grad(bn.bias().unwrap()),
        &[0.5 - 1.0 - 0.75 + 1.5, 2.0 + 0.25 + 1.0 - 2.0],
        1e-12,
    );

    // Eval: the running statistics.
    bn.eval();
    let y = bn.forward(&x()).unwrap();
    let want: Vec<f64> = (0..8)
        .map(|i| (X[i] - [0.25, 0.2][ch(i)]) / (rv[ch(i)] + EPS).sqrt())
        .collect();
    assert_close("eval y", &vals(&y), &want, 1e-12);
    assert_eq!(
        vals(bn.num_batches_tracked().unwrap()),
        vec![1.0],
        "eval does not count"
    );
}

#[test]
fn lesson_batchnorm_uses_the_unbiased_variance_and_no_gradient_through_statistics() {
    let bn = to_f64(BatchNorm::new(2).unwrap());
    let (mults, adds) = ([2.0, 3.0], [0.5, -0.5]);
    set_params(&bn, &[mults.to_vec(), adds.to_vec()]);
    let xv = x();
    let y = bn.forward(&xv).unwrap();
    let (mean, unbiased) = ([2.5, 2.0], [5.0 / 3.0, 20.0 / 3.0]);
    let want: Vec<f64> = (0..8)
        .map(|i| (X[i] - mean[ch(i)]) / (unbiased[ch(i)] + EPS).sqrt() * mults[ch(i)] + adds[ch(i)])
        .collect();
    assert_close("y", &vals(&y), &want, 1e-12);
    assert_close("means", &vals(bn.means()), &[0.25, 0.2], 1e-12);
    let vars = [0.9 + 0.1 * 5.0 / 3.0, 0.9 + 0.1 * 20.0 / 3.0];
    assert_close("vars", &vals(bn.vars()), &vars, 1e-12);

    // dx = g * mults / sqrt(var + eps): nothing flows through the statistics.
    let g = pseudo_random(8, 7);
    backprop(&y, &g);
    let want: Vec<f64> = (0..8)
        .map(|i| g[i] * mults[ch(i)] / (unbiased[ch(i)] + EPS).sqrt())
        .collect();
    assert_close("dx", &grad(&xv), &want, 1e-12);
    let mut dmults = [0.0; 2];
    let mut dadds = [0.0; 2];
    for i in 0..8 {
        dmults[ch(i)] += g[i] * (X[i] - mean[ch(i)]) / (unbiased[ch(i)] + EPS).sqrt();
        dadds[ch(i)] += g[i];
    }
    assert_close("dmults", &grad(bn.mults()), &dmults, 1e-12);
    assert_close("dadds", &grad(bn.adds()), &dadds, 1e-12);

    bn.eval();
    let y = bn.forward(&x()).unwrap();
    let want: Vec<f64> = (0..8)
        .map(|i| {
            (X[i] - [0.25, 0.2][ch(i)]) / (vars[ch(i)] + EPS).sqrt() * mults[ch(i)] + adds[ch(i)]
        })
        .collect();
    assert_close("eval y", &vals(&y), &want, 1e-12);
}

#[test]
fn layernorm_normalises_each_sample_with_the_unbiased_variance() {
    let ln = to_f64(LayerNorm::new().unwrap());
    set_params(&ln, &[vec![2.0], vec![0.25]]);
    let xv = x();
    let y = ln.forward(&xv).unwrap();
    let (mean, var) = ([2.75, 1.75], [8.75 / 3.0, 14.75 / 3.0]);
    let want: Vec<f64> = (0..8)
        .map(|i| (X[i] - mean[i / 4]) / (var[i / 4] + EPS).sqrt() * 2.0 + 0.25)
        .collect();
    assert_close("y", &vals(&y), &want, 1e-12);
    // Backward through the per-sample statistics (unbiased divisor M - 1 = 3).
    backprop(&y, &DY);
    let want_g = oracle(
        Grouping::PerGroup { groups: 1 },
        &[2.0],
        &DY,
        Variance::Unbiased,
        EPS,
    );
    assert_close("dx", &grad(&xv), &want_g.dx, 1e-10);
    assert_close("dmult", &grad(ln.mult()), &want_g.dgamma, 1e-10);
    assert_close("dadd", &grad(ln.add()), &[DY.iter().sum::<f64>()], 1e-12);
    ln.eval();
    assert_close("eval y", &vals(&ln.forward(&x()).unwrap()), &want, 1e-12);
}

#[test]
fn instancenorm_normalises_each_map_with_eps_one() {
    let inorm = to_f64(InstanceNorm::new(2).unwrap());
    let xv = x();
    let y = inorm.forward(&xv).unwrap();
    // Pairs [a, b]: mean (a + b)/2, unbiased variance (b - a)^2 / 2, eps = 1.
    let want: Vec<f64> = X
        .chunks(2)
        .flat_map(|p| {
            let (m, v) = ((p[0] + p[1]) / 2.0, (p[1] - p[0]).powi(2) / 2.0);
            p.iter()
                .map(move |a| (a - m) / (v + 1.0).sqrt())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_close("y", &vals(&y), &want, 1e-12);
    assert!((want[0] + 0.5 / 1.5f64.sqrt()).abs() < 1e-15);
    // Backward through each map's statistics. By hand for a pair [a, b] (mean m, variance
    // v = (b - a)^2 / 2, r = 1 / sqrt(v + 1)): xhat = -+ (b - a) r / 2, and
    // dx_a = r (g_a - (g_a + g_b) / 2 - xhat_a (g_a xhat_a + g_b xhat_b) / 1).
    backprop(&y, &DY);
    let want_g = oracle(
        Grouping::PerGroup { groups: 2 },
        &[1.0, 1.0],
        &DY,
        Variance::Unbiased,
        1.0,
    );
    let (a, b, ga, gb) = (X[0], X[1], DY[0], DY[1]);
    let r = 1.0 / ((b - a) * (b - a) / 2.0 + 1.0f64).sqrt();
    let (ha, hb) = (-(b - a) * r / 2.0, (b - a) * r / 2.0);
    let dxa = r * (ga - (ga + gb) / 2.0 - ha * (ga * ha + gb * hb));
    assert!(
        (want_g.dx[0] - dxa).abs() < 1e-14,
        "{} vs {dxa}",
        want_g.dx[0]
    );
    assert_close("dx", &grad(&xv), &want_g.dx, 1e-10);
    assert_close("dmults", &grad(inorm.mults()), &want_g.dgamma, 1e-10);
    assert_close("dadds", &grad(inorm.adds()), &want_g.dbeta, 1e-12);
}

#[test]
fn instancenorm_on_a_one_by_one_map_is_nan() {
    let inorm = to_f64(InstanceNorm::new(3).unwrap());
    let y = inorm
        .forward(&Var::constant(t64(
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            &[2, 3, 1, 1],
        )))
        .unwrap();
    assert!(
        vals(&y).iter().all(|v| v.is_nan()),
        "0/0 variance: {:?}",
        vals(&y)
    );
}

#[test]
fn groupnorm_normalises_groups_of_channels_with_the_biased_variance() {
    // [1, 4, 1, 2]: groups {channels 0, 1} = {1, 2, 3, 5} and {channels 2, 3} = {3, 4, -1, 1}.
    let gn = to_f64(GroupNorm::new(2, 4).unwrap());
    let w = [1.0, 2.0, 3.0, 4.0];
    let b = [0.0, 0.1, 0.2, 0.3];
    set_params(&gn, &[w.to_vec(), b.to_vec()]);
    let xv = Var::parameter(t64(&X, &[1, 4, 1, 2]));
    let y = gn.forward(&xv).unwrap();
    let (mean, var) = ([2.75, 1.75], [8.75 / 4.0, 14.75 / 4.0]);
    let want: Vec<f64> = (0..8)
        .map(|i| (X[i] - mean[i / 4]) / (var[i / 4] + EPS).sqrt() * w[i / 2] + b[i / 2])
        .collect();
    assert_close("y", &vals(&y), &want, 1e-12);
    // Backward through each group's statistics (biased divisor 4), per-channel weights.
    backprop(&y, &DY);
    let shape = NormShape::new(&[1, 4, 1, 2], Grouping::PerGroup { groups: 2 }).unwrap();
    let want_g = normalize_backward(
        &shape,
        &X,
        &w,
        &DY,
        Variance::Biased,
        EPS,
        StatsGradient::Through,
    )
    .unwrap();
    assert_close("dx", &grad(&xv), &want_g.dx, 1e-10);
    assert_close(
        "dweight",
        &grad(gn.weight().unwrap()),
        &want_g.dgamma,
        1e-10,
    );
    // dbias: dy summed over each channel's two values.
    assert_close(
        "dbias",
        &grad(gn.bias().unwrap()),
        &[-0.5, 2.25, 0.75, -1.0],
        1e-12,
    );
}

#[test]
fn running_batchnorm_first_steps_follow_the_spec() {
    let rbn = to_f64(RunningBatchNorm::new(2).unwrap());
    let xv = x();
    let y = rbn.forward(&xv).unwrap();
    // bs = 2: mom1 = 1 - 0.9 / sqrt(1) = 0.1. Buffers lerp from 0 with weight 0.1.
    assert_close("sums", &vals(rbn.sums()), &[1.0, 0.8], 1e-12);
    assert_close("sqrs", &vals(rbn.sqrs()), &[3.0, 3.6], 1e-12); // 1+4+9+16, 9+25+1+1
    assert_close("count", &vals(rbn.count()), &[0.4], 1e-12); // 0.1 * 8/2
    assert_close("dbias", &vals(rbn.dbias()), &[0.1], 1e-12);
    assert_eq!(vals(rbn.batch()), vec![2.0]);
    assert_eq!(vals(rbn.step()), vec![1.0]);
    // Debiased, the running statistics are the batch's own (biased) ones; no clamp binds.
    let (mean, biased) = ([2.5, 2.0], [1.25, 5.0]);
    let want: Vec<f64> = (0..8)
        .map(|i| (X[i] - mean[ch(i)]) / (biased[ch(i)] + EPS).sqrt())
        .collect();
    assert_close("y", &vals(&y), &want, 1e-12);

    // Second step: x2 = 1 on channel 0, 2 on channel 1.
    let x2 = [1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0];
    let y2 = rbn.forward(&Var::constant(t64(&x2, &SHAPE))).unwrap();
    let sums = [0.9 * 1.0 + 0.1 * 4.0, 0.9 * 0.8 + 0.1 * 8.0];
    let sqrs = [0.9 * 3.0 + 0.1 * 4.0, 0.9 * 3.6 + 0.1 * 16.0];
    let count = 0.9 * 0.4 + 0.1 * 4.0;
    let dbias = 0.1 * 0.9 + 0.1;
    assert_close("sums 2", &vals(rbn.sums()), &sums, 1e-12);
    assert_close("sqrs 2", &vals(rbn.sqrs()), &sqrs, 1e-12);
    assert_close("count 2", &vals(rbn.count()), &[count], 1e-12);
    assert_close("dbias 2", &vals(rbn.dbias()), &[dbias], 1e-12);
    let want: Vec<f64> = (0..8)
        .map(|i| {
            let c = ch(i);
            let (s, q, k) = (sums[c] / dbias, sqrs[c] / dbias, count / dbias);
            let m = s / k;
            let v = (q / k - m * m).max(0.01);
            (x2[i] - m) / (v + EPS).sqrt()
        })
        .collect();
    assert_close("y 2", &vals(&y2), &want, 1e-10);
}

#[test]
fn running_batchnorm_clamps_small_variances_while_few_samples_were_seen() {
    let rbn =
        to_f64(RunningBatchNorm::with_config(1, NormConfig::default().with_momentum(0.5)).unwrap());
    // One channel, variance 1e-6 << 0.01.
    let xs = [1.0, 1.001, 0.999, 1.0];
    let y = rbn
        .forward(&Var::constant(t64(&xs, &[2, 1, 2, 1])))
        .unwrap();
    let mean = 1.0;
    let want: Vec<f64> = xs
        .iter()
        .map(|v| (v - mean) / (0.01f64 + EPS).sqrt())
        .collect();
    assert_close("y", &vals(&y), &want, 1e-9);
    assert_close(
        "statistics",
        &tvals(&rbn.statistics().unwrap().1),
        &[0.01],
        1e-12,
    );
}

#[test]
fn running_batchnorm_eval_works_at_batch_size_one() {
    let rbn = to_f64(RunningBatchNorm::new(2).unwrap());
    rbn.forward(&x()).unwrap();
    rbn.eval();
    let one = [1.0, 2.0, 3.0, 5.0];
    let y = rbn
        .forward(&Var::constant(t64(&one, &[1, 2, 1, 2])))
        .unwrap();
    let (mean, biased) = ([2.5, 2.0], [1.25, 5.0]);
    let want: Vec<f64> = (0..4)
        .map(|i| (one[i] - mean[i / 2]) / (biased[i / 2] + EPS).sqrt())
        .collect();
    assert_close("eval y", &vals(&y), &want, 1e-12);
    assert_eq!(vals(rbn.step()), vec![1.0], "eval does not update");
}
