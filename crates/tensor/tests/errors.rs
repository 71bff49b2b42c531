//! Bad input gives a typed `TensorError` (never a panic), and the right variant of it.

use rand::rngs::StdRng;
use rand::SeedableRng;
use tensor::ops::conv::conv2d_geometry;
use tensor::{DType, Device, Tensor, TensorError};

const CPU: Device = Device::Cpu;

fn t64(shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    Tensor::from_vec((0..n).map(|i| i as f64).collect::<Vec<_>>(), shape, CPU).unwrap()
}

fn t32(shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    Tensor::from_vec((0..n).map(|i| i as f32).collect::<Vec<_>>(), shape, CPU).unwrap()
}

fn zeros(shape: &[usize]) -> Tensor {
    Tensor::zeros(shape, DType::F64, CPU).unwrap()
}

/// Asserts `r` is an error matching `pat`, printing the value otherwise.
macro_rules! assert_err {
    ($r:expr, $pat:pat) => {
        match $r {
            Err($pat) => {}
            other => panic!("expected {}, got {:?}", stringify!($pat), other),
        }
    };
    ($r:expr, $pat:pat if $cond:expr) => {
        match $r {
            Err($pat) if $cond => {}
            other => panic!(
                "expected {} if {}, got {:?}",
                stringify!($pat),
                stringify!($cond),
                other
            ),
        }
    };
}

// ------------------------------------------------------------------------------------------
// Shapes
// ------------------------------------------------------------------------------------------

#[test]
fn binary_ops_reject_shapes_that_do_not_broadcast() {
    let a = t64(&[2, 3]);
    for b in [t64(&[2]), t64(&[3, 2]), t64(&[4, 3, 2]), t64(&[2, 3, 2])] {
        assert_err!(
            a.add(&b),
            TensorError::ShapeMismatch { lhs, rhs, .. } if lhs == [2, 3] && rhs == b.shape()
        );
        assert_err!(a.mul(&b), TensorError::ShapeMismatch { .. });
        assert_err!(a.maximum(&b), TensorError::ShapeMismatch { .. });
        assert_err!(a.lt(&b), TensorError::ShapeMismatch { .. });
        assert_err!(b.sub(&a), TensorError::ShapeMismatch { .. });
    }
    // [0] against [2]: 0 is not 1, so it does not broadcast either.
    assert_err!(
        zeros(&[0]).add(&t64(&[2])),
        TensorError::ShapeMismatch { .. }
    );
}

#[test]
fn matmul_rejects_mismatched_shapes() {
    // Inner dimensions differ.
    assert_err!(
        t64(&[2, 3]).matmul(&t64(&[2, 3])),
        TensorError::ShapeMismatch { op: "matmul", .. }
    );
    // Transposes make them differ (or agree).
    assert_err!(
        t64(&[2, 3]).matmul_t(&t64(&[3, 4]), true, false),
        TensorError::ShapeMismatch { .. }
    );
    assert_err!(
        t64(&[2, 3]).matmul_t(&t64(&[3, 4]), false, true),
        TensorError::ShapeMismatch { .. }
    );
    assert!(t64(&[2, 3]).matmul_t(&t64(&[4, 3]), false, true).is_ok());
    // Batch sizes differ; ranks differ; ranks other than 2 and 3.
    assert_err!(
        t64(&[2, 2, 3]).matmul(&t64(&[3, 3, 2])),
        TensorError::ShapeMismatch { .. }
    );
    assert_err!(
        t64(&[2, 3]).matmul(&t64(&[1, 3, 2])),
        TensorError::ShapeMismatch { .. }
    );
    assert_err!(
        t64(&[3]).matmul(&t64(&[3])),
        TensorError::ShapeMismatch { .. }
    );
    assert_err!(
        t64(&[1, 1, 2, 3]).matmul(&t64(&[1, 1, 3, 2])),
        TensorError::ShapeMismatch { .. }
    );
    assert_err!(
        t64(&[]).matmul(&t64(&[])),
        TensorError::ShapeMismatch { .. }
    );
}

