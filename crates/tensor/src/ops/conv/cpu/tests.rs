//! Tests of the CPU convolution kernels: every engine against a naive f64 reference.

use proptest::prelude::*;

use super::dispatch::{Engine, FORCE_ENGINE};
use super::plan::Plan;
use super::simd::Simd;
use super::{backward_bias, backward_input, backward_weight, forward};
use crate::dtype::CpuFloat;
use crate::ops::conv::Conv2dGeometry;

fn geometry(
    batch: usize,
    c_in: usize,
    (h_in, w_in): (usize, usize),
    c_out: usize,
    (k_h, k_w): (usize, usize),
    stride: usize,
    padding: usize,
) -> Option<Conv2dGeometry> {
    Some(Conv2dGeometry {
        batch,
        c_in,
        h_in,
        w_in,
        c_out,
        k_h,
        k_w,
        stride,
        padding,
        h_out: Conv2dGeometry::out_size(h_in, k_h, stride, padding)?,
        w_out: Conv2dGeometry::out_size(w_in, k_w, stride, padding)?,
    })
}

use test_oracles::conv::{conv2d as naive_conv, conv2d_backward as naive_backward, ConvShape};
use test_oracles::seeded::uniform as values;

/// Naive results in f64: (value, sum of |terms|) for y, gx, gw, gb.
struct Reference {
    y: Vec<(f64, f64)>,
    gx: Vec<(f64, f64)>,
    gw: Vec<(f64, f64)>,
    gb: Vec<(f64, f64)>,
}

/// The oracle's values, and the same sums over absolute values (the sum of the
/// magnitudes of the terms, for the rounding-error bound).
fn reference(g: &Conv2dGeometry, x: &[f64], w: &[f64], bias: &[f64], gy: &[f64]) -> Reference {
    let s = ConvShape::new(
        [g.batch, g.c_in, g.h_in, g.w_in],
        [g.c_out, g.c_in, g.k_h, g.k_w],
        g.stride,
        g.padding,
    )
    .unwrap();
    assert_eq!((s.h_out(), s.w_out()), (g.h_out, g.w_out));
    let abs = |v: &[f64]| v.iter().map(|a| a.abs()).collect::<Vec<_>>();
    let y = naive_conv(&s, x, w, Some(bias)).unwrap();
    let my = naive_conv(&s, &abs(x), &abs(w), Some(&abs(bias))).unwrap();
    let d = naive_backward(&s, x, w, gy).unwrap();
    let m = naive_backward(&s, &abs(x), &abs(w), &abs(gy)).unwrap();
    let zip = |a: Vec<f64>, b: Vec<f64>| a.into_iter().zip(b).collect::<Vec<_>>();
    Reference {
        y: zip(y, my),
        gx: zip(d.dx, m.dx),
        gw: zip(d.dw, m.dw),
        gb: zip(d.db, m.db),
    }
}

fn assert_close<T: CpuFloat>(
    what: &str,
    g: &Conv2dGeometry,
    got: &[T],
    want: &[(f64, f64)],
    tol: f64,
) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (got, &(v, mag))) in got.iter().zip(want).enumerate() {
        let err = (got.as_f64() - v).abs();
        assert!(
            err <= tol * (mag + 1e-30),
            "{what} [{i}] of {g:?}: got {got}, want {v} (|terms| {mag})"
        );
    }
}

fn to<T: CpuFloat>(v: &[f64]) -> Vec<T> {
    v.iter().map(|&x| T::of_f64(x)).collect()
}
fn back(v: &[impl CpuFloat]) -> Vec<f64> {
    v.iter().map(|x| x.as_f64()).collect()
}

/// Every code path this CPU can run: the size-based dispatch, the GEMM path forced, and
/// the direct kernels forced wherever they apply.
fn paths() -> Vec<Option<Engine>> {
    let mut v = vec![None, Some(Engine::Gemm)];
    if Simd::detect().is_some() {
        v.extend([
            Some(Engine::ChannelLanes),
            Some(Engine::PixelLanes),
            Some(Engine::FewPixels),
        ]);
    }
    v
}

/// Runs `f` on this thread with the code path pinned (see `FORCE_ENGINE`).
fn on_path<R>(path: Option<Engine>, f: impl FnOnce() -> R) -> R {
    FORCE_ENGINE.with(|c| c.set(path));
    let r = f();
    FORCE_ENGINE.with(|c| c.set(None));
    r
}

/// [`check_at`] on every code path.
fn check<T: CpuFloat>(g: &Conv2dGeometry, seed: u64, tol: f64) {
    for path in paths() {
        on_path(path, || check_at::<T>(g, seed, tol));
    }
}

