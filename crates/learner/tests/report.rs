//! The report module: JSON-lines metrics and PNG plots, written atomically.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use learner::report::{
    plot_activation_histograms, plot_activation_stats, plot_loss_and_lr, plot_lr_finder,
    read_metrics_jsonl, write_metrics_jsonl, EpochMetrics, MetricsLog, ReportError,
    MAX_HISTOGRAM_COLUMNS,
};
use proptest::prelude::*;
use serde_json::{json, Value};

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];

/// Checks the file is a decodable PNG of the given size with more than a few colours
/// (axes, text and lines, not a blank canvas), and that no temporary file was left behind.
fn assert_png(path: &Path, width: u32, height: u32) {
    let bytes = fs::read(path).unwrap();
    assert_eq!(bytes[..8], PNG_SIGNATURE, "{}", path.display());
    assert!(
        bytes.len() > 4_000,
        "suspiciously small PNG: {} bytes",
        bytes.len()
    );
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (width, height));
    let mut colours: Vec<&[u8]> = buf[..info.buffer_size()].chunks(3).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(colours.len() > 20, "only {} colours", colours.len());
    let dir = path.parent().unwrap();
    let names: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| n.ends_with(".png") || n.ends_with(".jsonl")),
        "leftover files: {names:?}"
    );
}

fn lesson_like_run(n: usize) -> (Vec<f64>, Vec<f64>) {
    let lrs: Vec<f64> = (0..n).map(|i| 0.6 + 1.4 * i as f64 / n as f64).collect();
    let losses = (0..n)
        .map(|i| 2.3 * (-(i as f64) / 20.0).exp() + 0.1)
        .collect();
    (losses, lrs)
}

#[test]
fn loss_and_lr_plot_is_a_png() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("recorder.png");
    let (losses, lrs) = lesson_like_run(98 * 3);
    plot_loss_and_lr(&p, &losses, &lrs).unwrap();
    assert_png(&p, 1100, 420);
    // Replacing an existing file works too.
    plot_loss_and_lr(&p, &losses[..10], &lrs[..10]).unwrap();
    assert_png(&p, 1100, 420);
}

#[test]
fn diverged_losses_still_plot() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nan.png");
    let mut losses = vec![2.3, 2.0, 1.5, f64::NAN, 1.2, f64::INFINITY, 1.1];
    plot_loss_and_lr(&p, &losses, &[0.8; 7]).unwrap();
    assert_png(&p, 1100, 420);
    losses.iter_mut().for_each(|l| *l = f64::NAN);
    plot_loss_and_lr(&p, &losses, &[0.8]).unwrap();
    assert_png(&p, 1100, 420);
}

#[test]
fn lr_finder_plot_is_a_png() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("lr_find.png");
    let lrs: Vec<f64> = (0..100)
        .map(|i| 1e-6 * 1e7f64.powf(i as f64 / 100.0))
        .collect();
    let losses: Vec<f64> = lrs
        .iter()
        .map(|lr| 2.3 - 0.3 * (lr.log10() + 6.0) + (lr.log10() - 0.0).max(0.0) * 4.0)
        .collect();
    plot_lr_finder(&p, &lrs, &losses).unwrap();
    assert_png(&p, 720, 480);
}

fn stats(layers: usize, iters: usize) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let means = (0..layers)
        .map(|l| {
            (0..iters)
                .map(|t| (t as f64 / 30.0).sin() * (l + 1) as f64 * 0.1)
                .collect()
        })
        .collect();
    let stds = (0..layers)
        .map(|l| {
            (0..iters)
                .map(|t| 0.2 + (l as f64) * 0.3 + t as f64 / iters as f64)
                .collect()
        })
        .collect();
    (means, stds)
}

#[test]
fn activation_stats_first_ten_and_all() {
    let dir = tempfile::tempdir().unwrap();
    let (means, stds) = stats(5, 300);
    let first = dir.path().join("stats_10.png");
    plot_activation_stats(&first, &means, &stds, Some(10)).unwrap();
    assert_png(&first, 1100, 440);
    let all = dir.path().join("stats_all.png");
    plot_activation_stats(&all, &means, &stds, None).unwrap();
    assert_png(&all, 1100, 440);
    // Both files exist and differ: the iteration limit was applied.
    assert_ne!(fs::read(&first).unwrap(), fs::read(&all).unwrap());
}

