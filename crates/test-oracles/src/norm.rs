//! Group-wise normalisation, the one formula behind BatchNorm, LayerNorm, InstanceNorm and
//! GroupNorm, forward and backward, by explicit loops.
//!
//! A tensor `[N, C, *]` is seen as `[N, C, S]` (`S` the product of the spatial sizes).
//! Its elements fall into statistic groups ([`Grouping`]); with `M` elements per group,
//! group `g` has mean `mu_g = sum x / M` and variance `v_g = sum (x - mu_g)^2 / d`, with
//! `d = M` (biased) or `M - 1` (unbiased). With `r_g = 1 / sqrt(v_g + eps)`:
//!
//! `xhat = (x - mu_g) r_g`,   `y = gamma_c xhat + beta_c`
//!
//! (`gamma`, `beta`: one value per channel, or one shared value). For an upstream gradient
//! `dy`, with `g_i = dy_i gamma_c(i)` and sums over the element's group:
//!
//! - through the statistics: `dx_i = r (g_i - sum g / M - xhat_i sum (g xhat) / d)`
//!   (from `dv/dx_i = 2 (x_i - mu) / d` and `dr/dv = -r^3 / 2`);
//! - statistics held constant (detached): `dx_i = r g_i`;
//! - `dgamma_c = sum_{i in c} dy_i xhat_i`, `dbeta_c = sum_{i in c} dy_i` (over the
//!   whole tensor for a shared affine).

use crate::{check_len, OracleError, Result};

/// Which elements share a mean and variance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grouping {
    /// One group per channel, over the batch and space (BatchNorm).
    PerChannel,
    /// Per sample, `groups` groups of `C / groups` consecutive channels each, over space
    /// (LayerNorm: 1 group; InstanceNorm: `C` groups; GroupNorm).
    PerGroup {
        /// Number of groups per sample; must divide `C`.
        groups: usize,
    },
}

/// The variance's divisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variance {
    /// `d = M`.
    Biased,
    /// `d = M - 1`.
    Unbiased,
}

/// Whether the backward pass differentiates through the batch statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatsGradient {
    /// The statistics depend on `x` (PyTorch's BatchNorm in training, LayerNorm, ...).
    Through,
    /// The statistics are constants (the lesson's BatchNorm, eval mode).
    Detached,
}

/// A `[N, C, S]` view of a tensor and its grouping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NormShape {
    /// Batch size `N`.
    pub n: usize,
    /// Channels `C`.
    pub c: usize,
    /// Spatial elements per channel `S`.
    pub s: usize,
    /// The statistic groups.
    pub grouping: Grouping,
}

impl NormShape {
    /// The view of `shape = [N, C, *]`; an error for rank < 2 or groups that do not divide
    /// `C`.
    pub fn new(shape: &[usize], grouping: Grouping) -> Result<Self> {
        if shape.len() < 2 {
            return Err(OracleError::Shape(format!(
                "norm: shape {shape:?} has no channel axis"
            )));
        }
        let (n, c) = (shape[0], shape[1]);
        if let Grouping::PerGroup { groups } = grouping {
            if groups == 0 || c % groups != 0 {
                return Err(OracleError::Shape(format!(
                    "norm: {groups} groups do not divide {c} channels"
                )));
            }
        }
        Ok(NormShape {
            n,
            c,
            s: shape[2..].iter().product(),
            grouping,
        })
    }

    /// Number of statistic groups: `C`, or `N groups`.
    pub fn groups(&self) -> usize {
        match self.grouping {
            Grouping::PerChannel => self.c,
            Grouping::PerGroup { groups } => self.n * groups,
        }
    }

    /// The group of the elements `(n, c, *)`.
    pub fn group_of(&self, n: usize, c: usize) -> usize {
        match self.grouping {
            Grouping::PerChannel => c,
            Grouping::PerGroup { groups } => n * groups + c / (self.c / groups),
        }
    }

    /// Elements of the tensor.
    pub fn len(&self) -> usize {
        self.n * self.c * self.s
    }

