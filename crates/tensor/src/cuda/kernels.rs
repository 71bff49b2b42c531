//! Our CUDA C kernels: NVRTC compilation once per process and device, an on-disk PTX cache,
//! and the table of loaded entry points.
//!
//! Every op family keeps its kernels in `ops/<family>/<family>.cu`, embedded with
//! `include_str!` into a [`KernelSource`]. The source handed to NVRTC is
//! `common.cuh` (shared helpers) followed by the family's file. Each family is compiled the
//! first time one of its kernels is launched on a device, for the newest virtual
//! architecture NVRTC supports that the GPU can run (`compute_90` on an H100), then loaded
//! with every entry point looked up once. The PTX is also written (best effort) to
//! `$XDG_CACHE_HOME/batchnorm-rs/ptx` (or `~/.cache/batchnorm-rs/ptx`), keyed by a hash of
//! the source, the options and the NVRTC version, so later processes skip NVRTC.
//!
//! Entry points come in one version per element type, named `<base>_f32` and `<base>_f64`
//! (C++ templates instantiated by `extern "C"` wrappers, so the names are not mangled).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use cudarc::driver::{CudaContext, CudaFunction, CudaModule};
use cudarc::nvrtc::{compile_ptx_with_opts, CompileOptions, Ptx};

use super::error::cuda_error;
use crate::{DType, Result};

/// Helpers shared by every family (indexing, NaN handling, block reductions).
const COMMON: &str = include_str!("common.cuh");

/// The families with kernels of their own; the discriminant indexes the module table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    Memory,
    Elementwise,
    Reduce,
    Layout,
    Conv,
    Loss,
    Update,
    Norm,
}

const FAMILIES: usize = 8;

/// One family's CUDA C source and the base names of its entry points.
#[derive(Debug)]
pub(crate) struct KernelSource {
    pub family: Family,
    /// Short name, used for the module and the cache file.
    pub name: &'static str,
    /// The family's `.cu` file.
    pub source: &'static str,
    /// Base names; each exists as `<base>_f32` and `<base>_f64`.
    pub entries: &'static [&'static str],
}

/// A loaded module and its entry points by (base name, element type).
struct LoadedModule {
    _module: Arc<CudaModule>,
    functions: HashMap<(&'static str, DType), CudaFunction>,
}

/// The modules of one device, compiled and loaded on first use.
pub(crate) struct KernelCache {
    ordinal: usize,
    /// NVRTC's `--gpu-architecture` value, e.g. `compute_90`.
    arch: &'static str,
    nvrtc_version: (i32, i32),
    modules: [OnceLock<std::result::Result<LoadedModule, String>>; FAMILIES],
}

impl KernelCache {
    /// A cache for the GPU with compute capability `cc` (`major * 10 + minor`).
    pub(crate) fn new(ordinal: usize, cc: i32) -> Result<Self> {
        let arch_num = pick_arch(cc).map_err(|e| cuda_error(ordinal, "NVRTC", e))?;
        let arch: &'static str = Box::leak(format!("compute_{arch_num}").into_boxed_str());
        Ok(KernelCache {
            ordinal,
            arch,
            nvrtc_version: nvrtc_version(),
            modules: Default::default(),
        })
    }

    /// The virtual architecture kernels are compiled for.
    pub(crate) fn arch(&self) -> &'static str {
        self.arch
    }

    /// The entry point `<base>_<dtype>` of `src`, compiling and loading the family on first
    /// use. A compilation failure is remembered and returned for every later call.
    pub(crate) fn function(
        &self,
        ctx: &Arc<CudaContext>,
        src: &'static KernelSource,
        base: &'static str,
        dtype: DType,
    ) -> Result<&CudaFunction> {
        let slot = &self.modules[src.family as usize];
        let loaded = slot
            .get_or_init(|| self.load(ctx, src))
            .as_ref()
            .map_err(|e| cuda_error(self.ordinal, src.name, e))?;
        loaded.functions.get(&(base, dtype)).ok_or_else(|| {
            cuda_error(
                self.ordinal,
                src.name,
                format!("no kernel named {base} for {dtype} in the module"),
            )
        })
    }