fn histograms(layers: usize, iters: usize, bins: usize) -> Vec<Vec<Vec<f64>>> {
    (0..layers)
        .map(|l| {
            (0..iters)
                .map(|t| {
                    let centre = bins as f64 * (0.2 + 0.6 * t as f64 / iters as f64);
                    (0..bins)
                        .map(|b| {
                            let d = (b as f64 - centre) / (2.0 + l as f64);
                            (1e4 * (-d * d).exp()).floor()
                        })
                        .collect()
                })
                .collect()
        })
        .collect()
}

#[test]
fn activation_histograms_are_pngs() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("hist.png");
    plot_activation_histograms(&p, &histograms(5, 120, 40)).unwrap();
    assert_png(&p, 1080, 900);
    let one = dir.path().join("one.png");
    plot_activation_histograms(&one, &histograms(1, 3, 40)).unwrap();
    assert_png(&one, 540, 300);
    // More iterations than columns: averaged, still drawn.
    let long = dir.path().join("long.png");
    plot_activation_histograms(&long, &histograms(2, MAX_HISTOGRAM_COLUMNS * 2 + 7, 40)).unwrap();
    assert_png(&long, 1080, 300);
    // All-zero counts are valid (a dead layer).
    let zero = dir.path().join("zero.png");
    plot_activation_histograms(&zero, &[vec![vec![0.0; 40]; 5]]).unwrap();
    assert!(fs::read(&zero).unwrap().starts_with(&PNG_SIGNATURE));
}

#[test]
fn empty_inputs_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.png");
    let empty = |r: Result<(), ReportError>| match r {
        Err(ReportError::Empty { .. }) => {}
        other => panic!("expected Empty, got {other:?}"),
    };
    empty(plot_loss_and_lr(&p, &[], &[0.1]));
    empty(plot_loss_and_lr(&p, &[1.0], &[]));
    empty(plot_lr_finder(&p, &[], &[]));
    empty(plot_lr_finder(&p, &[0.0, -1.0, f64::NAN], &[1.0, 2.0, 3.0]));
    empty(plot_activation_stats(&p, &[], &[], None));
    empty(plot_activation_stats(
        &p,
        &[vec![1.0]],
        &[vec![1.0]],
        Some(0),
    ));
    empty(plot_activation_histograms(&p, &[]));
    empty(write_metrics_jsonl(dir.path().join("m.jsonl"), &[]));
    assert!(matches!(
        plot_activation_stats(&p, &[vec![1.0], vec![]], &[vec![1.0], vec![]], None),
        Err(ReportError::EmptyLayer { layer: 1, .. })
    ));
    assert!(matches!(
        plot_activation_histograms(&p, &[vec![vec![1.0]], vec![]]),
        Err(ReportError::EmptyLayer { layer: 1, .. })
    ));
    assert!(matches!(
        plot_activation_histograms(&p, &[vec![vec![]]]),
        Err(ReportError::EmptyLayer { layer: 0, .. })
    ));
    // Nothing was written by any failed call.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn mismatched_and_invalid_inputs_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.png");
    assert!(matches!(
        plot_lr_finder(&p, &[0.1, 0.2], &[1.0]),
        Err(ReportError::LengthMismatch {
            left_len: 2,
            right_len: 1,
            ..
        })
    ));
    assert!(matches!(
        plot_activation_stats(&p, &[vec![1.0]], &[], None),
        Err(ReportError::LengthMismatch {
            left_len: 1,
            right_len: 0,
            ..
        })
    ));
    assert!(matches!(
        plot_activation_stats(
            &p,
            &[vec![1.0], vec![1.0, 2.0]],
            &[vec![1.0], vec![1.0]],
            None
        ),
        Err(ReportError::LayerLengthMismatch {
            layer: 1,
            means: 2,
            stds: 1
        })
    ));
    assert!(matches!(
        plot_activation_histograms(&p, &[vec![vec![1.0; 40], vec![1.0; 39]]]),
        Err(ReportError::RaggedHistogram {
            layer: 0,
            iteration: 1,
            expected: 40,
            found: 39
        })
    ));
    for bad in [-1.0, f64::NAN, f64::INFINITY] {
        let mut h = vec![vec![1.0; 40]; 3];
        h[2][7] = bad;
        match plot_activation_histograms(&p, &[vec![vec![0.0; 40]], h]) {
            Err(ReportError::InvalidCount {
                layer: 1,
                iteration: 2,
                bin: 7,
                value,
            }) => assert!(value.is_nan() || value == bad),
            other => panic!("expected InvalidCount, got {other:?}"),
        }
    }
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn io_failures_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no_such_dir").join("x.png");
    assert!(matches!(
        plot_loss_and_lr(&missing, &[1.0], &[1.0]),
        Err(ReportError::Io { .. })
    ));
    let m = metrics(0);
    assert!(matches!(
        write_metrics_jsonl(dir.path().join("nope").join("m.jsonl"), &[m]),
        Err(ReportError::Io { .. })
    ));
    assert!(matches!(
        read_metrics_jsonl(dir.path().join("absent.jsonl")),
        Err(ReportError::Io { .. })
    ));
}

