//! State dicts: order, snapshots, and checked loading.

use autograd::Var;
use layers::{
    load_state_dict, state_dict, Encoding, LayersError, LoadReport, ModuleExt, StateDict,
};
use tensor::{DType, Device, Tensor};

use crate::support::{assert_state_eq, bn_model, plain_model, randn, scramble};

#[test]
fn num_batches_tracked_is_marked_int64() {
    let sd = state_dict(&bn_model(0));
    for (name, e) in sd.entries() {
        let expected = if name.ends_with("num_batches_tracked") {
            Encoding::Int64
        } else {
            Encoding::Float
        };
        assert_eq!(e.encoding, expected, "{name}");
    }
}

#[test]
fn load_round_trip_into_a_fresh_model() {
    let src = bn_model(1);
    scramble(&src, 2);
    let dst = bn_model(3);
    let report = load_state_dict(&dst, &state_dict(&src), true).unwrap();
    assert_eq!(report, LoadReport::default());
    assert_state_eq(&state_dict(&src), &state_dict(&dst));
}

#[test]
fn a_state_dict_is_a_snapshot() {
    let model = plain_model(4);
    let sd = state_dict(&model);
    let saved = sd.get("7.bias").unwrap().to_vec::<f32>().unwrap();
    let p = &model.named_parameters()[11].1;
    p.update_value(|t| t.fill_(5.0)).unwrap();
    assert_eq!(sd.get("7.bias").unwrap().to_vec::<f32>().unwrap(), saved);
    // Loading keeps parameter identity: the handle taken before sees the loaded values.
    load_state_dict(&model, &sd, true).unwrap();
    assert_eq!(p.value().to_vec::<f32>().unwrap(), saved);
}

#[test]
fn missing_tensors_are_named() {
    let model = bn_model(5);
    let mut sd = state_dict(&model);
    sd.remove("0.2.running_var").unwrap();
    sd.remove("7.bias").unwrap();
    match load_state_dict(&model, &sd, true) {
        Err(LayersError::MissingTensors { names }) => {
            assert_eq!(names, ["0.2.running_var", "7.bias"])
        }
        other => panic!("expected MissingTensors, got {other:?}"),
    }
    let report = load_state_dict(&model, &sd, false).unwrap();
    assert_eq!(report.missing, ["0.2.running_var", "7.bias"]);
    assert!(report.unexpected.is_empty());
}

#[test]
fn unexpected_tensors_are_named() {
    let model = plain_model(6);
    let mut sd = state_dict(&model);
    sd.insert("9.weight", randn(&[3], DType::F32, 7));
    match load_state_dict(&model, &sd, true) {
        Err(LayersError::UnexpectedTensors { names }) => assert_eq!(names, ["9.weight"]),
        other => panic!("expected UnexpectedTensors, got {other:?}"),
    }
    assert_eq!(
        load_state_dict(&model, &sd, false).unwrap().unexpected,
        ["9.weight"]
    );
    // A norm model's state dict has buffers that a plain model lacks.
    assert!(matches!(
        load_state_dict(&model, &state_dict(&bn_model(6)), true),
        Err(LayersError::MissingTensors { .. })
    ));
}

#[test]
fn misshapen_tensors_are_named_and_nothing_is_loaded() {
    let model = bn_model(8);
    let before = state_dict(&model);
    let src = bn_model(9);
    scramble(&src, 10);
    let mut sd = state_dict(&src);
    sd.insert("7.weight", randn(&[10, 63], DType::F32, 11));
    for strict in [true, false] {
        match load_state_dict(&model, &sd, strict) {
            Err(LayersError::ShapeMismatch {
                name,
                expected,
                found,
            }) => {
                assert_eq!(
                    (name.as_str(), expected, found),
                    ("7.weight", vec![10, 64], vec![10, 63])
                );
            }
            other => panic!("expected ShapeMismatch, got {other:?}"),
        }
        // All or nothing: the 31 good tensors were not loaded either.
        assert_state_eq(&before, &state_dict(&model));
    }
    // A [1] tensor is not a scalar [].
    let mut sd = state_dict(&model);
    sd.insert(
        "1.2.num_batches_tracked",
        Tensor::zeros(&[1], DType::F32, Device::Cpu).unwrap(),
    );
    assert!(matches!(
        load_state_dict(&model, &sd, true),
        Err(LayersError::ShapeMismatch { .. })
    ));
}

#[test]
fn dtype_is_converted_and_device_kept() {
    let model = plain_model(12);
    let src = plain_model(13);
    src.to_dtype(DType::F64).unwrap();
    scramble(&src, 14);
    load_state_dict(&model, &state_dict(&src), true).unwrap();
    for (name, t) in state_dict(&model).iter() {
        assert_eq!((t.dtype(), t.device()), (DType::F32, Device::Cpu), "{name}");
        let want: Vec<f32> = state_dict(&src)
            .get(name)
            .unwrap()
            .to_vec::<f64>()
            .unwrap()
            .iter()
            .map(|&v| v as f32)
            .collect();
        assert_eq!(t.to_vec::<f32>().unwrap(), want, "{name}");
    }
}

#[test]
fn state_dict_map_operations() {
    let mut sd = StateDict::new();
    let t = |v: f64| Tensor::full(&[1], v, DType::F32, Device::Cpu).unwrap();
    assert!(sd.insert("a", t(1.0)).is_none());
    sd.insert("b", t(2.0));
    sd.insert("c", t(3.0));
    // Replacing keeps the position.
    assert_eq!(
        sd.insert("a", t(4.0)).unwrap().tensor.to_scalar().unwrap(),
        1.0
    );
    assert_eq!(sd.names().collect::<Vec<_>>(), ["a", "b", "c"]);
    sd.remove("b").unwrap();
    assert_eq!(sd.names().collect::<Vec<_>>(), ["a", "c"]);
    assert_eq!(sd.get("c").unwrap().to_scalar().unwrap(), 3.0);
    assert!(sd.remove("b").is_none() && !sd.contains("b") && sd.len() == 2);
}

#[test]
fn loading_keeps_parameter_identity() {
    // Loading replaces values, not the graph identity used by optimisers.
    let model = plain_model(15);
    let ids: Vec<usize> = model.parameters().iter().map(Var::id).collect();
    load_state_dict(&model, &state_dict(&plain_model(16)), true).unwrap();
    assert_eq!(
        ids,
        model.parameters().iter().map(Var::id).collect::<Vec<_>>()
    );
}
