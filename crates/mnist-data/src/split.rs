//! The lesson's train / valid / test split as `f32` pixels in `[0, 1]`.
//!
//! As in fast.ai's `mnist.pkl.gz`: *train* is the first five sixths of the standard training
//! file (50,000 digits), *valid* its last sixth (10,000), *test* the t10k file (10,000).
//! The same rule gives the bundled sample 1,000 / 200 / 1,000.

use crate::error::{MnistError, Result};
use crate::idx::{IdxImages, IdxLabels, PIXELS};
use crate::load::MnistIdx;
use crate::source::DataSource;
use crate::stats::PixelStats;

/// One split: `len()` images of [`PIXELS`] `f32` pixels each, with their labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    /// Row-major `len() x 784` pixels, `byte / 255.0` (until normalised).
    pub images: Vec<f32>,
    /// One label in `0..=9` per image.
    pub labels: Vec<u8>,
}

impl Split {
    /// Converts raw bytes to a split. `pixels.len()` must be `labels.len() * 784`.
    pub fn from_bytes(pixels: &[u8], labels: &[u8]) -> Result<Self> {
        if pixels.len() != labels.len() * PIXELS {
            return Err(MnistError::InvalidConfig {
                detail: format!(
                    "{} pixel bytes do not make {} images of {PIXELS} pixels",
                    pixels.len(),
                    labels.len()
                ),
            });
        }
        Ok(Split {
            images: pixels.iter().map(|&b| f32::from(b) / 255.0).collect(),
            labels: labels.to_vec(),
        })
    }

    /// Number of digits.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the split holds no digits.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The pixels of image `i`, if it exists.
    pub fn image(&self, i: usize) -> Option<&[f32]> {
        self.images.get(i * PIXELS..(i + 1) * PIXELS)
    }

    /// Mean and unbiased std of all pixels.
    pub fn pixel_stats(&self) -> Result<PixelStats> {
        PixelStats::of(&self.images)
    }
}

/// The three splits of the lesson.
#[derive(Clone, Debug, PartialEq)]
pub struct MnistSplits {
    /// First 50,000 training digits.
    pub train: Split,
    /// Last 10,000 training digits.
    pub valid: Split,
    /// The 10,000 test digits.
    pub test: Split,
}

/// The size of the validation split for `n_train` training digits: the last sixth
/// (10,000 of 60,000; 200 of the sample's 1,200).
pub fn lesson_valid_len(n_train: usize) -> usize {
    n_train / 6
}

impl MnistSplits {
    /// Loads, validates and verifies `source`, then splits it as the lesson does.
    pub fn load(source: &DataSource) -> Result<Self> {
        Self::from_idx(&source.load()?.idx)
    }

    /// Splits validated data as the lesson does (see [`lesson_valid_len`]).
    pub fn from_idx(idx: &MnistIdx) -> Result<Self> {
        let valid_len = lesson_valid_len(idx.train_images.count());
        Self::with_valid_len(idx, valid_len)
    }

    /// Splits validated data keeping the last `valid_len` training digits for validation.
    pub fn with_valid_len(idx: &MnistIdx, valid_len: usize) -> Result<Self> {
        let n = idx.train_images.count();
        if valid_len > n || n != idx.train_labels.count() {
            return Err(MnistError::InvalidConfig {
                detail: format!(
                    "cannot keep {valid_len} validation digits out of {n} training images and {} labels",
                    idx.train_labels.count()
                ),
            });
        }
        let cut = n - valid_len;
        Ok(MnistSplits {
            train: part(&idx.train_images, &idx.train_labels, 0..cut)?,
            valid: part(&idx.train_images, &idx.train_labels, cut..n)?,
            test: part(
                &idx.test_images,
                &idx.test_labels,
                0..idx.test_labels.count(),
            )?,
        })
    }

    /// Statistics of the training split: the ones the lesson normalises with.
    pub fn train_stats(&self) -> Result<PixelStats> {
        self.train.pixel_stats()
    }

    /// Normalises all three splits with the training split's mean and std, returning them.
    pub fn normalize(&mut self) -> Result<PixelStats> {
        let stats = self.train_stats()?.check_usable()?;
        self.normalize_with(stats)?;
        Ok(stats)
    }

    /// Normalises all three splits with given statistics (e.g. saved from training).
    pub fn normalize_with(&mut self, stats: PixelStats) -> Result<()> {
        let stats = stats.check_usable()?;
        for split in [&mut self.train, &mut self.valid, &mut self.test] {
            stats.normalize(&mut split.images);
        }
        Ok(())
    }
}

/// One contiguous range of digits as a [`Split`].
fn part(images: &IdxImages, labels: &IdxLabels, range: std::ops::Range<usize>) -> Result<Split> {
    let labels = labels.labels().get(range.clone()).unwrap_or_default();
    Split::from_bytes(images.images(range), labels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::synthetic_idx;

    #[test]
    fn split_boundaries_and_pixels() {
        let idx = synthetic_idx(12, 5).unwrap();
        let s = MnistSplits::from_idx(&idx).unwrap();
        assert_eq!((s.train.len(), s.valid.len(), s.test.len()), (10, 2, 5));
        assert_eq!(s.valid.labels, idx.train_labels.labels()[10..]);
        let first_valid = s.valid.image(0).unwrap();
        let expected: Vec<f32> = idx
            .train_images
            .images(10..11)
            .iter()
            .map(|&b| f32::from(b) / 255.0)
            .collect();
        assert_eq!(first_valid, &expected[..]);
        assert!(s.valid.image(2).is_none());
    }

    #[test]
    fn explicit_valid_len_and_its_limits() {
        let idx = synthetic_idx(12, 5).unwrap();
        let s = MnistSplits::with_valid_len(&idx, 0).unwrap();
        assert_eq!((s.train.len(), s.valid.len()), (12, 0));
        assert!(matches!(
            MnistSplits::with_valid_len(&idx, 13),
            Err(MnistError::InvalidConfig { .. })
        ));
    }

    #[test]
    fn normalize_uses_train_stats_for_all_splits() {
        let idx = synthetic_idx(12, 5).unwrap();
        let raw = MnistSplits::from_idx(&idx).unwrap();
        let mut s = raw.clone();
        let stats = s.normalize().unwrap();
        assert_eq!(stats, raw.train_stats().unwrap());
        let x = raw.test.images[7];
        let expected = ((f64::from(x) - stats.mean) / stats.std) as f32;
        assert_eq!(s.test.images[7], expected);
    }

    #[test]
    fn mismatched_bytes_are_an_error() {
        assert!(matches!(
            Split::from_bytes(&[0; PIXELS + 1], &[1]),
            Err(MnistError::InvalidConfig { .. })
        ));
    }
}
