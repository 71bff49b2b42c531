//! The pixel-lane input gradient: the phase classes of `phases.rs` on the pixel-lane
//! micro-kernel (`simd.rs`), for layers with few input channels (the lesson's 8→16 second
//! layer), where channel lanes would stay half empty.
//!
//! Within phase class `(φh, φw)` the input pixels are `(fh + s·i, fw + s·j)` for `i < eh`,
//! `j < ew`; their anchors are `(a0h + i, a0w + j)`, and step `(co, t, u)` reads the
//! zero-padded output gradient `gyp` at a fixed offset from the anchor
//! (`Phases::step_offset`). With positions `q = i·wp + j` along the padded plane's rows,
//!
//! ```text
//! gx[b, ci, fh + s·i, fw + s·j] = Σ_{co, t, u} w[co, ci, φh + s·t, φw + s·u] · gyp[b, base + step(co, t, u) + q]
//! ```
//!
//! with `base = a0h·wp + a0w`: consecutive `j` are consecutive lanes and the block rows
//! are input channels. Positions with `j ≥ ew` are computed and dropped; the kept ones are
//! then written to their stride-`s` places in `gx`. Every pixel sums the same terms in the
//! same order as the channel-lane engine (`direct.rs`), one fused multiply-add each, so
//! the two give identical bits.

use smallvec::SmallVec;

use super::phases::Phases;
use super::plan::{for_each_chunk, Plan};
use super::rows::interleave;
use super::scratch::{with_padded_tail, with_scratch, CALL_SCRATCH, CHUNK_SCRATCH, TABLE_SCRATCH};
use super::simd::{PixelGather, Simd, PR};
use crate::dtype::CpuFloat;
use crate::ops::conv::Conv2dGeometry;

/// One phase class of a call: where its pixels are and how much of the tables it owns.
#[derive(Clone, Copy, Debug)]
struct Class {
    phase: (usize, usize),
    /// Tap counts `(nt, nu)` along the two axes.
    taps: (usize, usize),
    /// First input row and column, and the class's extent `(eh, ew)`.
    first: (usize, usize),
    extent: (usize, usize),
    /// Offset of the first pixel's anchor in a padded plane: `a0h·wp + a0w`.
    base: usize,
    /// Positions computed per channel: `eh·wp`, rounded up to whole blocks.
    positions: usize,
    /// Where the class's results start in a sample's scratch.
    tmp_at: usize,
}

impl Class {
    fn new(ph: &Phases, phase: (usize, usize), block: usize) -> Self {
        let first = (ph.first(phase.0), ph.first(phase.1));
        let extent = ph.extent(phase);
        let (a0h, a0w) = ph.anchor(first.0, first.1);
        Class {
            phase,
            taps: ph.tap_counts(phase),
            first,
            extent,
            base: a0h * ph.shape.wp + a0w,
            positions: (extent.0 * ph.shape.wp).div_ceil(block) * block,
            tmp_at: 0,
        }
    }

    /// Steps `(co, t, u)` of the class.
    fn steps(&self, c_out: usize) -> usize {
        c_out * self.taps.0 * self.taps.1
    }

    /// Whether the class has pixels.
    fn is_empty(&self) -> bool {
        self.extent.0 == 0 || self.extent.1 == 0
    }
}

