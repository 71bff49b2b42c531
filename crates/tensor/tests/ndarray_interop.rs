//! A CPU tensor *is* an ndarray array: conversions both ways share the buffer (proved by
//! pointer equality) in standard layout, copy once otherwise, and are bit-exact.

use ndarray::{arr2, s, Array, Array2, ArrayD, IxDyn, ShapeBuilder};
use tensor::{DType, Device, Tensor, TensorError};

/// `0.1 * i - 3` at row-major index i: distinct, inexact values, so bits are checked.
fn values<T: From<f32>>(n: usize) -> Vec<T> {
    (0..n).map(|i| T::from(0.1f32 * i as f32 - 3.0)).collect()
}

#[test]
fn standard_layout_f32_round_trip_makes_no_copy() {
    let a = ArrayD::from_shape_vec(IxDyn(&[2, 3, 4]), values::<f32>(24)).unwrap();
    let expected = a.clone();
    let ptr = a.as_ptr();
    let t = Tensor::from(a);
    assert_eq!(t.shape(), &[2, 3, 4]);
    assert_eq!(t.dtype(), DType::F32);
    // The tensor holds the array's own buffer...
    let shared = t.to_ndarray::<f32>().unwrap();
    assert_eq!(shared.as_ptr(), ptr);
    let view = t.ndarray_view::<f32>().unwrap();
    assert_eq!(view.as_ptr(), ptr);
    assert_eq!(view, expected.view());
    drop(shared);
    // ...and gives it back when nothing else holds it.
    let back = t.into_ndarray::<f32>().unwrap();
    assert_eq!(back.as_ptr(), ptr);
    assert_eq!(back.shape(), expected.shape());
    let bits = |a: &ArrayD<f32>| a.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&back), bits(&expected));
}

#[test]
fn standard_layout_f64_round_trip_makes_no_copy() {
    let a = Array::from_shape_vec((3, 2), values::<f64>(6)).unwrap();
    let ptr = a.as_ptr();
    let t = Tensor::from_ndarray(a.clone());
    // `a.clone()` is a new buffer; the tensor took it, so compare against its elements.
    let back = t.to_ndarray::<f64>().unwrap();
    assert_ne!(back.as_ptr(), ptr);
    let owned = Array::from_shape_vec((3, 2), values::<f64>(6)).unwrap();
    let p2 = owned.as_ptr();
    let t2 = Tensor::from(owned);
    assert_eq!(t2.to_ndarray::<f64>().unwrap().as_ptr(), p2);
    assert_eq!(t2.to_vec::<f64>().unwrap(), values::<f64>(6));
    assert_eq!(back.into_dimensionality::<ndarray::Ix2>().unwrap(), a);
}

#[test]
fn shared_arrays_are_shared_not_copied() {
    let a = ndarray::ArcArray::from_shape_vec((2, 2), vec![1.0f32, 2.0, 3.0, 4.0]).unwrap();
    let ptr = a.as_ptr();
    let t = Tensor::from(a.clone());
    assert_eq!(t.ndarray_view::<f32>().unwrap().as_ptr(), ptr);
    // Writing to the user's array copies it first: the tensor keeps its values.
    let mut mine = a;
    mine[[0, 0]] = 9.0;
    assert_eq!(t.to_vec::<f32>().unwrap(), [1.0, 2.0, 3.0, 4.0]);
    // And an in-place update of the tensor leaves an exported array alone.
    let mut t = t;
    let out = t.to_ndarray::<f32>().unwrap();
    t.fill_(0.5).unwrap();
    assert_eq!(
        out.iter().copied().collect::<Vec<_>>(),
        [1.0, 2.0, 3.0, 4.0]
    );
    assert_eq!(t.to_vec::<f32>().unwrap(), [0.5; 4]);
}

