//! The direct engine: the three convolution passes on the SIMD micro-kernel, reading the
//! zero-padded activations in place (no column matrix). See `simd.rs` for the mapping.

use super::phases::Phases;
use super::plan::{for_each_chunk, with_pixel_and_tap_offsets, Plan};
use super::scratch::{
    with_padded, with_padded_input, with_scratch, CALL_SCRATCH, CHUNK_SCRATCH, TABLE_SCRATCH,
};
use super::simd::{rows_from, Gather, Simd, MR};
use crate::dtype::CpuFloat;
use crate::ops::conv::Conv2dGeometry;

/// Forward pass with the direct kernel (see the section comment).
pub(super) fn forward_direct<T: CpuFloat, const NR: usize>(
    g: &Conv2dGeometry,
    p: &Plan,
    simd: Simd,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    y: &mut [T],
) {
    let k = p.k_eff;
    let in_len = g.c_in * g.h_in * g.w_in;
    let out_len = g.c_out * p.spatial;
    let blocks = g.c_out.div_ceil(NR);
    with_scratch::<T, ()>(&CALL_SCRATCH, blocks * k * NR, |panel| {
        // panel[cb][kk][c] = w[cb·NR + c, window tap kk] (zero past c_out), written in
        // order.
        let taps = g.k_h * g.k_w;
        let kernel = g.c_in * taps;
        let corner = p.kh0 * g.k_w + p.kw0;
        for (cb, pb) in panel.chunks_exact_mut(k * NR).enumerate() {
            let ws = &w[cb * NR * kernel..];
            let live = NR.min(g.c_out - cb * NR);
            let mut rows = pb.chunks_exact_mut(NR);
            for ci in 0..g.c_in {
                for i in 0..p.th {
                    for j in 0..p.tw {
                        let off = ci * taps + corner + i * g.k_w + j;
                        if let Some(row) = rows.next() {
                            for (c, d) in row.iter_mut().enumerate() {
                                *d = if c < live {
                                    ws[c * kernel + off]
                                } else {
                                    T::zero()
                                };
                            }
                        }
                    }
                }
            }
        }
        let panel = &*panel;
        with_pixel_and_tap_offsets(g, p, |pix, tap_offs| {
            for_each_chunk(y, p.nb * out_len, p.parallel, |chunk, yc| {
                let nb = yc.len() / out_len;
                let xc = &x[chunk * p.nb * in_len..][..nb * in_len];
                let n = nb * p.spatial;
                // Results land pixel-major in `tmp` (row j = pixel, lanes = channels), then
                // are transposed into NCHW with the bias.
                let ld = blocks * NR;
                with_padded_input(g, xc, n.div_ceil(MR) * MR * ld, |xp, tmp| {
                    let gather = Gather::new(simd, xp, tap_offs);
                    let pix = &pix[..n];
                    for (cb, pb) in panel.chunks_exact(k * NR).enumerate() {
                        for j0 in (0..n).step_by(MR) {
                            let dst = &mut tmp[j0 * ld + cb * NR..];
                            gather.block_into::<NR>(&rows_from(pix, j0), pb, dst, ld);
                        }
                    }
                    for (yb, tb) in yc.chunks_exact_mut(out_len).zip(tmp.chunks(p.spatial * ld)) {
                        for (co, yrow) in yb.chunks_exact_mut(p.spatial).enumerate() {
                            let b = bias.map_or(T::zero(), |b| b[co]);
                            for (d, v) in yrow.iter_mut().zip(tb[co..].iter().step_by(ld)) {
                                *d = *v + b;
                            }
                        }
                    }
                });
            });
        });
    });
}

