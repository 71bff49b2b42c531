//! A line-chart panel shared by the recorder and activation-statistics plots.
//!
//! Non-finite values (a diverged loss is NaN) break a line into separate finite pieces and
//! are left out of the axis ranges, so one NaN does not blank the whole plot.

use plotters::prelude::*;

use super::canvas::Area;
use super::error::ReportError;

/// One series: its points in data coordinates, its colour and an optional legend entry.
pub(crate) struct Line {
    pub(crate) label: Option<String>,
    pub(crate) color: RGBColor,
    pub(crate) points: Vec<(f64, f64)>,
}

/// Titles of one panel. With `log10_x`, x values are `log10` of the quantity and the tick
/// labels show `10^x` (a log-scale axis).
pub(crate) struct Panel<'a> {
    pub(crate) title: &'a str,
    pub(crate) x_desc: &'a str,
    pub(crate) y_desc: &'a str,
    pub(crate) log10_x: bool,
}

/// Distinct colours for up to ten series; more series cycle through them.
pub(crate) fn series_color(i: usize) -> RGBColor {
    const COLORS: [RGBColor; 10] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
    ];
    COLORS[i % COLORS.len()]
}

/// `[lo, hi]` over the finite values, padded by 5% (or by a unit-ish amount when all values
/// are equal); `(0, 1)` when there is no finite value.
pub(crate) fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        return (0.0, 1.0);
    }
    if !(hi - lo).is_finite() {
        lo /= 2.0;
        hi /= 2.0;
    }
    let pad = if hi > lo {
        (hi - lo) * 0.05
    } else if lo == 0.0 {
        1.0
    } else {
        lo.abs() * 0.05
    };
    (
        (lo - pad).max(-f64::MAX / 2.0),
        (hi + pad).min(f64::MAX / 2.0),
    )
}

/// Splits `points` into maximal runs whose coordinates are all finite.
pub(crate) fn finite_runs(points: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
    let mut runs = Vec::new();
    let mut cur = Vec::new();
    for &(x, y) in points {
        if x.is_finite() && y.is_finite() {
            cur.push((x, y));
        } else if !cur.is_empty() {
            runs.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        runs.push(cur);
    }
    runs
}

/// Short tick labels: plain decimals for ordinary magnitudes, scientific otherwise.
fn tick(v: &f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".to_string()
    } else if (1e-3..1e5).contains(&a) {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v:.1e}")
    }
}

fn pow10_tick(v: &f64) -> String {
    format!("{:.0e}", 10f64.powf(*v))
}

/// Draws `lines` on `area` with axes, ticks, titles and (if any line is labelled) a legend.
pub(crate) fn draw_lines(
    area: &Area<'_>,
    panel: &Panel<'_>,
    lines: &[Line],
) -> Result<(), ReportError> {
    let (x0, x1) = span(lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)));
    let (y0, y1) = span(lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)));
    let mut chart = ChartBuilder::on(area)
        .caption(panel.title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    let x_fmt: &dyn Fn(&f64) -> String = if panel.log10_x { &pow10_tick } else { &tick };
    chart
        .configure_mesh()
        .x_desc(panel.x_desc)
        .y_desc(panel.y_desc)
        .x_label_formatter(x_fmt)
        .y_label_formatter(&tick)
        .x_labels(8)
        .y_labels(8)
        .draw()?;
    let mut labelled = false;
    for line in lines {
        let style = ShapeStyle::from(line.color).stroke_width(2);
        for run in finite_runs(&line.points) {
            if run.len() == 1 {
                chart.draw_series(std::iter::once(Circle::new(run[0], 2, style.filled())))?;
            } else {
                chart.draw_series(LineSeries::new(run, style))?;
            }
        }
        if let Some(label) = &line.label {
            labelled = true;
            let color = line.color;
            chart
                .draw_series(LineSeries::new(std::iter::empty(), style))?
                .label(label.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
        }
    }
    if labelled {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 13))
            .draw()?;
    }
    Ok(())
}