    /// True when the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `(flat index, channel, group)` of every element, in row-major order.
    fn elements(&self) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        (0..self.n).flat_map(move |n| {
            (0..self.c).flat_map(move |c| {
                let base = (n * self.c + c) * self.s;
                let g = self.group_of(n, c);
                (0..self.s).map(move |s| (base + s, c, g))
            })
        })
    }

    /// Index into an affine vector of `len` values (per channel, or shared).
    fn affine_index(len: usize, c: usize) -> usize {
        if len == 1 {
            0
        } else {
            c
        }
    }

    fn check_affine(&self, what: &'static str, v: &[f64]) -> Result<()> {
        if v.len() == self.c || v.len() == 1 {
            Ok(())
        } else {
            Err(OracleError::Length {
                what,
                expected: self.c,
                got: v.len(),
            })
        }
    }
}

/// Mean and variance per group.
#[derive(Clone, Debug, PartialEq)]
pub struct Moments {
    /// `mu_g`.
    pub mean: Vec<f64>,
    /// `v_g` (NaN for a one-element group with the unbiased divisor: 0/0).
    pub var: Vec<f64>,
}

/// The per-group mean and variance of `x` (two passes).
pub fn moments(s: &NormShape, x: &[f64], variance: Variance) -> Result<Moments> {
    check_len("norm input", x, s.len())?;
    let k = s.groups();
    let mut sum = vec![0.0; k];
    let mut count = vec![0usize; k];
    for (i, _, g) in s.elements() {
        sum[g] += x[i];
        count[g] += 1;
    }
    let mean: Vec<f64> = sum.iter().zip(&count).map(|(v, &m)| v / m as f64).collect();
    let mut sq = vec![0.0; k];
    for (i, _, g) in s.elements() {
        sq[g] += (x[i] - mean[g]) * (x[i] - mean[g]);
    }
    let var = (0..k)
        .map(|g| sq[g] / divisor(count[g], variance))
        .collect();
    Ok(Moments { mean, var })
}

fn divisor(m: usize, variance: Variance) -> f64 {
    match variance {
        Variance::Biased => m as f64,
        Variance::Unbiased => m as f64 - 1.0,
    }
}

/// `y = gamma (x - mean) / sqrt(var + eps) + beta` with the given per-group statistics
/// (e.g. running statistics in eval mode).
pub fn normalize_with(
    s: &NormShape,
    x: &[f64],
    stats: &Moments,
    gamma: &[f64],
    beta: &[f64],
    eps: f64,
) -> Result<Vec<f64>> {
    check_len("norm input", x, s.len())?;
    check_len("norm mean", &stats.mean, s.groups())?;
    check_len("norm variance", &stats.var, s.groups())?;
    s.check_affine("norm gamma", gamma)?;
    s.check_affine("norm beta", beta)?;
    let mut y = vec![0.0; x.len()];
    for (i, c, g) in s.elements() {
        let xhat = (x[i] - stats.mean[g]) / (stats.var[g] + eps).sqrt();
        y[i] = gamma[NormShape::affine_index(gamma.len(), c)] * xhat
            + beta[NormShape::affine_index(beta.len(), c)];
    }
    Ok(y)
}

/// The forward pass with the batch's own statistics.
pub fn normalize(
    s: &NormShape,
    x: &[f64],
    gamma: &[f64],
    beta: &[f64],
    variance: Variance,
    eps: f64,
) -> Result<Vec<f64>> {
    normalize_with(s, x, &moments(s, x, variance)?, gamma, beta, eps)
}

/// Gradients of `L = sum dy * normalize(x, gamma, beta)`.
#[derive(Clone, Debug, PartialEq)]
pub struct NormGrads {
    /// `dL/dx`.
    pub dx: Vec<f64>,
    /// `dL/dgamma`, as long as `gamma`.
    pub dgamma: Vec<f64>,
    /// `dL/dbeta`, as long as `gamma`.
    pub dbeta: Vec<f64>,
}

