//! The PyTorch-style layers refuse bad options and inputs with typed errors.

use autograd::Var;
use layers::Module;
use norms::{
    BatchNorm1d, BatchNorm2d, BatchNormOptions, GroupNorm, InstanceNorm2d, NormError,
    TorchLayerNorm,
};
use tensor::{DType, Device, Tensor, TensorError};

fn x(shape: &[usize]) -> Var {
    Var::constant(Tensor::full(shape, 1.0, DType::F32, Device::Cpu).unwrap())
}

#[test]
fn momentum_outside_0_1_is_refused_everywhere() {
    for m in [-0.1, 1.5, f64::NAN] {
        let o = BatchNormOptions::default().with_momentum(Some(m));
        let expected = |norm| NormError::InvalidMomentum { norm, momentum: m }.to_string();
        assert_eq!(
            BatchNorm1d::with_options(3, o).unwrap_err().to_string(),
            expected("BatchNorm1d")
        );
        assert_eq!(
            BatchNorm2d::with_options(3, o).unwrap_err().to_string(),
            expected("BatchNorm2d")
        );
        assert_eq!(
            InstanceNorm2d::with_options(3, o).unwrap_err().to_string(),
            expected("InstanceNorm2d")
        );
    }
    // momentum=None and the ends of [0, 1] are fine.
    for m in [None, Some(0.0), Some(1.0)] {
        assert!(BatchNorm2d::with_options(3, BatchNormOptions::default().with_momentum(m)).is_ok());
    }
    let e = BatchNorm1d::with_options(3, BatchNormOptions::default().with_eps(0.0)).unwrap_err();
    assert_eq!(
        e,
        NormError::InvalidEps {
            norm: "BatchNorm1d",
            eps: 0.0
        }
    );
}

#[test]
fn groups_must_divide_channels() {
    assert_eq!(
        GroupNorm::with_options(4, 6, 1e-5, false).unwrap_err(),
        NormError::GroupsMustDivideChannels {
            norm: "GroupNorm",
            groups: 4,
            channels: 6
        }
    );
}

#[test]
fn normalized_shape_must_match_the_input() {
    let ln = TorchLayerNorm::new(&[4, 5]).unwrap();
    let err = ln.forward(&x(&[2, 5, 4])).unwrap_err();
    assert_eq!(
        err,
        TensorError::from(NormError::NormalizedShapeMismatch {
            norm: "TorchLayerNorm",
            expected: vec![4, 5],
            got: vec![2, 5, 4],
        })
    );
    assert!(
        ln.forward(&x(&[5])).is_err(),
        "fewer dimensions than normalized_shape"
    );
    assert!(ln.forward(&x(&[4, 5])).is_ok() && ln.forward(&x(&[3, 2, 4, 5])).is_ok());
    for bad in [&[][..], &[3, 0]] {
        assert_eq!(
            TorchLayerNorm::new(bad).unwrap_err(),
            NormError::InvalidNormalizedShape {
                norm: "TorchLayerNorm",
                shape: bad.to_vec()
            }
        );
    }
}

#[test]
fn batch_of_one_value_per_channel_is_refused_like_pytorch() {
    let bn = BatchNorm1d::new(3).unwrap();
    assert!(matches!(
        bn.forward(&x(&[1, 3])).unwrap_err(),
        TensorError::InvalidShape {
            op: "BatchNorm1d",
            ..
        }
    ));
    assert!(
        bn.forward(&x(&[1, 3, 2])).is_ok(),
        "a batch of one with L > 1 is fine"
    );
    assert!(BatchNorm2d::new(3)
        .unwrap()
        .forward(&x(&[1, 3, 1, 1]))
        .is_err());
    assert!(BatchNorm2d::new(3)
        .unwrap()
        .forward(&x(&[1, 3, 2, 1]))
        .is_ok());
    // Eval with running statistics needs no batch statistics, so one value is fine.
    bn.eval();
    assert!(bn.forward(&x(&[1, 3])).is_ok());
    // Without running statistics eval uses batch statistics, so it is refused too.
    let nt = BatchNorm1d::with_options(
        3,
        BatchNormOptions::default().with_track_running_stats(false),
    )
    .unwrap();
    nt.eval();
    assert!(nt.forward(&x(&[1, 3])).is_err());
    let inorm = InstanceNorm2d::new(3).unwrap();
    assert!(inorm.forward(&x(&[4, 3, 1, 1])).is_err(), "1x1 maps");
    assert!(matches!(
        inorm.forward(&x(&[4, 3, 2])).unwrap_err(),
        TensorError::InvalidShape {
            op: "InstanceNorm2d",
            ..
        }
    ));
    assert!(matches!(
        bn.forward(&x(&[2, 3, 2, 2])).unwrap_err(),
        TensorError::InvalidShape {
            op: "BatchNorm1d",
            ..
        }
    ));
}
