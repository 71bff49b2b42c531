//! Planning one convolution call: the valid-tap window, the chunking of the batch, whether
//! chunks run in parallel, and the per-call offset tables. Depends on the geometry only
//! (never on the thread count), which keeps results reproducible.

use rayon::prelude::*;

use super::scratch::{with_scratch, TABLE_SCRATCH};
use crate::ops::conv::Conv2dGeometry;

/// Below this many floating-point operations (multiply and add counted separately) a call
/// runs on the calling thread: waking the pool costs more than it saves.
pub(super) const PAR_MIN_FLOPS: usize = 3_000_000;

/// Target size, in elements, of one chunk's working set (padded input, column matrix and
/// GEMM output); chosen so that it stays inside a 2 MiB L2 cache for `f32` and `f64`.
pub(super) const CHUNK_ELEMS: usize = 64 * 1024;

/// When a call is parallel, chunks are made small enough that there are at least this many
/// of them, so two or more threads stay balanced.
pub(super) const MIN_PAR_CHUNKS: usize = 8;

/// A parallel call's chunks keep at least this many output pixels (GEMM columns) each,
/// unless the L2-sized chunk is already smaller.
pub(super) const MIN_CHUNK_PIXELS: usize = 256;

/// Upper bound on the number of independent partial sums of the weight gradient.
pub(super) const MAX_WEIGHT_GROUPS: usize = 8;

/// The smallest range `[lo, lo + len)` of kernel taps along one axis containing every tap
/// `t` for which some output index `o < out` reads an input index `o·stride + t − pad`
/// inside `[0, input)`. `len == 0` when no tap ever reads the input.
pub(super) fn valid_taps(
    kernel: usize,
    input: usize,
    out: usize,
    stride: usize,
    pad: usize,
) -> (usize, usize) {
    let reads_input = |t: usize| {
        (0..out).any(|o| {
            let i = o * stride + t;
            i >= pad && i - pad < input
        })
    };
    match (0..kernel).find(|&t| reads_input(t)) {
        None => (0, 0),
        Some(lo) => {
            let hi = (0..kernel).rev().find(|&t| reads_input(t)).unwrap_or(lo);
            (lo, hi + 1 - lo)
        }
    }
}

/// Everything a kernel needs to know about how it will lower one call.
#[derive(Clone, Copy, Debug)]
pub(super) struct Plan {
    /// First valid kernel row and number of valid rows.
    pub(super) kh0: usize,
    pub(super) th: usize,
    /// First valid kernel column and number of valid columns.
    pub(super) kw0: usize,
    pub(super) tw: usize,
    /// Rows of the (windowed) column matrix: `c_in · th · tw`.
    pub(super) k_eff: usize,
    /// `h_out · w_out`.
    pub(super) spatial: usize,
    /// Padded input plane: `h_in + 2p` by `w_in + 2p`.
    pub(super) hp: usize,
    pub(super) wp: usize,
    /// The window is smaller than the kernel, so the weight must be compacted.
    pub(super) compact: bool,
    /// 1×1 output and the window covers the input exactly: `cols` of a sample is its input.
    pub(super) dense: bool,
    /// Samples per chunk.
    pub(super) nb: usize,
    /// Run chunks on the rayon pool.
    pub(super) parallel: bool,
}

impl Plan {
    pub(super) fn new(g: &Conv2dGeometry) -> Self {
        let (kh0, th) = valid_taps(g.k_h, g.h_in, g.h_out, g.stride, g.padding);
        let (kw0, tw) = valid_taps(g.k_w, g.w_in, g.w_out, g.stride, g.padding);
        let (kh0, th, kw0, tw) = if th == 0 || tw == 0 {
            (0, 0, 0, 0)
        } else {
            (kh0, th, kw0, tw)
        };
        let k_eff = g.c_in * th * tw;
        let spatial = g.h_out * g.w_out;
        let (hp, wp) = (g.h_in + 2 * g.padding, g.w_in + 2 * g.padding);
        let compact = th != g.k_h || tw != g.k_w;
        let dense = spatial == 1
            && k_eff > 0
            && kh0 == g.padding
            && kw0 == g.padding
            && th == g.h_in
            && tw == g.w_in;
        let flops = 2 * g.batch * spatial * g.c_out * k_eff;
        let parallel = flops >= PAR_MIN_FLOPS && g.batch >= 2;
        let per_sample = if dense {
            k_eff + g.c_out
        } else {
            (k_eff + g.c_out) * spatial + g.c_in * hp * wp
        };
        let batch = g.batch.max(1);
        let mut nb = (CHUNK_ELEMS / per_sample.max(1)).clamp(1, batch);
        if parallel {
            // Enough chunks to balance the threads, but never chunks so short that the GEMM
            // of each is dominated by packing (that was the bs-32 cliff: 8 chunks of 4
            // samples, a 16-column GEMM per chunk for the 2x2 layer).
            let min_nb = MIN_CHUNK_PIXELS.div_ceil(spatial.max(1));
            nb = nb.min(batch.div_ceil(MIN_PAR_CHUNKS).max(min_nb)).max(1);
        }
        // Balance the chunks: same number of chunks, sizes differing by at most one sample.
        let nb = batch.div_ceil(batch.div_ceil(nb));
        Plan {
            kh0,
            th,
            kw0,
            tw,
            k_eff,
            spatial,
            hp,
            wp,
            compact,
            dense,
            nb,
            parallel,
        }
    }

