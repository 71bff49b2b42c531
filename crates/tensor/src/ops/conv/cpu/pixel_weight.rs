//! The pixel-lane weight gradient: for layers with few output channels (the lesson's 1→8
//! first layer), where the channel-lane kernel (`direct.rs`) would leave most lanes idle
//! and must first transpose the output gradient to pixel-major.
//!
//! With the chunk's input split into stride-phase planes `xs` (as the pixel-lane forward
//! pass does, `pixel.rs`), window tap `t = (ci, kh, kw)` of output pixel `(oh, ow)` reads
//! `xs[b][o_t + oh·wq + ow]`, so along an output row both factors of
//!
//! ```text
//! gw[co, t] = Σ_{b, oh, ow} gy[b, co, oh, ow] · xs[b][o_t + oh·wq + ow]
//! ```
//!
//! are contiguous: `gy` in its own NCHW layout and `xs` in its planes. The SIMD lanes run
//! over `ow` (vectors of one output row, the row's tail masked off, so nothing outside the
//! row is read and no transposed copy is needed), and a block holds `WCB` channels × `WTB`
//! taps of accumulators: per vector step `WTB + WCB` loads feed `WCB·WTB` fused
//! multiply-adds. The vector steps of a chunk, `(b, oh, ow0)` in order, come from a
//! per-call table ([`fill_steps`]), so the kernel is one flat loop (nested loops made the
//! compiler keep accumulators on the stack). Each lane sums its terms in order over the
//! steps; at the end of the chunk the lanes are added by the fixed tree of a horizontal
//! reduction. The order is a function of the geometry alone, so the result does not depend
//! on the thread count (but differs in rounding from the channel-lane kernel, which sums
//! pixel by pixel).
//!
//! 512-bit kernels only (AVX-512F: masked loads and 32 vector registers for the 20
//! accumulators); other CPUs keep the channel-lane or GEMM path.

use super::pixel::{with_phase_planes, PhasePlanes};
use super::plan::Plan;
#[cfg(target_arch = "x86_64")]
use super::simd::Float;
use super::simd::Simd;
use crate::dtype::CpuFloat;
use crate::ops::conv::Conv2dGeometry;

/// Output channels per block.
pub(super) const WCB: usize = 4;
/// Window taps per block (five: one row of a 5×5 kernel; a 3×3 kernel's nine taps take
/// two blocks).
pub(super) const WTB: usize = 5;

/// Entries per vector step in the step table: offset in the phase planes, offset in the
/// output gradient (channel 0), live lanes.
const STEP: usize = 3;

/// Vector steps of `nb` samples: `nb·h_out·⌈w_out / lanes⌉`.
fn step_count(g: &Conv2dGeometry, nb: usize, lanes: usize) -> usize {
    nb * g.h_out * g.w_out.div_ceil(lanes)
}

/// Table entries for the steps of `nb` samples.
pub(super) fn steps_len(g: &Conv2dGeometry, nb: usize, lanes: usize) -> usize {
    STEP * step_count(g, nb, lanes)
}

/// Fills the step table of a chunk of `p.nb` samples (shorter chunks use a prefix): for
/// `(b, oh, ow0)` in order, `ow0` a multiple of `lanes`, the entries
/// `b·sample_len + oh·wq + ow0`, `b·c_out·h_out·w_out + oh·w_out + ow0` and
/// `min(lanes, w_out − ow0)`.
pub(super) fn fill_steps(g: &Conv2dGeometry, p: &Plan, lanes: usize, table: &mut [usize]) {
    let planes = PhasePlanes::new(g, p);
    let gy_sample = g.c_out * p.spatial;
    let mut out = table.chunks_exact_mut(STEP);
    for b in 0..p.nb {
        for oh in 0..g.h_out {
            for ow0 in (0..g.w_out).step_by(lanes) {
                if let Some(e) = out.next() {
                    e[0] = b * planes.sample_len + oh * planes.wq + ow0;
                    e[1] = b * gy_sample + oh * g.w_out + ow0;
                    e[2] = lanes.min(g.w_out - ow0);
                }
            }
        }
    }
}

