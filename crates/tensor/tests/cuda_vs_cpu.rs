//! Every op of every family on the GPU against the CPU backend, on random shapes (odd
//! sizes, batch 1 and 2, sizes that are not multiples of the 256-thread blocks, rows longer
//! than a block) and random values, in `f32` and `f64`. GPU-only: `#[ignore = "needs CUDA"]`,
//! run on the GPU machine with `--include-ignored`.
//!
//! # Tolerances
//!
//! `u` is the unit roundoff of the element type (`2^-24` for `f32`, `2^-53` for `f64`).
//!
//! | family / op | tolerance (GPU vs CPU, per element) |
//! |---|---|
//! | memory (upload, download, full, casts), update (`axpby`, `scale`, `fill`), layout (permute, broadcast, row gather, row scatter-add), argmax, max/min reductions, elementwise arithmetic, comparisons, `neg abs square recip sqrt rsqrt relu leaky_relu clamp affine` and the activation gradients | exact (bit-identical; NaN matches NaN) |
//! | elementwise `exp ln pow powf` | `32 u |c|` (both sides' maths libraries are within a few ulp) |
//! | sum, mean, variance (both accumulate in `f64`) | `4 u |c| + 1e-13 · n · max|x|^p` (`p = 2` for variances) |
//! | matmul | `4 k u · (Σ_p |a||b|)` per element |
//! | conv2d forward / input grad / weight grad / bias grad | `4 k u · (same conv on |x|, |w|, |dy|)`, `k` the number of terms summed per output |
//! | log_softmax, cross-entropy and their backward passes (`C` classes) | `8 C u (|c| + max |c|)` (the CPU sums `C` terms in the element type) |
//! | norm statistics and power sums (both accumulate in `f64`) | `4 u |c| + 1e-13 · max|c|` |
//! | norm apply, affine gradients | `64 u (|c| + max |c|)`; `dx`: `64 u sqrt(m) (|c| + max |c|)`, `m` elements per group |

#![cfg(feature = "cuda")]

mod cuda_support;

use cuda_support::{
    assert_bounded, assert_close, assert_exact, assert_rel, conv, cpu, gpu, randn, rng, unit,
    values, DTYPES,
};
use proptest::prelude::*;
use rand::Rng;
use tensor::{
    BinaryOp, DType, Device, NormInput, NormLayout, NormPlan, ReduceOp, StatGrad, Tensor, UnaryOp,
    Variance,
};

const CASES: u32 = 24;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Random values of `shape`: normal, or small integers (for ties and exact comparisons).
fn data(shape: &[usize], dtype: DType, seed: u64, integers: bool) -> Tensor {
    if !integers {
        return randn(shape, dtype, seed);
    }
    let mut r = rng(seed);
    let n: usize = shape.iter().product();
    cpu(
        (0..n).map(|_| r.gen_range(-3i32..=3) as f64).collect(),
        shape,
        dtype,
    )
}

/// A shape of rank `1..=max_rank` with dims in `1..=max_dim`.
fn shape(max_rank: usize, max_dim: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1..=max_dim, 1..=max_rank)
}

/// A shape that broadcasts to `out`: leading dims dropped, some dims set to 1.
fn broadcast_source(out: &[usize], mask: u32, drop: usize) -> Vec<usize> {
    let drop = drop.min(out.len() - 1);
    out[drop..]
        .iter()
        .enumerate()
        .map(|(i, &d)| if mask >> i & 1 == 1 { 1 } else { d })
        .collect()
}

