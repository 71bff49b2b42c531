//! Reductions on a `[512, 8, 14, 14]` activation (the output of the lesson's first conv at
//! batch 512): per-channel mean and variance over `(N, H, W)` as the lesson's BatchNorm
//! computes them, the fused per-channel statistics kernel the norms use, and a full sum.
//!
//! Ids: `reduce/mean_c`, `reduce/var_c`, `reduce/mean_var_c`, `reduce/norm_stats_c`,
//! `reduce/sum_all`.
//!
//! Run: `cargo bench -p benches --bench reduce`.

use std::time::Duration;

use benches::randn;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use tensor::{NormLayout, Variance};

/// Batch, spatial axes of an NCHW tensor.
const NHW: [isize; 3] = [0, 2, 3];

fn reductions(c: &mut Criterion) {
    let x = randn(&[512, 8, 14, 14], 31);
    let mut group = c.benchmark_group("reduce");
    group.bench_function("mean_c", |b| {
        b.iter(|| black_box(x.mean(&NHW, true).expect("mean")))
    });
    group.bench_function("var_c", |b| {
        b.iter(|| black_box(x.var(&NHW, true, true).expect("var")))
    });
    // The lesson's BatchNorm forward: `m = x.mean((0,2,3)); v = x.var((0,2,3))`.
    group.bench_function("mean_var_c", |b| {
        b.iter(|| {
            let m = x.mean(&NHW, true).expect("mean");
            let v = x.var(&NHW, true, true).expect("var");
            black_box((m, v))
        })
    });
    group.bench_function("norm_stats_c", |b| {
        b.iter(|| {
            black_box(
                x.norm_stats(NormLayout::PerChannel, Variance::Unbiased, 1e-5)
                    .expect("norm_stats"),
            )
        })
    });
    group.bench_function("sum_all", |b| {
        b.iter(|| black_box(x.sum_all().expect("sum")))
    });
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
    name = reduce;
    config = config();
    targets = reductions
}
criterion_main!(reduce);
