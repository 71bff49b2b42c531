//! Matrix multiplication: 2-D `[m,k] x [k,n]` and batched `[b,m,k] x [b,k,n]`, with
//! transpose flags so that backward passes (`dA = dC B^T`, `dB = A^T dC`) need no copies.

pub(crate) mod cpu;
#[cfg(feature = "cuda")]
pub(crate) mod cuda;

use crate::{Result, Tensor, TensorError};

/// The sizes of one (batched) product `C[b] = op(A[b]) op(B[b])`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatmulDims {
    pub batch: usize,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    /// `A` is stored `[b, k, m]` and used transposed.
    pub trans_a: bool,
    /// `B` is stored `[b, n, k]` and used transposed.
    pub trans_b: bool,
}

/// Matrix-multiply kernels a backend provides; arguments are validated by the callers.
pub trait MatmulOps {
    /// `C[b] = op(A[b]) op(B[b])`, a contiguous `[batch, m, n]` tensor (rank as the inputs').
    fn matmul(&self, a: &Tensor, b: &Tensor, dims: MatmulDims) -> Result<Tensor>;
}

impl Tensor {
    /// `self @ other` for 2-D or 3-D (batched) operands.
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        self.matmul_t(other, false, false)
    }

    /// `op(self) @ op(other)` where `op` transposes the last two dimensions when its flag is
    /// set (no copy is made).
    pub fn matmul_t(&self, other: &Tensor, trans_a: bool, trans_b: bool) -> Result<Tensor> {
        self.check_compatible("matmul", other)?;
        let mismatch = || TensorError::ShapeMismatch {
            op: "matmul",
            lhs: self.shape().to_vec(),
            rhs: other.shape().to_vec(),
        };
        let (batch, a2, b2) = match (self.shape(), other.shape()) {
            ([m, k], [k2, n]) => (1, [*m, *k], [*k2, *n]),
            ([b, m, k], [b2, k2, n]) if b == b2 => (*b, [*m, *k], [*k2, *n]),
            _ => return Err(mismatch()),
        };
        let (m, k) = if trans_a {
            (a2[1], a2[0])
        } else {
            (a2[0], a2[1])
        };
        let (k2, n) = if trans_b {
            (b2[1], b2[0])
        } else {
            (b2[0], b2[1])
        };
        if k != k2 {
            return Err(mismatch());
        }
        let dims = MatmulDims {
            batch,
            m,
            k,
            n,
            trans_a,
            trans_b,
        };
        let out = self.backend().matmul(self, other, dims)?;
        if self.rank() == 2 {
            out.reshape(&[m, n])
        } else {
            out.reshape(&[batch, m, n])
        }
    }
}

mod cpu_impl {
    use super::{MatmulDims, MatmulOps};
    use crate::cpu::{host_pair, CpuBackend, HostPair};
    use crate::{CpuStorage, Result, Tensor};

    impl MatmulOps for CpuBackend {
        fn matmul(&self, a: &Tensor, b: &Tensor, d: MatmulDims) -> Result<Tensor> {
            let len = d.batch * d.m * d.n;
            let storage = match host_pair("matmul", a, b)? {
                HostPair::F32(x, y) => {
                    let mut c = vec![0f32; len];
                    super::cpu::batched_matmul(
                        d.batch, d.m, d.k, d.n, x, d.trans_a, y, d.trans_b, &mut c,
                    );
                    CpuStorage::F32(c.into())
                }
                HostPair::F64(x, y) => {
                    let mut c = vec![0f64; len];
                    super::cpu::batched_matmul(
                        d.batch, d.m, d.k, d.n, x, d.trans_a, y, d.trans_b, &mut c,
                    );
                    CpuStorage::F64(c.into())
                }
            };
            Ok(Tensor::from_cpu_storage(storage, vec![d.batch, d.m, d.n]))
        }
    }
}
