//! Recycled host buffers for op results.
//!
//! A training step makes the same result tensors, in the same shapes, every step. When the
//! last handle to a host tensor's storage drops, the whole storage — the element buffer,
//! the ndarray array's reference count and the tensor's own `Arc` — goes into this pool,
//! keyed by element type and length, instead of back to the allocator; the next op result
//! of that type and length takes it back ([`HostBuffer`]). After warm-up a step's results
//! allocate nothing, and a program that never installs a caching allocator does not pay
//! the system allocator's page faults for every large activation.
//!
//! The pool is process-wide (a buffer freed on one thread serves a result on another: a
//! data loader's batches, data-parallel ranks) and bounded: it holds at most
//! [`buffer_pool_limit`] bytes ([`DEFAULT_BUFFER_POOL_BYTES`] unless set with
//! [`set_buffer_pool_limit`]). A buffer that would take it over the limit empties it first
//! (a change of shapes — another batch size, another model — retires the old shapes'
//! buffers at once), and a buffer larger than the limit is freed. [`clear_buffer_pool`]
//! frees everything it holds; a limit of 0 turns it off.
//!
//! Only storage that nothing else can see is recycled: the tensor's `Arc` and the ndarray
//! array's own reference count must both be unique (a buffer shared with an `ndarray`
//! array a user took out with `to_ndarray` stays with that array).

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::storage::{Element, Storage};
use crate::{DType, Dims, Tensor};

/// Bytes the pool may hold unless [`set_buffer_pool_limit`] says otherwise: room for
/// every result of the lesson's bs-1024 step (~80 MB in `f32`) several times over.
pub const DEFAULT_BUFFER_POOL_BYTES: usize = 512 << 20;

static LIMIT: AtomicUsize = AtomicUsize::new(DEFAULT_BUFFER_POOL_BYTES);
static POOL: Mutex<Pool> = Mutex::new(Pool::new());

/// Free storages by (element type, length); a length's list keeps its capacity when it
/// empties, so taking and returning after warm-up allocates nothing.
struct Pool {
    free: BTreeMap<(bool, usize), Vec<Arc<Storage>>>,
    bytes: usize,
}

impl Pool {
    const fn new() -> Self {
        Pool {
            free: BTreeMap::new(),
            bytes: 0,
        }
    }
}

fn pool() -> MutexGuard<'static, Pool> {
    // A panic while holding the lock leaves the pool consistent (each update is one push
    // or pop plus a byte count), so a poisoned lock is still usable.
    POOL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn key(dtype: DType, len: usize) -> (bool, usize) {
    (dtype == DType::F64, len)
}

/// Sets the most bytes of freed host buffers kept for reuse (0: keep none). Buffers
/// already held beyond the new limit are freed.
pub fn set_buffer_pool_limit(bytes: usize) {
    LIMIT.store(bytes, Ordering::Relaxed);
    if pool().bytes > bytes {
        clear_buffer_pool();
    }
}

/// The most bytes of freed host buffers kept for reuse.
pub fn buffer_pool_limit() -> usize {
    LIMIT.load(Ordering::Relaxed)
}

/// Bytes of freed host buffers held for reuse now.
pub fn buffer_pool_bytes() -> usize {
    pool().bytes
}

/// Frees every buffer the pool holds.
pub fn clear_buffer_pool() {
    let held = {
        let mut pool = pool();
        pool.bytes = 0;
        std::mem::take(&mut pool.free)
    };
    // Freed outside the lock.
    drop(held);
}

/// Takes back a storage whose last tensor handle dropped, when nothing else shares it.
fn recycle(mut storage: Arc<Storage>) {
    let (pool_key, bytes) = match Arc::get_mut(&mut storage) {
        Some(Storage::Cpu(cpu)) if cpu.is_unique() => (
            key(cpu.dtype(), cpu.len()),
            cpu.len() * cpu.dtype().size_in_bytes(),
        ),
        _ => return,
    };
    let limit = LIMIT.load(Ordering::Relaxed);
    if bytes > limit {
        return;
    }
    let retired = {
        let mut pool = pool();
        let retired = if pool.bytes + bytes > limit {
            pool.bytes = 0;
            std::mem::take(&mut pool.free)
        } else {
            BTreeMap::new()
        };
        pool.free.entry(pool_key).or_default().push(storage);
        pool.bytes += bytes;
        retired
    };
    drop(retired);
}

/// A held storage of this type and length, if the pool has one.
fn take(dtype: DType, len: usize) -> Option<Arc<Storage>> {
    let mut pool = pool();
    let storage = pool.free.get_mut(&key(dtype, len))?.pop()?;
    pool.bytes -= len * dtype.size_in_bytes();
    Some(storage)
}

/// A tensor's handle on its storage: an `Arc` that, when it is the last one, hands the
/// storage to the pool instead of freeing it.
#[derive(Clone)]
pub(crate) struct StorageHandle(ManuallyDrop<Arc<Storage>>);

impl StorageHandle {
    pub(crate) fn new(storage: Arc<Storage>) -> Self {
        StorageHandle(ManuallyDrop::new(storage))
    }
}

