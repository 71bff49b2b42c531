//! 2-D convolution (NCHW input, OIHW weight, square stride and padding, no groups) and its
//! three backward passes.
//!
//! `y[n,o,i,j] = b[o] + sum_{c,p,q} w[o,c,p,q] * x[n, c, i*s + p - pad, j*s + q - pad]`
//! (out-of-range input reads are zero). The backward passes are its adjoints:
//! `dx = conv_transpose(dy, w)`, `dw[o,c,p,q] = sum_{n,i,j} dy[n,o,i,j] x[n,c,i*s+p-pad,j*s+q-pad]`,
//! `db[o] = sum_{n,i,j} dy[n,o,i,j]`.

pub(crate) mod cpu;
#[cfg(feature = "cuda")]
pub(crate) mod cuda;
pub mod geometry;

pub use geometry::Conv2dGeometry;

use crate::{Result, Tensor, TensorError};

/// Convolution kernels a backend provides; arguments are validated by the callers.
pub trait ConvOps {
    /// The forward convolution, `[batch, c_out, h_out, w_out]`.
    fn conv2d(
        &self,
        g: &Conv2dGeometry,
        x: &Tensor,
        w: &Tensor,
        bias: Option<&Tensor>,
    ) -> Result<Tensor>;
    /// Gradient with respect to the input, `[batch, c_in, h_in, w_in]`.
    fn conv2d_backward_input(&self, g: &Conv2dGeometry, dy: &Tensor, w: &Tensor) -> Result<Tensor>;
    /// Gradient with respect to the weight, `[c_out, c_in, k_h, k_w]`.
    fn conv2d_backward_weight(&self, g: &Conv2dGeometry, dy: &Tensor, x: &Tensor)
        -> Result<Tensor>;
    /// Gradient with respect to the bias, `[c_out]`.
    fn conv2d_backward_bias(&self, g: &Conv2dGeometry, dy: &Tensor) -> Result<Tensor>;
}

/// Validates a convolution's operands and derives its geometry.
pub fn conv2d_geometry(
    x_shape: &[usize],
    w_shape: &[usize],
    stride: usize,
    padding: usize,
) -> Result<Conv2dGeometry> {
    let bad = |reason: String| TensorError::InvalidShape {
        op: "conv2d",
        reason,
    };
    let [batch, c_in, h_in, w_in] = *x_shape else {
        return Err(bad(format!("input must be [N, C, H, W], got {x_shape:?}")));
    };
    let [c_out, c_in_w, k_h, k_w] = *w_shape else {
        return Err(bad(format!(
            "weight must be [O, C, kH, kW], got {w_shape:?}"
        )));
    };
    if c_in != c_in_w {
        return Err(TensorError::ShapeMismatch {
            op: "conv2d",
            lhs: x_shape.to_vec(),
            rhs: w_shape.to_vec(),
        });
    }
    if stride == 0 {
        return Err(TensorError::InvalidArgument {
            op: "conv2d",
            reason: "stride must be at least 1".to_string(),
        });
    }
    for (axis, &d) in x_shape.iter().enumerate().chain(w_shape.iter().enumerate()) {
        if d == 0 {
            return Err(TensorError::EmptyDimension { op: "conv2d", axis });
        }
    }
    let h_out = Conv2dGeometry::out_size(h_in, k_h, stride, padding).ok_or_else(|| {
        bad(format!(
            "kernel {k_h} does not fit height {h_in} with padding {padding}"
        ))
    })?;
    let w_out = Conv2dGeometry::out_size(w_in, k_w, stride, padding).ok_or_else(|| {
        bad(format!(
            "kernel {k_w} does not fit width {w_in} with padding {padding}"
        ))
    })?;
    Ok(Conv2dGeometry {
        batch,
        c_in,
        h_in,
        w_in,
        c_out,
        k_h,
        k_w,
        stride,
        padding,
        h_out,
        w_out,
    })
}

impl Tensor {
    /// 2-D convolution of `self` (`[N, C, H, W]`) with `weight` (`[O, C, kH, kW]`) and an
    /// optional `bias` (`[O]`).
    pub fn conv2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        stride: usize,
        padding: usize,
    ) -> Result<Tensor> {
        self.check_compatible("conv2d", weight)?;
        let g = conv2d_geometry(self.shape(), weight.shape(), stride, padding)?;
        if let Some(b) = bias {
            self.check_compatible("conv2d", b)?;
            if b.shape() != [g.c_out] {
                return Err(TensorError::ShapeMismatch {
                    op: "conv2d bias",
                    lhs: b.shape().to_vec(),
                    rhs: vec![g.c_out],
                });
            }
        }
        crate::profile::lap("other", "glue", [0; 3]);
        let y = self.backend().conv2d(&g, self, weight, bias);
        crate::profile::lap("conv", "forward", g.layer_key());
        y
    }

    /// The input gradient of `conv2d` given the output gradient `self`.
    pub fn conv2d_backward_input(&self, weight: &Tensor, g: &Conv2dGeometry) -> Result<Tensor> {
        self.check_compatible("conv2d_backward_input", weight)?;
        check_dims(
            "conv2d_backward_input",
            self,
            &[g.batch, g.c_out, g.h_out, g.w_out],
        )?;
        check_dims(
            "conv2d_backward_input",
            weight,
            &[g.c_out, g.c_in, g.k_h, g.k_w],
        )?;
        crate::profile::lap("other", "glue", [0; 3]);
        let r = self.backend().conv2d_backward_input(g, self, weight);
        crate::profile::lap("conv", "backward-data", g.layer_key());
        r
    }

    /// The weight gradient of `conv2d` given the output gradient `self`.
    pub fn conv2d_backward_weight(&self, input: &Tensor, g: &Conv2dGeometry) -> Result<Tensor> {
        self.check_compatible("conv2d_backward_weight", input)?;
        check_dims(
            "conv2d_backward_weight",
            self,
            &[g.batch, g.c_out, g.h_out, g.w_out],
        )?;
        check_dims(
            "conv2d_backward_weight",
            input,
            &[g.batch, g.c_in, g.h_in, g.w_in],
        )?;
        crate::profile::lap("other", "glue", [0; 3]);
        let r = self.backend().conv2d_backward_weight(g, self, input);
        crate::profile::lap("conv", "backward-weight", g.layer_key());
        r
    }

    /// The bias gradient of `conv2d` given the output gradient `self`.
    pub fn conv2d_backward_bias(&self, g: &Conv2dGeometry) -> Result<Tensor> {
        check_dims(
            "conv2d_backward_bias",
            self,
            &[g.batch, g.c_out, g.h_out, g.w_out],
        )?;
        crate::profile::lap("other", "glue", [0; 3]);
        let r = self.backend().conv2d_backward_bias(g, self);
        crate::profile::lap("conv", "backward-bias", g.layer_key());
        r
    }
}

fn check_dims(op: &'static str, t: &Tensor, expected: &[usize]) -> Result<()> {
    if t.shape() != expected {
        return Err(TensorError::ShapeMismatch {
            op,
            lhs: t.shape().to_vec(),
            rhs: expected.to_vec(),
        });
    }
    Ok(())
}
