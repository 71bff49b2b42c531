//! A minimal reading of a `.npy` header, done before any decoding: the element type
//! descriptor and the shape, so that the data length can be checked against the bytes that
//! are really there. A corrupt header that claims a huge shape is then an error, not an
//! attempt to allocate it.
//!
//! Format (numpy's `format.py`): the magic `\x93NUMPY`, a major and minor version byte, the
//! header length (`u16` little-endian for version 1, `u32` for versions 2 and 3), then the
//! header: a Python dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`
//! padded with spaces and ending in `\n`. The data follows immediately.

use super::error::{NpyError, NpyResult};

const MAGIC: &[u8] = b"\x93NUMPY";

/// What the header says about the data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HeaderInfo {
    /// The element type descriptor, e.g. `<f4`, `|u1`, `>f8`.
    pub descr: String,
    /// The array's shape (empty for a 0-d array).
    pub shape: Vec<usize>,
    /// Byte offset of the first data byte.
    pub data_start: usize,
}

fn bad(src: &str, reason: impl Into<String>) -> NpyError {
    NpyError::Format {
        src: src.to_string(),
        reason: reason.into(),
    }
}

/// Reads the header of `bytes` and checks that exactly the declared number of data bytes
/// follows it. `src` names the input in errors.
pub(crate) fn probe(src: &str, bytes: &[u8]) -> NpyResult<HeaderInfo> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(bad(src, "it does not start with the .npy magic bytes"));
    }
    let (len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(bad(src, format!("format version {v} is not known"))),
    };
    let end = start
        .checked_add(len)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| bad(src, "the header is truncated"))?;
    let text =
        std::str::from_utf8(&bytes[start..end]).map_err(|_| bad(src, "the header is not text"))?;
    let descr = descr_of(text).ok_or_else(|| bad(src, "the header has no string 'descr'"))?;
    let shape = shape_of(text).ok_or_else(|| bad(src, "the header has no valid 'shape'"))?;
    let item = item_size(&descr).ok_or_else(|| NpyError::UnsupportedDType {
        src: src.to_string(),
        descr: descr.clone(),
    })?;
    let expected = shape
        .iter()
        .try_fold(item, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| bad(src, format!("the shape {shape:?} overflows")))?;
    let have = bytes.len() - end;
    if have < expected {
        return Err(bad(
            src,
            format!(
                "the data is truncated: shape {shape:?} of `{descr}` needs {expected} bytes, {have} are present"
            ),
        ));
    }
    if have > expected {
        return Err(bad(
            src,
            format!(
                "{} bytes follow the data of shape {shape:?} of `{descr}`",
                have - expected
            ),
        ));
    }
    Ok(HeaderInfo {
        descr,
        shape,
        data_start: end,
    })
}

/// The text after `'key':` (or `"key":`), leading spaces removed.
fn value_after<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let at = text
        .find(&format!("'{key}'"))
        .or_else(|| text.find(&format!("\"{key}\"")))?;
    let rest = &text[at + key.len() + 2..];
    let rest = rest.trim_start().strip_prefix(':')?;
    Some(rest.trim_start())
}

/// The quoted string value of `'descr'`; `None` when it is missing or not a string (a
/// structured dtype is a list).
fn descr_of(text: &str) -> Option<String> {
    let v = value_after(text, "descr")?;
    let quote = v.chars().next().filter(|&c| c == '\'' || c == '"')?;
    let body = &v[1..];
    Some(body[..body.find(quote)?].to_string())
}

/// The tuple value of `'shape'`: `()`, `(5,)`, `(2, 3)`.
fn shape_of(text: &str) -> Option<Vec<usize>> {
    let v = value_after(text, "shape")?.strip_prefix('(')?;
    let body = &v[..v.find(')')?];
    body.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('L').parse::<usize>().ok())
        .collect()
}

/// Bytes per element of the numeric and boolean descriptors decoded here.
fn item_size(descr: &str) -> Option<usize> {
    let body = descr.strip_prefix(['<', '>', '|', '=']).unwrap_or(descr);
    match body {
        "f4" | "i4" | "u4" => Some(4),
        "f8" | "i8" | "u8" => Some(8),
        "i2" | "u2" => Some(2),
        "i1" | "u1" | "b1" => Some(1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(header: &str, data: &[u8]) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        v.extend([1, 0]);
        v.extend((header.len() as u16).to_le_bytes());
        v.extend(header.as_bytes());
        v.extend(data);
        v
    }

    #[test]
    fn reads_descr_and_shape() {
        let b = npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1), }\n",
            &[0; 8],
        );
        let h = probe("t", &b).unwrap();
        assert_eq!(h.descr, "<f4");
        assert_eq!(h.shape, vec![2, 1]);
        assert_eq!(h.data_start, b.len() - 8);
        let b = npy(
            "{'descr': '|b1', 'fortran_order': False, 'shape': (), }\n",
            &[1],
        );
        assert_eq!(probe("t", &b).unwrap().shape, Vec::<usize>::new());
        let b = npy(
            "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }\n",
            &[0; 24],
        );
        assert_eq!(probe("t", &b).unwrap().shape, vec![3]);
    }

    #[test]
    fn rejects_bad_lengths_and_headers() {
        let h = "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }\n";
        let short = probe("t", &npy(h, &[0; 31])).unwrap_err().to_string();
        assert!(
            short.contains("truncated") && short.contains("32 bytes"),
            "{short}"
        );
        let long = probe("t", &npy(h, &[0; 33])).unwrap_err().to_string();
        assert!(long.contains("1 bytes follow"), "{long}");
        let huge = "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999,), }\n";
        assert!(probe("t", &npy(huge, &[])).is_err());
        assert!(probe("t", b"not npy at all").is_err());
        let s = "{'descr': '<U3', 'fortran_order': False, 'shape': (1,), }\n";
        assert!(matches!(
            probe("t", &npy(s, &[0; 12])),
            Err(NpyError::UnsupportedDType { .. })
        ));
        let mut cut = npy(h, &[0; 32]);
        cut.truncate(20);
        assert!(probe("t", &cut).is_err());
    }
}
