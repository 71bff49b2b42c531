//! Parameter scheduling positions, the LR finder's rule, averaged statistics and the
//! recorder.

mod common;

use common::{bunch, linear_model, synthetic};
use learner::callbacks::{accuracy, AvgStats, LrFinder, ParamScheduler, Recorder};
use learner::{Callback, CbResult, Ctx, DataBunch, DataLoader, Flow, Learner, Runner};
use schedule::sched_lin;

#[test]
fn param_scheduler_sees_positions_from_zero_to_just_under_one() {
    let mut learn = Learner::new(linear_model(4, 3, 0), bunch(4, 1, 2), 0.1).unwrap();
    let sched =
        ParamScheduler::new("lr", Box::new(sched_lin(1.0, 0.2).unwrap())).keeping_positions();
    let mut runner = Runner::with_callbacks(vec![Box::new(sched), Box::new(Recorder::new())]);
    runner.fit(2, &mut learn).unwrap();
    let pos = runner
        .callback::<ParamScheduler>()
        .unwrap()
        .positions()
        .to_vec();
    let want: Vec<f64> = (0..8).map(|i| i as f64 / 8.0).collect();
    assert_eq!(pos, want);
    // The lr of every batch is the schedule at its position, overriding the initial 0.1.
    let lrs = runner.callback::<Recorder>().unwrap().lrs().to_vec();
    let want_lrs: Vec<f64> = want.iter().map(|p| 1.0 + p * (0.2 - 1.0)).collect();
    assert_eq!(lrs.len(), 8);
    for (a, b) in lrs.iter().zip(&want_lrs) {
        assert!((a - b).abs() < 1e-12, "{lrs:?} vs {want_lrs:?}");
    }
}

#[test]
fn param_scheduler_rejects_unknown_names_and_bad_values() {
    let mut learn = Learner::new(linear_model(4, 3, 0), bunch(1, 1, 2), 0.1).unwrap();
    let sched = ParamScheduler::new("beta", Box::new(sched_lin(1.0, 0.2).unwrap()));
    let mut runner = Runner::with_callbacks(vec![Box::new(sched)]);
    assert!(runner.fit(1, &mut learn).is_err());
    let sched = ParamScheduler::new("lr", Box::new(sched_lin(-1.0, -2.0).unwrap()));
    let mut runner = Runner::with_callbacks(vec![Box::new(sched)]);
    let err = runner.fit(1, &mut learn).unwrap_err().to_string();
    assert!(err.contains("lr"), "{err}");
}

#[test]
fn lr_finder_rule() {
    let mut f = LrFinder::new(100, 1e-6, 10.0).unwrap();
    assert!((f.lr_at(0) - 1e-6).abs() < 1e-18);
    assert!((f.lr_at(100) - 10.0).abs() < 1e-9);
    assert!((f.lr_at(50) - (1e-6f64 * 10.0).sqrt()).abs() < 1e-12);
    assert!(!f.should_stop(0, 5.0));
    assert!(!f.should_stop(1, 3.0));
    assert!(!f.should_stop(2, 29.0), "29 < 10 x 3");
    assert!(f.should_stop(3, 31.0), "31 > 10 x 3");
    assert_eq!(f.best_loss(), 3.0);
    let mut f = LrFinder::new(100, 1e-6, 10.0).unwrap();
    assert!(f.should_stop(100, 1.0), "budget spent");
    assert!(f.should_stop(0, f64::NAN));
    assert!(LrFinder::new(0, 1e-6, 10.0).is_err());
    assert!(LrFinder::new(10, 0.0, 10.0).is_err());
    assert!(LrFinder::new(10, 1.0, 0.5).is_err());
}

/// Replaces each training batch's loss (after the backward pass) with a scripted value.
struct ScriptedLoss(Vec<f64>, usize);

impl Callback for ScriptedLoss {
    fn name(&self) -> &'static str {
        "scripted_loss"
    }
    fn after_backward(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        let v = self.0[self.1.min(self.0.len() - 1)];
        self.1 += 1;
        let t = tensor::Tensor::scalar(v, tensor::DType::F32, tensor::Device::Cpu)?;
        ctx.state.loss = Some(autograd::Var::constant(t));
        Ok(Flow::Continue)
    }
}

