//! [`AdaptiveAvgPool2d`]: average pooling to a fixed output size, whatever the input size.
//!
//! For input height `H` and output height `oh`, output row `i` averages input rows
//! `start_i = floor(i H / oh)` to `end_i = ceil((i + 1) H / oh)` (exclusive); likewise for
//! columns. So `y[n, c, i, j] = sum_{h in rows_i, w in cols_j} x[n, c, h, w] / (|rows_i| |cols_j|)`.
//!
//! Output `1 x 1` (the lesson's head) is the mean over `H` and `W`. Other sizes are one
//! matrix product `X P` of the input viewed as `[N C, H W]` with a constant pooling matrix
//! `P: [H W, oh ow]`, `P[(h, w), (i, j)] = [h in rows_i][w in cols_j] / (|rows_i| |cols_j|)`;
//! its gradient is `G P^T`.

use autograd::Var;
use tensor::{Result, Tensor, TensorError};

use crate::{Forward, Module, ModuleCore};

/// Adaptive average pooling of NCHW input to `[N, C, oh, ow]`.
#[derive(Debug, Module)]
pub struct AdaptiveAvgPool2d {
    out_h: usize,
    out_w: usize,
    core: ModuleCore,
}

impl AdaptiveAvgPool2d {
    /// Pools to `output_size x output_size` (`new(1)` is a global average pool).
    pub fn new(output_size: usize) -> Result<Self> {
        Self::with_size(output_size, output_size)
    }

    /// Pools to `out_h x out_w`.
    pub fn with_size(out_h: usize, out_w: usize) -> Result<Self> {
        if out_h == 0 || out_w == 0 {
            return Err(TensorError::InvalidArgument {
                op: "AdaptiveAvgPool2d",
                reason: format!("the output size must be at least 1x1, got {out_h}x{out_w}"),
            });
        }
        Ok(AdaptiveAvgPool2d {
            out_h,
            out_w,
            core: ModuleCore::default(),
        })
    }

    /// `(oh, ow)`.
    pub fn output_size(&self) -> (usize, usize) {
        (self.out_h, self.out_w)
    }
}

/// The half-open input range `[floor(i n / out), ceil((i + 1) n / out))` of output `i`.
pub fn adaptive_bin(i: usize, n: usize, out: usize) -> (usize, usize) {
    let start = i * n / out;
    let end = ((i + 1) * n).div_ceil(out);
    (start, end)
}

/// The pooling matrix `P: [h w, oh ow]` (see the module docs), as `f64` values.
fn pooling_matrix(h: usize, w: usize, oh: usize, ow: usize) -> Vec<f64> {
    let mut p = vec![0.0; h * w * oh * ow];
    for i in 0..oh {
        let (r0, r1) = adaptive_bin(i, h, oh);
        for j in 0..ow {
            let (c0, c1) = adaptive_bin(j, w, ow);
            let weight = 1.0 / ((r1 - r0) * (c1 - c0)) as f64;
            for r in r0..r1 {
                for c in c0..c1 {
                    p[(r * w + c) * (oh * ow) + i * ow + j] = weight;
                }
            }
        }
    }
    p
}

impl Forward for AdaptiveAvgPool2d {
    /// `x: [N, C, H, W] -> [N, C, oh, ow]` (`H, W >= 1`).
    fn forward(&self, x: &Var) -> Result<Var> {
        let shape = x.shape();
        let &[n, c, h, w] = shape.as_slice() else {
            return Err(TensorError::InvalidShape {
                op: "AdaptiveAvgPool2d",
                reason: format!("expected input [N, C, H, W], got {shape:?}"),
            });
        };
        if h == 0 || w == 0 {
            return Err(TensorError::EmptyDimension {
                op: "AdaptiveAvgPool2d",
                axis: if h == 0 { 2 } else { 3 },
            });
        }
        let (oh, ow) = (self.out_h, self.out_w);
        if (oh, ow) == (1, 1) {
            return x.mean(&[2, 3], true);
        }
        let (dtype, device) = (x.value_ref().dtype(), x.value_ref().device());
        let p = Tensor::from_f64_vec(
            pooling_matrix(h, w, oh, ow),
            &[h * w, oh * ow],
            dtype,
            device,
        )?;
        x.reshape(&[n * c, h * w])?
            .matmul(&Var::constant(p))?
            .reshape(&[n, c, oh, ow])
    }

    fn describe(&self) -> String {
        format!("AdaptiveAvgPool2d(({}, {}))", self.out_h, self.out_w)
    }
}
