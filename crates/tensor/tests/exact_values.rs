//! Exact-value tests of the forward (and a few backward) kernels of `tensor`.
//!
//! Every expected value is either worked out by hand in a comment or computed by a naive
//! loop in `f64` (written here, or the shared `test-oracles` crate's). Inputs are small
//! integers wherever possible so that both `f32` and `f64` results are exact and can be
//! compared with `==`.

use tensor::{BinaryOp, DType, Device, NormLayout, StatGrad, Tensor, Variance};
use test_oracles::conv::{self as oracle, ConvShape};

const CPU: Device = Device::Cpu;

fn t64(data: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_slice(data, shape, CPU).unwrap()
}

fn t32(data: &[f64], shape: &[usize]) -> Tensor {
    let v: Vec<f32> = data.iter().map(|&x| x as f32).collect();
    Tensor::from_vec(v, shape, CPU).unwrap()
}

fn vals(t: &Tensor) -> Vec<f64> {
    t.to_vec_f64().unwrap()
}

#[track_caller]
fn assert_close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(
        got.len(),
        want.len(),
        "lengths differ: got {got:?}, want {want:?}"
    );
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "element {i}: got {g}, want {w} (got {got:?}, want {want:?})"
        );
    }
}

/// Small integers in -5..=5 from a fixed formula (products and sums stay exact in f32).
fn ints(n: usize, seed: usize) -> Vec<f64> {
    (0..n)
        .map(|i| ((i * 7 + seed * 13 + 3) % 11) as f64 - 5.0)
        .collect()
}

// ------------------------------------------------------------------------------------------
// Convolution
// ------------------------------------------------------------------------------------------

/// Runs forward and the three backward kernels in f32 and f64 against the naive loops;
/// with integer data every result must be exact.
fn check_conv_exact(xs: [usize; 4], ws: [usize; 4], stride: usize, pad: usize, seed: usize) {
    let x = ints(xs.iter().product(), seed);
    let w = ints(ws.iter().product(), seed + 1);
    let b = ints(ws[0], seed + 2);
    let shape = ConvShape::new(xs, ws, stride, pad).unwrap();
    let ys = shape.y_shape();
    let want_y = oracle::conv2d(&shape, &x, &w, Some(&b)).unwrap();
    let want_y_nb = oracle::conv2d(&shape, &x, &w, None).unwrap();
    let dy = ints(ys.iter().product(), seed + 3);
    let want = oracle::conv2d_backward(&shape, &x, &w, &dy).unwrap();
    let (want_dx, want_dw, want_db) = (want.dx, want.dw, want.db);
    for make in [t32 as fn(&[f64], &[usize]) -> Tensor, t64] {
        let (tx, tw, tb) = (make(&x, &xs), make(&w, &ws), make(&b, &[ws[0]]));
        let y = tx.conv2d(&tw, Some(&tb), stride, pad).unwrap();
        assert_eq!(y.shape(), ys, "output shape");
        assert_eq!(vals(&y), want_y, "forward with bias, {:?}", tx.dtype());
        let y = tx.conv2d(&tw, None, stride, pad).unwrap();
        assert_eq!(
            vals(&y),
            want_y_nb,
            "forward without bias, {:?}",
            tx.dtype()
        );

        let g = tensor::ops::conv::conv2d_geometry(&xs, &ws, stride, pad).unwrap();
        assert_eq!([g.batch, g.c_out, g.h_out, g.w_out], ys);
        let tdy = make(&dy, &ys);
        let dx = tdy.conv2d_backward_input(&tw, &g).unwrap();
        assert_eq!(dx.shape(), xs);
        assert_eq!(vals(&dx), want_dx, "backward input, {:?}", tx.dtype());
        let dw = tdy.conv2d_backward_weight(&tx, &g).unwrap();
        assert_eq!(dw.shape(), ws);
        assert_eq!(vals(&dw), want_dw, "backward weight, {:?}", tx.dtype());
        let db = tdy.conv2d_backward_bias(&g).unwrap();
        assert_eq!(db.shape(), [ws[0]]);
        assert_eq!(vals(&db), want_db, "backward bias, {:?}", tx.dtype());
    }
}

#[test]
fn conv_kernel5_stride2_padding2() {
    // ks = 5, padding ks/2: the lesson's first layer. 7x6 input -> 4x3 output.
    check_conv_exact([1, 1, 7, 6], [3, 1, 5, 5], 2, 2, 0);
    check_conv_exact([2, 2, 9, 9], [2, 2, 5, 5], 2, 2, 1);
}

#[test]
fn conv_kernel3_stride2_padding1() {
    // 5x5 -> 3x3, 8x7 -> 4x4, 4x4 -> 2x2.
    check_conv_exact([2, 3, 5, 5], [4, 3, 3, 3], 2, 1, 2);
    check_conv_exact([1, 2, 8, 7], [3, 2, 3, 3], 2, 1, 3);
    check_conv_exact([3, 1, 4, 4], [2, 1, 3, 3], 2, 1, 4);
}

#[test]
fn conv_other_geometries() {
    // Stride 1 "same" convolutions, 1x1 kernels, non-square kernels and inputs, large
    // padding whose border outputs read nothing but zeros, kernel as large as the input.
    check_conv_exact([2, 2, 6, 5], [3, 2, 3, 3], 1, 1, 5);
    check_conv_exact([2, 3, 4, 5], [2, 3, 1, 1], 1, 0, 6);
    check_conv_exact([2, 3, 4, 5], [2, 3, 1, 1], 2, 2, 7);
    check_conv_exact([1, 2, 5, 4], [2, 2, 3, 2], 1, 0, 8);
    check_conv_exact([2, 1, 3, 3], [2, 1, 3, 3], 1, 0, 9);
    check_conv_exact([2, 2, 3, 3], [3, 2, 5, 5], 1, 2, 10);
    check_conv_exact([1, 1, 1, 1], [2, 1, 5, 5], 1, 2, 11);
    check_conv_exact([2, 2, 2, 3], [1, 2, 3, 3], 3, 1, 12);
}

#[test]
fn conv_large_batch_takes_chunked_and_parallel_paths() {
    // Enough work (2 * 64 * 144 * 8 * 27 flops) for the parallel, multi-chunk lowering.
    check_conv_exact([64, 3, 12, 12], [8, 3, 3, 3], 1, 1, 13);
    // Large output maps in few samples: several chunks without parallelism.
    check_conv_exact([3, 2, 30, 30], [4, 2, 5, 5], 1, 2, 14);
}

#[test]
fn conv_where_no_kernel_tap_reads_the_input() {
    // 1x1 input, 1x1 kernel, stride 2, padding 1: output 2x2 where position (0,0) reads
    // input index (-1,-1) and (1,1) reads (1,1): every read is padding, so y = bias.
    let x = t64(&[7.0], &[1, 1, 1, 1]);
    let w = t64(&[3.0, -2.0], &[2, 1, 1, 1]);
    let b = t64(&[0.5, -1.5], &[2]);
    let y = x.conv2d(&w, Some(&b), 2, 1).unwrap();
    assert_eq!(y.shape(), [1, 2, 2, 2]);
    assert_eq!(vals(&y), [0.5, 0.5, 0.5, 0.5, -1.5, -1.5, -1.5, -1.5]);
    let g = tensor::ops::conv::conv2d_geometry(x.shape(), w.shape(), 2, 1).unwrap();
    let dy = t64(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], &[1, 2, 2, 2]);
    assert_eq!(vals(&dy.conv2d_backward_input(&w, &g).unwrap()), [0.0]);
    assert_eq!(
        vals(&dy.conv2d_backward_weight(&x, &g).unwrap()),
        [0.0, 0.0]
    );
    assert_eq!(vals(&dy.conv2d_backward_bias(&g).unwrap()), [10.0, 26.0]);
}

