//! The non-finite guard names the first module whose output went NaN, and says why.

mod common;

use std::cell::Cell;
use std::rc::Rc;

use autograd::Var;
use common::{bunch, linear_model, CancelAt, Rec};
use layers::{Forward, Lambda, Linear, Module, ModuleCore, ModuleExt, Sequential};
use learner::callbacks::{GuardMode, NonFiniteGuard, NonFiniteKind};
use learner::{Callback, CbResult, Ctx, Event, FitOutcome, Flow, Learner, Runner};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// `Sequential[Linear(4, 4), Lambda((x - x) / (x - x)), Linear(4, 3)]`: the second module
/// computes 0/0 in every forward pass.
fn nan_model() -> Box<dyn layers::Module> {
    let mut rng = StdRng::seed_from_u64(0);
    Box::new(
        Sequential::new()
            .with(Linear::new(4, 4, &mut rng).unwrap())
            .with(Lambda::new("0/0", |x: &Var| {
                let z = x.sub(x)?;
                z.div(&z)
            }))
            .with(Linear::new(4, 3, &mut rng).unwrap()),
    )
}

/// Both ways of checking every batch: probing every forward pass, and replaying the batch
/// whose loss is not finite.
fn every_batch(mode: GuardMode) -> [NonFiniteGuard; 2] {
    [
        NonFiniteGuard::new(mode, 1),
        NonFiniteGuard::replaying(mode),
    ]
}

#[test]
fn guard_stops_and_names_the_module() {
    for guard in every_batch(GuardMode::Stop) {
        stops_and_names_the_module(guard);
    }
}

fn stops_and_names_the_module(guard: NonFiniteGuard) {
    let mut learn = Learner::new(nan_model(), bunch(3, 1, 2), 0.1).unwrap();
    let mut runner = Runner::with_callbacks(vec![Box::new(guard)]);
    let outcome = runner.fit(2, &mut learn).unwrap();
    assert_eq!(
        outcome,
        FitOutcome::Cancelled {
            epoch: 0,
            n_iter: 1
        }
    );
    let d = runner
        .callback::<NonFiniteGuard>()
        .unwrap()
        .diagnosis()
        .unwrap()
        .clone();
    assert_eq!(d.module, "1");
    assert_eq!(d.type_name, "Lambda");
    assert_eq!(d.kind, NonFiniteKind::NaN);
    assert_eq!((d.epoch, d.iter, d.training), (0, 0, true));
    let text = d.to_string();
    assert!(
        text.starts_with("1 (Lambda) produced NaN: its input was finite"),
        "{text}"
    );
    // Stopped before the step: the first layer's weights are still finite.
    for p in learn.opt.params() {
        assert!(p
            .value()
            .to_vec_f64()
            .unwrap()
            .iter()
            .all(|v| v.is_finite()));
    }
}

#[test]
fn guard_with_a_coarser_interval_still_finds_the_first_batch() {
    let mut learn = Learner::new(nan_model(), bunch(5, 1, 2), 0.1).unwrap();
    let mut runner =
        Runner::with_callbacks(vec![Box::new(NonFiniteGuard::new(GuardMode::Stop, 4))]);
    runner.fit(1, &mut learn).unwrap();
    let d = runner
        .callback::<NonFiniteGuard>()
        .unwrap()
        .diagnosis()
        .unwrap()
        .clone();
    assert_eq!((d.module.as_str(), d.iter), ("1", 0));
}

#[test]
fn report_mode_keeps_training() {
    for guard in every_batch(GuardMode::Report) {
        let mut learn = Learner::new(nan_model(), bunch(3, 1, 2), 0.1).unwrap();
        let mut runner = Runner::with_callbacks(vec![Box::new(guard)]);
        assert_eq!(runner.fit(2, &mut learn).unwrap(), FitOutcome::Completed);
        let d = runner.callback::<NonFiniteGuard>().unwrap().diagnosis();
        assert_eq!(d.unwrap().module, "1");
        assert_eq!((d.unwrap().epoch, d.unwrap().iter), (0, 0));
    }
}

#[test]
fn non_finite_data_is_blamed_on_the_input() {
    for training in [true, false] {
        for guard in every_batch(GuardMode::Stop) {
            blames_the_input(guard, training);
        }
    }
}

