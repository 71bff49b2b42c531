//! The direct engine's SIMD micro-kernels (AVX-512 or AVX2, with FMA, on x86-64) and the
//! bounds-checked gather that wraps them.

use crate::dtype::CpuFloat;

//
// On x86-64 CPUs with AVX2 and FMA (and, where present, AVX-512F for 512-bit vectors), the
// non-dense kernels can skip im2col and the GEMM altogether. One micro-kernel computes a
// block of `MR` rows × `NR` lanes,
//
//     acc[r][c] = Σ_l src[rows[r] + offs[l]] · panel[l·NR + c],
//
// where `src` is a zero-padded activation buffer, `rows[r] + offs[l]` addresses one of its
// elements, and `panel` holds one SIMD vector of `NR` lanes per step `l`. Each step
// broadcasts `MR` gathered scalars against one panel vector: `MR` fused multiply-adds with
// all accumulators in registers, and nothing packed or materialised. The sum over `l` runs
// in order, one fused multiply-add per term, whatever the vector width: every lane of
// every width computes the same rounding sequence. The passes map onto it:
//
// * forward: rows = output pixels (their window corners in the padded input), steps = taps
//   `(ci, kh, kw)`, lanes = output channels, panel = weight;
// * weight gradient: rows = taps, steps = the chunk's output pixels (summed in order),
//   lanes = output channels, panel = output gradient transposed to pixel-major;
// * input gradient: input pixels fall into `s × s` phase classes by `(ih + p) mod s` and
//   `(iw + p) mod s`; within a class the taps `kh ≡ ih + p`, `kw ≡ iw + p (mod s)` reach
//   output pixel `((ih + p − kh)/s, (iw + p − kw)/s)`, a fixed offset from the pixel's anchor
//   in a zero-padded output gradient. So per class: rows = its input pixels, steps =
//   `(co, taps of the class)`, lanes = input channels, panel = weight. Every input pixel gets
//   all of its contributions from one block: no scatter-add and no zeroing.
//
// The micro-kernels read through raw pointers (the `unsafe` inside `simd_block!`);
// [`Gather`] checks, once per block, that every address they can form is in bounds.

/// Proof that this CPU runs the direct kernels: AVX2 and FMA were detected, and whether
/// AVX-512F was too (512-bit kernels). Only [`Simd::detect`] makes one, so holding one makes
/// the `target_feature` calls sound.
#[derive(Clone, Copy, Debug)]
pub(super) struct Simd {
    avx512: bool,
}

impl Simd {
    /// The SIMD level of this CPU, detected once (`None`: no direct kernels).
    pub(super) fn detect() -> Option<Simd> {
        static LEVEL: std::sync::OnceLock<Option<Simd>> = std::sync::OnceLock::new();
        *LEVEL.get_or_init(Self::probe)
    }

    fn probe() -> Option<Simd> {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected;
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                let avx512 = is_x86_feature_detected!("avx512f");
                return Some(Simd { avx512 });
            }
        }
        None
    }

    /// Lanes per micro-kernel block for a lane dimension of `dim` channels: 512 bits of
    /// lanes (one AVX-512 vector, or two 256-bit ones with AVX2 alone), or one 256-bit
    /// vector when `dim` fits in it.
    pub(super) fn lanes_for<T: CpuFloat>(self, dim: usize) -> usize {
        let half = 32 / std::mem::size_of::<T>();
        if dim > half {
            2 * half
        } else {
            half
        }
    }
}

/// Rows per micro-kernel block (accumulator vectors: `MR`; with the panel vector and one
/// broadcast, 14 registers, inside AVX2's 16).
pub(super) const MR: usize = 12;