#[test]
fn conv_2x2_input_kernel3_stride2_padding1_gives_1x1() {
    // Input [[1, 2], [3, 4]], kernel [[1, 2, 3], [4, 5, 6], [7, 8, 9]], padding 1, stride 2.
    // Output size (2 + 2 - 3) / 2 + 1 = 1. The single output sits on the padded input
    //     0 0 0 0
    //     0 1 2 0
    //     0 3 4 0
    // at its top-left corner: only kernel taps (1,1), (1,2), (2,1), (2,2) meet the input:
    // 1*5 + 2*6 + 3*8 + 4*9 = 5 + 12 + 24 + 36 = 77, plus the bias 0.5.
    for make in [t32 as fn(&[f64], &[usize]) -> Tensor, t64] {
        let x = make(&[1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2]);
        let w = make(
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
            &[1, 1, 3, 3],
        );
        let b = make(&[0.5], &[1]);
        let y = x.conv2d(&w, Some(&b), 2, 1).unwrap();
        assert_eq!(y.shape(), [1, 1, 1, 1]);
        assert_eq!(vals(&y), [77.5]);
        // Backward with dy = 2: dx[i][j] = 2 w[i+1][j+1]; dw = 2 x placed at rows/cols 1..3;
        // db = 2.
        let g = tensor::ops::conv::conv2d_geometry(x.shape(), w.shape(), 2, 1).unwrap();
        let dy = make(&[2.0], &[1, 1, 1, 1]);
        assert_eq!(
            vals(&dy.conv2d_backward_input(&w, &g).unwrap()),
            [10.0, 12.0, 16.0, 18.0]
        );
        assert_eq!(
            vals(&dy.conv2d_backward_weight(&x, &g).unwrap()),
            [0.0, 0.0, 0.0, 0.0, 2.0, 4.0, 0.0, 6.0, 8.0]
        );
        assert_eq!(vals(&dy.conv2d_backward_bias(&g).unwrap()), [2.0]);
    }
    // Two input and two output channels, batch 2, same geometry: output (b, o) is
    // sum_c x[b,c] . w[o,c][1..3, 1..3] + bias[o]. With x[b,c] = [[1,2],[3,4]] * (1 + b + c)
    // and w[o,c] = k * (o == c ? 1 : -1) where k is the kernel above:
    // (b, o=0): 77 * (1+b) - 77 * (2+b) = -77;  (b, o=1): -77 * (1+b) + 77 * (2+b) = 77.
    let mut x = Vec::new();
    for b in 0..2 {
        for c in 0..2 {
            x.extend([1.0, 2.0, 3.0, 4.0].map(|v| v * (1 + b + c) as f64));
        }
    }
    let k = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
    let mut w = Vec::new();
    for o in 0..2 {
        for c in 0..2 {
            let sign = if o == c { 1.0 } else { -1.0 };
            w.extend(k.map(|v| v * sign));
        }
    }
    let y = t64(&x, &[2, 2, 2, 2])
        .conv2d(
            &t64(&w, &[2, 2, 3, 3]),
            Some(&t64(&[1.0, -1.0], &[2])),
            2,
            1,
        )
        .unwrap();
    assert_eq!(y.shape(), [2, 2, 1, 1]);
    assert_eq!(vals(&y), [-76.0, 76.0, -76.0, 76.0]);
}

// ------------------------------------------------------------------------------------------
// Losses
// ------------------------------------------------------------------------------------------

#[test]
fn cross_entropy_single_row_hand_worked() {
    // ln(e^1 + e^2 + e^3) - 3 = 0.40760596444438...
    let want = 0.407_605_964_444_380_1;
    assert!(((1f64.exp() + 2f64.exp() + 3f64.exp()).ln() - 3.0 - want).abs() < 1e-15);
    let z = t64(&[1.0, 2.0, 3.0], &[1, 3]);
    let loss = z.cross_entropy(&t64(&[2.0], &[1])).unwrap();
    assert_eq!(loss.shape(), [] as [usize; 0]);
    assert!((loss.to_scalar().unwrap() - want).abs() < 1e-14);
    let z32 = t32(&[1.0, 2.0, 3.0], &[1, 3]);
    let loss32 = z32.cross_entropy(&t32(&[2.0], &[1])).unwrap();
    assert_eq!(loss32.dtype(), DType::F32);
    assert!((loss32.to_scalar().unwrap() - want).abs() < 1e-6);
    // Target 0: ln(e + e^2 + e^3) - 1 = want + 2.
    let loss0 = z
        .cross_entropy(&t64(&[0.0], &[1]))
        .unwrap()
        .to_scalar()
        .unwrap();
    assert!((loss0 - (want + 2.0)).abs() < 1e-14);
}

#[test]
fn cross_entropy_is_the_mean_over_rows_and_its_gradient_is_softmax_minus_onehot_over_n() {
    // Row 0: logits [1,2,3], target 2: loss 0.40760596444438, softmax
    //   [0.09003057317038046, 0.24472847105479767, 0.6652409557748219].
    // Row 1: logits [1,1,1], target 0: loss ln 3, softmax [1/3, 1/3, 1/3].
    let sm = [
        0.090_030_573_170_380_46,
        0.244_728_471_054_797_67,
        0.665_240_955_774_821_9,
    ];
    let z = t64(&[1.0, 2.0, 3.0, 1.0, 1.0, 1.0], &[2, 3]);
    let t = t64(&[2.0, 0.0], &[2]);
    let loss = z.cross_entropy(&t).unwrap().to_scalar().unwrap();
    let want = (0.407_605_964_444_380_1 + 3f64.ln()) / 2.0;
    assert!((loss - want).abs() < 1e-14, "{loss} vs {want}");

    let g = z.cross_entropy_backward(&t, &t64(&[1.0], &[])).unwrap();
    let third = 1.0 / 3.0;
    let want_g = [
        sm[0] / 2.0,
        sm[1] / 2.0,
        (sm[2] - 1.0) / 2.0,
        (third - 1.0) / 2.0,
        third / 2.0,
        third / 2.0,
    ];
    assert_close(&vals(&g), &want_g, 1e-14);
    // The upstream gradient scales it.
    let g3 = z.cross_entropy_backward(&t, &t64(&[3.0], &[])).unwrap();
    assert_close(&vals(&g3), &want_g.map(|v| 3.0 * v), 1e-14);
    // f32 agrees to f32 precision.
    let g32 = t32(&[1.0, 2.0, 3.0, 1.0, 1.0, 1.0], &[2, 3])
        .cross_entropy_backward(&t32(&[2.0, 0.0], &[2]), &t32(&[1.0], &[]))
        .unwrap();
    assert_eq!(g32.dtype(), DType::F32);
    assert_close(&vals(&g32), &want_g, 1e-6);
}

#[test]
fn cross_entropy_is_stable_for_large_logits() {
    // logsumexp([1000, 0]) = 1000 + ln(1 + e^-1000) = 1000 (to double precision).
    let z = t64(&[1000.0, 0.0], &[1, 2]);
    assert_eq!(
        z.cross_entropy(&t64(&[0.0], &[1]))
            .unwrap()
            .to_scalar()
            .unwrap(),
        0.0
    );
    assert_eq!(
        z.cross_entropy(&t64(&[1.0], &[1]))
            .unwrap()
            .to_scalar()
            .unwrap(),
        1000.0
    );
    let z32 = t32(&[100.0, -100.0, 0.0], &[1, 3]);
    let l = z32
        .cross_entropy(&t32(&[1.0], &[1]))
        .unwrap()
        .to_scalar()
        .unwrap();
    assert!((l - 200.0).abs() < 1e-4, "{l}");
    let g = z32
        .cross_entropy_backward(&t32(&[1.0], &[1]), &t32(&[1.0], &[]))
        .unwrap();
    assert_close(&vals(&g), &[1.0, -1.0, 0.0], 1e-6);
    let ls = z32.log_softmax().unwrap();
    assert!(vals(&ls).iter().all(|v| v.is_finite()));
}

