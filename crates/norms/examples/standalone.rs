//! Using `norms` on its own: a PyTorch-style BatchNorm2d trained for a few steps (a toy
//! objective pulls its output towards a target), then switched to eval mode.
//!
//! `cargo run -p norms --example standalone`

use autograd::Var;
use layers::{Module, ModuleExt};
use norms::BatchNorm2d;
use tensor::{DType, Device, Tensor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bn = BatchNorm2d::new(3)?;
    let mut rng_state = 7u64;
    let mut next = || {
        rng_state = rng_state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (rng_state >> 11) as f64 / (1u64 << 53) as f64
    };
    let lr = 0.1;
    for step in 0..20 {
        // Channel c has mean about c and spread about 1 + c.
        let x: Vec<f32> = (0..4 * 3 * 5 * 5)
            .map(|i| {
                let c = (i / 25) % 3;
                (c as f64 + (1.0 + c as f64) * (next() * 2.0 - 1.0)) as f32
            })
            .collect();
        let x = Var::constant(Tensor::from_vec(x, &[4, 3, 5, 5], Device::Cpu)?);
        let y = bn.forward(&x)?;
        // Loss: mean of (y - 0.5)^2, which training can lower through weight and bias.
        let target = Var::constant(Tensor::full(&y.shape(), 0.5, DType::F32, Device::Cpu)?);
        let loss = y.sub(&target)?.square()?.mean_all()?;
        loss.backward()?;
        for p in bn.parameters() {
            let g = p.grad().expect("every parameter gets a gradient");
            p.update_value(|t| t.add_scaled_(&g, -lr))?;
            p.zero_grad();
        }
        if step % 5 == 0 {
            println!("step {step:2}: loss {:.4}", loss.value().to_scalar()?);
        }
    }
    bn.eval();
    println!("{}", bn.describe());
    for (name, buffer) in bn.named_buffers() {
        println!("{name:>20}: {:?}", buffer.value().to_vec_f32()?);
    }
    let x = Var::constant(Tensor::full(&[1, 3, 2, 2], 1.0, DType::F32, Device::Cpu)?);
    let y = bn.forward(&x)?;
    println!("eval output on ones, first value per channel: {:?}", {
        let v = y.value().to_vec_f32()?;
        [v[0], v[4], v[8]]
    });
    Ok(())
}