/// Defines one micro-kernel: `out[r·ld + c] = Σ_l src[rows[r] + offs[l]] · panel[l·LANES + c]`
/// for one SIMD vector of `LANES` lanes, with the `MR` accumulators in registers.
///
/// The generated function is `unsafe`: the CPU must support the named features, every
/// `src` address `rows[r] + offs[l]` must be in bounds, `panel` must hold
/// `offs.len()·LANES` elements and `out` must have room for `(MR − 1)·ld + LANES`.
#[cfg(target_arch = "x86_64")]
macro_rules! simd_block {
    ($name:ident, $features:literal, $t:ty, $lanes:literal,
     $zero:ident, $set1:ident, $load:ident, $fmadd:ident, $store:ident) => {
        #[target_feature(enable = $features)]
        unsafe fn $name(
            src: *const $t,
            rows: &[usize; MR],
            offs: &[usize],
            panel: *const $t,
            out: *mut $t,
            ld: usize,
        ) {
            use std::arch::x86_64::*;
            // SAFETY: the caller upholds the contract stated on `simd_block!`: the features
            // are available and every pointer offset below is in bounds.
            unsafe {
                let mut acc = [$zero(); MR];
                for (l, &o) in offs.iter().enumerate() {
                    let w = $load(panel.add(l * $lanes));
                    for (a, &r) in acc.iter_mut().zip(rows) {
                        *a = $fmadd($set1(*src.add(r + o)), w, *a);
                    }
                }
                for (r, a) in acc.iter().enumerate() {
                    $store(out.add(r * ld), *a);
                }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
simd_block!(
    block_f32x16,
    "avx512f,fma",
    f32,
    16,
    _mm512_setzero_ps,
    _mm512_set1_ps,
    _mm512_loadu_ps,
    _mm512_fmadd_ps,
    _mm512_storeu_ps
);
#[cfg(target_arch = "x86_64")]
simd_block!(
    block_f64x8,
    "avx512f,fma",
    f64,
    8,
    _mm512_setzero_pd,
    _mm512_set1_pd,
    _mm512_loadu_pd,
    _mm512_fmadd_pd,
    _mm512_storeu_pd
);
#[cfg(target_arch = "x86_64")]
simd_block!(
    block_f32x8,
    "avx2,fma",
    f32,
    8,
    _mm256_setzero_ps,
    _mm256_set1_ps,
    _mm256_loadu_ps,
    _mm256_fmadd_ps,
    _mm256_storeu_ps
);
#[cfg(target_arch = "x86_64")]
simd_block!(
    block_f64x4,
    "avx2,fma",
    f64,
    4,
    _mm256_setzero_pd,
    _mm256_set1_pd,
    _mm256_loadu_pd,
    _mm256_fmadd_pd,
    _mm256_storeu_pd
);

/// Defines a two-vector micro-kernel for 256-bit registers: the same block as
/// `simd_block!` with `2·LANES` lanes, computed as two halves of `MR / 2` rows so that the
/// `MR` accumulators (2 per row), the two panel vectors and one broadcast fit in AVX2's 16
/// registers. Each gathered scalar then feeds two fused multiply-adds (one per vector), and
/// each lane still sums its terms over `l` in order, exactly as the one-vector kernels do.
///
/// Same contract as `simd_block!`, with `2·LANES` for `LANES`.
#[cfg(target_arch = "x86_64")]
macro_rules! simd_block_pair {
    ($name:ident, $features:literal, $t:ty, $lanes:literal,
     $zero:ident, $set1:ident, $load:ident, $fmadd:ident, $store:ident) => {
        #[target_feature(enable = $features)]
        unsafe fn $name(
            src: *const $t,
            rows: &[usize; MR],
            offs: &[usize],
            panel: *const $t,
            out: *mut $t,
            ld: usize,
        ) {
            use std::arch::x86_64::*;
            const HALF: usize = MR / 2;
            // SAFETY: the caller upholds the contract stated on `simd_block!` (with twice
            // the lanes): the features are available and every pointer offset is in bounds.
            unsafe {
                for (h, rows) in rows.chunks_exact(HALF).enumerate() {
                    let mut lo = [$zero(); HALF];
                    let mut hi = [$zero(); HALF];
                    for (l, &o) in offs.iter().enumerate() {
                        let w0 = $load(panel.add(l * 2 * $lanes));
                        let w1 = $load(panel.add(l * 2 * $lanes + $lanes));
                        for ((a, b), &r) in lo.iter_mut().zip(hi.iter_mut()).zip(rows) {
                            let v = $set1(*src.add(r + o));
                            *a = $fmadd(v, w0, *a);
                            *b = $fmadd(v, w1, *b);
                        }
                    }
                    for (r, (a, b)) in lo.iter().zip(&hi).enumerate() {
                        let d = out.add((h * HALF + r) * ld);
                        $store(d, *a);
                        $store(d.add($lanes), *b);
                    }
                }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
simd_block_pair!(
    block_f32x8x2,
    "avx2,fma",
    f32,
    8,
    _mm256_setzero_ps,
    _mm256_set1_ps,
    _mm256_loadu_ps,
    _mm256_fmadd_ps,
    _mm256_storeu_ps
);
#[cfg(target_arch = "x86_64")]
simd_block_pair!(
    block_f64x4x2,
    "avx2,fma",
    f64,
    4,
    _mm256_setzero_pd,
    _mm256_set1_pd,
    _mm256_loadu_pd,
    _mm256_fmadd_pd,
    _mm256_storeu_pd
);

/// The element types the micro-kernels exist for.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Float {
    F32,
    F64,
}

#[cfg(target_arch = "x86_64")]
impl Float {
    /// `T` as a kernel element type (checked through `TypeId`), if it is one.
    pub(super) fn of<T: 'static>() -> Option<Float> {
        use std::any::TypeId;
        let t = TypeId::of::<T>();
        if t == TypeId::of::<f32>() {
            Some(Float::F32)
        } else if t == TypeId::of::<f64>() {
            Some(Float::F64)
        } else {
            None
        }
    }
}

/// A source buffer with the step offsets of one pass, checked once: any row offset up to
/// `max_row` plus any step offset stays inside `src`.
pub(super) struct Gather<'a, T> {
    simd: Simd,
    src: &'a [T],
    offs: &'a [usize],
    max_row: Option<usize>,
}

impl<'a, T: CpuFloat> Gather<'a, T> {
    pub(super) fn new(simd: Simd, src: &'a [T], offs: &'a [usize]) -> Self {
        let max_off = offs.iter().copied().max().unwrap_or(0);
        Gather {
            simd,
            src,
            offs,
            max_row: src.len().checked_sub(max_off + 1),
        }
    }

    /// `out[r][c] = Σ_l src[rows[r] + offs[l]] · panel[l·NR + c]` (one micro-kernel block).
    pub(super) fn block<const NR: usize>(&self, rows: &[usize; MR], panel: &[T]) -> [[T; NR]; MR] {
        let mut out = [[T::zero(); NR]; MR];
        let flat = out.as_flattened_mut();
        self.block_into::<NR>(rows, panel, flat, NR);
        out
    }

    /// [`Gather::block`] writing row `r` of the result to `dst[r·ld ..][..NR]`.
    pub(super) fn block_into<const NR: usize>(
        &self,
        rows: &[usize; MR],
        panel: &[T],
        dst: &mut [T],
        ld: usize,
    ) {
        let in_bounds = self.max_row.is_some_and(|m| rows.iter().all(|&r| r <= m));
        assert!(in_bounds, "conv direct kernel: row offset out of bounds");
        assert!(
            panel.len() >= self.offs.len() * NR,
            "conv direct kernel: short panel"
        );
        assert!(
            ld >= NR && dst.len() >= (MR - 1) * ld + NR,
            "conv direct kernel: short output"
        );
        #[cfg(target_arch = "x86_64")]
        {
            let (src, pan, out) = (self.src.as_ptr(), panel.as_ptr(), dst.as_mut_ptr());
            let offs = self.offs;
            let wide = self.simd.avx512;
            // SAFETY: `T` is exactly the kernel's element type (checked through `TypeId`), so
            // the pointer casts only rename the type; `NR` equals the kernel's lane count, so
            // the asserts above give `panel` offs.len()·LANES elements, `dst` room for
            // (MR − 1)·ld + LANES, and `rows[r] + offs[l] < src.len()`; and the `Simd` token
            // held by `self` proves AVX2 and FMA were detected on this CPU, and AVX-512F
            // wherever a 512-bit kernel is called (`wide`).
            unsafe {
                match (NR, Float::of::<T>()) {
                    (16, Some(Float::F32)) if wide => {
                        return block_f32x16(src.cast(), rows, offs, pan.cast(), out.cast(), ld)
                    }
                    (8, Some(Float::F64)) if wide => {
                        return block_f64x8(src.cast(), rows, offs, pan.cast(), out.cast(), ld)
                    }
                    (16, Some(Float::F32)) => {
                        return block_f32x8x2(src.cast(), rows, offs, pan.cast(), out.cast(), ld)
                    }
                    (8, Some(Float::F64)) if !wide => {
                        return block_f64x4x2(src.cast(), rows, offs, pan.cast(), out.cast(), ld)
                    }
                    (8, Some(Float::F32)) => {
                        return block_f32x8(src.cast(), rows, offs, pan.cast(), out.cast(), ld)
                    }
                    (4, Some(Float::F64)) => {
                        return block_f64x4(src.cast(), rows, offs, pan.cast(), out.cast(), ld)
                    }
                    _ => {}
                }
            }
        }
        // Portable fallback (not reached for `f32`/`f64` with lane counts from
        // `Simd::lanes_for`); same terms in the same order.
        for (r, &row) in rows.iter().enumerate() {
            let d = &mut dst[r * ld..][..NR];
            d.fill(T::zero());
            for (&o, pv) in self.offs.iter().zip(panel.chunks_exact(NR)) {
                let v = self.src[row + o];
                for (a, &w) in d.iter_mut().zip(pv) {
                    *a = v.mul_add(w, *a);
                }
            }
        }
    }
}

/// `MR` consecutive entries of `table` from `start`, the last one repeated past its end.
pub(super) fn rows_from(table: &[usize], start: usize) -> [usize; MR] {
    let last = table.len() - 1;
    std::array::from_fn(|r| table[(start + r).min(last)])
}

//
// The pixel-lane micro-kernel turns the roles around for layers with few channels on the
// vector side (then channel lanes would stay mostly empty): lanes run over `PV` vectors of
// consecutive positions `q` of a plane laid out with a fixed row stride, and the `PR` rows
// of a block are channels, so one block computes
//
//     acc[r][q] = Σ_l panel[l·PR + r] · src[o_l + q]        (q < PV·LANES)
//
// Each step loads `PV` vectors of `src` once and broadcasts `PR` panel scalars from
// consecutive addresses: `PR·PV` fused multiply-adds for `PR + PV` loads, no index
// arithmetic. The sum over `l` runs in order, one fused multiply-add per term, exactly as in
// the channel-lane kernels, so both give the same bits for the same terms.

/// Channel rows per pixel-lane block.
pub(super) const PR: usize = 4;
/// Position vectors per pixel-lane block: `PR·PV` accumulators, `PV` source vectors and one
/// broadcast, 11 registers. (Three vectors would need all 16 of AVX2's, and the compiler
/// then keeps one accumulator on the stack, on the loop's critical path.)
pub(super) const PV: usize = 2;

/// Defines one pixel-lane micro-kernel for one SIMD vector of `LANES` lanes:
/// `out[r·ld + v·LANES + c] = Σ_l panel[l·PR + r] · src[offs[l] + v·LANES + c]`.
///
/// The generated function is `unsafe`: the CPU must support the named features, every
/// `src` address `offs[l] + PV·LANES − 1` must be in bounds, `panel` must hold
/// `offs.len()·PR` elements and `out` must have room for `(PR − 1)·ld + PV·LANES`.
#[cfg(target_arch = "x86_64")]
macro_rules! pixel_block {
    ($name:ident, $features:literal, $t:ty, $lanes:literal,
     $zero:ident, $set1:ident, $load:ident, $fmadd:ident, $store:ident) => {
        #[target_feature(enable = $features)]
        unsafe fn $name(src: *const $t, offs: &[usize], panel: *const $t, out: *mut $t, ld: usize) {
            use std::arch::x86_64::*;
            // SAFETY: the caller upholds the contract stated on `pixel_block!`: the features
            // are available and every pointer offset below is in bounds.
            unsafe {
                let mut acc = [[$zero(); PV]; PR];
                for (l, &o) in offs.iter().enumerate() {
                    let s = src.add(o);
                    let x = [$load(s), $load(s.add($lanes))];
                    let w = panel.add(l * PR);
                    for (r, row) in acc.iter_mut().enumerate() {
                        let wr = $set1(*w.add(r));
                        for (a, &xv) in row.iter_mut().zip(&x) {
                            *a = $fmadd(xv, wr, *a);
                        }
                    }
                }
                for (r, row) in acc.iter().enumerate() {
                    for (v, a) in row.iter().enumerate() {
                        $store(out.add(r * ld + v * $lanes), *a);
                    }
                }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
pixel_block!(
    pixels_f32x16,
    "avx512f,fma",
    f32,
    16,
    _mm512_setzero_ps,
    _mm512_set1_ps,
    _mm512_loadu_ps,
    _mm512_fmadd_ps,
    _mm512_storeu_ps
);
#[cfg(target_arch = "x86_64")]
pixel_block!(
    pixels_f64x8,
    "avx512f,fma",
    f64,
    8,
    _mm512_setzero_pd,
    _mm512_set1_pd,
    _mm512_loadu_pd,
    _mm512_fmadd_pd,
    _mm512_storeu_pd
);
#[cfg(target_arch = "x86_64")]
pixel_block!(
    pixels_f32x8,
    "avx2,fma",
    f32,
    8,
    _mm256_setzero_ps,
    _mm256_set1_ps,
    _mm256_loadu_ps,
    _mm256_fmadd_ps,
    _mm256_storeu_ps
);
#[cfg(target_arch = "x86_64")]
pixel_block!(
    pixels_f64x4,
    "avx2,fma",
    f64,
    4,
    _mm256_setzero_pd,
    _mm256_set1_pd,
    _mm256_loadu_pd,
    _mm256_fmadd_pd,
    _mm256_storeu_pd
);

impl Simd {
    /// Whether AVX-512F was detected (512-bit vectors, masked loads, 32 vector registers).
    pub(super) fn avx512(self) -> bool {
        self.avx512
    }

    /// Lanes of one full SIMD vector of `T` on this CPU (512 bits with AVX-512F, else 256).
    pub(super) fn vector_lanes<T>(self) -> usize {
        let bytes = if self.avx512 { 64 } else { 32 };
        bytes / std::mem::size_of::<T>()
    }

    /// Positions one pixel-lane block covers: `PV` vectors.
    pub(super) fn pixel_block_len<T>(self) -> usize {
        PV * self.vector_lanes::<T>()
    }
}

/// A source buffer with the step offsets of one pixel-lane pass, checked once: a block may
/// start at any position up to `max_start`.
pub(super) struct PixelGather<'a, T> {
    simd: Simd,
    src: &'a [T],
    offs: &'a [usize],
    max_start: Option<usize>,
}

impl<'a, T: CpuFloat> PixelGather<'a, T> {
    pub(super) fn new(simd: Simd, src: &'a [T], offs: &'a [usize]) -> Self {
        let reach = offs.iter().copied().max().unwrap_or(0) + simd.pixel_block_len::<T>();
        PixelGather {
            simd,
            src,
            offs,
            max_start: src.len().checked_sub(reach),
        }
    }

    /// Block `out[r·ld + q] = Σ_l panel[l·PR + r] · src[start + offs[l] + q]` for
    /// `r < PR`, `q < pixel_block_len`.
    pub(super) fn block_into(&self, start: usize, panel: &[T], dst: &mut [T], ld: usize) {
        let len = self.simd.pixel_block_len::<T>();
        let in_bounds = self.max_start.is_some_and(|m| start <= m);
        assert!(in_bounds, "conv pixel kernel: block start out of bounds");
        assert!(
            panel.len() >= self.offs.len() * PR,
            "conv pixel kernel: short panel"
        );
        assert!(
            ld >= len && dst.len() >= (PR - 1) * ld + len,
            "conv pixel kernel: short output"
        );
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: `start <= max_start` keeps every address `start + offs[l] + q`
            // (q < len) inside `src`.
            let src = unsafe { self.src.as_ptr().add(start) };
            let (pan, out, offs) = (panel.as_ptr(), dst.as_mut_ptr(), self.offs);
            // SAFETY: `T` is exactly the kernel's element type (checked through `TypeId`),
            // so the casts only rename the type; the kernel's lane count is
            // `vector_lanes::<T>()` for this `Simd`, so the asserts above give `panel`
            // offs.len()·PR elements and `dst` room for (PR − 1)·ld + PV·LANES; and the
            // `Simd` token proves AVX2 and FMA, and AVX-512F where `avx512` is set.
            unsafe {
                match (self.simd.avx512, Float::of::<T>()) {
                    (true, Some(Float::F32)) => {
                        return pixels_f32x16(src.cast(), offs, pan.cast(), out.cast(), ld)
                    }
                    (true, Some(Float::F64)) => {
                        return pixels_f64x8(src.cast(), offs, pan.cast(), out.cast(), ld)
                    }
                    (false, Some(Float::F32)) => {
                        return pixels_f32x8(src.cast(), offs, pan.cast(), out.cast(), ld)
                    }
                    (false, Some(Float::F64)) => {
                        return pixels_f64x4(src.cast(), offs, pan.cast(), out.cast(), ld)
                    }
                    _ => {}
                }
            }
        }
        // Portable fallback (other element types); same terms in the same order.
        for r in 0..PR {
            let d = &mut dst[r * ld..][..len];
            d.fill(T::zero());
            for (l, &o) in self.offs.iter().enumerate() {
                let wv = panel[l * PR + r];
                let s = &self.src[start + o..][..len];
                for (a, &x) in d.iter_mut().zip(s) {
                    *a = x.mul_add(wv, *a);
                }
            }
        }
    }
}
