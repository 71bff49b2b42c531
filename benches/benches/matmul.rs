//! Matrix products: the lesson's `Linear(64, 10)` head at batch 512, 32 and 2 (forward alone
//! and forward + backward), a square 256x256 product and a batched product.
//!
//! Ids: `linear_64x10/{fwd,fwd_bwd}/bs<batch>`, `matmul/square_256`, `matmul/batched_32x128`.
//! The head's backward is `dx = dy w` (`[b,10]x[10,64]`), `dw = dyᵀ x` (`[10,b]x[b,64]`,
//! a transposed operand) and `db = Σ_batch dy`.
//!
//! Run: `cargo bench -p benches --bench matmul`.

use std::time::Duration;

use benches::{randn, LinearCase, BATCHES};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};

fn linear_head(c: &mut Criterion) {
    let mut group = c.benchmark_group("linear_64x10");
    for bs in BATCHES {
        let case = LinearCase::head(bs);
        let param = format!("bs{bs}");
        group.bench_function(BenchmarkId::new("fwd", &param), |b| {
            b.iter(|| black_box(case.forward().expect("linear forward")))
        });
        group.bench_function(BenchmarkId::new("fwd_bwd", &param), |b| {
            b.iter(|| black_box(case.forward_backward().expect("linear forward/backward")))
        });
    }
    group.finish();
}

fn plain_matmul(c: &mut Criterion) {
    let mut group = c.benchmark_group("matmul");
    let (a, b) = (randn(&[256, 256], 21), randn(&[256, 256], 22));
    group.bench_function("square_256", |bench| {
        bench.iter(|| black_box(a.matmul(&b).expect("matmul")))
    });
    let (a, b) = (randn(&[32, 128, 128], 23), randn(&[32, 128, 128], 24));
    group.bench_function("batched_32x128", |bench| {
        bench.iter(|| black_box(a.matmul(&b).expect("batched matmul")))
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
    name = matmul;
    config = config();
    targets = linear_head, plain_matmul
}
criterion_main!(matmul);
