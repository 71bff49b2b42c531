//! `init_cpu_threads`: the caller becomes worker 0 of rayon's global pool (its own test
//! binary, because the global pool is built once per process).

use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;
use tensor::{init_cpu_threads, with_busy_workers, Device, Tensor, TensorError};

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

    busy_workers_take_the_work_and_stop();
}

/// `with_busy_workers` (same process: it needs the pool built above): the kernels inside
/// give the same results, the other worker takes shares of the work while it spins, the
/// spinning ends when the closure returns or panics, and it can start again.
fn busy_workers_take_the_work_and_stop() {
    let data: Vec<f32> = (0..1 << 16).map(|i| (i as f32 * 0.37).sin()).collect();
    let x = Tensor::from_vec(data, &[1 << 16], Device::Cpu).unwrap();
    let want = x.relu().unwrap().to_vec_f32().unwrap();
    let on_other = AtomicUsize::new(0);
    let got = with_busy_workers(|| {
        assert_eq!(rayon::current_thread_index(), Some(0));
        for _ in 0..50 {
            assert_eq!(x.relu().unwrap().to_vec_f32().unwrap(), want);
            (0..64).into_par_iter().for_each(|_| {
                if rayon::current_thread_index() == Some(1) {
                    on_other.fetch_add(1, Ordering::Relaxed);
                }
                std::hint::black_box((0..2000).sum::<u64>());
            });
        }
        7
    });
    assert_eq!(got, 7);
    assert!(
        on_other.load(Ordering::Relaxed) > 0,
        "worker 1 never took a share"
    );
    // A panic inside ends the spinning too, and the pool works afterwards.
    let caught = std::panic::catch_unwind(|| with_busy_workers(|| panic!("inside")));
    assert!(caught.is_err());
    assert_eq!(
        with_busy_workers(|| x.relu().unwrap().to_vec_f32().unwrap()),
        want
    );
    // Outside the pool it only runs the closure.
    let outside = std::thread::spawn(|| with_busy_workers(rayon::current_thread_index));
    assert_eq!(outside.join().unwrap(), None);
}
