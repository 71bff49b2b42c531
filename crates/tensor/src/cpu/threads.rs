//! The CPU kernels' worker threads: rayon's global pool, with the caller as one of them.
//!
//! Every large CPU kernel splits its work with rayon. Called from a thread outside the
//! pool, each such kernel hands its work to the pool's threads and puts the caller to sleep
//! until they are done: two futex wake-ups per kernel, several microseconds each, and a
//! core that idles while the caller waits. A training step runs a few hundred kernels, so
//! at batch size 32 on two cores that hand-off cost as much as the arithmetic.
//!
//! [`init_cpu_threads`] builds the global pool with the calling thread as worker 0
//! (`ThreadPoolBuilder::use_current_thread`): a kernel called from it splits its work on
//! the spot, the caller takes the first share, and only the other workers are woken.
//! Results do not depend on it: every kernel's split is fixed by the data, not by the pool.

use crate::{Result, TensorError};

/// Builds rayon's global pool with `threads` workers (`None`: rayon's default, which
/// honours `RAYON_NUM_THREADS`, else one per CPU), the calling thread being worker 0, and
/// returns the pool's size. Call it once, early, from the thread that will run the
/// training loop; it fails (with the reason) when the global pool already exists, e.g.
/// because a parallel kernel already ran, or when `threads` is `Some(0)`.
pub fn init_cpu_threads(threads: Option<usize>) -> Result<usize> {
    const OP: &str = "init_cpu_threads";
    if threads == Some(0) {
        return Err(TensorError::InvalidArgument {
            op: OP,
            reason: "at least one thread is needed".to_string(),
        });
    }
    let mut builder = rayon::ThreadPoolBuilder::new().use_current_thread();
    if let Some(n) = threads {
        builder = builder.num_threads(n);
    }
    builder
        .build_global()
        .map_err(|e| TensorError::InvalidArgument {
            op: OP,
            reason: format!("rayon's global pool: {e}"),
        })?;
    Ok(rayon::current_num_threads())
}

/// Empty looks for work (each a `rayon::yield_now`, about a microsecond or less) after
/// which a spinning worker starts yielding its core between looks.
pub const SPIN_ROUNDS: u32 = 2_000;

/// Runs `f` with the pool's other workers kept awake: each spins, taking any work the
/// kernels called from `f` hand out, until `f` returns. Called from a worker of rayon's
/// global pool (the thread that called [`init_cpu_threads`]); from anywhere else, or with
/// a one-thread pool, it just runs `f`.
///
/// Why: a worker that finds no work goes to sleep, and the next parallel kernel must wake
/// it — a futex call, and on a virtual machine whose other vCPU halted, an inter-processor
/// interrupt through the hypervisor. A training step at batch size 32 runs a few dozen
/// parallel kernels of some tens of microseconds each, so those wake-ups cost about as much
/// as the parallel share of the work. OpenMP runtimes (PyTorch's CPU threads among them)
/// spin-wait between parallel regions for the same reason. The price: while `f` runs, the
/// other workers keep their cores busy even when there is nothing to do.
///
/// Results do not depend on it (no kernel's split depends on which thread runs a share).
///
/// A worker that found nothing for [`SPIN_ROUNDS`] looks in a row yields its core to the
/// OS scheduler between looks (`sched_yield`): still awake, but other runnable threads and
/// processes get the core.
pub fn with_busy_workers<R>(f: impl FnOnce() -> R) -> R {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;

    let Some(caller) = rayon::current_thread_index() else {
        return f();
    };
    let threads = rayon::current_num_threads();
    if threads < 2 {
        return f();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let spinning = Arc::new(AtomicUsize::new(threads - 1));
    {
        let (stop, spinning) = (Arc::clone(&stop), Arc::clone(&spinning));
        rayon::spawn_broadcast(move |ctx| {
            // The caller's own copy returns at once: it must never spin inside one of its
            // own waits (it is the thread that ends the spinning).
            if ctx.index() != caller {
                let mut idle_rounds = 0u32;
                while !stop.load(Ordering::Acquire) {
                    if rayon::yield_now() == Some(rayon::Yield::Executed) {
                        idle_rounds = 0;
                    } else if idle_rounds < SPIN_ROUNDS {
                        idle_rounds += 1;
                        std::hint::spin_loop();
                    } else {
                        // Long idle (validation, callbacks, a serial stretch): offer the
                        // core to other threads and processes, and look again.
                        std::thread::yield_now();
                    }
                }
                spinning.fetch_sub(1, Ordering::AcqRel);
            }
        });
    }
    /// Ends the spinning when `f` returns or unwinds.
    struct Stop(Arc<AtomicBool>, Arc<AtomicUsize>);
    impl Drop for Stop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Release);
            // Wait until every spinner has left, running the caller's own broadcast copy
            // (if still queued) on the way, so that the pool is quiet afterwards.
            while self.1.load(Ordering::Acquire) > 0 {
                if rayon::yield_now() != Some(rayon::Yield::Executed) {
                    std::hint::spin_loop();
                }
            }
        }
    }
    let _stop = Stop(stop, spinning);
    f()
}
