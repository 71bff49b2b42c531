//! Reading the four files from a directory (or memory), validating and verifying them.
//!
//! Validation runs in a fixed order so that the most specific problem is reported: each
//! file is decompressed and parsed (bad gzip, truncation, magic, dimensions, labels), then
//! image and label counts are compared, and only then are checksums checked.

use std::fs;
use std::path::{Path, PathBuf};

use crate::checksum::{verify_content_md5, Verified};
use crate::digest::md5_hex;
use crate::error::{MnistError, Result};
use crate::file::MnistFile;
use crate::gz;
use crate::idx::{parse_images, parse_labels, IdxImages, IdxLabels};
use crate::spec::FileSpecs;

/// One file's bytes as stored (gzip or raw), with the path that names it in errors.
#[derive(Clone, Debug)]
pub struct StoredFile {
    /// Which file this is.
    pub file: MnistFile,
    /// Where it came from.
    pub path: PathBuf,
    /// Its bytes, compressed or not.
    pub bytes: Vec<u8>,
}

/// The four files, parsed and validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MnistIdx {
    /// Training images (60,000 for real MNIST).
    pub train_images: IdxImages,
    /// Training labels, as many as the images.
    pub train_labels: IdxLabels,
    /// Test images (10,000 for real MNIST).
    pub test_images: IdxImages,
    /// Test labels, as many as the images.
    pub test_labels: IdxLabels,
}

/// What was found and checked for one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileCheck {
    /// Which file.
    pub file: MnistFile,
    /// Where it was read from.
    pub path: PathBuf,
    /// Bytes as stored.
    pub stored_len: u64,
    /// Whether it was gzip.
    pub gzip: bool,
    /// MD5 of the uncompressed content.
    pub content_md5: String,
    /// How its checksum was accepted.
    pub verified: Verified,
}

/// Validated data plus the per-file report.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The data.
    pub idx: MnistIdx,
    /// One entry per file, in [`MnistFile::ALL`] order.
    pub checks: Vec<FileCheck>,
}

/// Where `file` lives in `dir`: the `.gz` name if present, else the raw name.
pub fn locate(dir: &Path, file: MnistFile) -> Option<PathBuf> {
    [file.gz_name(), file.raw_name()]
        .into_iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
}

/// Reads the four files from `dir`, reporting all missing ones at once.
pub fn read_dir(dir: &Path) -> Result<[StoredFile; 4]> {
    let located = MnistFile::ALL.map(|file| locate(dir, file).map(|path| (file, path)));
    let read = |(file, path): (MnistFile, PathBuf)| -> Result<StoredFile> {
        let bytes = fs::read(&path).map_err(|e| MnistError::io(&path, e))?;
        Ok(StoredFile { file, path, bytes })
    };
    match located {
        [Some(a), Some(b), Some(c), Some(d)] => Ok([read(a)?, read(b)?, read(c)?, read(d)?]),
        partial => Err(MnistError::MissingFiles {
            dir: dir.to_path_buf(),
            missing: MnistFile::ALL
                .into_iter()
                .zip(partial)
                .filter(|(_, found)| found.is_none())
                .map(|(file, _)| file)
                .collect(),
        }),
    }
}

/// Reads, validates and verifies the four files in `dir` against `specs`.
pub fn load_dir(dir: &Path, specs: &FileSpecs) -> Result<Loaded> {
    load_stored(read_dir(dir)?, specs)
}

/// Validates and verifies four stored files (in any order, each present once).
pub fn load_stored(files: [StoredFile; 4], specs: &FileSpecs) -> Result<Loaded> {
    let [train_images, train_labels, test_images, test_labels] = in_order(files)?;
    let (train_images_meta, train_images) = decode(train_images)?;
    let train_images = parse_images(&train_images_meta.check.path, train_images)?;
    let (train_labels_meta, train_labels) = decode(train_labels)?;
    let train_labels = parse_labels(&train_labels_meta.check.path, train_labels)?;
    let (test_images_meta, test_images) = decode(test_images)?;
    let test_images = parse_images(&test_images_meta.check.path, test_images)?;
    let (test_labels_meta, test_labels) = decode(test_labels)?;
    let test_labels = parse_labels(&test_labels_meta.check.path, test_labels)?;

    check_counts(
        &train_images_meta,
        &train_images,
        &train_labels_meta,
        &train_labels,
    )?;
    check_counts(
        &test_images_meta,
        &test_images,
        &test_labels_meta,
        &test_labels,
    )?;

    let checks = [
        train_images_meta,
        train_labels_meta,
        test_images_meta,
        test_labels_meta,
    ]
    .into_iter()
    .map(|meta| meta.verify(specs))
    .collect::<Result<Vec<_>>>()?;

    Ok(Loaded {
        idx: MnistIdx {
            train_images,
            train_labels,
            test_images,
            test_labels,
        },
        checks,
    })
}

/// Sorts the files into [`MnistFile::ALL`] order, checking each appears exactly once.
fn in_order(mut files: [StoredFile; 4]) -> Result<[StoredFile; 4]> {
    files.sort_by_key(|stored| stored.file.index());
    let complete = files
        .iter()
        .zip(MnistFile::ALL)
        .all(|(stored, file)| stored.file == file);
    if complete {
        Ok(files)
    } else {
        Err(MnistError::InvalidConfig {
            detail: "each of the four MNIST files must be given exactly once".to_owned(),
        })
    }
}

/// A decoded file awaiting its checksum check.
struct Decoded {
    check: FileCheck,
    gz_bytes: Option<Vec<u8>>,
}

impl Decoded {
    /// Checks the file's checksums, returning its completed report.
    fn verify(mut self, specs: &FileSpecs) -> Result<FileCheck> {
        self.check.verified = verify_content_md5(
            &self.check.path,
            specs.get(self.check.file),
            self.gz_bytes.as_deref(),
            &self.check.content_md5,
        )?;
        Ok(self.check)
    }
}

/// Decompresses one file if it is gzip, returning its metadata and content.
fn decode(stored: StoredFile) -> Result<(Decoded, Vec<u8>)> {
    let StoredFile { file, path, bytes } = stored;
    let stored_len = bytes.len() as u64;
    let (gz_bytes, content) = if gz::is_gzip(&bytes) {
        let content = gz::gunzip(&path, &bytes)?;
        (Some(bytes), content)
    } else {
        (None, bytes)
    };
    let check = FileCheck {
        file,
        gzip: gz_bytes.is_some(),
        content_md5: md5_hex(&content),
        path,
        stored_len,
        verified: Verified::Unchecked,
    };
    Ok((Decoded { check, gz_bytes }, content))
}

/// Checks that an image file and its label file hold the same number of digits.
fn check_counts(
    images_meta: &Decoded,
    images: &IdxImages,
    labels_meta: &Decoded,
    labels: &IdxLabels,
) -> Result<()> {
    if images.count() == labels.count() {
        return Ok(());
    }
    Err(MnistError::CountMismatch {
        images_path: images_meta.check.path.clone(),
        labels_path: labels_meta.check.path.clone(),
        images: images.count(),
        labels: labels.count(),
    })
}