#[test]
fn log_softmax_values_and_backward() {
    // log_softmax([1,2,3]) = [1,2,3] - ln(e + e^2 + e^3) = [1,2,3] - 3.40760596444438
    let lse = 3.407_605_964_444_38;
    let x = t64(&[1.0, 2.0, 3.0, 0.0, 0.0, 0.0], &[2, 3]);
    let y = x.log_softmax().unwrap();
    let l3 = 3f64.ln();
    assert_close(
        &vals(&y),
        &[1.0 - lse, 2.0 - lse, 3.0 - lse, -l3, -l3, -l3],
        1e-15,
    );
    // Backward: dx = dy - softmax * sum(dy). Row 0 with dy = [1, 0, 0]:
    // dx = [1 - s0, -s1, -s2]; row 1 with dy = [1, 2, 3]: dx = dy - 6/3 = [-1, 0, 1].
    let sm = [
        0.090_030_573_170_380_46,
        0.244_728_471_054_797_67,
        0.665_240_955_774_821_9,
    ];
    let dy = t64(&[1.0, 0.0, 0.0, 1.0, 2.0, 3.0], &[2, 3]);
    let dx = y.log_softmax_backward(&dy).unwrap();
    assert_close(
        &vals(&dx),
        &[1.0 - sm[0], -sm[1], -sm[2], -1.0, 0.0, 1.0],
        1e-14,
    );
}

#[test]
fn accuracy_counts_rows_whose_argmax_is_the_target() {
    let z = t64(&[0.1, 0.9, 0.8, 0.2, 0.3, 0.7], &[3, 2]);
    let acc = z.accuracy(&t64(&[1.0, 0.0, 0.0], &[3])).unwrap();
    assert_eq!(acc.shape(), [] as [usize; 0]);
    assert!((acc.to_scalar().unwrap() - 2.0 / 3.0).abs() < 1e-15);
    let acc = z.accuracy(&t64(&[1.0, 0.0, 1.0], &[3])).unwrap();
    assert_eq!(acc.to_scalar().unwrap(), 1.0);
}

// ------------------------------------------------------------------------------------------
// Reductions
// ------------------------------------------------------------------------------------------

#[test]
fn variance_biased_and_unbiased() {
    // mean 2.5, squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5: 5/4 and 5/3.
    for make in [t32 as fn(&[f64], &[usize]) -> Tensor, t64] {
        let x = make(&[1.0, 2.0, 3.0, 4.0], &[4]);
        assert_eq!(
            x.var(&[0], false, false).unwrap().to_scalar().unwrap(),
            1.25
        );
        let u = x.var(&[0], true, false).unwrap().to_scalar().unwrap();
        assert!((u - 5.0 / 3.0).abs() < 1e-7, "{u}");
        // Rows of a matrix: [1,2,3,4] and [2,4,6,8] (deviations doubled, variance x4).
        let m = make(&[1.0, 2.0, 3.0, 4.0, 2.0, 4.0, 6.0, 8.0], &[2, 4]);
        assert_eq!(vals(&m.var(&[1], false, false).unwrap()), [1.25, 5.0]);
        let v = m.var(&[-1], true, true).unwrap();
        assert_eq!(v.shape(), [2, 1]);
        assert_close(&vals(&v), &[5.0 / 3.0, 20.0 / 3.0], 1e-7);
        // Columns: pairs (1,2), (2,4), (3,6), (4,8): biased var = (d/2)^2 with d the gap.
        assert_eq!(
            vals(&m.var(&[0], false, false).unwrap()),
            [0.25, 1.0, 2.25, 4.0]
        );
        assert_eq!(
            vals(&m.var(&[0], true, false).unwrap()),
            [0.5, 2.0, 4.5, 8.0]
        );
        // Everything: values 1,2,3,4,2,4,6,8, mean 3.75; squared deviations
        // 7.5625 + 3.0625 + 0.5625 + 0.0625 + 3.0625 + 0.0625 + 5.0625 + 18.0625 = 37.5.
        let all = m.var(&[], false, false).unwrap().to_scalar().unwrap();
        assert!((all - 37.5 / 8.0).abs() < 1e-7);
    }
    // One element: the unbiased variance is 0/0 = NaN (PyTorch's convention), biased 0.
    let one = t64(&[3.0], &[1]);
    assert!(one
        .var(&[0], true, false)
        .unwrap()
        .to_scalar()
        .unwrap()
        .is_nan());
    assert_eq!(
        one.var(&[0], false, false).unwrap().to_scalar().unwrap(),
        0.0
    );
}

#[test]
fn variance_is_accurate_with_a_large_offset() {
    // A constant offset must not change the variance: [1e6 + 1, 1e6 + 2, 1e6 + 3, 1e6 + 4]
    // in f32 (all exactly representable) still has biased variance 1.25.
    let x = t32(&[1e6 + 1.0, 1e6 + 2.0, 1e6 + 3.0, 1e6 + 4.0], &[4]);
    let v = x.var(&[0], false, false).unwrap().to_scalar().unwrap();
    assert!((v - 1.25).abs() < 1e-6, "{v}");
}

/// x[i, j, k] = 12 i + 4 j + k, the numbers 0..24 in a [2, 3, 4] tensor.
fn arange_234() -> Tensor {
    let data: Vec<f64> = (0..24).map(f64::from).collect();
    t64(&data, &[2, 3, 4])
}

#[test]
fn sum_and_mean_over_several_axes() {
    let x = arange_234();
    // Over axes 0 and 2 (not adjacent): for each j, sum_{i,k} (12 i + 4 j + k)
    // = 8 * 4j + 4 * (0 + 12) + 2 * (0 + 1 + 2 + 3) = 32 j + 60.
    let s = x.sum(&[0, 2], false).unwrap();
    assert_eq!(s.shape(), [3]);
    assert_eq!(vals(&s), [60.0, 92.0, 124.0]);
    let s = x.sum(&[-1, -3], true).unwrap();
    assert_eq!(s.shape(), [1, 3, 1]);
    assert_eq!(vals(&s), [60.0, 92.0, 124.0]);
    assert_eq!(vals(&x.mean(&[2, 0], false).unwrap()), [7.5, 11.5, 15.5]);
    // Over axes 1 and 2 (adjacent): sum_{j,k} = 12 * 12 i + 4 * (0+4+8) + 3 * 6 = 144 i + 66.
    let s = x.sum(&[1, 2], false).unwrap();
    assert_eq!(vals(&s), [66.0, 210.0]);
    assert_eq!(vals(&x.mean(&[1, 2], true).unwrap()), [5.5, 17.5]);
    assert_eq!(x.mean(&[1, 2], true).unwrap().shape(), [2, 1, 1]);
    // Over axes 0 and 1: sum_{i,j} = 6k + 3 * 12 + 2 * 12 = 6k + 60.
    assert_eq!(
        vals(&x.sum(&[0, 1], false).unwrap()),
        [60.0, 66.0, 72.0, 78.0]
    );
    // Everything: 0 + ... + 23 = 276.
    assert_eq!(x.sum_all().unwrap().to_scalar().unwrap(), 276.0);
    assert_eq!(x.sum(&[0, 1, 2], true).unwrap().shape(), [1, 1, 1]);
    assert_eq!(x.mean_all().unwrap().to_scalar().unwrap(), 11.5);
    assert_eq!(x.sum_all().unwrap().shape(), [] as [usize; 0]);
    // Each single axis.
    assert_eq!(
        vals(&x.sum(&[0], false).unwrap()),
        (0..12).map(|r| (2 * r + 12) as f64).collect::<Vec<_>>()
    );
    assert_eq!(
        vals(&x.max(&[1], false).unwrap()),
        [8.0, 9.0, 10.0, 11.0, 20.0, 21.0, 22.0, 23.0]
    );
    assert_eq!(
        vals(&x.min(&[2], false).unwrap()),
        [0.0, 4.0, 8.0, 12.0, 16.0, 20.0]
    );
    assert_eq!(vals(&x.max(&[0, 2], false).unwrap()), [15.0, 19.0, 23.0]);
    assert_eq!(vals(&x.min(&[0, 2], true).unwrap()), [0.0, 4.0, 8.0]);
}