#[test]
fn conv2d_rejects_bad_operands() {
    let x = t64(&[1, 2, 5, 5]);
    // Channel mismatch between input (2) and weight (3).
    assert_err!(
        x.conv2d(&t64(&[4, 3, 3, 3]), None, 1, 1),
        TensorError::ShapeMismatch { op: "conv2d", .. }
    );
    // Bias of the wrong length or rank.
    let w = t64(&[4, 2, 3, 3]);
    assert_err!(
        x.conv2d(&w, Some(&t64(&[3])), 1, 1),
        TensorError::ShapeMismatch { .. }
    );
    assert_err!(
        x.conv2d(&w, Some(&t64(&[4, 1])), 1, 1),
        TensorError::ShapeMismatch { .. }
    );
    assert_err!(
        x.conv2d(&w, Some(&t64(&[])), 1, 1),
        TensorError::ShapeMismatch { .. }
    );
    // Input or weight not 4-D.
    assert_err!(
        t64(&[2, 5, 5]).conv2d(&w, None, 1, 1),
        TensorError::InvalidShape { .. }
    );
    assert_err!(
        x.conv2d(&t64(&[4, 2, 3]), None, 1, 1),
        TensorError::InvalidShape { .. }
    );
    // Kernel larger than the padded input.
    assert_err!(
        x.conv2d(&t64(&[1, 2, 7, 7]), None, 1, 0),
        TensorError::InvalidShape { .. }
    );
    assert_err!(
        x.conv2d(&t64(&[1, 2, 3, 8]), None, 1, 1),
        TensorError::InvalidShape { .. }
    );
    assert!(x.conv2d(&t64(&[1, 2, 7, 7]), None, 1, 1).is_ok());
    // Stride 0.
    assert_err!(
        x.conv2d(&w, None, 0, 1),
        TensorError::InvalidArgument { .. }
    );
    // Any zero-size dimension, in the input or the weight.
    for xs in [[0, 2, 5, 5], [1, 0, 5, 5], [1, 2, 0, 5], [1, 2, 5, 0]] {
        let ws = [4, xs[1], 3, 3];
        assert_err!(
            zeros(&xs).conv2d(&zeros(&ws), None, 1, 1),
            TensorError::EmptyDimension { .. }
        );
    }
    assert_err!(
        x.conv2d(&zeros(&[0, 2, 3, 3]), None, 1, 1),
        TensorError::EmptyDimension { .. }
    );
    assert_err!(
        x.conv2d(&zeros(&[1, 2, 0, 3]), None, 1, 1),
        TensorError::EmptyDimension { .. }
    );
    // Mixed dtypes between input, weight and bias.
    assert_err!(
        x.conv2d(&t32(&[4, 2, 3, 3]), None, 1, 1),
        TensorError::DTypeMismatch { .. }
    );
    assert_err!(
        x.conv2d(&w, Some(&t32(&[4])), 1, 1),
        TensorError::DTypeMismatch { .. }
    );
}

