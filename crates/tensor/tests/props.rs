//! Property tests of the forward kernels against naive `f64` references written here:
//! broadcasting binary ops, reductions over random axis sets, permute, matmul, conv2d (and
//! its adjoints), losses, the broadcasting adjoint, row gathers, random tensors, and `f32`
//! results against `f64` ones.

use proptest::collection::vec as pvec;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tensor::{DType, Device, Tensor};
use test_oracles::conv::{self as oracle, ConvShape};
use test_oracles::matmul::MatmulShape;

const CPU: Device = Device::Cpu;

fn t64(data: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_slice(data, shape, CPU).unwrap()
}

fn t32(data: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(
        data.iter().map(|&v| v as f32).collect::<Vec<_>>(),
        shape,
        CPU,
    )
    .unwrap()
}

fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// The multi-index of flat position `flat` in a row-major tensor of `shape`.
fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = flat % shape[d];
        flat /= shape[d];
    }
    idx
}

/// The flat position of a multi-index in a row-major tensor of `shape`.
fn ravel(idx: &[usize], shape: &[usize]) -> usize {
    idx.iter().zip(shape).fold(0, |acc, (&i, &d)| acc * d + i)
}

#[track_caller]
fn close(got: &[f64], want: &[f64], tol: f64) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let ok = (g - w).abs() <= tol * (1.0 + w.abs()) || (g.is_nan() && w.is_nan());
        prop_assert!(ok, "element {}: got {}, want {}", i, g, w);
    }
    Ok(())
}

fn values(len: usize) -> impl Strategy<Value = Vec<f64>> {
    pvec(-3.0f64..3.0, len)
}

// ------------------------------------------------------------------------------------------
// Broadcasting binary ops
// ------------------------------------------------------------------------------------------

/// A shape that broadcasts to `out`: some leading dimensions dropped, some others set to 1.
fn broadcast_source(out: Vec<usize>) -> impl Strategy<Value = Vec<usize>> {
    let r = out.len();
    (0..=r, pvec(any::<bool>(), r)).prop_map(move |(drop, ones)| {
        (drop..r)
            .map(|d| if ones[d] { 1 } else { out[d] })
            .collect()
    })
}

/// Two shapes that broadcast together, and values for both.
fn broadcast_operands() -> impl Strategy<Value = (Vec<usize>, Vec<f64>, Vec<usize>, Vec<f64>)> {
    pvec(1usize..=4, 0..=4)
        .prop_flat_map(|out| (broadcast_source(out.clone()), broadcast_source(out)))
        .prop_flat_map(|(sa, sb)| {
            let (na, nb) = (numel(&sa), numel(&sb));
            (Just(sa), values(na), Just(sb), values(nb))
        })
}

/// NumPy's broadcasting rule, written from its definition.
fn naive_broadcast(
    a: &[f64],
    sa: &[usize],
    b: &[f64],
    sb: &[usize],
    f: impl Fn(f64, f64) -> f64,
) -> (Vec<f64>, Vec<usize>) {
    let rank = sa.len().max(sb.len());
    let pad = |s: &[usize]| -> Vec<usize> {
        let mut p = vec![1; rank - s.len()];
        p.extend_from_slice(s);
        p
    };
    let (pa, pb) = (pad(sa), pad(sb));
    let out: Vec<usize> = pa.iter().zip(&pb).map(|(&x, &y)| x.max(y)).collect();
    let mut res = Vec::with_capacity(numel(&out));
    for flat in 0..numel(&out) {
        let idx = unravel(flat, &out);
        let ia: Vec<usize> = idx
            .iter()
            .zip(&pa)
            .map(|(&i, &d)| if d == 1 { 0 } else { i })
            .collect();
        let ib: Vec<usize> = idx
            .iter()
            .zip(&pb)
            .map(|(&i, &d)| if d == 1 { 0 } else { i })
            .collect();
        res.push(f(a[ravel(&ia, &pa)], b[ravel(&ib, &pb)]));
    }
    (res, out)
}

