//! Medians and the formatting of timings.

/// The median of `v` (the mean of the two middle values for an even count); `None` when
/// empty or when any value is not finite.
pub fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() || v.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    })
}

/// `ours / torch` with two decimals, or `–`.
pub fn ratio(ours: Option<f64>, torch: Option<f64>) -> String {
    match (ours, torch) {
        (Some(o), Some(t)) if t > 0.0 => format!("{:.2}", o / t),
        _ => "–".to_string(),
    }
}

/// `x` with `digits` decimals, or `–`.
pub fn fixed(x: Option<f64>, digits: usize) -> String {
    x.map_or("–".to_string(), |v| format!("{v:.digits$}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[1.0, f64::NAN]), None);
        assert_eq!(ratio(Some(1.0), Some(4.0)), "0.25");
        assert_eq!(ratio(None, Some(4.0)), "–");
        assert_eq!(fixed(Some(1.234), 1), "1.2");
    }
}
