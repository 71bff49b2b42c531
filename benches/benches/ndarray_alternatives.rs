//! Our hand-written CPU kernels against what ndarray offers for the same job, on the same
//! data in the same run: this is the measurement behind `docs/architecture.md`'s list of
//! kernels that stay hand-written now that CPU storage is an ndarray array.
//!
//! Shapes are the lesson's at batch 512: the first conv's activation `[512, 8, 14, 14]`
//! (802,816 values), the per-channel statistics a norm takes over it, the `Linear(64, 10)`
//! head and a square 256x256 product. Every pair computes the same values (f32):
//!
//! - `relu`: `Tensor::relu` vs `Array::mapv` (one thread) vs `Zip::par_map_collect` (rayon);
//! - `add`: `Tensor::add` vs `&a + &b` vs `Zip::and(..).par_map_collect`;
//! - `channel_sum`: `Tensor::sum(&[0, 2, 3])` (f64 accumulation, thread-count independent)
//!   vs `sum_axis` three times (f32 accumulation);
//! - `matmul`: `Tensor::matmul` vs `ndarray::linalg::general_mat_mul`.
//!
//! Ids: `ndarray_alt/<job>/<ours|ndarray|ndarray_par>`.
//! Run: `cargo bench -p benches --bench ndarray_alternatives`.

use std::time::Duration;

use benches::randn;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ndarray::{linalg::general_mat_mul, Array2, ArrayD, Axis, Ix2, Zip};
use tensor::Tensor;

/// The first conv layer's activation at the lesson's headline batch size.
const ACTIVATION: [usize; 4] = [512, 8, 14, 14];

fn array(t: &Tensor) -> ArrayD<f32> {
    t.to_ndarray::<f32>().expect("f32 CPU tensor").into_owned()
}

fn elementwise(c: &mut Criterion) {
    let mut group = c.benchmark_group("ndarray_alt");
    let (x, y) = (randn(&ACTIVATION, 31), randn(&ACTIVATION, 32));
    let (xa, ya) = (array(&x), array(&y));

    group.bench_function("relu/ours", |b| {
        b.iter(|| black_box(x.relu().expect("relu")))
    });
    group.bench_function("relu/ndarray", |b| {
        b.iter(|| black_box(xa.mapv(|v| v.max(0.0))))
    });
    group.bench_function("relu/ndarray_par", |b| {
        b.iter(|| black_box(Zip::from(&xa).par_map_collect(|&v| v.max(0.0))))
    });

    group.bench_function("add/ours", |b| {
        b.iter(|| black_box(x.add(&y).expect("add")))
    });
    group.bench_function("add/ndarray", |b| b.iter(|| black_box(&xa + &ya)));
    group.bench_function("add/ndarray_par", |b| {
        b.iter(|| black_box(Zip::from(&xa).and(&ya).par_map_collect(|&p, &q| p + q)))
    });

    group.bench_function("channel_sum/ours", |b| {
        b.iter(|| black_box(x.sum(&[0, 2, 3], false).expect("sum")))
    });
    group.bench_function("channel_sum/ndarray", |b| {
        b.iter(|| black_box(xa.sum_axis(Axis(3)).sum_axis(Axis(2)).sum_axis(Axis(0))))
    });
    group.finish();
}

fn matmul(c: &mut Criterion) {
    let mut group = c.benchmark_group("ndarray_alt");
    for (name, m, k, n) in [
        ("head_512x64x10", 512, 64, 10),
        ("square_256", 256, 256, 256),
    ] {
        let (a, b) = (randn(&[m, k], 41), randn(&[k, n], 42));
        let a2 = array(&a).into_dimensionality::<Ix2>().expect("2-D");
        let b2 = array(&b).into_dimensionality::<Ix2>().expect("2-D");
        group.bench_function(format!("matmul_{name}/ours"), |bench| {
            bench.iter(|| black_box(a.matmul(&b).expect("matmul")))
        });
        group.bench_function(format!("matmul_{name}/ndarray"), |bench| {
            bench.iter(|| {
                let mut out = Array2::<f32>::zeros((m, n));
                general_mat_mul(1.0, &a2, &b2, 0.0, &mut out);
                black_box(out)
            })
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .without_plots()
}

criterion_group! {
    name = ndarray_alternatives;
    config = config();
    targets = elementwise, matmul
}
criterion_main!(ndarray_alternatives);