/// Weight gradient of one chunk with the direct kernel: `acc = Gy · colsᵀ` (`first`) or
/// `acc += Gy · colsᵀ`, with `acc` the `c_out × k_eff` matrix.
pub(super) fn backward_weight_direct_chunk<T: CpuFloat, const NR: usize>(
    g: &Conv2dGeometry,
    p: &Plan,
    simd: Simd,
    gy: &[T],
    x: &[T],
    (pix, tap_offs): (&[usize], &[usize]),
    acc: &mut [T],
    first: bool,
) {
    let k = p.k_eff;
    let out_len = g.c_out * p.spatial;
    let n = gy.len() / out_len * p.spatial;
    let blocks = g.c_out.div_ceil(NR);
    with_padded_input(g, x, blocks * n * NR, |xp, panel| {
        // panel[cb][j][c] = gy[b, cb·NR + c, t] for pixel j = b·spatial + t, zero past
        // c_out, written in order.
        for (cb, pb) in panel.chunks_exact_mut(n * NR).enumerate() {
            let live = NR.min(g.c_out - cb * NR);
            let samples = gy
                .chunks_exact(out_len)
                .zip(pb.chunks_exact_mut(p.spatial * NR));
            for (gs, dst) in samples {
                let gs = &gs[cb * NR * p.spatial..][..live * p.spatial];
                to_pixel_major::<T, NR>(gs, p.spatial, dst);
            }
        }
        let gather = Gather::new(simd, xp, &pix[..n]);
        for (cb, pb) in panel.chunks_exact(n * NR).enumerate() {
            let c0 = cb * NR;
            let nc = NR.min(g.c_out - c0);
            for k0 in (0..k).step_by(MR) {
                let sums = gather.block::<NR>(&rows_from(tap_offs, k0), pb);
                let rows = sums.iter().enumerate().take(k - k0);
                if first {
                    for (r, sr) in rows {
                        for (c, &v) in sr[..nc].iter().enumerate() {
                            acc[(c0 + c) * k + k0 + r] = v;
                        }
                    }
                } else {
                    for (r, sr) in rows {
                        for (c, &v) in sr[..nc].iter().enumerate() {
                            let d = &mut acc[(c0 + c) * k + k0 + r];
                            *d = *d + v;
                        }
                    }
                }
            }
        }
    });
}

