//! A perceptually ordered colour ramp for the histogram images: dark for empty bins,
//! through purple, teal and green, to yellow for the fullest bins.

use plotters::style::RGBColor;

/// Ramp anchors at t = 0, 1/4, 1/2, 3/4, 1.
const ANCHORS: [(u8, u8, u8); 5] = [
    (14, 8, 44),
    (70, 46, 140),
    (34, 138, 146),
    (110, 196, 90),
    (248, 228, 60),
];

/// The colour for `t` in `[0, 1]` (clamped; NaN maps to 0), linearly interpolated between
/// the anchors.
pub(crate) fn ramp(t: f64) -> RGBColor {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let scaled = t * (ANCHORS.len() - 1) as f64;
    let i = (scaled.floor() as usize).min(ANCHORS.len() - 2);
    let f = scaled - i as f64;
    let (a, b) = (ANCHORS[i], ANCHORS[i + 1]);
    let mix = |x: u8, y: u8| (f64::from(x) + f * (f64::from(y) - f64::from(x))).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_and_middle() {
        assert_eq!(ramp(0.0), RGBColor(14, 8, 44));
        assert_eq!(ramp(1.0), RGBColor(248, 228, 60));
        assert_eq!(ramp(0.5), RGBColor(34, 138, 146));
        assert_eq!(ramp(f64::NAN), ramp(0.0));
        assert_eq!(ramp(7.0), ramp(1.0));
        // Halfway between the first two anchors.
        assert_eq!(ramp(0.125), RGBColor(42, 27, 92));
    }
}