// ------------------------------------------------------------------------------------------
// memory and update
// ------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    #[ignore = "needs CUDA"]
    fn transfers_full_and_casts(dims in shape(4, 9), seed: u64, value in -5.0f64..5.0) {
        for dtype in DTYPES {
            let x = randn(&dims, dtype, seed);
            let g = gpu(&x);
            assert_exact("round trip", &x, &g);
            let other = if dtype == DType::F32 { DType::F64 } else { DType::F32 };
            assert_exact("cast", &x.to_dtype(other).unwrap(), &g.to_dtype(other).unwrap());
            let full_c = Tensor::full(&dims, value, dtype, Device::Cpu).unwrap();
            let full_g = Tensor::full(&dims, value, dtype, cuda_support::GPU).unwrap();
            assert_exact("full", &full_c, &full_g);
            assert_exact("zeros", &x.zeros_like().unwrap(), &g.zeros_like().unwrap());
            assert_exact("deep_clone", &x, &g.deep_clone());
        }
    }

    #[test]
    #[ignore = "needs CUDA"]
    fn axpby_scale_fill(dims in shape(3, 40), seed: u64, a in -2.0f64..2.0, b in -2.0f64..2.0, zero in 0usize..3) {
        for dtype in DTYPES {
            let (a, b) = match zero { 1 => (0.0, b), 2 => (a, 0.0), _ => (a, b) };
            let y = randn(&dims, dtype, seed);
            let mut x = randn(&dims, dtype, seed ^ 0x5a5a);
            // A dropped operand may hold infinities: they must not leak through `0 * x`.
            if a == 0.0 {
                x = x.mul_scalar(f64::INFINITY).unwrap();
            }
            let (mut yc, mut yg) = (y.clone(), gpu(&y));
            let xg = gpu(&x);
            yc.axpby_(&x, a, b).unwrap();
            yg.axpby_(&xg, a, b).unwrap();
            assert_exact("axpby", &yc, &yg);
            yc.scale_(a).unwrap();
            yg.scale_(a).unwrap();
            assert_exact("scale", &yc, &yg);
            yc.fill_(b).unwrap();
            yg.fill_(b).unwrap();
            assert_exact("fill", &yc, &yg);
        }
    }
}

#[test]
#[ignore = "needs CUDA"]
fn copy_on_write_keeps_clones_apart() {
    for dtype in DTYPES {
        let x = gpu(&randn(&[5, 3], dtype, 7));
        let before = values(&x);
        let mut y = x.clone();
        y.add_scaled_(&x, 2.0).unwrap();
        assert_eq!(
            values(&x),
            before,
            "the clone's update leaked into the original"
        );
        let want: Vec<f64> = before.iter().map(|v| v + 2.0 * v).collect();
        let got = values(&y);
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() <= 4.0 * unit(dtype) * w.abs(), "{g} vs {w}");
        }
    }
}

#[test]
#[ignore = "needs CUDA"]
fn empty_tensors_work() {
    for dtype in DTYPES {
        let e = gpu(&Tensor::zeros(&[0, 3], dtype, Device::Cpu).unwrap());
        assert_eq!(e.shape(), &[0, 3]);
        assert!(values(&e).is_empty());
        assert!(values(&e.add(&e).unwrap()).is_empty());
        let s = e.sum(&[0], false).unwrap();
        assert_eq!(values(&s), vec![0.0; 3]);
    }
}

#[test]
#[ignore = "needs CUDA"]
fn many_threads_share_one_device() {
    let handles: Vec<_> = (0..8)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..20 {
                    let x = randn(&[33, 17], DType::F32, t * 100 + i);
                    let want = x.sum(&[1], false).unwrap();
                    let got = gpu(&x).sum(&[1], false).unwrap();
                    assert_close("threaded sum", &want, &got, |_, c| 1e-5 * (1.0 + c.abs()));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("a thread failed");
    }
}

// ------------------------------------------------------------------------------------------
// elementwise
// ------------------------------------------------------------------------------------------

