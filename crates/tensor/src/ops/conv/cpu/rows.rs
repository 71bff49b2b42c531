//! Short row moves of the pixel-lane engines, which otherwise cost as much as their
//! arithmetic: rows of the lesson's layers are 7 to 28 elements, too short for compiled
//! loops to reach their vector bodies. With AVX-512F each is a few masked vector loads, a
//! permute or an add, and a masked store per vector; elsewhere a plain loop. They only
//! move values (or add one constant), so the results are the same bits either way.

#[cfg(target_arch = "x86_64")]
use super::simd::Float;
use super::simd::Simd;
use crate::dtype::CpuFloat;

/// `out[2j] = even[j]`, `out[2j + 1] = odd[j]`: `even` holds `⌈len/2⌉` values, `odd`
/// `⌊len/2⌋`. With AVX-512F one two-source permute per output vector.
pub(super) fn interleave<T: CpuFloat>(simd: Simd, even: &[T], odd: &[T], out: &mut [T]) {
    assert!(
        even.len() == out.len().div_ceil(2) && odd.len() == out.len() / 2,
        "conv interleave: row lengths"
    );
    #[cfg(target_arch = "x86_64")]
    if simd.avx512() {
        let (e, o, n) = (even.as_ptr(), odd.as_ptr(), out.len());
        // SAFETY: AVX-512F is present; `T` is the kernel's element type (checked through
        // `TypeId`), and the assert gives the lengths the kernel's masks read and write.
        unsafe {
            match Float::of::<T>() {
                Some(Float::F32) => {
                    return interleave_f32(e.cast(), o.cast(), out.as_mut_ptr().cast(), n)
                }
                Some(Float::F64) => {
                    return interleave_f64(e.cast(), o.cast(), out.as_mut_ptr().cast(), n)
                }
                None => {}
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = simd;
    for ((pair, &e), &o) in out.chunks_exact_mut(2).zip(even).zip(odd) {
        pair[0] = e;
        pair[1] = o;
    }
    if out.len() % 2 == 1 {
        out[out.len() - 1] = even[even.len() - 1];
    }
}

/// Defines the AVX-512F interleave of [`interleave`] for one element type: per output
/// vector of `LANES` positions, masked loads of `LANES/2` values from each source and one
/// `permutex2var` that alternates them.
///
/// The generated function is `unsafe`: the CPU must have AVX-512F, `even` must hold
/// `⌈n/2⌉` values, `odd` `⌊n/2⌋` and `out` `n`.
#[cfg(target_arch = "x86_64")]
macro_rules! interleave_kernel {
    ($name:ident, $t:ty, $lanes:literal, $mask:ty, $index:expr, $load:ident, $permute:ident, $store:ident) => {
        #[target_feature(enable = "avx512f")]
        unsafe fn $name(even: *const $t, odd: *const $t, out: *mut $t, n: usize) {
            use std::arch::x86_64::*;
            let half = $lanes / 2;
            let mask = |k: usize| -> $mask { ((1u32 << k.min($lanes)) - 1) as $mask };
            // SAFETY: the caller upholds the contract stated on `interleave_kernel!`; every
            // load and store is masked to the elements that exist.
            unsafe {
                let index = $index;
                let mut done = 0;
                while done < n {
                    let left = n - done;
                    let (ne, no) = (left.div_ceil(2).min(half), (left / 2).min(half));
                    let e = $load(mask(ne), even.add(done / 2).cast());
                    let o = $load(mask(no), odd.add(done / 2).cast());
                    $store(out.add(done).cast(), mask(left), $permute(e, index, o));
                    done += $lanes;
                }
            }
        }
    };
}
#[cfg(target_arch = "x86_64")]
interleave_kernel!(
    interleave_f32,
    f32,
    16,
    __mmask16,
    _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23),
    _mm512_maskz_loadu_ps,
    _mm512_permutex2var_ps,
    _mm512_mask_storeu_ps
);
#[cfg(target_arch = "x86_64")]
interleave_kernel!(
    interleave_f64,
    f64,
    8,
    __mmask8,
    _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11),
    _mm512_maskz_loadu_pd,
    _mm512_permutex2var_pd,
    _mm512_mask_storeu_pd
);

/// `dst[j] = src[2j]`: every second element of `src`, which must hold at least
/// `2·dst.len() − 1`. With AVX-512F one two-source permute per output vector.
pub(super) fn every_second<T: CpuFloat>(simd: Simd, src: &[T], dst: &mut [T]) {
    let n = dst.len();
    assert!(src.len() + 1 >= 2 * n, "conv every_second: short source");
    #[cfg(target_arch = "x86_64")]
    if simd.avx512() && n > 0 {
        let (s, d, m) = (src.as_ptr(), dst.as_mut_ptr(), 2 * n - 1);
        // SAFETY: AVX-512F is present; `T` is the kernel's element type (checked through
        // `TypeId`); the kernel reads the first `2n − 1` elements of `src` and writes `n`.
        unsafe {
            match Float::of::<T>() {
                Some(Float::F32) => return every_second_f32(s.cast(), m, d.cast(), n),
                Some(Float::F64) => return every_second_f64(s.cast(), m, d.cast(), n),
                None => {}
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = simd;
    for (d, pair) in dst.iter_mut().zip(src.chunks(2)) {
        *d = pair[0];
    }
}

/// Defines the AVX-512F kernel of [`every_second`] for one element type: per output vector
/// of `LANES` values, masked loads of two source vectors and one `permutex2var` that keeps
/// their even lanes.
///
/// The generated function is `unsafe`: the CPU must have AVX-512F, `src` must hold `len`
/// elements, `dst` room for `n`, and `len ≥ 2n − 1`.
#[cfg(target_arch = "x86_64")]
macro_rules! every_second_kernel {
    ($name:ident, $t:ty, $lanes:literal, $mask:ty, $index:expr, $load:ident, $permute:ident, $store:ident) => {
        #[target_feature(enable = "avx512f")]
        unsafe fn $name(src: *const $t, len: usize, dst: *mut $t, n: usize) {
            use std::arch::x86_64::*;
            let mask = |k: usize| -> $mask { ((1u32 << k.min($lanes)) - 1) as $mask };
            // SAFETY: the caller upholds the contract stated on `every_second_kernel!`;
            // every load and store is masked to the elements that exist.
            unsafe {
                let index = $index;
                let mut done = 0;
                while done < n {
                    let at = 2 * done;
                    let lo = $load(mask(len - at), src.add(at).cast());
                    let hi = $load(
                        mask(len.saturating_sub(at + $lanes)),
                        src.add((at + $lanes).min(len)).cast(),
                    );
                    $store(
                        dst.add(done).cast(),
                        mask(n - done),
                        $permute(lo, index, hi),
                    );
                    done += $lanes;
                }
            }
        }
    };
}
#[cfg(target_arch = "x86_64")]
every_second_kernel!(
    every_second_f32,
    f32,
    16,
    __mmask16,
    _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30),
    _mm512_maskz_loadu_ps,
    _mm512_permutex2var_ps,
    _mm512_mask_storeu_ps
);
#[cfg(target_arch = "x86_64")]
every_second_kernel!(
    every_second_f64,
    f64,
    8,
    __mmask8,
    _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14),
    _mm512_maskz_loadu_pd,
    _mm512_permutex2var_pd,
    _mm512_mask_storeu_pd
);

/// `dst[j] = src[j] + add`. With AVX-512F one masked load, add and store per vector.
pub(super) fn copy_plus<T: CpuFloat>(simd: Simd, src: &[T], add: T, dst: &mut [T]) {
    let n = dst.len();
    assert!(src.len() >= n, "conv copy_plus: short source");
    #[cfg(target_arch = "x86_64")]
    if simd.avx512() {
        let (s, d) = (src.as_ptr(), dst.as_mut_ptr());
        // SAFETY: AVX-512F is present; `T` is the kernel's element type (checked through
        // `TypeId`, so the value casts are exact); the kernel reads and writes `n` elements.
        unsafe {
            match Float::of::<T>() {
                Some(Float::F32) => {
                    return copy_plus_f32(s.cast(), add.as_f64() as f32, d.cast(), n)
                }
                Some(Float::F64) => return copy_plus_f64(s.cast(), add.as_f64(), d.cast(), n),
                None => {}
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = simd;
    for (d, &v) in dst.iter_mut().zip(src) {
        *d = v + add;
    }
}

/// Defines the AVX-512F kernel of [`copy_plus`] for one element type.
///
/// The generated function is `unsafe`: the CPU must have AVX-512F, and `src` and `dst`
/// must hold `n` elements.
#[cfg(target_arch = "x86_64")]
macro_rules! copy_plus_kernel {
    ($name:ident, $t:ty, $lanes:literal, $mask:ty, $set1:ident, $load:ident, $add:ident, $store:ident) => {
        #[target_feature(enable = "avx512f")]
        unsafe fn $name(src: *const $t, add: $t, dst: *mut $t, n: usize) {
            use std::arch::x86_64::*;
            let mask = |k: usize| -> $mask { ((1u32 << k.min($lanes)) - 1) as $mask };
            // SAFETY: the caller upholds the contract stated on `copy_plus_kernel!`; every
            // load and store is masked to the elements that exist.
            unsafe {
                let a = $set1(add);
                let mut done = 0;
                while done < n {
                    let m = mask(n - done);
                    let v = $load(m, src.add(done).cast());
                    $store(dst.add(done).cast(), m, $add(v, a));
                    done += $lanes;
                }
            }
        }
    };
}
#[cfg(target_arch = "x86_64")]
copy_plus_kernel!(
    copy_plus_f32,
    f32,
    16,
    __mmask16,
    _mm512_set1_ps,
    _mm512_maskz_loadu_ps,
    _mm512_add_ps,
    _mm512_mask_storeu_ps
);
#[cfg(target_arch = "x86_64")]
copy_plus_kernel!(
    copy_plus_f64,
    f64,
    8,
    __mmask8,
    _mm512_set1_pd,
    _mm512_maskz_loadu_pd,
    _mm512_add_pd,
    _mm512_mask_storeu_pd
);

#[cfg(test)]
mod tests {
    use super::*;

    /// Every length from empty to past two vectors, against the definitions.
    fn check<T: CpuFloat>() {
        let Some(simd) = Simd::detect() else { return };
        let v = |i: usize| T::of_f64(i as f64 * 0.5 - 3.0);
        for n in 0..=40 {
            let src: Vec<T> = (0..2 * n + 1).map(v).collect();
            let even: Vec<T> = (0..n.div_ceil(2)).map(|j| v(2 * j)).collect();
            let odd: Vec<T> = (0..n / 2).map(|j| v(100 + j)).collect();

            let mut out = vec![T::of_f64(f64::NAN); n];
            interleave(simd, &even, &odd, &mut out);
            let want: Vec<T> = (0..n)
                .map(|i| if i % 2 == 0 { even[i / 2] } else { odd[i / 2] })
                .collect();
            assert_eq!(out, want, "interleave, n = {n}");

            let mut out = vec![T::of_f64(f64::NAN); n];
            every_second(simd, &src[..(2 * n).saturating_sub(1)], &mut out);
            let want: Vec<T> = (0..n).map(|j| src[2 * j]).collect();
            assert_eq!(out, want, "every_second, n = {n}");

            let mut out = vec![T::of_f64(f64::NAN); n];
            copy_plus(simd, &src[..n], T::of_f64(1.25), &mut out);
            let want: Vec<T> = src[..n].iter().map(|&x| x + T::of_f64(1.25)).collect();
            assert_eq!(out, want, "copy_plus, n = {n}");
        }
    }

    #[test]
    fn row_moves_match_their_definitions() {
        check::<f32>();
        check::<f64>();
    }
}
