//! The process-wide registry of CUDA backends: one [`CudaBackend`] per GPU, created on
//! first use and kept for the life of the process (leaked, so tensors can hold `'static`
//! references to it). A failure to create one is remembered too, so a missing driver is
//! probed once, not once per tensor.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, OnceLock};

use cudarc::driver::CudaContext;

use super::error::unavailable;
use super::probe::{is_present, missing_message, CudaLib};
use super::CudaBackend;
use crate::{Result, TensorError};

type Entry = Result<&'static CudaBackend>;

fn registry() -> &'static Mutex<HashMap<usize, Entry>> {
    static REGISTRY: OnceLock<Mutex<HashMap<usize, Entry>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The backend of GPU `ordinal`, created on first use, or why there is none:
/// a missing library (named), no GPU, an ordinal out of range, or the CUDA error text.
pub(crate) fn backend(ordinal: usize) -> Result<&'static CudaBackend> {
    let mut map = registry()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(entry) = map.get(&ordinal) {
        return entry.clone();
    }
    let entry = create(ordinal);
    map.insert(ordinal, entry.clone());
    entry
}

/// Number of CUDA GPUs visible to this process; 0 when the driver library is missing or
/// reports no device.
pub(crate) fn device_count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| count_devices().unwrap_or(0))
}

fn count_devices() -> std::result::Result<usize, String> {
    if !is_present(CudaLib::Driver) {
        return Err(missing_message(CudaLib::Driver));
    }
    // cudarc panics when a symbol is missing (a driver older than its bindings): contain it.
    match catch_unwind(CudaContext::device_count) {
        Ok(Ok(n)) => Ok(n.max(0) as usize),
        Ok(Err(e)) => Err(format!("the CUDA driver found no usable GPU: {e}")),
        Err(_) => Err("the CUDA driver library could not be used (missing symbols)".to_string()),
    }
}

fn create(ordinal: usize) -> Entry {
    let count = count_devices().map_err(|reason| unavailable(ordinal, reason))?;
    if count == 0 {
        return Err(unavailable(ordinal, "the CUDA driver reports no GPU"));
    }
    if ordinal >= count {
        return Err(unavailable(
            ordinal,
            format!("ordinal {ordinal} is out of range: {count} CUDA GPU(s) visible"),
        ));
    }
    for lib in [CudaLib::Nvrtc, CudaLib::Cublas] {
        if !is_present(lib) {
            return Err(unavailable(ordinal, missing_message(lib)));
        }
    }
    let created = catch_unwind(AssertUnwindSafe(|| CudaBackend::create(ordinal)));
    let backend = match created {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => return Err(as_unavailable(ordinal, e)),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a CUDA library panicked".to_string());
            return Err(unavailable(ordinal, what));
        }
    };
    let leaked: &'static CudaBackend = Box::leak(Box::new(backend));
    leaked.set_static();
    Ok(leaked)
}

/// Start-up failures are reported as the device being unavailable, with the CUDA text.
fn as_unavailable(ordinal: usize, e: TensorError) -> TensorError {
    match e {
        TensorError::Cuda { message, .. } => unavailable(ordinal, format!("CUDA error: {message}")),
        other => other,
    }
}
