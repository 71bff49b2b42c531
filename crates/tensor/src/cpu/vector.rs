//! Loops over slices compiled for the widest vector unit of the CPU they run on.
//!
//! The crate is built for baseline x86-64 (SSE2: four `f32` per instruction). A kernel's
//! inner loop wrapped in [`vectorized`] is compiled three times — for AVX-512F, for AVX2,
//! and for the baseline — and the widest one the CPU has (detected once) runs. Only the
//! instructions change, never the arithmetic: Rust neither reassociates nor contracts
//! floating-point operations (no fused multiply-add unless written), so every path gives
//! bit-identical results, and results do not depend on the machine's vector width.
//!
//! A closure around a large loop is not always inlined into the copies `vectorized` makes
//! (it then runs at the baseline width); [`multiversioned!`](crate::multiversioned) puts
//! the `#[target_feature]` copies on the kernel function itself instead.

/// The widest vector instruction set of this CPU that [`vectorized`] compiles for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Width {
    Avx512,
    Avx2,
    Baseline,
}

pub(crate) fn width() -> Width {
    static WIDTH: std::sync::OnceLock<Width> = std::sync::OnceLock::new();
    *WIDTH.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Width::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                return Width::Avx2;
            }
        }
        Width::Baseline
    })
}

/// Runs `f`, compiled for AVX-512F or AVX2 when this CPU has them. `f` should be a loop
/// over slices that LLVM vectorises (zips of equal-length slices, no calls it cannot
/// inline); everything it inlines is compiled for the chosen instruction set.
#[inline(always)]
pub(crate) fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        #[target_feature(enable = "avx2")]
        unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        match width() {
            // SAFETY: `width` detected the instruction set on this CPU.
            Width::Avx512 => return unsafe { avx512(f) },
            // SAFETY: as above.
            Width::Avx2 => return unsafe { avx2(f) },
            Width::Baseline => {}
        }
    }
    f()
}

/// Defines a kernel function `fn name<T: CpuFloat>(args)` (no return value) whose body is
/// compiled for AVX-512F, AVX2 and the baseline, the widest the CPU has chosen at run
/// time, as in [`vectorized`]. Arguments are plain names with their types.
#[macro_export]
#[doc(hidden)]
macro_rules! multiversioned {
    ($(#[$attr:meta])* $vis:vis fn $name:ident<$t:ident: CpuFloat>($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$attr])*
        $vis fn $name<$t: $crate::CpuFloat>($($arg: $ty),*) {
            #[inline(always)]
            fn body<$t: $crate::CpuFloat>($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn avx512<$t: $crate::CpuFloat>($($arg: $ty),*) {
                    body($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                unsafe fn avx2<$t: $crate::CpuFloat>($($arg: $ty),*) {
                    body($($arg),*)
                }
                match $crate::cpu::vector::width() {
                    // SAFETY: `width` detected the instruction set on this CPU.
                    $crate::cpu::vector::Width::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: as above.
                    $crate::cpu::vector::Width::Avx2 => return unsafe { avx2($($arg),*) },
                    $crate::cpu::vector::Width::Baseline => {}
                }
            }
            body($($arg),*)
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_width_gives_the_same_bits() {
        let x: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.37).sin()).collect();
        let y: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.11).cos()).collect();
        let run = |out: &mut Vec<f32>| {
            for ((o, &a), &b) in out.iter_mut().zip(&x).zip(&y) {
                *o = (a - b) * a * 0.5 + b;
            }
        };
        let mut wide = vec![0.0f32; 1000];
        vectorized(|| run(&mut wide));
        let mut plain = vec![0.0f32; 1000];
        run(&mut plain);
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&wide), bits(&plain));
        let expected: Vec<f32> = x
            .iter()
            .zip(&y)
            .map(|(&a, &b)| (a - b) * a * 0.5 + b)
            .collect();
        assert_eq!(bits(&plain), bits(&expected));
    }
}
