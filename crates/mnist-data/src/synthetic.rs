//! Tiny synthetic MNIST-shaped data and deliberate corruptions of it.
//!
//! Meant for tests, here and in other crates: they need no real data, build in
//! microseconds, and each [`Corruption`] produces exactly one kind of [`MnistError`].

use crate::encode::{encode_gz, EncodedFile};
use crate::error::{MnistError, Result};
use crate::file::MnistFile;
use crate::gz::{gunzip, gzip_deterministic};
use crate::idx::{IdxImages, IdxLabels, CLASSES, PIXELS};
use crate::load::MnistIdx;

/// A deterministic data set with `n_train` training and `n_test` test digits. Pixels follow
/// a fixed pattern; labels cycle through `0..=9`.
pub fn synthetic_idx(n_train: usize, n_test: usize) -> Result<MnistIdx> {
    let images = |n: usize, seed: usize| {
        IdxImages::from_pixels(
            (0..n * PIXELS)
                .map(|i| ((i / PIXELS) * 31 + (i % PIXELS) * 7 + seed) as u8)
                .collect(),
        )
    };
    let labels = |n: usize| {
        IdxLabels::from_labels(
            std::path::Path::new("synthetic labels"),
            (0..n).map(|i| (i % CLASSES) as u8).collect(),
        )
    };
    Ok(MnistIdx {
        train_images: images(n_train, 0)?,
        train_labels: labels(n_train)?,
        test_images: images(n_test, 3)?,
        test_labels: labels(n_test)?,
    })
}

/// One way to damage a file, and the error it must cause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corruption {
    /// The image data lacks its last byte.
    Truncated,
    /// A label file's magic number is 2050.
    BadMagic,
    /// Test images declared 27x28.
    WrongDimensions,
    /// The training labels lack their last label (header adjusted to match).
    CountMismatch,
    /// A test label is 10.
    LabelOutOfRange,
    /// The gzip CRC of the test images is wrong.
    BadGzip,
    /// One training pixel differs: the file is well formed but its checksum is wrong.
    ChecksumMismatch,
}

impl Corruption {
    /// Every corruption.
    pub const ALL: [Corruption; 7] = [
        Corruption::Truncated,
        Corruption::BadMagic,
        Corruption::WrongDimensions,
        Corruption::CountMismatch,
        Corruption::LabelOutOfRange,
        Corruption::BadGzip,
        Corruption::ChecksumMismatch,
    ];

    /// The file this corruption damages (which the error must name).
    pub fn target(self) -> MnistFile {
        match self {
            Corruption::Truncated | Corruption::ChecksumMismatch => MnistFile::TrainImages,
            Corruption::CountMismatch => MnistFile::TrainLabels,
            Corruption::WrongDimensions | Corruption::BadGzip => MnistFile::TestImages,
            Corruption::BadMagic | Corruption::LabelOutOfRange => MnistFile::TestLabels,
        }
    }

    /// Whether `error` is the variant this corruption must cause.
    pub fn matches(self, error: &MnistError) -> bool {
        matches!(
            (self, error),
            (Corruption::Truncated, MnistError::Truncated { .. })
                | (Corruption::BadMagic, MnistError::BadMagic { .. })
                | (
                    Corruption::WrongDimensions,
                    MnistError::WrongDimensions { .. }
                )
                | (Corruption::CountMismatch, MnistError::CountMismatch { .. })
                | (
                    Corruption::LabelOutOfRange,
                    MnistError::LabelOutOfRange { .. }
                )
                | (Corruption::BadGzip, MnistError::BadGzip { .. })
                | (
                    Corruption::ChecksumMismatch,
                    MnistError::ChecksumMismatch { .. }
                )
        )
    }

    /// Damages the target among `files` (as produced by [`encode_gz`]).
    pub fn apply(self, files: &mut [EncodedFile; 4]) -> Result<()> {
        let target = &mut files[self.target().index()];
        if self == Corruption::BadGzip {
            // The CRC-32 is the first word of the 8-byte trailer.
            let at = target.gz.len().saturating_sub(8);
            if let Some(byte) = target.gz.get_mut(at) {
                *byte ^= 0xff;
            }
            return Ok(());
        }
        let name = std::path::Path::new(target.file.gz_name());
        let mut content = gunzip(name, &target.gz)?;
        let len = content.len();
        match self {
            Corruption::Truncated => {
                content.pop();
            }
            Corruption::BadMagic => set(&mut content, 3, 0x02)?,
            Corruption::WrongDimensions => set(&mut content, 11, 27)?,
            Corruption::CountMismatch => {
                // Drop the last label and declare one fewer: a well-formed, shorter file.
                let labels_left = len.checked_sub(9).ok_or_else(|| too_small(len))?;
                content.truncate(len - 1);
                content[4..8].copy_from_slice(&(labels_left as u32).to_be_bytes());
            }
            Corruption::LabelOutOfRange => set(&mut content, 8, 10)?,
            Corruption::ChecksumMismatch => {
                // The last pixel: past the 16-byte header, so the file stays well formed.
                let last = len.checked_sub(17).ok_or_else(|| too_small(len))? + 16;
                content[last] ^= 0xff;
            }
            Corruption::BadGzip => {}
        }
        target.gz = gzip_deterministic(&content).map_err(|e| MnistError::io(name, e))?;
        Ok(())
    }
}

/// Sets `content[at]`, or explains that the file is too small to corrupt this way.
fn set(content: &mut [u8], at: usize, value: u8) -> Result<()> {
    let len = content.len();
    let byte = content.get_mut(at).ok_or_else(|| too_small(len))?;
    *byte = value;
    Ok(())
}

fn too_small(len: usize) -> MnistError {
    MnistError::InvalidConfig {
        detail: format!("a {len}-byte file is too small for this corruption"),
    }
}

/// The good encoded files of a synthetic set with `n_train` and `n_test` digits.
pub fn synthetic_files(n_train: usize, n_test: usize) -> Result<[EncodedFile; 4]> {
    encode_gz(&synthetic_idx(n_train, n_test)?)
}
