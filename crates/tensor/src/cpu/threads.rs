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
