//! Finding, loading and normalising MNIST for a session, and checking the device first.

use std::ffi::OsStr;

use mnist_data::{ensure_downloaded, DataSource, MnistSplits, ENV_VAR};
use tensor::Device;

use crate::CmdResult;

/// Checks that `device` can be used before any data is loaded (so `--device cuda` without a
/// GPU fails at once, with the backend's reason).
pub fn check_device(device: Device) -> CmdResult {
    tensor::backend_for(device)?;
    Ok(())
}

/// The lesson's splits, normalised with the training mean and std.
///
/// `--data sample` is the bundled sample. An explicit directory (from `--data` or
/// `$MNIST_DIR`) must exist and hold the four files; only the default directory
/// (`data/mnist` in the workspace) is filled automatically, from the local copy or the
/// public mirrors, as `cargo xtask download` does.
pub fn load_splits(
    arg: Option<&OsStr>,
) -> Result<(DataSource, MnistSplits), Box<dyn std::error::Error>> {
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
    Ok((source, splits))
}
