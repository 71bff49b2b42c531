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
    /// Zero-bordered padded inputs, one per plane shape (see [`PaddedPlanes`]).
    pub(super) static PAD_SCRATCH: Slots = const { RefCell::new(Vec::new()) };
}

/// A thread-local buffer of zero-padded planes of one shape, whose borders are known to be
/// zero: only interiors are ever written, so reusing it needs no re-zeroing.
pub(super) struct PaddedPlanes<T> {
    shape: PadShape,
    buf: Vec<T>,
}

/// Padded-plane buffers kept per thread (one per recently used plane shape).
pub(super) const MAX_PADDED_SHAPES: usize = 16;

/// Runs `f` on the planes of `x` copied into zero-bordered planes of `shape` (reusing a
/// thread-local buffer whose borders are already zero).
pub(super) fn with_padded<T: CpuFloat, R>(
    shape: &PadShape,
    x: &[T],
    f: impl FnOnce(&[T]) -> R,
) -> R {
    let planes = x.len() / (shape.h * shape.w).max(1);
    let padded = planes * shape.hp * shape.wp;
    let mut f = Some(f);
    let mut run = |xp: &mut [T]| {
        pad_planes(shape, x, xp);
        let f = f.take().expect("padded-planes closure already consumed");
        f(xp)
    };
    let out = PAD_SCRATCH.with(|cell| {
        let mut slots = cell.try_borrow_mut().ok()?;
        let found = slots.iter().position(|s| {
            s.downcast_ref::<PaddedPlanes<T>>()
                .is_some_and(|b| b.shape == *shape)
        });
        let idx = match found {
            Some(i) => i,
            None => {
                if slots.len() >= MAX_PADDED_SHAPES {
                    slots.remove(0);
                }
                slots.push(Box::new(PaddedPlanes::<T> {
                    shape: *shape,
                    buf: Vec::new(),
                }));
                slots.len() - 1
            }
        };
        let planes = slots[idx].downcast_mut::<PaddedPlanes<T>>()?;
        if planes.buf.len() < padded {
            // New planes are all zeros, so their borders are too.
            planes.buf.resize(padded, T::zero());
        }
        Some(run(&mut planes.buf[..padded]))
    });
    match out {
        Some(r) => r,
        None => run(&mut vec![T::zero(); padded]),
    }
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
