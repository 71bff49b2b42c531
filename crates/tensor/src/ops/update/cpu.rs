//! CPU kernels of the in-place update family.

use rayon::prelude::*;

use super::UpdateOps;
use crate::cpu::{CpuBackend, PAR_CHUNK, PAR_ELEMENTS};
use crate::dtype::CpuFloat;
use crate::storage::{CpuStorage, Storage};
use crate::{Result, TensorError};

fn axpby_slice<T: CpuFloat>(y: &mut [T], x: &[T], a: T, b: T) {
    // `0 * inf` is NaN: a zero coefficient drops its term instead of multiplying by zero.
    let kernel = |y: &mut [T], x: &[T]| {
        if b == T::zero() {
            for (y, &x) in y.iter_mut().zip(x) {
                *y = a * x;
            }
        } else if a == T::zero() {
            for y in y.iter_mut() {
                *y = b * *y;
            }
        } else {
            for (y, &x) in y.iter_mut().zip(x) {
                *y = a * x + b * *y;
            }
        }
    };
    if y.len() >= PAR_ELEMENTS {
        y.par_chunks_mut(PAR_CHUNK)
            .zip(x.par_chunks(PAR_CHUNK))
            .for_each(|(y, x)| kernel(y, x));
    } else {
        kernel(y, x);
    }
}

impl UpdateOps for CpuBackend {
    fn axpby(&self, y: &mut Storage, x: &Storage, a: f64, b: f64) -> Result<()> {
        match (y, x) {
            (Storage::Cpu(CpuStorage::F32(y)), Storage::Cpu(CpuStorage::F32(x))) => {
                axpby_slice(y, x, a as f32, b as f32)
            }
            (Storage::Cpu(CpuStorage::F64(y)), Storage::Cpu(CpuStorage::F64(x))) => {
                axpby_slice(y, x, a, b)
            }
            (y, x) => {
                return Err(TensorError::DTypeMismatch {
                    op: "axpby",
                    lhs: y.dtype(),
                    rhs: x.dtype(),
                })
            }
        }
        Ok(())
    }

    fn scale(&self, y: &mut Storage, factor: f64) -> Result<()> {
        match y {
            Storage::Cpu(CpuStorage::F32(y)) => y.iter_mut().for_each(|v| *v *= factor as f32),
            Storage::Cpu(CpuStorage::F64(y)) => y.iter_mut().for_each(|v| *v *= factor),
            #[cfg(feature = "cuda")]
            Storage::Cuda(s) => return Err(crate::cpu::not_host("scale", s.device())),
        }
        Ok(())
    }

    fn fill(&self, y: &mut Storage, value: f64) -> Result<()> {
        match y {
            Storage::Cpu(CpuStorage::F32(y)) => y.fill(value as f32),
            Storage::Cpu(CpuStorage::F64(y)) => y.fill(value),
            #[cfg(feature = "cuda")]
            Storage::Cuda(s) => return Err(crate::cpu::not_host("fill", s.device())),
        }
        Ok(())
    }
}
