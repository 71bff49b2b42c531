//! The loop on the lesson's real CNN (layers + norms) and the bundled MNIST sample: the
//! InstanceNorm diagnosis, activation statistics, and resuming with norm buffers.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use layers::{get_cnn_model, init_cnn, HookEvent, HookHandle, Module, ModuleExt, NormFactory};
use learner::callbacks::{
    accuracy, mnist_view, ActivationStats, AvgStats, BatchTransformX, CheckpointSaver, GuardMode,
    HistSpec, NonFiniteGuard,
};
use learner::checkpoint::load_checkpoint;
use learner::data::mnist_bunch;
use learner::{Callback, CbResult, Ctx, DataBunch, Flow, Learner, Runner};
use norms::NormKind;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn sample_bunch(bs: usize, steps: usize) -> DataBunch {
    let mut splits = mnist_data::MnistSplits::load(&mnist_data::DataSource::Sample).unwrap();
    splits.normalize().unwrap();
    let mut data = mnist_bunch(&splits, bs, 0, tensor::Device::Cpu).unwrap();
    data.train = data.train.with_max_batches(Some(steps)).unwrap();
    data
}

fn cnn(norm: Option<NormKind>, seed: u64) -> Box<dyn Module> {
    let factory = norm.map_or_else(NormFactory::none, |k| k.factory());
    let mut rng = StdRng::seed_from_u64(seed);
    let model = get_cnn_model(&[8, 16, 32, 64, 64], &factory, &mut rng).unwrap();
    init_cnn(&model, &mut rng).unwrap();
    Box::new(model)
}

#[test]
fn instance_norm_on_a_1x1_map_is_diagnosed() {
    let mut learn = Learner::new(
        cnn(Some(NormKind::Instance { eps: 1.0 }), 0),
        sample_bunch(16, 2),
        0.1,
    )
    .unwrap();
    let mut runner = Runner::with_callbacks(vec![
        Box::new(BatchTransformX::new(mnist_view())),
        Box::new(NonFiniteGuard::new(GuardMode::Stop, 1)),
    ]);
    runner.fit(1, &mut learn).unwrap();
    let d = runner
        .callback::<NonFiniteGuard>()
        .unwrap()
        .diagnosis()
        .unwrap()
        .to_string();
    // Layer 4 maps 2x2 to 1x1; its InstanceNorm (index 2) takes a variance over one value.
    assert!(
        d.starts_with(
            "4.2 (InstanceNorm) produced NaN: its input had a 1x1 spatial map, unbiased variance 0/0"
        ),
        "{d}"
    );
}

