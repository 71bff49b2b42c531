//! Test oracles: naive, obviously-correct `f64` reference implementations on plain slices,
//! shared by the tests of every crate of the workspace (dev-only, never published).
//!
//! Each oracle is written straight from its defining formula (loops over the sums, no
//! blocking, no SIMD, no reuse of the kernels under test), so a test can compare a fast
//! kernel with it. Nothing here depends on `tensor` unless the `tensor` feature is on,
//! so `tensor`'s own unit and integration tests can use the oracles too.
//!
//! | module | what |
//! |---|---|
//! | [`seeded`] | deterministic pseudo-random values (uniform, normal) from a 64-bit LCG |
//! | [`matmul`] | the batched matrix product with optional transposes |
//! | [`conv`] | 2-D convolution (NCHW, OIHW) and its three adjoints |
//! | [`norm`] | group-wise normalisation (BatchNorm, LayerNorm, InstanceNorm, GroupNorm), forward and backward |
//! | `tensors` (feature `tensor`) | seeded `Tensor`s built from [`seeded`] |
//!
//! Bad arguments (a slice of the wrong length, an impossible shape) are an
//! [`OracleError`], never a panic.

pub mod conv;
mod error;
pub mod matmul;
pub mod norm;
pub mod seeded;
#[cfg(feature = "tensor")]
pub mod tensors;

pub use error::{OracleError, Result};

/// Checks that `what` holds `expected` values.
pub(crate) fn check_len(what: &'static str, data: &[f64], expected: usize) -> Result<()> {
    if data.len() == expected {
        Ok(())
    } else {
        Err(OracleError::Length {
            what,
            expected,
            got: data.len(),
        })
    }
}
