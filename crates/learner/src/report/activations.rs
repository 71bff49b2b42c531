//! The lesson's per-layer activation statistics: for every training forward pass, the mean
//! and the (unbiased) standard deviation of each layer's whole output,
//! `m = sum(x) / n`, `s = sqrt(sum((x - m)^2) / (n - 1))`, plotted as one line per layer.

use std::path::Path;

use super::canvas::render_png;
use super::error::ReportError;
use super::lines::{draw_lines, series_color, Line, Panel};

/// Writes a PNG with two panels, means (left) and stds (right), one line per layer
/// (legend `layer i`), against the iteration index.
///
/// `means[l][t]` and `stds[l][t]` are layer `l`'s statistics at iteration `t`. With
/// `first = Some(k)` only the first `k` iterations are drawn (the lesson shows `k = 10`,
/// then all of them with `None`). Non-finite values leave gaps.
///
/// Errors: [`ReportError::Empty`] with no layers or `first = Some(0)`,
/// [`ReportError::LengthMismatch`] if `means` and `stds` have different numbers of layers,
/// [`ReportError::LayerLengthMismatch`] if one layer's series differ in length,
/// [`ReportError::EmptyLayer`] if a layer has no values; I/O and drawing errors.
pub fn plot_activation_stats(
    path: impl AsRef<Path>,
    means: &[Vec<f64>],
    stds: &[Vec<f64>],
    first: Option<usize>,
) -> Result<(), ReportError> {
    if means.len() != stds.len() {
        return Err(ReportError::LengthMismatch {
            left: "means (layers)",
            left_len: means.len(),
            right: "stds (layers)",
            right_len: stds.len(),
        });
    }
    if means.is_empty() {
        return Err(ReportError::Empty { what: "layers" });
    }
    if first == Some(0) {
        return Err(ReportError::Empty {
            what: "iterations to show (first = 0)",
        });
    }
    for (layer, (m, s)) in means.iter().zip(stds).enumerate() {
        if m.len() != s.len() {
            return Err(ReportError::LayerLengthMismatch {
                layer,
                means: m.len(),
                stds: s.len(),
            });
        }
        if m.is_empty() {
            return Err(ReportError::EmptyLayer {
                what: "statistics",
                layer,
            });
        }
    }
    let limit = first.unwrap_or(usize::MAX);
    let lines = |series: &[Vec<f64>]| -> Vec<Line> {
        series
            .iter()
            .enumerate()
            .map(|(layer, ys)| Line {
                label: Some(format!("layer {layer}")),
                color: series_color(layer),
                points: ys
                    .iter()
                    .take(limit)
                    .enumerate()
                    .map(|(t, &y)| (t as f64, y))
                    .collect(),
            })
            .collect()
    };
    let scope = match first {
        Some(k) => format!(" (first {k} iterations)"),
        None => String::new(),
    };
    render_png(path.as_ref(), (1100, 440), |root| {
        let panels = root.split_evenly((1, 2));
        draw_lines(
            &panels[0],
            &Panel {
                title: &format!("activation means{scope}"),
                x_desc: "iteration",
                y_desc: "mean",
                log10_x: false,
            },
            &lines(means),
        )?;
        draw_lines(
            &panels[1],
            &Panel {
                title: &format!("activation stds{scope}"),
                x_desc: "iteration",
                y_desc: "std",
                log10_x: false,
            },
            &lines(stds),
        )
    })
}
