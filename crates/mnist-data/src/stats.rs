//! Pixel statistics and normalisation, computed in `f64`.

use crate::error::{MnistError, Result};

/// Mean and unbiased standard deviation of a set of pixel values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PixelStats {
    /// Arithmetic mean.
    pub mean: f64,
    /// Unbiased (n - 1) standard deviation.
    pub std: f64,
}

impl PixelStats {
    /// Computes the statistics of `values` with two passes in `f64`.
    ///
    /// Needs at least two values; otherwise the unbiased std is undefined.
    pub fn of(values: &[f32]) -> Result<Self> {
        if values.len() < 2 {
            return Err(MnistError::DegenerateStats {
                detail: format!(
                    "{} pixel values; at least 2 are needed for an unbiased std",
                    values.len()
                ),
            });
        }
        let n = values.len() as f64;
        let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let squares: f64 = values
            .iter()
            .map(|&v| {
                let d = f64::from(v) - mean;
                d * d
            })
            .sum();
        Ok(PixelStats {
            mean,
            std: (squares / (n - 1.0)).sqrt(),
        })
    }

    /// Checks that these statistics can normalise data: finite, with a positive std.
    pub fn check_usable(self) -> Result<Self> {
        if self.mean.is_finite() && self.std.is_finite() && self.std > 0.0 {
            Ok(self)
        } else {
            Err(MnistError::DegenerateStats {
                detail: format!("mean {} and std {} cannot normalise", self.mean, self.std),
            })
        }
    }

    /// Applies `(x - mean) / std` to every value in place.
    pub fn normalize(self, values: &mut [f32]) {
        for v in values {
            *v = ((f64::from(*v) - self.mean) / self.std) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        let s = PixelStats::of(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert!((s.mean - 2.5).abs() < 1e-12);
        // Unbiased: sum of squares 5 over n - 1 = 3.
        assert!((s.std - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn normalised_values_have_zero_mean_unit_std() {
        let mut v: Vec<f32> = (0..1000).map(|i| ((i * 37) % 255) as f32 / 255.0).collect();
        let s = PixelStats::of(&v).unwrap().check_usable().unwrap();
        s.normalize(&mut v);
        let after = PixelStats::of(&v).unwrap();
        assert!(after.mean.abs() < 1e-6, "{after:?}");
        assert!((after.std - 1.0).abs() < 1e-6, "{after:?}");
    }

    #[test]
    fn degenerate_inputs_are_errors() {
        assert!(matches!(
            PixelStats::of(&[0.5]),
            Err(MnistError::DegenerateStats { .. })
        ));
        let flat = PixelStats::of(&[0.5, 0.5, 0.5]).unwrap();
        assert!(matches!(
            flat.check_usable(),
            Err(MnistError::DegenerateStats { .. })
        ));
    }
}
