//! Safetensors checkpoints: bit-exact round trips, atomic writes, and typed errors on bad
//! files.

use layers::{
    from_safetensors_bytes, load_safetensors, load_state_dict, save_safetensors, state_dict,
    to_safetensors_bytes, Encoding, LayersError, ModuleExt, StateDict, StateEntry,
};
use proptest::prelude::*;
use tensor::{DType, Device, Tensor};

use crate::support::{assert_state_eq, bn_model, plain_model, scramble};

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn model_round_trip_is_bit_exact() {
    let dir = tempdir();
    let path = dir.path().join("model.safetensors");
    let src = bn_model(1);
    scramble(&src, 2);
    save_safetensors(&path, &state_dict(&src)).unwrap();
    let loaded = load_safetensors(&path).unwrap();
    assert_eq!(
        loaded.entry("3.2.num_batches_tracked").unwrap().encoding,
        Encoding::Int64
    );
    assert_eq!(loaded.len(), 32);
    let dst = bn_model(3);
    load_state_dict(&dst, &loaded, true).unwrap();
    assert_state_eq(&state_dict(&src), &state_dict(&dst));
    // Saving the loaded model again reproduces the file byte for byte.
    assert_eq!(
        to_safetensors_bytes(&state_dict(&dst)).unwrap(),
        std::fs::read(&path).unwrap()
    );
}

#[test]
fn f64_models_round_trip_as_f64() {
    let dir = tempdir();
    let path = dir.path().join("f64.safetensors");
    let src = plain_model(4);
    src.to_dtype(DType::F64).unwrap();
    scramble(&src, 5);
    save_safetensors(&path, &state_dict(&src)).unwrap();
    let loaded = load_safetensors(&path).unwrap();
    assert!(loaded.iter().all(|(_, t)| t.dtype() == DType::F64));
    let dst = plain_model(6);
    dst.to_dtype(DType::F64).unwrap();
    load_state_dict(&dst, &loaded, true).unwrap();
    assert_state_eq(&state_dict(&src), &state_dict(&dst));
}

#[test]
fn saving_is_atomic_and_replaces_the_old_file() {
    let dir = tempdir();
    let path = dir.path().join("ckpt.safetensors");
    std::fs::write(&path, b"old contents").unwrap();
    let sd = state_dict(&plain_model(7));
    save_safetensors(&path, &sd).unwrap();
    assert_state_eq(&sd, &reorder_like(&load_safetensors(&path).unwrap(), &sd));
    // Only the checkpoint is left: the temporary file was renamed, not copied.
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files, ["ckpt.safetensors"]);
    // A missing directory is an I/O error naming the path, and creates nothing.
    let bad = dir.path().join("no/such/dir/x.safetensors");
    assert!(matches!(
        save_safetensors(&bad, &sd),
        Err(LayersError::Io { .. })
    ));
    assert!(matches!(
        load_safetensors(dir.path().join("absent")),
        Err(LayersError::Io { .. })
    ));
}

/// `a`'s entries in `b`'s order (files store entries sorted by dtype and name).
fn reorder_like(a: &StateDict, b: &StateDict) -> StateDict {
    let mut out = StateDict::new();
    for name in b.names() {
        out.insert_entry(name, a.entry(name).unwrap().clone());
    }
    out
}

#[test]
fn int64_entries_must_hold_integers() {
    let mut sd = StateDict::new();
    let entry = |v: f64| StateEntry {
        tensor: Tensor::full(&[], v, DType::F32, Device::Cpu).unwrap(),
        encoding: Encoding::Int64,
    };
    sd.insert_entry("n", entry(2.5));
    match to_safetensors_bytes(&sd) {
        Err(LayersError::NotAnInteger { name, value }) => {
            assert_eq!((name.as_str(), value), ("n", 2.5))
        }
        other => panic!("expected NotAnInteger, got {other:?}"),
    }
    sd.insert_entry("n", entry(f64::NAN));
    assert!(matches!(
        to_safetensors_bytes(&sd),
        Err(LayersError::NotAnInteger { .. })
    ));
    sd.insert_entry("n", entry(-7.0));
    let back = from_safetensors_bytes(&to_safetensors_bytes(&sd).unwrap()).unwrap();
    assert_eq!(back.get("n").unwrap().to_scalar().unwrap(), -7.0);
    let mut reserved = StateDict::new();
    reserved.insert(
        "__metadata__",
        Tensor::zeros(&[1], DType::F32, Device::Cpu).unwrap(),
    );
    assert!(matches!(
        to_safetensors_bytes(&reserved),
        Err(LayersError::ReservedName { .. })
    ));
}

/// A one-tensor file written by hand: header length, JSON header, data.
fn one_tensor_file(dtype: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut header = format!(
        r#"{{"t":{{"dtype":"{dtype}","shape":{shape},"data_offsets":[0,{}]}}}}"#,
        data.len()
    )
    .into_bytes();
    while header.len() % 8 != 0 {
        header.push(b' ');
    }
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend(header);
    out.extend(data);
    out
}