#[test]
fn conv2d_geometry_and_backward_reject_mismatched_shapes() {
    let g = conv2d_geometry(&[2, 3, 6, 6], &[4, 3, 3, 3], 2, 1).unwrap();
    assert_eq!((g.h_out, g.w_out), (3, 3));
    let w = t64(&[4, 3, 3, 3]);
    let x = t64(&[2, 3, 6, 6]);
    let dy = t64(&[2, 4, 3, 3]);
    assert!(dy.conv2d_backward_input(&w, &g).is_ok());
    // Output gradient of the wrong shape.
    let bad_dy = t64(&[2, 4, 2, 3]);
    assert_err!(
        bad_dy.conv2d_backward_input(&w, &g),
        TensorError::ShapeMismatch { .. }
    );
    assert_err!(
        bad_dy.conv2d_backward_weight(&x, &g),
        TensorError::ShapeMismatch { .. }
    );
    assert_err!(
        bad_dy.conv2d_backward_bias(&g),
        TensorError::ShapeMismatch { .. }
    );
    // Weight or input not matching the geometry.
    assert_err!(
        dy.conv2d_backward_input(&t64(&[4, 3, 5, 5]), &g),
        TensorError::ShapeMismatch { .. }
    );
    assert_err!(
        dy.conv2d_backward_weight(&t64(&[2, 3, 7, 6]), &g),
        TensorError::ShapeMismatch { .. }
    );
    // Mixed dtypes.
    assert_err!(
        dy.conv2d_backward_input(&t32(&[4, 3, 3, 3]), &g),
        TensorError::DTypeMismatch { .. }
    );
    assert_err!(
        dy.conv2d_backward_weight(&t32(&[2, 3, 6, 6]), &g),
        TensorError::DTypeMismatch { .. }
    );
}

#[test]
fn reshape_and_from_vec_check_element_counts() {
    assert_err!(
        t64(&[2, 3]).reshape(&[4]),
        TensorError::ShapeMismatch { op: "reshape", .. }
    );
    assert_err!(t64(&[2, 3]).reshape(&[]), TensorError::ShapeMismatch { .. });
    assert_err!(t64(&[1]).reshape(&[0]), TensorError::ShapeMismatch { .. });
    assert!(t64(&[1]).reshape(&[]).is_ok());
    assert!(t64(&[2, 3]).reshape(&[3, 1, 2]).is_ok());
    assert_err!(
        Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[2, 2], CPU),
        TensorError::DataLength {
            len: 3,
            expected: 4,
            ..
        }
    );
    assert_err!(
        Tensor::from_vec(Vec::<f64>::new(), &[], CPU),
        TensorError::DataLength {
            len: 0,
            expected: 1,
            ..
        }
    );
    assert_err!(
        Tensor::from_slice(&[1.0f64], &[0], CPU),
        TensorError::DataLength {
            len: 1,
            expected: 0,
            ..
        }
    );
    assert_err!(
        Tensor::from_f64_vec(vec![1.0; 5], &[2, 3], DType::F32, CPU),
        TensorError::DataLength { .. }
    );
    assert_err!(
        t64(&[2, 3]).flatten_from(3),
        TensorError::InvalidAxis { .. }
    );
    assert_err!(t64(&[2, 3]).to_scalar(), TensorError::InvalidShape { .. });
    assert_err!(zeros(&[0]).to_scalar(), TensorError::InvalidShape { .. });
    assert_err!(
        t64(&[3]).transpose_last2(),
        TensorError::InvalidShape { .. }
    );
}

#[test]
fn broadcast_to_and_sum_to_shape_check_shapes() {
    assert_err!(
        t64(&[3]).broadcast_to(&[2]),
        TensorError::ShapeMismatch { .. }
    );
    // Broadcasting never drops dimensions.
    assert_err!(
        t64(&[2, 3]).broadcast_to(&[3]),
        TensorError::ShapeMismatch { .. }
    );
    assert_err!(
        t64(&[2, 1]).broadcast_to(&[2]),
        TensorError::ShapeMismatch { .. }
    );
    assert_err!(
        t64(&[3]).broadcast_to(&[]),
        TensorError::ShapeMismatch { .. }
    );
    // sum_to_shape: the target must broadcast to self's shape.
    assert_err!(
        t64(&[2, 3]).sum_to_shape(&[4]),
        TensorError::ShapeMismatch { .. }
    );
    assert_err!(
        t64(&[2, 3]).sum_to_shape(&[2]),
        TensorError::ShapeMismatch { .. }
    );
    assert_err!(
        t64(&[3]).sum_to_shape(&[2, 3]),
        TensorError::ShapeMismatch { .. }
    );
    assert_err!(
        t64(&[3]).sum_to_shape(&[1, 3]),
        TensorError::ShapeMismatch { .. }
    );
}

