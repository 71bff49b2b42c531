//! [`ActivationStats`]: the lesson's `Hooks(model, append_stats)`, plus the course's
//! next refinement, a histogram per layer per batch.

use std::cell::{Cell, RefCell};
use std::path::Path;
use std::rc::Rc;

use layers::{HookEvent, HookHandle, Module, ModuleExt};
use tensor::{CpuStorage, Tensor};

use crate::callbacks::histogram::{summarize, ActSummary, HistSpec};
use crate::error::Result;
use crate::report::{plot_activation_histograms, plot_activation_stats};
use crate::runner::{Callback, CbResult, Ctx, Flow};

/// The statistics recorded for one layer: one entry per training batch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LayerStats {
    /// The layer's dotted name in the model.
    pub name: String,
    /// The layer's type name.
    pub type_name: &'static str,
    /// Mean of the whole output.
    pub means: Vec<f64>,
    /// Unbiased std of the whole output.
    pub stds: Vec<f64>,
    /// Histogram of the output ([`HistSpec`] bins).
    pub hists: Vec<Vec<f64>>,
}

/// Records, for every training forward pass, the mean, the unbiased std and a histogram
/// of the output of each top-level layer of the model (each direct child; the model itself
/// if it has none), through forward hooks registered at `begin_fit` and removed at
/// `after_fit`. Validation batches are not recorded (the lesson's `if mod.training`).
///
/// The statistics are computed on the host in `f64` from the output's memory (borrowed on
/// the CPU, copied from a GPU): this costs a device-to-host copy per layer per batch on a
/// GPU, which is why the train command only turns it on with `--stats`.
#[derive(Debug)]
pub struct ActivationStats {
    spec: HistSpec,
    layers: Rc<RefCell<Vec<LayerStats>>>,
    active: Rc<Cell<bool>>,
    handles: Vec<HookHandle>,
}

impl ActivationStats {
    /// Records with the histogram bins of `spec`.
    pub fn new(spec: HistSpec) -> Self {
        ActivationStats {
            spec,
            layers: Rc::default(),
            active: Rc::default(),
            handles: Vec::new(),
        }
    }

    /// A copy of what was recorded, one entry per hooked layer.
    pub fn layers(&self) -> Vec<LayerStats> {
        self.layers.borrow().clone()
    }

    /// The histogram bins used.
    pub fn spec(&self) -> HistSpec {
        self.spec
    }

    /// Writes the lesson's plots into `dir`: `activations_first10.png` (means and stds of
    /// the first 10 iterations), `activations_all.png` (all iterations) and
    /// `activation_histograms.png` (one heat map per layer). Returns the files written;
    /// nothing is written when nothing was recorded.
    pub fn write_plots(&self, dir: &Path) -> Result<Vec<std::path::PathBuf>> {
        let layers = self.layers.borrow();
        if layers.is_empty() || layers[0].means.is_empty() {
            return Ok(Vec::new());
        }
        let means: Vec<Vec<f64>> = layers.iter().map(|l| l.means.clone()).collect();
        let stds: Vec<Vec<f64>> = layers.iter().map(|l| l.stds.clone()).collect();
        let hists: Vec<Vec<Vec<f64>>> = layers.iter().map(|l| l.hists.clone()).collect();
        let first = dir.join("activations_first10.png");
        let all = dir.join("activations_all.png");
        let hist = dir.join("activation_histograms.png");
        plot_activation_stats(&first, &means, &stds, Some(10))?;
        plot_activation_stats(&all, &means, &stds, None)?;
        plot_activation_histograms(&hist, &hists)?;
        Ok(vec![first, all, hist])
    }
}

/// The modules to hook: the model's direct children, or the model itself.
fn top_level(model: &dyn Module) -> Vec<(String, &dyn Module)> {
    let children: Vec<_> = model
        .named_modules()
        .into_iter()
        .filter(|(path, _)| !path.is_empty() && !path.contains('.'))
        .collect();
    if children.is_empty() {
        vec![(String::new(), model)]
    } else {
        children
    }
}

/// The summary of a tensor's elements, reading host memory in place when it is there.
fn summarize_tensor(t: &Tensor, spec: &HistSpec) -> tensor::Result<ActSummary> {
    match t.cpu_storage() {
        Ok(CpuStorage::F32(v)) => Ok(summarize(v, spec)),
        Ok(CpuStorage::F64(v)) => Ok(summarize(v, spec)),
        Err(_) => Ok(summarize(&t.to_vec_f64()?, spec)),
    }
}

impl Callback for ActivationStats {
    fn name(&self) -> &'static str {
        "activation_stats"
    }

    fn begin_fit(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        self.handles.clear();
        let mut layers = Vec::new();
        for (index, (name, module)) in top_level(ctx.learn.model.as_ref()).into_iter().enumerate() {
            layers.push(LayerStats {
                name: name.clone(),
                type_name: module.type_name(),
                ..LayerStats::default()
            });
            let (store, active, spec) =
                (Rc::clone(&self.layers), Rc::clone(&self.active), self.spec);
            let handle = module.hooks().register(move |ev: &HookEvent<'_>| {
                if !active.get() {
                    return Ok(());
                }
                let s = summarize_tensor(&ev.output.value_ref(), &spec)?;
                let mut store = store.borrow_mut();
                if let Some(layer) = store.get_mut(index) {
                    layer.means.push(s.mean);
                    layer.stds.push(s.std);
                    layer.hists.push(s.hist);
                }
                Ok(())
            });
            self.handles.push(handle);
        }
        *self.layers.borrow_mut() = layers;
        Ok(Flow::Continue)
    }

    fn begin_batch(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        self.active.set(ctx.state.in_train);
        Ok(Flow::Continue)
    }

    fn after_batch(&mut self, _ctx: &mut Ctx<'_>) -> CbResult {
        self.active.set(false);
        Ok(Flow::Continue)
    }

    fn after_fit(&mut self, _ctx: &mut Ctx<'_>) -> CbResult {
        self.active.set(false);
        self.handles.clear();
        Ok(Flow::Continue)
    }
}
