//! 2-D convolution (cross-correlation, as in PyTorch) and its adjoints, by direct loops.
//!
//! Input `x` is `[N, C, H, W]`, weight `w` is `[O, C, KH, KW]`, output `y` is
//! `[N, O, HO, WO]` with `HO = (H + 2 P - KH) / S + 1` (floor), likewise `WO`:
//!
//! `y[n,o,i,j] = b[o] + sum_{c,p,q} w[o,c,p,q] x[n, c, i S + p - P, j S + q - P]`,
//!
//! where reads outside the input (the zero padding) contribute nothing. The adjoints for an
//! upstream gradient `dy` follow by scattering each product term:
//! `dx[x_idx] += dy[y_idx] w[w_idx]`, `dw[w_idx] += dy[y_idx] x[x_idx]`,
//! `db[o] = sum_{n,i,j} dy[n,o,i,j]`.

use crate::{check_len, OracleError, Result};

/// The geometry of one convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvShape {
    /// `N`.
    pub batch: usize,
    /// `C`.
    pub c_in: usize,
    /// `H`.
    pub h_in: usize,
    /// `W`.
    pub w_in: usize,
    /// `O`.
    pub c_out: usize,
    /// `KH`.
    pub k_h: usize,
    /// `KW`.
    pub k_w: usize,
    /// `S` (both directions).
    pub stride: usize,
    /// `P` (both directions).
    pub padding: usize,
}

impl ConvShape {
    /// The geometry of `x: [N, C, H, W]` convolved with `w: [O, C, KH, KW]`; an error when
    /// the channels differ, the stride is 0 or the kernel does not fit the padded input.
    pub fn new(x: [usize; 4], w: [usize; 4], stride: usize, padding: usize) -> Result<Self> {
        let [batch, c_in, h_in, w_in] = x;
        let [c_out, c_w, k_h, k_w] = w;
        if c_w != c_in {
            return Err(OracleError::Shape(format!(
                "conv: input has {c_in} channels, weight {c_w}"
            )));
        }
        if stride == 0 {
            return Err(OracleError::Shape("conv: stride 0".into()));
        }
        if h_in + 2 * padding < k_h || w_in + 2 * padding < k_w {
            return Err(OracleError::Shape(format!(
                "conv: kernel {k_h}x{k_w} larger than the padded input {h_in}x{w_in} + 2*{padding}"
            )));
        }
        Ok(ConvShape {
            batch,
            c_in,
            h_in,
            w_in,
            c_out,
            k_h,
            k_w,
            stride,
            padding,
        })
    }

    /// `HO = (H + 2 P - KH) / S + 1`.
    pub fn h_out(&self) -> usize {
        (self.h_in + 2 * self.padding - self.k_h) / self.stride + 1
    }

    /// `WO = (W + 2 P - KW) / S + 1`.
    pub fn w_out(&self) -> usize {
        (self.w_in + 2 * self.padding - self.k_w) / self.stride + 1
    }

    /// `[N, C, H, W]`.
    pub fn x_shape(&self) -> [usize; 4] {
        [self.batch, self.c_in, self.h_in, self.w_in]
    }

    /// `[O, C, KH, KW]`.
    pub fn w_shape(&self) -> [usize; 4] {
        [self.c_out, self.c_in, self.k_h, self.k_w]
    }

    /// `[N, O, HO, WO]`.
    pub fn y_shape(&self) -> [usize; 4] {
        [self.batch, self.c_out, self.h_out(), self.w_out()]
    }

    /// Elements of `x`.
    pub fn x_len(&self) -> usize {
        self.x_shape().iter().product()
    }

    /// Elements of `w`.
    pub fn w_len(&self) -> usize {
        self.w_shape().iter().product()
    }

    /// Elements of `y`.
    pub fn y_len(&self) -> usize {
        self.y_shape().iter().product()
    }

