//! CPU kernel for (batched) matrix multiplication, and the CPU backend's [`MatmulOps`].
//!
//! For every batch index `t`, `C[t] = op(A[t]) · op(B[t])`, i.e.
//! `c[t, i, j] = Σ_p op(a)[t, i, p] · op(b)[t, p, j]` with `op(a)[t, i, p] = a[t, i, p]`, or
//! `a[t, p, i]` when `trans_a`, and likewise for `b`. Transposition is never materialised:
//! it only changes the strides handed to the GEMM.
//!
//! Parallelism: products whose total arithmetic is below [`PAR_MIN_FLOPS`] run inline on the
//! calling thread. Larger batched products split the batch across the rayon pool; a single
//! large product splits the rows of `C` into blocks. Every element of `C` is computed by
//! exactly one GEMM call whose inner summation order does not depend on the split, so
//! results are bit-identical run to run and independent of the thread count.

use rayon::prelude::*;

use super::{MatmulDims, MatmulOps};
use crate::cpu::pool::HostBuffer;
use crate::cpu::{host_pair, CpuBackend, HostPair};
use crate::dtype::CpuFloat;
use crate::{Result, Tensor};

/// Below this many floating-point operations a call runs on the calling thread.
const PAR_MIN_FLOPS: usize = 2_000_000;

/// Rows of `C` per task when one large product is split by rows (a multiple of every
/// micro-kernel height, so the blocks do not create ragged edge tiles).
const ROW_BLOCK: usize = 64;

/// `c[t] = op(a[t]) · op(b[t])` for `t in 0..batch`, overwriting `c`.
///
/// `a` is `[batch, m, k]` (or `[batch, k, m]` when `trans_a`), `b` is `[batch, k, n]` (or
/// `[batch, n, k]` when `trans_b`), `c` is `[batch, m, n]`; all contiguous row-major.
pub fn batched_matmul<T: CpuFloat>(
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
    a: &[T],
    trans_a: bool,
    b: &[T],
    trans_b: bool,
    c: &mut [T],
) {
    debug_assert_eq!(a.len(), batch * m * k);
    debug_assert_eq!(b.len(), batch * k * n);
    debug_assert_eq!(c.len(), batch * m * n);
    if batch == 0 || m == 0 || n == 0 {
        return;
    }
    // Element strides (between rows, between columns) of op(a) and op(b).
    let (rsa, csa) = if trans_a {
        (1, m as isize)
    } else {
        (k as isize, 1)
    };
    let (rsb, csb) = if trans_b {
        (1, k as isize)
    } else {
        (n as isize, 1)
    };
    let (a_len, b_len, c_len) = (m * k, k * n, m * n);
    let one_product = |t: usize, ct: &mut [T]| {
        let at = &a[t * a_len..][..a_len];
        let bt = &b[t * b_len..][..b_len];
        T::gemm(
            m,
            k,
            n,
            T::one(),
            at,
            rsa,
            csa,
            bt,
            rsb,
            csb,
            T::zero(),
            ct,
            n as isize,
            1,
        );
    };
    let flops = 2 * batch * m * k * n;
    let threads = rayon::current_num_threads();
    if flops < PAR_MIN_FLOPS || threads < 2 {
        c.chunks_exact_mut(c_len)
            .enumerate()
            .for_each(|(t, ct)| one_product(t, ct));
    } else if batch >= 2 {
        // Each task gets enough products to amortise its scheduling.
        let per_product = 2 * m * k * n;
        let min_len = (PAR_MIN_FLOPS / 4 / per_product.max(1)).max(1);
        c.par_chunks_exact_mut(c_len)
            .with_min_len(min_len)
            .enumerate()
            .for_each(|(t, ct)| one_product(t, ct));
    } else if m >= 2 * ROW_BLOCK {
        // One big product: blocks of rows of C, each against all of op(b).
        c.par_chunks_mut(ROW_BLOCK * n)
            .enumerate()
            .for_each(|(blk, cb)| {
                let rows = cb.len() / n;
                let i0 = blk * ROW_BLOCK;
                let ab = &a[i0 * rsa as usize..];
                T::gemm(
                    rows,
                    k,
                    n,
                    T::one(),
                    ab,
                    rsa,
                    csa,
                    b,
                    rsb,
                    csb,
                    T::zero(),
                    cb,
                    n as isize,
                    1,
                );
            });
    } else {
        one_product(0, c);
    }
}