const BINARY_OPS: [BinaryOp; 16] = [
    BinaryOp::Add,
    BinaryOp::Sub,
    BinaryOp::Mul,
    BinaryOp::Div,
    BinaryOp::Pow,
    BinaryOp::Maximum,
    BinaryOp::Minimum,
    BinaryOp::Eq,
    BinaryOp::Ne,
    BinaryOp::Lt,
    BinaryOp::Le,
    BinaryOp::Gt,
    BinaryOp::Ge,
    BinaryOp::ReluGrad,
    BinaryOp::LeakyReluGrad { slope: 0.1 },
    BinaryOp::ClampGrad {
        min: -0.5,
        max: 1.25,
    },
];

const UNARY_OPS: [UnaryOp; 14] = [
    UnaryOp::Neg,
    UnaryOp::Exp,
    UnaryOp::Ln,
    UnaryOp::Sqrt,
    UnaryOp::Rsqrt,
    UnaryOp::Recip,
    UnaryOp::Abs,
    UnaryOp::Square,
    UnaryOp::Relu,
    UnaryOp::LeakyRelu { slope: 0.01 },
    UnaryOp::Clamp {
        min: -1.0,
        max: 0.5,
    },
    UnaryOp::Clamp {
        min: f64::NEG_INFINITY,
        max: 0.25,
    },
    UnaryOp::Powf { exponent: 1.7 },
    UnaryOp::Affine {
        mul: 0.3,
        add: -1.1,
    },
];

fn transcendental_binary(op: BinaryOp) -> bool {
    matches!(op, BinaryOp::Pow)
}