    /// Calls `f(x_index, w_index, y_index)` once for every product term
    /// `w[w_index] x[x_index]` of the defining sum of `y[y_index]` (padding reads skipped).
    pub fn for_each_tap(&self, mut f: impl FnMut(usize, usize, usize)) {
        let (ho, wo) = (self.h_out(), self.w_out());
        for n in 0..self.batch {
            for o in 0..self.c_out {
                for i in 0..ho {
                    for j in 0..wo {
                        let yi = ((n * self.c_out + o) * ho + i) * wo + j;
                        for c in 0..self.c_in {
                            for p in 0..self.k_h {
                                for q in 0..self.k_w {
                                    let r = (i * self.stride + p) as isize - self.padding as isize;
                                    let s = (j * self.stride + q) as isize - self.padding as isize;
                                    if r < 0
                                        || s < 0
                                        || r >= self.h_in as isize
                                        || s >= self.w_in as isize
                                    {
                                        continue;
                                    }
                                    let xi = ((n * self.c_in + c) * self.h_in + r as usize)
                                        * self.w_in
                                        + s as usize;
                                    let wi = ((o * self.c_in + c) * self.k_h + p) * self.k_w + q;
                                    f(xi, wi, yi);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The output channel of flat output index `yi`.
    fn channel_of(&self, yi: usize) -> usize {
        (yi / (self.h_out() * self.w_out())) % self.c_out
    }
}

/// The forward convolution (see the module docs); `bias`, when given, has `O` values.
pub fn conv2d(s: &ConvShape, x: &[f64], w: &[f64], bias: Option<&[f64]>) -> Result<Vec<f64>> {
    check_len("conv input", x, s.x_len())?;
    check_len("conv weight", w, s.w_len())?;
    let mut y: Vec<f64> = match bias {
        Some(b) => {
            check_len("conv bias", b, s.c_out)?;
            (0..s.y_len()).map(|yi| b[s.channel_of(yi)]).collect()
        }
        None => vec![0.0; s.y_len()],
    };
    s.for_each_tap(|xi, wi, yi| y[yi] += w[wi] * x[xi]);
    Ok(y)
}

/// The three adjoints of [`conv2d`] for an upstream gradient `dy`.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvGrads {
    /// `dL/dx`, shaped like `x`.
    pub dx: Vec<f64>,
    /// `dL/dw`, shaped like `w`.
    pub dw: Vec<f64>,
    /// `dL/db`, `O` values.
    pub db: Vec<f64>,
}

/// The gradients of `L = sum dy * conv2d(x, w, b)` with respect to `x`, `w` and `b`.
pub fn conv2d_backward(s: &ConvShape, x: &[f64], w: &[f64], dy: &[f64]) -> Result<ConvGrads> {
    check_len("conv input", x, s.x_len())?;
    check_len("conv weight", w, s.w_len())?;
    check_len("conv output gradient", dy, s.y_len())?;
    let mut g = ConvGrads {
        dx: vec![0.0; s.x_len()],
        dw: vec![0.0; s.w_len()],
        db: vec![0.0; s.c_out],
    };
    s.for_each_tap(|xi, wi, yi| {
        g.dx[xi] += dy[yi] * w[wi];
        g.dw[wi] += dy[yi] * x[xi];
    });
    for (yi, v) in dy.iter().enumerate() {
        g.db[s.channel_of(yi)] += v;
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_2x2_input_3x3_kernel_stride_2_padding_1() {
        // Padded input [[0 0 0 0], [0 1 2 0], [0 3 4 0]]: the one output window meets
        // x[i][j] through w[1 + i][1 + j]: 1*5 + 2*6 + 3*8 + 4*9 = 77, plus the bias.
        let s = ConvShape::new([1, 1, 2, 2], [1, 1, 3, 3], 2, 1).unwrap();
        assert_eq!(s.y_shape(), [1, 1, 1, 1]);
        let x = [1.0, 2.0, 3.0, 4.0];
        let w: Vec<f64> = (1..=9).map(f64::from).collect();
        assert_eq!(conv2d(&s, &x, &w, Some(&[0.5])).unwrap(), [77.5]);
        assert_eq!(conv2d(&s, &x, &w, None).unwrap(), [77.0]);
        // dy = 2: dx[i][j] = 2 w[1 + i][1 + j], dw = 2 x placed at rows/cols 1..3, db = 2.
        let g = conv2d_backward(&s, &x, &w, &[2.0]).unwrap();
        assert_eq!(g.dx, [10.0, 12.0, 16.0, 18.0]);
        assert_eq!(g.dw, [0.0, 0.0, 0.0, 0.0, 2.0, 4.0, 0.0, 6.0, 8.0]);
        assert_eq!(g.db, [2.0]);
    }

    #[test]
    fn hand_computed_stride_1_all_ones_kernel_and_two_channels() {
        // 3x3 input 1..9, all-ones 3x3 kernel, stride 1, padding 1: each output is the sum
        // of the pixel's neighbourhood, e.g. the corner 1 + 2 + 4 + 5 = 12, the centre 45.
        let s = ConvShape::new([1, 1, 3, 3], [2, 1, 3, 3], 1, 1).unwrap();
        let x: Vec<f64> = (1..=9).map(f64::from).collect();
        // Second output channel: the kernel is 1 only at its centre (a copy of x).
        let mut w = vec![1.0; 9];
        w.extend((0..9).map(|i| if i == 4 { 1.0 } else { 0.0 }));
        let y = conv2d(&s, &x, &w, Some(&[0.0, -1.0])).unwrap();
        let sums = [12.0, 21.0, 16.0, 27.0, 45.0, 33.0, 24.0, 39.0, 28.0];
        assert_eq!(y[..9], sums);
        assert_eq!(y[9..], x.iter().map(|v| v - 1.0).collect::<Vec<_>>()[..]);
        // dy = 1 on channel 0 only: dx counts the windows covering each pixel.
        let mut dy = vec![1.0; 9];
        dy.extend([0.0; 9]);
        let g = conv2d_backward(&s, &x, &w, &dy).unwrap();
        assert_eq!(g.dx, [4.0, 6.0, 4.0, 6.0, 9.0, 6.0, 4.0, 6.0, 4.0]);
        // dw[0][p][q] = sum of the pixels that tap (p, q) reads: the centre tap reads all.
        assert_eq!(g.dw[4], 45.0);
        assert_eq!(g.dw[0], 1.0 + 2.0 + 4.0 + 5.0);
        assert_eq!(g.dw[9..], [0.0; 9]);
        assert_eq!(g.db, [9.0, 0.0]);
    }

    #[test]
    fn taps_reading_only_padding_and_bad_shapes() {
        // 1x1 input, 1x1 kernel, stride 2, padding 1: a 2x2 output; (0, 0) reads input
        // (-1, -1) and (1, 1) reads (1, 1): every read is padding, so y = bias.
        let s = ConvShape::new([1, 1, 1, 1], [2, 1, 1, 1], 2, 1).unwrap();
        assert_eq!(s.y_shape(), [1, 2, 2, 2]);
        let y = conv2d(&s, &[7.0], &[3.0, -2.0], Some(&[0.5, -1.5])).unwrap();
        assert_eq!(y, [0.5, 0.5, 0.5, 0.5, -1.5, -1.5, -1.5, -1.5]);
        let dy: Vec<f64> = (1..=8).map(f64::from).collect();
        let g = conv2d_backward(&s, &[7.0], &[3.0, -2.0], &dy).unwrap();
        assert_eq!(
            (g.dx, g.dw, g.db),
            (vec![0.0], vec![0.0, 0.0], vec![10.0, 26.0])
        );
        assert!(ConvShape::new([1, 2, 3, 3], [1, 1, 3, 3], 1, 0).is_err());
        assert!(ConvShape::new([1, 1, 2, 2], [1, 1, 5, 5], 1, 1).is_err());
        assert!(ConvShape::new([1, 1, 2, 2], [1, 1, 1, 1], 0, 0).is_err());
        assert!(conv2d(&s, &[7.0, 1.0], &[3.0, -2.0], None).is_err());
    }
}