    fn options(&self) -> Vec<String> {
        vec![
            format!("--gpu-architecture={}", self.arch),
            // No contraction of a*b+c into FMA: results then round like the CPU backend's.
            "--fmad=false".to_string(),
            "--std=c++17".to_string(),
        ]
    }

    fn load(
        &self,
        ctx: &Arc<CudaContext>,
        src: &'static KernelSource,
    ) -> std::result::Result<LoadedModule, String> {
        let full = format!("{COMMON}\n{}", src.source);
        let options = self.options();
        let key = fnv1a(&[
            full.as_bytes(),
            options.join(" ").as_bytes(),
            format!("{:?}", self.nvrtc_version).as_bytes(),
        ]);
        let path =
            cache_dir().map(|d| d.join(format!("{}-{key:016x}-{}.ptx", src.name, self.arch)));
        // A cached PTX that loads is used as is; anything else is recompiled.
        let cached = path
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .filter(|text| text.contains(".entry") && !text.contains('\0'))
            .and_then(|text| ctx.load_module(Ptx::from_src(text)).ok());
        let module = match cached {
            Some(m) => m,
            None => {
                let opts = CompileOptions {
                    options,
                    name: Some(format!("{}.cu", src.name)),
                    ..Default::default()
                };
                let ptx = compile_ptx_with_opts(&full, opts)
                    .map_err(|e| describe_compile_error(src.name, e))?;
                if let Some(p) = &path {
                    store(p, &ptx.to_src());
                }
                ctx.load_module(ptx)
                    .map_err(|e| format!("loading the {} module: {e}", src.name))?
            }
        };
        let mut functions = HashMap::new();
        for &base in src.entries {
            for dtype in [DType::F32, DType::F64] {
                let name = format!("{base}_{dtype}");
                let f = module
                    .load_function(&name)
                    .map_err(|e| format!("looking up kernel {name}: {e}"))?;
                functions.insert((base, dtype), f);
            }
        }
        Ok(LoadedModule {
            _module: module,
            functions,
        })
    }
}

/// NVRTC's error with its log, readable.
fn describe_compile_error(name: &str, e: cudarc::nvrtc::CompileError) -> String {
    match e {
        cudarc::nvrtc::CompileError::CompileError {
            nvrtc,
            options,
            log,
        } => format!(
            "NVRTC failed to compile {name}.cu ({nvrtc:?}, options {options:?}):\n{}",
            log.to_string_lossy()
        ),
        other => format!("NVRTC failed on {name}.cu: {other:?}"),
    }
}

/// The newest virtual architecture NVRTC supports that does not exceed `cc`.
fn pick_arch(cc: i32) -> std::result::Result<i32, String> {
    use cudarc::nvrtc::sys;
    let mut count: std::ffi::c_int = 0;
    // SAFETY: plain out-parameter calls into NVRTC, which the caller has probed for.
    let ok =
        unsafe { sys::nvrtcGetNumSupportedArchs(&mut count) } == sys::nvrtcResult::NVRTC_SUCCESS;
    if !ok || count <= 0 {
        return Ok(cc);
    }
    let mut archs = vec![0 as std::ffi::c_int; count as usize];
    // SAFETY: `archs` has room for the `count` values NVRTC reported.
    let ok = unsafe { sys::nvrtcGetSupportedArchs(archs.as_mut_ptr()) }
        == sys::nvrtcResult::NVRTC_SUCCESS;
    if !ok {
        return Ok(cc);
    }
    archs
        .iter()
        .copied()
        .filter(|&a| a <= cc)
        .max()
        .ok_or_else(|| format!("this NVRTC supports architectures {archs:?}, none of which runs on compute capability {}.{}", cc / 10, cc % 10))
}

/// NVRTC's version, `(0, 0)` if it cannot say.
fn nvrtc_version() -> (i32, i32) {
    use cudarc::nvrtc::sys;
    let (mut major, mut minor) = (0, 0);
    // SAFETY: plain out-parameter call.
    let ok =
        unsafe { sys::nvrtcVersion(&mut major, &mut minor) } == sys::nvrtcResult::NVRTC_SUCCESS;
    if ok {
        (major, minor)
    } else {
        (0, 0)
    }
}

/// `$XDG_CACHE_HOME/batchnorm-rs/ptx`, else `$HOME/.cache/batchnorm-rs/ptx`.
fn cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })?;
    Some(base.join("batchnorm-rs").join("ptx"))
}

