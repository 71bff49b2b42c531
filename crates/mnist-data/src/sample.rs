//! A small real sample of MNIST, compiled into the crate (`crates/mnist-data/sample/`).
//!
//! Four gzip IDX files holding 1,200 training digits and 1,000 test digits copied from the
//! real files. The training file is the real training set's first 1,000 digits followed by
//! the first 200 of its validation part (real indices 50,000..50,200), so the lesson's rule
//! (last sixth is valid, see [`crate::lesson_valid_len`]) splits the sample into
//! **train = 1,000**, **valid = 200**, drawn from the real train and valid parts, and
//! **test = 1,000** (the first 1,000 t10k digits).
//!
//! `cargo xtask make-sample` rebuilds it from the real files with [`build_sample`] and
//! [`crate::encode_gz`]; the content MD5s below pin it (the gzip wrappers may differ between
//! `flate2` versions, the content cannot).

use std::path::PathBuf;

use crate::error::{MnistError, Result};
use crate::file::MnistFile;
use crate::idx::{IdxImages, IdxLabels, PIXELS};
use crate::load::{MnistIdx, StoredFile};
use crate::spec::FileSpecs;
use crate::split::lesson_valid_len;

/// Training digits in the sample's train split.
pub const SAMPLE_TRAIN: usize = 1_000;
/// Training digits in the sample's valid split.
pub const SAMPLE_VALID: usize = 200;
/// Digits in the sample's test split.
pub const SAMPLE_TEST: usize = 1_000;

/// MD5 of each sample file's uncompressed content, in [`MnistFile::ALL`] order.
const SAMPLE_MD5S: [&str; 4] = [
    "173824068a6575db82432214daf97c8a",
    "457e1b82da5c90132c6f910f05bb9f57",
    "bac4371a484d0b5651e81d99305acb5a",
    "556860b2f10365a8f7444c1e79c7e9af",
];

/// The sample files' bytes, in [`MnistFile::ALL`] order.
const SAMPLE_BYTES: [&[u8]; 4] = [
    include_bytes!("../sample/train-images-idx3-ubyte.gz"),
    include_bytes!("../sample/train-labels-idx1-ubyte.gz"),
    include_bytes!("../sample/t10k-images-idx3-ubyte.gz"),
    include_bytes!("../sample/t10k-labels-idx1-ubyte.gz"),
];

/// The sample's directory in the source tree (where `make-sample` writes).
pub fn sample_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample")
}

/// Checksums the sample must match.
pub fn sample_specs() -> FileSpecs {
    FileSpecs::from_content_md5s(SAMPLE_MD5S)
}

/// The embedded sample files, named by their source-tree paths.
pub fn sample_files() -> [StoredFile; 4] {
    let dir = sample_dir();
    MnistFile::ALL.map(|file| StoredFile {
        file,
        path: dir.join(file.gz_name()),
        bytes: SAMPLE_BYTES[file.index()].to_vec(),
    })
}

/// Selects the sample's digits from the full data set (see the module docs).
pub fn build_sample(full: &MnistIdx) -> Result<MnistIdx> {
    let n = full.train_images.count();
    let cut = n - lesson_valid_len(n);
    let enough =
        cut >= SAMPLE_TRAIN && n - cut >= SAMPLE_VALID && full.test_images.count() >= SAMPLE_TEST;
    if !enough {
        return Err(MnistError::InvalidConfig {
            detail: format!(
                "the sample needs {SAMPLE_TRAIN} train, {SAMPLE_VALID} valid and {SAMPLE_TEST} test digits; the source has {cut}, {} and {}",
                n - cut,
                full.test_images.count()
            ),
        });
    }
    let ranges = [0..SAMPLE_TRAIN, cut..cut + SAMPLE_VALID];
    let mut pixels = Vec::with_capacity((SAMPLE_TRAIN + SAMPLE_VALID) * PIXELS);
    let mut labels = Vec::with_capacity(SAMPLE_TRAIN + SAMPLE_VALID);
    for range in ranges {
        pixels.extend_from_slice(full.train_images.images(range.clone()));
        labels.extend_from_slice(&full.train_labels.labels()[range]);
    }
    let label_path = PathBuf::from("sample labels");
    Ok(MnistIdx {
        train_images: IdxImages::from_pixels(pixels)?,
        train_labels: IdxLabels::from_labels(&label_path, labels)?,
        test_images: IdxImages::from_pixels(full.test_images.images(0..SAMPLE_TEST).to_vec())?,
        test_labels: IdxLabels::from_labels(
            &label_path,
            full.test_labels.labels()[..SAMPLE_TEST].to_vec(),
        )?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::DataSource;
    use crate::split::MnistSplits;

    #[test]
    fn sample_loads_verified_with_documented_split() {
        let loaded = DataSource::Sample.load().unwrap();
        for check in &loaded.checks {
            assert_eq!(check.verified, crate::Verified::ContentMd5, "{check:?}");
        }
        let splits = MnistSplits::from_idx(&loaded.idx).unwrap();
        assert_eq!(splits.train.len(), SAMPLE_TRAIN);
        assert_eq!(splits.valid.len(), SAMPLE_VALID);
        assert_eq!(splits.test.len(), SAMPLE_TEST);
        // Real digits: every class appears, and the ink statistics look like MNIST.
        for split in [&splits.train, &splits.test] {
            for class in 0..10u8 {
                assert!(split.labels.contains(&class), "class {class} missing");
            }
        }
        let stats = splits.train_stats().unwrap();
        assert!((0.10..0.16).contains(&stats.mean), "{stats:?}");
        assert!((0.28..0.34).contains(&stats.std), "{stats:?}");
    }

    #[test]
    fn sample_is_small() {
        let total: usize = SAMPLE_BYTES.iter().map(|b| b.len()).sum();
        assert!(total < 1 << 20, "sample is {total} bytes");
    }

    #[test]
    fn build_sample_takes_train_head_and_valid_head() {
        let full = crate::synthetic::synthetic_idx(1_800, 1_100).unwrap();
        let sample = build_sample(&full).unwrap();
        // 1,800 digits: the lesson rule keeps 1,500 for train, 300 for valid.
        let labels = full.train_labels.labels();
        let expected: Vec<u8> = labels[..1_000]
            .iter()
            .chain(&labels[1_500..1_700])
            .copied()
            .collect();
        assert_eq!(sample.train_labels.labels(), &expected[..]);
        assert_eq!(
            sample.train_images.images(1_000..1_001),
            full.train_images.images(1_500..1_501)
        );
        assert_eq!(sample.test_images.count(), SAMPLE_TEST);
    }

    #[test]
    fn build_sample_rejects_small_inputs() {
        let small = crate::synthetic::synthetic_idx(1_199, 1_000).unwrap();
        let err = build_sample(&small).unwrap_err();
        assert!(matches!(err, MnistError::InvalidConfig { .. }), "{err}");
        let few_tests = crate::synthetic::synthetic_idx(1_200, 999).unwrap();
        assert!(build_sample(&few_tests).is_err());
    }
}