type BinFn = fn(&Tensor, &Tensor) -> tensor::Result<Tensor>;
type RefFn = fn(f64, f64) -> f64;

fn binary_cases() -> Vec<(&'static str, BinFn, RefFn)> {
    vec![
        ("add", Tensor::add, |x, y| x + y),
        ("sub", Tensor::sub, |x, y| x - y),
        ("mul", Tensor::mul, |x, y| x * y),
        ("div", Tensor::div, |x, y| x / y),
        (
            "maximum",
            Tensor::maximum,
            |x, y| if x >= y { x } else { y },
        ),
        (
            "minimum",
            Tensor::minimum,
            |x, y| if x <= y { x } else { y },
        ),
        ("eq", Tensor::eq, |x, y| if x == y { 1.0 } else { 0.0 }),
        ("ne", Tensor::ne, |x, y| if x != y { 1.0 } else { 0.0 }),
        ("lt", Tensor::lt, |x, y| if x < y { 1.0 } else { 0.0 }),
        ("le", Tensor::le, |x, y| if x <= y { 1.0 } else { 0.0 }),
        ("gt", Tensor::gt, |x, y| if x > y { 1.0 } else { 0.0 }),
        ("ge", Tensor::ge, |x, y| if x >= y { 1.0 } else { 0.0 }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn binary_ops_broadcast_like_numpy((sa, a, sb, b) in broadcast_operands()) {
        // Round to halves so that equal values (ties, eq/ne) occur; keep divisors non-zero.
        let a: Vec<f64> = a.iter().map(|v| (v * 2.0).round() / 2.0).collect();
        let b: Vec<f64> = b.iter().map(|v| {
            let r = (v * 2.0).round() / 2.0;
            if r == 0.0 { 0.5 } else { r }
        }).collect();
        for (name, op, f) in binary_cases() {
            let (want, out_shape) = naive_broadcast(&a, &sa, &b, &sb, f);
            let got = op(&t64(&a, &sa), &t64(&b, &sb)).unwrap();
            prop_assert_eq!(got.shape(), &out_shape[..], "{} shape", name);
            prop_assert_eq!(got.dtype(), DType::F64);
            prop_assert_eq!(got.to_vec::<f64>().unwrap(), want.clone(), "{}", name);
            // In f32 the result of one operation is the f64 result rounded to f32
            // (double rounding is harmless for + - * / with 53 >= 2 * 24 + 2 bits).
            let got32 = op(&t32(&a, &sa), &t32(&b, &sb)).unwrap();
            prop_assert_eq!(got32.dtype(), DType::F32);
            let want32: Vec<f32> = want.iter().map(|&v| v as f32).collect();
            prop_assert_eq!(got32.to_vec::<f32>().unwrap(), want32, "{} f32", name);
        }
    }

    #[test]
    fn pow_broadcasts_like_numpy((sa, a, sb, b) in broadcast_operands()) {
        let a: Vec<f64> = a.iter().map(|v| v.abs() + 0.1).collect();
        let (want, out_shape) = naive_broadcast(&a, &sa, &b, &sb, f64::powf);
        let got = t64(&a, &sa).pow(&t64(&b, &sb)).unwrap();
        prop_assert_eq!(got.shape(), &out_shape[..]);
        close(&got.to_vec_f64().unwrap(), &want, 1e-15)?;
    }
}

// ------------------------------------------------------------------------------------------
// Reductions
// ------------------------------------------------------------------------------------------

/// A shape, values, a set of axes (possibly empty, meaning all) written with a random mix
/// of positive and negative indices, and keepdim.
fn reduction_case() -> impl Strategy<Value = (Vec<usize>, Vec<f64>, Vec<isize>, bool)> {
    pvec(1usize..=4, 1..=4).prop_flat_map(|shape| {
        let r = shape.len();
        let n = numel(&shape);
        (
            Just(shape),
            pvec(-10.0f64..10.0, n),
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

/// Groups the elements of `x` by their index over the kept axes; returns the groups in
/// output order and the output shape.
fn naive_groups(
    x: &[f64],
    shape: &[usize],
    axes: &[isize],
    keepdim: bool,
) -> (Vec<Vec<f64>>, Vec<usize>) {
    let r = shape.len();
    let reduced: Vec<bool> = if axes.is_empty() {
        vec![true; r]
    } else {
        let mut m = vec![false; r];
        for &a in axes {
            m[if a < 0 {
                (a + r as isize) as usize
            } else {
                a as usize
            }] = true;
        }
        m
    };
    let kept_shape: Vec<usize> = (0..r).filter(|&d| !reduced[d]).map(|d| shape[d]).collect();
    let mut groups = vec![Vec::new(); numel(&kept_shape)];
    for (flat, &v) in x.iter().enumerate() {
        let idx = unravel(flat, shape);
        let kept_idx: Vec<usize> = (0..r).filter(|&d| !reduced[d]).map(|d| idx[d]).collect();
        groups[ravel(&kept_idx, &kept_shape)].push(v);
    }
    let out_shape = if keepdim {
        (0..r)
            .map(|d| if reduced[d] { 1 } else { shape[d] })
            .collect()
    } else {
        kept_shape
    };
    (groups, out_shape)
}

/// A statistic of one group of reduced elements.
type Stat = fn(&[f64]) -> f64;

fn naive_var(g: &[f64], unbiased: bool) -> f64 {
    let n = g.len() as f64;
    let mean = g.iter().sum::<f64>() / n;
    let ss: f64 = g.iter().map(|v| (v - mean) * (v - mean)).sum();
    ss / if unbiased { n - 1.0 } else { n }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn reductions_match_naive_groups((shape, x, axes, keepdim) in reduction_case()) {
        let stats: [(&str, Stat); 6] = [
            ("sum", |g| g.iter().sum()),
            ("mean", |g| g.iter().sum::<f64>() / g.len() as f64),
            ("var", |g| naive_var(g, false)),
            ("var_unbiased", |g| naive_var(g, true)),
            ("max", |g| g.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
            ("min", |g| g.iter().copied().fold(f64::INFINITY, f64::min)),
        ];
        for (name, stat) in stats.iter() {
            for dtype in [DType::F64, DType::F32] {
                let t = Tensor::from_f64_vec(x.clone(), &shape, dtype, CPU).unwrap();
                // The reference works on the stored (for f32: rounded) values in f64.
                let stored = t.to_vec_f64().unwrap();
                let (groups, out_shape) = naive_groups(&stored, &shape, &axes, keepdim);
                let want: Vec<f64> = groups.iter().map(|g| stat(g)).collect();
                let got = match *name {
                    "sum" => t.sum(&axes, keepdim),
                    "mean" => t.mean(&axes, keepdim),
                    "var" => t.var(&axes, false, keepdim),
                    "var_unbiased" => t.var(&axes, true, keepdim),
                    "max" => t.max(&axes, keepdim),
                    _ => t.min(&axes, keepdim),
                }.unwrap();
                prop_assert_eq!(got.shape(), &out_shape[..], "{} {:?}", name, dtype);
                prop_assert_eq!(got.dtype(), dtype);
                let got = got.to_vec_f64().unwrap();
                if matches!(*name, "max" | "min") {
                    // max and min pick an element: exact.
                    prop_assert_eq!(&got, &want, "{}", name);
                } else if dtype == DType::F64 {
                    close(&got, &want, 1e-12)?;
                } else {
                    // Computed in f64 from the stored values, rounded once to f32.
                    close(&got, &want, 2e-7)?;
                }
            }
        }
    }

    #[test]
    fn argmax_is_the_first_maximum(
        (shape, x, axis) in pvec(1usize..=4, 1..=3).prop_flat_map(|s| {
            let n = numel(&s);
            let r = s.len();
            (Just(s), pvec(-3i32..3, n), 0..r)
        }),
        keepdim: bool,
    ) {
        // Small integers make ties frequent.
        let x: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
        let got = t64(&x, &shape).argmax(axis as isize, keepdim).unwrap();
        let mut out_shape = shape.clone();
        if keepdim { out_shape[axis] = 1 } else { out_shape.remove(axis); }
        prop_assert_eq!(got.shape(), &out_shape[..]);
        let mut kept = shape.clone();
        kept[axis] = 1;
        let mut want = Vec::new();
        for flat in 0..numel(&kept) {
            let mut idx = unravel(flat, &kept);
            let mut best = 0;
            for i in 0..shape[axis] {
                idx[axis] = i;
                let v = x[ravel(&idx, &shape)];
                idx[axis] = best;
                if v > x[ravel(&idx, &shape)] { best = i; }
            }
            want.push(best as f64);
        }
        prop_assert_eq!(got.to_vec_f64().unwrap(), want);
    }
}

// ------------------------------------------------------------------------------------------
// Layout
// ------------------------------------------------------------------------------------------

fn permutation_case() -> impl Strategy<Value = (Vec<usize>, Vec<f64>, Vec<usize>)> {
    pvec(1usize..=4, 0..=5).prop_flat_map(|shape| {
        let n = numel(&shape);
        let axes: Vec<usize> = (0..shape.len()).collect();
        (Just(shape), values(n), Just(axes).prop_shuffle())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn permute_moves_elements_and_round_trips((shape, x, axes) in permutation_case()) {
        let t = t64(&x, &shape);
        let p = t.permute(&axes).unwrap();
        let out_shape: Vec<usize> = axes.iter().map(|&a| shape[a]).collect();
        prop_assert_eq!(p.shape(), &out_shape[..]);
        let pv = p.to_vec::<f64>().unwrap();
        for (flat, &got) in pv.iter().enumerate() {
            let oi = unravel(flat, &out_shape);
            let mut ii = vec![0; shape.len()];
            for (i, &a) in axes.iter().enumerate() {
                ii[a] = oi[i];
            }
            prop_assert_eq!(got, x[ravel(&ii, &shape)]);
        }
        let mut inverse = vec![0; axes.len()];
        for (i, &a) in axes.iter().enumerate() {
            inverse[a] = i;
        }
        prop_assert!(p.permute(&inverse).unwrap().bit_eq(&t));
        // f32 moves the same bits.
        let p32 = t32(&x, &shape).permute(&axes).unwrap();
        prop_assert_eq!(p32.to_vec_f64().unwrap(), pv.iter().map(|&v| f64::from(v as f32)).collect::<Vec<_>>());
    }

    #[test]
    fn broadcast_to_and_sum_to_shape_are_adjoint(
        (src, x, dst, y) in pvec(1usize..=4, 0..=4)
            .prop_flat_map(|out| (broadcast_source(out.clone()), Just(out)))
            .prop_flat_map(|(src, dst)| {
                let (ns, nd) = (numel(&src), numel(&dst));
                (Just(src), values(ns), Just(dst), values(nd))
            })
    ) {
        let b = t64(&x, &src).broadcast_to(&dst).unwrap();
        prop_assert_eq!(b.shape(), &dst[..]);
        let (want_b, _) = naive_broadcast(&x, &src, &vec![0.0; numel(&dst)], &dst, |u, _| u);
        prop_assert_eq!(b.to_vec::<f64>().unwrap(), want_b);
        // Naive sum_to_shape: add every element of y onto the source element it was read
        // from by the broadcast.
        let s = t64(&y, &dst).sum_to_shape(&src).unwrap();
        prop_assert_eq!(s.shape(), &src[..]);
        let lead = dst.len() - src.len();
        let mut want_s = vec![0.0; numel(&src)];
        for (flat, &v) in y.iter().enumerate() {
            let idx = unravel(flat, &dst);
            let si: Vec<usize> = (0..src.len()).map(|d| if src[d] == 1 { 0 } else { idx[lead + d] }).collect();
            want_s[ravel(&si, &src)] += v;
        }
        close(&s.to_vec::<f64>().unwrap(), &want_s, 1e-12)?;
        // <broadcast(x), y> = <x, sum_to_shape(y)>.
        let lhs: f64 = b.to_vec::<f64>().unwrap().iter().zip(&y).map(|(p, q)| p * q).sum();
        let rhs: f64 = x.iter().zip(&want_s).map(|(p, q)| p * q).sum();
        prop_assert!((lhs - rhs).abs() <= 1e-9 * (1.0 + lhs.abs()));
    }

    #[test]
    fn row_gather_and_scatter_match_naive(
        (rows, cols, x, idx) in (1usize..6, 0usize..4).prop_flat_map(|(r, c)| {
            (Just(r), Just(c), values(r * c), pvec(0..r, 0..8))
        })
    ) {
        let t = t64(&x, &[rows, cols]);
        let g = t.index_select_rows(&idx).unwrap();
        prop_assert_eq!(g.shape(), &[idx.len(), cols][..]);
        let want: Vec<f64> = idx.iter().flat_map(|&i| x[i * cols..(i + 1) * cols].to_vec()).collect();
        prop_assert_eq!(g.to_vec::<f64>().unwrap(), want);
        // Scatter-add of the gathered rows: row r receives x[r] times its multiplicity.
        let s = g.index_add_rows(&idx, rows).unwrap();
        prop_assert_eq!(s.shape(), &[rows, cols][..]);
        let mut want_s = vec![0.0; rows * cols];
        for &i in &idx {
            for c in 0..cols {
                want_s[i * cols + c] += x[i * cols + c];
            }
        }
        close(&s.to_vec::<f64>().unwrap(), &want_s, 1e-15)?;
    }
}

// ------------------------------------------------------------------------------------------
// Matrix products
// ------------------------------------------------------------------------------------------

/// The oracle's product of `[batch, m, k]`-sized operands with the given transposes.
#[allow(clippy::too_many_arguments)]
fn naive_matmul(
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
    a: &[f64],
    ta: bool,
    b: &[f64],
    tb: bool,
) -> Vec<f64> {
    let shape = MatmulShape::new(batch, m, k, n).transposed(ta, tb);
    test_oracles::matmul::matmul(&shape, a, b).unwrap()
}

type MatmulCase = (
    Option<usize>,
    usize,
    usize,
    usize,
    bool,
    bool,
    Vec<f64>,
    Vec<f64>,
);

fn matmul_case() -> impl Strategy<Value = MatmulCase> {
    (
        prop_oneof![Just(None), (1usize..4).prop_map(Some)],
        1usize..7,
        0usize..7,
        1usize..7,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_flat_map(|(batch, m, k, n, ta, tb)| {
            let bt = batch.unwrap_or(1);
            (
                Just(batch),
                Just(m),
                Just(k),
                Just(n),
                Just(ta),
                Just(tb),
                values(bt * m * k),
                values(bt * k * n),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn matmul_matches_triple_loop((batch, m, k, n, ta, tb, a, b) in matmul_case()) {
        let bt = batch.unwrap_or(1);
        let stored = |rows: usize, cols: usize, t: bool| -> Vec<usize> {
            let (r, c) = if t { (cols, rows) } else { (rows, cols) };
            match batch {
                None => vec![r, c],
                Some(bb) => vec![bb, r, c],
            }
        };
        let (sa, sb) = (stored(m, k, ta), stored(k, n, tb));
        let want = naive_matmul(bt, m, k, n, &a, ta, &b, tb);
        let want_shape = match batch { None => vec![m, n], Some(bb) => vec![bb, m, n] };
        let c = t64(&a, &sa).matmul_t(&t64(&b, &sb), ta, tb).unwrap();
        prop_assert_eq!(c.shape(), &want_shape[..]);
        close(&c.to_vec::<f64>().unwrap(), &want, 1e-13 * (k as f64 + 1.0))?;
        if !ta && !tb {
            prop_assert!(c.bit_eq(&t64(&a, &sa).matmul(&t64(&b, &sb)).unwrap()));
        }
        // f32 against the f64 product of the f32-rounded inputs.
        let a32: Vec<f64> = a.iter().map(|&v| f64::from(v as f32)).collect();
        let b32: Vec<f64> = b.iter().map(|&v| f64::from(v as f32)).collect();
        let want32 = naive_matmul(bt, m, k, n, &a32, ta, &b32, tb);
        // Rounding-error bound of a k-term f32 dot product: (k + 1) 2^-24 sum |a_p b_p|.
        let abs = |v: &[f64]| v.iter().map(|x| x.abs()).collect::<Vec<_>>();
        let mag = naive_matmul(bt, m, k, n, &abs(&a32), ta, &abs(&b32), tb);
        let c32 = t32(&a, &sa).matmul_t(&t32(&b, &sb), ta, tb).unwrap();
        prop_assert_eq!(c32.dtype(), DType::F32);
        let got32 = c32.to_vec_f64().unwrap();
        for i in 0..got32.len() {
            let bound = (k as f64 + 1.0) * f64::from(f32::EPSILON) * mag[i] + 1e-30;
            prop_assert!((got32[i] - want32[i]).abs() <= bound, "{} vs {}", got32[i], want32[i]);
        }
    }
}

// ------------------------------------------------------------------------------------------
// Convolution
// ------------------------------------------------------------------------------------------

type ConvCase = (ConvShape, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>);

fn conv_case() -> impl Strategy<Value = ConvCase> {
    (
        1usize..4,
        1usize..4,
        1usize..9,
        1usize..9,
        1usize..4,
        1usize..6,
        1usize..6,
        1usize..4,
        0usize..4,
    )
        .prop_filter(
            "kernel must fit the padded input",
            |&(_, _, h, w, _, kh, kw, _, p)| h + 2 * p >= kh && w + 2 * p >= kw,
        )
        .prop_flat_map(|(n, c, h, w, o, kh, kw, stride, pad)| {
            let g = ConvShape::new([n, c, h, w], [o, c, kh, kw], stride, pad).unwrap();
            (
                Just(g),
                pvec(-1.0f64..1.0, numel(&g.x_shape())),
                pvec(-1.0f64..1.0, numel(&g.w_shape())),
                pvec(-1.0f64..1.0, o),
                pvec(-1.0f64..1.0, numel(&g.y_shape())),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn conv2d_and_its_adjoints_match_direct_loops((g, x, w, bias, dy) in conv_case()) {
        let geo = tensor::ops::conv::conv2d_geometry(&g.x_shape(), &g.w_shape(), g.stride, g.padding).unwrap();
        assert_eq!((geo.h_out, geo.w_out), (g.h_out(), g.w_out()));
        let plane = g.h_out() * g.w_out();
        // Terms per output element: at most c kh kw products plus the bias; per weight
        // gradient element: n ho wo; per input gradient element: o kh kw.
        let terms = (g.c_in * g.k_h * g.k_w + g.batch * plane + g.c_out * g.k_h * g.k_w + 2) as f64;
        for dtype in [DType::F64, DType::F32] {
            let mk = |v: &[f64], s: &[usize]| Tensor::from_f64_vec(v.to_vec(), s, dtype, CPU).unwrap();
            let (tx, tw, tb, tdy) = (mk(&x, &g.x_shape()), mk(&w, &g.w_shape()), mk(&bias, &[g.c_out]), mk(&dy, &g.y_shape()));
            // References from the stored values (rounded for f32), with the sums of the
            // absolute values of the terms for an error bound.
            let (x, w, bias, dy) = (tx.to_vec_f64().unwrap(), tw.to_vec_f64().unwrap(), tb.to_vec_f64().unwrap(), tdy.to_vec_f64().unwrap());
            // The oracle on the values, and on their absolute values for the magnitudes.
            let abs = |v: &[f64]| v.iter().map(|a| a.abs()).collect::<Vec<_>>();
            let want_y = oracle::conv2d(&g, &x, &w, Some(&bias)).unwrap();
            let mag_y = oracle::conv2d(&g, &abs(&x), &abs(&w), Some(&abs(&bias))).unwrap();
            let want = oracle::conv2d_backward(&g, &x, &w, &dy).unwrap();
            let mag = oracle::conv2d_backward(&g, &abs(&x), &abs(&w), &abs(&dy)).unwrap();
            let (want_dx, want_dw, want_db) = (want.dx, want.dw, want.db);
            let (mag_dx, mag_dw, mag_db) = (mag.dx, mag.dw, mag.db);
            let eps = if dtype == DType::F64 { f64::EPSILON } else { f64::from(f32::EPSILON) };
            let check = |name: &str, got: &Tensor, shape: &[usize], want: &[f64], mag: &[f64]| -> Result<(), TestCaseError> {
                prop_assert_eq!(got.shape(), shape, "{} shape", name);
                prop_assert_eq!(got.dtype(), dtype);
                let got = got.to_vec_f64().unwrap();
                for i in 0..got.len() {
                    let bound = terms * eps * mag[i] + 1e-300;
                    prop_assert!((got[i] - want[i]).abs() <= bound,
                        "{} {:?} element {}: got {}, want {} (bound {})", name, dtype, i, got[i], want[i], bound);
                }
                Ok(())
            };
            let y = tx.conv2d(&tw, Some(&tb), g.stride, g.padding).unwrap();
            check("forward", &y, &g.y_shape(), &want_y, &mag_y)?;
            let dx = tdy.conv2d_backward_input(&tw, &geo).unwrap();
            check("input gradient", &dx, &g.x_shape(), &want_dx, &mag_dx)?;
            let dw = tdy.conv2d_backward_weight(&tx, &geo).unwrap();
            check("weight gradient", &dw, &g.w_shape(), &want_dw, &mag_dw)?;
            let db = tdy.conv2d_backward_bias(&geo).unwrap();
            check("bias gradient", &db, &[g.c_out], &want_db, &mag_db)?;
            // Without a bias the output is the same sums minus the bias.
            let y0 = tx.conv2d(&tw, None, g.stride, g.padding).unwrap();
            let want_y0: Vec<f64> = want_y.iter().enumerate().map(|(yi, v)| v - bias[(yi / plane) % g.c_out]).collect();
            check("forward without bias", &y0, &g.y_shape(), &want_y0, &mag_y)?;
        }
    }
}

// ------------------------------------------------------------------------------------------
// Losses
// ------------------------------------------------------------------------------------------

fn logits_case() -> impl Strategy<Value = (usize, usize, Vec<f64>, Vec<usize>)> {
    (1usize..6, 1usize..7)
        .prop_flat_map(|(n, c)| (Just(n), Just(c), pvec(-8.0f64..8.0, n * c), pvec(0..c, n)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn losses_match_naive_formulas((n, c, z, t) in logits_case(), dloss in -2.0f64..2.0) {
        // Naive log-sum-exp without the max shift is safe for |z| < 8.
        let lse: Vec<f64> = (0..n).map(|r| z[r * c..(r + 1) * c].iter().map(|v| v.exp()).sum::<f64>().ln()).collect();
        let want_ls: Vec<f64> = (0..n * c).map(|i| z[i] - lse[i / c]).collect();
        let want_loss = (0..n).map(|r| lse[r] - z[r * c + t[r]]).sum::<f64>() / n as f64;
        let mut want_grad = vec![0.0; n * c];
        for r in 0..n {
            for k in 0..c {
                let p = (z[r * c + k] - lse[r]).exp();
                let onehot = if k == t[r] { 1.0 } else { 0.0 };
                want_grad[r * c + k] = dloss * (p - onehot) / n as f64;
            }
        }
        let want_acc = (0..n).filter(|&r| {
            let row = &z[r * c..(r + 1) * c];
            let best = (0..c).fold(0, |b, k| if row[k] > row[b] { k } else { b });
            best == t[r]
        }).count() as f64 / n as f64;
        let tf: Vec<f64> = t.iter().map(|&v| v as f64).collect();
        for dtype in [DType::F64, DType::F32] {
            let tol = if dtype == DType::F64 { 1e-13 } else { 2e-6 };
            // f32 logits are rounded by up to 8 * 2^-24; the tolerance covers it (every
            // quantity here has a derivative of magnitude at most 2 in each logit).
            let zt = Tensor::from_f64_vec(z.clone(), &[n, c], dtype, CPU).unwrap();
            let tt = Tensor::from_f64_vec(tf.clone(), &[n], dtype, CPU).unwrap();
            let ls = zt.log_softmax().unwrap();
            prop_assert_eq!(ls.shape(), &[n, c][..]);
            close(&ls.to_vec_f64().unwrap(), &want_ls, tol * 10.0)?;
            let loss = zt.cross_entropy(&tt).unwrap();
            prop_assert_eq!(loss.shape(), &[] as &[usize]);
            close(&[loss.to_scalar().unwrap()], &[want_loss], tol * 10.0)?;
            let dl = Tensor::from_f64_vec(vec![dloss], &[], dtype, CPU).unwrap();
            let grad = zt.cross_entropy_backward(&tt, &dl).unwrap();
            close(&grad.to_vec_f64().unwrap(), &want_grad, tol * 10.0)?;
            // log_softmax_backward with the one-hot-over-n gradient of the loss gives the
            // same gradient (the loss is the mean of -log_softmax at the targets).
            let mut dy = vec![0.0; n * c];
            for r in 0..n {
                dy[r * c + t[r]] = -dloss / n as f64;
            }
            let dy = Tensor::from_f64_vec(dy, &[n, c], dtype, CPU).unwrap();
            let grad2 = ls.log_softmax_backward(&dy).unwrap();
            close(&grad2.to_vec_f64().unwrap(), &want_grad, tol * 10.0)?;
            if dtype == DType::F64 {
                let acc = zt.accuracy(&tt).unwrap().to_scalar().unwrap();
                prop_assert!((acc - want_acc).abs() < 1e-15, "accuracy {} vs {}", acc, want_acc);
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// Random tensors
// ------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn random_tensors_are_seeded_and_follow_their_distribution(
        seed: u64,
        mean in -3.0f64..3.0,
        std in 0.1f64..4.0,
        low in -5.0f64..5.0,
        width in 0.01f64..10.0,
    ) {
        let n = 20_000;
        let draw = |dtype| {
            let mut rng = StdRng::seed_from_u64(seed);
            Tensor::randn(&[n / 100, 100], mean, std, dtype, CPU, &mut rng).unwrap()
        };
        let a = draw(DType::F64);
        prop_assert_eq!(a.shape(), &[n / 100, 100][..]);
        prop_assert!(a.bit_eq(&draw(DType::F64)), "same seed, same numbers");
        // The f32 tensor holds the f64 draws rounded.
        let a32 = draw(DType::F32);
        prop_assert_eq!(a32.dtype(), DType::F32);
        let av = a.to_vec::<f64>().unwrap();
        let rounded: Vec<f32> = av.iter().map(|&v| v as f32).collect();
        prop_assert_eq!(a32.to_vec::<f32>().unwrap(), rounded);
        // Sample mean and standard deviation within 6 standard errors.
        let m = av.iter().sum::<f64>() / n as f64;
        let s = (av.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n as f64 - 1.0)).sqrt();
        prop_assert!((m - mean).abs() < 6.0 * std / (n as f64).sqrt(), "mean {} vs {}", m, mean);
        prop_assert!((s - std).abs() < 6.0 * std / (2.0 * n as f64).sqrt(), "std {} vs {}", s, std);

        let high = low + width;
        let mut rng = StdRng::seed_from_u64(seed ^ 1);
        let u = Tensor::rand_uniform(&[n], low, high, DType::F64, CPU, &mut rng).unwrap();
        let uv = u.to_vec::<f64>().unwrap();
        prop_assert!(uv.iter().all(|&v| v >= low && v < high));
        let um = uv.iter().sum::<f64>() / n as f64;
        let sd = width / 12f64.sqrt();
        prop_assert!((um - (low + high) / 2.0).abs() < 6.0 * sd / (n as f64).sqrt());
        // Different seeds give different numbers.
        let mut rng2 = StdRng::seed_from_u64(seed.wrapping_add(7));
        let b = Tensor::randn(&[n / 100, 100], mean, std, DType::F64, CPU, &mut rng2).unwrap();
        prop_assert!(!a.bit_eq(&b));
    }
}
