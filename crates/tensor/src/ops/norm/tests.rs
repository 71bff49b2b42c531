//! Kernel tests: every result against a naive `f64` computation written independently of
//! the kernels (explicit `(n, c, s)` loops), backward passes against finite differences.

use proptest::prelude::*;
use test_oracles::norm as oracle;

use super::{NormLayout, StatGrad, Variance};
use crate::{DType, Device, Tensor, TensorError};

/// A normalisation problem: shape `[n, c, s...]`, a layout, values.
#[derive(Clone, Debug)]
pub(super) struct Case {
    pub(super) shape: Vec<usize>,
    pub(super) layout: NormLayout,
    pub(super) x: Vec<f64>,
    pub(super) per_channel_affine: bool,
    pub(super) gamma: Vec<f64>,
    pub(super) beta: Vec<f64>,
}

impl Case {
    fn n(&self) -> usize {
        self.shape[0]
    }
    pub(super) fn c(&self) -> usize {
        self.shape[1]
    }
    fn s(&self) -> usize {
        self.shape[2..].iter().product()
    }
    pub(super) fn groups(&self) -> usize {
        match self.layout {
            NormLayout::PerChannel => self.c(),
            NormLayout::PerGroup { groups } => self.n() * groups,
        }
    }
    /// Which statistic group element `(n, c, *)` belongs to, derived from the definition.
    fn group_of(&self, n: usize, c: usize) -> usize {
        match self.layout {
            NormLayout::PerChannel => c,
            NormLayout::PerGroup { groups } => n * groups + c / (self.c() / groups),
        }
    }
    fn index(&self, n: usize, c: usize, s: usize) -> usize {
        (n * self.c() + c) * self.s() + s
    }
    fn elements(&self) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        (0..self.n()).flat_map(move |n| {
            (0..self.c()).flat_map(move |c| (0..self.s()).map(move |s| (n, c, s)))
        })
    }
    fn affine(&self, c: usize) -> usize {
        if self.per_channel_affine {
            c
        } else {
            0
        }
    }
    /// The shared oracle's view of this case.
    fn oracle_shape(&self) -> oracle::NormShape {
        let grouping = match self.layout {
            NormLayout::PerChannel => oracle::Grouping::PerChannel,
            NormLayout::PerGroup { groups } => oracle::Grouping::PerGroup { groups },
        };
        oracle::NormShape::new(&self.shape, grouping).unwrap()
    }
    /// Naive `(mean, var)` per group (the `test-oracles` reference).
    fn moments(&self, x: &[f64], variance: Variance) -> Vec<(f64, f64)> {
        let m = oracle::moments(&self.oracle_shape(), x, oracle_variance(variance)).unwrap();
        m.mean.into_iter().zip(m.var).collect()
    }
    /// Naive normalisation by the batch's own statistics (the `test-oracles` reference).
    fn forward(&self, x: &[f64], variance: Variance, eps: f64) -> Vec<f64> {
        let v = oracle_variance(variance);
        oracle::normalize(&self.oracle_shape(), x, &self.gamma, &self.beta, v, eps).unwrap()
    }
    /// The reference gradients of `sum dy * forward(x)`, through the batch statistics.
    fn backward(&self, dy: &[f64], variance: Variance, eps: f64) -> oracle::NormGrads {
        let (s, v) = (self.oracle_shape(), oracle_variance(variance));
        let through = oracle::StatsGradient::Through;
        oracle::normalize_backward(&s, &self.x, &self.gamma, dy, v, eps, through).unwrap()
    }
    pub(super) fn tensor(&self, v: &[f64], shape: &[usize]) -> Tensor {
        Tensor::from_slice(v, shape, Device::Cpu).unwrap()
    }
    fn x_t(&self) -> Tensor {
        self.tensor(&self.x, &self.shape)
    }
    pub(super) fn affine_shape(&self) -> Vec<usize> {
        vec![self.gamma.len()]
    }
}

fn oracle_variance(v: Variance) -> oracle::Variance {
    match v {
        Variance::Biased => oracle::Variance::Biased,
        Variance::Unbiased => oracle::Variance::Unbiased,
    }
}

fn layout_for(c: usize, pick: usize) -> NormLayout {
    let divisors: Vec<usize> = (1..=c).filter(|g| c.is_multiple_of(*g)).collect();
    if pick == 0 {
        NormLayout::PerChannel
    } else {
        NormLayout::PerGroup {
            groups: divisors[pick % divisors.len()],
        }
    }
}