/// Weight gradient of one chunk on the pixel-lane kernel: `acc = sums` (`first`) or
/// `acc += sums`, with `acc` the `c_out × k_eff` matrix, `tap_offs` the phase-plane tap
/// offsets of the call ([`PhasePlanes::tap_offsets`]) and `steps` its step table
/// ([`fill_steps`]).
#[allow(clippy::too_many_arguments)]
pub(super) fn backward_weight_pixels_chunk<T: CpuFloat>(
    g: &Conv2dGeometry,
    p: &Plan,
    simd: Simd,
    gy: &[T],
    x: &[T],
    (tap_offs, steps): (&[usize], &[usize]),
    acc: &mut [T],
    first: bool,
) {
    let k = p.k_eff;
    let nb = gy.len() / (g.c_out * p.spatial);
    let steps = &steps[..steps_len(g, nb, simd.vector_lanes::<T>())];
    with_phase_planes(g, p, x, 0, |xs| {
        let table = Steps::new::<T>(simd, steps, tap_offs, xs.len(), gy.len());
        for c0 in (0..g.c_out).step_by(WCB) {
            let live = WCB.min(g.c_out - c0);
            for t0 in (0..k).step_by(WTB) {
                let taps: [usize; WTB] = std::array::from_fn(|t| tap_offs[(t0 + t).min(k - 1)]);
                let sums = table.block(xs, gy, c0, p.spatial, live, &taps);
                for (c, row) in sums.iter().enumerate().take(live) {
                    let dst = &mut acc[(c0 + c) * k + t0..];
                    for (d, &v) in dst.iter_mut().zip(row).take(k - t0) {
                        *d = if first { v } else { *d + v };
                    }
                }
            }
        }
    });
}

/// A chunk's step table, checked once against the buffers it will address: every step
/// reads `xs` up to `x_reach` past any tap offset and `gy` up to `g_reach` past any
/// channel row.
struct Steps<'a> {
    simd: Simd,
    steps: &'a [usize],
    /// Lanes of the element type the table was checked for (no step is longer).
    lanes: usize,
    x_reach: usize,
    g_reach: usize,
}

impl<'a> Steps<'a> {
    /// Checks `steps` (the vector steps of a chunk, at most `lanes` each) for buffers of
    /// `xs_len` and `gy_len` elements, with tap offsets `taps`.
    fn new<T>(
        simd: Simd,
        steps: &'a [usize],
        taps: &[usize],
        xs_len: usize,
        gy_len: usize,
    ) -> Self {
        let lanes = simd.vector_lanes::<T>();
        let (mut x_reach, mut g_reach) = (0, 0);
        for e in steps.chunks_exact(STEP) {
            assert!(
                (1..=lanes).contains(&e[2]),
                "conv pixel weight kernel: bad step"
            );
            x_reach = x_reach.max(e[0] + e[2]);
            g_reach = g_reach.max(e[1] + e[2]);
        }
        let max_tap = taps.iter().copied().max().unwrap_or(0);
        assert!(
            max_tap + x_reach <= xs_len && g_reach <= gy_len,
            "conv pixel weight kernel: steps out of bounds"
        );
        Steps {
            simd,
            steps,
            lanes,
            x_reach,
            g_reach,
        }
    }

    /// One block: `out[c][t] = Σ_steps Σ_{lane < n} gy[c_plane·(c0 + c) + g_off + lane] ·
    /// xs[taps[t] + x_off + lane]` for `c < live` (zero for the other rows).
    fn block<T: CpuFloat>(
        &self,
        xs: &[T],
        gy: &[T],
        c0: usize,
        c_plane: usize,
        live: usize,
        taps: &[usize; WTB],
    ) -> [[T; WTB]; WCB] {
        let mut out = [[T::zero(); WTB]; WCB];
        if live == 0 || self.steps.is_empty() {
            return out;
        }
        let max_tap = taps.iter().copied().max().unwrap_or(0);
        let last_row = (c0 + live - 1) * c_plane;
        assert!(
            live <= WCB
                && max_tap + self.x_reach <= xs.len()
                && last_row + self.g_reach <= gy.len()
                && self.lanes == self.simd.vector_lanes::<T>(),
            "conv pixel weight kernel: block out of bounds"
        );
        #[cfg(target_arch = "x86_64")]
        if self.simd.avx512() {
            let (x, g, o) = (
                xs.as_ptr(),
                gy.as_ptr(),
                out.as_flattened_mut().as_mut_ptr(),
            );
            let rows: [usize; WCB] = std::array::from_fn(|c| (c0 + c.min(live - 1)) * c_plane);
            let steps = self.steps;
            // SAFETY: `T` is exactly the kernel's element type (checked through `TypeId`),
            // so the casts only rename the type; the asserts above keep every lane a step
            // loads (fewer than its lane count `n`, at most a vector) inside `xs` and `gy`
            // for every tap and live row; `out` holds WCB·WTB elements; and the `Simd`
            // token proves AVX-512F was detected.
            unsafe {
                match Float::of::<T>() {
                    Some(Float::F32) => {
                        wgrad_f32x16(x.cast(), g.cast(), steps, taps, &rows, live, o.cast());
                        return out;
                    }
                    Some(Float::F64) => {
                        wgrad_f64x8(x.cast(), g.cast(), steps, taps, &rows, live, o.cast());
                        return out;
                    }
                    None => {}
                }
            }
        }
        // Portable fallback (other element types or CPUs): the same terms, summed in order.
        for (c, row) in out.iter_mut().enumerate().take(live) {
            for (t, o) in row.iter_mut().enumerate() {
                for e in self.steps.chunks_exact(STEP) {
                    let gr = &gy[(c0 + c) * c_plane + e[1]..][..e[2]];
                    let xr = &xs[taps[t] + e[0]..][..e[2]];
                    for (&gv, &xv) in gr.iter().zip(xr) {
                        *o = gv.mul_add(xv, *o);
                    }
                }
            }
        }
        out
    }
}

