//! The IDX format: parsing with full validation, and encoding.
//!
//! An image file is a 16-byte big-endian header (magic 2051, count, rows, cols) followed by
//! `count * rows * cols` bytes; a label file an 8-byte header (magic 2049, count) followed by
//! `count` bytes. MNIST requires 28x28 images and labels in `0..=9`.

use std::path::Path;

use crate::error::{MnistError, Result};
use crate::file::IdxKind;

/// Image height in pixels.
pub const ROWS: usize = 28;
/// Image width in pixels.
pub const COLS: usize = 28;
/// Pixels per image (28 * 28).
pub const PIXELS: usize = ROWS * COLS;
/// Number of digit classes.
pub const CLASSES: usize = 10;

/// Header length of an image file.
const IMAGES_HEADER: usize = 16;
/// Header length of a label file.
const LABELS_HEADER: usize = 8;

/// Validated images: `count` images of [`PIXELS`] bytes each, row-major, contiguous.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxImages {
    pixels: Vec<u8>,
}

impl IdxImages {
    /// Wraps raw pixels; the length must be a multiple of [`PIXELS`].
    pub fn from_pixels(pixels: Vec<u8>) -> Result<Self> {
        if pixels.len() % PIXELS != 0 {
            return Err(MnistError::InvalidConfig {
                detail: format!(
                    "{} pixel bytes is not a whole number of {PIXELS}-pixel images",
                    pixels.len()
                ),
            });
        }
        Ok(IdxImages { pixels })
    }

    /// Number of images.
    pub fn count(&self) -> usize {
        self.pixels.len() / PIXELS
    }

    /// All pixels, image after image.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// The pixels of images `range` (clamped to what exists).
    pub fn images(&self, range: std::ops::Range<usize>) -> &[u8] {
        let end = range.end.min(self.count());
        let start = range.start.min(end);
        &self.pixels[start * PIXELS..end * PIXELS]
    }
}

/// Validated labels, each in `0..=9`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxLabels {
    labels: Vec<u8>,
}

impl IdxLabels {
    /// Wraps labels after checking each is in `0..=9`; `path` names the origin in errors.
    pub fn from_labels(path: &Path, labels: Vec<u8>) -> Result<Self> {
        if let Some((index, &label)) = labels
            .iter()
            .enumerate()
            .find(|(_, &l)| usize::from(l) >= CLASSES)
        {
            return Err(MnistError::LabelOutOfRange {
                path: path.to_path_buf(),
                index,
                label,
            });
        }
        Ok(IdxLabels { labels })
    }

    /// Number of labels.
    pub fn count(&self) -> usize {
        self.labels.len()
    }

    /// The labels.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }
}

/// Reads the big-endian `u32` at `at` (the caller guarantees the bytes exist).
fn be_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(word)
}

/// Checks the magic number and that the header itself is present.
fn check_header(path: &Path, bytes: &[u8], kind: IdxKind, header: usize) -> Result<()> {
    if bytes.len() < 4 {
        return Err(truncated(path, header as u64, bytes.len()));
    }
    let found = be_u32(bytes, 0);
    if found != kind.magic() {
        return Err(MnistError::BadMagic {
            path: path.to_path_buf(),
            expected: kind.magic(),
            found,
            kind: kind.noun(),
        });
    }
    if bytes.len() < header {
        return Err(truncated(path, header as u64, bytes.len()));
    }
    Ok(())
}

/// Checks that the body has exactly `body` bytes after a `header`-byte header.
fn check_length(path: &Path, actual: usize, header: usize, body: u64) -> Result<()> {
    let expected = header as u64 + body;
    let actual = actual as u64;
    if actual < expected {
        Err(MnistError::Truncated {
            path: path.to_path_buf(),
            expected,
            actual,
        })
    } else if actual > expected {
        Err(MnistError::TrailingBytes {
            path: path.to_path_buf(),
            expected,
            extra: actual - expected,
        })
    } else {
        Ok(())
    }
}

fn truncated(path: &Path, expected: u64, actual: usize) -> MnistError {
    MnistError::Truncated {
        path: path.to_path_buf(),
        expected,
        actual: actual as u64,
    }
}

