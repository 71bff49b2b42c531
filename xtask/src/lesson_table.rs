//! The lesson's table of runs (spec, "The lesson's results"), as data.

use norms::NormKind;

use crate::session::NormChoice;

/// One row of the lesson's table.
#[derive(Clone, Debug)]
pub struct LessonRun {
    /// Short name for `--only` and the report directory.
    pub name: &'static str,
    /// What the lesson calls it.
    pub title: &'static str,
    /// The norm.
    pub norm: NormChoice,
    /// Batch size.
    pub bs: usize,
    /// A constant learning rate, or a schedule in text form.
    pub lr: LessonLr,
    /// Epochs.
    pub epochs: usize,
    /// The lesson's validation accuracy after the last epoch (as printed).
    pub lesson_acc: &'static str,
    /// The lesson's time.
    pub lesson_time: &'static str,
}

/// A row's learning rate.
#[derive(Clone, Copy, Debug)]
pub enum LessonLr {
    /// Constant.
    Const(f64),
    /// A schedule's text.
    Sched(&'static str),
}

/// Every run of the table, in the lesson's order, plus GroupNorm (which the lesson only
/// mentions).
pub fn lesson_runs() -> Vec<LessonRun> {
    let run = |name, title, norm, bs, lr, epochs, lesson_acc, lesson_time| LessonRun {
        name,
        title,
        norm: NormChoice(norm),
        bs,
        lr,
        epochs,
        lesson_acc,
        lesson_time,
    };
    vec![
        run(
            "no-norm",
            "no norm (conv with bias + ReLU)",
            None,
            512,
            LessonLr::Const(0.4),
            3,
            "0.970",
            "2-6 s",
        ),
        run(
            "batch-lesson",
            "lesson's BatchNorm",
            Some(NormKind::BatchLesson),
            512,
            LessonLr::Const(1.0),
            3,
            "0.971",
            "4.3 s",
        ),
        run(
            "batch",
            "PyTorch BatchNorm2d",
            Some(NormKind::Batch),
            512,
            LessonLr::Const(1.0),
            3,
            "0.981",
            "4.1 s",
        ),
        run(
            "batch-sched",
            "BatchNorm2d, combine_scheds([.3,.7],[lin(.6,2), lin(2,.1)])",
            Some(NormKind::Batch),
            512,
            LessonLr::Sched("combine([.3,.7],[lin(.6,2),lin(2,.1)])"),
            8,
            "0.988",
            "-",
        ),
        run(
            "layer",
            "LayerNorm",
            Some(NormKind::Layer),
            512,
            LessonLr::Const(0.8),
            3,
            "NaN loss, 0.099",
            "5.4 s",
        ),
        run(
            "layer-lr0.4",
            "LayerNorm (corrected `v + eps`), lr 0.4: trains",
            Some(NormKind::Layer),
            512,
            LessonLr::Const(0.4),
            3,
            "- (not run; the lesson's lr 0.8 gave NaN)",
            "-",
        ),
        run(
            "instance",
            "InstanceNorm",
            Some(NormKind::Instance { eps: 1.0 }),
            512,
            LessonLr::Const(0.1),
            3,
            "NaN loss, 0.099",
            "5.2 s",
        ),
        run(
            "group",
            "GroupNorm (4 groups; not run in the lesson)",
            Some(NormKind::Group { groups: 4 }),
            512,
            LessonLr::Const(0.4),
            3,
            "-",
            "-",
        ),
        run(
            "batch-bs2",
            "BatchNorm2d, bs 2",
            Some(NormKind::Batch),
            2,
            LessonLr::Const(0.4),
            1,
            "diverges (valid loss in the thousands)",
            "1.5 min",
        ),
        run(
            "running-batch-bs2",
            "RunningBatchNorm, bs 2",
            Some(NormKind::RunningBatch),
            2,
            LessonLr::Const(0.4),
            1,
            "0.965",
            "4 min",
        ),
        run(
            "running-batch-bs32",
            "RunningBatchNorm, bs 32, sched_lin(1.0, 0.2)",
            Some(NormKind::RunningBatch),
            32,
            LessonLr::Sched("lin(1,.2)"),
            1,
            "0.982-0.983",
            "18 s",
        ),
    ]
}
