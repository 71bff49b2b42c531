//! A run saved after one epoch and resumed gives bit-identical results to an uninterrupted
//! run.

mod common;

use std::collections::BTreeMap;

use common::{bunch, linear_model};
use layers::ModuleExt;
use learner::callbacks::{accuracy, AvgStats, CheckpointSaver, ParamScheduler};
use learner::checkpoint::{load_checkpoint, read_train_state};
use learner::{Learner, Runner, Sgd};
use schedule::sched_cos;

fn learner(seed: u64) -> Learner {
    let model = linear_model(4, 3, seed);
    let opt = Sgd::new(model.parameters(), 0.2)
        .unwrap()
        .with_momentum(0.9)
        .unwrap();
    Learner::new(model, bunch(3, 2, 4), 0.2)
        .unwrap()
        .with_opt(opt)
}

fn runner(extra: Vec<Box<dyn learner::Callback>>) -> Runner {
    let mut r = Runner::with_callbacks(vec![
        Box::new(AvgStats::new(vec![accuracy()])),
        Box::new(ParamScheduler::new(
            "lr",
            Box::new(sched_cos(0.5, 0.05).unwrap()),
        )),
    ]);
    for cb in extra {
        r.add(cb);
    }
    r
}

fn params(learn: &Learner) -> Vec<Vec<f32>> {
    learn
        .model
        .parameters()
        .iter()
        .map(|p| p.value().to_vec::<f32>().unwrap())
        .collect()
}

#[test]
fn resume_from_a_checkpoint_matches_an_uninterrupted_run() {
    // Uninterrupted: 3 epochs.
    let mut a = learner(1);
    let mut run_a = runner(vec![]);
    run_a.fit(3, &mut a).unwrap();
    let hist_a = run_a.callback::<AvgStats>().unwrap().history().to_vec();

    // Interrupted: epoch 0 of the same 3-epoch run, checkpointed, then stopped.
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("ckpt");
    let config: BTreeMap<String, String> = [("norm".to_string(), "none".to_string())].into();
    let mut c = learner(1);
    let mut run_c = runner(vec![Box::new(CheckpointSaver::new(&ckpt, config.clone()))]);
    run_c.add(Box::new(StopAfterEpoch(0)));
    run_c.fit(3, &mut c).unwrap();
    let state = read_train_state(&ckpt).unwrap();
    assert_eq!(state.epochs_done, 1);
    assert_eq!(state.n_iter, 3);
    assert_eq!(state.config, config);

    // A new learner with a different initialisation, restored from the checkpoint.
    let mut d = learner(99);
    let loaded = load_checkpoint(&ckpt, d.model.as_ref(), &mut d.opt).unwrap();
    assert_eq!(loaded, state);
    let mut run_d = runner(vec![]);
    run_d
        .fit_from(3, &mut d, loaded.epochs_done, loaded.n_iter)
        .unwrap();
    let hist_d = run_d.callback::<AvgStats>().unwrap().history().to_vec();

    assert_eq!(params(&a), params(&d), "parameters are bit-identical");
    assert_eq!(hist_d.len(), 2);
    for (x, y) in hist_a[1..].iter().zip(&hist_d) {
        assert_eq!(x.epoch, y.epoch);
        assert_eq!(x.train.loss.to_bits(), y.train.loss.to_bits());
        assert_eq!(x.valid.loss.to_bits(), y.valid.loss.to_bits());
        assert_eq!(x.valid.metrics, y.valid.metrics);
        assert_eq!(x.lr.to_bits(), y.lr.to_bits());
    }
}

/// Cancels training at the end of epoch `n` (after the checkpoint, which has order 20).
struct StopAfterEpoch(usize);

impl learner::Callback for StopAfterEpoch {
    fn name(&self) -> &'static str {
        "stop_after_epoch"
    }
    fn order(&self) -> i32 {
        30
    }
    fn after_epoch(&mut self, ctx: &mut learner::Ctx<'_>) -> learner::CbResult {
        Ok(if ctx.state.epoch == self.0 {
            learner::Flow::CancelTrain
        } else {
            learner::Flow::Continue
        })
    }
}

#[test]
fn a_tampered_checkpoint_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = learner(1);
    let mut r = runner(vec![Box::new(CheckpointSaver::new(
        dir.path(),
        BTreeMap::new(),
    ))]);
    r.fit(1, &mut l).unwrap();
    let model_file = dir.path().join(learner::checkpoint::MODEL_FILE);
    let mut bytes = std::fs::read(&model_file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&model_file, bytes).unwrap();
    let mut m = learner(2);
    let err = load_checkpoint(dir.path(), m.model.as_ref(), &mut m.opt).unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
    let err = read_train_state(&dir.path().join("missing")).unwrap_err();
    assert!(err.to_string().contains("no such checkpoint"), "{err}");
}
