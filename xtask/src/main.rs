//! Project tasks, run as `cargo xtask <command>` (an alias for
//! `cargo run --release --package xtask --`).
//!
//! Each command group lives in its own `cmd_*` module; to add one, add a variant to
//! [`Command`] and a line to [`run`].

mod bench;
mod bench_timer;
mod cmd_bench;
mod cmd_data;
mod cmd_lesson;
mod cmd_train;
mod lesson_table;
mod session;
mod study;
mod study_ranks;

use std::process::ExitCode;

/// mimalloc keeps freed tensor buffers for reuse: the training step allocates the same
/// sizes every batch, and the system allocator would return large blocks to the kernel
/// and page-fault them back in on every step.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};

/// What a command returns: any error is printed as one line and exits non-zero.
pub type CmdResult = Result<(), Box<dyn std::error::Error>>;

/// Project tasks for the MNIST BatchNorm lesson.
#[derive(Debug, Parser)]
#[command(name = "xtask", about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The available commands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Fetch and verify the four MNIST files (local mirror first, then the public mirrors).
    Download(cmd_data::DataArgs),
    /// Check the data's files and print each split's size and pixel statistics.
    DataInfo(cmd_data::DataArgs),
    /// Rebuild the bundled sample (crates/mnist-data/sample) from the real files.
    MakeSample(cmd_data::MakeSampleArgs),
    /// Train the lesson's CNN and write a report (metrics.jsonl, plots, checkpoint).
    Train(cmd_train::TrainArgs),
    /// Run the lesson's table of runs and write docs/results.md.
    Lesson(cmd_lesson::LessonArgs),
    /// Seconds per training epoch beside PyTorch's, measured in the same run.
    Bench(cmd_bench::BenchArgs),
}

/// Runs one command.
fn run(command: Command) -> CmdResult {
    // The CPU kernels' pool, with this thread (the one that trains) as worker 0.
    let threads = match &command {
        Command::Bench(args) => Some(args.threads).filter(|&n| n > 0),
        _ => None,
    };
    tensor::init_cpu_threads(threads)?;
    match command {
        Command::Download(args) => cmd_data::download(&args),
        Command::DataInfo(args) => cmd_data::data_info(&args),
        Command::MakeSample(args) => cmd_data::make_sample(&args),
        Command::Train(args) => cmd_train::train(&args),
        Command::Lesson(args) => cmd_lesson::lesson(&args),
        Command::Bench(args) => cmd_bench::bench(&args),
    }
}

/// Parses the command line. `--help` and `--version` print as usual; a usage error (an
/// unknown flag, a value that does not parse) is reported as its one first line, with
/// clap's exit status 2, so that every failure is a single line on stderr.
fn parse() -> Result<Cli, ExitCode> {
    Cli::try_parse().map_err(|e| {
        if !e.use_stderr() {
            e.exit();
        }
        let text = e.to_string();
        let first = text
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("error: invalid arguments");
        eprintln!("{first}");
        ExitCode::from(2)
    })
}

/// mimalloc's `mi_option_purge_delay` (its position in `mi_option_t`, the same in the v2 and
/// v3 headers the crate builds).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Tells mimalloc never to hand freed pages back to the kernel. By default it purges memory
/// that stayed free for 10 ms, and a bs-512 step frees and reallocates ~100 MB of
/// activations over ~20 ms: every step then page-faulted (and the kernel zeroed) them again.
/// Measured interleaved, `MIMALLOC_PURGE_DELAY=-1` against the default, three rounds each:
/// bs 512 25.8-30.6 vs 35.6-42.7 ms per step. Memory stays at the run's peak, as with
/// PyTorch's caching allocators. An explicit `MIMALLOC_PURGE_DELAY` wins, and nothing is
/// set unless the option reads as its documented default (10), which guards the index.
fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: reads and sets one integer option of the allocator this binary links;
    // mimalloc reads it on each purge decision, and it may be set at any time.
    unsafe {
        if libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) == 10 {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
        }
    }
}

fn main() -> ExitCode {
    keep_freed_memory();
    let cli = match parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let message = error.to_string().replace(['\n', '\r'], " ");
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn data_commands_parse() {
        let cli = Cli::try_parse_from(["xtask", "data-info", "--data", "sample"]).unwrap();
        assert!(
            matches!(&cli.command, Command::DataInfo(a) if a.data.as_deref() == Some("sample".as_ref()))
        );
        let cli = Cli::try_parse_from(["xtask", "download"]).unwrap();
        assert!(matches!(&cli.command, Command::Download(a) if a.data.is_none()));
        assert!(Cli::try_parse_from(["xtask", "no-such-command"]).is_err());
    }
}
