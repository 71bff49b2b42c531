//! The host buffer pool seen from outside: op results reuse freed buffers, shared buffers
//! are never taken from their holders, and the process-wide limit bounds what is kept.
//! One test function, because the limit and the pool are process-wide.

use tensor::{
    buffer_pool_bytes, buffer_pool_limit, clear_buffer_pool, set_buffer_pool_limit, Device, Tensor,
    DEFAULT_BUFFER_POOL_BYTES,
};

fn address(t: &Tensor) -> *const u8 {
    t.cpu_storage().unwrap().data_ptr()
}

fn ramp(len: usize) -> Tensor {
    let v: Vec<f64> = (0..len).map(|i| i as f64 / len as f64).collect();
    Tensor::from_vec(v, &[len], Device::Cpu).unwrap()
}

#[test]
fn freed_results_are_reused_within_the_limit_and_shared_ones_are_left_alone() {
    assert_eq!(buffer_pool_limit(), DEFAULT_BUFFER_POOL_BYTES);
    let x = ramp(1000);
    let expected: Vec<f64> = x.to_vec::<f64>().unwrap().iter().map(|v| v.exp()).collect();

    // A result's buffer, once freed, is the next same-length result's.
    let y = x.exp().unwrap();
    let freed = address(&y);
    drop(y);
    assert_eq!(buffer_pool_bytes(), 8000);
    let y = x.exp().unwrap();
    assert_eq!(address(&y), freed);
    assert_eq!(y.to_vec::<f64>().unwrap(), expected);
    assert_eq!(buffer_pool_bytes(), 0);

    // A buffer an ndarray array shares stays with the array.
    let array = y.to_ndarray::<f64>().unwrap();
    drop(y);
    assert_eq!(buffer_pool_bytes(), 0);
    let z = x.neg().unwrap();
    assert_ne!(address(&z), array.as_ptr().cast());
    assert_eq!(array.iter().copied().collect::<Vec<_>>(), expected);
    drop(z);

    // The limit: nothing kept at 0; a buffer over the limit is freed; one that would take
    // the pool over it empties the pool first.
    set_buffer_pool_limit(0);
    assert_eq!(
        buffer_pool_bytes(),
        0,
        "lowering the limit frees what is held"
    );
    drop(x.exp().unwrap());
    assert_eq!(buffer_pool_bytes(), 0);
    set_buffer_pool_limit(10_000);
    let inputs = [ramp(2000), ramp(600), ramp(700)];
    drop(inputs[0].exp().unwrap());
    assert_eq!(buffer_pool_bytes(), 0, "16 000 bytes is over the limit");
    drop(inputs[1].exp().unwrap());
    assert_eq!(buffer_pool_bytes(), 4800);
    drop(inputs[2].exp().unwrap());
    assert_eq!(
        buffer_pool_bytes(),
        5600,
        "the 600-element buffer made room"
    );
    // Any host tensor's storage is recycled when its last handle drops, inputs too.
    drop(inputs);
    // The 2000 is over the limit; the 600 and then the 700 each empty the pool first.
    assert_eq!(buffer_pool_bytes(), 5600);
    clear_buffer_pool();
    assert_eq!(buffer_pool_bytes(), 0);
    set_buffer_pool_limit(DEFAULT_BUFFER_POOL_BYTES);
}
