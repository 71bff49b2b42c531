//! The elementary schedules against numbers computed independently (by hand / Python).

use proptest::prelude::*;
use schedule::{
    one_cycle, one_cycle_default_end, sched_const, sched_cos, sched_exp, sched_lin, sched_no,
    Schedule, ScheduleError,
};

fn close(got: f64, want: f64) {
    let tol = 1e-12 * want.abs().max(1.0);
    assert!((got - want).abs() <= tol, "got {got}, want {want}");
}

#[test]
fn lin_values() {
    let s = sched_lin(1.0, 0.2).unwrap();
    close(s.at(0.0), 1.0);
    close(s.at(0.25), 0.8);
    close(s.at(0.5), 0.6);
    close(s.at(0.75), 0.4);
    close(s.at(1.0), 0.2);
    let up = sched_lin(0.6, 2.0).unwrap();
    close(up.at(0.5), 1.3);
    close(up.at(0.1), 0.74);
}

#[test]
fn cos_values() {
    let s = sched_cos(1.0, 0.2).unwrap();
    close(s.at(0.0), 1.0);
    close(s.at(0.25), 0.882842712474619);
    close(s.at(0.5), 0.6);
    close(s.at(0.75), 0.31715728752538097);
    close(s.at(1.0), 0.2);
    close(sched_cos(0.1, 0.9).unwrap().at(0.1), 0.11957739348193859);
}

#[test]
fn no_holds_start() {
    let s = sched_no(0.4, 9.0).unwrap();
    for p in [0.0, 0.3, 0.999, 1.0] {
        assert_eq!(s.at(p), 0.4);
    }
    assert_eq!(sched_const(0.4).unwrap().at(0.7), 0.4);
}

#[test]
fn exp_values() {
    let s = sched_exp(1e-6, 10.0).unwrap();
    close(s.at(0.0), 1e-6);
    close(s.at(0.25), 5.623413251903491e-05);
    close(s.at(0.5), 0.0031622776601683794);
    close(s.at(1.0), 10.0);
    close(sched_exp(0.5, 2.0).unwrap().at(0.5), 1.0);
}

#[test]
fn one_cycle_values() {
    // combine([.3,.7],[cos(.4,1.2),cos(1.2,.2)])
    let s = one_cycle(0.4, 1.2, 0.2).unwrap();
    close(s.at(0.0), 0.4);
    close(s.at(0.15), 0.8);
    close(s.at(0.3), 1.2);
    close(s.at(0.65), 0.6999999999999997);
    close(s.at(0.9), 0.24951556604879022);
    close(s.at(1.0), 0.2);
    let d = one_cycle_default_end(0.5, 2.0).unwrap();
    close(d.at(1.0), 0.5e-4);
    assert_eq!(d.params(), (0.5, 2.0, 0.5e-4));
}

#[test]
fn positions_are_clamped_and_nan_propagates() {
    let s = sched_lin(2.0, 0.1).unwrap();
    assert_eq!(s.at(-3.0), 2.0);
    close(s.at(1.5), 0.1);
    assert!(s.at(f64::NAN).is_nan());
    assert!(sched_no(1.0, 2.0).unwrap().at(f64::NAN).is_nan());
    assert!(sched_const(1.0).unwrap().at(f64::NAN).is_nan());
}

#[test]
fn non_finite_parameters_are_rejected() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let start = ScheduleError::NonFinite {
            what: "start",
            value: bad,
        };
        let end = ScheduleError::NonFinite {
            what: "end",
            value: bad,
        };
        // NaN != NaN, so compare the rendered errors.
        let same = |a: ScheduleError, b: ScheduleError| assert_eq!(a.to_string(), b.to_string());
        same(sched_lin(bad, 1.0).unwrap_err(), start.clone());
        same(sched_cos(1.0, bad).unwrap_err(), end.clone());
        same(sched_no(bad, 1.0).unwrap_err(), start.clone());
        same(sched_exp(1.0, bad).unwrap_err(), end);
        assert!(matches!(
            sched_const(bad),
            Err(ScheduleError::NonFinite { what: "value", .. })
        ));
        assert!(matches!(
            one_cycle(0.1, 1.0, bad),
            Err(ScheduleError::NonFinite { what: "end", .. })
        ));
        assert!(matches!(
            one_cycle_default_end(bad, 1.0),
            Err(ScheduleError::NonFinite { what: "lo", .. })
        ));
    }
}

#[test]
fn exp_needs_positive_ends() {
    assert_eq!(
        sched_exp(0.0, 1.0).unwrap_err(),
        ScheduleError::NonPositiveExp {
            what: "start",
            value: 0.0
        }
    );
    assert_eq!(
        sched_exp(1.0, -2.0).unwrap_err(),
        ScheduleError::NonPositiveExp {
            what: "end",
            value: -2.0
        }
    );
}

proptest! {
    #[test]
    fn lin_and_cos_hit_their_ends(s in -1e6..1e6f64, e in -1e6..1e6f64) {
        let tol = 1e-12 * s.abs().max(e.abs()).max(1.0);
        let lin = sched_lin(s, e).unwrap();
        let cos = sched_cos(s, e).unwrap();
        prop_assert_eq!(lin.at(0.0), s);
        prop_assert!((cos.at(0.0) - s).abs() <= tol);
        prop_assert!((lin.at(1.0) - e).abs() <= tol);
        prop_assert!((cos.at(1.0) - e).abs() <= tol);
        // Both pass through the midpoint at pos = 1/2.
        prop_assert!((lin.at(0.5) - (s + e) / 2.0).abs() <= tol);
        prop_assert!((cos.at(0.5) - (s + e) / 2.0).abs() <= tol);
    }

    #[test]
    fn exp_is_monotone(
        s in 1e-8..1e3f64,
        e in 1e-8..1e3f64,
        a in 0.0..=1.0f64,
        b in 0.0..=1.0f64,
    ) {
        let sch = sched_exp(s, e).unwrap();
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let (vlo, vhi) = (sch.at(lo), sch.at(hi));
        if e >= s {
            prop_assert!(vlo <= vhi * (1.0 + 1e-12), "{} > {}", vlo, vhi);
        } else {
            prop_assert!(vlo * (1.0 + 1e-12) >= vhi, "{} < {}", vlo, vhi);
        }
        // Geometric: log of the value is linear in pos.
        let want = s.ln() + a * (e.ln() - s.ln());
        prop_assert!((sch.at(a).ln() - want).abs() < 1e-9);
    }
}