// ------------------------------------------------------------------------------------------
// Axes
// ------------------------------------------------------------------------------------------

#[test]
fn reductions_reject_invalid_axes() {
    let x = t64(&[2, 3, 4]);
    for axes in [&[3isize][..], &[-4], &[0, 5], &[100]] {
        assert_err!(x.sum(axes, false), TensorError::InvalidAxis { rank: 3, .. });
        assert_err!(x.mean(axes, true), TensorError::InvalidAxis { .. });
        assert_err!(x.var(axes, true, false), TensorError::InvalidAxis { .. });
        assert_err!(x.max(axes, false), TensorError::InvalidAxis { .. });
        assert_err!(x.min(axes, false), TensorError::InvalidAxis { .. });
    }
    assert_err!(x.sum(&[3], false), TensorError::InvalidAxis { axis: 3, .. });
    assert_err!(
        x.sum(&[-4], false),
        TensorError::InvalidAxis { axis: -4, .. }
    );
    // The same axis twice, directly or through a negative alias.
    for axes in [&[1isize, 1][..], &[0, -3], &[2, -1, 0]] {
        assert_err!(x.sum(axes, false), TensorError::InvalidArgument { .. });
        assert_err!(x.mean(axes, false), TensorError::InvalidArgument { .. });
        assert_err!(
            x.var(axes, false, false),
            TensorError::InvalidArgument { .. }
        );
    }
    // A scalar has no axis 0.
    assert_err!(
        t64(&[]).sum(&[0], false),
        TensorError::InvalidAxis { rank: 0, .. }
    );
    assert_err!(x.argmax(3, false), TensorError::InvalidAxis { .. });
    assert_err!(x.argmax(-4, false), TensorError::InvalidAxis { .. });
    assert_err!(t64(&[]).argmax(0, false), TensorError::InvalidAxis { .. });
}

#[test]
fn permute_rejects_non_permutations() {
    let x = t64(&[2, 3, 4]);
    for axes in [
        &[0usize, 1][..],
        &[0, 1, 2, 3],
        &[0, 0, 1],
        &[0, 1, 3],
        &[2, 2, 2],
        &[],
    ] {
        assert_err!(
            x.permute(axes),
            TensorError::InvalidArgument { op: "permute", .. }
        );
    }
    assert!(x.permute(&[1, 2, 0]).is_ok());
}

// ------------------------------------------------------------------------------------------
// Empty dimensions
// ------------------------------------------------------------------------------------------

#[test]
fn reductions_over_an_empty_axis_are_undefined_except_sum() {
    let x = zeros(&[2, 0, 3]);
    assert_err!(
        x.mean(&[1], false),
        TensorError::EmptyDimension { axis: 1, .. }
    );
    assert_err!(
        x.var(&[1], false, false),
        TensorError::EmptyDimension { axis: 1, .. }
    );
    assert_err!(
        x.var(&[-2], true, true),
        TensorError::EmptyDimension { axis: 1, .. }
    );
    assert_err!(x.max(&[1], false), TensorError::EmptyDimension { .. });
    assert_err!(x.min(&[0, 1], false), TensorError::EmptyDimension { .. });
    assert_err!(x.mean_all(), TensorError::EmptyDimension { .. });
    assert_err!(x.argmax(1, false), TensorError::EmptyDimension { .. });
    assert!(x.sum(&[1], false).is_ok());
    // Reducing a non-empty axis of a tensor with an empty one elsewhere is fine: the result
    // is empty too.
    let m = x.mean(&[2], false).unwrap();
    assert_eq!(m.shape(), [2, 0]);
    assert_err!(
        zeros(&[0]).max(&[], false),
        TensorError::EmptyDimension { axis: 0, .. }
    );
}