fn metrics(epoch: usize) -> EpochMetrics {
    EpochMetrics {
        epoch,
        train_loss: 0.5 / (epoch + 1) as f64,
        train_acc: 0.8 + 0.01 * epoch as f64,
        valid_loss: 0.3,
        valid_acc: 0.97,
        seconds: 4.25,
        lr: None,
        extras: BTreeMap::new(),
    }
}

#[test]
fn jsonl_has_one_object_per_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("metrics.jsonl");
    let mut second = metrics(1);
    second.lr = Some(0.4);
    second.extras.insert("note".into(), json!("bn"));
    second.extras.insert("grad_norm".into(), json!(1.5));
    write_metrics_jsonl(&p, &[metrics(0), second.clone()]).unwrap();
    let text = fs::read_to_string(&p).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(text.ends_with('\n'));
    let first: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(
        first,
        json!({"epoch": 0, "train_loss": 0.5, "train_acc": 0.8, "valid_loss": 0.3,
               "valid_acc": 0.97, "seconds": 4.25})
    );
    let v: Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(v["lr"], json!(0.4));
    assert_eq!(v["note"], json!("bn"));
    assert_eq!(v["grad_norm"], json!(1.5));
    assert_eq!(read_metrics_jsonl(&p).unwrap(), vec![metrics(0), second]);
}

#[test]
fn non_finite_metrics_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nan.jsonl");
    let mut m = metrics(2);
    m.train_loss = f64::NAN;
    m.valid_loss = f64::INFINITY;
    m.seconds = f64::NEG_INFINITY;
    m.lr = Some(f64::NAN);
    write_metrics_jsonl(&p, &[m]).unwrap();
    let line: Value = serde_json::from_str(fs::read_to_string(&p).unwrap().trim()).unwrap();
    assert_eq!(line["train_loss"], Value::Null);
    assert_eq!(line["valid_loss"], json!("inf"));
    assert_eq!(line["seconds"], json!("-inf"));
    assert_eq!(line["lr"], Value::Null);
    let back = read_metrics_jsonl(&p).unwrap().remove(0);
    assert!(back.train_loss.is_nan());
    assert_eq!(back.valid_loss, f64::INFINITY);
    assert_eq!(back.seconds, f64::NEG_INFINITY);
    assert!(back.lr.unwrap().is_nan());
    assert_eq!(back.valid_acc, 0.97);
}

#[test]
fn reserved_extra_keys_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.jsonl");
    let mut m = metrics(0);
    m.extras.insert("valid_acc".into(), json!(1.0));
    match write_metrics_jsonl(&p, &[m.clone()]) {
        Err(ReportError::ReservedExtra(k)) => assert_eq!(k, "valid_acc"),
        other => panic!("expected ReservedExtra, got {other:?}"),
    }
    let mut log = MetricsLog::create(&p);
    assert!(matches!(log.append(&m), Err(ReportError::ReservedExtra(_))));
    assert!(log.is_empty());
    assert!(!p.exists());
}

