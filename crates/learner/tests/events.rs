//! The runner's event order, as the lesson specifies it, for a run of 2 epochs of 2
//! training and 2 validation batches, and every cancel path.

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use common::{bunch, linear_model, CancelAt, Rec};
use learner::{Event, FitOutcome, Flow, Learner, Runner};

const TRAIN_BATCH: [&str; 6] = [
    "begin_batch",
    "after_pred",
    "after_loss",
    "after_backward",
    "after_step",
    "after_batch",
];
const VALID_BATCH: [&str; 4] = ["begin_batch", "after_pred", "after_loss", "after_batch"];

/// The spec's order, written out by hand.
fn expected_full(epochs: usize, train: usize, valid: usize) -> Vec<String> {
    let mut v = vec!["begin_fit"];
    for _ in 0..epochs {
        v.push("begin_epoch");
        for _ in 0..train {
            v.extend(TRAIN_BATCH);
        }
        v.push("begin_validate");
        for _ in 0..valid {
            v.extend(VALID_BATCH);
        }
        v.push("after_epoch");
    }
    v.push("after_fit");
    v.into_iter().map(String::from).collect()
}

fn run(cancels: Vec<CancelAt>) -> (Vec<String>, FitOutcome) {
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut rec = Rec::new(Rc::clone(&log));
    rec.cancels = cancels;
    let mut learn = Learner::new(linear_model(4, 3, 1), bunch(2, 2, 2), 0.1).unwrap();
    let mut runner = Runner::with_callbacks(vec![Box::new(rec)]);
    let outcome = runner.fit(2, &mut learn).unwrap();
    let events = log.borrow().clone();
    (events, outcome)
}

fn at(event: Event, epoch: usize, iter: usize, in_train: bool, flow: Flow) -> CancelAt {
    CancelAt {
        event,
        epoch: Some(epoch),
        iter: Some(iter),
        in_train: Some(in_train),
        flow,
    }
}

#[test]
fn full_run_follows_the_lesson_order() {
    let (events, outcome) = run(vec![]);
    assert_eq!(events, expected_full(2, 2, 2));
    assert_eq!(outcome, FitOutcome::Completed);
}

#[test]
fn cancel_batch_skips_to_after_cancel_batch_then_after_batch() {
    // Cancel the second training batch of epoch 0 after its forward pass.
    let (events, outcome) = run(vec![at(Event::AfterPred, 0, 1, true, Flow::CancelBatch)]);
    let mut want = vec!["begin_fit", "begin_epoch"];
    want.extend(TRAIN_BATCH);
    want.extend([
        "begin_batch",
        "after_pred",
        "after_cancel_batch",
        "after_batch",
    ]);
    want.push("begin_validate");
    want.extend(VALID_BATCH);
    want.extend(VALID_BATCH);
    want.push("after_epoch");
    let mut tail = expected_full(1, 2, 2);
    tail.remove(0); // begin_fit
    let mut want: Vec<String> = want.into_iter().map(String::from).collect();
    want.extend(tail);
    assert_eq!(events, want);
    assert_eq!(outcome, FitOutcome::Completed);
}

#[test]
fn cancel_epoch_in_a_training_batch_ends_the_phase() {
    // Cancel at the first training batch's after_loss in epoch 1: after_batch, then
    // after_cancel_epoch, then validation still runs.
    let (events, _) = run(vec![at(Event::AfterLoss, 1, 0, true, Flow::CancelEpoch)]);
    let mut want = expected_full(1, 2, 2);
    want.pop(); // after_fit
    let mut rest = vec![
        "begin_epoch",
        "begin_batch",
        "after_pred",
        "after_loss",
        "after_batch",
    ];
    rest.push("after_cancel_epoch");
    rest.push("begin_validate");
    rest.extend(VALID_BATCH);
    rest.extend(VALID_BATCH);
    rest.extend(["after_epoch", "after_fit"]);
    want.extend(rest.into_iter().map(String::from));
    assert_eq!(events, want);
}

#[test]
fn cancel_epoch_at_begin_validate_skips_validation() {
    let (events, _) = run(vec![CancelAt {
        event: Event::BeginValidate,
        epoch: None,
        iter: None,
        in_train: None,
        flow: Flow::CancelEpoch,
    }]);
    let mut want = vec!["begin_fit"];
    for _ in 0..2 {
        want.push("begin_epoch");
        want.extend(TRAIN_BATCH);
        want.extend(TRAIN_BATCH);
        want.extend(["begin_validate", "after_cancel_epoch", "after_epoch"]);
    }
    want.push("after_fit");
    assert_eq!(events, want);
}

#[test]
fn cancel_train_in_a_batch_runs_after_batch_cancel_train_and_after_fit() {
    let (events, outcome) = run(vec![at(Event::AfterStep, 0, 0, true, Flow::CancelTrain)]);
    let mut want = vec!["begin_fit", "begin_epoch"];
    want.extend(TRAIN_BATCH.iter().take(5));
    want.extend(["after_batch", "after_cancel_train", "after_fit"]);
    assert_eq!(events, want);
    assert_eq!(
        outcome,
        FitOutcome::Cancelled {
            epoch: 0,
            n_iter: 1
        }
    );
}

#[test]
fn cancel_train_in_validation_and_at_begin_fit() {
    let (events, _) = run(vec![at(Event::AfterLoss, 0, 1, false, Flow::CancelTrain)]);
    let mut want = vec!["begin_fit", "begin_epoch"];
    want.extend(TRAIN_BATCH);
    want.extend(TRAIN_BATCH);
    want.push("begin_validate");
    want.extend(VALID_BATCH);
    want.extend(["begin_batch", "after_pred", "after_loss", "after_batch"]);
    want.extend(["after_cancel_train", "after_fit"]);
    assert_eq!(events, want);

    let (events, outcome) = run(vec![CancelAt {
        event: Event::BeginFit,
        epoch: None,
        iter: None,
        in_train: None,
        flow: Flow::CancelTrain,
    }]);
    assert_eq!(events, ["begin_fit", "after_cancel_train", "after_fit"]);
    assert_eq!(
        outcome,
        FitOutcome::Cancelled {
            epoch: 0,
            n_iter: 0
        }
    );
}

#[test]
fn after_fit_runs_after_an_error() {
    let log = Rc::new(RefCell::new(Vec::new()));
    // Labels out of range for a 2-class model: the loss fails in the first batch.
    let mut learn = Learner::new(linear_model(4, 2, 1), bunch(2, 2, 2), 0.1).unwrap();
    let mut runner = Runner::with_callbacks(vec![Box::new(Rec::new(Rc::clone(&log)))]);
    let err = runner.fit(1, &mut learn);
    assert!(err.is_err());
    let events = log.borrow();
    assert_eq!(events.first().map(String::as_str), Some("begin_fit"));
    assert_eq!(events.last().map(String::as_str), Some("after_fit"));
}

#[test]
fn callbacks_run_by_order_then_insertion() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut a = Rec::new(Rc::new(RefCell::new(Vec::new())));
    a.order = 3;
    let mut b = Rec::new(Rc::clone(&log));
    b.order = -1;
    let runner = Runner::with_callbacks(vec![
        Box::new(a),
        Box::new(learner::callbacks::Recorder::new()),
        Box::new(b),
        Box::new(learner::callbacks::AvgStats::new(vec![])),
    ]);
    assert_eq!(
        runner.callback_names(),
        ["train_eval", "rec", "recorder", "avg_stats", "rec"]
    );
}