#[test]
fn losses_reject_bad_shapes_and_targets() {
    let z = t64(&[2, 3]);
    let tgt = |v: &[f64]| Tensor::from_slice(v, &[v.len()], CPU).unwrap();
    // N = 0 or C = 0.
    assert_err!(
        zeros(&[0, 3]).cross_entropy(&zeros(&[0])),
        TensorError::EmptyDimension { axis: 0, .. }
    );
    assert_err!(
        zeros(&[2, 0]).cross_entropy(&tgt(&[0.0, 0.0])),
        TensorError::EmptyDimension { axis: 1, .. }
    );
    assert_err!(
        zeros(&[0, 3]).cross_entropy_backward(&zeros(&[0]), &t64(&[])),
        TensorError::EmptyDimension { .. }
    );
    // Targets of the wrong length or rank, logits not 2-D.
    assert_err!(
        z.cross_entropy(&tgt(&[0.0])),
        TensorError::ShapeMismatch { .. }
    );
    assert_err!(
        z.cross_entropy(&zeros(&[2, 1])),
        TensorError::ShapeMismatch { .. }
    );
    assert_err!(
        t64(&[6]).cross_entropy(&tgt(&[0.0])),
        TensorError::ShapeMismatch { .. }
    );
    assert_err!(
        t64(&[1, 2, 3]).cross_entropy(&tgt(&[0.0])),
        TensorError::ShapeMismatch { .. }
    );
    // Targets that are not class ids in 0..3.
    for bad in [3.0, -1.0, 0.5, 2.0000001, f64::NAN, f64::INFINITY, 1e300] {
        assert_err!(
            z.cross_entropy(&tgt(&[0.0, bad])),
            TensorError::InvalidArgument { .. }
        );
        assert_err!(
            z.cross_entropy_backward(&tgt(&[bad, 1.0]), &t64(&[])),
            TensorError::InvalidArgument { .. }
        );
    }
    assert!(z.cross_entropy(&tgt(&[2.0, 0.0])).is_ok());
    // The loss gradient must be a single element.
    assert_err!(
        z.cross_entropy_backward(&tgt(&[0.0, 1.0]), &t64(&[2])),
        TensorError::InvalidShape { .. }
    );
    // Mixed dtypes.
    let t32_targets = Tensor::from_vec(vec![0.0f32, 1.0], &[2], CPU).unwrap();
    assert_err!(
        z.cross_entropy(&t32_targets),
        TensorError::DTypeMismatch { .. }
    );
    assert_err!(z.accuracy(&t32_targets), TensorError::DTypeMismatch { .. });
    assert_err!(
        z.cross_entropy_backward(
            &tgt(&[0.0, 1.0]),
            &Tensor::scalar(1.0, DType::F32, CPU).unwrap()
        ),
        TensorError::DTypeMismatch { .. }
    );
    // log_softmax needs [N, C] with C > 0.
    assert_err!(t64(&[3]).log_softmax(), TensorError::InvalidShape { .. });
    assert_err!(
        t64(&[1, 2, 3]).log_softmax(),
        TensorError::InvalidShape { .. }
    );
    assert_err!(
        zeros(&[2, 0]).log_softmax(),
        TensorError::InvalidShape { .. }
    );
    let y = z.log_softmax().unwrap();
    assert_err!(
        y.log_softmax_backward(&t64(&[3, 2])),
        TensorError::ShapeMismatch { .. }
    );
    assert_err!(
        y.log_softmax_backward(&t32(&[2, 3])),
        TensorError::DTypeMismatch { .. }
    );
    assert_err!(z.accuracy(&tgt(&[0.0])), TensorError::ShapeMismatch { .. });
}

// ------------------------------------------------------------------------------------------
// Indices
// ------------------------------------------------------------------------------------------

