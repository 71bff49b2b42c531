//! Checksum verification of one file against its [`FileSpec`].

use std::fmt;
use std::path::Path;

use crate::digest::{md5_hex, sha256_hex};
use crate::error::{MnistError, Result};
use crate::gz;
use crate::spec::FileSpec;

/// How a file was accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verified {
    /// The `.gz` file's SHA-256 matched (an original from a public mirror).
    GzSha256,
    /// The uncompressed content's MD5 matched (any faithful copy, re-gzipped or raw).
    ContentMd5,
    /// The spec names no checksum, so nothing was checked.
    Unchecked,
}

impl fmt::Display for Verified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verified::GzSha256 => "ok (.gz SHA-256)",
            Verified::ContentMd5 => "ok (content MD5)",
            Verified::Unchecked => "unchecked (no checksum known)",
        })
    }
}

/// Verifies a file whose content is already decompressed. `gz_bytes` are the file's bytes
/// when it was gzip (for the SHA-256 check), `None` for a raw file.
pub fn verify_content(
    path: &Path,
    spec: &FileSpec,
    gz_bytes: Option<&[u8]>,
    content: &[u8],
) -> Result<Verified> {
    verify_content_md5(path, spec, gz_bytes, &md5_hex(content))
}

/// Like [`verify_content`], given the content's MD5 (lower-case hex) already computed.
/// The `.gz` SHA-256 is computed only when the MD5 does not settle it.
pub fn verify_content_md5(
    path: &Path,
    spec: &FileSpec,
    gz_bytes: Option<&[u8]>,
    content_md5: &str,
) -> Result<Verified> {
    if !spec.has_checksum() {
        return Ok(Verified::Unchecked);
    }
    let md5 = spec
        .content_md5
        .as_ref()
        .map(|want| (want, content_md5.to_owned()));
    if matches!(&md5, Some((want, got)) if *want == got) {
        return Ok(Verified::ContentMd5);
    }
    let sha = match (&spec.gz_sha256, gz_bytes) {
        (Some(want), Some(bytes)) => Some((want, Some(sha256_hex(bytes)))),
        (Some(want), None) => Some((want, None)),
        (None, _) => None,
    };
    if matches!(&sha, Some((want, Some(got))) if *want == got) {
        return Ok(Verified::GzSha256);
    }
    Err(mismatch(path, md5, sha))
}

/// Verifies a file's bytes as stored (gzip or raw), cheapest check first: the `.gz`
/// SHA-256, then, only if needed, decompression and the content MD5.
pub fn verify_stored(path: &Path, spec: &FileSpec, bytes: &[u8]) -> Result<Verified> {
    let is_gz = gz::is_gzip(bytes);
    if let (Some(want), true) = (&spec.gz_sha256, is_gz) {
        if *want == sha256_hex(bytes) {
            return Ok(Verified::GzSha256);
        }
    }
    if is_gz {
        let content = gz::gunzip(path, bytes)?;
        verify_content(path, spec, Some(bytes), &content)
    } else {
        verify_content(path, spec, None, bytes)
    }
}

/// Builds the mismatch error, listing every digest that was compared.
fn mismatch(
    path: &Path,
    md5: Option<(&String, String)>,
    sha: Option<(&String, Option<String>)>,
) -> MnistError {
    let mut parts = Vec::new();
    if let Some((want, got)) = md5 {
        parts.push(format!("content MD5 is {got}, expected {want}"));
    }
    match sha {
        Some((want, Some(got))) => parts.push(format!(".gz SHA-256 is {got}, expected {want}")),
        Some((_, None)) => parts.push("not gzip, so the .gz SHA-256 does not apply".to_owned()),
        None => {}
    }
    MnistError::ChecksumMismatch {
        path: path.to_path_buf(),
        detail: parts.join("; "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::MnistFile;

    fn spec_for(gz: &[u8], content: &[u8]) -> FileSpec {
        FileSpec {
            file: MnistFile::TestLabels,
            gz_sha256: Some(sha256_hex(gz)),
            content_md5: Some(md5_hex(content)),
        }
    }

    #[test]
    fn either_checksum_suffices() {
        let content = b"some idx bytes".to_vec();
        let gz = gz::gzip_deterministic(&content).unwrap();
        let spec = spec_for(&gz, &content);
        let p = Path::new("f");
        assert_eq!(verify_stored(p, &spec, &gz).unwrap(), Verified::GzSha256);
        // A re-compressed copy: different .gz bytes, same content.
        let mut regz = gz.clone();
        regz[9] ^= 1; // the OS byte of the header: the content is unchanged
        assert_eq!(
            verify_stored(p, &spec, &regz).unwrap(),
            Verified::ContentMd5
        );
        // A raw copy.
        assert_eq!(
            verify_stored(p, &spec, &content).unwrap(),
            Verified::ContentMd5
        );
    }

    #[test]
    fn different_content_is_mismatch() {
        let content = b"some idx bytes".to_vec();
        let gz = gz::gzip_deterministic(&content).unwrap();
        let spec = spec_for(&gz, &content);
        let other = gz::gzip_deterministic(b"other idx bytes").unwrap();
        let err = verify_stored(Path::new("f"), &spec, &other).unwrap_err();
        assert!(matches!(err, MnistError::ChecksumMismatch { .. }), "{err}");
        assert!(err.to_string().contains("content MD5"), "{err}");
    }

    #[test]
    fn no_checksum_is_unchecked() {
        let spec = FileSpec::unchecked(MnistFile::TrainImages);
        assert_eq!(
            verify_stored(Path::new("f"), &spec, b"x").unwrap(),
            Verified::Unchecked
        );
    }
}
