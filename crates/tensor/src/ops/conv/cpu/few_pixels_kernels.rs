//! The few-pixel engine's two AVX-512F micro-kernels, on operands in their natural layouts
//! (rows contiguous along the patch index `k`), with masked loads and stores for the
//! partial vectors at row ends:
//!
//! * [`dot_block`]: an `R × C` block of dot products of whole rows,
//!   `out[r][c] = Σ_k a[r·lda + k] · b[c·ldb + k]` (the forward pass: weight rows against
//!   patch rows);
//! * [`update_block`]: `rows ≤ UR` output rows over a strip of at most `UV` vectors,
//!   `out[r·ldo + q] = Σ_l panel[l·UR + r] · src[l·stride + start + q]` (the weight
//!   gradient: patch rows weighted by output gradients; the input gradient: weight rows
//!   weighted by output gradients).
//!
//! A dot product's lanes each sum every `LANES`-th term in order; the lanes are then added
//! by the fixed reduction tree of `_mm512_reduce_add`. An update sums its terms in order,
//! one fused multiply-add per term. Both are fixed by the data layout alone, so results do
//! not depend on the thread count. Elsewhere (other CPUs, other element types) the same
//! sums run as plain loops; the dispatcher only picks this engine where the kernels exist.

#[cfg(target_arch = "x86_64")]
use super::simd::Float;
use super::simd::Simd;
use crate::dtype::CpuFloat;

/// Accumulators of a dot-product block of `R` rows (weight rows) by `C` columns (patch
/// rows): with the `C` column vectors and one row vector at most 21 of AVX-512's 32
/// registers (4 × 4, 8 × 2 or 16 × 1).
pub(super) const DOT_BLOCK: usize = 16;
/// Output rows of an update block.
pub(super) const UR: usize = 4;
/// Vectors per output row of an update block: `UR·UV` accumulators, `UV` source vectors and
/// one broadcast, 21 registers.
pub(super) const UV: usize = 4;

/// Whether this engine's kernels exist for `T` on this CPU (AVX-512F, `f32` or `f64`).
pub(super) fn has_kernels<T: 'static>(simd: Simd) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        simd.avx512() && Float::of::<T>().is_some()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = simd;
        false
    }
}

/// Elements one [`update_block`] strip covers: `UV` vectors of `T`.
pub(super) fn strip_len<T>(simd: Simd) -> usize {
    UV * simd.vector_lanes::<T>()
}

/// `out[r][c] = Σ_{k < len} a[r·lda + k] · b[c·ldb + k]` for `r < a_rows`, `c < b_rows`
/// (entries past those are unspecified), for a block of `R × C` products; `R·C` must be
/// [`DOT_BLOCK`], `a_rows` in `1..=R` and `b_rows` in `1..=C`.
#[allow(clippy::too_many_arguments)]
pub(super) fn dot_block<T: CpuFloat, const R: usize, const C: usize>(
    simd: Simd,
    a: &[T],
    lda: usize,
    a_rows: usize,
    b: &[T],
    ldb: usize,
    b_rows: usize,
    len: usize,
) -> [[T; C]; R] {
    let fits = |v: &[T], ld: usize, rows: usize| (rows - 1) * ld + len <= v.len();
    assert!(
        R * C == DOT_BLOCK && (1..=R).contains(&a_rows) && (1..=C).contains(&b_rows),
        "conv few-pixel kernel: block rows"
    );
    assert!(
        fits(a, lda, a_rows) && fits(b, ldb, b_rows),
        "conv few-pixel kernel: short operand"
    );
    let mut out = [[T::zero(); C]; R];
    #[cfg(target_arch = "x86_64")]
    if has_kernels::<T>(simd) {
        // Rows past the valid ones repeat the last valid row (their results are dropped).
        let ar: [*const T; R] = std::array::from_fn(|r| a[r.min(a_rows - 1) * lda..].as_ptr());
        let br: [*const T; C] = std::array::from_fn(|c| b[c.min(b_rows - 1) * ldb..].as_ptr());
        let o = out.as_flattened_mut().as_mut_ptr();
        // SAFETY: AVX-512F is present and `T` is the kernel's element type (`has_kernels`,
        // checked through `TypeId`, so the casts only rename the type); every row pointer
        // starts a run of `len` elements inside its slice (the asserts), and `out` holds
        // `R·C` elements.
        unsafe {
            match Float::of::<T>() {
                Some(Float::F32) => {
                    dot_f32x16::<R, C>(ar.map(|p| p.cast()), br.map(|p| p.cast()), len, o.cast())
                }
                Some(Float::F64) => {
                    dot_f64x8::<R, C>(ar.map(|p| p.cast()), br.map(|p| p.cast()), len, o.cast())
                }
                None => {}
            }
        }
        return out;
    }
    let _ = simd;
    for (r, row) in out.iter_mut().enumerate().take(a_rows) {
        for (c, v) in row.iter_mut().enumerate().take(b_rows) {
            let (ar, bc) = (&a[r * lda..][..len], &b[c * ldb..][..len]);
            *v = ar
                .iter()
                .zip(bc)
                .fold(T::zero(), |s, (&x, &y)| x.mul_add(y, s));
        }
    }
    out
}

