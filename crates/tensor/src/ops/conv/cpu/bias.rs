//! The bias gradient: per-channel sums of the output gradient, in a fixed order.

use rayon::prelude::*;

use crate::dtype::CpuFloat;
use crate::ops::conv::Conv2dGeometry;

/// Bias-gradient calls reading at least this many elements sum channels in parallel.
pub(super) const PAR_MIN_BIAS_ELEMS: usize = 1 << 18;

/// Sum of `v` in a fixed order: eight interleaved partial sums (so the adds vectorise and
/// pipeline), combined pairwise, then the tail.
pub(super) fn lane_sum<T: CpuFloat>(v: &[T]) -> T {
    let mut acc = [T::zero(); 8];
    let mut it = v.chunks_exact(8);
    for c in &mut it {
        for (a, x) in acc.iter_mut().zip(c) {
            *a = *a + *x;
        }
    }
    let quads = [
        acc[0] + acc[4],
        acc[1] + acc[5],
        acc[2] + acc[6],
        acc[3] + acc[7],
    ];
    let mut total = (quads[0] + quads[2]) + (quads[1] + quads[3]);
    for x in it.remainder() {
        total = total + *x;
    }
    total
}

/// Gradient of [`forward`] with respect to the bias: overwrites `gb` (`c_out` elements) with
/// `gb[co] = Σ_{b, oh, ow} gy[b, co, oh, ow]`, summed per sample (in a fixed order) then over
/// samples in order.
pub fn backward_bias<T: CpuFloat>(g: &Conv2dGeometry, gy: &[T], gb: &mut [T]) {
    debug_assert_eq!(gy.len(), g.output_len());
    debug_assert_eq!(gb.len(), g.c_out);
    let spatial = g.h_out * g.w_out;
    let per_sample = g.c_out * spatial;
    gb.fill(T::zero());
    if per_sample == 0 {
        return;
    }
    if gy.len() >= PAR_MIN_BIAS_ELEMS && g.c_out >= 2 {
        // Channels are independent sums with the same order as below: parallel and exact.
        gb.par_iter_mut().enumerate().for_each(|(co, acc)| {
            for gs in gy.chunks_exact(per_sample) {
                *acc = *acc + lane_sum(&gs[co * spatial..][..spatial]);
            }
        });
    } else {
        for gs in gy.chunks_exact(per_sample) {
            for (acc, row) in gb.iter_mut().zip(gs.chunks_exact(spatial)) {
                *acc = *acc + lane_sum(row);
            }
        }
    }
}