/// Defines one pixel-lane weight-gradient kernel for one 512-bit vector of `LANES` lanes:
/// `out[c·WTB + t] = Σ_steps Σ_lanes gy[rows[c] + g_off + lane] · xs[taps[t] + x_off + lane]`
/// for `c < live`, zero for the dead rows (which address row `live − 1` with an empty
/// mask and load nothing). The contract of `Steps::block`: every unmasked load in bounds,
/// AVX-512F available, `out` holding `WCB·WTB` elements.
#[cfg(target_arch = "x86_64")]
macro_rules! wgrad_kernel {
    ($name:ident, $t:ty, $lanes:literal, $mask:ty,
     $zero:ident, $maskz_load:ident, $fmadd:ident, $reduce:ident) => {
        #[target_feature(enable = "avx512f")]
        #[allow(clippy::needless_range_loop)]
        unsafe fn $name(
            xs: *const $t,
            gy: *const $t,
            steps: &[usize],
            taps: &[usize; WTB],
            rows: &[usize; WCB],
            live: usize,
            out: *mut $t,
        ) {
            use std::arch::x86_64::*;
            // SAFETY: the caller upholds the contract stated above.
            unsafe {
                let mut acc = [[$zero(); WTB]; WCB];
                // Base pointers per tap and per channel row, and each row's lane mask
                // (empty for dead rows). Written this way (pointers, one flat counted
                // loop) the compiler keeps all accumulators in registers.
                let mut xp = [xs; WTB];
                for t in 0..WTB {
                    xp[t] = xs.add(taps[t]);
                }
                let mut gp = [gy; WCB];
                let mut row_masks = [0 as $mask; WCB];
                for c in 0..WCB {
                    gp[c] = gy.add(rows[c]);
                    row_masks[c] = if c < live { !0 } else { 0 };
                }
                let (sp, count) = (steps.as_ptr(), steps.len() / STEP);
                let mut i = 0;
                while i < count {
                    let e = sp.add(i * STEP);
                    let (xo, go, n) = (*e, *e.add(1), *e.add(2));
                    let m = (u32::MAX >> (32 - n)) as $mask;
                    let mut xv = [$zero(); WTB];
                    for t in 0..WTB {
                        xv[t] = $maskz_load(m, xp[t].add(xo));
                    }
                    for c in 0..WCB {
                        let gv = $maskz_load(m & row_masks[c], gp[c].add(go));
                        for t in 0..WTB {
                            acc[c][t] = $fmadd(gv, xv[t], acc[c][t]);
                        }
                    }
                    i += 1;
                }
                for c in 0..WCB {
                    for t in 0..WTB {
                        *out.add(c * WTB + t) = $reduce(acc[c][t]);
                    }
                }
            }
        }
    };
}
#[cfg(target_arch = "x86_64")]
wgrad_kernel!(
    wgrad_f32x16,
    f32,
    16,
    __mmask16,
    _mm512_setzero_ps,
    _mm512_maskz_loadu_ps,
    _mm512_fmadd_ps,
    _mm512_reduce_add_ps
);
#[cfg(target_arch = "x86_64")]
wgrad_kernel!(
    wgrad_f64x8,
    f64,
    8,
    __mmask8,
    _mm512_setzero_pd,
    _mm512_maskz_loadu_pd,
    _mm512_fmadd_pd,
    _mm512_reduce_add_pd
);