#[test]
fn row_indices_out_of_range() {
    let x = t64(&[3, 2]);
    assert_err!(
        x.index_select_rows(&[0, 3]),
        TensorError::IndexOutOfRange {
            index: 3,
            size: 3,
            ..
        }
    );
    assert_err!(x.narrow_rows(2, 2), TensorError::IndexOutOfRange { .. });
    assert_err!(
        t64(&[]).index_select_rows(&[0]),
        TensorError::InvalidShape { .. }
    );
    assert_err!(
        t64(&[2, 2]).index_add_rows(&[0, 5], 3),
        TensorError::IndexOutOfRange {
            index: 5,
            size: 3,
            ..
        }
    );
    // One index per source row.
    assert_err!(
        t64(&[2, 2]).index_add_rows(&[0], 3),
        TensorError::InvalidShape { .. }
    );
    assert_err!(
        t64(&[]).index_add_rows(&[], 3),
        TensorError::InvalidShape { .. }
    );
}

// ------------------------------------------------------------------------------------------
// Element types and devices
// ------------------------------------------------------------------------------------------

#[test]
fn mixed_dtypes_are_rejected() {
    let (a, b) = (t64(&[2, 2]), t32(&[2, 2]));
    assert_err!(
        a.add(&b),
        TensorError::DTypeMismatch {
            lhs: DType::F64,
            rhs: DType::F32,
            ..
        }
    );
    assert_err!(
        b.mul(&a),
        TensorError::DTypeMismatch {
            lhs: DType::F32,
            rhs: DType::F64,
            ..
        }
    );
    assert_err!(a.eq(&b), TensorError::DTypeMismatch { .. });
    assert_err!(a.matmul(&b), TensorError::DTypeMismatch { .. });
    let mut c = a.clone();
    assert_err!(c.add_scaled_(&b, 1.0), TensorError::DTypeMismatch { .. });
    assert_err!(c.lerp_(&b, 0.5), TensorError::DTypeMismatch { .. });
    assert_err!(c.copy_from_(&b), TensorError::DTypeMismatch { .. });
    assert_err!(
        c.axpby_(&t64(&[4]), 1.0, 1.0),
        TensorError::ShapeMismatch { .. }
    );
    // The failed updates left c untouched.
    assert!(c.bit_eq(&a));
    // Reading elements as the wrong type.
    assert_err!(a.to_vec::<f32>(), TensorError::DTypeMismatch { .. });
    assert_err!(b.to_vec::<f64>(), TensorError::DTypeMismatch { .. });
    assert!(b.to_vec_f64().is_ok());
}

#[test]
fn an_unavailable_cuda_device_is_a_typed_error() {
    // On a machine without a usable GPU every CUDA device is unavailable; on one with a
    // GPU, device 0 works and an absurd ordinal still does not.
    match Tensor::zeros(&[2, 2], DType::F32, Device::Cuda(0)) {
        Err(TensorError::DeviceUnavailable { device, .. }) => {
            assert_eq!(device, Device::Cuda(0));
            assert_err!(
                Tensor::from_vec(vec![1.0f64, 2.0], &[2], Device::Cuda(0)),
                TensorError::DeviceUnavailable {
                    device: Device::Cuda(0),
                    ..
                }
            );
            assert_err!(
                t64(&[2]).to_device(Device::Cuda(0)),
                TensorError::DeviceUnavailable { .. }
            );
            assert_err!(
                Tensor::scalar(1.0, DType::F64, Device::Cuda(0)),
                TensorError::DeviceUnavailable { .. }
            );
            let mut rng = StdRng::seed_from_u64(0);
            assert_err!(
                Tensor::randn(&[3], 0.0, 1.0, DType::F32, Device::Cuda(0), &mut rng),
                TensorError::DeviceUnavailable { .. }
            );
        }
        Ok(t) => {
            assert_eq!(t.device(), Device::Cuda(0));
            assert_eq!(t.to_vec_f64().unwrap(), [0.0; 4]);
        }
        Err(other) => panic!("expected DeviceUnavailable, got {other:?}"),
    }
    let far = Device::Cuda(1_000_000);
    assert_err!(
        Tensor::zeros(&[2], DType::F32, far),
        TensorError::DeviceUnavailable { device, .. } if device == far
    );
    assert_err!(
        t64(&[2]).to_device(far),
        TensorError::DeviceUnavailable { .. }
    );
    // Device names parse, or fail with a typed error.
    assert_eq!("cpu".parse::<Device>().unwrap(), Device::Cpu);
    assert_eq!("cuda:1".parse::<Device>().unwrap(), Device::Cuda(1));
    assert_eq!(" CUDA ".parse::<Device>().unwrap(), Device::Cuda(0));
    assert!("tpu".parse::<Device>().is_err());
    assert!("cuda:x".parse::<Device>().is_err());
    assert!("cuda:-1".parse::<Device>().is_err());
}

