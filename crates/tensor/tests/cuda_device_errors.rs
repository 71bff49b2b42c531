//! Errors a kernel finds on the GPU (invalid class ids) set the device's error flag, which
//! the next read from that device (`to_host`, the one synchronisation point) reports as a
//! typed error and clears. The flag is per device, so this runs in its own process: a
//! concurrent test reading from the same GPU would otherwise see the error.
//! GPU-only: `#[ignore = "needs CUDA"]`.

#![cfg(feature = "cuda")]

mod cuda_support;

use cuda_support::{cpu, gpu, randn, values, DTYPES};
use tensor::{Device, Tensor, TensorError};

#[test]
#[ignore = "needs CUDA"]
fn invalid_class_ids_are_reported_at_the_next_read() {
    for dtype in DTYPES {
        let z = gpu(&randn(&[3, 4], dtype, 1));
        for bad in [4.0, -1.0, 1.5, f64::NAN] {
            let t = gpu(&cpu(vec![0.0, bad, 2.0], &[3], dtype));
            let loss = z
                .cross_entropy(&t)
                .expect("the check happens on the device");
            match loss.to_vec_f64() {
                Err(TensorError::InvalidArgument { op, .. }) => assert_eq!(op, "cross_entropy"),
                other => panic!("target {bad}: expected the device error, got {other:?}"),
            }
            // The flag was cleared: the next read succeeds.
            assert_eq!(values(&z).len(), 12);
            let dloss = gpu(&Tensor::scalar(1.0, dtype, Device::Cpu).unwrap());
            let grad = z.cross_entropy_backward(&t, &dloss).unwrap();
            assert!(
                grad.to_vec_f64().is_err(),
                "target {bad}: backward must flag it too"
            );
        }
    }
}
