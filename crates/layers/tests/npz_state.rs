//! State dicts through `.npz`: float entries keep type and bits, Int64 entries stay
//! integers, order is kept, and bad archives are typed errors.

use layers::{load_npz, save_npz, Encoding, LayersError, StateDict, StateEntry};
use tensor::{Device, Tensor};

fn sample() -> StateDict {
    let mut sd = StateDict::new();
    sd.insert(
        "0.weight",
        Tensor::from_vec(vec![0.1f32, -2.5, 3.0e-8, 7.0], &[2, 2], Device::Cpu).unwrap(),
    );
    sd.insert(
        "0.bias",
        Tensor::from_vec(vec![1.0f64 / 3.0, -0.0], &[2], Device::Cpu).unwrap(),
    );
    sd.insert_entry(
        "1.num_batches_tracked",
        StateEntry {
            tensor: Tensor::from_vec(vec![12345.0f64], &[], Device::Cpu).unwrap(),
            encoding: Encoding::Int64,
        },
    );
    sd
}

#[test]
fn state_dicts_round_trip_through_npz() {
    let dir = tempfile::tempdir().unwrap();
    for compressed in [false, true] {
        let p = dir.path().join(format!("sd_{compressed}.npz"));
        let sd = sample();
        save_npz(&p, &sd, compressed).unwrap();
        let back = load_npz(&p).unwrap();
        let names: Vec<&str> = back.names().collect();
        assert_eq!(names, ["0.weight", "0.bias", "1.num_batches_tracked"]);
        for (name, e) in sd.entries() {
            let b = back.entry(name).unwrap();
            assert!(b.tensor.bit_eq(&e.tensor), "{name}");
            assert_eq!(b.encoding, e.encoding, "{name}");
        }
    }
}

#[test]
fn non_integer_counters_and_bad_archives_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut sd = sample();
    sd.insert_entry(
        "n",
        StateEntry {
            tensor: Tensor::from_vec(vec![1.5f64], &[1], Device::Cpu).unwrap(),
            encoding: Encoding::Int64,
        },
    );
    let p = dir.path().join("bad.npz");
    assert!(matches!(
        save_npz(&p, &sd, false),
        Err(LayersError::NotAnInteger { .. })
    ));
    assert!(!p.exists(), "nothing written on a refused save");
    std::fs::write(&p, b"PK\x03\x04 not really a zip").unwrap();
    let err = load_npz(&p).unwrap_err().to_string();
    assert!(err.contains("bad.npz"), "{err}");
}
