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
//! The input gradient on the same kernel (per phase class, positions along the padded
//! output gradient's rows, results scattered to stride-`s` places) was built and measured
//! slower than the GEMM path for the 8→16 layer on a 2-core AVX2 machine (2.7-3.1 ms
//! against 2.0-2.6 ms at bs 512): the scatter costs as much as the arithmetic. Not kept.

use super::plan::{for_each_chunk, Plan};
use super::scratch::{with_scratch, CALL_SCRATCH, CHUNK_SCRATCH, TABLE_SCRATCH};
use super::simd::{PixelGather, Simd, PR};
use crate::dtype::CpuFloat;
use crate::ops::conv::Conv2dGeometry;

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
    let s = g.stride;
    let (hq, wq) = (p.hp.div_ceil(s), p.wp.div_ceil(s));
    let plane = hq * wq;
    let sample_len = g.c_in * s * s * plane;
    let block = simd.pixel_block_len::<T>();
    let qpad = (g.h_out * wq).div_ceil(block) * block;
    let k = p.k_eff;
    let (taps, kernel) = (g.k_h * g.k_w, g.c_in * g.k_h * g.k_w);
    let blocks = g.c_out.div_ceil(PR);
    let in_len = g.c_in * g.h_in * g.w_in;
    let out_len = g.c_out * p.spatial;
    with_scratch::<usize, ()>(&TABLE_SCRATCH, k, |offs| {
        with_scratch::<T, ()>(&CALL_SCRATCH, blocks * k * PR, |panel| {
            // offs[(ci, i, j)]: where window tap (kh0 + i, kw0 + j) of channel ci sits from q;
            // panel[rb][(ci, i, j)][r] = w[rb·PR + r, ci, kh, kw] (zero past c_out).
            let mut l = 0;
            for ci in 0..g.c_in {
                for kh in p.kh0..p.kh0 + p.th {
                    for kw in p.kw0..p.kw0 + p.tw {
                        let phase = (ci * s + kh % s) * s + kw % s;
                        offs[l] = phase * plane + (kh / s) * wq + kw / s;
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
                // Phase planes of the chunk, then `qpad` finite elements that the last
                // sample's dropped positions may read.
                let xs_len = nb * sample_len + qpad;
                with_scratch::<T, ()>(&CHUNK_SCRATCH, xs_len + blocks * PR * qpad, |buf| {
                    let (xs, tmp) = buf.split_at_mut(xs_len);
                    split_phases(g, hq, wq, xc, xs);
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
                                for (d, &v) in yr.iter_mut().zip(tr) {
                                    *d = v + bias;
                                }
                            }
                        }
                    }
                });
            });
        });
    });
}

/// Writes every element of `xs` from the chunk `x`: per sample and channel the `s × s`
/// phase planes (`hq × wq`) of the zero-padded input, then zeros to the end.
fn split_phases<T: CpuFloat>(g: &Conv2dGeometry, hq: usize, wq: usize, x: &[T], xs: &mut [T]) {
    let (s, pad) = (g.stride, g.padding);
    let plane = g.h_in * g.w_in;
    let mut out = xs.chunks_exact_mut(wq);
    for src in x.chunks_exact(plane) {
        for a in 0..s {
            for b in 0..s {
                for i in 0..hq {
                    let Some(row) = out.next() else { return };
                    // Padded row s·i + a is input row s·i + a − p.
                    let ih = (s * i + a).checked_sub(pad).filter(|&r| r < g.h_in);
                    let Some(ih) = ih else {
                        row.fill(T::zero());
                        continue;
                    };
                    let srow = &src[ih * g.w_in..][..g.w_in];
                    for (j, d) in row.iter_mut().enumerate() {
                        let iw = (s * j + b).checked_sub(pad).filter(|&c| c < g.w_in);
                        *d = iw.map_or(T::zero(), |c| srow[c]);
                    }
                }
            }
        }
    }
    for row in &mut out {
        row.fill(T::zero());
    }
    out.into_remainder().fill(T::zero());
}
