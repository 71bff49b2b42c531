//! The pool's internals: what a recycled buffer holds when a kernel gets it. The public
//! behaviour (reuse, sharing, the limit) is tested in `tests/buffer_pool.rs`, a binary of
//! its own because the limit is process-wide.

use super::*;

/// A length no other test in this binary makes a tensor of, so that the buffer this test
/// returns to the process-wide pool is the one it takes back.
const LEN: usize = 7_877;

#[test]
fn a_recycled_buffer_is_handed_out_again_and_holds_nan_or_the_fill_value() {
    let first = HostBuffer::<f64>::filled(LEN, 3.0).into_tensor([LEN]);
    let address = first.cpu_storage().unwrap().data_ptr();
    drop(first);

    let mut again = HostBuffer::<f64>::for_overwrite(LEN);
    let slice = again.as_mut_slice();
    assert_eq!(slice.as_ptr().cast(), address, "the freed buffer is reused");
    if cfg!(debug_assertions) {
        // Debug builds poison what a kernel is about to overwrite, so a kernel that
        // skips an element fails its tests instead of passing on the 3.0 left here.
        assert!(slice.iter().all(|v| v.is_nan()));
    }
    slice.fill(5.0);
    drop(again.into_tensor([LEN]));

    let zeros = HostBuffer::<f64>::zeroed(LEN).into_tensor([LEN]);
    assert_eq!(zeros.cpu_storage().unwrap().data_ptr(), address);
    assert!(zeros.to_vec::<f64>().unwrap().iter().all(|&v| v == 0.0));
}

#[test]
fn only_unshared_host_storage_is_taken_back() {
    let t = HostBuffer::<f32>::filled(LEN, 1.0).into_tensor([LEN]);
    let clone = t.clone();
    let address = t.cpu_storage().unwrap().data_ptr();
    drop(t);
    // The clone still holds the storage: a new buffer of that length is another one.
    let other = HostBuffer::<f32>::for_overwrite(LEN).into_tensor([LEN]);
    assert_ne!(other.cpu_storage().unwrap().data_ptr(), address);
    assert!(clone.to_vec::<f32>().unwrap().iter().all(|&v| v == 1.0));
}