/// Input gradient on the pixel-lane kernel (see the module documentation).
pub(super) fn backward_input_pixels<T: CpuFloat>(
    g: &Conv2dGeometry,
    p: &Plan,
    simd: Simd,
    gy: &[T],
    w: &[T],
    gx: &mut [T],
) {
    let ph = Phases::new(g);
    let s = ph.stride();
    let block = simd.pixel_block_len::<T>();
    // Inline for strides up to 2 (no allocation on the lesson's layers).
    let mut classes: SmallVec<[Class; 4]> =
        ph.classes().map(|c| Class::new(&ph, c, block)).collect();
    let blocks = g.c_in.div_ceil(PR);
    let mut tmp_len = 0;
    for c in &mut classes {
        c.tmp_at = tmp_len;
        tmp_len += blocks * PR * c.positions;
    }
    let taps = g.k_h * g.k_w;
    let plane = g.h_in * g.w_in;
    let in_len = g.c_in * plane;
    let out_len = g.c_out * p.spatial;
    let gplane = ph.shape.hp * ph.shape.wp;
    let steps: usize = classes.iter().map(|c| c.steps(g.c_out)).sum();
    // Reads of the last sample's dropped positions may run past its planes: the farthest
    // is `base + positions` plus the largest step offset, `(c_out − 1)·gplane + th·wp + tw`.
    let reach = classes
        .iter()
        .map(|c| c.base + c.positions)
        .max()
        .unwrap_or(0);
    let tail = (reach + ph.th * ph.shape.wp + ph.tw).saturating_sub(gplane);
    with_scratch::<usize, ()>(&TABLE_SCRATCH, steps, |offs| {
        with_scratch::<T, ()>(&CALL_SCRATCH, blocks * steps * PR, |panel| {
            // Class by class: offs[(co, t, u)] = step_offset(co, t, u);
            // panel[rb][(co, t, u)][r] = w[co, rb·PR + r, φh + s·t, φw + s·u] (zero past c_in).
            let (mut ot, mut pt) = (0, 0);
            for c in &classes {
                let l = c.steps(g.c_out);
                let (nt, nu) = c.taps;
                let mut i = 0;
                for co in 0..g.c_out {
                    for t in 0..nt {
                        for u in 0..nu {
                            offs[ot + i] = ph.step_offset(co, t, u);
                            let tap = (c.phase.0 + s * t) * g.k_w + c.phase.1 + s * u;
                            for rb in 0..blocks {
                                let row = &mut panel[pt + (rb * l + i) * PR..][..PR];
                                for (r, d) in row.iter_mut().enumerate() {
                                    let ci = rb * PR + r;
                                    *d = if ci < g.c_in {
                                        w[(co * g.c_in + ci) * taps + tap]
                                    } else {
                                        T::zero()
                                    };
                                }
                            }
                            i += 1;
                        }
                    }
                }
                ot += l;
                pt += blocks * l * PR;
            }
            let (offs, panel) = (&*offs, &*panel);
            for_each_chunk(gx, p.nb * in_len, p.parallel, |chunk, gxc| {
                let nb = gxc.len() / in_len;
                let gyc = &gy[chunk * p.nb * out_len..][..nb * out_len];
                with_padded_tail(&ph.shape, gyc, tail, |gyp| {
                    // Each class's steps and panel, and its gather over the chunk's planes.
                    let mut parts: SmallVec<[_; 4]> = SmallVec::new();
                    let (mut ot, mut pt) = (0, 0);
                    for c in &classes {
                        let l = c.steps(g.c_out);
                        let gather = PixelGather::new(simd, gyp, &offs[ot..ot + l]);
                        parts.push((gather, &panel[pt..pt + blocks * l * PR]));
                        (ot, pt) = (ot + l, pt + blocks * l * PR);
                    }
                    with_scratch::<T, ()>(&CHUNK_SCRATCH, tmp_len, |tmp| {
                        for (b, gxb) in gxc.chunks_exact_mut(in_len).enumerate() {
                            let sample = b * g.c_out * gplane;
                            for (c, (gather, cp)) in classes.iter().zip(&parts) {
                                let (l, n) = (c.steps(g.c_out), c.positions);
                                let tc = &mut tmp[c.tmp_at..][..blocks * PR * n];
                                if c.is_empty() {
                                    continue;
                                }
                                if l == 0 {
                                    // No tap reaches these pixels (stride larger than the kernel).
                                    tc.fill(T::zero());
                                    continue;
                                }
                                let start = sample + c.base;
                                for (pb, tb) in
                                    cp.chunks_exact(l * PR).zip(tc.chunks_exact_mut(PR * n))
                                {
                                    for q0 in (0..n).step_by(block) {
                                        gather.block_into(start + q0, pb, &mut tb[q0..], n);
                                    }
                                }
                            }
                            write_sample(g, simd, &ph, &classes, tmp, gxb);
                        }
                    });
                });
            });
        });
    });
}

/// Writes one sample's results, `tmp[tmp_at + ci·positions + i·wp + j]` of every class
/// (`i < eh`, `j < ew`), to `gx[ci, fh + s·i, fw + s·j]`, one input row at a time: the
/// classes of a row phase share their rows, and each fills every `s`-th element of them.
fn write_sample<T: CpuFloat>(
    g: &Conv2dGeometry,
    simd: Simd,
    ph: &Phases,
    classes: &[Class],
    tmp: &[T],
    gx: &mut [T],
) {
    let s = ph.stride();
    let wp = ph.shape.wp;
    for (ci, dst) in gx.chunks_exact_mut(g.h_in * g.w_in).enumerate() {
        for row_phase in classes.chunks_exact(s) {
            let (fh, eh) = (row_phase[0].first.0, row_phase[0].extent.0);
            for i in 0..eh {
                let out = &mut dst[(fh + s * i) * g.w_in..][..g.w_in];
                let row = |c: &Class| &tmp[c.tmp_at + ci * c.positions + i * wp..][..c.extent.1];
                if let [c0, c1] = row_phase {
                    // Stride 2: the two column classes interleave.
                    let (even, odd) = if c0.first.1 == 0 { (c0, c1) } else { (c1, c0) };
                    interleave(simd, row(even), row(odd), out);
                } else {
                    for c in row_phase {
                        for (j, &v) in row(c).iter().enumerate() {
                            out[c.first.1 + s * j] = v;
                        }
                    }
                }
            }
        }
    }
}