#[test]
fn bad_lines_report_their_line_number() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.jsonl");
    let good = serde_json::to_string(&metrics(0)).unwrap();
    fs::write(&p, format!("{good}\n\n{{\"epoch\": 1}}\n")).unwrap();
    match read_metrics_jsonl(&p) {
        Err(ReportError::Json { line, .. }) => assert_eq!(line, 3),
        other => panic!("expected Json error, got {other:?}"),
    }
    fs::write(&p, format!("{}\n", good.replace("0.97", "\"high\""))).unwrap();
    assert!(matches!(
        read_metrics_jsonl(&p),
        Err(ReportError::Json { line: 1, .. })
    ));
    assert!(matches!(
        MetricsLog::resume(&p),
        Err(ReportError::Json { line: 1, .. })
    ));
}

#[test]
fn metrics_log_appends_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("log.jsonl");
    fs::write(&p, "stale\n").unwrap();
    let mut log = MetricsLog::create(&p);
    assert!(log.is_empty());
    log.append(&metrics(0)).unwrap();
    assert_eq!(read_metrics_jsonl(&p).unwrap(), vec![metrics(0)]);
    log.append(&metrics(1)).unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log.path(), p.as_path());
    let mut resumed = MetricsLog::resume(&p).unwrap();
    assert_eq!(resumed.len(), 2);
    resumed.append(&metrics(2)).unwrap();
    assert_eq!(
        read_metrics_jsonl(&p).unwrap(),
        vec![metrics(0), metrics(1), metrics(2)]
    );
    let fresh = MetricsLog::resume(dir.path().join("new.jsonl")).unwrap();
    assert!(fresh.is_empty());
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

fn any_metric_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL | prop::num::f64::ZERO,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
    ]
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

proptest! {
    #[test]
    fn json_line_round_trips(
        epoch in 0usize..1_000_000,
        vals in prop::collection::vec(any_metric_float(), 5),
        lr in prop::option::of(any_metric_float()),
        extras in prop::collection::btree_map("[a-z]{1,6}_x", -1e6..1e6f64, 0..4),
    ) {
        let m = EpochMetrics {
            epoch,
            train_loss: vals[0],
            train_acc: vals[1],
            valid_loss: vals[2],
            valid_acc: vals[3],
            seconds: vals[4],
            lr,
            extras: extras.into_iter().map(|(k, v)| (k, json!(v))).collect(),
        };
        let line = m.to_json_line().unwrap();
        prop_assert!(!line.contains('\n'));
        let back: EpochMetrics = serde_json::from_str(&line).unwrap();
        prop_assert_eq!(back.epoch, m.epoch);
        for (a, b) in [
            (m.train_loss, back.train_loss),
            (m.train_acc, back.train_acc),
            (m.valid_loss, back.valid_loss),
            (m.valid_acc, back.valid_acc),
            (m.seconds, back.seconds),
        ] {
            prop_assert!(same(a, b), "{} vs {}", a, b);
        }
        prop_assert_eq!(m.lr.is_some(), back.lr.is_some());
        if let (Some(a), Some(b)) = (m.lr, back.lr) {
            prop_assert!(same(a, b));
        }
        prop_assert_eq!(back.extras, m.extras);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Arbitrary values (extreme, NaN, constant) never make a plot function panic.
    #[test]
    fn plots_accept_any_values(
        ys in prop::collection::vec(any_metric_float(), 1..60),
        layers in 1usize..4,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.png");
        plot_loss_and_lr(&p, &ys, &ys).unwrap();
        let lrs: Vec<f64> = ys.iter().map(|y| y.abs()).collect();
        match plot_lr_finder(&p, &lrs, &ys) {
            Ok(()) | Err(ReportError::Empty { .. }) => {}
            Err(e) => return Err(TestCaseError::fail(e.to_string())),
        }
        let series = vec![ys.clone(); layers];
        plot_activation_stats(&p, &series, &series, Some(10)).unwrap();
        let counts: Vec<Vec<f64>> = ys
            .iter()
            .map(|y| {
                let c = if y.is_finite() { y.abs() } else { 0.0 };
                vec![c; 40]
            })
            .collect();
        plot_activation_histograms(&p, &vec![counts; layers]).unwrap();
        prop_assert!(fs::read(&p).unwrap().starts_with(&PNG_SIGNATURE));
    }
}