/// Parses and validates an uncompressed image file. `path` only names it in errors.
pub fn parse_images(path: &Path, mut bytes: Vec<u8>) -> Result<IdxImages> {
    check_header(path, &bytes, IdxKind::Images, IMAGES_HEADER)?;
    let count = be_u32(&bytes, 4);
    let rows = be_u32(&bytes, 8);
    let cols = be_u32(&bytes, 12);
    if rows as usize != ROWS || cols as usize != COLS {
        return Err(MnistError::WrongDimensions {
            path: path.to_path_buf(),
            rows,
            cols,
        });
    }
    check_length(
        path,
        bytes.len(),
        IMAGES_HEADER,
        u64::from(count) * PIXELS as u64,
    )?;
    bytes.drain(..IMAGES_HEADER);
    IdxImages::from_pixels(bytes)
}

/// Parses and validates an uncompressed label file. `path` only names it in errors.
pub fn parse_labels(path: &Path, mut bytes: Vec<u8>) -> Result<IdxLabels> {
    check_header(path, &bytes, IdxKind::Labels, LABELS_HEADER)?;
    let count = be_u32(&bytes, 4);
    check_length(path, bytes.len(), LABELS_HEADER, u64::from(count))?;
    bytes.drain(..LABELS_HEADER);
    IdxLabels::from_labels(path, bytes)
}

/// Encodes images as an uncompressed IDX image file.
pub fn encode_images(images: &IdxImages) -> Result<Vec<u8>> {
    let count = count_u32(images.count())?;
    let mut out = Vec::with_capacity(IMAGES_HEADER + images.pixels.len());
    for word in [IdxKind::Images.magic(), count, ROWS as u32, COLS as u32] {
        out.extend_from_slice(&word.to_be_bytes());
    }
    out.extend_from_slice(&images.pixels);
    Ok(out)
}

/// Encodes labels as an uncompressed IDX label file.
pub fn encode_labels(labels: &IdxLabels) -> Result<Vec<u8>> {
    let count = count_u32(labels.count())?;
    let mut out = Vec::with_capacity(LABELS_HEADER + labels.labels.len());
    for word in [IdxKind::Labels.magic(), count] {
        out.extend_from_slice(&word.to_be_bytes());
    }
    out.extend_from_slice(&labels.labels);
    Ok(out)
}

fn count_u32(count: usize) -> Result<u32> {
    u32::try_from(count).map_err(|_| MnistError::InvalidConfig {
        detail: format!("{count} items do not fit an IDX header"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images(n: usize) -> IdxImages {
        IdxImages::from_pixels((0..n * PIXELS).map(|i| (i % 256) as u8).collect()).unwrap()
    }

    #[test]
    fn round_trip() {
        let imgs = images(3);
        let bytes = encode_images(&imgs).unwrap();
        assert_eq!(bytes.len(), 16 + 3 * PIXELS);
        assert_eq!(parse_images(Path::new("i"), bytes).unwrap(), imgs);

        let labels = IdxLabels::from_labels(Path::new("l"), vec![0, 9, 5]).unwrap();
        let bytes = encode_labels(&labels).unwrap();
        assert_eq!(parse_labels(Path::new("l"), bytes).unwrap(), labels);
    }

    #[test]
    fn truncated_header_and_body() {
        let err = parse_images(Path::new("i"), vec![0, 0]).unwrap_err();
        assert!(matches!(
            err,
            MnistError::Truncated {
                expected: 16,
                actual: 2,
                ..
            }
        ));

        let mut bytes = encode_images(&images(2)).unwrap();
        bytes.pop();
        let err = parse_images(Path::new("i"), bytes).unwrap_err();
        assert!(matches!(err, MnistError::Truncated { .. }), "{err}");
    }

    #[test]
    fn trailing_bytes() {
        let mut bytes =
            encode_labels(&IdxLabels::from_labels(Path::new("l"), vec![1]).unwrap()).unwrap();
        bytes.push(3);
        let err = parse_labels(Path::new("l"), bytes).unwrap_err();
        assert!(
            matches!(err, MnistError::TrailingBytes { extra: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn wrong_kind_is_bad_magic() {
        let bytes = encode_images(&images(1)).unwrap();
        let err = parse_labels(Path::new("l"), bytes).unwrap_err();
        assert!(
            matches!(
                err,
                MnistError::BadMagic {
                    expected: 2049,
                    found: 2051,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn huge_declared_count_is_truncated_not_overflow() {
        let mut bytes = encode_images(&images(1)).unwrap();
        bytes[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        let err = parse_images(Path::new("i"), bytes).unwrap_err();
        assert!(matches!(err, MnistError::Truncated { .. }), "{err}");
    }

    #[test]
    fn image_range_is_clamped() {
        let imgs = images(2);
        assert_eq!(imgs.images(1..5).len(), PIXELS);
        assert!(imgs.images(4..5).is_empty());
    }
}
