//! Matrix products on cuBLAS: row-major operands through the usual operand swap (see
//! `cuda/blas.rs`), batches as one strided-batched call. No kernels of our own.

use super::{MatmulDims, MatmulOps};
use crate::cuda::{CudaBackend, RowMajorGemm};
use crate::storage::Storage;
use crate::{Result, Tensor};

impl MatmulOps for CudaBackend {
    fn matmul(&self, a: &Tensor, b: &Tensor, d: MatmulDims) -> Result<Tensor> {
        let (sa, sb) = self.pair_of("matmul", a, b)?;
        let len = d.batch * d.m * d.n;
        let shape = vec![d.batch, d.m, d.n];
        if len == 0 || d.k == 0 {
            // An empty inner dimension sums nothing: zeros.
            let out = self.alloc_zeros(sa.dtype(), len)?;
            return Ok(Tensor::from_storage(Storage::Cuda(out), shape));
        }
        let out = self.alloc(sa.dtype(), len)?;
        let g = RowMajorGemm {
            batch: d.batch,
            m: d.m,
            n: d.n,
            k: d.k,
            trans_a: d.trans_a,
            trans_b: d.trans_b,
            stride_a: d.m * d.k,
            stride_b: d.k * d.n,
            stride_c: d.m * d.n,
            alpha: 1.0,
            beta: 0.0,
        };
        self.gemm("matmul", sa.dtype(), &g, sa.ptr(), sb.ptr(), out.ptr())?;
        Ok(Tensor::from_storage(Storage::Cuda(out), shape))
    }
}
