//! Plots of what the lesson's `Recorder` callback keeps: the loss and the learning rate of
//! every training iteration, and the LR finder's loss against learning rate.

use std::path::Path;

use super::canvas::render_png;
use super::error::ReportError;
use super::lines::{draw_lines, series_color, Line, Panel};

/// Writes a PNG with two panels: loss per iteration (left) and learning rate per iteration
/// (right). Point `i` of each series is plotted at x = `i`.
///
/// Non-finite values leave gaps. Errors: [`ReportError::Empty`] if either series is empty;
/// I/O and drawing errors.
pub fn plot_loss_and_lr(
    path: impl AsRef<Path>,
    losses: &[f64],
    lrs: &[f64],
) -> Result<(), ReportError> {
    if losses.is_empty() {
        return Err(ReportError::Empty { what: "losses" });
    }
    if lrs.is_empty() {
        return Err(ReportError::Empty {
            what: "learning rates",
        });
    }
    let by_iteration = |ys: &[f64]| -> Vec<(f64, f64)> {
        ys.iter().enumerate().map(|(i, &y)| (i as f64, y)).collect()
    };
    render_png(path.as_ref(), (1100, 420), |root| {
        let panels = root.split_evenly((1, 2));
        draw_lines(
            &panels[0],
            &Panel {
                title: "loss",
                x_desc: "iteration",
                y_desc: "loss",
                log10_x: false,
            },
            &[Line {
                label: None,
                color: series_color(0),
                points: by_iteration(losses),
            }],
        )?;
        draw_lines(
            &panels[1],
            &Panel {
                title: "learning rate",
                x_desc: "iteration",
                y_desc: "lr",
                log10_x: false,
            },
            &[Line {
                label: None,
                color: series_color(1),
                points: by_iteration(lrs),
            }],
        )
    })
}

/// Writes the LR finder's plot: loss against learning rate on a log-scale x axis.
///
/// `lrs[i]` and `losses[i]` belong to iteration `i`; the x position is `log10(lr)` with tick
/// labels showing the learning rate itself. Points whose learning rate is not a positive
/// finite number (they have no place on a log axis) are left out, as are non-finite losses.
///
/// Errors: [`ReportError::Empty`] if the series are empty or no learning rate is positive,
/// [`ReportError::LengthMismatch`] if their lengths differ; I/O and drawing errors.
pub fn plot_lr_finder(
    path: impl AsRef<Path>,
    lrs: &[f64],
    losses: &[f64],
) -> Result<(), ReportError> {
    if lrs.len() != losses.len() {
        return Err(ReportError::LengthMismatch {
            left: "lrs",
            left_len: lrs.len(),
            right: "losses",
            right_len: losses.len(),
        });
    }
    if lrs.is_empty() {
        return Err(ReportError::Empty {
            what: "learning rates",
        });
    }
    let points: Vec<(f64, f64)> = lrs
        .iter()
        .zip(losses)
        .filter(|(lr, _)| lr.is_finite() && **lr > 0.0)
        .map(|(lr, loss)| (lr.log10(), *loss))
        .collect();
    if points.is_empty() {
        return Err(ReportError::Empty {
            what: "positive finite learning rates",
        });
    }
    render_png(path.as_ref(), (720, 480), |root| {
        draw_lines(
            root,
            &Panel {
                title: "LR finder",
                x_desc: "learning rate (log scale)",
                y_desc: "loss",
                log10_x: true,
            },
            &[Line {
                label: None,
                color: series_color(0),
                points,
            }],
        )
    })
}
