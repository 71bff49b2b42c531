//! Seeded `tensor::Tensor`s built from [`crate::seeded`] (feature `tensor`), for the tests
//! of crates above `tensor`.

use tensor::{DType, Device, Tensor};

use crate::seeded;

/// A CPU tensor of `shape` and `dtype` holding [`seeded::normal`] values (standard
/// normal, rounded once to `dtype`).
pub fn randn(shape: &[usize], dtype: DType, seed: u64) -> Tensor {
    let len = shape.iter().product();
    Tensor::from_f64_vec(seeded::normal(len, seed), shape, dtype, Device::Cpu)
        .expect("a vector of the shape's length always makes a tensor")
}

/// A CPU tensor of `shape` and `dtype` holding [`seeded::uniform`] values in `[-1, 1)`.
pub fn uniform(shape: &[usize], dtype: DType, seed: u64) -> Tensor {
    let len = shape.iter().product();
    Tensor::from_f64_vec(seeded::uniform(len, seed), shape, dtype, Device::Cpu)
        .expect("a vector of the shape's length always makes a tensor")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensors_hold_the_seeded_values() {
        let t = randn(&[2, 3], DType::F64, 5);
        assert_eq!(t.shape(), [2, 3]);
        assert_eq!(t.to_vec_f64().unwrap(), seeded::normal(6, 5));
        let u = uniform(&[4], DType::F32, 0);
        let want: Vec<f64> = seeded::uniform(4, 0)
            .iter()
            .map(|&v| f64::from(v as f32))
            .collect();
        assert_eq!(u.to_vec_f64().unwrap(), want);
    }
}