pub(super) fn case() -> impl Strategy<Value = Case> {
    (
        1usize..4,
        1usize..6,
        prop::collection::vec(1usize..4, 0..3),
        0usize..4,
        any::<bool>(),
    )
        .prop_flat_map(|(n, c, spatial, pick, per_channel)| {
            let mut shape = vec![n, c];
            shape.extend(spatial);
            let numel: usize = shape.iter().product();
            let k = if per_channel { c } else { 1 };
            (
                Just(shape),
                Just(layout_for(c, pick)),
                prop::collection::vec(-3.0f64..3.0, numel),
                Just(per_channel),
                prop::collection::vec(0.5f64..2.0, k),
                prop::collection::vec(-1.0f64..1.0, k),
            )
        })
        .prop_map(|(shape, layout, x, per_channel_affine, gamma, beta)| Case {
            shape,
            layout,
            x,
            per_channel_affine,
            gamma,
            beta,
        })
}

fn variance_of(b: bool) -> Variance {
    if b {
        Variance::Unbiased
    } else {
        Variance::Biased
    }
}

fn close(a: &[f64], b: &[f64], tol: f64) -> std::result::Result<(), TestCaseError> {
    prop_assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let ok = (x.is_nan() && y.is_nan()) || (x - y).abs() <= tol * (1.0 + y.abs());
        prop_assert!(ok, "element {}: {} vs {}", i, x, y);
    }
    Ok(())
}

/// Gradients of `L = sum w y` by central differences of `f(x)`.
fn numeric_grad(x: &[f64], w: &[f64], f: impl Fn(&[f64]) -> Vec<f64>) -> Vec<f64> {
    let h = 1e-6;
    (0..x.len())
        .map(|i| {
            let mut p = x.to_vec();
            p[i] += h;
            let lp: f64 = f(&p).iter().zip(w).map(|(a, b)| a * b).sum();
            p[i] -= 2.0 * h;
            let lm: f64 = f(&p).iter().zip(w).map(|(a, b)| a * b).sum();
            (lp - lm) / (2.0 * h)
        })
        .collect()
}