#[test]
fn unsupported_and_out_of_range_tensors_are_typed_errors() {
    let bf16 = one_tensor_file("BF16", "[2]", &[0, 0, 0, 0]);
    match from_safetensors_bytes(&bf16) {
        Err(LayersError::UnsupportedDType { name, dtype }) => {
            assert_eq!((name.as_str(), dtype.as_str()), ("t", "BF16"))
        }
        other => panic!("expected UnsupportedDType, got {other:?}"),
    }
    let big = one_tensor_file("I64", "[]", &((1i64 << 53) + 1).to_le_bytes());
    assert!(matches!(
        from_safetensors_bytes(&big),
        Err(LayersError::IntegerOutOfRange { .. })
    ));
    let ok = one_tensor_file("I64", "[]", &(1i64 << 53).to_le_bytes());
    assert_eq!(
        from_safetensors_bytes(&ok)
            .unwrap()
            .get("t")
            .unwrap()
            .to_scalar()
            .unwrap(),
        9_007_199_254_740_992.0
    );
}

#[test]
fn corrupt_files_are_typed_errors() {
    let bytes = to_safetensors_bytes(&state_dict(&bn_model(8))).unwrap();
    // Every truncation of a valid file is refused with a typed error.
    for len in (0..bytes.len())
        .step_by(97)
        .chain([0, 1, 7, 8, 9, bytes.len() - 1])
    {
        assert!(
            matches!(
                from_safetensors_bytes(&bytes[..len]),
                Err(LayersError::Corrupt { .. })
            ),
            "length {len}"
        );
    }
    // A header length beyond the file, a non-JSON header, and a wrong byte count.
    let mut long = bytes.clone();
    long[..8].copy_from_slice(&(bytes.len() as u64).to_le_bytes());
    assert!(matches!(
        from_safetensors_bytes(&long),
        Err(LayersError::Corrupt { .. })
    ));
    let mut not_json = one_tensor_file("F32", "[1]", &[0; 4]);
    not_json[8] = b'!';
    assert!(matches!(
        from_safetensors_bytes(&not_json),
        Err(LayersError::Corrupt { .. })
    ));
    let short = one_tensor_file("F32", "[2]", &[0; 4]);
    assert!(matches!(
        from_safetensors_bytes(&short),
        Err(LayersError::Corrupt { .. })
    ));
    // The same through a file, naming it.
    let dir = tempdir();
    let path = dir.path().join("truncated.safetensors");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    match load_safetensors(&path) {
        Err(LayersError::Corrupt { location, .. }) => {
            assert!(location.ends_with("truncated.safetensors"))
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

fn any_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(-0.0),
        Just(f64::MIN_POSITIVE / 4.0),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Arbitrary values (NaN, infinities, subnormals, -0) and shapes survive bit for bit.
    #[test]
    fn arbitrary_tensors_round_trip(
        entries in prop::collection::vec(
            (prop::collection::vec(0usize..4, 0..4), any::<bool>(), prop::collection::vec(any_float(), 64)),
            1..6,
        ),
    ) {
        let mut sd = StateDict::new();
        for (i, (shape, f64s, pool)) in entries.iter().enumerate() {
            let n: usize = shape.iter().product();
            let vals = pool.iter().cycle().take(n).copied().collect::<Vec<f64>>();
            let t = if *f64s {
                Tensor::from_vec(vals, shape, Device::Cpu).unwrap()
            } else {
                Tensor::from_vec(vals.iter().map(|&v| v as f32).collect::<Vec<f32>>(), shape, Device::Cpu).unwrap()
            };
            sd.insert(format!("layer.{i}.w"), t);
        }
        let back = from_safetensors_bytes(&to_safetensors_bytes(&sd).unwrap()).unwrap();
        prop_assert_eq!(back.len(), sd.len());
        for (name, t) in sd.iter() {
            let b = back.get(name).unwrap();
            prop_assert_eq!((b.shape(), b.dtype()), (t.shape(), t.dtype()));
            let bits = |t: &Tensor| t.to_vec_f64().unwrap().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(b), bits(t));
        }
    }

    /// Damaged bytes never panic: they load (if still consistent) or give a typed error.
    #[test]
    fn damaged_files_never_panic(flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut sd = StateDict::new();
        sd.insert("a", Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3], Device::Cpu).unwrap());
        sd.insert_entry("n", StateEntry {
            tensor: Tensor::full(&[], 4.0, DType::F32, Device::Cpu).unwrap(),
            encoding: Encoding::Int64,
        });
        let mut bytes = to_safetensors_bytes(&sd).unwrap();
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        match from_safetensors_bytes(&bytes) {
            Ok(_) | Err(LayersError::Corrupt { .. }) | Err(LayersError::UnsupportedDType { .. })
            | Err(LayersError::IntegerOutOfRange { .. }) | Err(LayersError::Tensor(_)) => {}
            Err(other) => prop_assert!(false, "unexpected error kind {other:?}"),
        }
    }
}