/// Input gradient with the direct kernel, per phase class (see the section comment and
/// `phases.rs`).
pub(super) fn backward_input_direct<T: CpuFloat, const NR: usize>(
    g: &Conv2dGeometry,
    p: &Plan,
    simd: Simd,
    gy: &[T],
    w: &[T],
    gx: &mut [T],
) {
    let ph = Phases::new(g);
    let s = ph.stride();
    let taps = g.k_h * g.k_w;
    let plane = g.h_in * g.w_in;
    let in_len = g.c_in * plane;
    let out_len = g.c_out * p.spatial;
    let blocks = g.c_in.div_ceil(NR);
    // Per class: step offsets (co, t, u), and per sample its pixels' anchors and targets.
    let steps = |c| {
        let (nt, nu) = ph.tap_counts(c);
        g.c_out * nt * nu
    };
    let per_sample = |c| {
        let (na, nb) = ph.extent(c);
        na * nb
    };
    let gplane = ph.shape.hp * ph.shape.wp;
    let table_len: usize = ph
        .classes()
        .map(|c| steps(c) + 2 * p.nb * per_sample(c))
        .sum();
    let panel_len: usize = ph.classes().map(|c| blocks * steps(c) * NR).sum();
    with_scratch::<T, ()>(&CALL_SCRATCH, panel_len, |panel| {
        with_scratch::<usize, ()>(&TABLE_SCRATCH, table_len, |table| {
            // Fill panels and tables class by class.
            let (mut pt, mut tt) = (0, 0);
            for c in ph.classes() {
                let (cph, cpw) = c;
                let (nt, nu) = ph.tap_counts(c);
                let l = steps(c);
                // panel[cb][(co, t, u)][c] = w[co, cb·NR + c, ph + s·t, pw + s·u] (zero past
                // c_in), written in order; the step offsets go to the table.
                let pc = &mut panel[pt..pt + blocks * l * NR];
                let mut rows = pc.chunks_exact_mut(NR);
                for cb in 0..blocks {
                    let live = NR.min(g.c_in - cb * NR);
                    let mut idx = 0;
                    for co in 0..g.c_out {
                        let ws = &w[(co * g.c_in + cb * NR) * taps..];
                        for t in 0..nt {
                            for u in 0..nu {
                                let tap = (cph + s * t) * g.k_w + cpw + s * u;
                                if cb == 0 {
                                    table[tt + idx] = ph.step_offset(co, t, u);
                                }
                                if let Some(row) = rows.next() {
                                    for (c, d) in row.iter_mut().enumerate() {
                                        *d = if c < live {
                                            ws[c * taps + tap]
                                        } else {
                                            T::zero()
                                        };
                                    }
                                }
                                idx += 1;
                            }
                        }
                    }
                }
                tt += l;
                let m = p.nb * per_sample(c);
                let (anchors, targets) = table[tt..tt + 2 * m].split_at_mut(m);
                let mut e = 0;
                for b in 0..p.nb {
                    for ih in (ph.first(cph)..g.h_in).step_by(s) {
                        for iw in (ph.first(cpw)..g.w_in).step_by(s) {
                            let (ah, aw) = ph.anchor(ih, iw);
                            anchors[e] = b * g.c_out * gplane + ah * ph.shape.wp + aw;
                            targets[e] = b * in_len + ih * g.w_in + iw;
                            e += 1;
                        }
                    }
                }
                tt += 2 * m;
                pt += blocks * l * NR;
            }
            let (panel, table) = (&*panel, &*table);
            for_each_chunk(gx, p.nb * in_len, p.parallel, |chunk, gxc| {
                let nb = gxc.len() / in_len;
                let gyc = &gy[chunk * p.nb * out_len..][..nb * out_len];
                let ld = blocks * NR;
                let rows_max = ph
                    .classes()
                    .map(|c| (nb * per_sample(c)).div_ceil(MR) * MR)
                    .max()
                    .unwrap_or(0);
                with_padded(&ph.shape, gyc, |gyp| {
                    with_scratch::<T, ()>(&CHUNK_SCRATCH, rows_max * ld, |tmp| {
                        let (mut pt, mut tt) = (0, 0);
                        for c in ph.classes() {
                            let l = steps(c);
                            let m_all = p.nb * per_sample(c);
                            let m = nb * per_sample(c);
                            let offs = &table[tt..tt + l];
                            let anchors = &table[tt + l..][..m];
                            let targets = &table[tt + l + m_all..][..m];
                            let pc = &panel[pt..pt + blocks * l * NR];
                            tt += l + 2 * m_all;
                            pt += blocks * l * NR;
                            if m == 0 {
                                continue;
                            }
                            if l == 0 {
                                // No tap reaches these pixels (stride larger than the kernel).
                                for &t in targets {
                                    for ci in 0..g.c_in {
                                        gxc[t + ci * plane] = T::zero();
                                    }
                                }
                                continue;
                            }
                            let gather = Gather::new(simd, gyp, offs);
                            for (cb, pb) in pc.chunks_exact(l * NR).enumerate() {
                                for j0 in (0..m).step_by(MR) {
                                    let dst = &mut tmp[j0 * ld + cb * NR..];
                                    gather.block_into::<NR>(&rows_from(anchors, j0), pb, dst, ld);
                                }
                            }
                            for (&t, row) in targets.iter().zip(tmp.chunks_exact(ld)) {
                                for (ci, &v) in row[..g.c_in].iter().enumerate() {
                                    gxc[t + ci * plane] = v;
                                }
                            }
                        }
                    });
                });
            });
        });
    });
}

/// One sample's `live ≤ NR` channel rows of `spatial` values, pixel-major:
/// `dst[t·NR + c] = src[c·spatial + t]` for `c < live`, zero for the lanes past `live`.
/// Each channel row is read once, in order, and scattered at stride `NR`.
fn to_pixel_major<T: CpuFloat, const NR: usize>(src: &[T], spatial: usize, dst: &mut [T]) {
    let live = src.len() / spatial;
    debug_assert!(live <= NR && dst.len() == spatial * NR);
    for (c, row) in src.chunks_exact(spatial).enumerate() {
        for (d, &v) in dst[c..].iter_mut().step_by(NR).zip(row) {
            *d = v;
        }
    }
    if live < NR {
        for lanes in dst.chunks_exact_mut(NR) {
            lanes[live..].fill(T::zero());
        }
    }
}
