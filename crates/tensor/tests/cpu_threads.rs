//! `init_cpu_threads`: the caller becomes worker 0 of rayon's global pool (its own test
//! binary, because the global pool is built once per process).

use tensor::{init_cpu_threads, Device, Tensor, TensorError};

#[test]
fn the_caller_becomes_worker_zero_once() {
    assert!(matches!(
        init_cpu_threads(Some(0)),
        Err(TensorError::InvalidArgument { .. })
    ));
    assert_eq!(rayon::current_thread_index(), None);
    assert_eq!(init_cpu_threads(Some(2)).unwrap(), 2);
    assert_eq!(rayon::current_thread_index(), Some(0));
    assert_eq!(rayon::current_num_threads(), 2);
    // A second pool cannot be built; the error names the cause.
    let again = init_cpu_threads(Some(2)).unwrap_err().to_string();
    assert!(again.contains("global pool"), "{again}");
    // Large kernels still run (and split) from the caller.
    let data: Vec<f32> = (0..1 << 16).map(|i| i as f32).collect();
    let x = Tensor::from_vec(data, &[1 << 16], Device::Cpu).unwrap();
    let y = x.relu().unwrap();
    assert_eq!(y.to_vec_f32().unwrap()[(1 << 16) - 1], 65535.0);
}
