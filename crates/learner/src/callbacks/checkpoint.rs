//! [`CheckpointSaver`]: saves the run after every completed epoch.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::checkpoint::save_checkpoint;
use crate::runner::{Callback, CbResult, Ctx, Flow};

/// Writes a checkpoint (see [`crate::checkpoint`]) into one directory at the end of every
/// epoch, replacing the previous one. Order 20: after the statistics and the guard, so an
/// epoch the guard cancelled is not saved.
#[derive(Debug)]
pub struct CheckpointSaver {
    dir: PathBuf,
    config: BTreeMap<String, String>,
    saved: usize,
}

impl CheckpointSaver {
    /// Saves into `dir`, recording `config` (the run's settings) in each checkpoint.
    pub fn new(dir: impl Into<PathBuf>, config: BTreeMap<String, String>) -> Self {
        CheckpointSaver {
            dir: dir.into(),
            config,
            saved: 0,
        }
    }

    /// Checkpoints written so far.
    pub fn saved(&self) -> usize {
        self.saved
    }
}

impl Callback for CheckpointSaver {
    fn name(&self) -> &'static str {
        "checkpoint_saver"
    }

    fn order(&self) -> i32 {
        20
    }

    fn after_epoch(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        save_checkpoint(
            &self.dir,
            ctx.learn.model.as_ref(),
            &ctx.learn.opt,
            ctx.state.epoch + 1,
            ctx.state.n_iter,
            &self.config,
        )?;
        self.saved += 1;
        Ok(Flow::Continue)
    }
}
