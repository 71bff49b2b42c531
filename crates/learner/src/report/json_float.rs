//! Serde helpers that keep non-finite floats in JSON, which has no NaN or infinity.
//!
//! A finite `f64` is written as a JSON number, `NaN` as `null`, and `±inf` as the strings
//! `"inf"` / `"-inf"`. Reading accepts the same forms plus the strings `"nan"`,
//! `"infinity"` and `"-infinity"` (any case). Diverged runs (the lesson's LayerNorm and
//! InstanceNorm runs end with NaN losses) therefore round-trip.

use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::Deserialize;
use serde_json::Value;

/// Serialises one `f64` as described in the module documentation.
pub(crate) fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() {
        s.serialize_f64(*v)
    } else if v.is_nan() {
        s.serialize_none()
    } else if *v > 0.0 {
        s.serialize_str("inf")
    } else {
        s.serialize_str("-inf")
    }
}

/// Reads one `f64` written by [`serialize`].
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    from_value(Value::deserialize(d)?).map_err(de::Error::custom)
}

fn from_value(v: Value) -> Result<f64, String> {
    match v {
        Value::Null => Ok(f64::NAN),
        Value::Number(n) => n.as_f64().ok_or_else(|| format!("{n} is not an f64")),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "nan" => Ok(f64::NAN),
            "inf" | "infinity" | "+inf" | "+infinity" => Ok(f64::INFINITY),
            "-inf" | "-infinity" => Ok(f64::NEG_INFINITY),
            _ => Err(format!(
                "expected a number, null, \"inf\" or \"-inf\", got {s:?}"
            )),
        },
        other => Err(format!("expected a number, got {other}")),
    }
}

/// The same encoding for `Option<f64>`; an absent field is `None` (with `#[serde(default)]`).
pub(crate) mod option {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(x) => super::serialize(x, s),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        super::deserialize(d).map(Some)
    }
}