#[test]
fn non_standard_layouts_copy_once_into_row_major() {
    let a = arr2(&[[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    // Transpose (column-major buffer): logical [[1, 4], [2, 5], [3, 6]].
    let t = Tensor::from(a.clone().reversed_axes());
    assert_eq!(t.shape(), &[3, 2]);
    assert_eq!(t.to_vec::<f32>().unwrap(), [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    // Fortran order built directly.
    let f = Array::from_shape_vec((2, 3).f(), vec![1.0f64, 4.0, 2.0, 5.0, 3.0, 6.0]).unwrap();
    let t = Tensor::from(f.clone());
    assert_eq!(t.to_vec::<f64>().unwrap(), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(t.to_ndarray::<f64>().unwrap(), f.into_dyn().into_shared());
    // Reversed and strided slices of an owned array.
    let rev = a.clone().slice_move(s![.., ..;-1]);
    let t = Tensor::from(rev);
    assert_eq!(t.to_vec::<f32>().unwrap(), [3.0, 2.0, 1.0, 6.0, 5.0, 4.0]);
    let every_other = a.slice_move(s![.., ..;2]);
    let t = Tensor::from(every_other);
    assert_eq!(t.shape(), &[2, 2]);
    assert_eq!(t.to_vec::<f32>().unwrap(), [1.0, 3.0, 4.0, 6.0]);
    // Bit-exact back: special values survive.
    let sp =
        Array2::from_shape_vec((2, 2).f(), vec![f64::NAN, -0.0, f64::INFINITY, 5e-324]).unwrap();
    let back = Tensor::from(sp).into_ndarray::<f64>().unwrap();
    let bits: Vec<u64> = back.iter().map(|v| v.to_bits()).collect();
    let want: Vec<u64> = [f64::NAN, f64::INFINITY, -0.0, 5e-324]
        .iter()
        .map(|v| v.to_bits())
        .collect();
    assert_eq!(bits, want);
}

#[test]
fn zero_dimensional_and_empty_arrays() {
    let s = Tensor::from(ndarray::arr0(2.5f64));
    assert_eq!(s.shape(), &[] as &[usize]);
    assert_eq!(s.to_scalar().unwrap(), 2.5);
    assert_eq!(s.to_ndarray::<f64>().unwrap().ndim(), 0);
    let e = Tensor::from(Array2::<f32>::zeros((0, 3)));
    assert_eq!(e.shape(), &[0, 3]);
    assert_eq!(e.ndarray_view::<f32>().unwrap().shape(), &[0, 3]);
}

#[test]
fn reshape_views_keep_sharing() {
    let t = Tensor::from_vec(values::<f32>(6), &[2, 3], Device::Cpu).unwrap();
    let r = t.reshape(&[3, 2]).unwrap();
    let v = r.ndarray_view::<f32>().unwrap();
    assert_eq!(v.shape(), &[3, 2]);
    assert_eq!(v.as_ptr(), t.ndarray_view::<f32>().unwrap().as_ptr());
    // deep_clone really copies.
    let d = t.deep_clone();
    assert!(!d.shares_storage(&t));
    assert_ne!(
        d.ndarray_view::<f32>().unwrap().as_ptr(),
        t.ndarray_view::<f32>().unwrap().as_ptr()
    );
}

#[test]
fn wrong_element_type_is_a_typed_error() {
    let t = Tensor::from_vec(vec![1.0f32, 2.0], &[2], Device::Cpu).unwrap();
    for err in [
        t.to_ndarray::<f64>().unwrap_err(),
        t.ndarray_view::<f64>().unwrap_err(),
        t.clone().into_ndarray::<f64>().unwrap_err(),
    ] {
        assert!(
            matches!(
                err,
                TensorError::DTypeMismatch {
                    lhs: DType::F32,
                    rhs: DType::F64,
                    ..
                }
            ),
            "{err}"
        );
    }
}

/// On a GPU the conversion refuses with a typed error instead of copying behind the
/// user's back.
#[test]
#[ignore = "needs CUDA"]
fn cuda_tensor_is_a_typed_error() {
    let t = Tensor::from_vec(vec![1.0f32, 2.0], &[2], Device::Cpu)
        .unwrap()
        .to_device(Device::Cuda(0))
        .unwrap();
    let err = t.to_ndarray::<f32>().unwrap_err();
    assert!(matches!(err, TensorError::NotOnHost { .. }), "{err}");
    assert!(t.ndarray_view::<f32>().is_err());
}
