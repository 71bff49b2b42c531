//! Writing numbers so that the parser reads back exactly the same `f64`.

use std::fmt;

/// A finite `f64` written in the shortest form that parses back to the identical value.
///
/// Rust's `{}` and `{:e}` both print the shortest round-tripping digits; `{}` never uses an
/// exponent, so very large or very small magnitudes switch to `{:e}` (`1e-20`, not twenty
/// zeros).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Num(pub(crate) f64);

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        let a = v.abs();
        if v == 0.0 || (1e-4..1e16).contains(&a) {
            write!(f, "{v}")
        } else {
            write!(f, "{v:e}")
        }
    }
}

/// Writes `[a,b,c]`.
pub(crate) struct NumList<'a>(pub(crate) &'a [f64]);

impl fmt::Display for NumList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}", Num(*v))?;
        }
        f.write_str("]")
    }
}

#[cfg(test)]
mod tests {
    use super::Num;

    #[test]
    fn small_and_large_use_exponent() {
        assert_eq!(Num(1e-20).to_string(), "1e-20");
        assert_eq!(Num(-2.5e17).to_string(), "-2.5e17");
        assert_eq!(Num(0.3).to_string(), "0.3");
        assert_eq!(Num(2.0).to_string(), "2");
        assert_eq!(Num(0.0).to_string(), "0");
        assert_eq!(Num(-0.0).to_string(), "-0");
    }
}
