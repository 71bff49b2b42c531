//! Lowering a convolution to matrix products: padding planes, im2col and its adjoint
//! col2im, and the layout changes between NCHW and the GEMM's `c_out × pixels` matrices.

use super::plan::Plan;
use crate::dtype::CpuFloat;
use crate::ops::conv::Conv2dGeometry;

/// `dst.copy_from_slice(src)` for the short runs of kernel rows: lengths up to 8 become
/// straight-line moves instead of a `memcpy` call each.
#[inline(always)]
pub(super) fn copy_short<T: Copy>(dst: &mut [T], src: &[T]) {
    fn fixed<T: Copy, const N: usize>(dst: &mut [T], src: &[T]) {
        dst[..N].copy_from_slice(&src[..N]);
    }
    match dst.len() {
        0 => {}
        1 => fixed::<T, 1>(dst, src),
        2 => fixed::<T, 2>(dst, src),
        3 => fixed::<T, 3>(dst, src),
        4 => fixed::<T, 4>(dst, src),
        5 => fixed::<T, 5>(dst, src),
        6 => fixed::<T, 6>(dst, src),
        7 => fixed::<T, 7>(dst, src),
        8 => fixed::<T, 8>(dst, src),
        _ => dst.copy_from_slice(src),
    }
}

/// Where `h × w` planes sit inside larger zero-bordered `hp × wp` planes: rows
/// `[top, top + h)`, columns `[left, left + w)`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct PadShape {
    pub(super) h: usize,
    pub(super) w: usize,
    pub(super) top: usize,
    pub(super) left: usize,
    pub(super) hp: usize,
    pub(super) wp: usize,
}

impl PadShape {
    /// The padded input of a convolution: `p` zeros on every side.
    pub(super) fn input(g: &Conv2dGeometry) -> Self {
        let p = g.padding;
        PadShape {
            h: g.h_in,
            w: g.w_in,
            top: p,
            left: p,
            hp: g.h_in + 2 * p,
            wp: g.w_in + 2 * p,
        }
    }
}

/// Copies the `h × w` planes of `x` into the interiors of the `hp × wp` planes of `xp`. The
/// borders are not touched.
pub(super) fn pad_planes<T: CpuFloat>(s: &PadShape, x: &[T], xp: &mut [T]) {
    for (src, dst) in x
        .chunks_exact(s.h * s.w)
        .zip(xp.chunks_exact_mut(s.hp * s.wp))
    {
        for (srow, drow) in src
            .chunks_exact(s.w)
            .zip(dst[s.top * s.wp..].chunks_exact_mut(s.wp))
        {
            copy_short(&mut drow[s.left..s.left + s.w], srow);
        }
    }
}

/// Inverse of [`pad_planes`] for gradients: copies the interior of every padded plane of
/// `gxp` into `gx`, dropping the border.
pub(super) fn unpad_planes<T: CpuFloat>(g: &Conv2dGeometry, p: &Plan, gxp: &[T], gx: &mut [T]) {
    let pad = g.padding;
    for (src, dst) in gxp
        .chunks_exact(p.hp * p.wp)
        .zip(gx.chunks_exact_mut(g.h_in * g.w_in))
    {
        for (srow, drow) in src[pad * p.wp..]
            .chunks_exact(p.wp)
            .zip(dst.chunks_exact_mut(g.w_in))
        {
            copy_short(drow, &srow[pad..pad + g.w_in]);
        }
    }
}