#[test]
fn sum_over_an_empty_axis_is_zero() {
    let x = Tensor::zeros(&[2, 0, 3], DType::F64, CPU).unwrap();
    let s = x.sum(&[1], false).unwrap();
    assert_eq!(s.shape(), [2, 3]);
    assert_eq!(vals(&s), [0.0; 6]);
    assert_eq!(x.sum_all().unwrap().to_scalar().unwrap(), 0.0);
    // Adjacent empty and non-empty reduced axes.
    let s = x.sum(&[0, 1], true).unwrap();
    assert_eq!(s.shape(), [1, 1, 3]);
    assert_eq!(vals(&s), [0.0; 3]);
    // An empty dimension that is kept gives an empty result.
    let s = x.sum(&[0, 2], false).unwrap();
    assert_eq!(s.shape(), [0]);
    // sum_to_shape through an empty dimension.
    let s = Tensor::zeros(&[0, 3], DType::F64, CPU)
        .unwrap()
        .sum_to_shape(&[3])
        .unwrap();
    assert_eq!(vals(&s), [0.0; 3]);
}

#[test]
fn sum_over_non_adjacent_axes_one_of_them_empty_is_zero() {
    // Axes 0 and 2 are not adjacent (the kernel moves them to the end first), and axis 0
    // is empty: the result has the kept axis's 3 elements, all zero.
    let x = Tensor::zeros(&[0, 3, 2], DType::F64, CPU).unwrap();
    let s = x.sum(&[0, 2], false).unwrap();
    assert_eq!(s.shape(), [3]);
    assert_eq!(vals(&s), [0.0; 3]);
    let s = Tensor::zeros(&[2, 3, 0], DType::F32, CPU)
        .unwrap()
        .sum(&[0, 2], true)
        .unwrap();
    assert_eq!(s.shape(), [1, 3, 1]);
    assert_eq!(vals(&s), [0.0; 3]);
    // The same through sum_to_shape, which sums over axes 0 and 2 here.
    let s = x.sum_to_shape(&[3, 1]).unwrap();
    assert_eq!(s.shape(), [3, 1]);
    assert_eq!(vals(&s), [0.0; 3]);
}