impl Deref for StorageHandle {
    type Target = Arc<Storage>;
    fn deref(&self) -> &Arc<Storage> {
        &self.0
    }
}

impl DerefMut for StorageHandle {
    fn deref_mut(&mut self) -> &mut Arc<Storage> {
        &mut self.0
    }
}

impl Drop for StorageHandle {
    fn drop(&mut self) {
        // SAFETY: the handle is being dropped; its `Arc` is taken out exactly once and
        // never used through the handle again.
        let storage = unsafe { ManuallyDrop::take(&mut self.0) };
        recycle(storage);
    }
}

/// The host buffer of an op's result, before it becomes a tensor: recycled from the pool
/// when it holds one of this type and length, allocated otherwise.
pub(crate) struct HostBuffer<T> {
    storage: Arc<Storage>,
    elem: PhantomData<T>,
}

impl<T: Element> HostBuffer<T> {
    /// A buffer for a kernel that writes every element. What it holds before is
    /// unspecified; in debug builds it is NaN, so a kernel that skips an element shows it
    /// in the tests instead of passing on a recycled value.
    pub(crate) fn for_overwrite(len: usize) -> Self {
        let fill = if cfg!(debug_assertions) {
            T::of_f64(f64::NAN)
        } else {
            T::zero()
        };
        match take(T::DTYPE, len) {
            Some(storage) => {
                let mut buffer = Self::wrap(storage);
                if cfg!(debug_assertions) {
                    buffer.as_mut_slice().fill(fill);
                }
                buffer
            }
            None => Self::fresh(len, fill),
        }
    }

    /// A buffer of zeros, for a kernel that accumulates into its result.
    pub(crate) fn zeroed(len: usize) -> Self {
        Self::filled(len, T::zero())
    }

    /// A buffer of `len` copies of `value`.
    pub(crate) fn filled(len: usize, value: T) -> Self {
        match take(T::DTYPE, len) {
            Some(storage) => {
                let mut buffer = Self::wrap(storage);
                buffer.as_mut_slice().fill(value);
                buffer
            }
            // For zeros, `vec![0; n]` asks the allocator for zeroed memory (no separate
            // pass when it comes straight from the system).
            None => Self::fresh(len, value),
        }
    }

    fn fresh(len: usize, value: T) -> Self {
        Self::wrap(Arc::new(Storage::Cpu(T::into_storage(vec![value; len]))))
    }

    fn wrap(storage: Arc<Storage>) -> Self {
        HostBuffer {
            storage,
            elem: PhantomData,
        }
    }

    /// The elements, to write.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [T] {
        // Invariant: the buffer was made or recycled as a unique host storage of `T`, so
        // neither unwrap can fail and the array's copy-on-write never copies.
        match Arc::get_mut(&mut self.storage) {
            Some(Storage::Cpu(cpu)) => T::slice_mut(cpu).expect("HostBuffer holds its own type"),
            _ => unreachable!("HostBuffer holds a unique host storage"),
        }
    }

    /// The result tensor of `shape` whose every element `write` sets.
    pub(crate) fn written(shape: &[usize], write: impl FnOnce(&mut [T])) -> Tensor {
        let mut buffer = Self::for_overwrite(crate::shape::numel(shape));
        write(buffer.as_mut_slice());
        buffer.into_tensor(shape)
    }

    /// The result tensor of `shape` that `add` accumulates into, starting from zeros.
    pub(crate) fn accumulated(shape: &[usize], add: impl FnOnce(&mut [T])) -> Tensor {
        let mut buffer = Self::zeroed(crate::shape::numel(shape));
        add(buffer.as_mut_slice());
        buffer.into_tensor(shape)
    }

    /// The storage alone, for the backend calls that return one.
    pub(crate) fn into_storage(self) -> Arc<Storage> {
        self.storage
    }

    /// The result tensor of this shape (its product is the buffer's length).
    pub(crate) fn into_tensor(self, shape: impl AsRef<[usize]>) -> Tensor {
        Tensor::from_shared_storage(self.storage, Dims::from_slice(shape.as_ref()))
    }
}

/// The tensor of `shape` whose every element `write` sets, of the element type of the
/// host tensor `x`: `written_like!(x, shape, v, out => kernel(v, out))`, with `v` the
/// elements of `x` and `out` the result's, typed alike. Evaluates to the tensor; `x` not
/// on the host returns the error from the enclosing function.
macro_rules! written_like {
    ($x:expr, $shape:expr, $v:ident, $out:ident => $write:expr) => {
        match $crate::cpu::host($x)? {
            $crate::CpuStorage::F32($v) => {
                $crate::cpu::pool::HostBuffer::written($shape, |$out: &mut [f32]| $write)
            }
            $crate::CpuStorage::F64($v) => {
                $crate::cpu::pool::HostBuffer::written($shape, |$out: &mut [f64]| $write)
            }
        }
    };
}
pub(crate) use written_like;

#[cfg(test)]
mod tests;