/// Fills `cols` (`k_eff × nb·spatial`, row-major) from the padded planes `xp` of `nb`
/// samples: `cols[(ci, i, j), (b, t)] = xp[offsets[b·spatial + t] + ci·hp·wp + (kh0 + i)·wp + kw0 + j]`.
pub(super) fn im2col_rows<T: CpuFloat>(
    g: &Conv2dGeometry,
    p: &Plan,
    xp: &[T],
    offsets: &[usize],
    nb: usize,
    cols: &mut [T],
) {
    let plane = p.hp * p.wp;
    let ncols = nb * p.spatial;
    let offsets = &offsets[..ncols];
    let mut rows = cols.chunks_exact_mut(ncols);
    for ci in 0..g.c_in {
        for i in 0..p.th {
            for j in 0..p.tw {
                let start = ci * plane + (p.kh0 + i) * p.wp + p.kw0 + j;
                let Some(row) = rows.next() else { return };
                let src = &xp[start..];
                for (d, &o) in row.iter_mut().zip(offsets) {
                    *d = src[o];
                }
            }
        }
    }
}

/// Adjoint of [`im2col_rows`]: adds every entry of `dcols` onto the padded-plane element of
/// `gxp` it would have been read from (`gxp` must be zeroed by the caller).
pub(super) fn col2im_rows<T: CpuFloat>(
    g: &Conv2dGeometry,
    p: &Plan,
    dcols: &[T],
    offsets: &[usize],
    nb: usize,
    gxp: &mut [T],
) {
    let plane = p.hp * p.wp;
    let ncols = nb * p.spatial;
    if ncols == 0 || g.w_out == 0 {
        return;
    }
    // The pixels of one output row `(b, oh)` read `w_out` elements `s` apart from the row's
    // first offset: add each row of a tap's entries as one strided run.
    let mut rows = dcols.chunks_exact(ncols);
    for ci in 0..g.c_in {
        for i in 0..p.th {
            for j in 0..p.tw {
                let start = ci * plane + (p.kh0 + i) * p.wp + p.kw0 + j;
                let Some(row) = rows.next() else { return };
                let firsts = offsets.iter().step_by(g.w_out);
                let runs = row.chunks_exact(g.w_out).zip(firsts);
                match g.stride {
                    1 => add_runs::<T, 1>(runs, &mut gxp[start..]),
                    2 => add_runs::<T, 2>(runs, &mut gxp[start..]),
                    s => add_runs_strided(runs, &mut gxp[start..], s),
                }
            }
        }
    }
}

/// `dst[first + q·S] += vals[q]` for every run `(vals, first)`: the constant stride lets
/// the compiler turn each run into straight-line code.
fn add_runs<'a, T: CpuFloat, const S: usize>(
    runs: impl Iterator<Item = (&'a [T], &'a usize)>,
    dst: &mut [T],
) {
    for (vals, &first) in runs {
        let span = &mut dst[first..][..(vals.len() - 1) * S + 1];
        for (d, v) in span.iter_mut().step_by(S).zip(vals) {
            *d = *d + *v;
        }
    }
}

/// [`add_runs`] for any stride.
fn add_runs_strided<'a, T: CpuFloat>(
    runs: impl Iterator<Item = (&'a [T], &'a usize)>,
    dst: &mut [T],
    stride: usize,
) {
    for (vals, &first) in runs {
        let span = &mut dst[first..][..(vals.len() - 1) * stride + 1];
        for (d, v) in span.iter_mut().step_by(stride).zip(vals) {
            *d = *d + *v;
        }
    }
}

/// Fills `cols_t` (`nb·spatial × k_eff`, row-major: one patch per output pixel) from the
/// padded planes `xp`: `cols_t[(b, t), (ci, i, j)] = xp[offsets[b·spatial + t] + ci·hp·wp + (kh0 + i)·wp + kw0 + j]`.
pub(super) fn im2col_patches<T: CpuFloat>(
    g: &Conv2dGeometry,
    p: &Plan,
    xp: &[T],
    offsets: &[usize],
    cols_t: &mut [T],
) {
    // Fixed run lengths compile to straight-line copies instead of `memcpy` calls.
    match p.tw {
        1 => patches_fixed::<T, 1>(g, p, xp, offsets, cols_t),
        2 => patches_fixed::<T, 2>(g, p, xp, offsets, cols_t),
        3 => patches_fixed::<T, 3>(g, p, xp, offsets, cols_t),
        4 => patches_fixed::<T, 4>(g, p, xp, offsets, cols_t),
        5 => patches_fixed::<T, 5>(g, p, xp, offsets, cols_t),
        _ => patches_any(g, p, xp, offsets, cols_t),
    }
}