/// `out[r·ldo + q] = Σ_{l < terms} panel[l·UR + r] · src[l·stride + start + q]` for
/// `r < rows`, `q < len` (`len` at most [`strip_len`], `rows` in `1..=UR`); nothing else of
/// `out` is written.
#[allow(clippy::too_many_arguments)]
pub(super) fn update_block<T: CpuFloat>(
    simd: Simd,
    src: &[T],
    terms: usize,
    stride: usize,
    start: usize,
    panel: &[T],
    out: &mut [T],
    ldo: usize,
    rows: usize,
    len: usize,
) {
    assert!(
        (1..=UR).contains(&rows) && len <= strip_len::<T>(simd),
        "conv few-pixel kernel: strip shape"
    );
    assert!(
        terms == 0 || (terms - 1) * stride + start + len <= src.len(),
        "conv few-pixel kernel: short source"
    );
    assert!(
        panel.len() >= terms * UR,
        "conv few-pixel kernel: short panel"
    );
    assert!(
        (rows - 1) * ldo + len <= out.len(),
        "conv few-pixel kernel: short output"
    );
    #[cfg(target_arch = "x86_64")]
    if has_kernels::<T>(simd) {
        // SAFETY: AVX-512F is present and `T` is the kernel's element type (`has_kernels`);
        // the asserts keep every masked load `src[l·stride + start + q]`, every panel read
        // and every masked store `out[r·ldo + q]` (`r < rows`, `q < len`) in bounds.
        unsafe {
            let (s, p, o) = (src.as_ptr().add(start), panel.as_ptr(), out.as_mut_ptr());
            match Float::of::<T>() {
                Some(Float::F32) => {
                    return update_f32x16(
                        s.cast(),
                        terms,
                        stride,
                        p.cast(),
                        o.cast(),
                        ldo,
                        rows,
                        len,
                    )
                }
                Some(Float::F64) => {
                    return update_f64x8(
                        s.cast(),
                        terms,
                        stride,
                        p.cast(),
                        o.cast(),
                        ldo,
                        rows,
                        len,
                    )
                }
                None => {}
            }
        }
    }
    let _ = simd;
    for r in 0..rows {
        let dst = &mut out[r * ldo..][..len];
        dst.fill(T::zero());
        for l in 0..terms {
            let coef = panel[l * UR + r];
            let s = &src[l * stride + start..][..len];
            for (d, &x) in dst.iter_mut().zip(s) {
                *d = x.mul_add(coef, *d);
            }
        }
    }
}