#[test]
fn max_and_min_propagate_nan() {
    let x = t64(&[1.0, f64::NAN, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let mx = vals(&x.max(&[1], false).unwrap());
    assert!(mx[0].is_nan());
    assert_eq!(mx[1], 6.0);
    let mn = vals(&x.min(&[1], false).unwrap());
    assert!(mn[0].is_nan());
    assert_eq!(mn[1], 4.0);
    // NaN first, then a number.
    let y = t64(&[f64::NAN, 1.0], &[2]);
    assert!(y.max(&[0], false).unwrap().to_scalar().unwrap().is_nan());
    assert!(y.min(&[0], false).unwrap().to_scalar().unwrap().is_nan());
}

/// As in PyTorch: `relu(NaN)`, `leaky_relu(NaN)` and `clamp(NaN)` are NaN (a ReLU must
/// not hide a diverged activation), and -0.0 becomes +0.0 under `relu`; the gradients at
/// a NaN input are those of `threshold_backward` (relu: passed), `leaky_relu_backward`
/// (scaled by the slope) and `clamp_backward` (zero).
#[test]
fn activations_propagate_nan_as_pytorch() {
    let x = t64(&[f64::NAN, -0.0, -1.0, 2.0], &[4]);
    let r = vals(&x.relu().unwrap());
    assert!(r[0].is_nan());
    assert_eq!(r[1..], [0.0, 0.0, 2.0]);
    assert!(r[1].is_sign_positive());
    assert!(vals(&x.leaky_relu(0.1).unwrap())[0].is_nan());
    assert!(vals(&x.clamp(Some(0.0), Some(1.0)).unwrap())[0].is_nan());
    let f = t32(&[f64::NAN, -3.0, 3.0], &[3]).relu().unwrap();
    let f = f.to_vec::<f32>().unwrap();
    assert!(f[0].is_nan());
    assert_eq!(f[1..], [0.0, 3.0]);
    let g = t64(&[2.0, 2.0, 2.0, 2.0], &[4]);
    let grad = |op| vals(&x.binary(op, &g).unwrap());
    assert_eq!(grad(BinaryOp::ReluGrad), [2.0, 0.0, 0.0, 2.0]);
    assert_eq!(
        grad(BinaryOp::LeakyReluGrad { slope: 0.5 }),
        [1.0, 1.0, 1.0, 2.0]
    );
    assert_eq!(
        grad(BinaryOp::ClampGrad {
            min: -1.0,
            max: 1.0
        }),
        [0.0, 2.0, 2.0, 0.0]
    );
}

#[test]
fn argmax_takes_the_first_maximum_and_nan_counts_as_maximum() {
    let x = t64(
        &[
            1.0,
            3.0,
            3.0,
            2.0, // tie between 1 and 2: the first wins
            f64::NAN,
            f64::NAN,
            f64::NAN,
            f64::NAN, // all NaN: index 0
            1.0,
            5.0,
            f64::NAN,
            7.0, // NaN beats everything
            -4.0,
            -3.0,
            -2.0,
            -1.0, // the last one
        ],
        &[4, 4],
    );
    let a = x.argmax(-1, false).unwrap();
    assert_eq!(a.shape(), [4]);
    assert_eq!(a.dtype(), DType::F64);
    assert_eq!(vals(&a), [1.0, 0.0, 2.0, 3.0]);
    let a = x.argmax(1, true).unwrap();
    assert_eq!(a.shape(), [4, 1]);
    // Along axis 0, columns: [1, NaN, 1, -4] -> 1; [3, NaN, 5, -3] -> 1;
    // [3, NaN, NaN, -2] -> 1; [2, NaN, 7, -1] -> 1.
    assert_eq!(vals(&x.argmax(0, false).unwrap()), [1.0, 1.0, 1.0, 1.0]);
    // Middle axis of a 3-D tensor: x[i, j, k] = 12 i + 4 j + k grows with j.
    let y = arange_234();
    assert_eq!(vals(&y.argmax(1, false).unwrap()), [2.0; 8]);
    let t32 = t32(&[0.0, 2.0, 2.0, 1.0], &[2, 2]);
    assert_eq!(vals(&t32.argmax(1, false).unwrap()), [1.0, 0.0]);
    assert_eq!(vals(&t32.argmax(0, false).unwrap()), [1.0, 0.0]);
}

// ------------------------------------------------------------------------------------------
// Matrix products
// ------------------------------------------------------------------------------------------

#[test]
fn matmul_with_transposes_hand_worked() {
    // A = [1 2 3; 4 5 6] (2x3), B = [7 8; 9 10; 11 12] (3x2):
    // A B = [1*7 + 2*9 + 3*11, 1*8 + 2*10 + 3*12; 4*7 + 5*9 + 6*11, 4*8 + 5*10 + 6*12]
    //     = [58 64; 139 154].
    for make in [t32 as fn(&[f64], &[usize]) -> Tensor, t64] {
        let a = make(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
        let b = make(&[7.0, 8.0, 9.0, 10.0, 11.0, 12.0], &[3, 2]);
        let c = a.matmul(&b).unwrap();
        assert_eq!(c.shape(), [2, 2]);
        assert_eq!(vals(&c), [58.0, 64.0, 139.0, 154.0]);
        // B A = [7+32, 14+40, 21+48; 9+40, 18+50, 27+60; 11+48, 22+60, 33+72]
        assert_eq!(
            vals(&b.matmul(&a).unwrap()),
            [39.0, 54.0, 69.0, 49.0, 68.0, 87.0, 59.0, 82.0, 105.0]
        );
        // A^T stored: A^T is [1 4; 2 5; 3 6], so matmul_t(A^T, B, trans_a) = A B.
        let at = make(&[1.0, 4.0, 2.0, 5.0, 3.0, 6.0], &[3, 2]);
        assert_eq!(
            vals(&at.matmul_t(&b, true, false).unwrap()),
            [58.0, 64.0, 139.0, 154.0]
        );
        // B^T stored: [7 9 11; 8 10 12]; matmul_t(A, B^T, trans_b) = A B.
        let bt = make(&[7.0, 9.0, 11.0, 8.0, 10.0, 12.0], &[2, 3]);
        assert_eq!(
            vals(&a.matmul_t(&bt, false, true).unwrap()),
            [58.0, 64.0, 139.0, 154.0]
        );
        // Both transposed.
        let c = at.matmul_t(&bt, true, true).unwrap();
        assert_eq!(c.shape(), [2, 2]);
        assert_eq!(vals(&c), [58.0, 64.0, 139.0, 154.0]);
        // A A^T = [1+4+9, 4+10+18; 4+10+18, 16+25+36] = [14 32; 32 77].
        assert_eq!(
            vals(&a.matmul_t(&a, false, true).unwrap()),
            [14.0, 32.0, 32.0, 77.0]
        );
        // A^T A is 3x3: [17 22 27; 22 29 36; 27 36 45].
        assert_eq!(
            vals(&a.matmul_t(&a, true, false).unwrap()),
            [17.0, 22.0, 27.0, 22.0, 29.0, 36.0, 27.0, 36.0, 45.0]
        );
    }
}

#[test]
fn batched_matmul_multiplies_each_pair() {
    // Batch 0: [1 2; 3 4] [5 6; 7 8] = [19 22; 43 50].
    // Batch 1: identity times [1 -1; 2 0] = itself; plus transposed variants.
    let a = t64(&[1.0, 2.0, 3.0, 4.0, 1.0, 0.0, 0.0, 1.0], &[2, 2, 2]);
    let b = t64(&[5.0, 6.0, 7.0, 8.0, 1.0, -1.0, 2.0, 0.0], &[2, 2, 2]);
    let c = a.matmul(&b).unwrap();
    assert_eq!(c.shape(), [2, 2, 2]);
    assert_eq!(vals(&c), [19.0, 22.0, 43.0, 50.0, 1.0, -1.0, 2.0, 0.0]);
    // a^T b for batch 0: [1 3; 2 4] [5 6; 7 8] = [26 30; 38 44].
    // b^T for batch 1: [1 2; -1 0].
    let c = a.matmul_t(&b, true, true).unwrap();
    assert_eq!(
        vals(&c),
        // batch 0: [1 3; 2 4][5 7; 6 8] = [23 31; 34 46]
        [23.0, 31.0, 34.0, 46.0, 1.0, 2.0, -1.0, 0.0]
    );
    // A batch of 3 row vectors [1, 3] times [3, 1] column vectors: dot products.
    let r = t64(
        &[1.0, 2.0, 3.0, 0.0, 1.0, 0.0, -1.0, -1.0, -1.0],
        &[3, 1, 3],
    );
    let col = t64(&[1.0, 1.0, 1.0, 4.0, 5.0, 6.0, 1.0, 2.0, 3.0], &[3, 3, 1]);
    let d = r.matmul(&col).unwrap();
    assert_eq!(d.shape(), [3, 1, 1]);
    assert_eq!(vals(&d), [6.0, 5.0, -6.0]);
}

#[test]
fn matmul_with_an_empty_inner_dimension_gives_zeros() {
    let a = Tensor::zeros(&[2, 0], DType::F64, CPU).unwrap();
    let b = Tensor::zeros(&[0, 3], DType::F64, CPU).unwrap();
    let c = a.matmul(&b).unwrap();
    assert_eq!(c.shape(), [2, 3]);
    assert_eq!(vals(&c), [0.0; 6]);
}

// ------------------------------------------------------------------------------------------
// Elementwise and broadcasting
// ------------------------------------------------------------------------------------------

#[test]
fn broadcasting_results() {
    // [2, 3] + [3]: the row is added to each row.
    let a = t64(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let r = t64(&[10.0, 20.0, 30.0], &[3]);
    let s = a.add(&r).unwrap();
    assert_eq!(s.shape(), [2, 3]);
    assert_eq!(vals(&s), [11.0, 22.0, 33.0, 14.0, 25.0, 36.0]);
    assert_eq!(
        vals(&r.sub(&a).unwrap()),
        [9.0, 18.0, 27.0, 6.0, 15.0, 24.0]
    );
    // [3, 1] * [1, 4]: an outer product.
    let col = t64(&[1.0, 2.0, 3.0], &[3, 1]);
    let row = t64(&[1.0, 10.0, 100.0, 1000.0], &[1, 4]);
    let o = col.mul(&row).unwrap();
    assert_eq!(o.shape(), [3, 4]);
    assert_eq!(
        vals(&o),
        [1.0, 10.0, 100.0, 1000.0, 2.0, 20.0, 200.0, 2000.0, 3.0, 30.0, 300.0, 3000.0]
    );
    // [2, 1, 3] - [4, 1] -> [2, 4, 3]: out[i, j, k] = x[i, 0, k] - y[j, 0].
    let x = t64(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 1, 3]);
    let y = t64(&[0.0, 1.0, 2.0, 3.0], &[4, 1]);
    let d = x.sub(&y).unwrap();
    assert_eq!(d.shape(), [2, 4, 3]);
    let mut want = Vec::new();
    for i in 0..2 {
        for j in 0..4 {
            for k in 0..3 {
                want.push((3 * i + k + 1) as f64 - j as f64);
            }
        }
    }
    assert_eq!(vals(&d), want);
    // A scalar divides everything; a [1] tensor too.
    let h = t64(&[2.0], &[]);
    assert_eq!(vals(&a.div(&h).unwrap()), [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]);
    assert_eq!(a.div(&h).unwrap().shape(), [2, 3]);
    assert_eq!(vals(&h.div(&a.reshape(&[6, 1]).unwrap()).unwrap())[3], 0.5);
    // pow, maximum, minimum with broadcasting.
    let p = t64(&[2.0, 3.0], &[2, 1])
        .pow(&t64(&[0.0, 1.0, 2.0], &[3]))
        .unwrap();
    assert_eq!(vals(&p), [1.0, 2.0, 4.0, 1.0, 3.0, 9.0]);
    let m = a.maximum(&t64(&[3.5], &[1])).unwrap();
    assert_eq!(vals(&m), [3.5, 3.5, 3.5, 4.0, 5.0, 6.0]);
    let m = a.minimum(&t64(&[3.5], &[1])).unwrap();
    assert_eq!(vals(&m), [1.0, 2.0, 3.0, 3.5, 3.5, 3.5]);
    // Comparisons give 1.0 / 0.0.
    let c = t64(&[1.0, 2.0, 3.0], &[3]);
    let two = t64(&[2.0], &[]);
    assert_eq!(vals(&c.eq(&two).unwrap()), [0.0, 1.0, 0.0]);
    assert_eq!(vals(&c.ne(&two).unwrap()), [1.0, 0.0, 1.0]);
    assert_eq!(vals(&c.lt(&two).unwrap()), [1.0, 0.0, 0.0]);
    assert_eq!(vals(&c.le(&two).unwrap()), [1.0, 1.0, 0.0]);
    assert_eq!(vals(&c.gt(&two).unwrap()), [0.0, 0.0, 1.0]);
    assert_eq!(vals(&c.ge(&two).unwrap()), [0.0, 1.0, 1.0]);
    // Empty broadcasts stay empty.
    let e = Tensor::zeros(&[0, 3], DType::F64, CPU)
        .unwrap()
        .add(&r)
        .unwrap();
    assert_eq!(e.shape(), [0, 3]);
}

#[test]
fn unary_values() {
    let x = t64(&[-2.0, -0.5, 0.0, 0.5, 4.0], &[5]);
    assert_eq!(vals(&x.neg().unwrap()), [2.0, 0.5, -0.0, -0.5, -4.0]);
    assert_eq!(vals(&x.abs().unwrap()), [2.0, 0.5, 0.0, 0.5, 4.0]);
    assert_eq!(vals(&x.square().unwrap()), [4.0, 0.25, 0.0, 0.25, 16.0]);
    assert_eq!(vals(&x.relu().unwrap()), [0.0, 0.0, 0.0, 0.5, 4.0]);
    assert_eq!(
        vals(&x.leaky_relu(0.1).unwrap()),
        [-0.2, -0.05, 0.0, 0.5, 4.0]
    );
    assert_eq!(
        vals(&x.clamp(Some(-1.0), Some(1.0)).unwrap()),
        [-1.0, -0.5, 0.0, 0.5, 1.0]
    );
    assert_eq!(
        vals(&x.clamp(None, Some(0.25)).unwrap()),
        [-2.0, -0.5, 0.0, 0.25, 0.25]
    );
    assert_eq!(
        vals(&x.clamp(Some(0.0), None).unwrap()),
        [0.0, 0.0, 0.0, 0.5, 4.0]
    );
    assert_eq!(
        vals(&x.affine(2.0, 1.0).unwrap()),
        [-3.0, 0.0, 1.0, 2.0, 9.0]
    );
    assert_eq!(
        vals(&x.add_scalar(-1.0).unwrap()),
        [-3.0, -1.5, -1.0, -0.5, 3.0]
    );
    assert_eq!(
        vals(&x.mul_scalar(-2.0).unwrap()),
        [4.0, 1.0, -0.0, -1.0, -8.0]
    );
    assert_eq!(
        vals(&x.powf(3.0).unwrap()),
        [-8.0, -0.125, 0.0, 0.125, 64.0]
    );
    let p = t64(&[0.25, 1.0, 4.0, 16.0], &[4]);
    assert_eq!(vals(&p.sqrt().unwrap()), [0.5, 1.0, 2.0, 4.0]);
    assert_eq!(vals(&p.rsqrt().unwrap()), [2.0, 1.0, 0.5, 0.25]);
    assert_eq!(vals(&p.recip().unwrap()), [4.0, 1.0, 0.25, 0.0625]);
    assert_eq!(vals(&p.powf(-0.5).unwrap()), [2.0, 1.0, 0.5, 0.25]);
    assert_eq!(vals(&p.powf(1.5).unwrap()), [0.125, 1.0, 8.0, 64.0]);
    let e = t64(&[0.0, 1.0, -1.0], &[3]);
    let ev = vals(&e.exp().unwrap());
    assert_eq!(ev[0], 1.0);
    let (e1, ln2) = (std::f64::consts::E, std::f64::consts::LN_2);
    assert_close(&ev, &[1.0, e1, 0.367_879_441_171_442_33], 1e-15);
    let lv = vals(&t64(&[1.0, e1, 0.5], &[3]).ln().unwrap());
    assert_eq!(lv[0], 0.0);
    assert_close(&lv, &[0.0, 1.0, -ln2], 1e-15);
    // f32 keeps its dtype.
    let f = t32(&[-1.0, 4.0], &[2]);
    let r = f.relu().unwrap();
    assert_eq!(r.dtype(), DType::F32);
    assert_eq!(r.to_vec::<f32>().unwrap(), [0.0, 4.0]);
}

// ------------------------------------------------------------------------------------------
// Layout
// ------------------------------------------------------------------------------------------

#[test]
fn permute_reshape_and_broadcast_to() {
    let x = arange_234();
    // out[k, i, j] = x[i, j, k] = 12 i + 4 j + k.
    let p = x.permute(&[2, 0, 1]).unwrap();
    assert_eq!(p.shape(), [4, 2, 3]);
    let mut want = Vec::new();
    for k in 0..4 {
        for i in 0..2 {
            for j in 0..3 {
                want.push((12 * i + 4 * j + k) as f64);
            }
        }
    }
    assert_eq!(vals(&p), want);
    let t = t64(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])
        .transpose_last2()
        .unwrap();
    assert_eq!(t.shape(), [3, 2]);
    assert_eq!(vals(&t), [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    // Reshape keeps the row-major order; flatten_from merges the trailing dimensions.
    let r = x.reshape(&[4, 6]).unwrap();
    assert_eq!(vals(&r), vals(&x));
    assert!(r.shares_storage(&x));
    assert_eq!(x.flatten_from(1).unwrap().shape(), [2, 12]);
    assert_eq!(x.flatten_from(0).unwrap().shape(), [24]);
    assert_eq!(x.flatten_from(3).unwrap().shape(), [2, 3, 4, 1]);
    // broadcast_to materialises copies.
    let b = t64(&[1.0, 2.0], &[2, 1]).broadcast_to(&[3, 2, 2]).unwrap();
    assert_eq!(b.shape(), [3, 2, 2]);
    assert_eq!(vals(&b), [1.0, 1.0, 2.0, 2.0].repeat(3));
    let s = t64(&[5.0], &[]).broadcast_to(&[2, 2]).unwrap();
    assert_eq!(vals(&s), [5.0; 4]);
}

#[test]
fn index_select_and_index_add_rows() {
    let x = t64(&[0.0, 1.0, 10.0, 11.0, 20.0, 21.0], &[3, 2]);
    let g = x.index_select_rows(&[2, 0, 2, 1]).unwrap();
    assert_eq!(g.shape(), [4, 2]);
    assert_eq!(vals(&g), [20.0, 21.0, 0.0, 1.0, 20.0, 21.0, 10.0, 11.0]);
    assert_eq!(x.index_select_rows(&[]).unwrap().shape(), [0, 2]);
    assert_eq!(
        vals(&x.narrow_rows(1, 2).unwrap()),
        [10.0, 11.0, 20.0, 21.0]
    );
    // Scatter: rows 0..4 of src go to 2, 0, 2, 1; the two rows sent to 2 add up.
    let src = t64(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], &[4, 2]);
    let s = src.index_add_rows(&[2, 0, 2, 1], 4).unwrap();
    assert_eq!(s.shape(), [4, 2]);
    assert_eq!(vals(&s), [3.0, 4.0, 7.0, 8.0, 6.0, 8.0, 0.0, 0.0]);
}

#[test]
fn sum_to_shape_values() {
    let x = arange_234();
    // To [3, 1]: sum over axis 0 (the missing leading one) and axis 2 (kept as 1):
    // 32 j + 60 as in the multi-axis sum above.
    let s = x.sum_to_shape(&[3, 1]).unwrap();
    assert_eq!(s.shape(), [3, 1]);
    assert_eq!(vals(&s), [60.0, 92.0, 124.0]);
    // To [4]: sum over axes 0 and 1, 6k + 60.
    assert_eq!(
        vals(&x.sum_to_shape(&[4]).unwrap()),
        [60.0, 66.0, 72.0, 78.0]
    );
    // To [2, 1, 1]: 144 i + 66.
    let s = x.sum_to_shape(&[2, 1, 1]).unwrap();
    assert_eq!(s.shape(), [2, 1, 1]);
    assert_eq!(vals(&s), [66.0, 210.0]);
    // To [1] and to [] (a scalar): everything.
    assert_eq!(vals(&x.sum_to_shape(&[1]).unwrap()), [276.0]);
    let s = x.sum_to_shape(&[]).unwrap();
    assert_eq!(s.shape(), [] as [usize; 0]);
    assert_eq!(s.to_scalar().unwrap(), 276.0);
    // To itself: unchanged. To [1, 3, 4]: sum over axis 0 only.
    assert_eq!(vals(&x.sum_to_shape(&[2, 3, 4]).unwrap()), vals(&x));
    let s = x.sum_to_shape(&[1, 3, 4]).unwrap();
    assert_eq!(
        vals(&s),
        (0..12).map(|r| (2 * r + 12) as f64).collect::<Vec<_>>()
    );
    // A size-1 dimension that stays size 1 needs no sum: [2, 1] -> [1, 1] sums axis 0.
    let y = t64(&[3.0, 4.0], &[2, 1]);
    assert_eq!(vals(&y.sum_to_shape(&[1, 1]).unwrap()), [7.0]);
    assert_eq!(vals(&y.sum_to_shape(&[2, 1]).unwrap()), [3.0, 4.0]);
}

// ------------------------------------------------------------------------------------------
// In-place updates and copy-on-write
// ------------------------------------------------------------------------------------------

#[test]
fn in_place_updates_and_copy_on_write() {
    let mut p = t64(&[1.0, 2.0, 3.0], &[3]);
    let snapshot = p.clone();
    assert!(snapshot.shares_storage(&p));
    // lerp_: p + 0.25 (end - p) with end = [5, 6, 7] -> [2, 3, 4].
    let end = t64(&[5.0, 6.0, 7.0], &[3]);
    p.lerp_(&end, 0.25).unwrap();
    assert_eq!(vals(&p), [2.0, 3.0, 4.0]);
    // The clone taken before still sees the old values and no longer shares storage.
    assert_eq!(vals(&snapshot), [1.0, 2.0, 3.0]);
    assert!(!snapshot.shares_storage(&p));
    assert_eq!(vals(&end), [5.0, 6.0, 7.0]);
    // add_scaled_: p - 0.5 g with g = [2, 4, -6] -> [1, 1, 7] (an SGD step).
    let g = t64(&[2.0, 4.0, -6.0], &[3]);
    let before = p.clone();
    p.add_scaled_(&g, -0.5).unwrap();
    assert_eq!(vals(&p), [1.0, 1.0, 7.0]);
    assert_eq!(vals(&before), [2.0, 3.0, 4.0]);
    // scale_, fill_, copy_from_, axpby_.
    p.scale_(2.0).unwrap();
    assert_eq!(vals(&p), [2.0, 2.0, 14.0]);
    p.axpby_(&g, 1.0, 0.5).unwrap();
    assert_eq!(vals(&p), [3.0, 5.0, 1.0]);
    let view = p.reshape(&[3, 1]).unwrap();
    p.fill_(-1.0).unwrap();
    assert_eq!(vals(&p), [-1.0; 3]);
    assert_eq!(vals(&view), [3.0, 5.0, 1.0]);
    p.copy_from_(&end).unwrap();
    assert_eq!(vals(&p), [5.0, 6.0, 7.0]);
    // Updating a tensor that is not shared keeps its storage (no needless copy is visible
    // as a change of values either way) and f32 works the same.
    let mut q = t32(&[1.0, 2.0], &[2]);
    q.lerp_(&t32(&[3.0, 6.0], &[2]), 0.5).unwrap();
    assert_eq!(q.to_vec::<f32>().unwrap(), [2.0, 4.0]);
}

#[test]
fn zero_coefficients_drop_non_finite_terms() {
    // copy_from_ is 1 * src + 0 * self: a NaN or infinity in self must not leak through.
    let mut p = t64(&[f64::NAN, f64::INFINITY], &[2]);
    p.copy_from_(&t64(&[1.0, 2.0], &[2])).unwrap();
    assert_eq!(vals(&p), [1.0, 2.0]);
    // add_scaled_ with alpha 0 leaves self unchanged even when x holds infinities.
    p.add_scaled_(&t64(&[f64::INFINITY, f64::NAN], &[2]), 0.0)
        .unwrap();
    assert_eq!(vals(&p), [1.0, 2.0]);
    // lerp_ with weight 1 is a copy of end.
    let mut q = t64(&[f64::NAN, 0.0], &[2]);
    q.lerp_(&t64(&[3.0, 4.0], &[2]), 1.0).unwrap();
    assert_eq!(vals(&q), [3.0, 4.0]);
}

#[test]
fn large_in_place_updates_take_the_parallel_path() {
    // Above the parallel threshold (2^15 elements) the result must be the same formula.
    let n = 100_000;
    let a: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let b: Vec<f64> = (0..n).map(|i| (n - i) as f64).collect();
    let mut p = t64(&a, &[n]);
    let keep = p.clone();
    p.lerp_(&t64(&b, &[n]), 0.5).unwrap();
    assert!(vals(&p).iter().all(|&v| v == n as f64 / 2.0));
    assert_eq!(vals(&keep), a);
    // Large broadcasting and reductions too.
    let s = t64(&a, &[n / 10, 10]).sum(&[0], false).unwrap();
    let want: Vec<f64> = (0..10)
        .map(|c| (0..n / 10).map(|r| (r * 10 + c) as f64).sum())
        .collect();
    assert_eq!(vals(&s), want);
}

// ------------------------------------------------------------------------------------------
// Creation, conversion
// ------------------------------------------------------------------------------------------

#[test]
fn creation_and_conversion() {
    let z = Tensor::zeros(&[2, 3], DType::F32, CPU).unwrap();
    assert_eq!(z.to_vec::<f32>().unwrap(), [0.0; 6]);
    assert_eq!(z.numel(), 6);
    assert_eq!(z.rank(), 2);
    let o = Tensor::ones(&[2], DType::F64, CPU).unwrap();
    assert_eq!(vals(&o), [1.0, 1.0]);
    let s = Tensor::scalar(2.5, DType::F64, CPU).unwrap();
    assert_eq!(s.shape(), [] as [usize; 0]);
    assert_eq!(s.to_scalar().unwrap(), 2.5);
    let f = Tensor::full(&[2, 2], -3.0, DType::F32, CPU).unwrap();
    assert_eq!(f.full_like(1.0).unwrap().to_vec::<f32>().unwrap(), [1.0; 4]);
    // f64 -> f32 rounds to nearest; f32 -> f64 is exact.
    let x = t64(&[0.1, 1.0 / 3.0], &[2]);
    let x32 = x.to_dtype(DType::F32).unwrap();
    assert_eq!(x32.dtype(), DType::F32);
    assert_eq!(x32.to_vec::<f32>().unwrap(), [0.1f32, 1.0f32 / 3.0]);
    let back = x32.to_dtype(DType::F64).unwrap();
    assert_eq!(vals(&back), [f64::from(0.1f32), f64::from(1.0f32 / 3.0)]);
    assert!(x.to_dtype(DType::F64).unwrap().bit_eq(&x));
    assert!(x.to_device(CPU).unwrap().bit_eq(&x));
    assert!(!x32.bit_eq(&x));
    // deep_clone shares nothing.
    let d = x.deep_clone();
    assert!(!d.shares_storage(&x));
    assert!(d.bit_eq(&x));
}

// ------------------------------------------------------------------------------------------
// Large inputs: the multi-threaded code paths give the same results as naive loops
// ------------------------------------------------------------------------------------------

#[test]
fn large_matmuls_match_the_triple_loop() {
    // Integer data: every product and partial sum is exact, so results compare with ==.
    for &(batch, m, k, n) in &[
        (1usize, 200usize, 64usize, 90usize),
        (6, 70, 50, 40),
        (1, 10, 300, 800),
    ] {
        let a = ints(batch * m * k, 20);
        let b = ints(batch * k * n, 21);
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let mut want = vec![0.0; batch * m * n];
            for t in 0..batch {
                for i in 0..m {
                    for j in 0..n {
                        let mut acc = 0.0;
                        for p in 0..k {
                            let av = if ta {
                                a[t * m * k + p * m + i]
                            } else {
                                a[t * m * k + i * k + p]
                            };
                            let bv = if tb {
                                b[t * k * n + j * k + p]
                            } else {
                                b[t * k * n + p * n + j]
                            };
                            acc += av * bv;
                        }
                        want[t * m * n + i * n + j] = acc;
                    }
                }
            }
            let sa = if ta { [batch, k, m] } else { [batch, m, k] };
            let sb = if tb { [batch, n, k] } else { [batch, k, n] };
            let (ta_t, tb_t) = if batch == 1 {
                (t64(&a, &sa[1..]), t64(&b, &sb[1..]))
            } else {
                (t64(&a, &sa), t64(&b, &sb))
            };
            let c = ta_t.matmul_t(&tb_t, ta, tb).unwrap();
            assert_eq!(
                vals(&c),
                want,
                "batch {batch} m {m} k {k} n {n} ta {ta} tb {tb}"
            );
            let c32 = t32(&a, ta_t.shape())
                .matmul_t(&t32(&b, tb_t.shape()), ta, tb)
                .unwrap();
            assert_eq!(vals(&c32), want, "f32");
        }
    }
}

#[test]
fn large_elementwise_layout_and_reduction_kernels() {
    // [300, 200] + [200] and [300, 1] * [1, 200]: the broadcast kernel splits rows.
    let (r, c) = (300usize, 200usize);
    let x = ints(r * c, 30);
    let row = ints(c, 31);
    let col = ints(r, 32);
    let s = t64(&x, &[r, c]).add(&t64(&row, &[c])).unwrap();
    let want: Vec<f64> = (0..r * c).map(|i| x[i] + row[i % c]).collect();
    assert_eq!(vals(&s), want);
    let o = t64(&col, &[r, 1]).mul(&t64(&row, &[1, c])).unwrap();
    let want: Vec<f64> = (0..r * c).map(|i| col[i / c] * row[i % c]).collect();
    assert_eq!(vals(&o), want);
    // [3, 1, 200] - [300, 1] -> [3, 300, 200].
    let a3 = ints(3 * c, 33);
    let d = t64(&a3, &[3, 1, c]).sub(&t64(&col, &[r, 1])).unwrap();
    assert_eq!(d.shape(), [3, r, c]);
    let dv = vals(&d);
    for i in 0..3 {
        for j in 0..r {
            for k in 0..c {
                assert_eq!(dv[(i * r + j) * c + k], a3[i * c + k] - col[j]);
            }
        }
    }
    // Unary map over 60000 elements.
    assert_eq!(
        vals(&t64(&x, &[r, c]).affine(2.0, 1.0).unwrap()),
        x.iter().map(|v| 2.0 * v + 1.0).collect::<Vec<_>>()
    );
    // permute [30, 40, 50] -> [50, 30, 40] and broadcast_to [40, 1] -> [30, 40, 50].
    let (p0, p1, p2) = (30usize, 40usize, 50usize);
    let y = ints(p0 * p1 * p2, 34);
    let p = t64(&y, &[p0, p1, p2]).permute(&[2, 0, 1]).unwrap();
    let pv = vals(&p);
    for k in 0..p2 {
        for i in 0..p0 {
            for j in 0..p1 {
                assert_eq!(pv[(k * p0 + i) * p1 + j], y[(i * p1 + j) * p2 + k]);
            }
        }
    }
    let bsrc = ints(p1, 35);
    let b = vals(&t64(&bsrc, &[p1, 1]).broadcast_to(&[p0, p1, p2]).unwrap());
    assert!(b.iter().enumerate().all(|(i, &v)| v == bsrc[(i / p2) % p1]));
    // Reductions: the middle axis (parallel over the outer blocks), the outer axes (the
    // permuted path), and a max.
    let t = t64(&y, &[p0, p1, p2]);
    let s1 = vals(&t.sum(&[1], false).unwrap());
    let s02 = vals(&t.sum(&[0, 2], false).unwrap());
    let m1 = vals(&t.max(&[1], false).unwrap());
    for i in 0..p0 {
        for k in 0..p2 {
            let col: Vec<f64> = (0..p1).map(|j| y[(i * p1 + j) * p2 + k]).collect();
            assert_eq!(s1[i * p2 + k], col.iter().sum::<f64>());
            assert_eq!(
                m1[i * p2 + k],
                col.iter().copied().fold(f64::NEG_INFINITY, f64::max)
            );
        }
    }
    for j in 0..p1 {
        let mut acc = 0.0;
        for i in 0..p0 {
            for k in 0..p2 {
                acc += y[(i * p1 + j) * p2 + k];
            }
        }
        assert_eq!(s02[j], acc);
    }
    // log_softmax over 1000 rows of 40: each row's exponentials sum to one.
    let z: Vec<f64> = ints(1000 * 40, 36).iter().map(|v| v * 0.5).collect();
    let ls = vals(&t64(&z, &[1000, 40]).log_softmax().unwrap());
    for rr in 0..1000 {
        let zr = &z[rr * 40..(rr + 1) * 40];
        let lse = zr.iter().map(|v| v.exp()).sum::<f64>().ln();
        for cc in 0..40 {
            assert!((ls[rr * 40 + cc] - (zr[cc] - lse)).abs() < 1e-12);
        }
    }
}

// ------------------------------------------------------------------------------------------
// Determinism
// ------------------------------------------------------------------------------------------

#[test]
fn results_do_not_depend_on_the_thread_count() {
    // Non-integer f32 data, where the order of a sum changes its rounding: the kernels
    // promise bit-identical results run to run and for any rayon pool size.
    let real = test_oracles::seeded::uniform;
    let xs = [64, 3, 12, 12];
    let ws = [8, 3, 3, 3];
    let x = t32(&real(xs.iter().product(), 1), &xs);
    let w = t32(&real(ws.iter().product(), 2), &ws);
    let g = tensor::ops::conv::conv2d_geometry(&xs, &ws, 1, 1).unwrap();
    let dy = t32(&real(64 * 8 * 12 * 12, 3), &[64, 8, 12, 12]);
    let a = t32(&real(300 * 70, 4), &[300, 70]);
    let b = t32(&real(70 * 90, 5), &[70, 90]);
    let big = t32(&real(200 * 300, 6), &[200, 300]);
    // Large enough for the norms' parallel passes, with more samples than summing tasks.
    let ns = [72, 8, 16, 16];
    let nx = t32(&real(ns.iter().product(), 7), &ns);
    let ndy = t32(&real(ns.iter().product(), 8), &ns);
    let (gamma, beta) = (t32(&real(8, 9), &[8]), t32(&real(8, 10), &[8]));
    let norm = |layout: NormLayout| {
        let f = nx
            .norm_forward(layout, &gamma, &beta, Variance::Unbiased, 1e-5)
            .unwrap();
        let grad = StatGrad::Batch(Variance::Unbiased);
        let (mean, invstd) = (&f.stats.mean, &f.stats.invstd);
        let b = nx
            .norm_backward(&ndy, layout, mean, invstd, &gamma, grad)
            .unwrap();
        [f.y, f.stats.var, b.dx, b.dscale, b.dshift]
    };
    let run = || {
        let mut results = vec![
            x.conv2d(&w, None, 1, 1).unwrap(),
            dy.conv2d_backward_input(&w, &g).unwrap(),
            dy.conv2d_backward_weight(&x, &g).unwrap(),
            dy.conv2d_backward_bias(&g).unwrap(),
            a.matmul(&b).unwrap(),
            a.matmul_t(&a, false, true).unwrap(),
            big.sum(&[0], false).unwrap(),
            big.var(&[1], false, false).unwrap(),
            big.log_softmax().unwrap(),
        ];
        results.extend(norm(NormLayout::PerChannel));
        results.extend(norm(NormLayout::PerGroup { groups: 2 }));
        results
    };
    let reference = run();
    let again = run();
    for (i, (p, q)) in reference.iter().zip(&again).enumerate() {
        assert!(p.bit_eq(q), "result {i} differs between two runs");
    }
    for threads in [1, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let other = pool.install(run);
        for (i, (p, q)) in reference.iter().zip(&other).enumerate() {
            assert!(p.bit_eq(q), "result {i} differs with {threads} threads");
        }
    }
}
