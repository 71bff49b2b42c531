//! The pixel-lane engine: the forward pass on the pixel-lane micro-kernel (`simd.rs`),
//! whose SIMD lanes run over consecutive output positions and whose block rows are output
//! channels. For layers with few output channels, where channel lanes would stay mostly
//! empty: the lesson's 1→8 first layer.
//!
//! The chunk's zero-padded input is split into the stride's `s × s` *phase planes*,
//! `xs[b, ci, α, β, i, j] = xpad[b, ci, s·i + α, s·j + β]` (`hq × wq` each). Tap `(kh, kw)`
//! of output pixel `(oh, ow)` then reads phase plane `(kh mod s, kw mod s)` at
//! `(oh + kh/s, ow + kw/s)`: with positions `q = oh·wq + ow`, every tap is one fixed offset
//! from `q`, so consecutive output pixels of a row are consecutive lanes. Positions with
//! `ow ≥ w_out` are computed and dropped.
//!
//! Each output sums the same terms in the same order as the channel-lane engine
//! (`direct.rs`), one fused multiply-add each, so the two give identical bits.
//!
//! The input gradient runs on the same micro-kernel in `pixel_input.rs`, with AVX-512F
//! only: on a 2-core AVX2 machine it measured slower than the GEMM path for the 8→16 layer
//! (2.7-3.1 ms against 2.0-2.6 ms at bs 512, the scatter to stride-`s` places costing as
//! much as the arithmetic); with AVX-512F and a permute-based interleave it is about twice
//! as fast as the GEMM path there.

use super::lowering::PadShape;
use super::plan::{for_each_chunk, Plan};
use super::rows::{copy_plus, every_second};
use super::scratch::{with_bordered, with_scratch, CALL_SCRATCH, CHUNK_SCRATCH, TABLE_SCRATCH};
use super::simd::{PixelGather, Simd, PR};
use crate::dtype::CpuFloat;
use crate::ops::conv::Conv2dGeometry;

/// The stride-phase planes of one call: `s × s` planes of `hq × wq` per input channel.
#[derive(Clone, Copy, Debug)]
pub(super) struct PhasePlanes {
    /// Plane height and width: `ceil(hp / s)`, `ceil(wp / s)`.
    pub(super) hq: usize,
    pub(super) wq: usize,
    /// Elements of one sample's planes: `c_in·s²·hq·wq`.
    pub(super) sample_len: usize,
}

impl PhasePlanes {
    pub(super) fn new(g: &Conv2dGeometry, p: &Plan) -> Self {
        let s = g.stride;
        let (hq, wq) = (p.hp.div_ceil(s), p.wp.div_ceil(s));
        PhasePlanes {
            hq,
            wq,
            sample_len: g.c_in * s * s * hq * wq,
        }
    }

    /// Writes, for every window tap `(ci, kh0 + i, kw0 + j)` in order, where the tap sits
    /// from position `q = oh·wq + ow` in a sample's phase planes:
    /// `((ci·s + kh mod s)·s + kw mod s)·hq·wq + (kh / s)·wq + kw / s`.
    pub(super) fn tap_offsets(&self, g: &Conv2dGeometry, p: &Plan, offs: &mut [usize]) {
        let s = g.stride;
        let plane = self.hq * self.wq;
        let mut out = offs.iter_mut();
        for ci in 0..g.c_in {
            for kh in p.kh0..p.kh0 + p.th {
                for kw in p.kw0..p.kw0 + p.tw {
                    if let Some(o) = out.next() {
                        let phase = (ci * s + kh % s) * s + kw % s;
                        *o = phase * plane + (kh / s) * self.wq + kw / s;
                    }
                }
            }
        }
    }
}

