//! From the probes of the first non-finite batch to a [`Diagnosis`]: which module, and why.

use std::fmt;

use layers::{Module, ModuleExt};
use tensor::Tensor;

use crate::callbacks::nonfinite::probe::{BatchProbe, ModuleProbe};

/// NaN or infinity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonFiniteKind {
    /// At least one NaN.
    NaN,
    /// Infinite values and no NaN.
    Infinite,
}

impl fmt::Display for NonFiniteKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NonFiniteKind::NaN => "NaN",
            NonFiniteKind::Infinite => "infinite values",
        })
    }
}

/// The first place a run went non-finite.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnosis {
    /// Dotted name of the module (`"0.2"`), or `"loss"` when every module's output was
    /// finite and the loss was not.
    pub module: String,
    /// Its type name (`"InstanceNorm"`).
    pub type_name: String,
    /// NaN or infinity.
    pub kind: NonFiniteKind,
    /// Why, as far as can be told.
    pub why: String,
    /// The epoch of the batch.
    pub epoch: usize,
    /// The batch's index in its phase.
    pub iter: usize,
    /// Whether it was a training batch.
    pub training: bool,
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}) produced {}: {} [epoch {}, {} batch {}]",
            self.module,
            self.type_name,
            self.kind,
            self.why,
            self.epoch,
            if self.training {
                "training"
            } else {
                "validation"
            },
            self.iter
        )
    }
}

fn finite(t: &Tensor) -> tensor::Result<bool> {
    Ok(t.to_scalar()?.is_finite())
}

/// Finds the first non-finite module output (or loss) in `window`, oldest batch first and
/// in forward order within a batch. `names[i]` is `(dotted name, type name)` of hooked
/// module `i`.
pub(crate) fn diagnose(
    window: &[BatchProbe],
    names: &[(String, &'static str)],
    model: &dyn Module,
) -> tensor::Result<Option<Diagnosis>> {
    for batch in window {
        for (k, probe) in batch.modules.iter().enumerate() {
            if finite(&probe.output_sum)? {
                continue;
            }
            let (name, type_name) = names
                .get(probe.module)
                .cloned()
                .unwrap_or_else(|| (format!("#{}", probe.module), "?"));
            let io = batch.io.get(k);
            let kind = match io {
                Some((_, y)) => kind_of(y)?,
                None if probe.output_sum.to_scalar()?.is_nan() => NonFiniteKind::NaN,
                None => NonFiniteKind::Infinite,
            };
            let why = explain(probe, io, type_name, &name, model)?;
            return Ok(Some(Diagnosis {
                module: name,
                type_name: type_name.to_string(),
                kind,
                why,
                epoch: batch.epoch,
                iter: batch.iter,
                training: batch.training,
            }));
        }
        if let Some(loss) = &batch.loss {
            let v = loss.to_scalar()?;
            if !v.is_finite() {
                return Ok(Some(Diagnosis {
                    module: "loss".into(),
                    type_name: "loss function".into(),
                    kind: if v.is_nan() {
                        NonFiniteKind::NaN
                    } else {
                        NonFiniteKind::Infinite
                    },
                    why: "every hooked module's output was finite, so the loss itself \
                          overflowed or got invalid targets"
                        .into(),
                    epoch: batch.epoch,
                    iter: batch.iter,
                    training: batch.training,
                }));
            }
        }
    }
    Ok(None)
}

fn kind_of(t: &Tensor) -> tensor::Result<NonFiniteKind> {
    let v = t.to_vec_f64()?;
    Ok(if v.iter().any(|x| x.is_nan()) {
        NonFiniteKind::NaN
    } else {
        NonFiniteKind::Infinite
    })
}

/// Why module `name` produced a non-finite output.
fn explain(
    probe: &ModuleProbe,
    io: Option<&(Tensor, Tensor)>,
    type_name: &str,
    name: &str,
    model: &dyn Module,
) -> tensor::Result<String> {
    if !finite(&probe.input_sum)? {
        return Ok(
            "its input was already non-finite (NaN or infinity entered from outside \
                   the hooked modules, e.g. the data)"
                .into(),
        );
    }
    if let Some(slot) = non_finite_state(model, name)? {
        return Ok(format!(
            "its input was finite but its `{slot}` holds non-finite values (an earlier \
             update or statistics update diverged)"
        ));
    }
    if let Some(why) = shape_reason(type_name, &probe.input_shape) {
        return Ok(why);
    }
    match io {
        Some((x, y)) => {
            let xs = x.to_vec_f64()?;
            let ys = y.to_vec_f64()?;
            let max_abs = xs.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let n = xs.len().max(1) as f64;
            let mean = xs.iter().sum::<f64>() / n;
            let var = xs.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
            let bad = ys.iter().filter(|v| !v.is_finite()).count();
            Ok(format!(
                "its input was finite (max |x| = {max_abs:.3e}, variance {var:.3e}) but {bad} \
                 of {} output values are not: an overflow, or a division by a vanishing \
                 scale inside the layer",
                ys.len()
            ))
        }
        None => Ok("its input was finite and its output was not".into()),
    }
}

/// The first parameter or buffer of module `name` (its own, not its children's) that
/// holds a non-finite value.
fn non_finite_state(model: &dyn Module, name: &str) -> tensor::Result<Option<String>> {
    let Some((_, module)) = model.named_modules().into_iter().find(|(p, _)| p == name) else {
        return Ok(None);
    };
    for (slot, var) in module
        .local_parameters()
        .into_iter()
        .chain(module.local_buffers())
    {
        if var.value_ref().to_vec_f64()?.iter().any(|v| !v.is_finite()) {
            return Ok(Some(slot.to_string()));
        }
    }
    Ok(None)
}

/// Reasons that follow from the layer's type and its input's shape alone: the statistics a
/// norm takes over a single value.
fn shape_reason(type_name: &str, shape: &[usize]) -> Option<String> {
    let [n, c, h, w] = *shape else {
        return None;
    };
    let t = type_name.to_ascii_lowercase();
    if t.contains("instance") && h * w == 1 {
        return Some(format!(
            "its input had a {h}x{w} spatial map, unbiased variance 0/0"
        ));
    }
    if t.contains("running") && n == 1 {
        return Some(
            "a batch of 1: its momentum 1 - (1 - mom)/sqrt(bs - 1) divides by zero".into(),
        );
    }
    if t.contains("layer") && c * h * w == 1 {
        return Some("its input had one value per sample, unbiased variance 0/0".into());
    }
    if t.contains("batch") && !t.contains("running") && n * h * w == 1 {
        return Some(format!(
            "its input had one value per channel (batch {n}, {h}x{w} map), unbiased variance 0/0"
        ));
    }
    None
}
