//! Asking for a CUDA device never panics: on a machine without CUDA it is a typed
//! [`TensorError::DeviceUnavailable`] that says what is missing; with `CUDA_REQUIRED=1` (set
//! by the GPU machine's test runner) it must succeed instead. Runs everywhere (not ignored).

#![cfg(feature = "cuda")]

use tensor::{DType, Device, Tensor, TensorError};

fn cuda_required() -> bool {
    std::env::var("CUDA_REQUIRED").is_ok_and(|v| v == "1")
}

/// The reason must name the library or condition, never be empty.
fn assert_unavailable(what: &str, e: &TensorError) {
    match e {
        TensorError::DeviceUnavailable { device, reason } => {
            assert_eq!(*device, Device::Cuda(0), "{what}");
            assert!(!reason.is_empty(), "{what}: empty reason");
            if !tensor::cuda::is_available() {
                assert!(
                    reason.contains("libcuda")
                        || reason.contains("GPU")
                        || reason.contains("driver"),
                    "{what}: the reason should say the driver or GPU is missing: {reason}"
                );
            }
        }
        other => panic!("{what}: expected DeviceUnavailable, got {other:?}"),
    }
}

#[test]
fn creating_a_cuda_tensor_is_a_typed_error_or_works() {
    let made = Tensor::zeros(&[2], DType::F32, Device::Cuda(0));
    if cuda_required() {
        let t = made.unwrap_or_else(|e| panic!("CUDA_REQUIRED=1 but CUDA is unusable: {e}"));
        assert_eq!(t.device(), Device::Cuda(0));
        assert_eq!(t.to_vec::<f32>().unwrap(), vec![0.0, 0.0]);
        return;
    }
    match made {
        Ok(t) => {
            // A machine with a GPU: it must then really work.
            assert!(tensor::cuda::is_available());
            assert_eq!(t.to_vec::<f32>().unwrap(), vec![0.0, 0.0]);
        }
        Err(e) => assert_unavailable("Tensor::zeros", &e),
    }
}

#[test]
fn moving_to_cuda_is_a_typed_error_or_works() {
    let host = Tensor::from_vec(vec![1.0f64, -2.5, 3.0], &[3], Device::Cpu).unwrap();
    let moved = host.to_device(Device::Cuda(0));
    if cuda_required() {
        let t = moved.unwrap_or_else(|e| panic!("CUDA_REQUIRED=1 but CUDA is unusable: {e}"));
        assert_eq!(t.device(), Device::Cuda(0));
        assert_eq!(t.to_vec::<f64>().unwrap(), vec![1.0, -2.5, 3.0]);
        let back = t.to_device(Device::Cpu).unwrap();
        assert!(back.bit_eq(&host));
        return;
    }
    match moved {
        Ok(t) => assert_eq!(t.to_vec::<f64>().unwrap(), vec![1.0, -2.5, 3.0]),
        Err(e) => assert_unavailable("to_device", &e),
    }
}

#[test]
fn the_error_is_stable_across_calls() {
    // The registry remembers a failed start; asking again gives the same answer.
    let first = tensor::backend_for(Device::Cuda(0)).map(|_| ());
    let second = tensor::backend_for(Device::Cuda(0)).map(|_| ());
    assert_eq!(first, second);
    if cuda_required() {
        assert!(first.is_ok(), "CUDA_REQUIRED=1 but {first:?}");
    }
}

#[test]
fn an_ordinal_past_the_last_gpu_is_unavailable() {
    match Tensor::zeros(&[1], DType::F64, Device::Cuda(1000)) {
        Err(TensorError::DeviceUnavailable { device, reason }) => {
            assert_eq!(device, Device::Cuda(1000));
            assert!(!reason.is_empty());
            if tensor::cuda::is_available() {
                assert!(reason.contains("out of range"), "{reason}");
            }
        }
        other => panic!("expected DeviceUnavailable for cuda:1000, got {other:?}"),
    }
}

#[test]
fn availability_agrees_with_the_device_count() {
    assert_eq!(
        tensor::cuda::is_available(),
        tensor::cuda::device_count() > 0
    );
    if cuda_required() {
        assert!(
            tensor::cuda::is_available(),
            "CUDA_REQUIRED=1 but no GPU is visible"
        );
    }
}