/// The samples of `loader` with every input NaN, in batches of `bs`.
fn all_nan(loader: &learner::DataLoader, bs: usize, shuffle: bool) -> learner::DataLoader {
    let ds = loader.dataset().as_tensor_dataset().unwrap();
    let x = ds.x();
    let nan = vec![f32::NAN; x.numel()];
    let x = tensor::Tensor::from_vec(nan, x.shape(), tensor::Device::Cpu).unwrap();
    let ds = learner::TensorDataset::new(x, ds.y().clone()).unwrap();
    learner::DataLoader::new(ds, bs, shuffle, 0).unwrap()
}

/// NaN inputs in the training batches (or, with `training` false, in the validation
/// batches only) are blamed on the data, in the phase they came in.
fn blames_the_input(guard: NonFiniteGuard, training: bool) {
    let mut data = bunch(2, 1, 2);
    if training {
        data.train = all_nan(&data.train, 2, true);
    } else {
        data.valid = all_nan(&data.valid, 2, false);
    }
    let mut learn = Learner::new(linear_model(4, 3, 0), data, 0.1).unwrap();
    let mut runner = Runner::with_callbacks(vec![Box::new(guard)]);
    runner.fit(1, &mut learn).unwrap();
    let d = runner
        .callback::<NonFiniteGuard>()
        .unwrap()
        .diagnosis()
        .unwrap()
        .clone();
    assert_eq!((d.module.as_str(), d.training, d.iter), ("0", training, 0));
    assert!(d.why.contains("input was already non-finite"), "{}", d.why);
}

#[test]
fn a_healthy_run_has_no_diagnosis() {
    for guard in every_batch(GuardMode::Stop) {
        let mut learn = Learner::new(linear_model(4, 3, 0), bunch(3, 1, 2), 0.1).unwrap();
        let mut runner = Runner::with_callbacks(vec![Box::new(guard)]);
        assert_eq!(runner.fit(2, &mut learn).unwrap(), FitOutcome::Completed);
        assert!(runner
            .callback::<NonFiniteGuard>()
            .unwrap()
            .diagnosis()
            .is_none());
    }
}

/// Set by [`PoisonAt`] for the batches it poisons; [`poisoned_model`]'s third module reads it.
type Flag = Rc<Cell<bool>>;

/// `Sequential[Linear(4, 4), BatchNorm1d(4), Lambda(x · NaN while the flag is set),
/// Linear(4, 3)]`: the batch norm's running statistics are finite at every batch.
fn poisoned_model(flag: &Flag) -> Box<dyn layers::Module> {
    let mut rng = StdRng::seed_from_u64(3);
    let flag = Rc::clone(flag);
    Box::new(
        Sequential::new()
            .with(Linear::new(4, 4, &mut rng).unwrap())
            .with(norms::BatchNorm1d::new(4).unwrap())
            .with(Lambda::new("poison", move |x: &Var| {
                x.mul_scalar(if flag.get() { f64::NAN } else { 1.0 })
            }))
            .with(Linear::new(4, 3, &mut rng).unwrap()),
    )
}

/// Sets the flag for training batch `iter` of the first epoch (before the guard's
/// `begin_batch`), clears it after the batch.
struct PoisonAt {
    flag: Flag,
    iter: usize,
}

impl Callback for PoisonAt {
    fn name(&self) -> &'static str {
        "poison_at"
    }
    fn order(&self) -> i32 {
        -10
    }
    fn begin_batch(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        let st = &*ctx.state;
        self.flag
            .set(st.in_train && st.epoch == 0 && st.iter == self.iter);
        Ok(Flow::Continue)
    }
    fn after_batch(&mut self, _ctx: &mut Ctx<'_>) -> CbResult {
        self.flag.set(false);
        Ok(Flow::Continue)
    }
}

/// Every parameter and buffer as bits.
fn state_bits(model: &dyn layers::Module) -> Vec<(String, Vec<u64>)> {
    layers::state_dict(model)
        .iter()
        .map(|(name, t)| {
            let bits = t
                .to_vec_f64()
                .unwrap()
                .iter()
                .map(|v| v.to_bits())
                .collect();
            (name.to_string(), bits)
        })
        .collect()
}