fn sweep(losses: Vec<f64>, max_iter: usize) -> (Vec<f64>, Vec<f64>) {
    let mut learn = Learner::new(linear_model(4, 3, 0), bunch(3, 1, 2), 0.1).unwrap();
    let finder = LrFinder::new(max_iter, 1e-3, 1.0).unwrap();
    let r =
        learner::callbacks::lr_find(&mut learn, finder, vec![Box::new(ScriptedLoss(losses, 0))])
            .unwrap();
    (r.lrs, r.losses)
}

#[test]
fn lr_finder_stops_when_the_loss_explodes() {
    let (lrs, losses) = sweep(vec![5.0, 4.0, 3.0, 2.0, 25.0, 1.0, 1.0], 50);
    assert_eq!(
        losses.len(),
        5,
        "stops after the step whose loss is > 10 x best (2)"
    );
    assert_eq!(losses[4], 25.0);
    for (i, lr) in lrs.iter().enumerate() {
        let want = 1e-3 * (1.0f64 / 1e-3).powf(i as f64 / 50.0);
        assert!(
            (lr - want).abs() < 1e-12 * want.max(1.0),
            "{i}: {lr} vs {want}"
        );
    }
}

#[test]
fn lr_finder_stops_after_max_iter() {
    let (lrs, _) = sweep(vec![1.0], 6);
    // The check follows the step, as in the lesson: iterations 0..=6 run.
    assert_eq!(lrs.len(), 7);
    assert!((lrs[6] - 1.0).abs() < 1e-12);
}

/// Host-side cross-entropy and accuracy of `[n, c]` logits, in f64.
fn ce_and_acc(logits: &[f32], y: &[f32], c: usize) -> (f64, f64) {
    let n = y.len();
    let (mut loss, mut hits) = (0.0, 0.0);
    for i in 0..n {
        let row: Vec<f64> = logits[i * c..(i + 1) * c]
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        let t = y[i] as usize;
        loss += lse - row[t];
        let arg = (0..c).fold(0, |b, j| if row[j] > row[b] { j } else { b });
        if arg == t {
            hits += 1.0;
        }
    }
    (loss / n as f64, hits / n as f64)
}

#[test]
fn avg_stats_weights_batches_by_size() {
    // 5 training samples in batches of 2, 2, 1 and 7 validation samples in 3, 3, 1; with
    // lr 0 the model is fixed, so the weighted mean of batch means is the plain mean over
    // all samples, computed here on the host from one forward pass.
    let train = DataLoader::new(synthetic(5, 4, 3), 2, true, 1).unwrap();
    let valid = DataLoader::new(synthetic(7, 4, 3), 3, false, 1).unwrap();
    let model = linear_model(4, 3, 3);
    let mut learn = Learner::new(model, DataBunch::new(train, valid, 3), 0.0).unwrap();
    let mut runner = Runner::with_callbacks(vec![Box::new(AvgStats::new(vec![accuracy()]))]);
    runner.fit(1, &mut learn).unwrap();
    let stats = runner.callback::<AvgStats>().unwrap().history()[0].clone();
    for (phase, ds) in [
        (&stats.train, synthetic(5, 4, 3)),
        (&stats.valid, synthetic(7, 4, 3)),
    ] {
        let logits = autograd::no_grad(|| {
            learn
                .model
                .call(&autograd::Var::constant(ds.x().clone()))
                .unwrap()
                .value()
        });
        let (loss, acc) = ce_and_acc(
            &logits.to_vec::<f32>().unwrap(),
            &ds.y().to_vec::<f32>().unwrap(),
            3,
        );
        assert!((phase.loss - loss).abs() < 1e-5, "{} vs {loss}", phase.loss);
        assert!((phase.metric("accuracy").unwrap() - acc).abs() < 1e-6);
        assert_eq!(phase.count, ds.len());
    }
}

#[test]
fn recorder_keeps_one_entry_per_training_batch() {
    let mut learn = Learner::new(linear_model(4, 3, 0), bunch(3, 2, 2), 0.3).unwrap();
    let mut runner = Runner::with_callbacks(vec![Box::new(Recorder::new())]);
    runner.fit(2, &mut learn).unwrap();
    let rec = runner.callback::<Recorder>().unwrap();
    assert_eq!(rec.len(), 6);
    assert!(rec.lrs().iter().all(|&lr| lr == 0.3));
    let losses = rec.losses().unwrap();
    assert_eq!(losses.len(), 6);
    assert!(losses.iter().all(|l| l.is_finite() && *l > 0.0));
    let dir = tempfile::tempdir().unwrap();
    rec.plot_loss_and_lr(&dir.path().join("loss.png")).unwrap();
    assert!(dir.path().join("loss.png").is_file());
}
