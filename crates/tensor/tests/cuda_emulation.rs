//! The CUDA kernels' logic, run on the CPU: every `.cu` file of the crate is compiled as
//! C++ against `cuda_emulation/emu.h` (blocks of fibers with `__syncthreads`, warp
//! shuffles and `__shared__` emulated) and `cuda_emulation/test.cpp` launches every entry
//! point in `f32` and `f64` with the production block size (256) and grids of one or more
//! blocks, comparing each result with a reference computed directly on the CPU.
//!
//! Needs a C++17 compiler (`$CXX`, else `c++`, `g++` or `clang++`), no GPU and no CUDA.
//! Without one the test prints why it is skipped, and fails if `CXX_REQUIRED=1`. It fails
//! on any mismatch, on a deadlock (a barrier some thread never reaches), and when an entry
//! point defined in a `.cu` file is never launched.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tensor::Prerequisite;

#[allow(dead_code)] // shared with the crate's own tests, which also use `bases`
#[path = "../src/cuda/entries.rs"]
mod entries;

/// Longer than the harness ever needs (about 10 s on two busy cores); only for hangs.
const RUN_LIMIT: Duration = Duration::from_secs(900);

const CHECK: &str = "the CUDA-emulation kernel test";

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.cu` file under `dir`, sorted.
fn cu_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read the source tree") {
            let path = entry.expect("read a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "cu") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// A compiler that builds a C++17 program using what emu.h needs (ucontext and setjmp),
/// or why there is none.
fn find_compiler(work: &Path) -> Result<String, String> {
    let candidates: Vec<String> = match std::env::var("CXX") {
        Ok(cxx) if !cxx.is_empty() => vec![cxx],
        _ => ["c++", "g++", "clang++"].map(String::from).to_vec(),
    };
    let probe = work.join("probe.cpp");
    std::fs::write(
        &probe,
        "#include <csetjmp>\n#include <ucontext.h>\n#include <algorithm>\n\
         int main() { ucontext_t u; jmp_buf j; (void)j; return getcontext(&u) != 0 || std::clamp(1, 0, 2) != 1; }\n",
    )
    .expect("write the probe");
    let mut tried = Vec::new();
    for cxx in &candidates {
        let out = Command::new(cxx)
            .args(["-std=c++17", "-o"])
            .arg(work.join("probe"))
            .arg(&probe)
            .output();
        match out {
            Ok(o) if o.status.success() => return Ok(cxx.clone()),
            Ok(o) => tried.push(format!(
                "{cxx} cannot build a C++17 program with <ucontext.h>: {}",
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .next()
                    .unwrap_or("")
            )),
            Err(e) => tried.push(format!("{cxx}: {e}")),
        }
    }
    Err(format!("no usable C++ compiler ({})", tried.join("; ")))
}

/// all_kernels.h: emu.h, then common.cuh and every `.cu` file, as NVRTC sees them.
fn write_kernel_header(work: &Path, sources: &[PathBuf]) {
    let here = crate_dir().join("tests").join("cuda_emulation");
    let common = crate_dir().join("src").join("cuda").join("common.cuh");
    let mut text = String::new();
    for path in [here.join("emu.h"), common].iter().chain(sources) {
        text.push_str(&format!("#include \"{}\"\n", path.display()));
    }
    std::fs::write(work.join("all_kernels.h"), text).expect("write all_kernels.h");
}

/// Runs `cmd` to completion or until `limit`, returning (success, stdout + stderr).
fn run_with_limit(cmd: &mut Command, limit: Duration, log: &Path) -> (bool, String) {
    let file = std::fs::File::create(log).expect("create the log");
    let err = file.try_clone().expect("clone the log handle");
    let mut child = cmd
        .stdout(Stdio::from(file))
        .stderr(Stdio::from(err))
        .spawn()
        .expect("start the emulation binary");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the emulation binary") {
            break Some(status);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = std::fs::read_to_string(log).unwrap_or_default();
    match status {
        Some(s) => (s.success(), text),
        None => (false, format!("{text}\nkilled after {limit:?}")),
    }
}

#[test]
fn every_kernel_entry_matches_its_cpu_reference_under_emulation() {
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cuda_emulation");
    std::fs::create_dir_all(&work).expect("create the work directory");
    let cxx = match find_compiler(&work) {
        Ok(cxx) => cxx,
        Err(reason) => {
            Prerequisite::Cxx
                .skip(CHECK, &reason)
                .unwrap_or_else(|e| panic!("{e}"));
            return;
        }
    };

    let sources = cu_files(&crate_dir().join("src"));
    assert!(sources.len() >= 8, "found only {sources:?}");
    write_kernel_header(&work, &sources);
    let started = Instant::now();
    let binary = work.join("emulated");
    let here = crate_dir().join("tests").join("cuda_emulation");
    let out = Command::new(&cxx)
        .args(["-std=c++17", "-O1", "-ffp-contract=off", "-Wall"])
        .args(["-Wno-unknown-pragmas", "-Wno-unused-function"])
        .arg("-I")
        .arg(&work)
        .arg(here.join("test.cpp"))
        .arg("-o")
        .arg(&binary)
        .output()
        .expect("run the C++ compiler");
    assert!(
        out.status.success(),
        "{cxx} failed to build the emulation:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let compiled = started.elapsed();

    let (ok, log) = run_with_limit(&mut Command::new(&binary), RUN_LIMIT, &work.join("log.txt"));
    let report: String = log
        .lines()
        .filter(|l| !l.starts_with("launched "))
        .map(|l| format!("{l}\n"))
        .collect();
    println!(
        "{report}built with {cxx} in {compiled:.1?}, ran in {:.1?}",
        started.elapsed() - compiled
    );
    assert!(
        ok,
        "the emulated kernels disagree with their references:\n{report}"
    );

    // Every entry point of every .cu file was launched, and nothing else.
    let defined: BTreeSet<String> = sources
        .iter()
        .flat_map(|p| entries::entry_points(&std::fs::read_to_string(p).expect("read a .cu file")))
        .collect();
    let launched: BTreeSet<String> = log
        .lines()
        .filter_map(|l| l.strip_prefix("launched "))
        .map(str::to_owned)
        .collect();
    let never: Vec<&String> = defined.difference(&launched).collect();
    assert!(
        never.is_empty(),
        "entry points never launched by the emulation: {never:?}"
    );
    let unknown: Vec<&String> = launched.difference(&defined).collect();
    assert!(
        unknown.is_empty(),
        "launched but not found in any .cu file: {unknown:?}"
    );
    assert!(
        defined.len() >= 60,
        "only {} entry points found",
        defined.len()
    );
}
