//! The stride's phase classes of the input gradient, shared by the direct engines.
//!
//! With stride `s` and padding `p`, input pixel `(ih, iw)` is reached by kernel row `kh`
//! only when `kh ≡ ih + p (mod s)`, from output row `oh = (ih + p − kh)/s`. So the input
//! pixels fall into `s × s` classes by `((ih + p) mod s, (iw + p) mod s)`; within class
//! `(ph, pw)` the taps are `kh = ph + s·t`, `kw = pw + s·u`, and they reach output pixel
//! `(ah − t, aw − u)` with the pixel's *anchor* `(ah, aw) = ((ih + p)/s, (iw + p)/s)`: a fixed
//! offset from the anchor in an output gradient zero-padded by `th = (k_h − 1)/s` rows on
//! top and `tw = (k_w − 1)/s` columns on the left (so `ah − t + th` never goes negative).

use super::lowering::PadShape;
use crate::ops::conv::Conv2dGeometry;

/// The phase classes of one geometry's input gradient.
#[derive(Clone, Copy, Debug)]
pub(super) struct Phases {
    s: usize,
    pad: usize,
    k_h: usize,
    k_w: usize,
    h_in: usize,
    w_in: usize,
    /// Padding rows above / columns left of the output gradient.
    pub(super) th: usize,
    pub(super) tw: usize,
    /// The zero-padded output gradient's planes.
    pub(super) shape: PadShape,
}

impl Phases {
    pub(super) fn new(g: &Conv2dGeometry) -> Self {
        let s = g.stride;
        let (th, tw) = ((g.k_h - 1) / s, (g.k_w - 1) / s);
        let qh = (g.h_in - 1 + g.padding) / s + 1;
        let qw = (g.w_in - 1 + g.padding) / s + 1;
        let shape = PadShape {
            h: g.h_out,
            w: g.w_out,
            top: th,
            left: tw,
            hp: qh.max(g.h_out) + th,
            wp: qw.max(g.w_out) + tw,
        };
        Phases {
            s,
            pad: g.padding,
            k_h: g.k_h,
            k_w: g.k_w,
            h_in: g.h_in,
            w_in: g.w_in,
            th,
            tw,
            shape,
        }
    }

    /// Every class `(ph, pw)`, row-major.
    pub(super) fn classes(&self) -> impl Iterator<Item = (usize, usize)> + Clone {
        let s = self.s;
        (0..s).flat_map(move |ph| (0..s).map(move |pw| (ph, pw)))
    }

    /// Taps of a class along an axis of `k` taps: `phase + s·t` for `t < count`.
    fn taps(&self, phase: usize, k: usize) -> usize {
        if phase < k {
            (k - phase).div_ceil(self.s)
        } else {
            0
        }
    }

    /// Kernel taps `(t, u)` of class `c` along the two axes.
    pub(super) fn tap_counts(&self, (ph, pw): (usize, usize)) -> (usize, usize) {
        (self.taps(ph, self.k_h), self.taps(pw, self.k_w))
    }

    /// First input index of a class along an axis: the smallest `i ≡ phase − p (mod s)`.
    pub(super) fn first(&self, phase: usize) -> usize {
        (phase + self.s - self.pad % self.s) % self.s
    }

    /// Input indices of a class along an axis of `n`: `first + s·a` for `a < positions`.
    fn positions(&self, phase: usize, n: usize) -> usize {
        let f = self.first(phase);
        if f < n {
            (n - f).div_ceil(self.s)
        } else {
            0
        }
    }

    /// Input rows and columns of class `c`.
    pub(super) fn extent(&self, (ph, pw): (usize, usize)) -> (usize, usize) {
        (self.positions(ph, self.h_in), self.positions(pw, self.w_in))
    }

    /// Anchor `(ah, aw)` of input pixel `(ih, iw)`.
    pub(super) fn anchor(&self, ih: usize, iw: usize) -> (usize, usize) {
        ((ih + self.pad) / self.s, (iw + self.pad) / self.s)
    }

    /// Offset of step `(co, t, u)` from an anchor in the padded output gradient.
    pub(super) fn step_offset(&self, co: usize, t: usize, u: usize) -> usize {
        let gplane = self.shape.hp * self.shape.wp;
        co * gplane + (self.th - t) * self.shape.wp + (self.tw - u)
    }

    /// The stride.
    pub(super) fn stride(&self) -> usize {
        self.s
    }
}