fn weights(len: usize) -> Vec<f64> {
    (0..len)
        .map(|i| ((i * 7 + 3) % 11) as f64 / 5.0 - 1.0)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn norm_stats_match_naive(case in case(), unbiased in any::<bool>(), eps in 1e-5f64..1.0) {
        let variance = variance_of(unbiased);
        let st = case.x_t().norm_stats(case.layout, variance, eps).unwrap();
        let want = case.moments(&case.x, variance);
        let (mean, var): (Vec<f64>, Vec<f64>) = want.iter().copied().unzip();
        let inv: Vec<f64> = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
        close(&st.mean.to_vec_f64().unwrap(), &mean, 1e-12)?;
        close(&st.var.to_vec_f64().unwrap(), &var, 1e-12)?;
        close(&st.invstd.to_vec_f64().unwrap(), &inv, 1e-12)?;
        let (s, ss) = case.x_t().norm_power_sums(case.layout).unwrap();
        let m = (case.x.len() / case.groups()) as f64;
        let s_want: Vec<f64> = mean.iter().map(|mu| mu * m).collect();
        close(&s.to_vec_f64().unwrap(), &s_want, 1e-12)?;
        let mut ss_want = vec![0.0; case.groups()];
        for (n, c, i) in case.elements() {
            ss_want[case.group_of(n, c)] += case.x[case.index(n, c, i)].powi(2);
        }
        close(&ss.to_vec_f64().unwrap(), &ss_want, 1e-12)?;
    }

    #[test]
    fn norm_forward_matches_naive(case in case(), unbiased in any::<bool>(), eps in 1e-5f64..1.0) {
        let variance = variance_of(unbiased);
        let a = case.affine_shape();
        let out = case
            .x_t()
            .norm_forward(
                case.layout,
                &case.tensor(&case.gamma, &a),
                &case.tensor(&case.beta, &a),
                variance,
                eps,
            )
            .unwrap();
        prop_assert_eq!(out.y.shape(), &case.shape[..]);
        close(&out.y.to_vec_f64().unwrap(), &case.forward(&case.x, variance, eps), 1e-10)?;
    }

    #[test]
    fn f32_kernels_agree_with_f64(case in case(), unbiased in any::<bool>()) {
        let variance = variance_of(unbiased);
        let a = case.affine_shape();
        let run = |dt: DType| {
            let x = case.x_t().to_dtype(dt).unwrap();
            let gm = case.tensor(&case.gamma, &a).to_dtype(dt).unwrap();
            let bt = case.tensor(&case.beta, &a).to_dtype(dt).unwrap();
            let f = x.norm_forward(case.layout, &gm, &bt, variance, 0.1).unwrap();
            // A non-constant upstream gradient: with dy = 1 every batch gradient is 0.
            let dy = case.tensor(&weights(case.x.len()), &case.shape).to_dtype(dt).unwrap();
            let g = x
                .norm_backward(
                    &dy,
                    case.layout,
                    &f.stats.mean,
                    &f.stats.invstd,
                    &gm,
                    StatGrad::Batch(variance),
                )
                .unwrap();
            let v = |t: &Tensor| t.to_vec_f64().unwrap();
            (v(&f.y), v(&g.dx), v(&g.dscale), v(&g.dshift))
        };
        let (y32, dx32, ds32, dh32) = run(DType::F32);
        let (y64, dx64, ds64, dh64) = run(DType::F64);
        close(&y32, &y64, 1e-4)?;
        close(&dx32, &dx64, 1e-3)?;
        close(&ds32, &ds64, 1e-3)?;
        close(&dh32, &dh64, 1e-4)?;
        // And the f64 kernels against the reference.
        let want = case.backward(&weights(case.x.len()), variance, 0.1);
        close(&dx64, &want.dx, 1e-9)?;
        close(&ds64, &want.dgamma, 1e-9)?;
        close(&dh64, &want.dbeta, 1e-12)?;
    }

    #[test]
    fn batch_backward_matches_finite_differences(
        case in case(),
        unbiased in any::<bool>(),
        eps in 0.01f64..1.0,
    ) {
        let variance = variance_of(unbiased);
        // A one-element group has an undefined unbiased variance: nothing to check there.
        prop_assume!(!(unbiased && case.x.len() == case.groups()));
        let a = case.affine_shape();
        let (gm, bt) = (case.tensor(&case.gamma, &a), case.tensor(&case.beta, &a));
        let f = case.x_t().norm_forward(case.layout, &gm, &bt, variance, eps).unwrap();
        let w = weights(case.x.len());
        let dy = case.tensor(&w, &case.shape);
        let g = case
            .x_t()
            .norm_backward(
                &dy,
                case.layout,
                &f.stats.mean,
                &f.stats.invstd,
                &gm,
                StatGrad::Batch(variance),
            )
            .unwrap();
        let num = numeric_grad(&case.x, &w, |x| case.forward(x, variance, eps));
        close(&g.dx.to_vec_f64().unwrap(), &num, 1e-5)?;
        // Affine gradients: d/dgamma = sum dy xhat, d/dbeta = sum dy.
        let with_gamma = |gamma: &[f64]| {
            let mut c2 = case.clone();
            c2.gamma = gamma.to_vec();
            c2.forward(&case.x, variance, eps)
        };
        close(&g.dscale.to_vec_f64().unwrap(), &numeric_grad(&case.gamma, &w, with_gamma), 1e-5)?;
        let with_beta = |beta: &[f64]| {
            let mut c2 = case.clone();
            c2.beta = beta.to_vec();
            c2.forward(&case.x, variance, eps)
        };
        close(&g.dshift.to_vec_f64().unwrap(), &numeric_grad(&case.beta, &w, with_beta), 1e-5)?;
    }

    #[test]
    fn detached_backward_is_dy_gamma_invstd(case in case(), eps in 0.01f64..1.0) {
        let a = case.affine_shape();
        let gm = case.tensor(&case.gamma, &a);
        let f = case.x_t().norm_stats(case.layout, Variance::Unbiased, eps).unwrap();
        let w = weights(case.x.len());
        let dy = case.tensor(&w, &case.shape);
        let g = case
            .x_t()
            .norm_backward(&dy, case.layout, &f.mean, &f.invstd, &gm, StatGrad::Detached)
            .unwrap();
        let inv = f.invstd.to_vec_f64().unwrap();
        let mut want = vec![0.0; w.len()];
        for (n, c, s) in case.elements() {
            let i = case.index(n, c, s);
            want[i] = w[i] * case.gamma[case.affine(c)] * inv[case.group_of(n, c)];
        }
        close(&g.dx.to_vec_f64().unwrap(), &want, 1e-12)?;
    }

    /// RunningBatchNorm's gradient: `mean = (S0 + w s)/K`, `var = (Q0 + w ss)/K - mean^2`
    /// (floored at `floor` on some channels), `y = (x - mean)/sqrt(var + eps) gamma + beta`.
    #[test]
    fn running_backward_matches_finite_differences(
        case in case(),
        w in 0.05f64..1.0,
        k_factor in 2.0f64..6.0,
        floor_mask in prop::collection::vec(any::<bool>(), 6),
    ) {
        prop_assume!(case.layout == NormLayout::PerChannel);
        let c = case.c();
        let eps = 1e-3;
        // A running count of a few batches' worth keeps the variance well above zero.
        let k_count = k_factor * (case.n() * case.s()) as f64;
        // Old running sums: a positive variance of about 1 around a mean of 0.3.
        let s0: Vec<f64> = (0..c).map(|i| 0.3 * k_count + 0.1 * i as f64).collect();
        let q0: Vec<f64> = (0..c).map(|_| 1.3 * k_count).collect();
        let floor = 1e3; // a floor that binds, where the mask says so
        let stats = |x: &[f64]| -> (Vec<f64>, Vec<f64>) {
            let mut s = vec![0.0; c];
            let mut ss = vec![0.0; c];
            for (n, ch, i) in case.elements() {
                let v = x[case.index(n, ch, i)];
                s[ch] += v;
                ss[ch] += v * v;
            }
            let mean: Vec<f64> = (0..c).map(|ch| (s0[ch] + w * s[ch]) / k_count).collect();
            let var: Vec<f64> = (0..c)
                .map(|ch| {
                    let v = (q0[ch] + w * ss[ch]) / k_count - mean[ch] * mean[ch];
                    if floor_mask[ch] { v.max(floor) } else { v }
                })
                .collect();
            (mean, var)
        };
        let forward = |x: &[f64]| {
            let (mean, var) = stats(x);
            let mut y = vec![0.0; x.len()];
            for (n, ch, i) in case.elements() {
                let j = case.index(n, ch, i);
                let a = case.affine(ch);
                y[j] = (x[j] - mean[ch]) / (var[ch] + eps).sqrt() * case.gamma[a] + case.beta[a];
            }
            y
        };
        let (mean, var) = stats(&case.x);
        let live: Vec<f64> = (0..c).map(|ch| if floor_mask[ch] { 0.0 } else { 1.0 }).collect();
        let invstd: Vec<f64> = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
        let wts = weights(case.x.len());
        let a = case.affine_shape();
        let g = case
            .x_t()
            .norm_backward(
                &case.tensor(&wts, &case.shape),
                case.layout,
                &case.tensor(&mean, &[c]),
                &case.tensor(&invstd, &[c]),
                &case.tensor(&case.gamma, &a),
                StatGrad::Running { share: w / k_count, var_live: Some(&case.tensor(&live, &[c])) },
            )
            .unwrap();
        close(&g.dx.to_vec_f64().unwrap(), &numeric_grad(&case.x, &wts, forward), 1e-5)?;
    }
}