/// Runs all four kernels in precision `T` on random data and compares with the naive
/// f64 reference computed from the same (rounded) inputs.
fn check_at<T: CpuFloat>(g: &Conv2dGeometry, seed: u64, tol: f64) {
    let x: Vec<T> = to(&values(g.input_len(), seed));
    let w: Vec<T> = to(&values(g.weight_len(), seed + 1));
    let bias: Vec<T> = to(&values(g.c_out, seed + 2));
    let gy: Vec<T> = to(&values(g.output_len(), seed + 3));
    let r = reference(g, &back(&x), &back(&w), &back(&bias), &back(&gy));
    let poison = T::of_f64(f64::NAN);

    let mut y = vec![poison; g.output_len()];
    forward(g, &x, &w, Some(&bias), &mut y);
    assert_close("forward", g, &y, &r.y, tol);
    // Without bias the reference shifts by the bias exactly.
    forward(g, &x, &w, None, &mut y);
    let spatial = g.h_out * g.w_out;
    let no_bias: Vec<(f64, f64)> =
        r.y.iter()
            .enumerate()
            .map(|(i, &(v, m))| {
                let c = bias[(i / spatial.max(1)) % g.c_out].as_f64();
                (v - c, m)
            })
            .collect();
    assert_close("forward(no bias)", g, &y, &no_bias, tol);

    let mut gx = vec![poison; g.input_len()];
    backward_input(g, &gy, &w, &mut gx);
    assert_close("backward_input", g, &gx, &r.gx, tol);

    let mut gw = vec![poison; g.weight_len()];
    backward_weight(g, &gy, &x, &mut gw);
    assert_close("backward_weight", g, &gw, &r.gw, tol);

    let mut gb = vec![poison; g.c_out];
    backward_bias(g, &gy, &mut gb);
    assert_close("backward_bias", g, &gb, &r.gb, tol);
}

fn check_both(g: &Conv2dGeometry, seed: u64) {
    check::<f64>(g, seed, 1e-12);
    check::<f32>(g, seed, 2e-5);
}

/// The five convolutions of the lesson's CNN (stride 2, padding k/2).
fn lesson_layers(batch: usize) -> Vec<Conv2dGeometry> {
    [
        (1, 8, 5, 28),
        (8, 16, 3, 14),
        (16, 32, 3, 7),
        (32, 64, 3, 4),
        (64, 64, 3, 2),
    ]
    .iter()
    .map(|&(ci, co, k, hw)| geometry(batch, ci, (hw, hw), co, (k, k), 2, k / 2).unwrap())
    .collect()
}

#[test]
fn lesson_layers_batch_3() {
    let expected_out = [14, 7, 4, 2, 1];
    for (i, g) in lesson_layers(3).iter().enumerate() {
        assert_eq!((g.h_out, g.w_out), (expected_out[i], expected_out[i]));
        check_both(g, 100 + i as u64);
    }
}

#[test]
fn lesson_layers_large_batch_parallel_chunks() {
    // Big enough to take the parallel, multi-chunk paths.
    for (i, g) in lesson_layers(40).iter().enumerate() {
        check::<f32>(g, 200 + i as u64, 2e-5);
    }
    check::<f64>(&lesson_layers(40)[1], 300, 1e-12);
}

#[test]
fn many_shapes() {
    let mut seed = 1000;
    for batch in [1, 2] {
        // Channel counts straddle every SIMD lane width (4, 8, 16) on both vector sides.
        for (c_in, c_out) in [(1, 1), (2, 3), (3, 5), (5, 9), (17, 4)] {
            for (h, w) in [(1, 1), (2, 2), (5, 5), (6, 4), (3, 8), (9, 7)] {
                for k in [1, 3, 5] {
                    for stride in [1, 2] {
                        for padding in 0..=2 {
                            if let Some(g) =
                                geometry(batch, c_in, (h, w), c_out, (k, k), stride, padding)
                            {
                                check_both(&g, seed);
                                seed += 1;
                            }
                        }
                    }
                }
            }
        }
    }
    // Rectangular kernels, stride 3.
    for &(k_h, k_w) in &[(1, 3), (3, 1), (2, 5), (4, 2)] {
        let g = geometry(2, 3, (7, 6), 4, (k_h, k_w), 3, 1).unwrap();
        check_both(&g, seed);
        seed += 1;
    }
}

#[test]
fn sequential_multi_chunk_path() {
    // Under the parallel threshold but bigger than one cache-sized chunk.
    let g = lesson_layers(20)[0];
    let p = Plan::new(&g);
    assert!(!p.parallel && p.chunks(g.batch) > 1, "{p:?}");
    check_both(&g, 77);
}

