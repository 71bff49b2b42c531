//! `combine_scheds`: segment selection, boundaries, zero-width segments and validation.

use proptest::prelude::*;
use schedule::{
    combine_scheds, sched_cos, sched_lin, sched_no, Schedule, ScheduleError, PCT_SUM_TOLERANCE,
};

fn close(got: f64, want: f64) {
    assert!((got - want).abs() <= 1e-12, "got {got}, want {want}");
}

fn lesson() -> schedule::Combined {
    combine_scheds(
        &[0.3, 0.7],
        vec![
            Box::new(sched_lin(0.6, 2.0).unwrap()),
            Box::new(sched_lin(2.0, 0.1).unwrap()),
        ],
    )
    .unwrap()
}

#[test]
fn lesson_lin_lin_schedule() {
    let s = lesson();
    close(s.at(0.0), 0.6);
    close(s.at(0.15), 1.3);
    close(s.at(0.2999), 1.9995333333333334);
    close(s.at(0.3), 2.0);
    close(s.at(0.65), 1.05);
    close(s.at(0.8), 0.6428571428571428);
    close(s.at(1.0), 0.1);
    assert_eq!(s.bounds(), &[0.0, 0.3, 1.0]);
}

#[test]
fn boundary_belongs_to_the_later_segment() {
    // Discontinuous on purpose so the chosen side is visible.
    let s = combine_scheds(
        &[0.5, 0.5],
        vec![
            Box::new(sched_no(1.0, 1.0).unwrap()),
            Box::new(sched_no(7.0, 7.0).unwrap()),
        ],
    )
    .unwrap();
    assert_eq!(s.at(0.4999999), 1.0);
    assert_eq!(s.at(0.5), 7.0);
    assert_eq!(s.at(1.0), 7.0);
}

#[test]
fn zero_width_segments_are_skipped() {
    let s = combine_scheds(
        &[0.0, 0.5, 0.0, 0.5, 0.0],
        vec![
            Box::new(sched_no(-1.0, 0.0).unwrap()),
            Box::new(sched_lin(0.0, 1.0).unwrap()),
            Box::new(sched_no(-2.0, 0.0).unwrap()),
            Box::new(sched_lin(10.0, 20.0).unwrap()),
            Box::new(sched_no(-3.0, 0.0).unwrap()),
        ],
    )
    .unwrap();
    close(s.at(0.0), 0.0);
    close(s.at(0.25), 0.5);
    close(s.at(0.5), 10.0);
    close(s.at(0.75), 15.0);
    // pos = 1 is the end of the last non-empty segment, not the empty one after it.
    close(s.at(1.0), 20.0);
}

#[test]
fn single_segment_is_identity() {
    let s = combine_scheds(&[1.0], vec![Box::new(sched_cos(3.0, 1.0).unwrap())]).unwrap();
    let c = sched_cos(3.0, 1.0).unwrap();
    for p in [0.0, 0.1, 0.5, 0.9, 1.0] {
        close(s.at(p), c.at(p));
    }
}

#[test]
fn pcts_within_tolerance_are_accepted_and_normalised() {
    let s = combine_scheds(
        &[0.5, 0.5 + PCT_SUM_TOLERANCE / 2.0],
        vec![
            Box::new(sched_no(1.0, 1.0).unwrap()),
            Box::new(sched_lin(0.0, 1.0).unwrap()),
        ],
    )
    .unwrap();
    assert_eq!(*s.bounds().last().unwrap(), 1.0);
    close(s.at(1.0), 1.0);
}

fn two() -> Vec<Box<dyn Schedule>> {
    vec![
        Box::new(sched_no(1.0, 1.0).unwrap()),
        Box::new(sched_no(2.0, 2.0).unwrap()),
    ]
}

#[test]
fn invalid_combinations_have_typed_errors() {
    assert_eq!(
        combine_scheds(&[], vec![]).unwrap_err(),
        ScheduleError::Empty
    );
    assert_eq!(
        combine_scheds(&[1.0], two()).unwrap_err(),
        ScheduleError::LengthMismatch { pcts: 1, scheds: 2 }
    );
    assert_eq!(
        combine_scheds(&[0.3, 0.3, 0.4], two()).unwrap_err(),
        ScheduleError::LengthMismatch { pcts: 3, scheds: 2 }
    );
    assert_eq!(
        combine_scheds(&[0.5, 0.6], two()).unwrap_err(),
        ScheduleError::PctSum { sum: 1.1 }
    );
    assert_eq!(
        combine_scheds(&[1.5, -0.5], two()).unwrap_err(),
        ScheduleError::NegativePct {
            index: 1,
            value: -0.5
        }
    );
    assert!(matches!(
        combine_scheds(&[f64::NAN, 1.0], two()),
        Err(ScheduleError::NonFinitePct { index: 0, .. })
    ));
    assert!(matches!(
        combine_scheds(&[0.0, f64::INFINITY], two()),
        Err(ScheduleError::NonFinitePct { index: 1, .. })
    ));
    assert_eq!(
        combine_scheds(&[0.0, 0.0], two()).unwrap_err(),
        ScheduleError::PctSum { sum: 0.0 }
    );
}

proptest! {
    /// combine([p, 1-p], [lin(a,b), lin(b,c)]) maps each segment's range onto [0,1].
    #[test]
    fn segments_are_rescaled(
        p in 0.01..0.99f64,
        a in -10.0..10.0f64,
        b in -10.0..10.0f64,
        c in -10.0..10.0f64,
        t in 0.0..1.0f64,
    ) {
        let s = combine_scheds(
            &[p, 1.0 - p],
            vec![
                Box::new(sched_lin(a, b).unwrap()),
                Box::new(sched_lin(b, c).unwrap()),
            ],
        )
        .unwrap();
        let first = sched_lin(a, b).unwrap().at(t);
        let second = sched_lin(b, c).unwrap().at(t);
        prop_assert!((s.at(p * t) - first).abs() < 1e-9);
        prop_assert!((s.at(p + (1.0 - p) * t) - second).abs() < 1e-9);
    }
}
