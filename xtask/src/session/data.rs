//! Finding, loading and normalising MNIST for a session, and checking the device first.

use std::ffi::OsStr;

use std::path::Path;

use mnist_data::{ensure_downloaded, DataSource, MnistSplits, Split, CLASSES, ENV_VAR};
use tensor::Device;

use crate::CmdResult;

/// Checks that `device` can be used before any data is loaded (so `--device cuda` without a
/// GPU fails at once, with the backend's reason).
pub fn check_device(device: Device) -> CmdResult {
    tensor::backend_for(device)?;
    Ok(())
}

/// Runs `f` (a fit) the way training on `device` runs best: on the CPU with the other
/// CPU workers spinning between kernels instead of sleeping ([`tensor::with_busy_workers`]);
/// on CUDA, whose kernels do not use the CPU pool, as is.
pub fn fit_on<R>(device: Device, f: impl FnOnce() -> R) -> R {
    match device {
        Device::Cpu => tensor::with_busy_workers(f),
        _ => f(),
    }
}

/// The lesson's splits, normalised with the training mean and std.
///
/// `--data sample` is the bundled sample. An explicit directory (from `--data` or
/// `$MNIST_DIR`) must exist and hold the four files; only the default directory
/// (`data/mnist` in the workspace) is filled automatically, from the local copy or the
/// public mirrors, as `cargo xtask download` does. A `--data` path ending in `.npz` is an
/// archive of `x_train, y_train, x_valid, y_valid` (see [`load_npz_splits`]).
///
/// Returns a description of where the data came from, and the splits.
pub fn load_splits(
    arg: Option<&OsStr>,
) -> Result<(String, MnistSplits), Box<dyn std::error::Error>> {
    if let Some(path) = arg.map(Path::new).filter(|p| is_npz(p)) {
        let mut splits = load_npz_splits(path)?;
        splits.normalize()?;
        return Ok((path.display().to_string(), splits));
    }
    let explicit = arg.is_some() || std::env::var_os(ENV_VAR).is_some_and(|v| !v.is_empty());
    let source = DataSource::resolve(arg);
    if let DataSource::Dir(dir) = &source {
        if explicit && !dir.is_dir() {
            return Err(format!(
                "data directory {} does not exist (use --data sample, or fetch it with `cargo xtask download --data {}`)",
                dir.display(),
                dir.display()
            )
            .into());
        }
        if !explicit {
            ensure_downloaded(dir)?;
        }
    }
    let mut splits = MnistSplits::load(&source)?;
    splits.normalize()?;
    Ok((source.to_string(), splits))
}

fn is_npz(p: &Path) -> bool {
    p.extension().is_some_and(|e| e.eq_ignore_ascii_case("npz"))
}

/// The lesson's training and validation splits from an `.npz` holding `x_train, y_train,
/// x_valid, y_valid` (images `[N, 784]`, `[N, 28, 28]` or `[N, 1, 28, 28]`, float in
/// `[0, 1]` or uint8 0-255; labels integers 0-9), checked by
/// [`learner::data::arrays::load_image_npz`]. The test split is empty.
pub fn load_npz_splits(path: &Path) -> Result<MnistSplits, Box<dyn std::error::Error>> {
    let (train, valid) = learner::data::arrays::load_image_npz(path, CLASSES)?;
    let to_split = |s: learner::data::arrays::ImageSplit| Split {
        images: s.images.iter().copied().collect(),
        // Checked to be below CLASSES (10) above.
        labels: s.labels.iter().map(|&c| c as u8).collect(),
    };
    Ok(MnistSplits {
        train: to_split(train),
        valid: to_split(valid),
        test: Split {
            images: Vec::new(),
            labels: Vec::new(),
        },
    })
}
