//! `NormKind`: names, round trips, builders and the model builder's factory.

use autograd::Var;
use layers::ModuleExt;
use norms::{NormError, NormKind};
use tensor::{DType, Device, Tensor};

#[test]
fn names_parse_and_round_trip() {
    let cases = [
        ("batch-lesson", NormKind::BatchLesson),
        ("batch", NormKind::Batch),
        ("layer", NormKind::Layer),
        ("instance", NormKind::Instance { eps: 1.0 }),
        ("instance:1e-5", NormKind::Instance { eps: 1e-5 }),
        ("group", NormKind::Group { groups: 4 }),
        ("group:8", NormKind::Group { groups: 8 }),
        ("running-batch", NormKind::RunningBatch),
    ];
    for (name, kind) in cases {
        assert_eq!(name.parse::<NormKind>().unwrap(), kind, "{name}");
        assert_eq!(
            kind.to_string().parse::<NormKind>().unwrap(),
            kind,
            "{kind}"
        );
    }
    for name in NormKind::NAMES {
        assert!(name.parse::<NormKind>().is_ok(), "{name}");
    }
}

#[test]
fn unknown_or_malformed_names_are_typed_errors() {
    for bad in [
        "",
        "batchnorm",
        "group:0",
        "group:x",
        "instance:eps",
        "layer:3",
        "Batch",
    ] {
        let err = bad.parse::<NormKind>().unwrap_err();
        assert!(
            matches!(err, NormError::UnknownKind { .. }),
            "{bad}: {err:?}"
        );
        assert!(
            err.to_string().contains("running-batch"),
            "the message lists the names"
        );
    }
    assert!(matches!(
        "instance:-1".parse::<NormKind>(),
        Err(NormError::InvalidEps { .. })
    ));
}

#[test]
fn every_kind_builds_a_working_layer() {
    let x = Var::constant(Tensor::ones(&[2, 8, 3, 3], DType::F32, Device::Cpu).unwrap());
    for name in NormKind::NAMES {
        let kind: NormKind = name.parse().unwrap();
        // PyTorch's LayerNorm needs the spatial size in its normalized_shape.
        let m = kind.build_spatial(8, 3).unwrap();
        assert_eq!(m.type_name(), kind.layer_name());
        let y = m.forward(&x).unwrap();
        assert_eq!(y.shape(), vec![2, 8, 3, 3]);
        // PyTorch's InstanceNorm2d has no affine by default.
        assert_eq!(m.parameters().is_empty(), kind == NormKind::InstancePytorch);
        assert!(!m.describe().is_empty());
        assert!(matches!(kind.build(0), Err(NormError::ZeroChannels { .. })));
    }
    assert!(matches!(
        NormKind::Group { groups: 3 }.build(8),
        Err(NormError::GroupsMustDivideChannels { .. })
    ));
}

#[test]
fn the_factory_feeds_the_model_builder() {
    let f = NormKind::Batch.factory();
    assert!(f.is_some());
    let m = f.build(16).unwrap().expect("a norm layer");
    assert_eq!(m.type_name(), "BatchNorm2d");
    let names: Vec<String> = m.named_buffers().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        ["running_mean", "running_var", "num_batches_tracked"]
    );
    // Errors reach the builder as tensor errors.
    assert!(NormKind::Group { groups: 3 }.factory().build(16).is_err());
}

#[test]
fn parameter_and_buffer_names_follow_the_lesson_and_pytorch() {
    let names = |kind: NormKind| {
        let m = kind.build(4).unwrap();
        let p: Vec<String> = m.named_parameters().into_iter().map(|(n, _)| n).collect();
        let b: Vec<String> = m.named_buffers().into_iter().map(|(n, _)| n).collect();
        (p, b)
    };
    assert_eq!(
        names(NormKind::BatchLesson),
        (
            vec!["mults".into(), "adds".into()],
            vec!["vars".into(), "means".into()]
        )
    );
    assert_eq!(
        names(NormKind::Layer),
        (vec!["mult".into(), "add".into()], vec![])
    );
    assert_eq!(
        names(NormKind::Instance { eps: 1.0 }),
        (vec!["mults".into(), "adds".into()], vec![])
    );
    assert_eq!(
        names(NormKind::Group { groups: 2 }),
        (vec!["weight".into(), "bias".into()], vec![])
    );
    let (p, b) = names(NormKind::RunningBatch);
    assert_eq!(p, ["mults", "adds"]);
    assert_eq!(b, ["sums", "sqrs", "batch", "count", "step", "dbias"]);
}