/// Writes `text` to `path` atomically (the `atomic-file` crate), ignoring failures (the
/// cache is an optimisation only).
fn store(path: &std::path::Path, text: &str) {
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let _ = atomic_file::write_atomic(path, text.as_bytes());
}

/// 64-bit FNV-1a over the concatenation of `parts` (with separators), for cache keys.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part.iter().chain(std::iter::once(&0xffu8)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_keys_depend_on_every_part() {
        let a = fnv1a(&[b"abc", b"x"]);
        assert_eq!(a, fnv1a(&[b"abc", b"x"]));
        assert_ne!(a, fnv1a(&[b"ab", b"cx"]));
        assert_ne!(a, fnv1a(&[b"abc", b"y"]));
    }

    #[test]
    fn entry_points_are_read_from_the_source_text() {
        let src = "extern \"C\" __global__ void a_f32(int n) {}\n\
                   extern \"C\" __global__ void a_f64(int n) {}\n\
                   #define E(T, SUF) extern \"C\" __global__ void b_##SUF(T x) {}\n\
                   __device__ void helper_f32() {}";
        let found = super::super::entries::entry_points(src);
        assert_eq!(found, ["a_f32", "a_f64", "b_f32", "b_f64"]);
        assert_eq!(super::super::entries::bases(&found), ["a", "b"]);
    }

    /// Every entry point a family's `.cu` file defines is in its list (so it is looked up
    /// and checked below), and every listed one is defined, in both element types.
    #[test]
    fn entry_lists_match_the_sources() {
        for src in super::super::all_sources() {
            let defined = super::super::entries::entry_points(src.source);
            let mut listed: Vec<String> = src
                .entries
                .iter()
                .flat_map(|b| [format!("{b}_f32"), format!("{b}_f64")])
                .collect();
            listed.sort();
            assert_eq!(defined, listed, "{}.cu", src.name);
        }
    }

    /// Every `.cu` file of the crate is one of the families: none is left uncompiled.
    #[test]
    fn every_cu_file_is_a_family() {
        fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "cu") {
                    out.push(path.file_stem().unwrap().to_string_lossy().into_owned());
                }
            }
        }
        let mut files = Vec::new();
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        files.sort();
        let mut families: Vec<String> = super::super::all_sources()
            .iter()
            .map(|s| s.name.to_owned())
            .collect();
        families.sort();
        assert_eq!(files, families);
    }

    /// Compiles every family with NVRTC and checks that each entry point is in the PTX.
    /// NVRTC needs no GPU, so this runs wherever `libnvrtc` can be loaded (the GPU machine,
    /// CI with the `nvidia-cuda-nvrtc` wheel on `LD_LIBRARY_PATH`); elsewhere it prints
    /// that it is skipped, and fails if `NVRTC_REQUIRED=1` or `CUDA_REQUIRED=1`.
    #[test]
    fn every_family_compiles_with_nvrtc() {
        use super::super::probe::{is_present, missing_message, CudaLib};
        if !is_present(CudaLib::Nvrtc) {
            crate::Prerequisite::Nvrtc
                .skip("the NVRTC compile check", &missing_message(CudaLib::Nvrtc))
                .unwrap_or_else(|e| panic!("{e}"));
            return;
        }
        for arch in [75, 90] {
            let opts_arch: &'static str = Box::leak(format!("compute_{arch}").into_boxed_str());
            for src in super::super::all_sources() {
                let full = format!("{COMMON}\n{}", src.source);
                let opts = CompileOptions {
                    options: vec![
                        format!("--gpu-architecture={opts_arch}"),
                        "--fmad=false".to_string(),
                        "--std=c++17".to_string(),
                    ],
                    name: Some(format!("{}.cu", src.name)),
                    ..Default::default()
                };
                let ptx = match compile_ptx_with_opts(&full, opts) {
                    Ok(p) => p.to_src(),
                    Err(e) => panic!("{}", describe_compile_error(src.name, e)),
                };
                for base in src.entries {
                    for suffix in ["f32", "f64"] {
                        let entry = format!(".entry {base}_{suffix}(");
                        assert!(
                            ptx.contains(&entry),
                            "{}: no `{entry}` in the PTX",
                            src.name
                        );
                    }
                }
            }
        }
    }
}
