//! Fixtures shared by the learner's integration tests: synthetic data, tiny models and a
//! callback that records the events it sees.
#![allow(dead_code)]

use std::cell::RefCell;
use std::rc::Rc;

use layers::{Linear, Sequential};
use learner::{Callback, CbResult, Ctx, DataBunch, DataLoader, Event, Flow, TensorDataset};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tensor::{Device, Tensor};

/// `n` samples of `f` features (a fixed smooth pattern) with labels `i % classes`.
pub fn synthetic(n: usize, f: usize, classes: usize) -> TensorDataset {
    let x: Vec<f32> = (0..n * f)
        .map(|k| ((k * 37 % 101) as f32 / 101.0 - 0.5) + ((k / f) % classes) as f32 * 0.3)
        .collect();
    let y: Vec<f32> = (0..n).map(|i| (i % classes) as f32).collect();
    TensorDataset::new(
        Tensor::from_vec(x, &[n, f], Device::Cpu).unwrap(),
        Tensor::from_vec(y, &[n], Device::Cpu).unwrap(),
    )
    .unwrap()
}

/// A bunch with `train_batches` training batches and `valid_batches` validation batches
/// of size `bs` over 4 features and 3 classes.
pub fn bunch(train_batches: usize, valid_batches: usize, bs: usize) -> DataBunch {
    let train = DataLoader::new(synthetic(train_batches * bs, 4, 3), bs, true, 7).unwrap();
    let valid = DataLoader::new(synthetic(valid_batches * bs, 4, 3), bs, false, 7).unwrap();
    DataBunch::new(train, valid, 3)
}

/// `Sequential[Linear(f, c)]` with a seeded initialisation.
pub fn linear_model(f: usize, c: usize, seed: u64) -> Box<dyn layers::Module> {
    let mut rng = StdRng::seed_from_u64(seed);
    Box::new(Sequential::new().with(Linear::new(f, c, &mut rng).unwrap()))
}

/// When to return a signal: `(event, epoch, iter, in_train, flow)`; `None` matches any.
#[derive(Clone, Copy, Debug)]
pub struct CancelAt {
    pub event: Event,
    pub epoch: Option<usize>,
    pub iter: Option<usize>,
    pub in_train: Option<bool>,
    pub flow: Flow,
}

/// Records `"event"` (and `"event:valid"` in validation batches is not distinguished: the
/// lesson's names only) for every event, and returns a signal where told.
#[derive(Debug, Default)]
pub struct Rec {
    pub log: Rc<RefCell<Vec<String>>>,
    pub cancels: Vec<CancelAt>,
    pub order: i32,
}

impl Rec {
    pub fn new(log: Rc<RefCell<Vec<String>>>) -> Self {
        Rec {
            log,
            cancels: Vec::new(),
            order: 0,
        }
    }

    fn hit(&mut self, event: Event, ctx: &mut Ctx<'_>) -> CbResult {
        self.log.borrow_mut().push(event.name().to_string());
        let st = &*ctx.state;
        for c in &self.cancels {
            let ok = c.event == event
                && c.epoch.map_or(true, |e| e == st.epoch)
                && c.iter.map_or(true, |i| i == st.iter)
                && c.in_train.map_or(true, |t| t == st.in_train);
            if ok {
                return Ok(c.flow);
            }
        }
        Ok(Flow::Continue)
    }
}

impl Callback for Rec {
    fn name(&self) -> &'static str {
        "rec"
    }
    fn order(&self) -> i32 {
        self.order
    }
    fn begin_fit(&mut self, c: &mut Ctx<'_>) -> CbResult {
        self.hit(Event::BeginFit, c)
    }
    fn begin_epoch(&mut self, c: &mut Ctx<'_>) -> CbResult {
        self.hit(Event::BeginEpoch, c)
    }
    fn begin_batch(&mut self, c: &mut Ctx<'_>) -> CbResult {
        self.hit(Event::BeginBatch, c)
    }
    fn after_pred(&mut self, c: &mut Ctx<'_>) -> CbResult {
        self.hit(Event::AfterPred, c)
    }
    fn after_loss(&mut self, c: &mut Ctx<'_>) -> CbResult {
        self.hit(Event::AfterLoss, c)
    }
    fn after_backward(&mut self, c: &mut Ctx<'_>) -> CbResult {
        self.hit(Event::AfterBackward, c)
    }
    fn after_step(&mut self, c: &mut Ctx<'_>) -> CbResult {
        self.hit(Event::AfterStep, c)
    }
    fn after_batch(&mut self, c: &mut Ctx<'_>) -> CbResult {
        self.hit(Event::AfterBatch, c)
    }
    fn begin_validate(&mut self, c: &mut Ctx<'_>) -> CbResult {
        self.hit(Event::BeginValidate, c)
    }
    fn after_epoch(&mut self, c: &mut Ctx<'_>) -> CbResult {
        self.hit(Event::AfterEpoch, c)
    }
    fn after_cancel_batch(&mut self, c: &mut Ctx<'_>) -> CbResult {
        self.hit(Event::AfterCancelBatch, c)
    }
    fn after_cancel_epoch(&mut self, c: &mut Ctx<'_>) -> CbResult {
        self.hit(Event::AfterCancelEpoch, c)
    }
    fn after_cancel_train(&mut self, c: &mut Ctx<'_>) -> CbResult {
        self.hit(Event::AfterCancelTrain, c)
    }
    fn after_fit(&mut self, c: &mut Ctx<'_>) -> CbResult {
        self.hit(Event::AfterFit, c)
    }
}
