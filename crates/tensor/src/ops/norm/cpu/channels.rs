//! The per-channel engine (the batch norms: one statistic per channel over `N` and `S`).
//!
//! A sample's `C·S` values (its *block*) are contiguous, and every pass walks whole blocks.
//! Statistics are summed per *position* `p = c·S + s` of the block, `acc_p += f(x[n·C·S + p])`
//! over the samples (in `f64`): one contiguous loop per sample, compiled for the CPU's vector width, with no
//! per-row bookkeeping, however small `S` is (the lesson's last layers have `S = 1`).
//! Each channel's sum is then `Σ_s acc[c·S + s]`. Elementwise passes read per-position
//! copies of the per-channel constants beside the block. The samples are cut into tasks of
//! a size fixed by the shape (not by the pool), and the tasks' partial sums are added in
//! task order, so the results do not depend on the thread count. Partial sums and
//! per-position constants live in reused thread-local scratch: once warm, a call allocates
//! only its outputs and a few per-channel vectors.

use std::cell::RefCell;

use rayon::prelude::*;

use smallvec::smallvec;

use super::{Affine, BackwardSums, DxCoefficients, Sums};
use crate::cpu::scratch::{with_scratch, Slots};
use crate::cpu::{PAR_CHUNK, PAR_ELEMENTS};
use crate::dtype::CpuFloat;
use crate::multiversioned;
use crate::ops::norm::{NormGeometry, NormInput, Variance};

thread_local! {
    /// The tasks' partial sums of one call (on the calling thread).
    static PARTIALS: Slots = const { RefCell::new(Vec::new()) };
    /// The per-position constants of one call (on the calling thread).
    static POSITIONS: Slots = const { RefCell::new(Vec::new()) };
}

/// A `[N, C, S]` input as `N` blocks of `C·S` values, and how the blocks are split.
struct Blocks {
    channels: usize,
    spatial: usize,
    /// `C·S`.
    len: usize,
    samples: usize,
    parallel: bool,
    /// Samples per task of the elementwise passes (about `PAR_CHUNK` values each).
    samples_per_task: usize,
    /// Samples per task of the summing passes: as many as the elementwise passes', but no
    /// more than [`SUM_TASKS`] tasks, so the partial sums stay a few blocks long.
    samples_per_sum: usize,
}

/// The most tasks a summing pass is cut into. Each task owns one block-long row of partial
/// sums that is zeroed, filled and added into the total, so this bounds that overhead at
/// any batch size while leaving enough tasks to balance a pool of up to this many threads.
const SUM_TASKS: usize = 16;

impl Blocks {
    fn new(g: &NormGeometry) -> Self {
        let len = g.channels() * g.spatial();
        let samples_per_task = (PAR_CHUNK / len.max(1)).max(1);
        Blocks {
            channels: g.channels(),
            spatial: g.spatial(),
            len,
            samples: g.batch(),
            parallel: g.numel() >= PAR_ELEMENTS,
            samples_per_task,
            samples_per_sum: samples_per_task.max(g.batch().div_ceil(SUM_TASKS)),
        }
    }

    /// `Σ_n` of what `fold(n, acc)` adds into `K·C·S` per-position accumulators, summed
    /// over at most [`SUM_TASKS`] tasks of consecutive samples (each into its own slice of a reused scratch
    /// buffer), then across tasks in task order, and folded per channel: `K` vectors of
    /// `C` sums.
    fn sum_samples<const K: usize>(
        &self,
        fold: impl Fn(usize, &mut [f64]) + Sync + Send,
    ) -> [Sums<f64>; K] {
        let width = K * self.len;
        if width == 0 {
            return std::array::from_fn(|_| smallvec![0.0; self.channels]);
        }
        let tasks = self.samples.div_ceil(self.samples_per_sum).max(1);
        with_scratch::<f64, _>(&PARTIALS, tasks * width, |parts| {
            let task = |(t, acc): (usize, &mut [f64])| {
                acc.fill(0.0);
                let start = t * self.samples_per_sum;
                for n in start..(start + self.samples_per_sum).min(self.samples) {
                    fold(n, acc);
                }
            };
            if self.parallel && tasks > 1 {
                parts.par_chunks_mut(width).enumerate().for_each(task);
            } else {
                parts.chunks_mut(width).enumerate().for_each(task);
            }
            let (total, rest) = parts.split_at_mut(width);
            for part in rest.chunks(width) {
                for (a, &p) in total.iter_mut().zip(part) {
                    *a += p;
                }
            }
            std::array::from_fn(|j| {
                total[j * self.len..(j + 1) * self.len]
                    .chunks(self.spatial)
                    .map(|c| c.iter().sum())
                    .collect()
            })
        })
    }