#[test]
fn a_replay_leaves_the_model_as_the_batch_left_it() {
    // The guarded run stops at batch 2's `after_loss`; the unguarded one is cancelled
    // there. The batch norm's buffers were updated by batches 0, 1 and 2 in both: the
    // replay of batch 2 ran from the buffers batch 2 started with and put back the ones
    // it ended with.
    const AT: usize = 2;
    let run = |guarded: bool| {
        let flag = Flag::default();
        let mut learn = Learner::new(poisoned_model(&flag), bunch(4, 1, 3), 0.1).unwrap();
        let poison = PoisonAt {
            flag: Rc::clone(&flag),
            iter: AT,
        };
        let mut cbs: Vec<Box<dyn Callback>> = vec![Box::new(poison)];
        if guarded {
            cbs.push(Box::new(NonFiniteGuard::replaying(GuardMode::Stop)));
        } else {
            let mut rec = Rec::new(Rc::default());
            rec.cancels.push(CancelAt {
                event: Event::AfterLoss,
                epoch: Some(0),
                iter: Some(AT),
                in_train: Some(true),
                flow: Flow::CancelTrain,
            });
            cbs.push(Box::new(rec));
        }
        let mut runner = Runner::with_callbacks(cbs);
        let outcome = runner.fit(1, &mut learn).unwrap();
        assert_eq!(
            outcome,
            FitOutcome::Cancelled {
                epoch: 0,
                n_iter: AT + 1
            }
        );
        let diagnosis = runner
            .callback::<NonFiniteGuard>()
            .and_then(|g| g.diagnosis().cloned());
        (state_bits(learn.model.as_ref()), diagnosis)
    };
    let (guarded, diagnosis) = run(true);
    let (unguarded, _) = run(false);
    let d = diagnosis.expect("the guard found the poisoned batch");
    assert_eq!((d.module.as_str(), d.type_name.as_str()), ("2", "Lambda"));
    assert_eq!((d.epoch, d.iter, d.training), (0, AT, true));
    assert!(d.why.contains("its input was finite"), "{}", d.why);
    let tracked = guarded
        .iter()
        .find(|(n, _)| n.ends_with("num_batches_tracked"))
        .map(|(_, bits)| f64::from_bits(bits[0]));
    assert_eq!(tracked, Some((AT + 1) as f64));
    assert_eq!(guarded, unguarded);
}

/// Counts its forward passes in a buffer and multiplies its input by NaN on pass `at`.
#[derive(Module)]
struct NanOnPass {
    #[buffer]
    passes: Var,
    at: f64,
    core: ModuleCore,
}

impl Forward for NanOnPass {
    fn forward(&self, x: &Var) -> tensor::Result<Var> {
        let n = self.passes.update_value(|t| -> tensor::Result<f64> {
            *t = t.add_scalar(1.0)?;
            t.to_scalar()
        })?;
        x.mul_scalar(if n == self.at { f64::NAN } else { 1.0 })
    }
}

#[test]
fn a_replay_starts_from_the_buffers_its_batch_started_with() {
    // The third forward pass (training batch 2) goes NaN; replayed from the buffers after
    // the batch, it would be the fourth and stay finite, and the loss would be blamed.
    let mut rng = StdRng::seed_from_u64(4);
    let counter = NanOnPass {
        passes: Var::constant(
            tensor::Tensor::scalar(0.0, tensor::DType::F32, tensor::Device::Cpu).unwrap(),
        ),
        at: 3.0,
        core: ModuleCore::default(),
    };
    let model = Sequential::new()
        .with(Linear::new(4, 4, &mut rng).unwrap())
        .with(counter)
        .with(Linear::new(4, 3, &mut rng).unwrap());
    let mut learn = Learner::new(Box::new(model), bunch(4, 1, 2), 0.1).unwrap();
    let guard = NonFiniteGuard::replaying(GuardMode::Stop);
    let mut runner = Runner::with_callbacks(vec![Box::new(guard)]);
    runner.fit(1, &mut learn).unwrap();
    let d = runner
        .callback::<NonFiniteGuard>()
        .unwrap()
        .diagnosis()
        .cloned();
    let d = d.expect("the guard found the NaN pass");
    assert_eq!(
        (d.module.as_str(), d.type_name.as_str()),
        ("1", "NanOnPass")
    );
    assert_eq!((d.iter, d.training), (2, true));
    let passes = learn.model.named_buffers()[0]
        .1
        .value()
        .to_scalar()
        .unwrap();
    assert_eq!(passes, 3.0, "the replay's own pass is not counted");
}
