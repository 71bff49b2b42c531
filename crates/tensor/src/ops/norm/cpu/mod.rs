//! CPU kernels of the normalisation family, generic over [`CpuFloat`], in two engines:
//!
//! * [`channels`] — the per-channel layout (the batch norms): whole samples at a time,
//!   statistics summed per position of a sample and folded per channel at the end;
//! * [`rows`] — the per-group layout (LayerNorm, InstanceNorm, GroupNorm): rows of `S`
//!   values, each group's statistics over its contiguous block.
//!
//! This module holds what both share: the dtype dispatch, the statistics and gradient
//! tensors built from the engines' `f64` sums, and the backward coefficients `A`, `B` of
//! the module documentation of `ops::norm`. Statistics are accumulated in `f64` in two
//! passes (mean, then squared deviations), in an order fixed by the shape alone, so results
//! do not depend on the thread count. Work runs on rayon when the input has at least
//! [`PAR_ELEMENTS`](crate::cpu::PAR_ELEMENTS) elements and inline otherwise.

mod channels;
mod rows;

use super::{NormGeometry, NormGrads, NormLayout, NormOps, NormStats, StatGrad, Variance};
use smallvec::SmallVec;

use crate::cpu::pool::HostBuffer;
use crate::cpu::{host, CpuBackend};
use crate::dtype::CpuFloat;
use crate::storage::{CpuStorage, Element};
use crate::tensor::Dims;
use crate::{Result, Tensor, TensorError};

/// The elements of `t` as `T` (the callers validated the dtype; this keeps it typed).
fn typed<'a, T: Element>(op: &'static str, t: &'a Tensor) -> Result<&'a [T]> {
    T::slice(host(t)?).ok_or(TensorError::DTypeMismatch {
        op,
        lhs: T::DTYPE,
        rhs: t.dtype(),
    })
}

/// The tensor of `shape` holding the values of `v` (exactly its number of elements).
fn f64_tensor<T: Element>(v: impl Iterator<Item = f64>, shape: impl AsRef<[usize]>) -> Tensor {
    HostBuffer::<T>::written(shape.as_ref(), |out| {
        for (o, v) in out.iter_mut().zip(v) {
            *o = T::of_f64(v);
        }
    })
}

/// `Σ f(item)` in `f64` as eight interleaved partial sums (item `i` into sum `i mod 8`)
/// added in a fixed order at the end: the same result every time, without one long chain
/// of dependent additions.
#[inline]
fn lane_sums(items: impl Iterator<Item = (f64, f64)>) -> (f64, f64) {
    const LANES: usize = 8;
    let (mut a, mut b) = ([0.0f64; LANES], [0.0f64; LANES]);
    for (i, (p, q)) in items.enumerate() {
        a[i % LANES] += p;
        b[i % LANES] += q;
    }
    (a.iter().sum(), b.iter().sum())
}

/// Per-group (or per-channel) values of one call, inline up to 64 (the lesson's widest
/// layer), so that a call allocates only its output tensors.
type Sums<T> = SmallVec<[T; 64]>;

/// What the backward's first pass yields: per affine index `Σ dy` and `Σ dy xhat`, per
/// statistic group `Sg = Σ dy gamma` and `Sgx = Σ dy gamma xhat`.
struct BackwardSums {
    dshift: Sums<f64>,
    dscale: Sums<f64>,
    sg: Sums<f64>,
    sgx: Sums<f64>,
}

/// The per-group constants of the backward's second pass, `dx = dy gamma r + A + B xhat`
/// (`detached`: `A = B = 0` and the `xhat` term is skipped).
struct DxCoefficients<T> {
    ab: Sums<(T, T)>,
    detached: bool,
}