#[test]
fn large_inputs_take_the_parallel_path_and_agree() {
    // [4, 8, 32, 33]: one sample per task. [72, 8, 16, 16]: 4 samples per elementwise task
    // would make 18 summing tasks, more than the cap, so the sums run in 15 tasks of 5
    // samples and a last one of 2.
    for shape in [[4usize, 8, 32, 33], [72, 8, 16, 16]] {
        parallel_case_agrees(shape);
    }
}

fn parallel_case_agrees(shape: [usize; 4]) {
    let numel: usize = shape.iter().product();
    let x: Vec<f64> = (0..numel)
        .map(|i| ((i * 37 % 101) as f64).sin() * 2.0 + 0.5)
        .collect();
    for layout in [NormLayout::PerChannel, NormLayout::PerGroup { groups: 4 }] {
        let case = Case {
            shape: shape.to_vec(),
            layout,
            x: x.clone(),
            per_channel_affine: true,
            gamma: (0..8).map(|i| 1.0 + 0.1 * i as f64).collect(),
            beta: (0..8).map(|i| 0.05 * i as f64).collect(),
        };
        let a = case.affine_shape();
        let out = case
            .x_t()
            .norm_forward(
                layout,
                &case.tensor(&case.gamma, &a),
                &case.tensor(&case.beta, &a),
                Variance::Biased,
                1e-5,
            )
            .unwrap();
        let want = case.forward(&case.x, Variance::Biased, 1e-5);
        let got = out.y.to_vec_f64().unwrap();
        assert!(got.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-9));
        // A non-constant upstream gradient (with dy = 1 / gamma_c the batch gradient dx is
        // zero, so a backward returning zeros would pass) against the f64 reference.
        let dyv: Vec<f64> = (0..numel)
            .map(|i| ((i * 29 % 97) as f64).cos() - 0.25)
            .collect();
        let g = case
            .x_t()
            .norm_backward(
                &case.tensor(&dyv, &shape),
                layout,
                &out.stats.mean,
                &out.stats.invstd,
                &case.tensor(&case.gamma, &a),
                StatGrad::Batch(Variance::Biased),
            )
            .unwrap();
        let want = case.backward(&dyv, Variance::Biased, 1e-5);
        let near = |got: &Tensor, want: &[f64], tol: f64| {
            let got = got.to_vec_f64().unwrap();
            assert_eq!(got.len(), want.len());
            for (i, (a, b)) in got.iter().zip(want).enumerate() {
                assert!(
                    (a - b).abs() <= tol * (1.0 + b.abs()),
                    "{layout:?} [{i}]: {a} vs {b}"
                );
            }
        };
        assert!(want.dx.iter().any(|v| v.abs() > 0.1));
        near(&g.dx, &want.dx, 1e-9);
        near(&g.dscale, &want.dgamma, 1e-9);
        near(&g.dshift, &want.dbeta, 1e-9);
    }
}

