//! CPU kernels of the layout family.

use rayon::prelude::*;

use super::LayoutOps;
use crate::cpu::pool::{written_like, HostBuffer};
use crate::cpu::{host, CpuBackend, PAR_ELEMENTS};
use crate::dtype::CpuFloat;
use crate::shape::{broadcast_strides, contiguous_strides, numel};
use crate::{CpuStorage, Dims, Result, Tensor};

/// `out[i] = x[sum_d idx_d(i) * strides[d]]` for a contiguous output of `out_shape`.
fn strided_gather<T: CpuFloat>(x: &[T], strides: &[usize], out_shape: &[usize], out: &mut [T]) {
    let n = out.len();
    if n == 0 {
        return;
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
}

fn gather_rows<T: CpuFloat>(x: &[T], row_len: usize, indices: &[usize], out: &mut [T]) {
    if row_len == 0 {
        return;
    }
    for (dst, &i) in out.chunks_exact_mut(row_len).zip(indices) {
        dst.copy_from_slice(&x[i * row_len..(i + 1) * row_len]);
    }
}

fn scatter_add_rows<T: CpuFloat>(src: &[T], row_len: usize, indices: &[usize], out: &mut [T]) {
    for (r, &i) in indices.iter().enumerate() {
        let dst = &mut out[i * row_len..(i + 1) * row_len];
        for (d, &s) in dst.iter_mut().zip(&src[r * row_len..(r + 1) * row_len]) {
            *d = *d + s;
        }
    }
}

impl LayoutOps for CpuBackend {
    fn permute(&self, x: &Tensor, axes: &[usize]) -> Result<Tensor> {
        let own = contiguous_strides(x.shape());
        let strides: Dims = axes.iter().map(|&a| own[a]).collect();
        let out_shape: Dims = axes.iter().map(|&a| x.shape()[a]).collect();
        Ok(written_like!(x, &out_shape, v, out => strided_gather(v, &strides, &out_shape, out)))
    }

    fn broadcast_to(&self, x: &Tensor, shape: &[usize]) -> Result<Tensor> {
        let strides = broadcast_strides(x.shape(), shape);
        Ok(written_like!(x, shape, v, out => strided_gather(v, &strides, shape, out)))
    }

    fn index_select_rows(&self, x: &Tensor, indices: &[usize]) -> Result<Tensor> {
        let row_len = numel(&x.shape()[1..]);
        let mut shape = Dims::from_slice(x.shape());
        shape[0] = indices.len();
        Ok(written_like!(x, &shape, v, out => gather_rows(v, row_len, indices, out)))
    }

    fn index_add_rows(&self, src: &Tensor, indices: &[usize], rows: usize) -> Result<Tensor> {
        let row_len = numel(&src.shape()[1..]);
        let mut shape = Dims::from_slice(src.shape());
        shape[0] = rows;
        Ok(match host(src)? {
            CpuStorage::F32(v) => {
                HostBuffer::accumulated(&shape, |out| scatter_add_rows(v, row_len, indices, out))
            }
            CpuStorage::F64(v) => {
                HostBuffer::accumulated(&shape, |out| scatter_add_rows(v, row_len, indices, out))
            }
        })
    }
}