// ------------------------------------------------------------------------------------------
// Random tensors
// ------------------------------------------------------------------------------------------

#[test]
fn random_tensors_reject_bad_parameters() {
    let mut rng = StdRng::seed_from_u64(1);
    for (low, high) in [
        (1.0, 1.0),
        (2.0, 1.0),
        (f64::NAN, 1.0),
        (0.0, f64::NAN),
        (f64::NEG_INFINITY, 0.0),
        (0.0, f64::INFINITY),
    ] {
        assert_err!(
            Tensor::rand_uniform(&[3], low, high, DType::F32, CPU, &mut rng),
            TensorError::InvalidArgument {
                op: "rand_uniform",
                ..
            }
        );
    }
    for std in [f64::NAN, f64::INFINITY] {
        assert_err!(
            Tensor::randn(&[3], 0.0, std, DType::F64, CPU, &mut rng),
            TensorError::InvalidArgument { op: "randn", .. }
        );
    }
    assert!(Tensor::randn(&[3], 0.0, 0.0, DType::F64, CPU, &mut rng).is_ok());
    assert!(Tensor::rand_uniform(&[3], -1.0, 1.0, DType::F64, CPU, &mut rng).is_ok());
}

#[test]
fn randn_rejects_a_negative_std_and_a_non_finite_mean() {
    let mut rng = StdRng::seed_from_u64(2);
    for (mean, std) in [
        (0.0, -1.0),
        (0.0, -1e-9),
        (f64::NAN, 1.0),
        (f64::INFINITY, 1.0),
    ] {
        assert_err!(
            Tensor::randn(&[3], mean, std, DType::F64, CPU, &mut rng),
            TensorError::InvalidArgument { op: "randn", .. }
        );
    }
}

// ------------------------------------------------------------------------------------------
// Absurd sizes: arithmetic overflow must be a typed error too
// ------------------------------------------------------------------------------------------

#[test]
fn shapes_whose_element_count_overflows_are_rejected() {
    let r = std::panic::catch_unwind(|| Tensor::from_vec(vec![1.0f64; 2], &[usize::MAX, 2], CPU));
    assert!(r.is_ok(), "from_vec panicked");
    assert_err!(
        r.unwrap(),
        TensorError::DataLength { .. } | TensorError::InvalidShape { .. }
    );
    let r = std::panic::catch_unwind(|| t64(&[2]).reshape(&[usize::MAX, 2, 2]));
    assert!(r.is_ok(), "reshape panicked");
    assert_err!(
        r.unwrap(),
        TensorError::ShapeMismatch { .. } | TensorError::InvalidShape { .. }
    );
}

#[test]
fn narrow_rows_with_an_overflowing_range_is_rejected() {
    let r = std::panic::catch_unwind(|| t64(&[3, 2]).narrow_rows(usize::MAX, 2));
    assert!(r.is_ok(), "narrow_rows panicked");
    assert_err!(
        r.unwrap(),
        TensorError::IndexOutOfRange { .. } | TensorError::InvalidArgument { .. }
    );
}

#[test]
fn conv2d_with_an_overflowing_padding_is_rejected() {
    let r = std::panic::catch_unwind(|| {
        t64(&[1, 1, 3, 3]).conv2d(&t64(&[1, 1, 3, 3]), None, 1, usize::MAX / 2 + 1)
    });
    assert!(r.is_ok(), "conv2d panicked");
    assert!(r.unwrap().is_err());
}