#[test]
fn unbiased_variance_of_one_element_groups_is_nan() {
    let x = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[2, 2, 1, 1], Device::Cpu).unwrap();
    let st = x
        .norm_stats(NormLayout::PerGroup { groups: 2 }, Variance::Unbiased, 1.0)
        .unwrap();
    assert!(st.var.to_vec_f64().unwrap().iter().all(|v| v.is_nan()));
    let biased = x
        .norm_stats(NormLayout::PerGroup { groups: 2 }, Variance::Biased, 1.0)
        .unwrap();
    assert_eq!(biased.var.to_vec_f64().unwrap(), vec![0.0; 4]);
}

#[test]
fn bad_arguments_are_typed_errors() {
    let x = Tensor::zeros(&[2, 6, 3], DType::F64, Device::Cpu).unwrap();
    let c6 = Tensor::ones(&[6], DType::F64, Device::Cpu).unwrap();
    let c4 = Tensor::ones(&[4], DType::F64, Device::Cpu).unwrap();
    let l = NormLayout::PerChannel;
    let v = Variance::Biased;
    let rank1 = Tensor::zeros(&[6], DType::F64, Device::Cpu).unwrap();
    assert!(matches!(
        rank1.norm_stats(l, v, 1e-5),
        Err(TensorError::InvalidShape { .. })
    ));
    let empty = Tensor::zeros(&[0, 6, 3], DType::F64, Device::Cpu).unwrap();
    assert!(matches!(
        empty.norm_stats(l, v, 1e-5),
        Err(TensorError::EmptyDimension { axis: 0, .. })
    ));
    let bad_groups = x.norm_stats(NormLayout::PerGroup { groups: 4 }, v, 1e-5);
    assert!(matches!(
        bad_groups,
        Err(TensorError::InvalidArgument { .. })
    ));
    let zero_groups = x.norm_stats(NormLayout::PerGroup { groups: 0 }, v, 1e-5);
    assert!(matches!(
        zero_groups,
        Err(TensorError::InvalidArgument { .. })
    ));
    assert!(matches!(
        x.norm_stats(l, v, -1.0),
        Err(TensorError::InvalidArgument { .. })
    ));
    assert!(matches!(
        x.norm_stats(l, v, f64::NAN),
        Err(TensorError::InvalidArgument { .. })
    ));
    assert!(matches!(
        x.norm_forward(l, &c4, &c4, v, 1e-5),
        Err(TensorError::InvalidShape { .. })
    ));
    assert!(matches!(
        x.norm_forward(l, &c6, &c4, v, 1e-5),
        Err(TensorError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        x.norm_apply(l, &c4, &c6, &c6, &c6),
        Err(TensorError::InvalidShape { .. })
    ));
    let f32x = x.to_dtype(DType::F32).unwrap();
    assert!(matches!(
        f32x.norm_forward(l, &c6, &c6, v, 1e-5),
        Err(TensorError::DTypeMismatch { .. })
    ));
    let dy = Tensor::zeros(&[2, 6, 4], DType::F64, Device::Cpu).unwrap();
    assert!(matches!(
        x.norm_backward(&dy, l, &c6, &c6, &c6, StatGrad::Detached),
        Err(TensorError::ShapeMismatch { .. })
    ));
    let running = StatGrad::Running {
        share: f64::INFINITY,
        var_live: None,
    };
    assert!(matches!(
        x.norm_backward(&x, l, &c6, &c6, &c6, running),
        Err(TensorError::InvalidArgument { .. })
    ));
    let running = StatGrad::Running {
        share: 0.1,
        var_live: Some(&c4),
    };
    assert!(matches!(
        x.norm_backward(&x, l, &c6, &c6, &c6, running),
        Err(TensorError::InvalidShape { .. })
    ));
}