fn transcendental_unary(op: UnaryOp) -> bool {
    matches!(op, UnaryOp::Exp | UnaryOp::Ln | UnaryOp::Powf { .. })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    #[ignore = "needs CUDA"]
    fn binary_ops_broadcast(out in shape(4, 7), ma: u32, mb: u32, da in 0usize..3, db in 0usize..3, seed: u64, integers: bool) {
        let sa = broadcast_source(&out, ma, da);
        let sb = broadcast_source(&out, mb, db);
        for dtype in DTYPES {
            let a = data(&sa, dtype, seed, integers);
            let b = data(&sb, dtype, seed.wrapping_add(1), integers);
            let (ag, bg) = (gpu(&a), gpu(&b));
            for op in BINARY_OPS {
                let what = format!("{op:?} {sa:?} {sb:?}");
                let want = a.binary(op, &b).unwrap();
                let got = ag.binary(op, &bg).unwrap();
                if transcendental_binary(op) {
                    let u = unit(dtype);
                    assert_close(&what, &want, &got, |_, c| 32.0 * u * c.abs());
                } else {
                    assert_exact(&what, &want, &got);
                }
            }
        }
    }

    #[test]
    #[ignore = "needs CUDA"]
    fn unary_ops(dims in shape(3, 50), seed: u64) {
        for dtype in DTYPES {
            let x = randn(&dims, dtype, seed);
            let xg = gpu(&x);
            for op in UNARY_OPS {
                let what = format!("{op:?} {dims:?}");
                let want = x.unary(op).unwrap();
                let got = xg.unary(op).unwrap();
                if transcendental_unary(op) {
                    let u = unit(dtype);
                    assert_close(&what, &want, &got, |_, c| 32.0 * u * c.abs());
                } else {
                    assert_exact(&what, &want, &got);
                }
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// reductions
// ------------------------------------------------------------------------------------------

const REDUCE_OPS: [ReduceOp; 6] = [
    ReduceOp::Sum,
    ReduceOp::Mean,
    ReduceOp::Max,
    ReduceOp::Min,
    ReduceOp::Var { unbiased: false },
    ReduceOp::Var { unbiased: true },
];

/// A shape of rank 1..=4 whose dims are mostly small, sometimes one long (up to 700).
fn reduce_shape() -> impl Strategy<Value = Vec<usize>> {
    (shape(4, 6), any::<usize>(), 1usize..700, any::<bool>()).prop_map(
        |(mut s, at, long, use_long)| {
            if use_long {
                let i = at % s.len();
                s[i] = long;
            }
            s
        },
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    #[ignore = "needs CUDA"]
    fn reductions_over_axis_sets(dims in reduce_shape(), mask: u32, keepdim: bool, seed: u64) {
        let rank = dims.len();
        let mut axes: Vec<isize> = (0..rank).filter(|d| mask >> d & 1 == 1).map(|d| d as isize).collect();
        if axes.is_empty() {
            axes.push((mask as usize % rank) as isize);
        }
        for dtype in DTYPES {
            let x = randn(&dims, dtype, seed);
            let xg = gpu(&x);
            let max_abs = values(&x).iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let n: usize = axes.iter().map(|&a| dims[a as usize]).product();
            for op in REDUCE_OPS {
                let what = format!("{op:?} over {axes:?} of {dims:?}");
                let want = x.reduce(op, &axes, keepdim).unwrap();
                let got = xg.reduce(op, &axes, keepdim).unwrap();
                match op {
                    ReduceOp::Max | ReduceOp::Min => assert_exact(&what, &want, &got),
                    _ => {
                        let p = if matches!(op, ReduceOp::Var { .. }) { 2 } else { 1 };
                        let slack = 1e-13 * n as f64 * max_abs.powi(p);
                        let u = unit(dtype);
                        assert_close(&what, &want, &got, |_, c| 4.0 * u * c.abs() + slack);
                    }
                }
            }
        }
    }

    #[test]
    #[ignore = "needs CUDA"]
    fn argmax_with_ties_and_nan(dims in reduce_shape(), axis_pick: usize, seed: u64, nan: bool) {
        let axis = (axis_pick % dims.len()) as isize;
        for dtype in DTYPES {
            let mut v = values(&data(&dims, dtype, seed, true));
            if nan && v.len() > 2 {
                let at = (seed as usize) % v.len();
                v[at] = f64::NAN;
            }
            let x = cpu(v, &dims, dtype);
            let want = x.argmax(axis, false).unwrap();
            let got = gpu(&x).argmax(axis, false).unwrap();
            assert_exact(&format!("argmax axis {axis} of {dims:?}"), &want, &got);
        }
    }

    #[test]
    #[ignore = "needs CUDA"]
    fn sum_to_shape_is_the_broadcast_adjoint(out in shape(4, 6), mask: u32, drop in 0usize..3, seed: u64) {
        let small = broadcast_source(&out, mask, drop);
        for dtype in DTYPES {
            let x = randn(&out, dtype, seed);
            let want = x.sum_to_shape(&small).unwrap();
            let got = gpu(&x).sum_to_shape(&small).unwrap();
            let n = out.iter().product::<usize>() as f64;
            assert_close("sum_to_shape", &want, &got, |_, c| 4.0 * unit(dtype) * c.abs() + 1e-12 * n);
        }
    }
}

// ------------------------------------------------------------------------------------------
// layout
// ------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    #[ignore = "needs CUDA"]
    fn permute_any_order(dims in shape(5, 6), keys in prop::collection::vec(any::<u32>(), 5), seed: u64) {
        let mut axes: Vec<usize> = (0..dims.len()).collect();
        axes.sort_by_key(|&i| keys[i]);
        for dtype in DTYPES {
            let x = randn(&dims, dtype, seed);
            let want = x.permute(&axes).unwrap();
            let got = gpu(&x).permute(&axes).unwrap();
            assert_exact(&format!("permute {dims:?} by {axes:?}"), &want, &got);
        }
    }

    #[test]
    #[ignore = "needs CUDA"]
    fn broadcast_to_materialises(out in shape(4, 7), mask: u32, drop in 0usize..3, seed: u64) {
        let small = broadcast_source(&out, mask, drop);
        for dtype in DTYPES {
            let x = randn(&small, dtype, seed);
            let want = x.broadcast_to(&out).unwrap();
            let got = gpu(&x).broadcast_to(&out).unwrap();
            assert_exact(&format!("broadcast {small:?} to {out:?}"), &want, &got);
        }
    }

    #[test]
    #[ignore = "needs CUDA"]
    fn row_gather_and_scatter_add(rows in 1usize..40, tail in shape(3, 5), picks in prop::collection::vec(any::<usize>(), 0..60), seed: u64) {
        let mut dims = vec![rows];
        dims.extend(&tail);
        let idx: Vec<usize> = picks.iter().map(|p| p % rows).collect();
        for dtype in DTYPES {
            let x = randn(&dims, dtype, seed);
            let xg = gpu(&x);
            let want = x.index_select_rows(&idx).unwrap();
            let got = xg.index_select_rows(&idx).unwrap();
            assert_exact("index_select_rows", &want, &got);
            let want_back = want.index_add_rows(&idx, rows).unwrap();
            let got_back = got.index_add_rows(&idx, rows).unwrap();
            assert_exact("index_add_rows", &want_back, &got_back);
        }
    }
}

// ------------------------------------------------------------------------------------------
// matmul
// ------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    #[ignore = "needs CUDA"]
    fn matmul_with_transposes(batch in 0usize..4, m in 1usize..40, k in 0usize..40, n in 1usize..40, ta: bool, tb: bool, seed: u64) {
        for dtype in DTYPES {
            let a_dims = if ta { [k, m] } else { [m, k] };
            let b_dims = if tb { [n, k] } else { [k, n] };
            let (a, b) = if batch == 0 {
                (randn(&a_dims, dtype, seed), randn(&b_dims, dtype, seed ^ 1))
            } else {
                (
                    randn(&[batch, a_dims[0], a_dims[1]], dtype, seed),
                    randn(&[batch, b_dims[0], b_dims[1]], dtype, seed ^ 1),
                )
            };
            let want = a.matmul_t(&b, ta, tb).unwrap();
            let got = gpu(&a).matmul_t(&gpu(&b), ta, tb).unwrap();
            let bound = a.abs().unwrap().matmul_t(&b.abs().unwrap(), ta, tb).unwrap();
            let what = format!("matmul batch {batch} {m}x{k}x{n} ta {ta} tb {tb}");
            assert_bounded(&what, &want, &got, &bound, 4.0 * k.max(1) as f64);
        }
    }
}

// ------------------------------------------------------------------------------------------
// conv2d (cuDNN where present; `cuda_conv_im2col.rs` runs the same checks on the fallback)
// ------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    #[ignore = "needs CUDA"]
    fn conv2d_forward(c in conv::case(), bias: bool, seed: u64) {
        conv::check_forward(c, bias, seed);
    }

    #[test]
    #[ignore = "needs CUDA"]
    fn conv2d_backward_input(c in conv::case(), seed: u64) {
        conv::check_backward_input(c, seed);
    }

    #[test]
    #[ignore = "needs CUDA"]
    fn conv2d_backward_weight(c in conv::case(), seed: u64) {
        conv::check_backward_weight(c, seed);
    }

    #[test]
    #[ignore = "needs CUDA"]
    fn conv2d_backward_bias(c in conv::case(), seed: u64) {
        conv::check_backward_bias(c, seed);
    }
}

// ------------------------------------------------------------------------------------------
// losses
// ------------------------------------------------------------------------------------------

fn targets(rows: usize, classes: usize, dtype: DType, seed: u64) -> Tensor {
    let mut r = rng(seed);
    cpu(
        (0..rows).map(|_| r.gen_range(0..classes) as f64).collect(),
        &[rows],
        dtype,
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    #[ignore = "needs CUDA"]
    fn log_softmax_and_backward(rows in 1usize..70, classes in prop_oneof![1usize..12, 200usize..700], seed: u64) {
        for dtype in DTYPES {
            let rtol = 8.0 * unit(dtype) * classes.max(8) as f64;
            let z = randn(&[rows, classes], dtype, seed).mul_scalar(3.0).unwrap();
            let y = z.log_softmax().unwrap();
            let yg = gpu(&z).log_softmax().unwrap();
            assert_rel("log_softmax", &y, &yg, rtol);
            let dy = randn(&[rows, classes], dtype, seed ^ 9);
            let want = y.log_softmax_backward(&dy).unwrap();
            // Feed the GPU the CPU's forward output, so only the backward kernel is compared.
            let got = gpu(&y).log_softmax_backward(&gpu(&dy)).unwrap();
            assert_rel("log_softmax_backward", &want, &got, rtol);
        }
    }

    #[test]
    #[ignore = "needs CUDA"]
    fn cross_entropy_and_backward(rows in 1usize..70, classes in prop_oneof![1usize..12, 200usize..700], seed: u64, dl in 0.1f64..3.0) {
        for dtype in DTYPES {
            let rtol = 8.0 * unit(dtype) * classes.max(8) as f64;
            let z = randn(&[rows, classes], dtype, seed).mul_scalar(3.0).unwrap();
            let t = targets(rows, classes, dtype, seed ^ 5);
            let (zg, tg) = (gpu(&z), gpu(&t));
            assert_rel("cross_entropy", &z.cross_entropy(&t).unwrap(), &zg.cross_entropy(&tg).unwrap(), rtol);
            let dloss = Tensor::scalar(dl, dtype, Device::Cpu).unwrap();
            let want = z.cross_entropy_backward(&t, &dloss).unwrap();
            let got = zg.cross_entropy_backward(&tg, &gpu(&dloss)).unwrap();
            assert_rel("cross_entropy_backward", &want, &got, rtol);
            assert_exact("accuracy", &z.accuracy(&t).unwrap(), &zg.accuracy(&tg).unwrap());
        }
    }
}

// Invalid class ids raise the device's error flag, which any read on the device reports:
// that test runs in its own process, `cuda_device_errors.rs`.

// ------------------------------------------------------------------------------------------
// normalisation
// ------------------------------------------------------------------------------------------

/// `[N, C, spatial...]` with `N` in 1..=3 (batch 1 and 2 often), a layout that fits it,
/// normalising the input or its ReLU (composed on CUDA, fused on the CPU).
fn norm_case() -> impl Strategy<Value = (Vec<usize>, NormPlan)> {
    (
        1usize..=3,
        1usize..=6,
        prop::collection::vec(1usize..=9, 0..=2),
        0usize..3,
        any::<usize>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(n, groups_per, spatial, kind, pick, long, relu)| {
            let c = groups_per * if kind == 2 { 2 } else { 1 };
            let mut dims = vec![n, c];
            dims.extend(spatial);
            if long && dims.len() == 2 {
                dims.push(300 + pick % 500);
            }
            let layout = match kind {
                0 => NormLayout::PerChannel,
                1 => NormLayout::PerGroup { groups: 1 },
                _ => NormLayout::PerGroup { groups: groups_per },
            };
            let input = if relu {
                NormInput::Relu
            } else {
                NormInput::Identity
            };
            (dims, layout.with_input(input))
        })
}

fn stat_tol(dtype: DType, cpu_t: &Tensor) -> impl Fn(usize, f64) -> f64 {
    let scale = values(cpu_t)
        .iter()
        .filter(|v| v.is_finite())
        .fold(0.0f64, |m, v| m.max(v.abs()));
    let u = unit(dtype);
    move |_, c| 4.0 * u * c.abs() + 1e-13 * scale
}

proptest! {
    #![proptest_config(config())]

    #[test]
    #[ignore = "needs CUDA"]
    fn norm_statistics_and_sums((dims, layout) in norm_case(), unbiased: bool, seed: u64) {
        let variance = if unbiased { Variance::Unbiased } else { Variance::Biased };
        for dtype in DTYPES {
            let x = randn(&dims, dtype, seed).add_scalar(0.5).unwrap();
            let xg = gpu(&x);
            let want = x.norm_stats(layout, variance, 1e-5).unwrap();
            let got = xg.norm_stats(layout, variance, 1e-5).unwrap();
            let what = format!("norm_stats {dims:?} {layout:?} {variance:?}");
            assert_close(&what, &want.mean, &got.mean, stat_tol(dtype, &want.mean));
            assert_close(&what, &want.var, &got.var, stat_tol(dtype, &want.var));
            assert_close(&what, &want.invstd, &got.invstd, stat_tol(dtype, &want.invstd));
            let (s, q) = x.norm_power_sums(layout).unwrap();
            let (sg, qg) = xg.norm_power_sums(layout).unwrap();
            assert_close("norm_power_sums sum", &s, &sg, stat_tol(dtype, &s));
            assert_close("norm_power_sums squares", &q, &qg, stat_tol(dtype, &q));
        }
    }

    #[test]
    #[ignore = "needs CUDA"]
    fn norm_apply_and_backward((dims, layout) in norm_case(), per_channel_affine: bool, mode in 0usize..5, share in 0.01f64..0.5, seed: u64) {
        for dtype in DTYPES {
            let rtol = 64.0 * unit(dtype);
            let x = randn(&dims, dtype, seed);
            let c = dims[1];
            let affine = if per_channel_affine { vec![c] } else { vec![1] };
            let scale = randn(&affine, dtype, seed ^ 6).add_scalar(1.0).unwrap();
            let shift = randn(&affine, dtype, seed ^ 7);
            let stats = x.norm_stats(layout, Variance::Biased, 1e-5).unwrap();
            let (xg, sg, hg) = (gpu(&x), gpu(&scale), gpu(&shift));
            let (mg, ig) = (gpu(&stats.mean), gpu(&stats.invstd));
            let what = format!("norm {dims:?} {layout:?} affine {affine:?}");
            let want = x.norm_apply(layout, &stats.mean, &stats.invstd, &scale, &shift).unwrap();
            let got = xg.norm_apply(layout, &mg, &ig, &sg, &hg).unwrap();
            assert_rel(&format!("{what} apply"), &want, &got, rtol);

            let dy = randn(&dims, dtype, seed ^ 8);
            let dyg = gpu(&dy);
            let live_c = {
                let k = stats.mean.numel();
                cpu((0..k).map(|i| (i % 3 != 1) as u8 as f64).collect(), stats.mean.shape(), dtype)
            };
            let live_g = gpu(&live_c);
            let (grad_c, grad_g) = match mode {
                0 => (StatGrad::Detached, StatGrad::Detached),
                1 => (StatGrad::Batch(Variance::Biased), StatGrad::Batch(Variance::Biased)),
                2 => (StatGrad::Batch(Variance::Unbiased), StatGrad::Batch(Variance::Unbiased)),
                3 => (
                    StatGrad::Running { share, var_live: None },
                    StatGrad::Running { share, var_live: None },
                ),
                _ => (
                    StatGrad::Running { share, var_live: Some(&live_c) },
                    StatGrad::Running { share, var_live: Some(&live_g) },
                ),
            };
            if matches!(grad_c, StatGrad::Running { .. }) && layout.layout != NormLayout::PerChannel {
                continue;
            }
            let want = x.norm_backward(&dy, layout, &stats.mean, &stats.invstd, &scale, grad_c).unwrap();
            let got = xg.norm_backward(&dyg, layout, &mg, &ig, &sg, grad_g).unwrap();
            let m = (x.numel() / stats.mean.numel()) as f64;
            assert_rel(&format!("{what} mode {mode} dx"), &want.dx, &got.dx, rtol * m.sqrt().max(1.0));
            assert_rel(&format!("{what} mode {mode} dscale"), &want.dscale, &got.dscale, rtol);
            assert_rel(&format!("{what} mode {mode} dshift"), &want.dshift, &got.dshift, rtol);
        }
    }
}
