//! The im2col + GEMM engine, one chunk of samples at a time: forward `Y = W · cols`, input
//! gradient `dcols = Wᵀ · Gy` then col2im, weight gradient `acc = Gy · colsᵀ (+ acc)`.

use super::lowering::{
    add_bias, col2im_rows, gather_output_grad, im2col_patches, im2col_rows, scatter_output,
    unpad_planes,
};
use super::plan::Plan;
use super::scratch::{with_padded_input, with_scratch, CHUNK_SCRATCH};
use super::weight::WeightLayout;
use crate::dtype::CpuFloat;
use crate::ops::conv::Conv2dGeometry;

pub(super) fn forward_chunk<T: CpuFloat>(
    g: &Conv2dGeometry,
    p: &Plan,
    x: &[T],
    wk: &[T],
    layout: WeightLayout,
    offsets: &[usize],
    bias: Option<&[T]>,
    y: &mut [T],
    nb: usize,
) {
    let (m, k) = (g.c_out, p.k_eff);
    let (one, zero) = (T::one(), T::zero());
    // Strides of the weight matrix `c_out × k_eff`.
    let (rsa, csa) = match layout {
        WeightLayout::RowMajor => (k as isize, 1),
        WeightLayout::Transposed => (1, m as isize),
    };
    let n = nb * p.spatial;
    let ni = n as isize;
    let out_len = if nb == 1 { 0 } else { m * n };
    with_padded_input(g, x, k * n + out_len, |xp, buf| {
        let (cols, out) = buf.split_at_mut(k * n);
        im2col_rows(g, p, xp, offsets, nb, cols);
        if nb == 1 {
            // One sample: the c_out × spatial product already is its NCHW output.
            T::gemm(m, k, n, one, wk, rsa, csa, cols, ni, 1, zero, y, ni, 1);
            if let Some(b) = bias {
                add_bias(y, b, p.spatial);
            }
        } else {
            T::gemm(m, k, n, one, wk, rsa, csa, cols, ni, 1, zero, out, ni, 1);
            scatter_output(out, bias, m, p.spatial, y);
        }
    });
}

pub(super) fn backward_input_chunk<T: CpuFloat>(
    g: &Conv2dGeometry,
    p: &Plan,
    gy: &[T],
    wk: &[T],
    offsets: &[usize],
    gx: &mut [T],
    nb: usize,
) {
    let (m, k) = (g.c_out, p.k_eff);
    let ki = k as isize;
    let (one, zero) = (T::one(), T::zero());
    let n = nb * p.spatial;
    let ni = n as isize;
    let padded = p.padded_len(g, nb);
    let gy_len = if nb == 1 { 0 } else { m * n };
    with_scratch::<T, ()>(&CHUNK_SCRATCH, k * n + gy_len + padded, |buf| {
        let (dcols, rest) = buf.split_at_mut(k * n);
        let (gyc, gxp) = rest.split_at_mut(gy_len);
        // dcols = wkᵀ · Gy, with wkᵀ read column-major straight from the weight.
        if nb == 1 {
            T::gemm(k, m, n, one, wk, 1, ki, gy, ni, 1, zero, dcols, ni, 1);
        } else {
            gather_output_grad(gy, m, p.spatial, gyc);
            T::gemm(k, m, n, one, wk, 1, ki, gyc, ni, 1, zero, dcols, ni, 1);
        }
        if padded > 0 {
            gxp.fill(zero);
            col2im_rows(g, p, dcols, offsets, nb, gxp);
            unpad_planes(g, p, gxp, gx);
        } else {
            gx.fill(zero);
            col2im_rows(g, p, dcols, offsets, nb, gx);
        }
    });
}

/// `acc = Gy · colsᵀ + beta · acc` for one chunk of `nb` samples (`acc` is `c_out × k_eff`).
pub(super) fn backward_weight_chunk<T: CpuFloat>(
    g: &Conv2dGeometry,
    p: &Plan,
    gy: &[T],
    x: &[T],
    offsets: &[usize],
    acc: &mut [T],
    nb: usize,
    beta: T,
) {
    let (m, k) = (g.c_out, p.k_eff);
    let ki = k as isize;
    let one = T::one();
    let n = nb * p.spatial;
    let ni = n as isize;
    let gy_len = if nb == 1 { 0 } else { m * n };
    with_padded_input(g, x, n * k + gy_len, |xp, buf| {
        let (cols_t, gyc) = buf.split_at_mut(n * k);
        im2col_patches(g, p, xp, offsets, cols_t);
        let gyc: &[T] = if nb == 1 {
            gy
        } else {
            gather_output_grad(gy, m, p.spatial, gyc);
            gyc
        };
        T::gemm(m, n, k, one, gyc, ni, 1, cols_t, ki, 1, beta, acc, ki, 1);
    });
}
