//! The MD5 digest recorded in `state.json` for each tensor file of a checkpoint.
//!
//! MD5 detects a save interrupted between files (a tensor file from one save beside the
//! `state.json` of another); it is not meant to resist tampering. The format is the
//! lower-case hex of RFC 1321's 128-bit digest, as written by earlier versions, so existing
//! checkpoints stay valid.

use std::fs;
use std::path::Path;

use md5::{Digest as _, Md5};

use crate::error::{LearnerError, Result};

/// Lower-case hex MD5 of `bytes` (32 characters).
pub(crate) fn md5_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digest = Md5::digest(bytes);
    let mut out = String::with_capacity(2 * digest.len());
    for &b in digest.iter() {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Lower-case hex MD5 of the file at `path`.
pub(crate) fn file_md5(path: &Path) -> Result<String> {
    let bytes = fs::read(path).map_err(|e| LearnerError::io(path, e))?;
    Ok(md5_hex(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1321, appendix A.5.
    #[test]
    fn rfc_1321_test_suite() {
        let cases: [(&[u8], &str); 4] = [
            (b"", "d41d8cd98f00b204e9800998ecf8427e"),
            (b"a", "0cc175b9c0f1b6a831c399e269772661"),
            (b"abc", "900150983cd24fb0d6963f7d28e17f72"),
            (
                b"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ];
        for (input, hex) in cases {
            assert_eq!(md5_hex(input), hex);
        }
    }

    /// The digest earlier versions took from `mnist-data`: existing metadata stays valid.
    #[test]
    fn same_digest_as_mnist_data() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        assert_eq!(md5_hex(&bytes), mnist_data::md5_hex(&bytes));
    }

    #[test]
    fn file_digest_and_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, b"message digest").unwrap();
        assert_eq!(file_md5(&path).unwrap(), "f96b697d7cb7938d525a2f31aaf161d0");
        let missing = dir.path().join("missing");
        match file_md5(&missing) {
            Err(LearnerError::Io { path, .. }) => assert_eq!(path, missing),
            other => panic!("expected an I/O error, got {other:?}"),
        }
    }
}
