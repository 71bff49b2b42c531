//! Row-major matrix products on cuBLAS (which is column-major).
//!
//! A row-major `R x C` matrix is, read column-major, its `C x R` transpose. So the
//! row-major product `C = op(A) op(B)` (`m x n`) is computed as the column-major product
//! `C^T = op(B)^T op(A)^T` (`n x m`): the operands swap places and each keeps its own
//! transpose flag. Batches are strided (`cublas<t>gemmStridedBatched`); a stride of 0 reuses
//! one matrix for every batch item (a convolution's weight).

use std::ffi::c_int;

use cudarc::cublas::sys::cublasOperation_t;
use cudarc::cublas::{result as blas_result, sys as blas_sys};

use super::error::CudaResultExt;
use super::CudaBackend;
use crate::{DType, Result, TensorError};

/// One row-major (batched) product `C[t] = alpha op(A[t]) op(B[t]) + beta C[t]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RowMajorGemm {
    pub batch: usize,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    /// `A` is stored `[k, m]` (row-major) and used transposed; else stored `[m, k]`.
    pub trans_a: bool,
    /// `B` is stored `[n, k]` and used transposed; else stored `[k, n]`.
    pub trans_b: bool,
    /// Elements between consecutive batch items (0: the same matrix for every item).
    pub stride_a: usize,
    pub stride_b: usize,
    pub stride_c: usize,
    pub alpha: f64,
    pub beta: f64,
}

fn int(op: &'static str, what: &str, v: usize) -> Result<c_int> {
    c_int::try_from(v).map_err(|_| TensorError::InvalidShape {
        op,
        reason: format!("{what} = {v} exceeds cuBLAS's 32-bit sizes"),
    })
}

impl CudaBackend {
    /// Enqueues `g` on cuBLAS with device addresses `a`, `b`, `c` of element type `dtype`.
    /// Sizes must be non-zero (callers handle empty products); `c` is overwritten when
    /// `beta == 0`.
    pub(crate) fn gemm(
        &self,
        op: &'static str,
        dtype: DType,
        g: &RowMajorGemm,
        a: u64,
        b: u64,
        c: u64,
    ) -> Result<()> {
        debug_assert!(g.batch > 0 && g.m > 0 && g.n > 0 && g.k > 0);
        let (m, n, k) = (int(op, "m", g.m)?, int(op, "n", g.n)?, int(op, "k", g.k)?);
        let batch = int(op, "batch", g.batch)?;
        // Column-major view: C^T (n x m) = op(B)^T (n x k) * op(A)^T (k x m).
        let (op_b, ldb) = if g.trans_b {
            (cublasOperation_t::CUBLAS_OP_T, k)
        } else {
            (cublasOperation_t::CUBLAS_OP_N, n)
        };
        let (op_a, lda) = if g.trans_a {
            (cublasOperation_t::CUBLAS_OP_T, m)
        } else {
            (cublasOperation_t::CUBLAS_OP_N, k)
        };
        let ldc = n;
        let (sa, sb, sc) = (g.stride_a as i64, g.stride_b as i64, g.stride_c as i64);
        self.ctx.bind_to_thread().cuda(self.ordinal(), op)?;
        let handle = *self.blas.handle();
        // SAFETY: the addresses point at live allocations of this device holding the
        // operands at the sizes and strides described by `g` (checked by the callers), the
        // handle's stream is this device's stream, and alpha/beta are host scalars of the
        // element type (the handle's default pointer mode).
        let status = unsafe {
            match dtype {
                DType::F32 => {
                    let (alpha, beta) = (g.alpha as f32, g.beta as f32);
                    if g.batch == 1 {
                        blas_result::sgemm(
                            handle,
                            op_b,
                            op_a,
                            n,
                            m,
                            k,
                            &alpha,
                            b as *const f32,
                            ldb,
                            a as *const f32,
                            lda,
                            &beta,
                            c as *mut f32,
                            ldc,
                        )
                    } else {
                        blas_result::sgemm_strided_batched(
                            handle,
                            op_b,
                            op_a,
                            n,
                            m,
                            k,
                            &alpha,
                            b as *const f32,
                            ldb,
                            sb,
                            a as *const f32,
                            lda,
                            sa,
                            &beta,
                            c as *mut f32,
                            ldc,
                            sc,
                            batch,
                        )
                    }
                }
                DType::F64 => {
                    let (alpha, beta) = (g.alpha, g.beta);
                    if g.batch == 1 {
                        blas_result::dgemm(
                            handle,
                            op_b,
                            op_a,
                            n,
                            m,
                            k,
                            &alpha,
                            b as *const f64,
                            ldb,
                            a as *const f64,
                            lda,
                            &beta,
                            c as *mut f64,
                            ldc,
                        )
                    } else {
                        blas_result::dgemm_strided_batched(
                            handle,
                            op_b,
                            op_a,
                            n,
                            m,
                            k,
                            &alpha,
                            b as *const f64,
                            ldb,
                            sb,
                            a as *const f64,
                            lda,
                            sa,
                            &beta,
                            c as *mut f64,
                            ldc,
                            sc,
                            batch,
                        )
                    }
                }
            }
        };
        status.cuda(self.ordinal(), op)
    }
}

/// Keeps cuBLAS on IEEE single precision for `f32` (no TF32 tensor cores), so products
/// agree with the CPU backend to `f32` rounding.
pub(crate) fn no_tf32(blas: &cudarc::cublas::CudaBlas) -> std::result::Result<(), String> {
    // SAFETY: a valid handle; the call only changes the handle's math mode.
    let status = unsafe {
        blas_sys::cublasSetMathMode(*blas.handle(), blas_sys::cublasMath_t::CUBLAS_DEFAULT_MATH)
    };
    if status == blas_sys::cublasStatus_t::CUBLAS_STATUS_SUCCESS {
        Ok(())
    } else {
        Err(format!("{status:?}"))
    }
}
