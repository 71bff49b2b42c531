//! Gzip detection, decompression and deterministic compression.

use std::io::{Read, Write};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use flate2::{Compression, GzBuilder};

use crate::error::{MnistError, Result};

/// The two bytes every gzip member starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Largest size hint taken from a gzip trailer, so a corrupt trailer cannot make us
/// reserve absurd amounts of memory up front.
const MAX_SIZE_HINT: usize = 64 << 20;

/// Whether `bytes` start like a gzip stream.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

/// Returns the IDX content of a file's bytes: decompressed when they are gzip, as-is
/// otherwise. `path` only names the file in errors.
pub fn decode(path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>> {
    if is_gzip(&bytes) {
        gunzip(path, &bytes)
    } else {
        Ok(bytes)
    }
}

/// Decompresses a (possibly multi-member) gzip stream.
pub fn gunzip(path: &Path, bytes: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(size_hint(bytes));
    MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|source| MnistError::BadGzip {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(out)
}

/// Compresses `content` at the best level with a fixed header (no name, mtime 0), so
/// identical content always gives identical bytes with a given `flate2` version.
///
/// The encoder writes into memory, so in practice this does not fail; the `io::Result` is
/// passed on rather than assumed away.
pub fn gzip_deterministic(content: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), Compression::best());
    encoder.write_all(content)?;
    encoder.finish()
}

/// The uncompressed size recorded in the gzip trailer (modulo 2^32), capped.
fn size_hint(bytes: &[u8]) -> usize {
    match bytes.len().checked_sub(4).and_then(|at| bytes.get(at..)) {
        Some(&[a, b, c, d]) => {
            let n = u32::from_le_bytes([a, b, c, d]) as usize;
            n.min(MAX_SIZE_HINT)
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_determinism() {
        let content: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let a = gzip_deterministic(&content).unwrap();
        let b = gzip_deterministic(&content).unwrap();
        assert_eq!(a, b);
        assert!(is_gzip(&a));
        assert_eq!(decode(Path::new("x"), a).unwrap(), content);
    }

    #[test]
    fn raw_passes_through() {
        let raw = vec![0u8, 0, 8, 3, 1];
        assert_eq!(decode(Path::new("x"), raw.clone()).unwrap(), raw);
    }

    #[test]
    fn corrupt_stream_is_bad_gzip() {
        let mut gz = gzip_deterministic(&[7u8; 5000]).unwrap();
        let mid = gz.len() / 2;
        gz.truncate(mid);
        let err = decode(Path::new("f.gz"), gz).unwrap_err();
        assert!(matches!(err, MnistError::BadGzip { .. }), "{err}");
    }
}
