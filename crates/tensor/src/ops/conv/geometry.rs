//! The shape arithmetic of a 2-D convolution, shared by every backend.

/// Sizes of one `conv2d` call on NCHW input with an OIHW weight (no groups, no dilation).
///
/// `h_out = (h_in + 2*padding - k_h) / stride + 1`, likewise for widths.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv2dGeometry {
    pub batch: usize,
    pub c_in: usize,
    pub h_in: usize,
    pub w_in: usize,
    pub c_out: usize,
    pub k_h: usize,
    pub k_w: usize,
    pub stride: usize,
    pub padding: usize,
    pub h_out: usize,
    pub w_out: usize,
}

impl Conv2dGeometry {
    /// Output spatial size for one axis, `None` when the kernel does not fit.
    pub fn out_size(input: usize, kernel: usize, stride: usize, padding: usize) -> Option<usize> {
        let padded = padding.checked_mul(2)?.checked_add(input)?;
        if stride == 0 || kernel == 0 || padded < kernel {
            return None;
        }
        Some((padded - kernel) / stride + 1)
    }

    /// Elements in the input `[batch, c_in, h_in, w_in]`.
    pub fn input_len(&self) -> usize {
        self.batch * self.c_in * self.h_in * self.w_in
    }
    /// Elements in the weight `[c_out, c_in, k_h, k_w]`.
    pub fn weight_len(&self) -> usize {
        self.c_out * self.c_in * self.k_h * self.k_w
    }
    /// Elements in the output `[batch, c_out, h_out, w_out]`.
    pub fn output_len(&self) -> usize {
        self.batch * self.c_out * self.h_out * self.w_out
    }
    /// Rows of the im2col matrix: `c_in * k_h * k_w`.
    pub fn patch_len(&self) -> usize {
        self.c_in * self.k_h * self.k_w
    }
    /// `[c_in, c_out, k_h]`: names a layer in a profile (see [`crate::profile`]).
    pub fn layer_key(&self) -> [u32; 3] {
        let c = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        [c(self.c_in), c(self.c_out), c(self.k_h)]
    }
}