impl MatmulOps for CpuBackend {
    fn matmul(&self, a: &Tensor, b: &Tensor, d: MatmulDims) -> Result<Tensor> {
        // `C = A·B` with beta 0: every element of `c` is written (zero when `k` is 0).
        let shape = [d.batch, d.m, d.n];
        Ok(match host_pair("matmul", a, b)? {
            HostPair::F32(x, y) => HostBuffer::written(&shape, |c| {
                batched_matmul(d.batch, d.m, d.k, d.n, x, d.trans_a, y, d.trans_b, c)
            }),
            HostPair::F64(x, y) => HostBuffer::written(&shape, |c| {
                batched_matmul(d.batch, d.m, d.k, d.n, x, d.trans_a, y, d.trans_b, c)
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use test_oracles::matmul::{matmul as naive, MatmulShape};
    use test_oracles::seeded::uniform as values;

    fn check<T: CpuFloat>(
        batch: usize,
        m: usize,
        k: usize,
        n: usize,
        ta: bool,
        tb: bool,
        tol: f64,
    ) {
        let a64 = values(batch * m * k, 1 + (m * 31 + k * 7 + n) as u64);
        let b64 = values(batch * k * n, 2 + (n * 13 + k) as u64);
        let a: Vec<T> = a64.iter().map(|&v| T::of_f64(v)).collect();
        let b: Vec<T> = b64.iter().map(|&v| T::of_f64(v)).collect();
        // Reference on the exactly-representable inputs.
        let a_ref: Vec<f64> = a.iter().map(|v| v.as_f64()).collect();
        let b_ref: Vec<f64> = b.iter().map(|v| v.as_f64()).collect();
        let shape = MatmulShape::new(batch, m, k, n).transposed(ta, tb);
        let want = naive(&shape, &a_ref, &b_ref).unwrap();
        let mut c = vec![T::of_f64(f64::NAN); batch * m * n];
        batched_matmul(batch, m, k, n, &a, ta, &b, tb, &mut c);
        for (idx, (got, want)) in c.iter().zip(&want).enumerate() {
            let err = (got.as_f64() - want).abs();
            assert!(
                err <= tol * (1.0 + want.abs()) * (k as f64).sqrt().max(1.0),
                "batch={batch} m={m} k={k} n={n} ta={ta} tb={tb} idx={idx}: got {got}, want {want}"
            );
        }
    }

    fn check_all_transposes(batch: usize, m: usize, k: usize, n: usize) {
        for ta in [false, true] {
            for tb in [false, true] {
                check::<f64>(batch, m, k, n, ta, tb, 1e-13);
                check::<f32>(batch, m, k, n, ta, tb, 1e-5);
            }
        }
    }

    #[test]
    fn hand_computed_2x2() {
        // [1 2; 3 4] · [5 6; 7 8] = [19 22; 43 50]
        let a = [1.0f64, 2.0, 3.0, 4.0];
        let b = [5.0f64, 6.0, 7.0, 8.0];
        let mut c = [0.0f64; 4];
        batched_matmul(1, 2, 2, 2, &a, false, &b, false, &mut c);
        assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
        // aᵀ · b = [1 3; 2 4] · [5 6; 7 8] = [26 30; 38 44]
        batched_matmul(1, 2, 2, 2, &a, true, &b, false, &mut c);
        assert_eq!(c, [26.0, 30.0, 38.0, 44.0]);
        // a · bᵀ = [1 2; 3 4] · [5 7; 6 8] = [17 23; 39 53]
        batched_matmul(1, 2, 2, 2, &a, false, &b, true, &mut c);
        assert_eq!(c, [17.0, 23.0, 39.0, 53.0]);
        // aᵀ · bᵀ = [1 3; 2 4] · [5 7; 6 8] = [23 31; 34 46]
        batched_matmul(1, 2, 2, 2, &a, true, &b, true, &mut c);
        assert_eq!(c, [23.0, 31.0, 34.0, 46.0]);
    }

    #[test]
    fn small_shapes_all_transposes() {
        for &(batch, m, k, n) in &[
            (1, 1, 1, 1),
            (1, 3, 5, 7),
            (2, 7, 3, 5),
            (3, 1, 9, 4),
            (4, 10, 1, 6),
            (1, 17, 33, 15),
            (5, 16, 16, 16),
        ] {
            check_all_transposes(batch, m, k, n);
        }
    }

    #[test]
    fn large_shapes_take_parallel_paths() {
        // Batched and parallel over the batch.
        check_all_transposes(6, 70, 50, 40);
        // One product, split by row blocks (m not a multiple of the block).
        check_all_transposes(1, 200, 64, 90);
        // One product with few rows: runs as a single GEMM.
        check_all_transposes(1, 10, 300, 800);
    }

    #[test]
    fn zero_inner_dimension_gives_zeros() {
        let mut c = vec![f32::NAN; 6];
        batched_matmul::<f32>(1, 2, 0, 3, &[], false, &[], false, &mut c);
        assert_eq!(c, vec![0.0; 6]);
    }

    #[test]
    fn repeated_calls_are_bit_identical() {
        let (batch, m, k, n) = (4, 130, 70, 60);
        let a: Vec<f32> = values(batch * m * k, 5).iter().map(|&v| v as f32).collect();
        let b: Vec<f32> = values(batch * k * n, 6).iter().map(|&v| v as f32).collect();
        let mut c1 = vec![0.0f32; batch * m * n];
        let mut c2 = vec![1.0f32; batch * m * n];
        batched_matmul(batch, m, k, n, &a, false, &b, true, &mut c1);
        batched_matmul(batch, m, k, n, &a, false, &b, true, &mut c2);
        assert_eq!(c1, c2);
        // The same product computed one batch item at a time agrees bit for bit.
        for t in 0..batch {
            let mut ct = vec![0.0f32; m * n];
            batched_matmul(
                1,
                m,
                k,
                n,
                &a[t * m * k..][..m * k],
                false,
                &b[t * k * n..][..k * n],
                true,
                &mut ct,
            );
            assert_eq!(ct, c1[t * m * n..][..m * n]);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn random_shapes_match_naive(
            batch in 1usize..4,
            m in 1usize..24,
            k in 0usize..24,
            n in 1usize..24,
            ta: bool,
            tb: bool,
        ) {
            check::<f64>(batch, m, k, n, ta, tb, 1e-13);
            check::<f32>(batch, m, k, n, ta, tb, 1e-5);
        }
    }
}
