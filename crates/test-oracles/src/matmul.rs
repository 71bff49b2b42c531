//! The (batched) matrix product by its defining triple loop.
//!
//! For each batch item `t`: `C[t] = op_a(A[t]) op_b(B[t])`, with
//! `C[t][i][j] = sum_{p < k} op_a(A[t])[i][p] op_b(B[t])[p][j]`, where `op_a(A)` is `A`
//! stored row-major as `[m, k]`, or `A^T` when `trans_a` (then `A` is stored `[k, m]`);
//! likewise `B` is stored `[k, n]`, or `[n, k]` when `trans_b`. `C` is `[batch, m, n]`.

use crate::{check_len, Result};

/// Sizes and transposes of one batched product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatmulShape {
    /// Number of independent products.
    pub batch: usize,
    /// Rows of `C`.
    pub m: usize,
    /// Inner dimension.
    pub k: usize,
    /// Columns of `C`.
    pub n: usize,
    /// `A` is stored transposed, as `[k, m]`.
    pub trans_a: bool,
    /// `B` is stored transposed, as `[n, k]`.
    pub trans_b: bool,
}

impl MatmulShape {
    /// A product without transposes.
    pub fn new(batch: usize, m: usize, k: usize, n: usize) -> Self {
        MatmulShape {
            batch,
            m,
            k,
            n,
            trans_a: false,
            trans_b: false,
        }
    }

    /// The same product with the given transposes.
    pub fn transposed(self, trans_a: bool, trans_b: bool) -> Self {
        MatmulShape {
            trans_a,
            trans_b,
            ..self
        }
    }
}

/// `C = op_a(A) op_b(B)` for every batch item (see the module docs), in `f64`.
pub fn matmul(s: &MatmulShape, a: &[f64], b: &[f64]) -> Result<Vec<f64>> {
    let MatmulShape { batch, m, k, n, .. } = *s;
    check_len("matmul lhs", a, batch * m * k)?;
    check_len("matmul rhs", b, batch * k * n)?;
    let mut c = vec![0.0; batch * m * n];
    for t in 0..batch {
        let (a, b) = (&a[t * m * k..], &b[t * k * n..]);
        for i in 0..m {
            for j in 0..n {
                let mut sum = 0.0;
                for p in 0..k {
                    let av = if s.trans_a {
                        a[p * m + i]
                    } else {
                        a[i * k + p]
                    };
                    let bv = if s.trans_b {
                        b[j * k + p]
                    } else {
                        b[p * n + j]
                    };
                    sum += av * bv;
                }
                c[(t * m + i) * n + j] = sum;
            }
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OracleError;

    #[test]
    fn hand_computed_2x2_with_every_transpose() {
        // A = [1 2; 3 4], B = [5 6; 7 8].
        let (a, b) = ([1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]);
        let s = MatmulShape::new(1, 2, 2, 2);
        // A B = [1*5 + 2*7, 1*6 + 2*8; 3*5 + 4*7, 3*6 + 4*8].
        assert_eq!(matmul(&s, &a, &b).unwrap(), [19.0, 22.0, 43.0, 50.0]);
        // A^T B = [1 3; 2 4][5 6; 7 8].
        let at = s.transposed(true, false);
        assert_eq!(matmul(&at, &a, &b).unwrap(), [26.0, 30.0, 38.0, 44.0]);
        // A B^T = [1 2; 3 4][5 7; 6 8].
        let bt = s.transposed(false, true);
        assert_eq!(matmul(&bt, &a, &b).unwrap(), [17.0, 23.0, 39.0, 53.0]);
        let both = s.transposed(true, true);
        assert_eq!(matmul(&both, &a, &b).unwrap(), [23.0, 31.0, 34.0, 46.0]);
    }

    #[test]
    fn rectangular_batched_and_empty() {
        // Batch 0: [1 2 3] [1; 1; 1] = 6; batch 1: [0 1 0] [4; 5; 6] = 5.
        let s = MatmulShape::new(2, 1, 3, 1);
        let a = [1.0, 2.0, 3.0, 0.0, 1.0, 0.0];
        let b = [1.0, 1.0, 1.0, 4.0, 5.0, 6.0];
        assert_eq!(matmul(&s, &a, &b).unwrap(), [6.0, 5.0]);
        // k = 0: the empty sum.
        assert_eq!(
            matmul(&MatmulShape::new(1, 2, 0, 3), &[], &[]).unwrap(),
            [0.0; 6]
        );
        assert_eq!(
            matmul(&s, &a[..5], &b),
            Err(OracleError::Length {
                what: "matmul lhs",
                expected: 6,
                got: 5
            })
        );
    }
}
