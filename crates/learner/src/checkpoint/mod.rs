//! Saving and resuming a run.
//!
//! A checkpoint is a directory of three files, each written atomically:
//!
//! * `model.safetensors`: the model's state dict (parameters and buffers by PyTorch's
//!   dotted names), readable by PyTorch;
//! * `optimizer.safetensors` (only with momentum): the momentum buffers, named by their
//!   parameter's dotted name;
//! * `state.json`: [`TrainState`]: epochs done, training iterations, the optimiser's
//!   hyper-parameters and step count, the run's configuration, and the MD5 of the two
//!   tensor files. It is written last and checked on load, so a save interrupted between
//!   files is detected instead of resuming from mixed states.

mod digest;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use layers::{
    load_safetensors, load_state_dict, save_safetensors, state_dict, Module, ModuleExt, StateDict,
};
use serde::{Deserialize, Serialize};

use self::digest::file_md5;
use crate::error::{LearnerError, Result};
use crate::optim::{Sgd, SgdState};

/// The model's file in a checkpoint directory.
pub const MODEL_FILE: &str = "model.safetensors";
/// The momentum buffers' file.
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
/// The training state's file.
pub const STATE_FILE: &str = "state.json";
/// The format version written in [`TrainState::format`].
pub const FORMAT: u32 = 1;

/// Where a run stands, as saved beside the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// [`FORMAT`].
    pub format: u32,
    /// Epochs completed: the epoch a resumed run starts with.
    pub epochs_done: usize,
    /// Training batches completed.
    pub n_iter: usize,
    /// The optimiser's scalar state.
    pub opt: SgdState,
    /// The run's settings (norm, batch size, schedule, seed, ...), compared on resume.
    pub config: BTreeMap<String, String>,
    /// MD5 of `model.safetensors`.
    pub model_md5: String,
    /// MD5 of `optimizer.safetensors`, when there is one.
    pub optimizer_md5: Option<String>,
}

fn bad(path: &Path, reason: impl Into<String>) -> LearnerError {
    LearnerError::Checkpoint {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Pairs each optimiser slot with its parameter's dotted name in `model`.
fn param_names(model: &dyn Module, opt: &Sgd) -> Result<Vec<String>> {
    let named = model.named_parameters();
    opt.params()
        .iter()
        .map(|p| {
            named
                .iter()
                .find(|(_, v)| v.id() == p.id())
                .map(|(n, _)| n.clone())
                .ok_or_else(|| {
                    LearnerError::Data("the optimiser holds a parameter the model does not".into())
                })
        })
        .collect()
}

/// Writes `bytes` to `path` atomically (see the `atomic-file` crate): a reader or a resumed
/// run sees the old file or the complete new one. The directory must exist.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    atomic_file::write_atomic(path, bytes).map_err(|e| LearnerError::io(path, e))
}

/// Saves `model`, `opt` and the run's position into `dir` (created if needed).
pub fn save_checkpoint(
    dir: &Path,
    model: &dyn Module,
    opt: &Sgd,
    epochs_done: usize,
    n_iter: usize,
    config: &BTreeMap<String, String>,
) -> Result<TrainState> {
    fs::create_dir_all(dir).map_err(|e| LearnerError::io(dir, e))?;
    let model_path = dir.join(MODEL_FILE);
    save_safetensors(&model_path, &state_dict(model))
        .map_err(|e| bad(&model_path, e.to_string()))?;
    let names = param_names(model, opt)?;
    let mut buffers = StateDict::new();
    for (name, buf) in names.iter().zip(opt.momentum_buffers()) {
        if let Some(b) = buf {
            buffers.insert(name.clone(), b.clone());
        }
    }
    let opt_path = dir.join(OPTIMIZER_FILE);
    let optimizer_md5 = if buffers.is_empty() {
        None
    } else {
        save_safetensors(&opt_path, &buffers).map_err(|e| bad(&opt_path, e.to_string()))?;
        Some(file_md5(&opt_path)?)
    };
    let state = TrainState {
        format: FORMAT,
        epochs_done,
        n_iter,
        opt: opt.state(),
        config: config.clone(),
        model_md5: file_md5(&model_path)?,
        optimizer_md5,
    };
    let json =
        serde_json::to_vec_pretty(&state).map_err(|e| bad(&dir.join(STATE_FILE), e.to_string()))?;
    write_atomic(&dir.join(STATE_FILE), &json)?;
    Ok(state)
}

/// Reads `dir/state.json`.
pub fn read_train_state(dir: &Path) -> Result<TrainState> {
    let path = dir.join(STATE_FILE);
    if !dir.is_dir() {
        return Err(bad(dir, "no such checkpoint directory"));
    }
    let text = fs::read_to_string(&path).map_err(|e| LearnerError::io(&path, e))?;
    let state: TrainState = serde_json::from_str(&text).map_err(|e| bad(&path, e.to_string()))?;
    if state.format != FORMAT {
        return Err(bad(
            &path,
            format!("format {} (this build reads {FORMAT})", state.format),
        ));
    }
    Ok(state)
}

/// Loads a checkpoint into `model` and `opt` (strict names and shapes; values keep the
/// model's device and dtype) and returns the saved position.
pub fn load_checkpoint(dir: &Path, model: &dyn Module, opt: &mut Sgd) -> Result<TrainState> {
    let state = read_train_state(dir)?;
    let model_path = dir.join(MODEL_FILE);
    if file_md5(&model_path)? != state.model_md5 {
        return Err(bad(
            &model_path,
            "does not match state.json (an interrupted save?)",
        ));
    }
    let sd = load_safetensors(&model_path).map_err(|e| bad(&model_path, e.to_string()))?;
    load_state_dict(model, &sd, true).map_err(|e| bad(&model_path, e.to_string()))?;
    let names = param_names(model, opt)?;
    let mut buffers = vec![None; names.len()];
    if let Some(md5) = &state.optimizer_md5 {
        let opt_path = dir.join(OPTIMIZER_FILE);
        if &file_md5(&opt_path)? != md5 {
            return Err(bad(
                &opt_path,
                "does not match state.json (an interrupted save?)",
            ));
        }
        let sd = load_safetensors(&opt_path).map_err(|e| bad(&opt_path, e.to_string()))?;
        for (slot, (name, p)) in buffers.iter_mut().zip(names.iter().zip(opt.params())) {
            if let Some(t) = sd.get(name) {
                let like = p.value();
                *slot = Some(t.to_dtype(like.dtype())?.to_device(like.device())?);
            }
        }
    }
    opt.set_momentum_buffers(buffers)?;
    opt.load_state(&state.opt)?;
    Ok(state)
}

/// The default checkpoint directory of a run directory.
pub fn checkpoint_dir(run_dir: &Path) -> PathBuf {
    run_dir.join("checkpoint")
}