/// Per group, `(A_k, B_k)` of `dx = g r + A + B xhat` (see the module documentation of
/// `ops::norm`), from `Sg = sum g` and `Sgx = sum g xhat`.
fn coefficients<T: CpuFloat>(
    g: &NormGeometry,
    grad: &StatGrad<'_>,
    live: Option<&[f64]>,
    invstd: &[T],
    sums: &BackwardSums,
) -> DxCoefficients<T> {
    let m = g.group_len();
    let ab = (0..g.stat_count())
        .map(|k| {
            let r = invstd[k].as_f64();
            let (sg, sgx) = (sums.sg[k], sums.sgx[k]);
            let (a, b) = match grad {
                StatGrad::Detached => (0.0, 0.0),
                StatGrad::Batch(variance) => (-r * sg / m as f64, -r * sgx / variance.divisor(m)),
                StatGrad::Running { share, .. } => {
                    let var_flows = live.is_none_or(|l| l[k] != 0.0);
                    let b = if var_flows { -share * r * sgx } else { 0.0 };
                    (-share * r * sg, b)
                }
            };
            (T::of_f64(a), T::of_f64(b))
        })
        .collect();
    DxCoefficients {
        ab,
        detached: matches!(grad, StatGrad::Detached),
    }
}

/// The statistics tensors from per-group `(mean, variance)`.
fn stats_of<T: Element>(g: &NormGeometry, mv: &[(f64, f64)], eps: f64) -> NormStats {
    NormStats {
        mean: f64_tensor::<T>(mv.iter().map(|&(m, _)| m), g.stat_shape()),
        var: f64_tensor::<T>(mv.iter().map(|&(_, v)| v), g.stat_shape()),
        invstd: f64_tensor::<T>(
            mv.iter().map(|&(_, v)| 1.0 / (v + eps).sqrt()),
            g.stat_shape(),
        ),
    }
}

fn stats<T: Element>(
    g: &NormGeometry,
    x: &Tensor,
    variance: Variance,
    eps: f64,
) -> Result<NormStats> {
    let x = typed::<T>("norm_stats", x)?;
    let mv = match g.layout() {
        NormLayout::PerChannel => channels::moments(g, x, variance),
        NormLayout::PerGroup { .. } => rows::moments(g, x, variance),
    };
    Ok(stats_of::<T>(g, &mv, eps))
}

fn power_sums<T: Element>(g: &NormGeometry, x: &Tensor) -> Result<(Tensor, Tensor)> {
    let x = typed::<T>("norm_power_sums", x)?;
    let sums = match g.layout() {
        NormLayout::PerChannel => channels::power_sums(g, x),
        NormLayout::PerGroup { .. } => rows::power_sums(g, x),
    };
    Ok((
        f64_tensor::<T>(sums.iter().map(|&(a, _)| a), g.stat_shape()),
        f64_tensor::<T>(sums.iter().map(|&(_, b)| b), g.stat_shape()),
    ))
}

/// The arguments of `apply`, typed: `y = (x - mean_k) invstd_k gamma_c + beta_c`.
struct Affine<'a, T> {
    mean: &'a [T],
    invstd: &'a [T],
    scale: &'a [T],
    shift: &'a [T],
}

impl<T: Copy> Affine<'_, T> {
    /// `gamma` of channel `c` (a one-element affine applies to every channel).
    #[inline]
    fn gamma(&self, c: usize) -> T {
        self.scale[if self.scale.len() == 1 { 0 } else { c }]
    }

    /// `beta` of channel `c`.
    #[inline]
    fn beta(&self, c: usize) -> T {
        self.shift[if self.shift.len() == 1 { 0 } else { c }]
    }
}

fn apply<T: Element>(
    g: &NormGeometry,
    x: &Tensor,
    mean: &Tensor,
    invstd: &Tensor,
    scale: &Tensor,
    shift: &Tensor,
) -> Result<Tensor> {
    const OP: &str = "norm_apply";
    let shape = Dims::from_slice(x.shape());
    let affine = Affine {
        mean: typed::<T>(OP, mean)?,
        invstd: typed::<T>(OP, invstd)?,
        scale: typed::<T>(OP, scale)?,
        shift: typed::<T>(OP, shift)?,
    };
    let x = typed::<T>(OP, x)?;
    Ok(HostBuffer::written(&shape, |y| match g.layout() {
        NormLayout::PerChannel => channels::apply(g, x, &affine, y),
        NormLayout::PerGroup { .. } => rows::apply(g, x, &affine, y),
    }))
}

