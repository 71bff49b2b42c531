//! Matrix products and convolution. `d(A B) = (G B^T, A^T G)`; convolution's backward
//! passes are the `tensor` crate's adjoint kernels.

use tensor::ops::conv::conv2d_geometry;
use tensor::Result;

use crate::Var;

impl Var {
    /// `self @ other` (2-D or batched 3-D).
    pub fn matmul(&self, other: &Var) -> Result<Var> {
        let (a, b) = (self.value(), other.value());
        let out = a.matmul(&b)?;
        let (need_a, need_b) = (self.requires_grad(), other.requires_grad());
        Ok(Var::from_fn(out, &[self, other], "matmul", move |g| {
            Ok(vec![
                if need_a {
                    Some(g.matmul_t(&b, false, true)?)
                } else {
                    None
                },
                if need_b {
                    Some(a.matmul_t(g, true, false)?)
                } else {
                    None
                },
            ])
        }))
    }

    /// 2-D convolution of `self` (`[N, C, H, W]`) with `weight` and an optional `bias`.
    pub fn conv2d(
        &self,
        weight: &Var,
        bias: Option<&Var>,
        stride: usize,
        padding: usize,
    ) -> Result<Var> {
        let (x, w) = (self.value(), weight.value());
        let b = bias.map(|b| b.value());
        let out = x.conv2d(&w, b.as_ref(), stride, padding)?;
        let geo = conv2d_geometry(x.shape(), w.shape(), stride, padding)?;
        let need_x = self.requires_grad();
        let need_w = weight.requires_grad();
        let need_b = bias.is_some_and(|b| b.requires_grad());
        let mut inputs = vec![self, weight];
        if let Some(b) = bias {
            inputs.push(b);
        }
        let with_bias = bias.is_some();
        Ok(Var::from_fn(out, &inputs, "conv2d", move |g| {
            let mut grads = vec![
                if need_x {
                    Some(g.conv2d_backward_input(&w, &geo)?)
                } else {
                    None
                },
                if need_w {
                    Some(g.conv2d_backward_weight(&x, &geo)?)
                } else {
                    None
                },
            ];
            if with_bias {
                grads.push(if need_b {
                    Some(g.conv2d_backward_bias(&geo)?)
                } else {
                    None
                });
            }
            Ok(grads)
        }))
    }
}
