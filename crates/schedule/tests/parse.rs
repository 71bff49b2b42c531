//! The textual form: examples from the lesson, error positions, and display/parse round trips.

use proptest::prelude::*;
use schedule::{
    combine_scheds, one_cycle, parse_schedule, sched_const, sched_cos, sched_exp, sched_lin,
    sched_no, DynSchedule, ParseErrorKind, Schedule, ScheduleError, ScheduleParseError, MAX_DEPTH,
};

const POSITIONS: [f64; 9] = [0.0, 0.1, 0.25, 0.3, 0.5, 0.6, 0.75, 0.999, 1.0];

fn same_values(a: &dyn Schedule, b: &dyn Schedule) {
    for p in POSITIONS {
        assert_eq!(a.at(p).to_bits(), b.at(p).to_bits(), "at {p}: {a} vs {b}");
    }
}

#[test]
fn every_lesson_schedule_parses() {
    let cases: Vec<(&str, Box<dyn Schedule>)> = vec![
        ("0.4", Box::new(sched_const(0.4).unwrap())),
        ("sched_lin(1., 0.2)", Box::new(sched_lin(1.0, 0.2).unwrap())),
        ("lin(1,.2)", Box::new(sched_lin(1.0, 0.2).unwrap())),
        ("cos(.1, .9)", Box::new(sched_cos(0.1, 0.9).unwrap())),
        ("no(0.7, 0.7)", Box::new(sched_no(0.7, 0.7).unwrap())),
        ("exp(1e-6, 10)", Box::new(sched_exp(1e-6, 10.0).unwrap())),
        (
            "combine_scheds([0.3, 0.7], [sched_lin(0.6, 2.), sched_lin(2., 0.1)])",
            Box::new(
                combine_scheds(
                    &[0.3, 0.7],
                    vec![
                        Box::new(sched_lin(0.6, 2.0).unwrap()),
                        Box::new(sched_lin(2.0, 0.1).unwrap()),
                    ],
                )
                .unwrap(),
            ),
        ),
        (
            " combine ( [ .5 , .5 ] , [ cos( .4 , 1.3 ) , cos( .8 , .5 ) ] ) ",
            Box::new(
                combine_scheds(
                    &[0.5, 0.5],
                    vec![
                        Box::new(sched_cos(0.4, 1.3).unwrap()),
                        Box::new(sched_cos(0.8, 0.5).unwrap()),
                    ],
                )
                .unwrap(),
            ),
        ),
        (
            "one_cycle(0.4,1.2,0.2)",
            Box::new(one_cycle(0.4, 1.2, 0.2).unwrap()),
        ),
        (
            "one_cycle(0.4, 1.2)",
            Box::new(one_cycle(0.4, 1.2, 0.4e-4).unwrap()),
        ),
    ];
    for (text, want) in cases {
        let got = parse_schedule(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        same_values(got.as_ref(), want.as_ref());
    }
}

#[test]
fn display_is_canonical() {
    let s = parse_schedule("combine([.3,.7],[lin(.6,2),one_cycle(1e-7, 2.5e20, -0)])").unwrap();
    assert_eq!(
        s.to_string(),
        "combine([0.3,0.7],[lin(0.6,2),one_cycle(1e-7,2.5e20,-0)])"
    );
    let d: DynSchedule = "one_cycle(2, 4)".parse().unwrap();
    assert_eq!(d.to_string(), "one_cycle(2,4,0.0002)");
    let b: Box<dyn Schedule> = "exp(+1E-3,10.)".parse().unwrap();
    assert_eq!(b.to_string(), "exp(0.001,10)");
}

fn err(text: &str) -> ScheduleParseError {
    match parse_schedule(text) {
        Ok(s) => panic!("{text:?} parsed as {s}"),
        Err(e) => e,
    }
}

fn expected(offset: usize, expected: &'static str, found: &str) -> ScheduleParseError {
    ScheduleParseError {
        offset,
        kind: ParseErrorKind::Expected {
            expected,
            found: found.to_string(),
        },
    }
}

#[test]
fn syntax_errors_say_where_and_what() {
    let start = "a number or a schedule such as lin(a,b)";
    assert_eq!(err(""), expected(0, start, "end of input"));
    assert_eq!(err("   "), expected(3, start, "end of input"));
    assert_eq!(err("(1)"), expected(0, start, "'('"));
    assert_eq!(err("lin"), expected(3, "'('", "end of input"));
    assert_eq!(err("lin(1 2)"), expected(6, "',' or ')'", "'2'"));
    assert_eq!(err("lin(1,"), expected(6, "a number", "end of input"));
    assert_eq!(err("lin(1, x)"), expected(7, "a number", "'x'"));
    assert_eq!(err("lin(1,2) x"), expected(9, "end of input", "'x'"));
    assert_eq!(err("lin(1,2))"), expected(8, "end of input", "')'"));
    assert_eq!(err("1e"), expected(2, "exponent digits", "end of input"));
    assert_eq!(err("-"), expected(0, "a number", "'-'"));
    assert_eq!(err("lin(1,.)"), expected(6, "a number", "'.'"));
    assert_eq!(err("lin(1,2é)"), expected(7, "',' or ')'", "'é'"));
    assert_eq!(
        err("combine(.5, [lin(1,2)])"),
        expected(8, "'[' opening the list of percentages", "'.'")
    );
    assert_eq!(err("combine([1] lin(1,2))"), expected(12, "','", "'l'"));
    assert_eq!(
        err("combine([1], lin(1,2))"),
        expected(13, "'[' opening the list of schedules", "'l'")
    );
    assert_eq!(
        err("combine([1],[lin(1,2)]"),
        expected(22, "')'", "end of input")
    );
    assert_eq!(
        err("combine([1;],[lin(1,2)])"),
        expected(10, "',' or ']'", "';'")
    );
    assert_eq!(
        err("combine([1],[lin(1,2) 3])"),
        expected(22, "',' or ']'", "'3'")
    );
}

#[test]
fn name_arity_and_range_errors() {
    assert_eq!(
        err(" sqrt(2)"),
        ScheduleParseError {
            offset: 1,
            kind: ParseErrorKind::UnknownName {
                name: "sqrt".into()
            }
        }
    );
    assert_eq!(
        err("cos(1)"),
        ScheduleParseError {
            offset: 0,
            kind: ParseErrorKind::Arity {
                name: "cos".into(),
                expected: "2",
                found: 1
            }
        }
    );
    assert_eq!(
        err("one_cycle(1,2,3,4)").kind,
        ParseErrorKind::Arity {
            name: "one_cycle".into(),
            expected: "2 or 3",
            found: 4
        }
    );
    assert_eq!(
        err("lin()").kind,
        ParseErrorKind::Arity {
            name: "lin".into(),
            expected: "2",
            found: 0
        }
    );
    assert_eq!(
        err("lin(1, 1e400)"),
        ScheduleParseError {
            offset: 7,
            kind: ParseErrorKind::NumberOutOfRange {
                text: "1e400".into()
            }
        }
    );
    let deep = format!(
        "{}1{}",
        "combine([1],[".repeat(MAX_DEPTH + 1),
        "])".repeat(MAX_DEPTH + 1)
    );
    assert!(matches!(
        err(&deep).kind,
        ParseErrorKind::TooDeep { max: MAX_DEPTH }
    ));
    let ok = format!(
        "{}1{}",
        "combine([1],[".repeat(MAX_DEPTH),
        "])".repeat(MAX_DEPTH)
    );
    assert_eq!(parse_schedule(&ok).unwrap().at(0.5), 1.0);
}

#[test]
fn invalid_values_keep_their_schedule_error() {
    let invalid = |text: &str, offset: usize, want: ScheduleError| {
        assert_eq!(
            err(text),
            ScheduleParseError {
                offset,
                kind: ParseErrorKind::Invalid(want)
            }
        );
    };
    invalid(
        "exp(0, 1)",
        0,
        ScheduleError::NonPositiveExp {
            what: "start",
            value: 0.0,
        },
    );
    invalid("combine([], [])", 0, ScheduleError::Empty);
    invalid(
        "  combine([0.5, 0.6], [1, 2])",
        2,
        ScheduleError::PctSum { sum: 1.1 },
    );
    invalid(
        "combine([1, -0], [1, combine([0.5,0.5],[2])])",
        21,
        ScheduleError::LengthMismatch { pcts: 2, scheds: 1 },
    );
    invalid(
        "combine([1.5, -0.5], [1, 2])",
        0,
        ScheduleError::NegativePct {
            index: 1,
            value: -0.5,
        },
    );
}

/// A generated schedule, kept as data so proptest can print and shrink it.
#[derive(Debug, Clone)]
enum Spec {
    Const(f64),
    Lin(f64, f64),
    Cos(f64, f64),
    No(f64, f64),
    Exp(f64, f64),
    OneCycle(f64, f64, f64),
    Combine(Vec<f64>, Vec<Spec>),
}

fn build(spec: &Spec) -> Box<dyn Schedule> {
    match spec {
        Spec::Const(v) => Box::new(sched_const(*v).unwrap()),
        Spec::Lin(s, e) => Box::new(sched_lin(*s, *e).unwrap()),
        Spec::Cos(s, e) => Box::new(sched_cos(*s, *e).unwrap()),
        Spec::No(s, e) => Box::new(sched_no(*s, *e).unwrap()),
        Spec::Exp(s, e) => Box::new(sched_exp(*s, *e).unwrap()),
        Spec::OneCycle(lo, hi, end) => Box::new(one_cycle(*lo, *hi, *end).unwrap()),
        Spec::Combine(pcts, parts) => {
            Box::new(combine_scheds(pcts, parts.iter().map(build).collect()).unwrap())
        }
    }
}

/// Any finite number: mostly moderate, sometimes extreme or subnormal.
fn num() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -10.0..10.0f64,
        1 => prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL | prop::num::f64::ZERO,
    ]
}

