//! The convolution kernels' thread-local scratch (slots of [`crate::cpu::scratch`]), and
//! zero-bordered padded planes whose borders never need re-zeroing.

use std::cell::RefCell;

use super::lowering::{pad_planes, PadShape};
pub(super) use crate::cpu::scratch::with_scratch;
use crate::cpu::scratch::Slots;
use crate::dtype::CpuFloat;
use crate::ops::conv::Conv2dGeometry;

thread_local! {
    /// Scratch used inside one chunk of work (padded input, column matrix, GEMM output).
    pub(super) static CHUNK_SCRATCH: Slots = const { RefCell::new(Vec::new()) };
    /// Scratch held by the calling thread for a whole call (prepared weight, partial sums);
    /// separate from [`CHUNK_SCRATCH`] because chunks may run on the calling thread.
    pub(super) static CALL_SCRATCH: Slots = const { RefCell::new(Vec::new()) };
    /// Index tables held by the calling thread for a whole call.
    pub(super) static TABLE_SCRATCH: Slots = const { RefCell::new(Vec::new()) };
    /// Zero-bordered buffers (padded inputs, stride-phase planes), one per layout (see
    /// [`with_bordered`]).
    pub(super) static PAD_SCRATCH: Slots = const { RefCell::new(Vec::new()) };
}

/// A thread-local buffer laid out by `key` whose border elements (those no writer for that
/// key ever touches) are known to be zero: only interiors are ever written, so reusing it
/// needs no re-zeroing.
struct Bordered<K, T> {
    key: K,
    buf: Vec<T>,
}

/// Bordered buffers kept per thread (one per recently used layout).
pub(super) const MAX_PADDED_SHAPES: usize = 16;

/// Runs `f` on the first `len` elements of the thread-local bordered buffer for `key`
/// after `write` has filled their interiors. `write` must never write an element that is
/// a border in the layout `key` describes, so borders stay zero (as new elements start);
/// interior elements it does not write (past the samples of this call) hold whatever an
/// earlier call left there.
pub(super) fn with_bordered<T: CpuFloat, K: Copy + PartialEq + 'static, R>(
    key: K,
    len: usize,
    write: impl FnOnce(&mut [T]),
    f: impl FnOnce(&[T]) -> R,
) -> R {
    let mut parts = Some((write, f));
    let mut run = |buf: &mut [T]| {
        let (write, f) = parts
            .take()
            .expect("bordered-buffer closures already consumed");
        write(buf);
        f(buf)
    };
    let out = PAD_SCRATCH.with(|cell| {
        let mut slots = cell.try_borrow_mut().ok()?;
        let found = slots.iter().position(|s| {
            s.downcast_ref::<Bordered<K, T>>()
                .is_some_and(|b| b.key == key)
        });
        let idx = match found {
            Some(i) => i,
            None => {
                if slots.len() >= MAX_PADDED_SHAPES {
                    slots.remove(0);
                }
                slots.push(Box::new(Bordered::<K, T> {
                    key,
                    buf: Vec::new(),
                }));
                slots.len() - 1
            }
        };
        let bordered = slots[idx].downcast_mut::<Bordered<K, T>>()?;
        if bordered.buf.len() < len {
            // New elements are zeros, so their borders are too.
            bordered.buf.resize(len, T::zero());
        }
        Some(run(&mut bordered.buf[..len]))
    });
    match out {
        Some(r) => r,
        None => run(&mut vec![T::zero(); len]),
    }
}

/// Runs `f` on the planes of `x` copied into zero-bordered planes of `shape` (reusing a
/// thread-local buffer whose borders are already zero).
pub(super) fn with_padded<T: CpuFloat, R>(
    shape: &PadShape,
    x: &[T],
    f: impl FnOnce(&[T]) -> R,
) -> R {
    with_padded_tail(shape, x, 0, f)
}

/// [`with_padded`], followed by `tail` further elements that only reads whose results are
/// dropped may touch: they hold zeros or whatever an earlier call left there.
pub(super) fn with_padded_tail<T: CpuFloat, R>(
    shape: &PadShape,
    x: &[T],
    tail: usize,
    f: impl FnOnce(&[T]) -> R,
) -> R {
    let planes = x.len() / (shape.h * shape.w).max(1);
    let padded = planes * shape.hp * shape.wp;
    with_bordered(*shape, padded + tail, |xp| pad_planes(shape, x, xp), f)
}

/// Runs `f` with the padded planes of the chunk `x` (`x` itself when there is no padding)
/// and a `len`-element chunk scratch buffer.
pub(super) fn with_padded_input<T: CpuFloat, R>(
    g: &Conv2dGeometry,
    x: &[T],
    len: usize,
    f: impl FnOnce(&[T], &mut [T]) -> R,
) -> R {
    if g.padding == 0 {
        return with_scratch::<T, R>(&CHUNK_SCRATCH, len, |rest| f(x, rest));
    }
    with_padded(&PadShape::input(g), x, |xp| {
        with_scratch::<T, R>(&CHUNK_SCRATCH, len, |rest| f(xp, rest))
    })
}
