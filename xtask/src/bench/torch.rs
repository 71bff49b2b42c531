//! [`TorchWorker`]: the PyTorch side of the benchmark, a Python process running
//! `benches/torch/lesson_step.py` as a server (one JSON request and answer per line).

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{json, Value};

/// The script, kept in the repository.
pub fn script_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../benches/torch/lesson_step.py")
}

/// A running PyTorch server.
pub struct TorchWorker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// `torch X, N threads, capability C`, from the server's greeting.
    pub describe: String,
}

/// One timing request: `warmup` untimed then `steps` timed training steps.
#[derive(Clone, Copy, Debug)]
pub struct StepRequest<'a> {
    /// `"batch"` (BatchNorm2d) or `"running"` (RunningBatchNorm).
    pub norm: &'a str,
    /// Batch size.
    pub bs: usize,
    /// Untimed steps first.
    pub warmup: usize,
    /// Timed steps.
    pub steps: usize,
    /// One-cycle `(lo, hi, end)`.
    pub sched: (f64, f64, f64),
}

impl TorchWorker {
    /// Starts `python script --data DIR --threads N --train-len L` and reads its greeting;
    /// the error says why PyTorch is not usable (no such Python, no torch, bad data).
    pub fn start(
        python: &OsStr,
        data: &Path,
        threads: usize,
        train_len: usize,
    ) -> Result<Self, String> {
        let script = script_path();
        let mut child = Command::new(python)
            .arg(&script)
            .arg("--data")
            .arg(data)
            .arg("--threads")
            .arg(threads.to_string())
            .arg("--train-len")
            .arg(train_len.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", python.to_string_lossy()))?;
        let stdin = child.stdin.take().ok_or("no stdin pipe")?;
        let stdout = BufReader::new(child.stdout.take().ok_or("no stdout pipe")?);
        let mut w = TorchWorker {
            child,
            stdin,
            stdout,
            describe: String::new(),
        };
        let hello = match w.read_line() {
            Ok(v) => v,
            Err(e) => {
                let _ = w.child.kill();
                let mut err = String::new();
                if let Some(mut s) = w.child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut s, &mut err);
                }
                let last = err.lines().last().unwrap_or("").to_string();
                return Err(format!("{e} ({last})"));
            }
        };
        w.describe = format!(
            "torch {}, {} threads, CPU capability {}",
            hello["torch"].as_str().unwrap_or("?"),
            hello["threads"],
            hello["capability"].as_str().unwrap_or("?")
        );
        Ok(w)
    }

    fn read_line(&mut self) -> Result<Value, String> {
        let mut line = String::new();
        let n = self
            .stdout
            .read_line(&mut line)
            .map_err(|e| format!("reading from the PyTorch script: {e}"))?;
        if n == 0 {
            return Err("the PyTorch script exited".to_string());
        }
        serde_json::from_str(&line).map_err(|e| format!("bad answer from the PyTorch script: {e}"))
    }

    /// Seconds over the timed steps of one request.
    pub fn time(&mut self, r: &StepRequest<'_>) -> Result<f64, String> {
        let req = json!({
            "norm": r.norm, "bs": r.bs, "warmup": r.warmup, "steps": r.steps,
            "sched": [r.sched.0, r.sched.1, r.sched.2], "seed": 0,
        });
        writeln!(self.stdin, "{req}").map_err(|e| format!("writing to the PyTorch script: {e}"))?;
        self.stdin
            .flush()
            .map_err(|e| format!("writing to the PyTorch script: {e}"))?;
        let a = self.read_line()?;
        if let Some(e) = a["error"].as_str() {
            return Err(e.to_string());
        }
        a["seconds"]
            .as_f64()
            .ok_or_else(|| format!("no `seconds` in {a}"))
    }
}

impl Drop for TorchWorker {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "{{\"quit\": true}}");
        let _ = self.stdin.flush();
        let _ = self.child.wait();
    }
}
