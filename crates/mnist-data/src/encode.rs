//! Writing a data set back out as four gzip IDX files.

use std::path::Path;

use crate::digest::md5_hex;
use crate::error::{MnistError, Result};
use crate::file::MnistFile;
use crate::gz::gzip_deterministic;
use crate::idx::{encode_images, encode_labels};
use crate::load::MnistIdx;
use crate::spec::FileSpecs;

/// One encoded file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedFile {
    /// Which file.
    pub file: MnistFile,
    /// Its deterministic gzip bytes.
    pub gz: Vec<u8>,
    /// MD5 of its uncompressed content.
    pub content_md5: String,
}

/// Encodes `idx` as four deterministic gzip IDX files, in [`MnistFile::ALL`] order.
pub fn encode_gz(idx: &MnistIdx) -> Result<[EncodedFile; 4]> {
    let raw = [
        encode_images(&idx.train_images)?,
        encode_labels(&idx.train_labels)?,
        encode_images(&idx.test_images)?,
        encode_labels(&idx.test_labels)?,
    ];
    let [a, b, c, d] = raw;
    Ok([
        encode_one(MnistFile::TrainImages, &a)?,
        encode_one(MnistFile::TrainLabels, &b)?,
        encode_one(MnistFile::TestImages, &c)?,
        encode_one(MnistFile::TestLabels, &d)?,
    ])
}

fn encode_one(file: MnistFile, content: &[u8]) -> Result<EncodedFile> {
    let gz = gzip_deterministic(content).map_err(|e| MnistError::io(file.gz_name(), e))?;
    Ok(EncodedFile {
        file,
        gz,
        content_md5: md5_hex(content),
    })
}

/// The content-MD5 table that `files` satisfy.
pub fn specs_for(files: &[EncodedFile; 4]) -> FileSpecs {
    FileSpecs::from_content_md5s(files.each_ref().map(|f| f.content_md5.as_str()))
}

/// Writes each file atomically into `dir` under its `.gz` name (creating `dir`).
pub fn write_gz_files(dir: &Path, files: &[EncodedFile]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| MnistError::io(dir, e))?;
    for f in files {
        let dest = dir.join(f.file.gz_name());
        atomic_file::write_atomic(&dest, &f.gz).map_err(|e| MnistError::io(&dest, e))?;
    }
    Ok(())
}