    /// Number of chunks the batch is cut into.
    pub(super) fn chunks(&self, batch: usize) -> usize {
        batch.div_ceil(self.nb)
    }

    /// Elements in the padded input of `nb` samples (zero when no padding is needed).
    pub(super) fn padded_len(&self, g: &Conv2dGeometry, nb: usize) -> usize {
        if g.padding > 0 {
            nb * g.c_in * self.hp * self.wp
        } else {
            0
        }
    }
}

/// `table[b·spatial + oh·w_out + ow] = b·c_in·hp·wp + (oh·s)·wp + ow·s` for `b < nb`: where
/// the window of output pixel `(oh, ow)` of the chunk's sample `b` starts inside the chunk's
/// padded input (channel 0). Adding `ci·hp·wp + kh·wp + kw` gives the element that tap
/// `(kh, kw)` of channel `ci` reads. One table serves every chunk (shorter chunks use a
/// prefix), so each column-matrix row is one flat gather.
pub(super) fn fill_window_offsets(g: &Conv2dGeometry, p: &Plan, table: &mut [usize]) {
    let sample = g.c_in * p.hp * p.wp;
    let mut t = table.iter_mut();
    for b in 0..p.nb {
        for oh in 0..g.h_out {
            for ow in 0..g.w_out {
                if let Some(v) = t.next() {
                    *v = b * sample + oh * g.stride * p.wp + ow * g.stride;
                }
            }
        }
    }
}

/// Runs `f` with the window-offset table of the call (empty in the dense case).
pub(super) fn with_window_offsets<R>(
    g: &Conv2dGeometry,
    p: &Plan,
    f: impl FnOnce(&[usize]) -> R,
) -> R {
    if p.dense {
        return f(&[]);
    }
    with_scratch::<usize, R>(&TABLE_SCRATCH, p.nb * p.spatial, |table| {
        fill_window_offsets(g, p, table);
        f(table)
    })
}

/// Runs `f(chunk_index, chunk)` over consecutive `len`-element chunks of `out`, on the rayon
/// pool when `parallel`, else in order on this thread.
pub(super) fn for_each_chunk<T: Send>(
    out: &mut [T],
    len: usize,
    parallel: bool,
    f: impl Fn(usize, &mut [T]) + Sync + Send,
) {
    if parallel {
        out.par_chunks_mut(len)
            .enumerate()
            .for_each(|(i, c)| f(i, c));
    } else {
        out.chunks_mut(len).enumerate().for_each(|(i, c)| f(i, c));
    }
}

/// Runs `f` with two per-call offset tables: window corners of the chunk's output pixels
/// (see [`fill_window_offsets`]) and the offset of every window tap `(ci, i, j)` from a
/// corner, `ci·hp·wp + (kh0 + i)·wp + kw0 + j`.
pub(super) fn with_pixel_and_tap_offsets<R>(
    g: &Conv2dGeometry,
    p: &Plan,
    f: impl FnOnce(&[usize], &[usize]) -> R,
) -> R {
    let pixels = p.nb * p.spatial;
    with_scratch::<usize, R>(&TABLE_SCRATCH, pixels + p.k_eff, |table| {
        let (pix, taps) = table.split_at_mut(pixels);
        fill_window_offsets(g, p, pix);
        let mut t = taps.iter_mut();
        for ci in 0..g.c_in {
            for i in 0..p.th {
                for j in 0..p.tw {
                    if let Some(v) = t.next() {
                        *v = ci * p.hp * p.wp + (p.kh0 + i) * p.wp + p.kw0 + j;
                    }
                }
            }
        }
        f(pix, taps)
    })
}
