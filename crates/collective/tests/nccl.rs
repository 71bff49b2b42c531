//! The NCCL backend on one GPU, as a one-rank MPI singleton. Needs a CUDA GPU and libnccl.
//!
//! Multi-rank NCCL needs one GPU per rank (NCCL refuses two ranks on one device); run the
//! `collective-mpi-check`-style checks by hand on such a machine.
#![cfg(feature = "nccl")]

use collective::{Collective, MpiCollective, NcclCollective};

#[test]
#[ignore = "needs CUDA"]
fn one_gpu_world_keeps_buffers_and_round_trips_device_data() {
    let mpi = MpiCollective::init_unchecked().expect("MPI singleton init");
    let comm = NcclCollective::new(mpi, 0).expect("NCCL on GPU 0");
    assert_eq!((comm.rank(), comm.world_size()), (0, 1));

    let mut a: Vec<f32> = (0..1000).map(|i| i as f32 * 0.25 - 3.0).collect();
    let want = a.clone();
    comm.all_reduce_sum_f32(&mut a).unwrap();
    assert_eq!(a, want);
    let mut b = vec![1.0e-300f64, -2.5, 3.0];
    comm.all_reduce_sum_f64(&mut b).unwrap();
    assert_eq!(b, [1.0e-300, -2.5, 3.0]);
    let mut u = b"nccl".to_vec();
    comm.broadcast_u8(&mut u, 0).unwrap();
    assert_eq!(u, b"nccl");
    assert!(comm.broadcast_f32(&mut a, 1).is_err());
    comm.all_reduce_sum_f32(&mut []).unwrap();

    let mut dev = comm.stream().clone_htod(&[1.5f32, 2.5]).unwrap();
    comm.all_reduce_sum_device(&mut dev).unwrap();
    comm.broadcast_device(&mut dev, 0).unwrap();
    assert_eq!(comm.stream().clone_dtoh(&dev).unwrap(), [1.5, 2.5]);
    comm.barrier().unwrap();
}
