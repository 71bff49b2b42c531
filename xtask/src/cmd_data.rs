//! Data commands: `download`, `data-info` and `make-sample`.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use mnist_data::sample::{build_sample, sample_dir, sample_specs};
use mnist_data::{
    encode_gz, ensure_downloaded, load_dir, shared_data_dir, write_gz_files, DataSource, FileSpecs,
    FileStatus, MnistError, MnistSplits, Split,
};

use crate::CmdResult;

/// Where the data is.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// Data directory, or `sample` for the bundled sample [default: $MNIST_DIR, else
    /// data/mnist in the workspace root].
    #[arg(long, value_name = "DIR")]
    pub data: Option<OsString>,
}

/// Arguments of `make-sample`.
#[derive(Debug, Args)]
pub struct MakeSampleArgs {
    /// Directory holding the real MNIST files [default: ../shared/data/mnist when present,
    /// else as for `--data`].
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
    /// Where to write the sample [default: crates/mnist-data/sample].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// `download`: verifies the data directory and fetches missing or bad files.
pub fn download(args: &DataArgs) -> CmdResult {
    let mut out = std::io::stdout().lock();
    let dir = match DataSource::resolve(args.data.as_deref()) {
        DataSource::Sample => {
            DataSource::Sample.load()?;
            writeln!(
                out,
                "the bundled sample is compiled in and verified; nothing to download"
            )?;
            return Ok(());
        }
        DataSource::Dir(dir) => dir,
    };
    writeln!(out, "data directory: {}", dir.display())?;
    for report in ensure_downloaded(&dir)? {
        for failure in &report.failures {
            writeln!(out, "  note: {failure}")?;
        }
        let how = match &report.status {
            FileStatus::Present => "already present".to_owned(),
            FileStatus::Fetched { from } => format!("fetched from {from}"),
        };
        writeln!(out, "{}: {how}, {}", report.file, report.verified)?;
    }
    Ok(())
}

/// `data-info`: validates and verifies the data, then prints per-file and per-split facts.
pub fn data_info(args: &DataArgs) -> CmdResult {
    let source = DataSource::resolve(args.data.as_deref());
    let loaded = source.load()?;
    let splits = MnistSplits::from_idx(&loaded.idx)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "source: {source}")?;
    writeln!(
        out,
        "{:<28} {:>10}  {:<5} checksum",
        "file", "bytes", "form"
    )?;
    for check in &loaded.checks {
        let name = check
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let form = if check.gzip { "gzip" } else { "raw" };
        writeln!(
            out,
            "{name:<28} {:>10}  {form:<5} {}",
            check.stored_len, check.verified
        )?;
    }
    writeln!(
        out,
        "{:<6} {:>7} {:>8} {:>8}",
        "split", "count", "mean", "std"
    )?;
    for (name, split) in [
        ("train", &splits.train),
        ("valid", &splits.valid),
        ("test", &splits.test),
    ] {
        writeln!(out, "{name:<6} {:>7} {}", split.len(), stats_columns(split))?;
    }
    if let Ok(stats) = splits.train_stats() {
        writeln!(
            out,
            "normalisation (from train): x = (x - {:.4}) / {:.4}",
            stats.mean, stats.std
        )?;
    }
    Ok(())
}

/// `mean std` of a split, or dashes when it is too small.
fn stats_columns(split: &Split) -> String {
    match split.pixel_stats() {
        Ok(s) => format!("{:>8.4} {:>8.4}", s.mean, s.std),
        Err(_) => format!("{:>8} {:>8}", "-", "-"),
    }
}

/// `make-sample`: rebuilds the bundled sample from the real files, deterministically.
pub fn make_sample(args: &MakeSampleArgs) -> CmdResult {
    let from = match &args.from {
        Some(dir) => dir.clone(),
        None if shared_data_dir().is_dir() => shared_data_dir(),
        None => match DataSource::resolve(None) {
            DataSource::Dir(dir) => dir,
            DataSource::Sample => {
                return Err(MnistError::InvalidConfig {
                    detail: "the sample cannot be built from itself; pass --from DIR".to_owned(),
                }
                .into())
            }
        },
    };
    let out_dir = args.out.clone().unwrap_or_else(sample_dir);
    let full = load_dir(&from, &FileSpecs::official())?;
    let files = encode_gz(&build_sample(&full.idx)?)?;
    write_gz_files(&out_dir, &files)?;
    let committed = sample_specs();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "sample from {} into {}",
        from.display(),
        out_dir.display()
    )?;
    for f in &files {
        let md5 = &f.content_md5;
        let same = committed.get(f.file).content_md5.as_ref() == Some(md5);
        let note = if same {
            "matches the committed sample"
        } else {
            "differs: update SAMPLE_MD5S in crates/mnist-data/src/sample.rs"
        };
        writeln!(
            out,
            "{}: {} bytes, content MD5 {md5} ({note})",
            f.file,
            f.gz.len()
        )?;
    }
    Ok(())
}
