//! MNIST for the fast.ai 2019 BatchNorm lesson: reading, validating, verifying, downloading,
//! and splitting the data the way the lesson does.
//!
//! * [`DataSource`] picks the data: the bundled [`sample`] or a directory, resolved from
//!   `--data`, `$MNIST_DIR` or `data/mnist` in the workspace.
//! * [`DataSource::load`] reads the four IDX files (gzip or raw), validates their structure
//!   (magic, 28x28, lengths, matching counts, labels `0..=9`) and verifies checksums, with a
//!   typed [`MnistError`] naming the file for each kind of problem.
//! * [`MnistSplits`] holds train (first 50,000), valid (last 10,000 of the training file) and
//!   test (t10k) as `f32` pixels in `[0, 1]`; [`MnistSplits::normalize`] applies the training
//!   mean and std (about 0.1307 and 0.3081) to all three.
//! * [`ensure_downloaded`] fills a directory from local or HTTP mirrors, atomically and
//!   verified.
//!
//! ```
//! use mnist_data::{DataSource, MnistSplits};
//!
//! let mut splits = MnistSplits::load(&DataSource::Sample)?;
//! let stats = splits.normalize()?;
//! println!("{} training digits, mean {:.4}", splits.train.len(), stats.mean);
//! assert_eq!(splits.train.len(), 1000); // the committed sample's training rows
//! # Ok::<(), mnist_data::MnistError>(())
//! ```

mod checksum;
mod digest;
mod download;
mod encode;
mod error;
mod file;
mod gz;
mod idx;
mod load;
pub mod sample;
mod source;
mod spec;
mod split;
mod stats;
pub mod synthetic;

pub use checksum::{verify_content, verify_stored, Verified};
pub use digest::{md5_hex, sha256_hex};
pub use download::{
    default_mirrors, ensure_downloaded, ensure_downloaded_with, url_for, DownloadConfig,
    FileReport, FileStatus, Mirror, HTTP_MIRRORS,
};
pub use encode::{encode_gz, specs_for, write_gz_files, EncodedFile};
pub use error::{MnistError, Result, SourceFailure};
pub use file::{IdxKind, MnistFile};
pub use gz::{gzip_deterministic, is_gzip};
pub use idx::{
    encode_images, encode_labels, parse_images, parse_labels, IdxImages, IdxLabels, CLASSES, COLS,
    PIXELS, ROWS,
};
pub use load::{load_dir, load_stored, locate, read_dir, FileCheck, Loaded, MnistIdx, StoredFile};
pub use source::{
    default_data_dir, real_data_dir, real_data_dir_or_skip, shared_data_dir, workspace_root,
    DataSource, ENV_VAR, SAMPLE_KEYWORD,
};
pub use spec::{FileSpec, FileSpecs};
pub use split::{lesson_valid_len, MnistSplits, Split};
pub use stats::PixelStats;

/// Decompresses `bytes` if they are gzip; `path` names the file in errors.
pub fn decode_stored(path: &std::path::Path, bytes: Vec<u8>) -> Result<Vec<u8>> {
    gz::decode(path, bytes)
}
