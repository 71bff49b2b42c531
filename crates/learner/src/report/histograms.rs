//! Activation histograms over time, the lesson's next refinement of the statistics hooks:
//! per layer, one histogram of the layer's output per training iteration (40 bins in the
//! course), drawn as an image with x = iteration, y = bin (lowest bin at the bottom) and
//! colour = `log(1 + count)`, scaled to the panel's largest value.

use std::path::Path;

use plotters::prelude::*;

use super::canvas::{render_png, Area};
use super::colormap::ramp;
use super::error::ReportError;

/// At most this many image columns per panel; longer runs average neighbouring iterations.
pub const MAX_HISTOGRAM_COLUMNS: usize = 1000;

const PANEL_W: u32 = 540;
const PANEL_H: u32 = 300;

/// Writes one heat-map panel per layer (two panels per row) to a PNG.
///
/// `layers[l][t][b]` is the count in bin `b` of layer `l`'s histogram at iteration `t`.
/// All histograms of a layer must have the same, non-zero number of bins; counts must be
/// finite and non-negative. When a layer has more than [`MAX_HISTOGRAM_COLUMNS`] iterations,
/// each column shows the mean count of a run of consecutive iterations.
///
/// Errors: [`ReportError::Empty`] with no layers, [`ReportError::EmptyLayer`] for a layer
/// without histograms or with zero-bin histograms, [`ReportError::RaggedHistogram`],
/// [`ReportError::InvalidCount`]; I/O and drawing errors.
pub fn plot_activation_histograms(
    path: impl AsRef<Path>,
    layers: &[Vec<Vec<f64>>],
) -> Result<(), ReportError> {
    if layers.is_empty() {
        return Err(ReportError::Empty { what: "layers" });
    }
    for (layer, hists) in layers.iter().enumerate() {
        validate_layer(layer, hists)?;
    }
    let cols = layers.len().min(2);
    let rows = layers.len().div_ceil(cols);
    let size = (PANEL_W * cols as u32, PANEL_H * rows as u32);
    render_png(path.as_ref(), size, |root| {
        let panels = root.split_evenly((rows, cols));
        for (layer, hists) in layers.iter().enumerate() {
            draw_panel(&panels[layer], layer, hists)?;
        }
        Ok(())
    })
}

fn validate_layer(layer: usize, hists: &[Vec<f64>]) -> Result<(), ReportError> {
    let Some(first) = hists.first() else {
        return Err(ReportError::EmptyLayer {
            what: "histograms",
            layer,
        });
    };
    let bins = first.len();
    if bins == 0 {
        return Err(ReportError::EmptyLayer {
            what: "histogram bins",
            layer,
        });
    }
    for (iteration, h) in hists.iter().enumerate() {
        if h.len() != bins {
            return Err(ReportError::RaggedHistogram {
                layer,
                iteration,
                expected: bins,
                found: h.len(),
            });
        }
        if let Some((bin, &value)) = h
            .iter()
            .enumerate()
            .find(|(_, c)| !c.is_finite() || **c < 0.0)
        {
            return Err(ReportError::InvalidCount {
                layer,
                iteration,
                bin,
                value,
            });
        }
    }
    Ok(())
}

/// Mean histogram of each run of iterations: `(start, end, counts)` per image column.
fn columns(hists: &[Vec<f64>]) -> Vec<(usize, usize, Vec<f64>)> {
    let n = hists.len();
    let cols = n.min(MAX_HISTOGRAM_COLUMNS);
    (0..cols)
        .map(|c| {
            let (start, end) = (c * n / cols, (c + 1) * n / cols);
            let mut mean = vec![0.0; hists[start].len()];
            for h in &hists[start..end] {
                for (m, v) in mean.iter_mut().zip(h) {
                    *m += v;
                }
            }
            let k = (end - start) as f64;
            mean.iter_mut().for_each(|m| *m /= k);
            (start, end, mean)
        })
        .collect()
}

fn draw_panel(area: &Area<'_>, layer: usize, hists: &[Vec<f64>]) -> Result<(), ReportError> {
    let bins = hists[0].len();
    let cols = columns(hists);
    let max_log = cols
        .iter()
        .flat_map(|(_, _, c)| c.iter())
        .map(|c| c.ln_1p())
        .fold(0.0, f64::max);
    let mut chart = ChartBuilder::on(area)
        .caption(format!("layer {layer}"), ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(44)
        .build_cartesian_2d(0.0..hists.len() as f64, 0.0..bins as f64)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("iteration")
        .y_desc("bin")
        .x_labels(6)
        .y_labels(5)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    let cells = cols.iter().flat_map(|(start, end, counts)| {
        counts.iter().enumerate().map(move |(b, &c)| {
            let t = if max_log > 0.0 {
                c.ln_1p() / max_log
            } else {
                0.0
            };
            Rectangle::new(
                [(*start as f64, b as f64), (*end as f64, (b + 1) as f64)],
                ramp(t).filled(),
            )
        })
    });
    chart.draw_series(cells)?;
    Ok(())
}
