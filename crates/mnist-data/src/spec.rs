//! Expected checksums for the four files.
//!
//! A file is accepted when *either* its `.gz` SHA-256 *or* the MD5 of its uncompressed
//! content matches: the originals on the public mirrors match both, while re-gzipped copies
//! (such as the workspace's `shared/data/mnist`) match only the content MD5.

use crate::file::MnistFile;

/// The checksums one file must satisfy (at least one of those given).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSpec {
    /// Which file this describes.
    pub file: MnistFile,
    /// Lower-case hex SHA-256 of the `.gz` file as published, if known.
    pub gz_sha256: Option<String>,
    /// Lower-case hex MD5 of the uncompressed IDX bytes, if known.
    pub content_md5: Option<String>,
}

impl FileSpec {
    /// A spec that checks only the content MD5 (robust to re-compression).
    pub fn content_md5(file: MnistFile, md5_hex: &str) -> Self {
        FileSpec {
            file,
            gz_sha256: None,
            content_md5: Some(md5_hex.to_ascii_lowercase()),
        }
    }

    /// A spec that accepts anything: used only where checksums are deliberately not known.
    pub fn unchecked(file: MnistFile) -> Self {
        FileSpec {
            file,
            gz_sha256: None,
            content_md5: None,
        }
    }

    /// Whether this spec names any checksum at all.
    pub fn has_checksum(&self) -> bool {
        self.gz_sha256.is_some() || self.content_md5.is_some()
    }
}

/// One [`FileSpec`] per file: the table that verification and downloads consult.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSpecs {
    specs: [FileSpec; 4],
}

/// `(file, .gz SHA-256 on the public mirrors, MD5 of the uncompressed bytes)`, from the
/// data README.
const OFFICIAL: [(MnistFile, &str, &str); 4] = [
    (
        MnistFile::TrainImages,
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "6bbc9ace898e44ae57da46a324031adb",
    ),
    (
        MnistFile::TrainLabels,
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "a25bea736e30d166cdddb491f175f624",
    ),
    (
        MnistFile::TestImages,
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "2646ac647ad5339dbf082846283269ea",
    ),
    (
        MnistFile::TestLabels,
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        "27ae3e4e09519cfbb04c329615203637",
    ),
];

impl FileSpecs {
    /// The real MNIST files: `.gz` SHA-256 of the originals and MD5 of their content.
    pub fn official() -> Self {
        FileSpecs {
            specs: OFFICIAL.map(|(file, sha, md5)| FileSpec {
                file,
                gz_sha256: Some(sha.to_owned()),
                content_md5: Some(md5.to_owned()),
            }),
        }
    }

    /// A table from four content MD5s, in [`MnistFile::ALL`] order.
    pub fn from_content_md5s(md5s: [&str; 4]) -> Self {
        FileSpecs {
            specs: std::array::from_fn(|i| FileSpec::content_md5(MnistFile::ALL[i], md5s[i])),
        }
    }

    /// A table that checks nothing (for inspecting arbitrary IDX files).
    pub fn unchecked() -> Self {
        FileSpecs {
            specs: MnistFile::ALL.map(FileSpec::unchecked),
        }
    }

    /// The spec for `file`.
    pub fn get(&self, file: MnistFile) -> &FileSpec {
        &self.specs[file.index()]
    }

    /// Replaces the spec for `spec.file`, returning the updated table.
    pub fn with(mut self, spec: FileSpec) -> Self {
        let index = spec.file.index();
        self.specs[index] = spec;
        self
    }
}

impl Default for FileSpecs {
    /// The official table.
    fn default() -> Self {
        FileSpecs::official()
    }
}