    /// Runs `f` with `K` per-position arrays of per-channel values,
    /// `arrays[j][c·S + s] = values(c)[j]`, held in a reused thread-local buffer.
    fn with_positions<V: Copy + Default + Sync + 'static, const K: usize, R>(
        &self,
        values: impl Fn(usize) -> [V; K],
        f: impl FnOnce([&[V]; K]) -> R,
    ) -> R {
        let (len, s) = (self.len, self.spatial);
        with_scratch::<V, R>(&POSITIONS, K * len, |buf| {
            for c in 0..self.channels {
                for (j, v) in values(c).into_iter().enumerate() {
                    buf[j * len + c * s..j * len + (c + 1) * s].fill(v);
                }
            }
            let buf = &*buf;
            f(std::array::from_fn(|j| &buf[j * len..(j + 1) * len]))
        })
    }

    /// Writes the `[N, C, S]` output `out` one block at a time with `f(n, block)`.
    fn write_samples<T: CpuFloat>(&self, out: &mut [T], f: impl Fn(usize, &mut [T]) + Sync + Send) {
        assert_eq!(
            out.len(),
            self.samples * self.len,
            "the callers size the output"
        );
        if self.len == 0 {
            return;
        }
        let task = |(t, chunk): (usize, &mut [T])| {
            let first = t * self.samples_per_task;
            for (i, block) in chunk.chunks_mut(self.len).enumerate() {
                f(first + i, block);
            }
        };
        if self.parallel {
            out.par_chunks_mut(self.samples_per_task * self.len)
                .enumerate()
                .for_each(task);
        } else {
            task((0, out));
        }
    }

    /// Block `n` of `x`.
    #[inline]
    fn block<'a, T>(&self, x: &'a [T], n: usize) -> &'a [T] {
        &x[n * self.len..(n + 1) * self.len]
    }
}

/// Per channel: `(mean, variance)` in `f64`, two passes.
pub(super) fn moments<T: CpuFloat>(
    g: &NormGeometry,
    x: &[T],
    variance: Variance,
) -> Sums<(f64, f64)> {
    let b = Blocks::new(g);
    let (m, input) = (g.group_len() as f64, g.input());
    let [sums] = b.sum_samples(|n, acc| add_values(acc, b.block(x, n), input));
    let mean: Sums<f64> = sums.iter().map(|s| s / m).collect();
    let [squares] = b.with_positions(
        |c| [mean[c]],
        |[mean_at]| {
            b.sum_samples(|n, acc| add_squared_deviations(acc, b.block(x, n), mean_at, input))
        },
    );
    let d = variance.divisor(g.group_len());
    mean.iter()
        .zip(squares)
        .map(|(&mu, sq)| (mu, sq / d))
        .collect()
}

/// Per channel: `(Σ x, Σ x²)` in `f64`.
pub(super) fn power_sums<T: CpuFloat>(g: &NormGeometry, x: &[T]) -> Sums<(f64, f64)> {
    let b = Blocks::new(g);
    let [s, ss] = b.sum_samples(|n, acc| {
        let (s, ss) = acc.split_at_mut(b.len);
        add_powers(s, ss, b.block(x, n), g.input())
    });
    s.into_iter().zip(ss).collect()
}

/// `y = (x - mean_c) invstd_c gamma_c + beta_c`.
pub(super) fn apply<T: CpuFloat>(g: &NormGeometry, x: &[T], p: &Affine<'_, T>, out: &mut [T]) {
    let b = Blocks::new(g);
    b.with_positions(
        |c| [p.mean[c], p.invstd[c], p.gamma(c), p.beta(c)],
        |[mu, inv, gamma, beta]| {
            b.write_samples(out, |n, block| {
                affine_block(block, b.block(x, n), [mu, inv, gamma, beta], g.input())
            })
        },
    )
}

/// The backward's first pass: per channel `Σ dy` and `Σ dy xhat` (then `Sg`, `Sgx`).
pub(super) fn backward_sums<T: CpuFloat>(
    g: &NormGeometry,
    x: &[T],
    dy: &[T],
    p: &Affine<'_, T>,
) -> BackwardSums {
    let b = Blocks::new(g);
    let [sd, sdx] = b.with_positions(
        |c| [p.mean[c].as_f64(), p.invstd[c].as_f64()],
        |[mu, inv]| {
            b.sum_samples(|n, acc| {
                let (sd, sdx) = acc.split_at_mut(b.len);
                add_grad_sums(sd, sdx, b.block(x, n), b.block(dy, n), [mu, inv], g.input())
            })
        },
    );
    let gamma: Sums<f64> = (0..b.channels).map(|c| p.gamma(c).as_f64()).collect();
    let affine_sum = |v: &[f64]| {
        if p.scale.len() == 1 {
            smallvec![v.iter().sum()]
        } else {
            Sums::from_slice(v)
        }
    };
    BackwardSums {
        dshift: affine_sum(&sd),
        dscale: affine_sum(&sdx),
        sg: sd.iter().zip(&gamma).map(|(a, g)| g * a).collect(),
        sgx: sdx.iter().zip(&gamma).map(|(b, g)| g * b).collect(),
    }
}

