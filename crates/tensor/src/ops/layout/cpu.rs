//! CPU kernels of the layout family.

use rayon::prelude::*;

use super::LayoutOps;
use crate::cpu::{host, CpuBackend, PAR_ELEMENTS};
use crate::dtype::CpuFloat;
use crate::shape::{broadcast_strides, contiguous_strides, numel};
use crate::{map_cpu, Result, Tensor};

/// `out[i] = x[sum_d idx_d(i) * strides[d]]` for a contiguous output of `out_shape`.
fn strided_gather<T: CpuFloat>(x: &[T], strides: &[usize], out_shape: &[usize]) -> Vec<T> {
    let n = numel(out_shape);
    let mut out = vec![T::zero(); n];
    if n == 0 {
        return out;
    }
    let rank = out_shape.len();
    let inner = out_shape[rank - 1];
    let inner_stride = strides[rank - 1];
    let out_strides = contiguous_strides(out_shape);
    let row = |r: usize, dst: &mut [T]| {
        let start = r * inner;
        let mut off = 0;
        for d in 0..rank - 1 {
            off += ((start / out_strides[d]) % out_shape[d]) * strides[d];
        }
        for (j, o) in dst.iter_mut().enumerate() {
            *o = x[off + j * inner_stride];
        }
    };
    if n >= PAR_ELEMENTS {
        out.par_chunks_mut(inner)
            .enumerate()
            .for_each(|(r, d)| row(r, d));
    } else {
        for (r, d) in out.chunks_mut(inner).enumerate() {
            row(r, d);
        }
    }
    out
}

fn gather_rows<T: CpuFloat>(x: &[T], row_len: usize, indices: &[usize]) -> Vec<T> {
    let mut out = Vec::with_capacity(indices.len() * row_len);
    for &i in indices {
        out.extend_from_slice(&x[i * row_len..(i + 1) * row_len]);
    }
    out
}

fn scatter_add_rows<T: CpuFloat>(
    src: &[T],
    row_len: usize,
    indices: &[usize],
    rows: usize,
) -> Vec<T> {
    let mut out = vec![T::zero(); rows * row_len];
    for (r, &i) in indices.iter().enumerate() {
        let dst = &mut out[i * row_len..(i + 1) * row_len];
        for (d, &s) in dst.iter_mut().zip(&src[r * row_len..(r + 1) * row_len]) {
            *d = *d + s;
        }
    }
    out
}

impl LayoutOps for CpuBackend {
    fn permute(&self, x: &Tensor, axes: &[usize]) -> Result<Tensor> {
        let own = contiguous_strides(x.shape());
        let strides: Vec<usize> = axes.iter().map(|&a| own[a]).collect();
        let out_shape: Vec<usize> = axes.iter().map(|&a| x.shape()[a]).collect();
        let storage = map_cpu!(host(x)?, v => strided_gather(v, &strides, &out_shape));
        Ok(Tensor::from_cpu_storage(storage, out_shape))
    }

    fn broadcast_to(&self, x: &Tensor, shape: &[usize]) -> Result<Tensor> {
        let strides = broadcast_strides(x.shape(), shape);
        let storage = map_cpu!(host(x)?, v => strided_gather(v, &strides, shape));
        Ok(Tensor::from_cpu_storage(storage, shape))
    }

    fn index_select_rows(&self, x: &Tensor, indices: &[usize]) -> Result<Tensor> {
        let row_len = numel(&x.shape()[1..]);
        let storage = map_cpu!(host(x)?, v => gather_rows(v, row_len, indices));
        let mut shape = x.shape().to_vec();
        shape[0] = indices.len();
        Ok(Tensor::from_cpu_storage(storage, shape))
    }

    fn index_add_rows(&self, src: &Tensor, indices: &[usize], rows: usize) -> Result<Tensor> {
        let row_len = numel(&src.shape()[1..]);
        let storage = map_cpu!(host(src)?, v => scatter_add_rows(v, row_len, indices, rows));
        let mut shape = src.shape().to_vec();
        shape[0] = rows;
        Ok(Tensor::from_cpu_storage(storage, shape))
    }
}