#[test]
fn taps_reading_only_padding() {
    // Input 1 wide, padding 2, stride 2, kernel 3: only taps 0 and 2 read the input.
    let g = geometry(2, 2, (1, 1), 3, (3, 3), 2, 2).unwrap();
    assert_eq!((g.h_out, g.w_out), (2, 2));
    check_both(&g, 5);
    // Stride larger than the kernel: some input pixels feed no output at all.
    for (k, stride) in [(2, 3), (1, 2)] {
        let g = geometry(2, 6, (7, 8), 5, (k, k), stride, 1).unwrap();
        check_both(&g, 7 + k as u64);
    }
    // Padding at least the kernel with a large stride: no tap ever reads the input.
    let g = geometry(2, 2, (1, 1), 3, (2, 2), 5, 4).unwrap();
    assert_eq!(Plan::new(&g).k_eff, 0);
    check_both(&g, 6);
}

#[test]
fn hand_computed_2x2_to_1x1() {
    // x = [[1, 2], [3, 4]], w = [[1, 2, 3], [4, 5, 6], [7, 8, 9]], stride 2, padding 1:
    // the single output window is centred on x[0][0], so x[i][j] meets w[1 + i][1 + j].
    let g = geometry(1, 1, (2, 2), 1, (3, 3), 2, 1).unwrap();
    assert_eq!((g.h_out, g.w_out), (1, 1));
    assert!(Plan::new(&g).dense);
    let x = [1.0f64, 2.0, 3.0, 4.0];
    let w: Vec<f64> = (1..=9).map(f64::from).collect();
    let mut y = [0.0f64];
    forward(&g, &x, &w, Some(&[0.5]), &mut y);
    assert_eq!(y, [1.0 * 5.0 + 2.0 * 6.0 + 3.0 * 8.0 + 4.0 * 9.0 + 0.5]);
    let mut gx = [0.0f64; 4];
    backward_input(&g, &[1.0], &w, &mut gx);
    assert_eq!(gx, [5.0, 6.0, 8.0, 9.0]);
    let mut gw = [f64::NAN; 9];
    backward_weight(&g, &[2.0], &x, &mut gw);
    assert_eq!(gw, [0.0, 0.0, 0.0, 0.0, 2.0, 4.0, 0.0, 6.0, 8.0]);
    let mut gb = [0.0f64];
    backward_bias(&g, &[2.0], &mut gb);
    assert_eq!(gb, [2.0]);

    // f32, two samples and two output channels (second channel's weight doubled).
    let g = geometry(2, 1, (2, 2), 2, (3, 3), 2, 1).unwrap();
    let x = [1.0f32, 2.0, 3.0, 4.0, -1.0, 0.0, 0.0, 1.0];
    let w: Vec<f32> = (1..=9)
        .chain((1..=9).map(|v| 2 * v))
        .map(|v| v as f32)
        .collect();
    let mut y = [0.0f32; 4];
    forward(&g, &x, &w, None, &mut y);
    assert_eq!(y, [77.0, 154.0, 4.0, 8.0]);
}

#[test]
fn hand_computed_3x3_identity_kernel() {
    // A kernel that is 1 at its centre copies the input (stride 1, padding 1).
    let g = geometry(1, 1, (3, 3), 1, (3, 3), 1, 1).unwrap();
    let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
    let mut w = [0.0f32; 9];
    w[4] = 1.0;
    let mut y = [0.0f32; 9];
    forward(&g, &x, &w, None, &mut y);
    assert_eq!(y.to_vec(), x);
    // All-ones kernel: each output is the sum of its 3x3 neighbourhood.
    let ones = [1.0f32; 9];
    forward(&g, &x, &ones, None, &mut y);
    assert_eq!(y, [12.0, 21.0, 16.0, 27.0, 45.0, 33.0, 24.0, 39.0, 28.0]);
    // And the input gradient of all-ones gy counts the windows covering each pixel.
    let mut gx = [0.0f32; 9];
    backward_input(&g, &[1.0; 9], &ones, &mut gx);
    assert_eq!(gx, [4.0, 6.0, 4.0, 6.0, 9.0, 6.0, 4.0, 6.0, 4.0]);
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn adjoint_identity() {
    // <conv(x, w), gy> = <x, backward_input(gy, w)> = <w, backward_weight(gy, x)>.
    let mut shapes = lesson_layers(3);
    shapes.push(geometry(2, 3, (6, 5), 4, (3, 2), 1, 2).unwrap());
    shapes.push(geometry(1, 2, (9, 9), 3, (5, 5), 3, 0).unwrap());
    for (i, g) in shapes.iter().enumerate() {
        let x = values(g.input_len(), 40 + i as u64);
        let w = values(g.weight_len(), 50 + i as u64);
        let gy = values(g.output_len(), 60 + i as u64);
        let mut y = vec![0.0; g.output_len()];
        forward(g, &x, &w, None, &mut y);
        let mut gx = vec![0.0; g.input_len()];
        backward_input(g, &gy, &w, &mut gx);
        let mut gw = vec![0.0; g.weight_len()];
        backward_weight(g, &gy, &x, &mut gw);
        let (a, b, c) = (dot(&y, &gy), dot(&x, &gx), dot(&w, &gw));
        let scale = 1.0 + a.abs();
        assert!((a - b).abs() <= 1e-11 * scale, "{g:?}: {a} vs {b}");
        assert!((a - c).abs() <= 1e-11 * scale, "{g:?}: {a} vs {c}");
    }
}

#[test]
fn results_are_independent_of_thread_count() {
    for (g, path) in lesson_layers(96)
        .into_iter()
        .flat_map(|g| paths().into_iter().map(move |l| (g, l)))
    {
        assert!(Plan::new(&g).parallel);
        let x: Vec<f32> = to(&values(g.input_len(), 9));
        let gy: Vec<f32> = to(&values(g.output_len(), 10));
        let w: Vec<f32> = to(&values(g.weight_len(), 11));
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                FORCE_ENGINE.with(|c| c.set(path));
                let mut gw = vec![0.0f32; g.weight_len()];
                backward_weight(&g, &gy, &x, &mut gw);
                let mut gx = vec![0.0f32; g.input_len()];
                backward_input(&g, &gy, &w, &mut gx);
                let mut y = vec![0.0f32; g.output_len()];
                forward(&g, &x, &w, None, &mut y);
                let mut gb = vec![0.0f32; g.c_out];
                backward_bias(&g, &gy, &mut gb);
                (gw, gx, y, gb)
            })
        };
        let one = run(1);
        assert!(one.0.iter().all(|v| v.is_finite()));
        assert_eq!(one, run(1));
        assert_eq!(one, run(2));
        assert_eq!(one, run(3));
    }
}

