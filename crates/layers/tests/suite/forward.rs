//! Forward values of each layer against independent computations: literal examples worked
//! by hand and naive loops over the defining sums.

use autograd::Var;
use layers::{AdaptiveAvgPool2d, Conv2d, Flatten, GeneralRelu, Lambda, Linear, Module, Sequential};
use proptest::prelude::*;
use tensor::{DType, TensorError};

use crate::support::{f64_tensor, randn};
use test_oracles::conv::{conv2d, ConvShape};

fn param(t: tensor::Tensor) -> Var {
    Var::parameter(t)
}

fn assert_close(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "element {i}: {x} vs {y}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn conv2d_matches_the_defining_sum(
        n in 1usize..3, c in 1usize..4, o in 1usize..4, k in 1usize..4,
        extra in 0usize..5, s in 1usize..3, p in 0usize..2, bias: bool, seed in 0u64..1000,
    ) {
        let (h, w) = (k + extra, k + extra + 1);
        let x = randn(&[n, c, h, w], DType::F64, seed);
        let wt = randn(&[o, c, k, k], DType::F64, seed + 1);
        let b = randn(&[o], DType::F64, seed + 2);
        let conv = Conv2d::from_parts(param(wt.clone()), bias.then(|| param(b.clone())), s, p).unwrap();
        let y = conv.call(&Var::constant(x.clone())).unwrap().value();
        let bv = b.to_vec::<f64>().unwrap();
        // `y[n,o,i,j] = b[o] + sum_{c,u,v} w[o,c,u,v] x[n,c,i s+u-p, j s+v-p]`, by loops.
        let shape = ConvShape::new([n, c, h, w], [o, c, k, k], s, p).unwrap();
        let expected = conv2d(
            &shape, &x.to_vec::<f64>().unwrap(), &wt.to_vec::<f64>().unwrap(),
            bias.then_some(bv.as_slice()),
        ).unwrap();
        prop_assert_eq!(y.shape(), &shape.y_shape()[..]);
        assert_close(&y.to_vec::<f64>().unwrap(), &expected, 1e-12);
    }

    #[test]
    fn linear_matches_the_defining_sum(m in 1usize..5, i in 1usize..6, o in 1usize..5, seed in 0u64..1000) {
        let x = randn(&[m, i], DType::F64, seed);
        let w = randn(&[o, i], DType::F64, seed + 1);
        let b = randn(&[o], DType::F64, seed + 2);
        let lin = Linear::from_parts(param(w.clone()), Some(param(b.clone()))).unwrap();
        let y = lin.call(&Var::constant(x.clone())).unwrap().value();
        let (xv, wv, bv) = (x.to_vec::<f64>().unwrap(), w.to_vec::<f64>().unwrap(), b.to_vec::<f64>().unwrap());
        let mut expected = vec![0.0; m * o];
        for r in 0..m {
            for q in 0..o {
                expected[r * o + q] = bv[q] + (0..i).map(|t| xv[r * i + t] * wv[q * i + t]).sum::<f64>();
            }
        }
        prop_assert_eq!(y.shape(), &[m, o][..]);
        assert_close(&y.to_vec::<f64>().unwrap(), &expected, 1e-12);
    }

    #[test]
    fn adaptive_pool_matches_pytorch_bins(
        h in 1usize..8, w in 1usize..8, oh in 1usize..5, ow in 1usize..5, seed in 0u64..1000,
    ) {
        let x = randn(&[2, 3, h, w], DType::F64, seed);
        let y = AdaptiveAvgPool2d::with_size(oh, ow).unwrap().call(&Var::constant(x.clone())).unwrap().value();
        // PyTorch: start = floor(i * in / out), end = ceil((i + 1) * in / out).
        let bin = |i: usize, len: usize, out: usize| {
            let start = ((i * len) as f64 / out as f64).floor() as usize;
            let end = (((i + 1) * len) as f64 / out as f64).ceil() as usize;
            start..end
        };
        let xv = x.to_vec::<f64>().unwrap();
        let mut expected = Vec::new();
        for nc in 0..6 {
            for i in 0..oh {
                for j in 0..ow {
                    let (rows, cols) = (bin(i, h, oh), bin(j, w, ow));
                    let count = (rows.len() * cols.len()) as f64;
                    let sum: f64 = rows.flat_map(|r| cols.clone().map(move |q| (r, q)))
                        .map(|(r, q)| xv[(nc * h + r) * w + q]).sum();
                    expected.push(sum / count);
                }
            }
        }
        prop_assert_eq!(y.shape(), &[2, 3, oh, ow][..]);
        assert_close(&y.to_vec::<f64>().unwrap(), &expected, 1e-12);
    }
}

