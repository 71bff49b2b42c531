//! `.npy` / `.npz` interop with numpy: the fixtures in `fixtures/npy/` were written by numpy
//! (`generate.py`, contents in its README); every one must read back with exactly the values
//! the README states, and what we write must read back identically (set `NPY_OURS_DIR` to
//! also leave `ours_<name>` copies there for `python generate.py --check DIR`).

use std::path::{Path, PathBuf};

use ndarray::ArrayD;
use tensor::npy::{self, NpyArray, NpyError, NpzItem};
use tensor::{DType, Tensor};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/npy")
        .join(name)
}

/// The README's `grid`: at row-major index i, `(i % 17 - 8) / 4 + i / 1024`, in f64.
fn grid(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| ((i % 17) as f64 - 8.0) / 4.0 + i as f64 / 1024.0)
        .collect()
}

fn as_f64(t: &Tensor) -> Vec<f64> {
    t.to_vec_f64().unwrap()
}

#[test]
fn float_files_in_c_and_fortran_order_read_as_the_same_logical_array() {
    for (name, dtype, shape) in [
        ("f32_c.npy", DType::F32, vec![2, 3, 4]),
        ("f32_fortran.npy", DType::F32, vec![2, 3, 4]),
        ("f64_c.npy", DType::F64, vec![2, 3, 4]),
        ("f64_fortran.npy", DType::F64, vec![2, 3, 4]),
        ("f32_4d.npy", DType::F32, vec![2, 3, 4, 5]),
        ("f64_4d_fortran.npy", DType::F64, vec![2, 3, 4, 5]),
        ("f64_big_endian.npy", DType::F64, vec![2, 3]),
    ] {
        let t = Tensor::read_npy(fixture(name)).unwrap();
        assert_eq!(t.shape(), shape.as_slice(), "{name}");
        assert_eq!(t.dtype(), dtype, "{name}");
        let n: usize = shape.iter().product();
        assert_eq!(as_f64(&t), grid(n), "{name}");
    }
    assert_eq!(grid(18)[1], -1.7490234375);
    assert_eq!(grid(18)[16], 2.015625);
    assert_eq!(grid(18)[17], -1.9833984375);
}

#[test]
fn scalars_vectors_special_values_and_empty_arrays() {
    let t = Tensor::read_npy(fixture("f64_0d.npy")).unwrap();
    assert_eq!((t.rank(), t.to_scalar().unwrap()), (0, 3.25));
    let t = Tensor::read_npy(fixture("f32_0d.npy")).unwrap();
    assert_eq!(
        (t.rank(), t.dtype(), t.to_scalar().unwrap()),
        (0, DType::F32, -1.5)
    );
    let v = as_f64(&Tensor::read_npy(fixture("f64_1d.npy")).unwrap());
    let want = [0.0, -0.0, 1.0 / 3.0, std::f64::consts::PI, -1e300];
    assert_eq!(
        v.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        want.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );
    let sp = as_f64(&Tensor::read_npy(fixture("f64_special.npy")).unwrap());
    assert!(sp[0].is_nan());
    assert_eq!(sp[1], f64::INFINITY);
    assert_eq!(sp[2], f64::NEG_INFINITY);
    assert_eq!(sp[3].to_bits(), (-0.0f64).to_bits());
    assert_eq!(sp[4].to_bits(), 1);
    assert_eq!(sp[5], f64::MAX);
    let e = Tensor::read_npy(fixture("f32_empty.npy")).unwrap();
    assert_eq!((e.shape(), e.dtype()), (&[0usize, 3][..], DType::F32));
    let e = Tensor::read_npy(fixture("f64_empty_1d.npy")).unwrap();
    assert_eq!(e.shape(), &[0]);
}

