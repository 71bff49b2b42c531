//! The MPI backend in a process that `mpirun` did not start (the way `cargo test` runs it).
//!
//! MPI can be initialised once per process, so everything is one test.
#![cfg(feature = "mpi")]

use collective::{launched_by_mpirun, Collective, CollectiveError, MpiCollective, ReductionOrder};

#[test]
fn outside_mpirun_init_refuses_and_a_singleton_world_works() {
    if launched_by_mpirun() {
        eprintln!("skipped: this test must run outside mpirun");
        return;
    }
    match MpiCollective::init() {
        Err(CollectiveError::NotLaunchedByMpi { program }) => assert!(!program.is_empty()),
        other => panic!("expected NotLaunchedByMpi, got {other:?}"),
    }

    // A singleton: Open MPI lets a directly started process be a world of one rank.
    let mut comm = MpiCollective::init_unchecked().expect("MPI singleton init");
    assert_eq!((comm.rank(), comm.world_size()), (0, 1));
    assert_eq!(
        MpiCollective::init_unchecked().unwrap_err(),
        CollectiveError::AlreadyInitialized
    );
    for order in [ReductionOrder::RankOrder, ReductionOrder::MpiAllreduce] {
        comm.set_reduction_order(order);
        let mut a = [0.1f32, -3.5, 1.0e30];
        comm.all_reduce_sum_f32(&mut a).unwrap();
        assert_eq!(a, [0.1, -3.5, 1.0e30]);
        let mut b = [0.1f64, 7.0];
        comm.all_reduce_sum_f64(&mut b).unwrap();
        assert_eq!(b, [0.1, 7.0]);
    }
    let mut u = *b"xyz";
    comm.broadcast_u8(&mut u, 0).unwrap();
    assert_eq!(&u, b"xyz");
    assert_eq!(
        comm.broadcast_f64(&mut [1.0], 1),
        Err(CollectiveError::InvalidRoot {
            root: 1,
            world_size: 1
        })
    );
    comm.barrier().unwrap();
}
