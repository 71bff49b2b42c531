//! Times the CPU passes that surround each of the lesson's convolutions — ReLU forward and
//! backward, the per-channel batch norm's forward (statistics + apply) and backward — on
//! the five conv outputs at a few batch sizes: the microbenchmark behind the norm kernels.
//! The last two columns time the norm of `relu(x)` with the ReLU fused into its passes
//! (`NormLayout::after_relu`), which replaces the four columns before them in training.
//!
//! `cargo run --release -p tensor --example norm_layers -- [THREADS] [BS ...]`
//! (defaults: 2 threads; bs 2 32 512). The calling thread is worker 0 of the pool, as in
//! `cargo xtask`. Prints the median over repetitions of each pass in microseconds.

mod common;

use common::{median_us, values};

/// The allocator `cargo xtask` trains with, so that fresh outputs cost what they cost there.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use tensor::{BinaryOp, Device, NormLayout, StatGrad, Tensor, Variance};

/// The lesson's conv outputs at batch size 1: (channels, height = width).
const OUTPUTS: [(usize, usize); 5] = [(8, 14), (16, 7), (32, 4), (64, 2), (64, 1)];

fn main() -> tensor::Result<()> {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let mut batches: Vec<usize> = args.filter_map(|a| a.parse().ok()).collect();
    if batches.is_empty() {
        batches = vec![2, 32, 512];
    }
    tensor::init_cpu_threads(Some(threads))?;
    println!("threads {threads}; median µs per call");
    println!(
        "| output | bs | relu fwd | relu bwd | norm fwd | norm bwd | total | fused fwd | fused bwd |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let (layout, var) = (NormLayout::PerChannel, Variance::Unbiased);
    for &bs in &batches {
        let (mut sum, mut fused_sum) = (0.0, 0.0);
        for &(c, hw) in &OUTPUTS {
            let shape = [bs, c, hw, hw];
            let n = shape.iter().product();
            let x = Tensor::from_vec(values(n, 1), &shape, Device::Cpu)?;
            let dy = Tensor::from_vec(values(n, 2), &shape, Device::Cpu)?;
            let scale = Tensor::from_vec(values(c, 3), &[c], Device::Cpu)?;
            let shift = Tensor::from_vec(values(c, 4), &[c], Device::Cpu)?;
            let st = x.norm_stats(layout, var, 1e-5)?;
            let reps = (200_000 / n).clamp(20, 2000);
            let rf = median_us(|| drop(x.relu()), reps);
            let rb = median_us(|| drop(x.binary(BinaryOp::ReluGrad, &dy)), reps);
            let nf = median_us(
                || drop(x.norm_forward(layout, &scale, &shift, var, 1e-5)),
                reps,
            );
            let grad = StatGrad::Batch(var);
            let nb = median_us(
                || drop(x.norm_backward(&dy, layout, &st.mean, &st.invstd, &scale, grad)),
                reps,
            );
            let fused = layout.after_relu();
            let ff = median_us(
                || drop(x.norm_forward(fused, &scale, &shift, var, 1e-5)),
                reps,
            );
            let fst = x.norm_stats(fused, var, 1e-5)?;
            let fb = median_us(
                || drop(x.norm_backward(&dy, fused, &fst.mean, &fst.invstd, &scale, grad)),
                reps,
            );
            let total = rf + rb + nf + nb;
            sum += total;
            fused_sum += ff + fb;
            println!("| [{bs},{c},{hw},{hw}] | {bs} | {rf:.1} | {rb:.1} | {nf:.1} | {nb:.1} | {total:.1} | {ff:.1} | {fb:.1} |");
        }
        println!("| all five | {bs} | | | | | {sum:.1} | {fused_sum:.1} (both) | |");
    }
    Ok(())
}