fn arb_geometry() -> impl Strategy<Value = Option<Conv2dGeometry>> {
    (
        1usize..4,
        1usize..11,
        1usize..10,
        1usize..10,
        1usize..11,
        1usize..6,
        1usize..6,
        1usize..4,
        0usize..3,
    )
        .prop_map(|(batch, c_in, h, w, c_out, k_h, k_w, stride, padding)| {
            geometry(batch, c_in, (h, w), c_out, (k_h, k_w), stride, padding)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_shapes_match_naive(g in arb_geometry(), seed in 0u64..1000) {
        prop_assume!(g.is_some());
        let g = g.unwrap();
        check::<f64>(&g, seed, 1e-12);
        check::<f32>(&g, seed, 2e-5);
    }
}

#[test]
fn pixel_and_channel_lanes_give_the_same_bits() {
    if Simd::detect().is_none() {
        return;
    }
    // Shapes where both direct engines apply to the forward pass (at least 4 output
    // channels): the lesson's layers, odd sizes, stride 1 and 3.
    let mut shapes = lesson_layers(5);
    shapes.extend(
        [
            geometry(3, 4, (11, 9), 5, (3, 3), 2, 1),
            geometry(2, 6, (8, 8), 4, (3, 3), 1, 1),
            geometry(2, 4, (13, 10), 7, (5, 4), 3, 2),
            geometry(1, 5, (6, 7), 4, (2, 2), 2, 0),
        ]
        .into_iter()
        .flatten(),
    );
    for g in shapes {
        let x: Vec<f32> = to(&values(g.input_len(), 21));
        let w: Vec<f32> = to(&values(g.weight_len(), 22));
        let bias: Vec<f32> = to(&values(g.c_out, 23));
        let run = |engine| {
            on_path(Some(engine), || {
                let mut y = vec![f32::NAN; g.output_len()];
                forward(&g, &x, &w, Some(&bias), &mut y);
                y
            })
        };
        let (channels, pixels) = (run(Engine::ChannelLanes), run(Engine::PixelLanes));
        assert!(channels.iter().all(|v| v.is_finite()), "{g:?}");
        assert_eq!(channels, pixels, "forward {g:?}");
        // The input gradient: channel lanes need 4 input channels, pixel lanes AVX-512F.
        if g.c_in < 4 || !Simd::detect().is_some_and(|s| s.avx512()) {
            continue;
        }
        let gy: Vec<f32> = to(&values(g.output_len(), 24));
        let run = |engine| {
            on_path(Some(engine), || {
                let mut gx = vec![f32::NAN; g.input_len()];
                backward_input(&g, &gy, &w, &mut gx);
                gx
            })
        };
        let (channels, pixels) = (run(Engine::ChannelLanes), run(Engine::PixelLanes));
        assert!(channels.iter().all(|v| v.is_finite()), "{g:?}");
        assert_eq!(channels, pixels, "backward_input {g:?}");
    }
}
