//! Thread-local scratch buffers for CPU kernels: untyped slots, one per element type, that
//! grow on demand and are reused call after call, so a kernel's temporary arrays cost no
//! allocation once warm. Each op family declares its own keys (one per lifetime of use:
//! whole call on the calling thread, or one chunk of work on a worker).

use std::any::Any;
use std::cell::RefCell;
use std::thread::LocalKey;

/// The slots behind one thread-local key.
pub(crate) type Slots = RefCell<Vec<Box<dyn Any>>>;

/// Runs `f` on a thread-local buffer of exactly `len` elements of `E` (contents
/// unspecified). Falls back to a fresh allocation if the buffer is already borrowed
/// (re-entrant use), so it never panics.
pub(crate) fn with_scratch<E: Copy + Default + 'static, R>(
    key: &'static LocalKey<Slots>,
    len: usize,
    f: impl FnOnce(&mut [E]) -> R,
) -> R {
    let mut f = Some(f);
    let out = key.with(|cell| {
        let mut slots = cell.try_borrow_mut().ok()?;
        let idx = match slots.iter().position(|s| s.is::<Vec<E>>()) {
            Some(i) => i,
            None => {
                slots.push(Box::new(Vec::<E>::new()));
                slots.len() - 1
            }
        };
        let buf = slots[idx].downcast_mut::<Vec<E>>()?;
        if buf.len() < len {
            buf.resize(len, E::default());
        }
        let f = f.take()?;
        Some(f(&mut buf[..len]))
    });
    match out {
        Some(r) => r,
        None => {
            let f = f.take().expect("scratch closure already consumed");
            let mut buf = vec![E::default(); len];
            f(&mut buf)
        }
    }
}
