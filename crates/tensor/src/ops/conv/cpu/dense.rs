//! The dense case of the GEMM engine: a 1×1 output whose window covers the input exactly.

use super::lowering::add_bias;
use super::plan::Plan;
use crate::dtype::CpuFloat;
use crate::ops::conv::Conv2dGeometry;

//
// Window tap (i, j) then meets exactly input pixel (i, j) of every channel, so per tap the
// convolution is a product of two strided views, with no im2col and no weight copy:
// `W_t[co, ci] = w[co, ci, kh0 + i, kw0 + j]` (row stride c_in·k_h·k_w, column stride
// k_h·k_w) and `X_t[ci, b] = x[b, ci, i, j]` (row stride h_in·w_in, column stride
// c_in·h_in·w_in).

/// `(offset inside one (co, ci) kernel, offset inside one input plane)` of every window tap.
pub(super) fn dense_taps(g: &Conv2dGeometry, p: &Plan) -> impl Iterator<Item = (usize, usize)> {
    let (k_w, w_in, kh0, kw0, tw) = (g.k_w, g.w_in, p.kh0, p.kw0, p.tw);
    (0..p.th).flat_map(move |i| (0..tw).map(move |j| ((kh0 + i) * k_w + kw0 + j, i * w_in + j)))
}

/// `y[b, co] = bias[co] + Σ_t W_t · X_t` for the `nb` samples of the chunk.
pub(super) fn dense_forward_chunk<T: CpuFloat>(
    g: &Conv2dGeometry,
    p: &Plan,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    y: &mut [T],
    nb: usize,
) {
    let taps = g.k_h * g.k_w;
    let plane = g.h_in * g.w_in;
    let (kernel, sample) = ((g.c_in * taps) as isize, (g.c_in * plane) as isize);
    for (t, (wo, xo)) in dense_taps(g, p).enumerate() {
        let beta = if t == 0 { T::zero() } else { T::one() };
        // C[co, b] = y[b·c_out + co].
        T::gemm(
            g.c_out,
            g.c_in,
            nb,
            T::one(),
            &w[wo..],
            kernel,
            taps as isize,
            &x[xo..],
            plane as isize,
            sample,
            beta,
            y,
            1,
            g.c_out as isize,
        );
    }
    if let Some(b) = bias {
        add_bias(y, b, 1);
    }
}

/// `gx[b, ci, i, j] = Σ_co w[co, ci, kh0 + i, kw0 + j] · gy[b, co]`: one tap per input pixel.
pub(super) fn dense_backward_input_chunk<T: CpuFloat>(
    g: &Conv2dGeometry,
    p: &Plan,
    gy: &[T],
    w: &[T],
    gx: &mut [T],
    nb: usize,
) {
    let taps = g.k_h * g.k_w;
    let plane = g.h_in * g.w_in;
    let (kernel, sample) = ((g.c_in * taps) as isize, (g.c_in * plane) as isize);
    for (wo, xo) in dense_taps(g, p) {
        // C[ci, b] = gx[b, ci, i, j] = Σ_co W_t[co, ci] · gy[b, co].
        T::gemm(
            g.c_in,
            g.c_out,
            nb,
            T::one(),
            &w[wo..],
            taps as isize,
            kernel,
            gy,
            1,
            g.c_out as isize,
            T::zero(),
            &mut gx[xo..],
            plane as isize,
            sample,
        );
    }
}

/// `acc[co, ci, kh0 + i, kw0 + j] += Σ_b gy[b, co] · x[b, ci, i, j]` (`acc` in OIHW layout;
/// taps outside the window are left untouched).
pub(super) fn dense_backward_weight_chunk<T: CpuFloat>(
    g: &Conv2dGeometry,
    p: &Plan,
    gy: &[T],
    x: &[T],
    acc: &mut [T],
    nb: usize,
) {
    let taps = g.k_h * g.k_w;
    let plane = g.h_in * g.w_in;
    let (kernel, sample) = ((g.c_in * taps) as isize, (g.c_in * plane) as isize);
    for (wo, xo) in dense_taps(g, p) {
        T::gemm(
            g.c_out,
            nb,
            g.c_in,
            T::one(),
            gy,
            1,
            g.c_out as isize,
            &x[xo..],
            sample,
            plane as isize,
            T::one(),
            &mut acc[wo..],
            kernel,
            taps as isize,
        );
    }
}
