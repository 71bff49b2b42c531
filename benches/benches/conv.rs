//! conv2d forward and backward on the lesson's five conv shapes at batch 512, 32 and 2.
//!
//! Ids: `conv_fwd_bwd/<layer>/bs<batch>` times one training step's work for the layer
//! (forward with bias, then the input, weight and bias gradients), the number compared with
//! PyTorch in `docs/benchmarks.md`. `conv_fwd_bwd_nodx/l1_1x8_k5/...` is the first layer as
//! training runs it (no input gradient: its input is the data). `conv_fwd`, `conv_bwd_input` and `conv_bwd_weight` time
//! the passes one at a time, to show which one dominates.
//!
//! Run: `cargo bench -p benches --bench conv` (add `-- conv_fwd_bwd` to filter, or
//! `-- --quick` for a fast, rougher pass).

use std::time::Duration;

use benches::{ConvCase, BATCHES, LESSON_CONVS};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};

/// Every (layer, batch) case, built once.
fn cases() -> Vec<ConvCase> {
    LESSON_CONVS
        .iter()
        .flat_map(|&layer| BATCHES.iter().map(move |&bs| ConvCase::new(layer, bs)))
        .collect()
}

/// One pass of a conv case, as timed by [`conv_passes`].
type Pass = fn(&ConvCase) -> tensor::Result<tensor::Tensor>;

fn id(case: &ConvCase) -> BenchmarkId {
    BenchmarkId::new(case.layer.id, format!("bs{}", case.geometry.batch))
}

fn conv_fwd_bwd(c: &mut Criterion) {
    let mut group = c.benchmark_group("conv_fwd_bwd");
    for case in cases() {
        group.bench_function(id(&case), |b| {
            b.iter(|| black_box(case.forward_backward().expect("conv forward/backward")))
        });
    }
    group.finish();
}

/// The first layer as training runs it: its input is the data, so no input gradient.
fn conv_fwd_bwd_nodx(c: &mut Criterion) {
    let mut group = c.benchmark_group("conv_fwd_bwd_nodx");
    for case in cases().iter().filter(|case| case.layer == LESSON_CONVS[0]) {
        group.bench_function(id(case), |b| {
            b.iter(|| {
                black_box(
                    case.forward_backward_params()
                        .expect("conv forward/backward"),
                )
            })
        });
    }
    group.finish();
}

fn conv_passes(c: &mut Criterion) {
    let cases = cases();
    let passes: [(&str, Pass); 3] = [
        ("conv_fwd", ConvCase::forward),
        ("conv_bwd_input", ConvCase::backward_input),
        ("conv_bwd_weight", ConvCase::backward_weight),
    ];
    for (name, pass) in passes {
        let mut group = c.benchmark_group(name);
        for case in &cases {
            group.bench_function(id(case), |b| b.iter(|| black_box(pass(case).expect(name))));
        }
        group.finish();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .without_plots()
}

criterion_group! {
    name = conv;
    config = config();
    targets = conv_fwd_bwd, conv_fwd_bwd_nodx, conv_passes
}
criterion_main!(conv);
