//! The non-finite guard names the first module whose output went NaN, and says why.

mod common;

use autograd::Var;
use common::{bunch, linear_model};
use layers::{Lambda, Linear, Sequential};
use learner::callbacks::{GuardMode, NonFiniteGuard, NonFiniteKind};
use learner::{FitOutcome, Learner, Runner};
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

#[test]
fn guard_stops_and_names_the_module() {
    let mut learn = Learner::new(nan_model(), bunch(3, 1, 2), 0.1).unwrap();
    let mut runner =
        Runner::with_callbacks(vec![Box::new(NonFiniteGuard::new(GuardMode::Stop, 1))]);
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
    let mut learn = Learner::new(nan_model(), bunch(3, 1, 2), 0.1).unwrap();
    let mut runner =
        Runner::with_callbacks(vec![Box::new(NonFiniteGuard::new(GuardMode::Report, 1))]);
    assert_eq!(runner.fit(2, &mut learn).unwrap(), FitOutcome::Completed);
    assert_eq!(
        runner
            .callback::<NonFiniteGuard>()
            .unwrap()
            .diagnosis()
            .unwrap()
            .module,
        "1"
    );
}

#[test]
fn non_finite_data_is_blamed_on_the_input() {
    let mut data = bunch(2, 1, 2);
    let x = data
        .train
        .dataset()
        .as_tensor_dataset()
        .unwrap()
        .x()
        .to_vec::<f32>()
        .unwrap();
    let mut bad = x.clone();
    bad.iter_mut().for_each(|v| *v = f32::NAN);
    let ds = learner::TensorDataset::new(
        tensor::Tensor::from_vec(
            bad,
            data.train
                .dataset()
                .as_tensor_dataset()
                .unwrap()
                .x()
                .shape(),
            tensor::Device::Cpu,
        )
        .unwrap(),
        data.train
            .dataset()
            .as_tensor_dataset()
            .unwrap()
            .y()
            .clone(),
    )
    .unwrap();
    data.train = learner::DataLoader::new(ds, 2, true, 0).unwrap();
    let mut learn = Learner::new(linear_model(4, 3, 0), data, 0.1).unwrap();
    let mut runner =
        Runner::with_callbacks(vec![Box::new(NonFiniteGuard::new(GuardMode::Stop, 1))]);
    runner.fit(1, &mut learn).unwrap();
    let d = runner
        .callback::<NonFiniteGuard>()
        .unwrap()
        .diagnosis()
        .unwrap()
        .clone();
    assert_eq!(d.module, "0");
    assert!(d.why.contains("input was already non-finite"), "{}", d.why);
}

#[test]
fn a_healthy_run_has_no_diagnosis() {
    let mut learn = Learner::new(linear_model(4, 3, 0), bunch(3, 1, 2), 0.1).unwrap();
    let mut runner =
        Runner::with_callbacks(vec![Box::new(NonFiniteGuard::new(GuardMode::Stop, 1))]);
    assert_eq!(runner.fit(2, &mut learn).unwrap(), FitOutcome::Completed);
    assert!(runner
        .callback::<NonFiniteGuard>()
        .unwrap()
        .diagnosis()
        .is_none());
}
