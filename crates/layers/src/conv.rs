//! [`Conv2d`]: a 2-D convolution layer over NCHW input.
//!
//! With weight `w: [nf, ni, k, k]`, optional bias `b: [nf]`, stride `s` and zero padding `p`:
//!
//! `y[n, o, i, j] = b[o] + sum_{c < ni, u < k, v < k} w[o, c, u, v] x[n, c, i s + u - p, j s + v - p]`
//!
//! (reads outside the input are zero), with output size `floor((H + 2p - k) / s) + 1` per
//! spatial axis. Gradients come from `autograd`'s `conv2d`.

use autograd::Var;
use rand::Rng;
use tensor::{DType, Device, Result, Tensor, TensorError};

use crate::init::pytorch_default_;
use crate::{Forward, Module, ModuleCore};

/// A 2-D convolution with square kernel, stride and padding (no groups, no dilation).
/// Parameters: `weight` `[nf, ni, k, k]` and, when enabled, `bias` `[nf]`.
#[derive(Debug, Module)]
pub struct Conv2d {
    #[param]
    weight: Var,
    #[param]
    bias: Option<Var>,
    stride: usize,
    padding: usize,
    core: ModuleCore,
}

impl Conv2d {
    /// An `f32` convolution from `ni` to `nf` channels with PyTorch's default initialisation
    /// (weight and bias from `U(-1/sqrt(fan_in), 1/sqrt(fan_in))`, `fan_in = ni k^2`).
    pub fn new<R: Rng + ?Sized>(
        ni: usize,
        nf: usize,
        ks: usize,
        stride: usize,
        padding: usize,
        bias: bool,
        rng: &mut R,
    ) -> Result<Self> {
        for (what, v) in [("ni", ni), ("nf", nf), ("ks", ks), ("stride", stride)] {
            if v == 0 {
                return Err(TensorError::InvalidArgument {
                    op: "Conv2d::new",
                    reason: format!("{what} must be at least 1"),
                });
            }
        }
        let weight = Var::parameter(Tensor::zeros(&[nf, ni, ks, ks], DType::F32, Device::Cpu)?);
        let bias = if bias {
            Some(Var::parameter(Tensor::zeros(
                &[nf],
                DType::F32,
                Device::Cpu,
            )?))
        } else {
            None
        };
        pytorch_default_(&weight, bias.as_ref(), rng)?;
        Self::from_parts(weight, bias, stride, padding)
    }

    /// A convolution around existing parameters (shared, not copied): `weight` must be
    /// `[nf, ni, kh, kw]` and `bias`, if any, `[nf]` with the weight's dtype and device.
    pub fn from_parts(
        weight: Var,
        bias: Option<Var>,
        stride: usize,
        padding: usize,
    ) -> Result<Self> {
        let shape = weight.shape();
        if shape.len() != 4 || shape.contains(&0) {
            return Err(TensorError::InvalidShape {
                op: "Conv2d",
                reason: format!("the weight must be a non-empty [nf, ni, kh, kw], got {shape:?}"),
            });
        }
        if let Some(b) = &bias {
            weight
                .value_ref()
                .check_compatible("Conv2d", &b.value_ref())?;
            if b.shape() != [shape[0]] {
                return Err(TensorError::ShapeMismatch {
                    op: "Conv2d bias",
                    lhs: b.shape(),
                    rhs: vec![shape[0]],
                });
            }
        }
        if stride == 0 {
            return Err(TensorError::InvalidArgument {
                op: "Conv2d",
                reason: "stride must be at least 1".to_string(),
            });
        }
        Ok(Conv2d {
            weight,
            bias,
            stride,
            padding,
            core: ModuleCore::default(),
        })
    }

    /// The weight `[nf, ni, kh, kw]`.
    pub fn weight(&self) -> &Var {
        &self.weight
    }

    /// The bias `[nf]`, if the layer has one.
    pub fn bias(&self) -> Option<&Var> {
        self.bias.as_ref()
    }

    /// Input channels `ni`.
    pub fn in_channels(&self) -> usize {
        self.weight.dims()[1]
    }

    /// Output channels `nf`.
    pub fn out_channels(&self) -> usize {
        self.weight.dims()[0]
    }

    /// Kernel size `(kh, kw)`.
    pub fn kernel_size(&self) -> (usize, usize) {
        let s = self.weight.shape();
        (s[2], s[3])
    }

    /// The stride.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// The zero padding on each side.
    pub fn padding(&self) -> usize {
        self.padding
    }
}

impl Forward for Conv2d {
    /// `x: [N, ni, H, W] -> [N, nf, H', W']`; a typed error for any other input rank or
    /// channel count.
    fn forward(&self, x: &Var) -> Result<Var> {
        let shape = x.dims();
        let ni = self.in_channels();
        if shape.len() != 4 || shape[1] != ni {
            return Err(TensorError::InvalidShape {
                op: "Conv2d",
                reason: format!("expected input [N, {ni}, H, W] ({ni} channels), got {shape:?}"),
            });
        }
        x.conv2d(&self.weight, self.bias.as_ref(), self.stride, self.padding)
    }

    fn describe(&self) -> String {
        let (kh, kw) = self.kernel_size();
        let ks = if kh == kw {
            kh.to_string()
        } else {
            format!("({kh}, {kw})")
        };
        format!(
            "Conv2d({}, {}, ks={ks}, stride={}, padding={}, bias={})",
            self.in_channels(),
            self.out_channels(),
            self.stride,
            self.padding,
            self.bias.is_some()
        )
    }
}
