//! The entry points a CUDA source defines, read from its text, so that tests can check
//! mechanically that every one is listed, compiled and exercised.
//!
//! An entry point is an `extern "C" __global__ void NAME(` function. By the convention of
//! `common.cuh` every entry exists as `<base>_f32` and `<base>_f64`; a family whose entries
//! come from a macro instantiated once per element type writes `NAME` as `<base>_##SUF`,
//! which stands for both.

/// The marker that precedes an entry point's name.
const MARKER: &str = "extern \"C\" __global__ void";

/// The entry points defined in `source`, sorted and without repeats: `<base>_f32` and
/// `<base>_f64` names as written, a `<base>_##SUF` name as both.
pub(crate) fn entry_points(source: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find(MARKER) {
        rest = &rest[at + MARKER.len()..];
        let name: String = rest
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '#'))
            .collect();
        match name.strip_suffix("_##SUF") {
            Some(base) => {
                names.push(format!("{base}_f32"));
                names.push(format!("{base}_f64"));
            }
            None => names.push(name),
        }
    }
    names.sort();
    names.dedup();
    names
}

/// The base names of `entries` (each `<base>_f32` / `<base>_f64`), sorted and without
/// repeats; a name with neither suffix is kept whole, so that it shows up as a mismatch.
pub(crate) fn bases(entries: &[String]) -> Vec<String> {
    let mut out: Vec<String> = entries
        .iter()
        .map(|e| {
            e.strip_suffix("_f32")
                .or_else(|| e.strip_suffix("_f64"))
                .unwrap_or(e)
                .to_owned()
        })
        .collect();
    out.sort();
    out.dedup();
    out
}