#[test]
fn activation_stats_per_layer_per_training_batch() {
    let mut learn = Learner::new(cnn(Some(NormKind::Batch), 0), sample_bunch(50, 3), 0.2).unwrap();
    // An independent count per training forward pass of each top-level layer: how many
    // output values fall in the histogram's closed range [-5, 15] (histc drops the rest).
    // Validation passes run without gradients, so outputs that need none are skipped.
    let inside: Rc<RefCell<Vec<Vec<f64>>>> = Rc::new(RefCell::new(vec![Vec::new(); 8]));
    let _handles: Vec<HookHandle> = learn
        .model
        .children()
        .into_iter()
        .enumerate()
        .map(|(i, (_, child))| {
            let inside = Rc::clone(&inside);
            child.hooks().register(move |e: &HookEvent<'_>| {
                if e.output.requires_grad() {
                    let v = e.output.value().to_vec_f64()?;
                    let n = v.iter().filter(|x| (-5.0..=15.0).contains(*x)).count();
                    inside.borrow_mut()[i].push(n as f64);
                }
                Ok(())
            })
        })
        .collect();
    let mut runner = Runner::with_callbacks(vec![
        Box::new(BatchTransformX::new(mnist_view())),
        Box::new(ActivationStats::new(HistSpec::LESSON)),
    ]);
    runner.fit(2, &mut learn).unwrap();
    let stats = runner.callback::<ActivationStats>().unwrap();
    let layers = stats.layers();
    let names: Vec<&str> = layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["0", "1", "2", "3", "4", "5", "6", "7"]);
    // Output sizes per sample: 8x14x14, 16x7x7, 32x4x4, 64x2x2, 64x1x1, 64, 64, 10.
    let per_sample = [1568.0, 784.0, 512.0, 256.0, 64.0, 64.0, 64.0, 10.0];
    let inside = inside.borrow();
    for ((l, n), want) in layers.iter().zip(per_sample).zip(inside.iter()) {
        assert_eq!(
            l.means.len(),
            6,
            "2 epochs x 3 training batches, no validation"
        );
        assert_eq!(l.hists.len(), 6);
        assert_eq!(want.len(), 6, "layer {}: training passes seen", l.name);
        for (h, &want) in l.hists.iter().zip(want) {
            assert_eq!(h.len(), 40);
            // Exactly the values in range, of the 50 n outputs of the batch.
            let counted: f64 = h.iter().sum();
            assert_eq!(counted, want, "layer {}", l.name);
            assert!(want <= 50.0 * n);
        }
        assert!(l.stds.iter().all(|s| s.is_finite() && *s >= 0.0));
    }
    // BatchNorm2d outputs are normalised per channel: mean near 0 at the first step.
    assert!(layers[0].means[0].abs() < 1e-3, "{}", layers[0].means[0]);
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(stats.write_plots(dir.path()).unwrap().len(), 3);
}

/// Cancels training after epoch `n`.
struct StopAfter(usize);

impl Callback for StopAfter {
    fn name(&self) -> &'static str {
        "stop_after"
    }
    fn order(&self) -> i32 {
        30
    }
    fn after_epoch(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        Ok(if ctx.state.epoch == self.0 {
            Flow::CancelTrain
        } else {
            Flow::Continue
        })
    }
}

fn cbs() -> Vec<Box<dyn Callback>> {
    vec![
        Box::new(BatchTransformX::new(mnist_view())),
        Box::new(AvgStats::new(vec![accuracy()])),
    ]
}

#[test]
fn resume_restores_norm_buffers_bit_exactly() {
    let data = || sample_bunch(100, 3);
    let mut a = Learner::new(cnn(Some(NormKind::Batch), 5), data(), 0.3).unwrap();
    let mut run_a = Runner::with_callbacks(cbs());
    run_a.fit(2, &mut a).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut b = Learner::new(cnn(Some(NormKind::Batch), 5), data(), 0.3).unwrap();
    let mut run_b = Runner::with_callbacks(cbs());
    run_b.add(Box::new(CheckpointSaver::new(dir.path(), BTreeMap::new())));
    run_b.add(Box::new(StopAfter(0)));
    run_b.fit(2, &mut b).unwrap();

    let mut c = Learner::new(cnn(Some(NormKind::Batch), 77), data(), 0.3).unwrap();
    let state = load_checkpoint(dir.path(), c.model.as_ref(), &mut c.opt).unwrap();
    let mut run_c = Runner::with_callbacks(cbs());
    run_c
        .fit_from(2, &mut c, state.epochs_done, state.n_iter)
        .unwrap();

    let sd = |l: &Learner| {
        let mut v: Vec<(String, Vec<f64>)> = l
            .model
            .named_parameters()
            .into_iter()
            .chain(l.model.named_buffers())
            .map(|(n, t)| (n, t.value().to_vec_f64().unwrap()))
            .collect();
        v.sort_by(|x, y| x.0.cmp(&y.0));
        v
    };
    let (sa, sc) = (sd(&a), sd(&c));
    assert!(sa.iter().any(|(n, _)| n.ends_with("running_mean")));
    assert_eq!(sa, sc);
    let ha = run_a.callback::<AvgStats>().unwrap().history()[1].clone();
    let hc = run_c.callback::<AvgStats>().unwrap().history()[0].clone();
    assert_eq!(ha.valid.loss.to_bits(), hc.valid.loss.to_bits());
}
