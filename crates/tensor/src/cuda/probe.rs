//! Probing for the CUDA shared libraries before cudarc touches them.
//!
//! cudarc's dynamic loader panics when a library is missing. We therefore look for each
//! library ourselves, under exactly the file names cudarc would try
//! ([`cudarc::get_lib_name_candidates`]), and turn absence into a typed error that names the
//! library. A library found here is one cudarc will find too.

use std::sync::OnceLock;

/// A CUDA library the backend loads at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CudaLib {
    /// The driver API (`libcuda.so.1`), installed with the NVIDIA driver.
    Driver,
    /// The run-time compiler our kernels are built with (`libnvrtc.so.*`).
    Nvrtc,
    /// Matrix products (`libcublas.so.*`).
    Cublas,
    /// Convolutions (`libcudnn.so.*`); optional, the backend falls back to im2col + GEMM.
    Cudnn,
}

impl CudaLib {
    /// The name cudarc searches under (without prefix, suffix or version).
    fn stem(self) -> &'static str {
        match self {
            CudaLib::Driver => "cuda",
            CudaLib::Nvrtc => "nvrtc",
            CudaLib::Cublas => "cublas",
            CudaLib::Cudnn => "cudnn",
        }
    }

    /// A human-readable file name for error messages.
    pub(crate) fn file_name(self) -> &'static str {
        match self {
            CudaLib::Driver => "libcuda.so (the NVIDIA driver library)",
            CudaLib::Nvrtc => "libnvrtc.so (the CUDA run-time compiler)",
            CudaLib::Cublas => "libcublas.so (cuBLAS)",
            CudaLib::Cudnn => "libcudnn.so (cuDNN)",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Whether `lib` can be loaded under one of the names cudarc tries. The answer is computed
/// once per process (a `dlopen` per candidate name at most) and then cached.
pub(crate) fn is_present(lib: CudaLib) -> bool {
    static FOUND: [OnceLock<bool>; 4] = [
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
    ];
    *FOUND[lib.index()].get_or_init(|| {
        cudarc::get_lib_name_candidates(lib.stem())
            .into_iter()
            // SAFETY: loading a shared library runs its initialisers; the candidates are the
            // system's CUDA libraries, the same ones cudarc itself would load.
            .any(|name| unsafe { libloading::Library::new(name) }.is_ok())
    })
}

/// The candidate file names searched for `lib`, for error messages.
pub(crate) fn candidates(lib: CudaLib) -> Vec<String> {
    cudarc::get_lib_name_candidates(lib.stem())
}

/// Error text for a missing library.
pub(crate) fn missing_message(lib: CudaLib) -> String {
    let names = candidates(lib);
    let shown: Vec<&str> = names.iter().map(String::as_str).take(4).collect();
    format!(
        "{} was not found (searched {} names such as {}; set LD_LIBRARY_PATH to its folder)",
        lib.file_name(),
        names.len(),
        shown.join(", ")
    )
}
