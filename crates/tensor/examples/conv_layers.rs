//! Times the CPU convolution passes of the lesson's five layers at a few batch sizes, on a
//! rayon pool of a chosen size: the microbenchmark behind the bs-32 cliff analysis.
//!
//! `cargo run --release -p tensor --example conv_layers -- [THREADS] [BS ...]`
//! (defaults: 1 thread; bs 16 32 64). Prints the median over repetitions of each pass, in
//! microseconds, and the per-sample sum over layers.

mod common;

use common::{median_us, values};

/// The allocator `cargo xtask` trains with, so that fresh outputs cost what they cost there.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use tensor::{Conv2dGeometry, Device, Tensor};

/// The lesson's convolutions: (c_in, c_out, kernel, input size), stride 2, padding k/2.
const LAYERS: [(usize, usize, usize, usize); 5] = [
    (1, 8, 5, 28),
    (8, 16, 3, 14),
    (16, 32, 3, 7),
    (32, 64, 3, 4),
    (64, 64, 3, 2),
];

fn main() -> tensor::Result<()> {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let mut batches: Vec<usize> = args.filter_map(|a| a.parse().ok()).collect();
    if batches.is_empty() {
        batches = vec![16, 32, 64];
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    println!("threads {threads}; median µs per call");
    println!("| layer | bs | fwd | bwd-data | bwd-weight | bwd-bias | total | µs/sample |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    pool.install(|| -> tensor::Result<()> {
        for &bs in &batches {
            let mut sum = 0.0;
            for (li, &(ci, co, k, hw)) in LAYERS.iter().enumerate() {
                let x = Tensor::from_vec(values(bs * ci * hw * hw, 1), &[bs, ci, hw, hw], Device::Cpu)?;
                let w = Tensor::from_vec(values(co * ci * k * k, 2), &[co, ci, k, k], Device::Cpu)?;
                let y = x.conv2d(&w, None, 2, k / 2)?;
                let g: Conv2dGeometry = tensor::ops::conv::conv2d_geometry(
                    x.shape(),
                    w.shape(),
                    2,
                    k / 2,
                )?;
                let dy = Tensor::from_vec(values(y.shape().iter().product(), 3), y.shape(), Device::Cpu)?;
                let reps = (20_000 / bs).clamp(15, 400);
                let f = median_us(|| drop(x.conv2d(&w, None, 2, k / 2)), reps);
                let d = median_us(|| drop(dy.conv2d_backward_input(&w, &g)), reps);
                let wg = median_us(|| drop(dy.conv2d_backward_weight(&x, &g)), reps);
                let b = median_us(|| drop(dy.conv2d_backward_bias(&g)), reps);
                let total = f + if li == 0 { 0.0 } else { d } + wg + b;
                sum += total;
                println!(
                    "| l{} {ci}→{co} | {bs} | {f:.1} | {d:.1} | {wg:.1} | {b:.1} | {total:.1} | {:.2} |",
                    li + 1,
                    total / bs as f64
                );
            }
            println!("| all (l1 without bwd-data) | {bs} | | | | | {sum:.1} | {:.2} |", sum / bs as f64);
        }
        Ok(())
    })
}