/// The backward pass of [`normalize`] (see the module docs for the formulas).
pub fn normalize_backward(
    s: &NormShape,
    x: &[f64],
    gamma: &[f64],
    dy: &[f64],
    variance: Variance,
    eps: f64,
    through: StatsGradient,
) -> Result<NormGrads> {
    check_len("norm output gradient", dy, s.len())?;
    s.check_affine("norm gamma", gamma)?;
    let st = moments(s, x, variance)?;
    let k = s.groups();
    let r: Vec<f64> = st.var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
    let xhat: Vec<f64> = s
        .elements()
        .map(|(i, _, g)| (x[i] - st.mean[g]) * r[g])
        .collect();
    let gi = |i: usize, c: usize| dy[i] * gamma[NormShape::affine_index(gamma.len(), c)];
    let (mut sum_g, mut sum_gx, mut count) = (vec![0.0; k], vec![0.0; k], vec![0usize; k]);
    let mut dgamma = vec![0.0; gamma.len()];
    let mut dbeta = vec![0.0; gamma.len()];
    for (i, c, g) in s.elements() {
        sum_g[g] += gi(i, c);
        sum_gx[g] += gi(i, c) * xhat[i];
        count[g] += 1;
        let a = NormShape::affine_index(gamma.len(), c);
        dgamma[a] += dy[i] * xhat[i];
        dbeta[a] += dy[i];
    }
    let mut dx = vec![0.0; x.len()];
    for (i, c, g) in s.elements() {
        dx[i] = match through {
            StatsGradient::Detached => r[g] * gi(i, c),
            StatsGradient::Through => {
                let m = count[g] as f64;
                r[g] * (gi(i, c) - sum_g[g] / m - xhat[i] * sum_gx[g] / divisor(count[g], variance))
            }
        };
    }
    Ok(NormGrads { dx, dgamma, dbeta })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_forward_per_channel_and_per_group() {
        // [2, 2, 2]: sample 0 = channels [1, 3], [0, 4]; sample 1 = [5, 7], [2, 2].
        let x = [1.0, 3.0, 0.0, 4.0, 5.0, 7.0, 2.0, 2.0];
        // Per channel: channel 0 = {1, 3, 5, 7}: mean 4, squared deviations 9+1+1+9 = 20;
        // channel 1 = {0, 4, 2, 2}: mean 2, squared deviations 4+4+0+0 = 8.
        let s = NormShape::new(&[2, 2, 2], Grouping::PerChannel).unwrap();
        let m = moments(&s, &x, Variance::Biased).unwrap();
        assert_eq!((m.mean, m.var), (vec![4.0, 2.0], vec![5.0, 2.0]));
        let m = moments(&s, &x, Variance::Unbiased).unwrap();
        assert_eq!(m.var, [20.0 / 3.0, 8.0 / 3.0]);
        // Per sample (LayerNorm): {1, 3, 0, 4}: mean 2, deviations 1+1+4+4 = 10;
        // {5, 7, 2, 2}: mean 4, deviations 1+9+4+4 = 18.
        let l = NormShape::new(&[2, 2, 2], Grouping::PerGroup { groups: 1 }).unwrap();
        let m = moments(&l, &x, Variance::Biased).unwrap();
        assert_eq!((m.mean, m.var), (vec![2.0, 4.0], vec![2.5, 4.5]));
        // Per channel, eps chosen to make the roots whole: var + eps = 4 and 1.
        let stats = Moments {
            mean: vec![4.0, 2.0],
            var: vec![3.0, 0.0],
        };
        let y = normalize_with(&s, &x, &stats, &[2.0, 1.0], &[0.5, -1.0], 1.0).unwrap();
        // Channel 0: 2 (x - 4) / 2 + 0.5; channel 1: (x - 2) / 1 - 1.
        assert_eq!(y, [-2.5, -0.5, -3.0, 1.0, 1.5, 3.5, -1.0, -1.0]);
        // One-element groups: the unbiased variance is 0/0.
        let one = NormShape::new(&[1, 2], Grouping::PerGroup { groups: 2 }).unwrap();
        assert!(moments(&one, &[1.0, 2.0], Variance::Unbiased).unwrap().var[0].is_nan());
        assert!(NormShape::new(&[2, 3, 1], Grouping::PerGroup { groups: 2 }).is_err());
        assert!(normalize(&s, &x, &[1.0; 3], &[0.0; 2], Variance::Biased, 1e-5).is_err());
    }

    #[test]
    fn hand_computed_backward() {
        // One group x = [-1, 0, 1]: mean 0, unbiased variance 2 / 2 = 1; eps = 0 so
        // r = 1 and xhat = x. dy = [1, 2, 4], gamma = 1: sum g = 7, sum g xhat = 3, d = 2:
        // dx = [1 - 7/3 + 3/2, 2 - 7/3 - 0, 4 - 7/3 - 3/2] = [1/6, -1/3, 1/6].
        let s = NormShape::new(&[1, 1, 3], Grouping::PerChannel).unwrap();
        let (x, dy) = ([-1.0, 0.0, 1.0], [1.0, 2.0, 4.0]);
        let g = normalize_backward(
            &s,
            &x,
            &[1.0],
            &dy,
            Variance::Unbiased,
            0.0,
            StatsGradient::Through,
        )
        .unwrap();
        let want = [1.0 / 6.0, -1.0 / 3.0, 1.0 / 6.0];
        assert!(
            g.dx.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-15),
            "{:?}",
            g.dx
        );
        // dgamma = sum dy xhat = -1 + 4 = 3; dbeta = sum dy = 7.
        assert_eq!((g.dgamma, g.dbeta), (vec![3.0], vec![7.0]));
        // gamma = 2 doubles dx; detached, dx = r gamma dy.
        let g2 = normalize_backward(
            &s,
            &x,
            &[2.0],
            &dy,
            Variance::Unbiased,
            0.0,
            StatsGradient::Through,
        )
        .unwrap();
        assert!(g2
            .dx
            .iter()
            .zip(want)
            .all(|(a, b)| (a - 2.0 * b).abs() < 1e-15));
        let d = normalize_backward(
            &s,
            &x,
            &[2.0],
            &dy,
            Variance::Unbiased,
            0.0,
            StatsGradient::Detached,
        )
        .unwrap();
        assert_eq!(d.dx, [2.0, 4.0, 8.0]);
    }

    #[test]
    fn backward_matches_central_differences_of_the_forward() {
        let x = crate::seeded::uniform(2 * 4 * 3, 1);
        let dy = crate::seeded::uniform(x.len(), 2);
        let gamma = [0.5, 1.5, -1.0, 2.0];
        let beta = [0.1, 0.2, 0.3, 0.4];
        for grouping in [Grouping::PerChannel, Grouping::PerGroup { groups: 2 }] {
            for variance in [Variance::Biased, Variance::Unbiased] {
                let s = NormShape::new(&[2, 4, 3], grouping).unwrap();
                let loss = |x: &[f64], gm: &[f64], bt: &[f64]| -> f64 {
                    let y = normalize(&s, x, gm, bt, variance, 0.1).unwrap();
                    y.iter().zip(&dy).map(|(a, b)| a * b).sum()
                };
                let h = 1e-6;
                let diff = |v: &[f64], i: usize, f: &dyn Fn(&[f64]) -> f64| {
                    let (mut p, mut m) = (v.to_vec(), v.to_vec());
                    p[i] += h;
                    m[i] -= h;
                    (f(&p) - f(&m)) / (2.0 * h)
                };
                let g =
                    normalize_backward(&s, &x, &gamma, &dy, variance, 0.1, StatsGradient::Through)
                        .unwrap();
                for i in 0..x.len() {
                    let num = diff(&x, i, &|v| loss(v, &gamma, &beta));
                    assert!(
                        (g.dx[i] - num).abs() < 1e-7,
                        "dx[{i}]: {} vs {num}",
                        g.dx[i]
                    );
                }
                for c in 0..4 {
                    let num = diff(&gamma, c, &|v| loss(&x, v, &beta));
                    assert!((g.dgamma[c] - num).abs() < 1e-7);
                    let num = diff(&beta, c, &|v| loss(&x, &gamma, v));
                    assert!((g.dbeta[c] - num).abs() < 1e-7);
                }
            }
        }
    }
}