fn positive() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => 1e-8..100.0f64,
        1 => prop::num::f64::POSITIVE | prop::num::f64::NORMAL,
    ]
}

fn leaf() -> impl Strategy<Value = Spec> {
    prop_oneof![
        num().prop_map(Spec::Const),
        (num(), num()).prop_map(|(s, e)| Spec::Lin(s, e)),
        (num(), num()).prop_map(|(s, e)| Spec::Cos(s, e)),
        (num(), num()).prop_map(|(s, e)| Spec::No(s, e)),
        (positive(), positive()).prop_map(|(s, e)| Spec::Exp(s, e)),
        (num(), num(), num()).prop_map(|(a, b, c)| Spec::OneCycle(a, b, c)),
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    leaf().prop_recursive(3, 24, 4, |inner| {
        prop::collection::vec((0u32..5, inner), 1..5).prop_filter_map(
            "needs a positive share",
            |parts| {
                let total: u32 = parts.iter().map(|(w, _)| w).sum();
                if total == 0 {
                    return None;
                }
                let pcts = parts
                    .iter()
                    .map(|(w, _)| f64::from(*w) / f64::from(total))
                    .collect();
                Some(Spec::Combine(
                    pcts,
                    parts.into_iter().map(|(_, s)| s).collect(),
                ))
            },
        )
    })
}

proptest! {
    #[test]
    fn display_then_parse_gives_the_same_schedule(
        spec in spec(),
        extra in prop::collection::vec(0.0..=1.0f64, 16),
    ) {
        let original = build(&spec);
        let text = original.to_string();
        let back = parse_schedule(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(back.to_string(), text.clone());
        for p in POSITIONS.iter().chain(&extra) {
            let (a, b) = (original.at(*p), back.at(*p));
            prop_assert!(a.to_bits() == b.to_bits(), "{} at {}: {} vs {}", text, p, a, b);
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,40}") {
        let _ = parse_schedule(&text);
    }

    #[test]
    fn near_miss_text_never_panics(text in "[a-z_(),\\[\\] .0-9eE+-]{0,40}") {
        if let Err(e) = parse_schedule(&text) {
            prop_assert!(e.offset <= text.len());
        }
    }
}
