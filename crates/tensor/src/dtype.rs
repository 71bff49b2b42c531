//! Element types. Tensors carry a runtime [`DType`] tag; CPU kernels are generic over
//! [`CpuFloat`], implemented for `f32` (training) and `f64` (gradient checks, numerics).

use std::fmt;

/// The element type of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    F64,
}

impl DType {
    /// Bytes per element.
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F64 => 8,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DType::F32 => f.write_str("f32"),
            DType::F64 => f.write_str("f64"),
        }
    }
}

/// A floating-point element type the CPU backend computes in.
///
/// `gemm` is the one matrix-multiply primitive every CPU kernel builds on:
/// `C = alpha * A B + beta * C` for row/column strided views (see `matrixmultiply`).
pub trait CpuFloat:
    num_traits::Float
    + std::iter::Sum
    + Send
    + Sync
    + Copy
    + Default
    + fmt::Debug
    + fmt::Display
    + 'static
{
    /// The runtime tag of this type.
    const DTYPE: DType;

    /// Converts from `f64` (rounding for `f32`).
    fn of_f64(v: f64) -> Self;
    /// Converts to `f64` exactly.
    fn as_f64(self) -> f64;

    /// `C[m x n] = alpha * A[m x k] * B[k x n] + beta * C`, single-threaded, with element
    /// strides `rs*` (between rows) and `cs*` (between columns).
    ///
    /// # Safety contract (checked by callers)
    /// The slices must cover every element addressed by the given sizes and strides.
    #[allow(clippy::too_many_arguments)]
    fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: &[Self],
        rsa: isize,
        csa: isize,
        b: &[Self],
        rsb: isize,
        csb: isize,
        beta: Self,
        c: &mut [Self],
        rsc: isize,
        csc: isize,
    );
}

macro_rules! impl_cpu_float {
    ($t:ty, $tag:expr, $gemm:path) => {
        impl CpuFloat for $t {
            const DTYPE: DType = $tag;
            #[inline]
            fn of_f64(v: f64) -> Self {
                v as $t
            }
            #[inline]
            fn as_f64(self) -> f64 {
                self as f64
            }
            fn gemm(
                m: usize,
                k: usize,
                n: usize,
                alpha: Self,
                a: &[Self],
                rsa: isize,
                csa: isize,
                b: &[Self],
                rsb: isize,
                csb: isize,
                beta: Self,
                c: &mut [Self],
                rsc: isize,
                csc: isize,
            ) {
                if m == 0 || n == 0 {
                    return;
                }
                let last = |rows: usize, cols: usize, rs: isize, cs: isize| -> usize {
                    if rows == 0 || cols == 0 {
                        0
                    } else {
                        ((rows - 1) as isize * rs + (cols - 1) as isize * cs) as usize + 1
                    }
                };
                assert!(a.len() >= last(m, k, rsa, csa), "gemm: A too short");
                assert!(b.len() >= last(k, n, rsb, csb), "gemm: B too short");
                assert!(c.len() >= last(m, n, rsc, csc), "gemm: C too short");
                // SAFETY: the asserts above prove every addressed element lies inside the
                // slices (strides are non-negative by the callers' construction), and `c`
                // is borrowed mutably so it cannot alias `a` or `b`.
                unsafe {
                    $gemm(
                        m,
                        k,
                        n,
                        alpha,
                        a.as_ptr(),
                        rsa,
                        csa,
                        b.as_ptr(),
                        rsb,
                        csb,
                        beta,
                        c.as_mut_ptr(),
                        rsc,
                        csc,
                    );
                }
            }
        }
    };
}

impl_cpu_float!(f32, DType::F32, matrixmultiply::sgemm);
impl_cpu_float!(f64, DType::F64, matrixmultiply::dgemm);