#[test]
fn integer_and_bool_files_keep_their_type() {
    match npy::read_npy(fixture("i64.npy")).unwrap() {
        NpyArray::I64(a) => {
            assert_eq!(a.shape(), &[2, 3]);
            let v: Vec<i64> = a.iter().copied().collect();
            assert_eq!(v, [0, 1, -1, 1 << 40, -(1i64 << 53) - 1, i64::MAX]);
        }
        other => panic!("i64.npy read as {}", other.dtype_name()),
    }
    match npy::read_npy(fixture("u8.npy")).unwrap() {
        NpyArray::U8(a) => {
            let v: Vec<u8> = a.iter().copied().collect();
            assert_eq!(v, [0, 23, 46, 69, 92, 115, 138, 161, 184, 207, 230, 253]);
        }
        other => panic!("u8.npy read as {}", other.dtype_name()),
    }
    match npy::read_npy(fixture("bool.npy")).unwrap() {
        NpyArray::Bool(a) => {
            let v: Vec<bool> = a.iter().copied().collect();
            assert_eq!(v, [true, false, true, false, false, true]);
        }
        other => panic!("bool.npy read as {}", other.dtype_name()),
    }
    match npy::read_npy(fixture("randperm_10_seed0.npy")).unwrap() {
        NpyArray::I64(a) => {
            assert_eq!(
                a.iter().copied().collect::<Vec<_>>(),
                [4, 1, 7, 5, 3, 9, 0, 8, 6, 2]
            )
        }
        other => panic!("randperm read as {}", other.dtype_name()),
    }
    // Integers do not silently become float tensors.
    let err = Tensor::read_npy(fixture("i64.npy")).unwrap_err();
    assert!(
        matches!(err, NpyError::NotFloat { dtype: "int64", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("i64.npy"), "{err}");
}

#[test]
fn npz_plain_and_compressed_hold_the_same_arrays() {
    for name in ["arrays.npz", "arrays_compressed.npz"] {
        let z = npy::read_npz(fixture(name)).unwrap();
        let mut names = z.names();
        names.sort();
        assert_eq!(names, ["a", "b", "c", "d", "e"], "{name}");
        let a = z.get("a").unwrap().clone().into_tensor().unwrap();
        assert_eq!((a.shape(), a.dtype()), (&[2usize, 3][..], DType::F32));
        assert_eq!(as_f64(&a), grid(6));
        assert_eq!(
            z.get("b").unwrap(),
            &NpyArray::I64(ArrayD::from_shape_vec(vec![4], vec![3, -1, 4, 1]).unwrap())
        );
        let c = z.get("c").unwrap().clone().into_tensor().unwrap();
        assert_eq!((c.rank(), c.to_scalar().unwrap()), (0, 2.5));
        assert_eq!(
            z.get("d").unwrap(),
            &NpyArray::U8(ArrayD::from_shape_vec(vec![2, 2], vec![0, 255, 7, 128]).unwrap())
        );
        let e = z.get("e").unwrap().clone().into_tensor().unwrap();
        assert_eq!((e.shape(), e.dtype()), (&[3usize, 2][..], DType::F64));
        assert_eq!(as_f64(&e), grid(6));
        let err = z.get("x_train").unwrap_err().to_string();
        assert!(
            err.contains("x_train") && err.contains("a, b, c, d, e"),
            "{err}"
        );
    }
}

#[test]
fn mnist_like_archives_match_the_readme_checks() {
    let z = npy::read_npz(fixture("mnist_u8.npz")).unwrap();
    let NpyArray::U8(x) = z.get("x_train").unwrap() else {
        panic!("x_train is not uint8")
    };
    assert_eq!(x.shape(), &[64, 28, 28]);
    assert_eq!(x.iter().map(|&p| p as u64).sum::<u64>(), 1_622_246);
    let z = npy::read_npz(fixture("mnist_flat_f32.npz")).unwrap();
    let x = z.get("x_train").unwrap().clone().into_tensor().unwrap();
    assert_eq!(x.shape(), &[64, 784]);
    assert_eq!(as_f64(&x).iter().sum::<f64>(), 6361.7490747841075);
}

/// Every fixture, written back by us, reads back identically (bits, shape, type).
#[test]
fn what_we_write_reads_back_identically() {
    let dir = tempfile::tempdir().unwrap();
    let ours = std::env::var_os("NPY_OURS_DIR").map(PathBuf::from);
    let files: Vec<String> = std::fs::read_dir(fixture(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".npy") || n.ends_with(".npz"))
        .collect();
    assert!(files.len() >= 20, "{files:?}");
    for name in &files {
        let out = dir.path().join(format!("ours_{name}"));
        if name.ends_with(".npy") {
            let a = npy::read_npy(fixture(name)).unwrap();
            npy::write_npy(&out, &a).unwrap();
            assert_same(&a, &npy::read_npy(&out).unwrap(), name);
        } else {
            let z = npy::read_npz(fixture(name)).unwrap();
            let items: Vec<(&str, NpzItem)> = z
                .entries()
                .iter()
                .map(|(n, a)| (n.as_str(), NpzItem::from(a)))
                .collect();
            npy::write_npz(&out, items, name.contains("compressed")).unwrap();
            let back = npy::read_npz(&out).unwrap();
            assert_eq!(back.names(), z.names(), "{name}");
            for ((n, a), (_, b)) in z.entries().iter().zip(back.entries()) {
                assert_same(a, b, &format!("{name}:{n}"));
            }
        }
        if let Some(d) = &ours {
            std::fs::copy(&out, d.join(format!("ours_{name}"))).unwrap();
        }
    }
}

fn assert_same(a: &NpyArray, b: &NpyArray, what: &str) {
    assert_eq!(a.shape(), b.shape(), "{what}");
    assert_eq!(a.dtype_name(), b.dtype_name(), "{what}");
    assert_eq!(
        a.to_npy_bytes().unwrap(),
        b.to_npy_bytes().unwrap(),
        "{what}"
    );
}

#[test]
fn tensors_and_tensor_archives_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let t = Tensor::read_npy(fixture("f64_fortran.npy")).unwrap();
    let p = dir.path().join("t.npy");
    t.write_npy(&p).unwrap();
    assert!(Tensor::read_npy(&p).unwrap().bit_eq(&t));
    let u = Tensor::read_npy(fixture("f32_0d.npy")).unwrap();
    let z = dir.path().join("s.npz");
    npy::write_npz(
        &z,
        [("w", NpzItem::from(&t)), ("b", NpzItem::from(&u))],
        true,
    )
    .unwrap();
    let back = npy::read_npz(&z).unwrap().into_tensors().unwrap();
    assert_eq!(back[0].0, "w");
    assert!(back[0].1.bit_eq(&t));
    assert_eq!(back[1].0, "b");
    assert!(back[1].1.bit_eq(&u));
    let err = npy::write_npz(
        &z,
        [("w", NpzItem::from(&t)), ("w", NpzItem::from(&u))],
        false,
    )
    .unwrap_err();
    assert!(err.to_string().contains("given twice"), "{err}");
}

/// One error line naming the file; nothing written on a failed write.
#[test]
fn corrupt_truncated_and_wrong_files_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(fixture("f32_4d.npy")).unwrap();
    let check = |bytes: &[u8], name: &str, want: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let err = if name.ends_with(".npz") {
            npy::read_npz(&p).map(|_| ()).unwrap_err()
        } else {
            npy::read_npy(&p).map(|_| ()).unwrap_err()
        };
        let msg = err.to_string();
        assert!(!msg.contains('\n'), "{msg}");
        assert!(msg.contains(name) && msg.contains(want), "{name}: {msg}");
    };
    check(&good[..good.len() - 3], "cut.npy", "truncated");
    check(&good[..40], "cut_header.npy", "truncated");
    check(b"hello", "junk.npy", "magic");
    let mut bad_shape = good.clone();
    let at = bad_shape.windows(7).position(|w| w == b"'shape'").unwrap();
    bad_shape[at + 10] = b'x';
    check(&bad_shape, "bad_shape.npy", "shape");
    let mut extra = good.clone();
    extra.extend([0; 4]);
    check(&extra, "extra.npy", "4 bytes follow");
    let npz = std::fs::read(fixture("arrays_compressed.npz")).unwrap();
    check(&npz[..npz.len() / 2], "cut.npz", "npz");
    check(&good, "not_zip.npz", "npz");
    // A corrupt member inside a valid archive names the member.
    let a = npy::read_npy(fixture("f32_c.npy")).unwrap();
    let mut bytes = npy::write_npz_bytes([("a", NpzItem::from(&a))], false).unwrap();
    let at = bytes.windows(6).position(|w| w == b"\x93NUMPY").unwrap();
    bytes[at + 1] = b'X';
    check(&bytes, "bad_member.npz", "member `a.npy`");
    // Writing where it cannot: an error, and no file (not even a temporary one) left.
    let missing = dir.path().join("no_such_dir").join("x.npy");
    assert!(npy::write_npy(&missing, &a).is_err());
    assert!(!missing.exists());
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(names.iter().all(|e| !e
        .as_ref()
        .unwrap()
        .file_name()
        .to_string_lossy()
        .ends_with(".tmp")));
}