fn backward<T: Element>(
    g: &NormGeometry,
    x: &Tensor,
    dy: &Tensor,
    mean: &Tensor,
    invstd: &Tensor,
    scale: &Tensor,
    grad: StatGrad<'_>,
) -> Result<NormGrads> {
    const OP: &str = "norm_backward";
    let (x_shape, scale_shape) = (Dims::from_slice(x.shape()), Dims::from_slice(scale.shape()));
    let (x, dy) = (typed::<T>(OP, x)?, typed::<T>(OP, dy)?);
    let affine = Affine {
        mean: typed::<T>(OP, mean)?,
        invstd: typed::<T>(OP, invstd)?,
        scale: typed::<T>(OP, scale)?,
        shift: &[],
    };
    let live: Option<Sums<f64>> = match grad {
        StatGrad::Running {
            var_live: Some(l), ..
        } => Some(typed::<T>(OP, l)?.iter().map(|v| v.as_f64()).collect()),
        _ => None,
    };
    let per_channel = g.layout() == NormLayout::PerChannel;
    let sums = if per_channel {
        channels::backward_sums(g, x, dy, &affine)
    } else {
        rows::backward_sums(g, x, dy, &affine)
    };
    let coef = coefficients(g, &grad, live.as_deref(), affine.invstd, &sums);
    let dx = HostBuffer::written(&x_shape, |dx| {
        if per_channel {
            channels::backward_dx(g, x, dy, &affine, &coef, dx)
        } else {
            rows::backward_dx(g, x, dy, &affine, &coef, dx)
        }
    });
    Ok(NormGrads {
        dx,
        dscale: f64_tensor::<T>(sums.dscale.into_iter(), &scale_shape),
        dshift: f64_tensor::<T>(sums.dshift.into_iter(), scale_shape),
    })
}

impl NormOps for CpuBackend {
    fn norm_stats(
        &self,
        g: &NormGeometry,
        x: &Tensor,
        variance: Variance,
        eps: f64,
    ) -> Result<NormStats> {
        match host(x)? {
            CpuStorage::F32(_) => stats::<f32>(g, x, variance, eps),
            CpuStorage::F64(_) => stats::<f64>(g, x, variance, eps),
        }
    }

    fn norm_power_sums(&self, g: &NormGeometry, x: &Tensor) -> Result<(Tensor, Tensor)> {
        match host(x)? {
            CpuStorage::F32(_) => power_sums::<f32>(g, x),
            CpuStorage::F64(_) => power_sums::<f64>(g, x),
        }
    }

    fn norm_apply(
        &self,
        g: &NormGeometry,
        x: &Tensor,
        mean: &Tensor,
        invstd: &Tensor,
        scale: &Tensor,
        shift: &Tensor,
    ) -> Result<Tensor> {
        match host(x)? {
            CpuStorage::F32(_) => apply::<f32>(g, x, mean, invstd, scale, shift),
            CpuStorage::F64(_) => apply::<f64>(g, x, mean, invstd, scale, shift),
        }
    }

    fn norm_backward(
        &self,
        g: &NormGeometry,
        x: &Tensor,
        dy: &Tensor,
        mean: &Tensor,
        invstd: &Tensor,
        scale: &Tensor,
        grad: StatGrad<'_>,
    ) -> Result<NormGrads> {
        match host(x)? {
            CpuStorage::F32(_) => backward::<f32>(g, x, dy, mean, invstd, scale, grad),
            CpuStorage::F64(_) => backward::<f64>(g, x, dy, mean, invstd, scale, grad),
        }
    }
}