/// Defines the dot-product kernel of [`dot_block`] for one element type: `LANES`-wide
/// partial sums along each row pair, a masked final vector, then one reduction per pair.
///
/// The generated function is `unsafe`: the CPU must have AVX-512F, every row pointer must
/// start `len` readable elements, and `out` must have room for `R·C`.
#[cfg(target_arch = "x86_64")]
macro_rules! dot_kernel {
    ($name:ident, $t:ty, $lanes:literal, $mask:ty,
     $zero:ident, $load:ident, $maskz_load:ident, $fmadd:ident, $reduce:ident) => {
        #[target_feature(enable = "avx512f")]
        unsafe fn $name<const R: usize, const C: usize>(
            a: [*const $t; R],
            b: [*const $t; C],
            len: usize,
            out: *mut $t,
        ) {
            use std::arch::x86_64::*;
            // SAFETY: the caller upholds the contract stated on `dot_kernel!`; the last
            // vector's loads are masked to the elements that exist.
            unsafe {
                let mut acc = [[$zero(); C]; R];
                let mut k = 0;
                while k + $lanes <= len {
                    let mut bv = [$zero(); C];
                    for (v, &p) in bv.iter_mut().zip(&b) {
                        *v = $load(p.add(k));
                    }
                    for (row, &p) in acc.iter_mut().zip(&a) {
                        let av = $load(p.add(k));
                        for (s, &v) in row.iter_mut().zip(&bv) {
                            *s = $fmadd(av, v, *s);
                        }
                    }
                    k += $lanes;
                }
                if k < len {
                    let m = ((1u32 << (len - k)) - 1) as $mask;
                    let mut bv = [$zero(); C];
                    for (v, &p) in bv.iter_mut().zip(&b) {
                        *v = $maskz_load(m, p.add(k));
                    }
                    for (row, &p) in acc.iter_mut().zip(&a) {
                        let av = $maskz_load(m, p.add(k));
                        for (s, &v) in row.iter_mut().zip(&bv) {
                            *s = $fmadd(av, v, *s);
                        }
                    }
                }
                for (r, row) in acc.iter().enumerate() {
                    for (c, &s) in row.iter().enumerate() {
                        *out.add(r * C + c) = $reduce(s);
                    }
                }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
dot_kernel!(
    dot_f32x16,
    f32,
    16,
    u16,
    _mm512_setzero_ps,
    _mm512_loadu_ps,
    _mm512_maskz_loadu_ps,
    _mm512_fmadd_ps,
    _mm512_reduce_add_ps
);
#[cfg(target_arch = "x86_64")]
dot_kernel!(
    dot_f64x8,
    f64,
    8,
    u8,
    _mm512_setzero_pd,
    _mm512_loadu_pd,
    _mm512_maskz_loadu_pd,
    _mm512_fmadd_pd,
    _mm512_reduce_add_pd
);

/// Defines the update kernel of [`update_block`] for one element type: `UR·UV`
/// accumulators, per term `UV` masked source loads and `UR` broadcast coefficients.
///
/// The generated function is `unsafe`: the CPU must have AVX-512F, `src` must have `len`
/// readable elements at every `l·stride` (`l < terms`), `panel` `terms·UR`, and `out` room
/// for `len` elements at every `r·ldo` (`r < rows`); `len ≤ UV·LANES`.
#[cfg(target_arch = "x86_64")]
macro_rules! update_kernel {
    ($name:ident, $t:ty, $lanes:literal, $mask:ty,
     $zero:ident, $set1:ident, $maskz_load:ident, $fmadd:ident, $mask_store:ident) => {
        #[target_feature(enable = "avx512f")]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $name(
            src: *const $t,
            terms: usize,
            stride: usize,
            panel: *const $t,
            out: *mut $t,
            ldo: usize,
            rows: usize,
            len: usize,
        ) {
            use std::arch::x86_64::*;
            let mut masks: [$mask; UV] = [0; UV];
            for (v, m) in masks.iter_mut().enumerate() {
                let n = len.saturating_sub(v * $lanes).min($lanes);
                *m = ((1u32 << n) - 1) as $mask;
            }
            // SAFETY: the caller upholds the contract stated on `update_kernel!`; loads and
            // stores are masked to the `len` elements of each row.
            unsafe {
                let mut acc = [[$zero(); UV]; UR];
                for l in 0..terms {
                    let s = src.add(l * stride);
                    let mut x = [$zero(); UV];
                    for (v, (xv, &m)) in x.iter_mut().zip(&masks).enumerate() {
                        *xv = $maskz_load(m, s.add(v * $lanes));
                    }
                    let coefs = panel.add(l * UR);
                    for (r, row) in acc.iter_mut().enumerate() {
                        let c = $set1(*coefs.add(r));
                        for (a, &xv) in row.iter_mut().zip(&x) {
                            *a = $fmadd(xv, c, *a);
                        }
                    }
                }
                for (r, row) in acc.iter().enumerate().take(rows) {
                    for (v, (&a, &m)) in row.iter().zip(&masks).enumerate() {
                        $mask_store(out.add(r * ldo + v * $lanes), m, a);
                    }
                }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
update_kernel!(
    update_f32x16,
    f32,
    16,
    u16,
    _mm512_setzero_ps,
    _mm512_set1_ps,
    _mm512_maskz_loadu_ps,
    _mm512_fmadd_ps,
    _mm512_mask_storeu_ps
);
#[cfg(target_arch = "x86_64")]
update_kernel!(
    update_f64x8,
    f64,
    8,
    u8,
    _mm512_setzero_pd,
    _mm512_set1_pd,
    _mm512_maskz_loadu_pd,
    _mm512_fmadd_pd,
    _mm512_mask_storeu_pd
);

/// `out[k] = src[index[k]]`, or zero where `index[k]` is negative (a tap on the padding):
/// one patch of the few-pixel engine. With AVX-512F, masked 32-bit-index gathers of 16
/// elements. Every non-negative index must be below `src.len()`.
pub(super) fn gather_patch<T: CpuFloat>(simd: Simd, src: &[T], index: &[i32], out: &mut [T]) {
    assert_eq!(index.len(), out.len(), "conv few-pixel gather: lengths");
    let reach = index.iter().copied().max().unwrap_or(-1);
    assert!(
        usize::try_from(reach).map_or(true, |r| r < src.len()),
        "conv few-pixel gather: index out of bounds"
    );
    #[cfg(target_arch = "x86_64")]
    if has_kernels::<T>(simd) {
        let (s, i, o, n) = (src.as_ptr(), index.as_ptr(), out.as_mut_ptr(), out.len());
        // SAFETY: AVX-512F is present and `T` is the kernel's element type; the asserts
        // keep every gathered index inside `src`, and loads of `index` and stores to
        // `out` are masked to their `n` elements.
        unsafe {
            match Float::of::<T>() {
                Some(Float::F32) => return gather_f32(s.cast(), i, o.cast(), n),
                Some(Float::F64) => return gather_f64(s.cast(), i, o.cast(), n),
                None => {}
            }
        }
    }
    let _ = simd;
    for (o, &i) in out.iter_mut().zip(index) {
        *o = usize::try_from(i).map_or(T::zero(), |i| src[i]);
    }
}

/// `dst[index[k]] += patch[k]` wherever `index[k]` is non-negative (the adjoint of
/// [`gather_patch`]). The non-negative indices must be distinct and below `dst.len()`
/// (a patch's taps read distinct input elements).
pub(super) fn scatter_add_patch<T: CpuFloat>(
    simd: Simd,
    patch: &[T],
    index: &[i32],
    dst: &mut [T],
) {
    assert_eq!(index.len(), patch.len(), "conv few-pixel scatter: lengths");
    let reach = index.iter().copied().max().unwrap_or(-1);
    assert!(
        usize::try_from(reach).map_or(true, |r| r < dst.len()),
        "conv few-pixel scatter: index out of bounds"
    );
    #[cfg(target_arch = "x86_64")]
    if has_kernels::<T>(simd) {
        let (p, i, d, n) = (
            patch.as_ptr(),
            index.as_ptr(),
            dst.as_mut_ptr(),
            patch.len(),
        );
        // SAFETY: as for `gather_patch`; the indices of one vector are distinct, so its
        // gather, add and scatter touch each element once.
        unsafe {
            match Float::of::<T>() {
                Some(Float::F32) => return scatter_add_f32(p.cast(), i, d.cast(), n),
                Some(Float::F64) => return scatter_add_f64(p.cast(), i, d.cast(), n),
                None => {}
            }
        }
    }
    let _ = simd;
    for (&v, &i) in patch.iter().zip(index) {
        if let Ok(i) = usize::try_from(i) {
            dst[i] = dst[i] + v;
        }
    }
}

/// The lanes of 16 indices from `index + k` (of `n`) that exist and are not negative, and
/// the indices (masked loads: nothing past `n` is read).
///
/// # Safety
/// AVX-512F must be present and `index` must hold `n` elements.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn index_lanes(index: *const i32, k: usize, n: usize) -> (u16, std::arch::x86_64::__m512i) {
    use std::arch::x86_64::*;
    let exist = ((1u32 << (n - k).min(16)) - 1) as u16;
    // SAFETY: the load is masked to the `n − k` elements left.
    let idx = unsafe { _mm512_maskz_loadu_epi32(exist, index.add(k)) };
    (
        _mm512_mask_cmpge_epi32_mask(exist, idx, _mm512_setzero_si512()),
        idx,
    )
}

/// The low and high 8 of 16 indices, for the 8-lane `f64` gathers and scatters.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn halves(idx: std::arch::x86_64::__m512i) -> [std::arch::x86_64::__m256i; 2] {
    use std::arch::x86_64::*;
    [
        _mm512_castsi512_si256(idx),
        _mm512_extracti64x4_epi64::<1>(idx),
    ]
}

/// # Safety
/// AVX-512F; `index`, `out` hold `n` elements and every non-negative index is inside `src`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn gather_f32(src: *const f32, index: *const i32, out: *mut f32, n: usize) {
    use std::arch::x86_64::*;
    let mut k = 0;
    while k < n {
        // SAFETY: the caller's contract; gathers and the store are masked.
        unsafe {
            let (valid, idx) = index_lanes(index, k, n);
            let v = _mm512_mask_i32gather_ps::<4>(_mm512_setzero_ps(), valid, idx, src);
            let exist = ((1u32 << (n - k).min(16)) - 1) as u16;
            _mm512_mask_storeu_ps(out.add(k), exist, v);
        }
        k += 16;
    }
}

/// # Safety
/// As for [`gather_f32`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn gather_f64(src: *const f64, index: *const i32, out: *mut f64, n: usize) {
    use std::arch::x86_64::*;
    let mut k = 0;
    while k < n {
        // SAFETY: the caller's contract; gathers and stores are masked.
        unsafe {
            let (valid, idx) = index_lanes(index, k, n);
            let exist = ((1u32 << (n - k).min(16)) - 1) as u16;
            for (h, half) in halves(idx).into_iter().enumerate() {
                let (m, e) = ((valid >> (8 * h)) as u8, (exist >> (8 * h)) as u8);
                let v = _mm512_mask_i32gather_pd::<8>(_mm512_setzero_pd(), m, half, src);
                _mm512_mask_storeu_pd(out.add(k + 8 * h), e, v);
            }
        }
        k += 16;
    }
}

/// # Safety
/// AVX-512F; `index`, `patch` hold `n` elements, every non-negative index is inside `dst`
/// and the non-negative indices are distinct.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn scatter_add_f32(patch: *const f32, index: *const i32, dst: *mut f32, n: usize) {
    use std::arch::x86_64::*;
    let mut k = 0;
    while k < n {
        // SAFETY: the caller's contract; every access is masked to valid lanes.
        unsafe {
            let (valid, idx) = index_lanes(index, k, n);
            let old = _mm512_mask_i32gather_ps::<4>(_mm512_setzero_ps(), valid, idx, dst);
            let add = _mm512_maskz_loadu_ps(valid, patch.add(k));
            _mm512_mask_i32scatter_ps::<4>(dst, valid, idx, _mm512_add_ps(old, add));
        }
        k += 16;
    }
}

/// # Safety
/// As for [`scatter_add_f32`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn scatter_add_f64(patch: *const f64, index: *const i32, dst: *mut f64, n: usize) {
    use std::arch::x86_64::*;
    let mut k = 0;
    while k < n {
        // SAFETY: the caller's contract; every access is masked to valid lanes.
        unsafe {
            let (valid, idx) = index_lanes(index, k, n);
            for (h, half) in halves(idx).into_iter().enumerate() {
                let m = (valid >> (8 * h)) as u8;
                let old = _mm512_mask_i32gather_pd::<8>(_mm512_setzero_pd(), m, half, dst);
                let add = _mm512_maskz_loadu_pd(m, patch.add(k + 8 * h));
                _mm512_mask_i32scatter_pd::<8>(dst, m, half, _mm512_add_pd(old, add));
            }
        }
        k += 16;
    }
}