#[test]
fn general_relu_worked_examples() {
    let x = Var::constant(f64_tensor(vec![-2.0, -0.5, 0.5, 3.0], &[4]));
    let run = |m: GeneralRelu| m.call(&x).unwrap().value().to_vec::<f64>().unwrap();
    assert_eq!(run(GeneralRelu::relu()), vec![0.0, 0.0, 0.5, 3.0]);
    // leaky 0.1: [-0.2, -0.05, 0.5, 3]; minus 0.4; clamp at 2.
    let y = run(GeneralRelu::new(Some(0.1), Some(0.4), Some(2.0)).unwrap());
    assert_close(&y, &[-0.6, -0.45, 0.1, 2.0], 1e-15);
    assert!(matches!(
        GeneralRelu::new(Some(f64::NAN), None, None),
        Err(TensorError::InvalidArgument { .. })
    ));
}

#[test]
fn adaptive_pool_worked_example() {
    // 3x3 -> 2x2: rows/cols {0,1} and {1,2}; means of the overlapping 2x2 windows of 1..9.
    let x = Var::constant(f64_tensor((1..=9).map(f64::from).collect(), &[1, 1, 3, 3]));
    let y = AdaptiveAvgPool2d::new(2).unwrap().call(&x).unwrap().value();
    assert_eq!(y.to_vec::<f64>().unwrap(), vec![3.0, 4.0, 6.0, 7.0]);
    let g = AdaptiveAvgPool2d::new(1).unwrap().call(&x).unwrap().value();
    assert_eq!(
        (g.shape(), g.to_vec::<f64>().unwrap()),
        (&[1, 1, 1, 1][..], vec![5.0])
    );
    assert!(AdaptiveAvgPool2d::new(0).is_err());
    assert!(AdaptiveAvgPool2d::new(1)
        .unwrap()
        .call(&Var::constant(f64_tensor(vec![1.0], &[1])))
        .is_err());
}

#[test]
fn flatten_and_view() {
    let x = Var::constant(randn(&[4, 3, 1, 1], DType::F32, 1));
    assert_eq!(Flatten::new().call(&x).unwrap().shape(), vec![4, 3]);
    let rows = Var::constant(randn(&[5, 784], DType::F32, 2));
    let v = Lambda::view(&[1, 28, 28]).call(&rows).unwrap();
    assert_eq!(v.shape(), vec![5, 1, 28, 28]);
    assert!(Lambda::view(&[1, 27, 28]).call(&rows).is_err());
    let scalar = Var::constant(f64_tensor(vec![1.0], &[]));
    assert!(Flatten::new().call(&scalar).is_err());
}

#[test]
fn empty_sequential_is_the_identity() {
    let x = Var::constant(randn(&[2, 3], DType::F32, 3));
    let s = Sequential::new();
    assert!(s.is_empty() && s.get(0).is_none());
    assert!(s.call(&x).unwrap().value().bit_eq(&x.value()));
}

#[test]
fn bad_layer_arguments_are_typed_errors() {
    let mut r = crate::support::rng(0);
    assert!(matches!(
        Conv2d::new(0, 8, 3, 2, 1, true, &mut r),
        Err(TensorError::InvalidArgument { .. })
    ));
    assert!(matches!(
        Conv2d::new(1, 8, 3, 0, 1, true, &mut r),
        Err(TensorError::InvalidArgument { .. })
    ));
    assert!(matches!(
        Linear::new(0, 3, &mut r),
        Err(TensorError::InvalidArgument { .. })
    ));
    let w = param(randn(&[4, 3], DType::F32, 1));
    let bad_bias = param(randn(&[3], DType::F32, 2));
    assert!(matches!(
        Linear::from_parts(w.clone(), Some(bad_bias)),
        Err(TensorError::ShapeMismatch { .. })
    ));
    let f64_bias = param(randn(&[4], DType::F64, 2));
    assert!(matches!(
        Linear::from_parts(w, Some(f64_bias)),
        Err(TensorError::DTypeMismatch { .. })
    ));
    let lin = Linear::new(3, 2, &mut r).unwrap();
    let x = Var::constant(randn(&[2, 4], DType::F32, 3));
    assert!(matches!(
        lin.call(&x),
        Err(TensorError::InvalidShape { op: "Linear", .. })
    ));
}
