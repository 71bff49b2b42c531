//! Every differentiable op on `Var`, checked against central finite differences in `f64`
//! with `autograd::GradCheck`, over random shapes and values (proptest). Inputs are kept
//! away from the kinks and singularities of each op by more than the finite-difference step.

use autograd::{GradCheck, GradCheckError, Var};
use proptest::collection::vec as pvec;
use proptest::prelude::*;
use tensor::{DType, Device, Result, Tensor};

const CPU: Device = Device::Cpu;

fn t64(data: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_slice(data, shape, CPU).unwrap()
}

fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Runs the gradient check on `(values, shape)` inputs, turning a failure into a test
/// failure that names the op.
fn check(
    name: &str,
    inputs: &[(&[f64], &[usize])],
    f: impl Fn(&[Var]) -> Result<Var>,
) -> std::result::Result<(), TestCaseError> {
    let ts: Vec<Tensor> = inputs.iter().map(|(v, s)| t64(v, s)).collect();
    GradCheck::default()
        .run(&ts, f)
        .map_err(|e| TestCaseError::fail(format!("{name}: {e}")))
}

fn cfg(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// `n` values in `[-1, 1)`.
fn unit(n: usize) -> impl Strategy<Value = Vec<f64>> {
    pvec(-1.0f64..1.0, n)
}

/// `n` distinct values in random order, pairwise at least 0.1 apart (for max/min).
fn distinct(n: usize) -> impl Strategy<Value = Vec<f64>> {
    let base: Vec<f64> = (0..n).map(|i| 0.15 * i as f64 - 0.075 * n as f64).collect();
    (Just(base).prop_shuffle(), pvec(0.0f64..0.05, n))
        .prop_map(|(b, j)| b.iter().zip(&j).map(|(x, y)| x + y).collect())
}

/// A shape of rank 1..=3 with dimensions 1..=4.
fn small_shape() -> impl Strategy<Value = Vec<usize>> {
    pvec(1usize..=4, 1..=3)
}

// ------------------------------------------------------------------------------------------
// The checker itself detects wrong gradients
// ------------------------------------------------------------------------------------------

#[test]
fn gradcheck_detects_a_wrong_backward() {
    // d(x^2)/dx = 2x, but this op claims 3x.
    let bad_square = |v: &[Var]| -> Result<Var> {
        let x = v[0].value();
        let y = x.square()?;
        Ok(Var::from_fn(y, &[&v[0]], "bad_square", move |g| {
            Ok(vec![Some(g.mul(&x)?.mul_scalar(3.0)?)])
        }))
    };
    let err = GradCheck::default()
        .run(&[t64(&[0.5, -1.0], &[2])], bad_square)
        .unwrap_err();
    match err {
        GradCheckError::Mismatch {
            input: 0,
            analytic,
            numeric,
            ..
        } => {
            assert!(
                (analytic / numeric - 1.5).abs() < 1e-6,
                "{analytic} vs {numeric}"
            );
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
    // The same op with the right factor passes.
    let good_square = |v: &[Var]| -> Result<Var> {
        let x = v[0].value();
        let y = x.square()?;
        Ok(Var::from_fn(y, &[&v[0]], "good_square", move |g| {
            Ok(vec![Some(g.mul(&x)?.mul_scalar(2.0)?)])
        }))
    };
    GradCheck::default()
        .run(&[t64(&[0.5, -1.0], &[2])], good_square)
        .unwrap();
}

#[test]
fn gradcheck_reports_missing_gradients_and_non_f64_inputs() {
    // The output ignores the second input: it gets no gradient.
    let err = GradCheck::default()
        .run(&[t64(&[1.0], &[1]), t64(&[2.0], &[1])], |v| v[0].exp())
        .unwrap_err();
    assert_eq!(err, GradCheckError::MissingGradient { input: 1 });
    let f32_input = Tensor::from_vec(vec![1.0f32], &[1], CPU).unwrap();
    let err = GradCheck::default()
        .run(&[f32_input], |v| v[0].exp())
        .unwrap_err();
    assert_eq!(
        err,
        GradCheckError::NotF64 {
            input: 0,
            dtype: DType::F32
        }
    );
    // An error from the function is passed through.
    let err = GradCheck::default()
        .run(
            &[t64(&[1.0, 2.0], &[2]), t64(&[1.0, 2.0, 3.0], &[3])],
            |v| v[0].add(&v[1]),
        )
        .unwrap_err();
    assert!(matches!(
        err,
        GradCheckError::Tensor(tensor::TensorError::ShapeMismatch { .. })
    ));
}

// ------------------------------------------------------------------------------------------
// Broadcasting binary ops
// ------------------------------------------------------------------------------------------

const BROADCAST_PAIRS: &[(&[usize], &[usize])] = &[
    (&[2, 3, 4], &[3, 1]),
    (&[2, 3, 4], &[1]),
    (&[2, 3, 4], &[4]),
    (&[3, 1], &[2, 3, 4]),
    (&[2, 1, 4], &[3, 1]),
    (&[], &[2, 3]),
    (&[2, 3], &[]),
    (&[2, 3], &[2, 3]),
    (&[4], &[2, 1, 4]),
    (&[1, 1], &[3, 2]),
];

fn broadcast_operands() -> impl Strategy<Value = (Vec<usize>, Vec<f64>, Vec<usize>, Vec<f64>)> {
    (0..BROADCAST_PAIRS.len()).prop_flat_map(|i| {
        let (sa, sb) = BROADCAST_PAIRS[i];
        (
            Just(sa.to_vec()),
            unit(numel(sa)),
            Just(sb.to_vec()),
            unit(numel(sb)),
        )
    })
}

type VarBin = fn(&Var, &Var) -> Result<Var>;

proptest! {
    #![proptest_config(cfg(32))]

    #[test]
    fn add_sub_mul_div_pow_with_broadcasting((sa, a, sb, b) in broadcast_operands()) {
        let a2: Vec<f64> = a.iter().map(|v| 2.0 * v).collect();
        let b2: Vec<f64> = b.iter().map(|v| 2.0 * v).collect();
        for (name, op) in [("add", Var::add as VarBin), ("sub", Var::sub), ("mul", Var::mul)] {
            check(name, &[(&a2, &sa), (&b2, &sb)], |v| op(&v[0], &v[1]))?;
        }
        // Divisors away from zero: |b| in [0.5, 1.5].
        let bd: Vec<f64> = b.iter().map(|v| v.signum() * (0.5 + v.abs())).collect();
        check("div", &[(&a2, &sa), (&bd, &sb)], |v| v[0].div(&v[1]))?;
        // Positive bases for a real power and its gradient in the exponent (ln a).
        let ap: Vec<f64> = a.iter().map(|v| 0.5 + v.abs()).collect();
        check("pow", &[(&ap, &sa), (&b2, &sb)], |v| v[0].pow(&v[1]))?;
    }

    #[test]
    fn maximum_and_minimum_with_broadcasting((sa, a, sb, b) in broadcast_operands()) {
        // a on the integers + 0.25, b on the integers - 0.25: never within 0.5 of each other.
        let a: Vec<f64> = a.iter().map(|v| (3.0 * v).round() + 0.25).collect();
        let b: Vec<f64> = b.iter().map(|v| (3.0 * v).round() - 0.25).collect();
        check("maximum", &[(&a, &sa), (&b, &sb)], |v| v[0].maximum(&v[1]))?;
        check("minimum", &[(&a, &sa), (&b, &sb)], |v| v[0].minimum(&v[1]))?;
        check("minimum reversed", &[(&b, &sb), (&a, &sa)], |v| v[0].minimum(&v[1]))?;
    }

    #[test]
    fn binary_ops_with_one_constant_side((sa, a, sb, b) in broadcast_operands()) {
        // Only one input requires a gradient: the other side's backward is skipped.
        let bd: Vec<f64> = b.iter().map(|v| v.signum() * (0.5 + v.abs())).collect();
        let cb = t64(&bd, &sb);
        let ca = t64(&a, &sa);
        for (name, op) in [("add", Var::add as VarBin), ("sub", Var::sub), ("mul", Var::mul), ("div", Var::div)] {
            check(name, &[(&a, &sa)], |v| op(&v[0], &Var::constant(cb.clone())))?;
            check(name, &[(&bd, &sb)], |v| op(&Var::constant(ca.clone()), &v[0]))?;
        }
    }
}

// ------------------------------------------------------------------------------------------
// Unary ops
// ------------------------------------------------------------------------------------------

/// Values in [-2, 2) at least 0.05 away from every point in `kinks`.
fn away_from(n: usize, kinks: &'static [f64]) -> impl Strategy<Value = Vec<f64>> {
    pvec(
        (-2.0f64..2.0).prop_filter("too close to a kink", move |x| {
            kinks.iter().all(|k| (x - k).abs() > 0.05)
        }),
        n,
    )
}

/// Values in [lo, hi).
fn within(n: usize, lo: f64, hi: f64) -> impl Strategy<Value = Vec<f64>> {
    pvec(lo..hi, n)
}

type VarUn = Box<dyn Fn(&Var) -> Result<Var>>;

proptest! {
    #![proptest_config(cfg(24))]

    #[test]
    fn smooth_unary_ops(
        (shape, any_x, pos_x, far_x) in small_shape().prop_flat_map(|s| {
            let n = numel(&s);
            (Just(s), within(n, -2.0, 2.0), within(n, 0.2, 3.0), away_from(n, &[0.0]))
        })
    ) {
        let s = &shape[..];
        let on_any: Vec<(&str, VarUn)> = vec![
            ("neg", Box::new(|x| x.neg())),
            ("exp", Box::new(|x| x.exp())),
            ("square", Box::new(|x| x.square())),
            ("powf 3", Box::new(|x| x.powf(3.0))),
            ("powf 2", Box::new(|x| x.powf(2.0))),
            ("affine", Box::new(|x| x.affine(2.5, -1.0))),
            ("add_scalar", Box::new(|x| x.add_scalar(0.75))),
            ("mul_scalar", Box::new(|x| x.mul_scalar(-1.5))),
        ];
        for (name, f) in &on_any {
            check(name, &[(&any_x, s)], |v| f(&v[0]))?;
        }
        let on_positive: Vec<(&str, VarUn)> = vec![
            ("ln", Box::new(|x| x.ln())),
            ("sqrt", Box::new(|x| x.sqrt())),
            ("rsqrt", Box::new(|x| x.rsqrt())),
            ("powf 0.5", Box::new(|x| x.powf(0.5))),
            ("powf -1.5", Box::new(|x| x.powf(-1.5))),
            ("powf 2.7", Box::new(|x| x.powf(2.7))),
        ];
        for (name, f) in &on_positive {
            check(name, &[(&pos_x, s)], |v| f(&v[0]))?;
        }
        check("recip", &[(&far_x, s)], |v| v[0].recip())?;
    }

    #[test]
    fn piecewise_unary_ops_away_from_their_kinks(
        (shape, x0, xc) in small_shape().prop_flat_map(|s| {
            let n = numel(&s);
            (Just(s), away_from(n, &[0.0]), away_from(n, &[-0.5, 0.7, 0.3, -0.2]))
        })
    ) {
        let s = &shape[..];
        check("abs", &[(&x0, s)], |v| v[0].abs())?;
        check("relu", &[(&x0, s)], |v| v[0].relu())?;
        check("leaky_relu", &[(&x0, s)], |v| v[0].leaky_relu(0.1))?;
        check("leaky_relu steep", &[(&x0, s)], |v| v[0].leaky_relu(2.0))?;
        check("clamp both", &[(&xc, s)], |v| v[0].clamp(Some(-0.5), Some(0.7)))?;
        check("clamp max", &[(&xc, s)], |v| v[0].clamp(None, Some(0.3)))?;
        check("clamp min", &[(&xc, s)], |v| v[0].clamp(Some(-0.2), None))?;
    }
}

// ------------------------------------------------------------------------------------------
// Reductions
// ------------------------------------------------------------------------------------------

/// A shape of rank 1..=4, distinct values, an axis set written with a random mix of
/// positive and negative indices (empty means all axes), and keepdim.
fn reduction_case() -> impl Strategy<Value = (Vec<usize>, Vec<f64>, Vec<isize>, bool)> {
    pvec(1usize..=4, 1..=4).prop_flat_map(|shape| {
        let r = shape.len();
        let n = numel(&shape);
        (
            Just(shape),
            distinct(n),
            pvec(any::<bool>(), r),
            pvec(any::<bool>(), r),
            any::<bool>(),
        )
            .prop_map(move |(shape, v, pick, neg, keep)| {
                let axes: Vec<isize> = (0..r)
                    .filter(|&d| pick[d])
                    .map(|d| {
                        if neg[d] {
                            d as isize - r as isize
                        } else {
                            d as isize
                        }
                    })
                    .collect();
                (shape, v, axes, keep)
            })
    })
}

proptest! {
    #![proptest_config(cfg(32))]

    #[test]
    fn reductions_over_axis_sets((shape, x, axes, keepdim) in reduction_case()) {
        let s = &shape[..];
        let r = shape.len() as isize;
        let n: usize = if axes.is_empty() {
            numel(s)
        } else {
            axes.iter().map(|&a| shape[(if a < 0 { a + r } else { a }) as usize]).product()
        };
        let ax = &axes[..];
        check("sum", &[(&x, s)], |v| v[0].sum(ax, keepdim))?;
        check("mean", &[(&x, s)], |v| v[0].mean(ax, keepdim))?;
        check("var biased", &[(&x, s)], |v| v[0].var(ax, false, keepdim))?;
        if n > 1 {
            check("var unbiased", &[(&x, s)], |v| v[0].var(ax, true, keepdim))?;
        }
        check("max", &[(&x, s)], |v| v[0].max(ax, keepdim))?;
        check("min", &[(&x, s)], |v| v[0].min(ax, keepdim))?;
    }
}

#[test]
fn reductions_on_fixed_shapes() {
    // The axis sets named in the lesson: per-channel statistics over [0, 2, 3].
    let x: Vec<f64> = (0..48)
        .map(|i| ((i * 37) % 48) as f64 * 0.1 - 2.0)
        .collect();
    let s = [2, 3, 2, 4];
    for axes in [&[0isize, 2, 3][..], &[-1], &[1, -1], &[], &[0, 1, 2, 3]] {
        for keep in [false, true] {
            for (name, f) in [
                (
                    "sum",
                    Box::new(|v: &Var| v.sum(axes, keep)) as Box<dyn Fn(&Var) -> Result<Var>>,
                ),
                ("mean", Box::new(|v: &Var| v.mean(axes, keep))),
                ("var", Box::new(|v: &Var| v.var(axes, false, keep))),
                ("var unbiased", Box::new(|v: &Var| v.var(axes, true, keep))),
                ("max", Box::new(|v: &Var| v.max(axes, keep))),
                ("min", Box::new(|v: &Var| v.min(axes, keep))),
                ("sum_all", Box::new(|v: &Var| v.sum_all())),
                ("mean_all", Box::new(|v: &Var| v.mean_all())),
            ] {
                GradCheck::default()
                    .run(&[t64(&x, &s)], |v| f(&v[0]))
                    .unwrap_or_else(|e| panic!("{name} over {axes:?} keepdim {keep}: {e}"));
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// Shape ops
// ------------------------------------------------------------------------------------------

/// Shapes broadcast from (`SRC`) and to (`DST`).
const SRC: [&[usize]; 6] = [&[3, 1], &[4], &[1], &[], &[2, 1, 4], &[1, 3, 1]];
const DST: [&[usize]; 6] = [
    &[2, 3, 4],
    &[2, 3, 4],
    &[5],
    &[2, 2],
    &[2, 3, 4],
    &[2, 3, 4],
];

proptest! {
    #![proptest_config(cfg(24))]

    #[test]
    fn reshape_flatten_permute(
        (shape, x, perm) in pvec(1usize..=3, 1..=4).prop_flat_map(|s| {
            let n = numel(&s);
            let axes: Vec<usize> = (0..s.len()).collect();
            (Just(s), unit(n), Just(axes).prop_shuffle())
        })
    ) {
        let s = &shape[..];
        let n = numel(s);
        check("reshape flat", &[(&x, s)], |v| v[0].reshape(&[n]))?;
        check("reshape column", &[(&x, s)], |v| v[0].reshape(&[n, 1]))?;
        check("reshape then square", &[(&x, s)], |v| v[0].reshape(&[1, n])?.square())?;
        check("flatten_from 1", &[(&x, s)], |v| v[0].flatten_from(1))?;
        check("flatten_from 0", &[(&x, s)], |v| v[0].flatten_from(0))?;
        check("permute", &[(&x, s)], |v| v[0].permute(&perm))?;
        // A permute feeding a non-linear op, so that a wrong inverse permutation would show.
        let w: Vec<f64> = (0..n).map(|i| i as f64 * 0.1).collect();
        let out_shape: Vec<usize> = perm.iter().map(|&a| shape[a]).collect();
        let wt = t64(&w, &out_shape);
        check("permute times weights", &[(&x, s)], |v| {
            v[0].permute(&perm)?.mul(&Var::constant(wt.clone()))?.square()
        })?;
    }

    #[test]
    fn broadcast_to_and_index_select_rows(
        (case, x) in (0usize..6).prop_flat_map(|i| (Just(i), unit(numel(SRC[i])))),
        (rows, y, idx) in (1usize..5).prop_flat_map(|r| (Just(r), unit(r * 3), pvec(0..r, 1..8))),
    ) {
        check("broadcast_to", &[(&x, SRC[case])], |v| v[0].broadcast_to(DST[case]))?;
        check("index_select_rows", &[(&y, &[rows, 3])], |v| v[0].index_select_rows(&idx))?;
        // Every row selected twice or more gets the summed gradient.
        let twice: Vec<usize> = (0..rows).chain(0..rows).chain(idx.iter().copied()).collect();
        check("index_select_rows repeated", &[(&y, &[rows, 3])], |v| v[0].index_select_rows(&twice)?.square())?;
    }
}

// ------------------------------------------------------------------------------------------
// Matrix products and convolution
// ------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(cfg(24))]

    #[test]
    fn matmul_2d_and_batched(
        (batch, m, k, n, a, b) in (0usize..4, 1usize..5, 1usize..5, 1usize..5).prop_flat_map(|(bt, m, k, n)| {
            let b1 = bt.max(1);
            (Just(bt), Just(m), Just(k), Just(n), unit(b1 * m * k), unit(b1 * k * n))
        })
    ) {
        // batch 0 stands for the 2-D product.
        let (sa, sb) = if batch == 0 { (vec![m, k], vec![k, n]) } else { (vec![batch, m, k], vec![batch, k, n]) };
        check("matmul", &[(&a, &sa), (&b, &sb)], |v| v[0].matmul(&v[1]))?;
        check("matmul then tanh-like", &[(&a, &sa), (&b, &sb)], |v| v[0].matmul(&v[1])?.square()?.add_scalar(1.0)?.ln())?;
        let cb = t64(&b, &sb);
        check("matmul constant rhs", &[(&a, &sa)], |v| v[0].matmul(&Var::constant(cb.clone())))?;
        let ca = t64(&a, &sa);
        check("matmul constant lhs", &[(&b, &sb)], |v| Var::constant(ca.clone()).matmul(&v[0]))?;
    }
}

type ConvCase = (usize, usize, usize, usize, usize, usize, usize, usize, bool);

fn conv_case() -> impl Strategy<Value = (ConvCase, Vec<f64>, Vec<f64>, Vec<f64>)> {
    (
        1usize..=2,
        1usize..=2,
        1usize..=2,
        prop::sample::select(vec![3usize, 4, 5, 6, 7]),
        prop::sample::select(vec![3usize, 4, 5, 7]),
        prop::sample::select(vec![1usize, 3, 5]),
        1usize..=2,
        0usize..=2,
        any::<bool>(),
    )
        .prop_filter("kernel must fit", |&(_, _, _, h, w, k, _, p, _)| {
            h + 2 * p >= k && w + 2 * p >= k
        })
        .prop_flat_map(|c| {
            let (n, ci, co, h, w, k, ..) = c;
            (
                Just(c),
                unit(n * ci * h * w),
                unit(co * ci * k * k),
                unit(co),
            )
        })
}

proptest! {
    #![proptest_config(cfg(24))]

    #[test]
    fn conv2d_with_and_without_bias(((n, ci, co, h, w, k, stride, pad, with_bias), x, wt, b) in conv_case()) {
        let xs = [n, ci, h, w];
        let ws = [co, ci, k, k];
        if with_bias {
            check("conv2d with bias", &[(&x, &xs), (&wt, &ws), (&b, &[co])], |v| {
                v[0].conv2d(&v[1], Some(&v[2]), stride, pad)
            })?;
        } else {
            check("conv2d", &[(&x, &xs), (&wt, &ws)], |v| v[0].conv2d(&v[1], None, stride, pad))?;
        }
        // Only the input needs a gradient (the weight and bias are constants), and the
        // other way round.
        let (cw, cb) = (t64(&wt, &ws), t64(&b, &[co]));
        check("conv2d input only", &[(&x, &xs)], |v| {
            v[0].conv2d(&Var::constant(cw.clone()), Some(&Var::constant(cb.clone())), stride, pad)
        })?;
        let cx = t64(&x, &xs);
        check("conv2d weight only", &[(&wt, &ws)], |v| Var::constant(cx.clone()).conv2d(&v[0], None, stride, pad))?;
    }
}

#[test]
fn conv2d_fixed_geometries() {
    // The lesson's layers (kernel 5 then 3, stride 2, padding ks/2), a 1x1 output from a
    // 2x2 input, and padding that leaves border outputs reading only zeros.
    let cases: &[([usize; 4], [usize; 4], usize, usize)] = &[
        ([2, 1, 7, 7], [2, 1, 5, 5], 2, 2),
        ([2, 2, 4, 4], [3, 2, 3, 3], 2, 1),
        ([1, 1, 2, 2], [2, 1, 3, 3], 2, 1),
        ([1, 2, 3, 3], [1, 2, 1, 1], 2, 2),
        ([2, 1, 1, 1], [1, 1, 5, 5], 1, 2),
        ([1, 2, 5, 4], [2, 2, 3, 2], 1, 0),
    ];
    for &(xs, ws, stride, pad) in cases {
        let x: Vec<f64> = (0..numel(&xs))
            .map(|i| ((i * 7) % 13) as f64 * 0.15 - 0.9)
            .collect();
        let w: Vec<f64> = (0..numel(&ws))
            .map(|i| ((i * 5) % 11) as f64 * 0.2 - 1.0)
            .collect();
        let b: Vec<f64> = (0..ws[0]).map(|i| i as f64 * 0.3 - 0.2).collect();
        GradCheck::default()
            .run(&[t64(&x, &xs), t64(&w, &ws), t64(&b, &[ws[0]])], |v| {
                v[0].conv2d(&v[1], Some(&v[2]), stride, pad)
            })
            .unwrap_or_else(|e| panic!("conv {xs:?} {ws:?} stride {stride} padding {pad}: {e}"));
    }
}

// ------------------------------------------------------------------------------------------
// Losses
// ------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(cfg(32))]

    #[test]
    fn log_softmax_and_cross_entropy(
        (n, c, z, t) in (1usize..5, 1usize..6).prop_flat_map(|(n, c)| {
            (Just(n), Just(c), pvec(-4.0f64..4.0, n * c), pvec(0..c, n))
        })
    ) {
        let s = [n, c];
        check("log_softmax", &[(&z, &s)], |v| v[0].log_softmax())?;
        let targets = t64(&t.iter().map(|&v| v as f64).collect::<Vec<_>>(), &[n]);
        check("cross_entropy", &[(&z, &s)], |v| v[0].cross_entropy(&Var::constant(targets.clone())))?;
        // Scaling the loss scales its gradient (the upstream gradient reaches the kernel).
        check("cross_entropy scaled", &[(&z, &s)], |v| {
            v[0].cross_entropy(&Var::constant(targets.clone()))?.mul_scalar(-2.5)
        })?;
        // The fused loss equals -mean(log_softmax at the targets), composed from other ops.
        let mut onehot = vec![0.0; n * c];
        for (r, &k) in t.iter().enumerate() {
            onehot[r * c + k] = 1.0;
        }
        let oh = t64(&onehot, &s);
        check("log_softmax nll", &[(&z, &s)], |v| {
            v[0].log_softmax()?.mul(&Var::constant(oh.clone()))?.sum_all()?.mul_scalar(-1.0 / n as f64)
        })?;
    }
}

// ------------------------------------------------------------------------------------------
// Composites: a small MLP and the lesson's batch normalisation, written with primitives
// ------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(cfg(16))]

    #[test]
    fn mlp_with_cross_entropy(
        (x, w1, b1, w2, b2, t) in (unit(4 * 5), unit(5 * 6), unit(6), unit(6 * 3), unit(3), pvec(0usize..3, 4))
    ) {
        // Keep pre-activations away from the relu kink by shifting the first bias.
        let targets = t64(&t.iter().map(|&v| v as f64).collect::<Vec<_>>(), &[4]);
        let res = check(
            "mlp",
            &[(&x, &[4, 5]), (&w1, &[5, 6]), (&b1, &[6]), (&w2, &[6, 3]), (&b2, &[3])],
            |v| {
                let h = v[0].matmul(&v[1])?.add(&v[2])?.leaky_relu(0.05)?;
                h.matmul(&v[3])?.add(&v[4])?.cross_entropy(&Var::constant(targets.clone()))
            },
        );
        // A pre-activation within eps of 0 would make the check meaningless; skip those.
        let pre = t64(&x, &[4, 5]).matmul(&t64(&w1, &[5, 6])).unwrap().add(&t64(&b1, &[6])).unwrap();
        prop_assume!(pre.to_vec_f64().unwrap().iter().all(|v| v.abs() > 1e-4));
        res?;
    }

    #[test]
    fn batchnorm_from_primitives(
        (x, gamma, beta) in (unit(3 * 2 * 3 * 2), unit(2), unit(2))
    ) {
        // y = (x - mean) / sqrt(var + eps) * gamma + beta, statistics over [0, 2, 3].
        let xs = [3, 2, 3, 2];
        check(
            "batchnorm",
            &[(&x, &xs), (&gamma, &[1, 2, 1, 1]), (&beta, &[1, 2, 1, 1])],
            |v| {
                let mean = v[0].mean(&[0, 2, 3], true)?;
                let var = v[0].var(&[0, 2, 3], false, true)?;
                let xhat = v[0].sub(&mean)?.div(&var.add_scalar(1e-5)?.sqrt()?)?;
                xhat.mul(&v[1])?.add(&v[2])
            },
        )?;
        // The same with rsqrt, unbiased variance and negative axes.
        check("batchnorm rsqrt", &[(&x, &xs)], |v| {
            let mean = v[0].mean(&[-4, -2, -1], true)?;
            let var = v[0].var(&[-4, -2, -1], true, true)?;
            v[0].sub(&mean)?.mul(&var.add_scalar(1e-5)?.rsqrt()?)
        })?;
    }
}
