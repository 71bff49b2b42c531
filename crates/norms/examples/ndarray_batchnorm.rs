//! Normalising an `ndarray::Array4<f32>` (N, C, H, W) with `BatchNorm2d` and getting an
//! `Array4<f32>` back, using nothing but `norms` and `ndarray`. The input array becomes a
//! tensor without a copy; the output tensor becomes an array without a copy.
//!
//! `cargo run -p norms --example ndarray_batchnorm`

use ndarray::{Array4, Axis, Ix4};
use norms::{BatchNorm2d, Module, Tensor, Var};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Channel c holds values around 2c with a spread that grows with c.
    let x = Array4::from_shape_fn((8, 3, 4, 4), |(n, c, h, w)| {
        2.0 * c as f32 + (1.0 + c as f32) * (((n * 16 + h * 4 + w) % 7) as f32 - 3.0) / 3.0
    });
    let bn = BatchNorm2d::new(3)?;
    let input = Var::constant(Tensor::from(x));
    let y: Array4<f32> = bn
        .forward(&input)?
        .value()
        .to_ndarray::<f32>()?
        .into_dimensionality::<Ix4>()?
        .into_owned();
    println!("output shape {:?}", y.shape());
    for (c, ch) in y.axis_iter(Axis(1)).enumerate() {
        let n = ch.len() as f32;
        let mean = ch.sum() / n;
        let var = ch.mapv(|v| (v - mean) * (v - mean)).sum() / n;
        println!("channel {c}: mean {mean:+.6}, variance {var:.6}");
    }
    println!("{}", bn.describe());
    Ok(())
}