/// Forward pass on the pixel-lane kernel (see the module documentation).
pub(super) fn forward_pixels<T: CpuFloat>(
    g: &Conv2dGeometry,
    p: &Plan,
    simd: Simd,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    y: &mut [T],
) {
    let planes = PhasePlanes::new(g, p);
    let (wq, sample_len) = (planes.wq, planes.sample_len);
    let block = simd.pixel_block_len::<T>();
    let qpad = (g.h_out * wq).div_ceil(block) * block;
    let k = p.k_eff;
    let (taps, kernel) = (g.k_h * g.k_w, g.c_in * g.k_h * g.k_w);
    let blocks = g.c_out.div_ceil(PR);
    let in_len = g.c_in * g.h_in * g.w_in;
    let out_len = g.c_out * p.spatial;
    with_scratch::<usize, ()>(&TABLE_SCRATCH, k, |offs| {
        with_scratch::<T, ()>(&CALL_SCRATCH, blocks * k * PR, |panel| {
            // offs: the phase-plane offset of every window tap;
            // panel[rb][(ci, i, j)][r] = w[rb·PR + r, ci, kh, kw] (zero past c_out).
            planes.tap_offsets(g, p, offs);
            let mut l = 0;
            for ci in 0..g.c_in {
                for kh in p.kh0..p.kh0 + p.th {
                    for kw in p.kw0..p.kw0 + p.tw {
                        for (rb, pb) in panel.chunks_exact_mut(k * PR).enumerate() {
                            for (r, d) in pb[l * PR..][..PR].iter_mut().enumerate() {
                                let co = rb * PR + r;
                                *d = if co < g.c_out {
                                    w[co * kernel + ci * taps + kh * g.k_w + kw]
                                } else {
                                    T::zero()
                                };
                            }
                        }
                        l += 1;
                    }
                }
            }
            let (offs, panel) = (&*offs, &*panel);
            for_each_chunk(y, p.nb * out_len, p.parallel, |chunk, yc| {
                let nb = yc.len() / out_len;
                let xc = &x[chunk * p.nb * in_len..][..nb * in_len];
                // Phase planes of the chunk, then `qpad` elements that the last sample's
                // dropped positions may read.
                with_phase_planes(g, p, xc, qpad, |xs| {
                    with_scratch::<T, ()>(&CHUNK_SCRATCH, blocks * PR * qpad, |tmp| {
                        for (b, yb) in yc.chunks_exact_mut(out_len).enumerate() {
                            let gather = PixelGather::new(simd, &xs[b * sample_len..], offs);
                            for (pb, tb) in panel
                                .chunks_exact(k * PR)
                                .zip(tmp.chunks_exact_mut(PR * qpad))
                            {
                                for q0 in (0..qpad).step_by(block) {
                                    gather.block_into(q0, pb, &mut tb[q0..], qpad);
                                }
                            }
                            for (co, (yp, tp)) in yb
                                .chunks_exact_mut(p.spatial)
                                .zip(tmp.chunks_exact(qpad))
                                .enumerate()
                            {
                                let bias = bias.map_or(T::zero(), |b| b[co]);
                                for (yr, tr) in yp.chunks_exact_mut(g.w_out).zip(tp.chunks(wq)) {
                                    copy_plus(simd, tr, bias, yr);
                                }
                            }
                        }
                    });
                });
            });
        });
    });
}

/// The layout of a call's phase planes, as the key of their zero-bordered buffer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct PhaseLayout {
    pad: PadShape,
    stride: usize,
}

/// Runs `f` on the phase planes of the chunk `x` followed by `tail` further elements, in a
/// thread-local buffer whose padding positions are already zero: only the elements that
/// come from `x` are written. The tail holds finite or non-finite leftovers; only lanes
/// whose results are dropped may read it.
pub(super) fn with_phase_planes<T: CpuFloat, R>(
    g: &Conv2dGeometry,
    p: &Plan,
    x: &[T],
    tail: usize,
    f: impl FnOnce(&[T]) -> R,
) -> R {
    let planes = PhasePlanes::new(g, p);
    let nb = x.len() / (g.c_in * g.h_in * g.w_in).max(1);
    let key = PhaseLayout {
        pad: PadShape::input(g),
        stride: g.stride,
    };
    let len = nb * planes.sample_len + tail;
    with_bordered(key, len, |xs| split_phases(g, &planes, x, xs), f)
}

/// Writes the input elements of the phase planes of every sample and channel of `x`:
/// `xs[.., α, β, i, j] = x[.., s·i + α − p, s·j + β − p]` wherever that is inside the
/// input. Padding positions are left untouched.
fn split_phases<T: CpuFloat>(g: &Conv2dGeometry, planes: &PhasePlanes, x: &[T], xs: &mut [T]) {
    let (s, pad) = (g.stride, g.padding);
    let (hq, wq) = (planes.hq, planes.wq);
    let plane = g.h_in * g.w_in;
    let simd = Simd::detect();
    // Phase β's columns j with s·j + β − p inside [0, w_in) form [lo, hi), as do phase α's
    // rows.
    let inside = |phase: usize, n: usize, len: usize| {
        let lo = pad.saturating_sub(phase).div_ceil(s).min(len);
        let hi = (n + pad).saturating_sub(phase).div_ceil(s).clamp(lo, len);
        lo..hi
    };
    for (src, dst) in x
        .chunks_exact(plane)
        .zip(xs.chunks_exact_mut(s * s * hq * wq))
    {
        for (a, rows) in dst.chunks_exact_mut(s * hq * wq).enumerate() {
            let ri = inside(a, g.h_in, hq);
            for (b, cols) in rows.chunks_exact_mut(hq * wq).enumerate() {
                let cj = inside(b, g.w_in, wq);
                if cj.is_empty() {
                    continue;
                }
                let first = s * cj.start + b - pad;
                for i in ri.clone() {
                    let srow = &src[(s * i + a - pad) * g.w_in..][..g.w_in];
                    let drow = &mut cols[i * wq..][cj.clone()];
                    match simd {
                        Some(simd) if s == 2 => every_second(simd, &srow[first..], drow),
                        _ => {
                            for (d, &v) in drow.iter_mut().zip(srow[first..].iter().step_by(s)) {
                                *d = v;
                            }
                        }
                    }
                }
            }
        }
    }
}