pub(super) fn patches_fixed<T: CpuFloat, const TW: usize>(
    g: &Conv2dGeometry,
    p: &Plan,
    xp: &[T],
    offsets: &[usize],
    cols_t: &mut [T],
) {
    let plane = p.hp * p.wp;
    let corner = p.kh0 * p.wp + p.kw0;
    for (patch, &o) in cols_t.chunks_exact_mut(p.k_eff).zip(offsets) {
        let mut runs = patch.chunks_exact_mut(TW);
        for ci in 0..g.c_in {
            let src = &xp[o + ci * plane + corner..];
            for i in 0..p.th {
                let (Some(d), Some(s)) = (runs.next(), src.get(i * p.wp..i * p.wp + TW)) else {
                    return;
                };
                let d: &mut [T; TW] = d.try_into().expect("run of TW elements");
                let s: &[T; TW] = s.try_into().expect("run of TW elements");
                *d = *s;
            }
        }
    }
}

pub(super) fn patches_any<T: CpuFloat>(
    g: &Conv2dGeometry,
    p: &Plan,
    xp: &[T],
    offsets: &[usize],
    cols_t: &mut [T],
) {
    let plane = p.hp * p.wp;
    let corner = p.kh0 * p.wp + p.kw0;
    for (patch, &o) in cols_t.chunks_exact_mut(p.k_eff).zip(offsets) {
        let mut runs = patch.chunks_exact_mut(p.tw);
        for ci in 0..g.c_in {
            let src = &xp[o + ci * plane + corner..];
            for i in 0..p.th {
                if let Some(d) = runs.next() {
                    d.copy_from_slice(&src[i * p.wp..i * p.wp + p.tw]);
                }
            }
        }
    }
}

/// `y[b, co, :] = out[co, b·spatial ..][..spatial] + bias[co]` for the `nb` samples of `y`.
pub(super) fn scatter_output<T: CpuFloat>(
    out: &[T],
    bias: Option<&[T]>,
    c_out: usize,
    spatial: usize,
    y: &mut [T],
) {
    let nb = y.len() / (c_out * spatial).max(1);
    let ncols = nb * spatial;
    for (b, yb) in y.chunks_exact_mut(c_out * spatial).enumerate() {
        for (co, yrow) in yb.chunks_exact_mut(spatial).enumerate() {
            let src = &out[co * ncols + b * spatial..][..spatial];
            let c = bias.map_or(T::zero(), |bv| bv[co]);
            for (d, v) in yrow.iter_mut().zip(src) {
                *d = *v + c;
            }
        }
    }
}

/// `gyc[co, b·spatial ..][..spatial] = gy[b, co, :]`: the `nb` samples' output gradient as a
/// `c_out × nb·spatial` matrix.
pub(super) fn gather_output_grad<T: CpuFloat>(
    gy: &[T],
    c_out: usize,
    spatial: usize,
    gyc: &mut [T],
) {
    let nb = gy.len() / (c_out * spatial).max(1);
    let ncols = nb * spatial;
    for (b, gb) in gy.chunks_exact(c_out * spatial).enumerate() {
        for (co, grow) in gb.chunks_exact(spatial).enumerate() {
            let dst = &mut gyc[co * ncols + b * spatial..][..spatial];
            for (d, v) in dst.iter_mut().zip(grow) {
                *d = *v;
            }
        }
    }
}

/// Adds `bias[co]` to every `y[b, co, :]`.
pub(super) fn add_bias<T: CpuFloat>(y: &mut [T], bias: &[T], spatial: usize) {
    let c_out = bias.len();
    for yb in y.chunks_exact_mut(c_out * spatial) {
        for (yrow, &c) in yb.chunks_exact_mut(spatial).zip(bias) {
            for v in yrow {
                *v = *v + c;
            }
        }
    }
}
