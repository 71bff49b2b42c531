//! Convolution checks shared by the cuDNN run (`cuda_vs_cpu.rs`) and the im2col run
//! (`cuda_conv_im2col.rs`): each pass on the GPU against the CPU, within
//! `4 k u · (the same pass on absolute values)`, `k` the number of terms per output.

use proptest::prelude::*;
use tensor::ops::conv::conv2d_geometry;
use tensor::{Conv2dGeometry, DType, Tensor};

use super::{assert_bounded, gpu, randn, DTYPES};

/// `(batch, c_in, h, w, c_out, k_h, k_w, stride, padding)`.
pub type Case = (
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
);

/// Valid convolutions: batch 1..=3, odd and even sizes, strides 1..=3, padding 0..=2.
pub fn case() -> impl Strategy<Value = Case> {
    (
        1usize..=3,
        1usize..=4,
        1usize..=11,
        1usize..=11,
        1usize..=5,
        1usize..=4,
        1usize..=4,
        1usize..=3,
        0usize..=2,
    )
        .prop_filter(
            "the kernel must fit the padded input",
            |&(_, _, h, w, _, kh, kw, _, p)| h + 2 * p >= kh && w + 2 * p >= kw,
        )
}

fn inputs(c: Case, dtype: DType, seed: u64) -> (Tensor, Tensor, Tensor, Conv2dGeometry) {
    let (n, ci, h, w, co, kh, kw, s, p) = c;
    let x = randn(&[n, ci, h, w], dtype, seed);
    let wt = randn(&[co, ci, kh, kw], dtype, seed ^ 2);
    let b = randn(&[co], dtype, seed ^ 3);
    let g = conv2d_geometry(x.shape(), wt.shape(), s, p).unwrap();
    (x, wt, b, g)
}

fn output_gradient(g: &Conv2dGeometry, dtype: DType, seed: u64) -> Tensor {
    randn(&[g.batch, g.c_out, g.h_out, g.w_out], dtype, seed ^ 4)
}

pub fn check_forward(c: Case, bias: bool, seed: u64) {
    for dtype in DTYPES {
        let (x, w, b, g) = inputs(c, dtype, seed);
        let bg = gpu(&b);
        let want = x
            .conv2d(&w, bias.then_some(&b), g.stride, g.padding)
            .unwrap();
        let got = gpu(&x)
            .conv2d(&gpu(&w), bias.then_some(&bg), g.stride, g.padding)
            .unwrap();
        let mut bound = x
            .abs()
            .unwrap()
            .conv2d(&w.abs().unwrap(), None, g.stride, g.padding)
            .unwrap();
        if bias {
            bound = bound
                .add(&b.abs().unwrap().reshape(&[g.c_out, 1, 1]).unwrap())
                .unwrap();
        }
        let terms = (g.patch_len() + 1) as f64;
        assert_bounded(&format!("conv2d {g:?}"), &want, &got, &bound, 4.0 * terms);
    }
}

pub fn check_backward_input(c: Case, seed: u64) {
    for dtype in DTYPES {
        let (_, w, _, g) = inputs(c, dtype, seed);
        let dy = output_gradient(&g, dtype, seed);
        let want = dy.conv2d_backward_input(&w, &g).unwrap();
        let got = gpu(&dy).conv2d_backward_input(&gpu(&w), &g).unwrap();
        let bound = dy
            .abs()
            .unwrap()
            .conv2d_backward_input(&w.abs().unwrap(), &g)
            .unwrap();
        let terms = (g.c_out * g.k_h * g.k_w) as f64;
        assert_bounded(
            &format!("conv2d_backward_input {g:?}"),
            &want,
            &got,
            &bound,
            4.0 * terms,
        );
    }
}

pub fn check_backward_weight(c: Case, seed: u64) {
    for dtype in DTYPES {
        let (x, _, _, g) = inputs(c, dtype, seed);
        let dy = output_gradient(&g, dtype, seed);
        let want = dy.conv2d_backward_weight(&x, &g).unwrap();
        let got = gpu(&dy).conv2d_backward_weight(&gpu(&x), &g).unwrap();
        let bound = dy
            .abs()
            .unwrap()
            .conv2d_backward_weight(&x.abs().unwrap(), &g)
            .unwrap();
        let terms = (g.batch * g.h_out * g.w_out) as f64;
        assert_bounded(
            &format!("conv2d_backward_weight {g:?}"),
            &want,
            &got,
            &bound,
            4.0 * terms,
        );
    }
}

pub fn check_backward_bias(c: Case, seed: u64) {
    for dtype in DTYPES {
        let (_, _, _, g) = inputs(c, dtype, seed);
        let dy = output_gradient(&g, dtype, seed);
        let want = dy.conv2d_backward_bias(&g).unwrap();
        let got = gpu(&dy).conv2d_backward_bias(&g).unwrap();
        let bound = dy.abs().unwrap().conv2d_backward_bias(&g).unwrap();
        let terms = (g.batch * g.h_out * g.w_out) as f64;
        assert_bounded(
            &format!("conv2d_backward_bias {g:?}"),
            &want,
            &got,
            &bound,
            4.0 * terms,
        );
    }
}