/// The backward's second pass: `dx = dy gamma_c r_c + A_c + B_c xhat`.
pub(super) fn backward_dx<T: CpuFloat>(
    g: &NormGeometry,
    x: &[T],
    dy: &[T],
    p: &Affine<'_, T>,
    coef: &DxCoefficients<T>,
    out: &mut [T],
) {
    let (b, input) = (Blocks::new(g), g.input());
    if coef.detached {
        return b.with_positions(
            |c| [p.gamma(c) * p.invstd[c]],
            |[gr]| {
                b.write_samples(out, |n, block| {
                    scale_block(block, b.block(x, n), b.block(dy, n), gr, input)
                })
            },
        );
    }
    b.with_positions(
        |c| {
            let (a, bb) = coef.ab[c];
            [p.mean[c], p.invstd[c], p.gamma(c) * p.invstd[c], a, bb]
        },
        |[mu, inv, gr, a, bb]| {
            b.write_samples(out, |n, block| {
                dx_block(
                    block,
                    b.block(x, n),
                    b.block(dy, n),
                    [mu, inv, gr, a, bb],
                    input,
                )
            })
        },
    )
}

// The loops over one block, each compiled for the CPU's vector width by
// `multiversioned!`. Every slice has the block's length; `input` says whether the stored
// values or their ReLU are normalised (`input.value`), and masks the input gradient
// (`input.gradient`).

multiversioned! {
    /// `acc += x`.
    fn add_values<T: CpuFloat>(acc: &mut [f64], x: &[T], input: NormInput) {
        for (a, &v) in acc.iter_mut().zip(x) {
            *a += input.value(v).as_f64();
        }
    }
}

multiversioned! {
    /// `acc += (x - mean)²`.
    fn add_squared_deviations<T: CpuFloat>(acc: &mut [f64], x: &[T], mean: &[f64], input: NormInput) {
        for ((a, &v), &mu) in acc.iter_mut().zip(x).zip(mean) {
            let e = input.value(v).as_f64() - mu;
            *a += e * e;
        }
    }
}

multiversioned! {
    /// `s += x`, `ss += x²`.
    fn add_powers<T: CpuFloat>(s: &mut [f64], ss: &mut [f64], x: &[T], input: NormInput) {
        for ((s, ss), &v) in s.iter_mut().zip(ss).zip(x) {
            let v = input.value(v).as_f64();
            *s += v;
            *ss += v * v;
        }
    }
}

multiversioned! {
    /// `out = (x - mu) inv gamma + beta`, the constants `[mu, inv, gamma, beta]`.
    fn affine_block<T: CpuFloat>(out: &mut [T], x: &[T], c: [&[T]; 4], input: NormInput) {
        let [mu, inv, gamma, beta] = c;
        let at = mu.iter().zip(inv).zip(gamma.iter().zip(beta));
        for ((o, &v), ((&mu, &inv), (&gamma, &beta))) in out.iter_mut().zip(x).zip(at) {
            *o = (input.value(v) - mu) * inv * gamma + beta;
        }
    }
}

multiversioned! {
    /// `sd += dy`, `sdx += dy (x - mu) inv`, the constants `[mu, inv]`.
    fn add_grad_sums<T: CpuFloat>(sd: &mut [f64], sdx: &mut [f64], x: &[T], dy: &[T], c: [&[f64]; 2], input: NormInput) {
        let [mu, inv] = c;
        let at = x.iter().zip(dy).zip(mu.iter().zip(inv));
        for ((sd, sdx), ((&xv, &d), (&mu, &inv))) in sd.iter_mut().zip(sdx).zip(at) {
            let d = d.as_f64();
            *sd += d;
            *sdx += d * (input.value(xv).as_f64() - mu) * inv;
        }
    }
}

multiversioned! {
    /// `out = dy gr` (masked by the input's ReLU when `input` has one).
    fn scale_block<T: CpuFloat>(out: &mut [T], x: &[T], dy: &[T], gr: &[T], input: NormInput) {
        for ((o, (&xv, &d)), &gr) in out.iter_mut().zip(x.iter().zip(dy)).zip(gr) {
            *o = input.gradient(xv, d * gr);
        }
    }
}

multiversioned! {
    /// `out = dy gr + a + b (x - mu) inv`, the constants `[mu, inv, gr, a, b]` (masked by
    /// the input's ReLU when `input` has one).
    fn dx_block<T: CpuFloat>(out: &mut [T], x: &[T], dy: &[T], c: [&[T]; 5], input: NormInput) {
        let [mu, inv, gr, a, b] = c;
        let at = mu.iter().zip(inv).zip(gr.iter().zip(a.iter().zip(b)));
        let values = out.iter_mut().zip(x.iter().zip(dy).zip(at));
        for (o, ((&xv, &d), ((&mu, &inv), (&gr, (&a, &b))))) in values {
            *o = input.gradient(xv, d * gr + a + b * ((input.value(xv) - mu) * inv));
        }
    }
}
