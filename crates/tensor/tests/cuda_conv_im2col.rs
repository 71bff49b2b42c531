//! The convolution passes on our own im2col + cuBLAS path (forced with
//! `TENSOR_CUDA_CONV=im2col`, the path used when cuDNN is missing or has no algorithm for a
//! case) against the CPU, with the tolerances of `cuda_vs_cpu.rs`. A separate test binary
//! because the engine is chosen once per process, when the device is first used.
//! GPU-only: `#[ignore = "needs CUDA"]`.

#![cfg(feature = "cuda")]

mod cuda_support;

use std::sync::Once;

use cuda_support::conv;
use proptest::prelude::*;

/// Sets the engine before this process first touches the GPU (every test calls it first).
fn force_im2col() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::env::set_var(tensor::cuda::CONV_ENGINE_ENV, "im2col");
        let device = tensor::cuda::device(0).unwrap_or_else(|e| panic!("CUDA is needed: {e}"));
        assert!(
            device.conv_engine().starts_with("off"),
            "cuDNN should be off in this process: {}",
            device.conv_engine()
        );
    });
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 16,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    #[ignore = "needs CUDA"]
    fn im2col_conv2d_forward(c in conv::case(), bias: bool, seed: u64) {
        force_im2col();
        conv::check_forward(c, bias, seed);
    }

    #[test]
    #[ignore = "needs CUDA"]
    fn im2col_conv2d_backward_input(c in conv::case(), seed: u64) {
        force_im2col();
        conv::check_backward_input(c, seed);
    }

    #[test]
    #[ignore = "needs CUDA"]
    fn im2col_conv2d_backward_weight(c in conv::case(), seed: u64) {
        force_im2col();
        conv::check_backward_weight(c, seed);
    }

    #[test]
    #[ignore = "needs CUDA"]
    fn im2col_conv2d_backward_bias(c in conv::case(), seed: u64) {
        force_im2col();
        conv::check_backward_bias(c, seed);
    }
}

/// A batch large enough that the column matrix is cut into several chunks.
#[test]
#[ignore = "needs CUDA"]
fn im2col_chunks_a_large_batch() {
    force_im2col();
    // 27 taps x 32 x 32 outputs per sample: the 2^25-element budget holds 1213 samples,
    // so 2500 samples take three chunks (the last one short).
    conv::check_forward((2500, 3, 32, 32, 2, 3, 3, 1, 1), true, 11);
    conv::check_backward_input((2500, 3, 32, 32, 2, 3, 3, 1, 1), 12);
    conv::check_backward_weight((2500, 3, 32, 32, 2, 3, 3, 1, 1), 13);
}
