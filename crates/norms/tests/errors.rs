//! Every refusal is a typed error, never a panic.

mod common;

use autograd::Var;
use common::*;
use layers::Module;
use norms::{
    BatchNorm, BatchNorm2d, GroupNorm, InstanceNorm, LayerNorm, NormConfig, NormError,
    RunningBatchNorm,
};
use tensor::{DType, Device, Tensor, TensorError};

fn input(shape: &[usize]) -> Var {
    Var::constant(Tensor::ones(shape, DType::F32, Device::Cpu).unwrap())
}

/// Every per-channel layer for 8 channels.
fn eight_channel_layers() -> Vec<Box<dyn Module>> {
    vec![
        Box::new(BatchNorm::new(8).unwrap()),
        Box::new(BatchNorm2d::new(8).unwrap()),
        Box::new(InstanceNorm::new(8).unwrap()),
        Box::new(GroupNorm::new(4, 8).unwrap()),
        Box::new(RunningBatchNorm::new(8).unwrap()),
    ]
}

#[test]
fn a_wrong_channel_count_is_named_in_the_error() {
    for m in eight_channel_layers() {
        for training in [true, false] {
            m.set_training(training);
            let err = m.forward(&input(&[2, 16, 3, 3])).unwrap_err();
            match &err {
                TensorError::InvalidShape { op, reason } => {
                    assert_eq!(*op, m.type_name());
                    assert_eq!(reason, "expected 8 channels, got 16");
                }
                other => panic!("{}: unexpected error {other:?}", m.type_name()),
            }
            assert_eq!(
                err.to_string(),
                format!("{}: expected 8 channels, got 16", m.type_name())
            );
        }
    }
}

#[test]
fn inputs_of_rank_below_two_are_refused() {
    for m in eight_channel_layers()
        .into_iter()
        .chain([Box::new(LayerNorm::new().unwrap()) as Box<dyn Module>])
    {
        let err = m.forward(&input(&[8])).unwrap_err();
        assert!(
            matches!(err, TensorError::InvalidShape { .. }),
            "{}: {err:?}",
            m.type_name()
        );
    }
}

#[test]
fn empty_inputs_are_refused() {
    for m in eight_channel_layers() {
        m.eval();
        let err = m.forward(&input(&[0, 8, 2, 2])).unwrap_err();
        assert!(
            matches!(err, TensorError::EmptyDimension { .. }),
            "{}: {err:?}",
            m.type_name()
        );
    }
}

#[test]
fn groups_must_divide_channels() {
    assert_eq!(
        GroupNorm::new(3, 8).unwrap_err(),
        NormError::GroupsMustDivideChannels {
            norm: "GroupNorm",
            groups: 3,
            channels: 8
        }
    );
    assert!(matches!(
        GroupNorm::new(0, 8),
        Err(NormError::GroupsMustDivideChannels { .. })
    ));
    assert_eq!(
        GroupNorm::new(3, 8).unwrap_err().to_string(),
        "GroupNorm: 3 groups do not divide 8 channels"
    );
    assert!(GroupNorm::new(8, 8).is_ok() && GroupNorm::new(1, 8).is_ok());
}

#[test]
fn running_batchnorm_refuses_a_training_batch_of_one() {
    let rbn = RunningBatchNorm::new(3).unwrap();
    let err = rbn.forward(&input(&[1, 3, 4, 4])).unwrap_err();
    assert!(
        matches!(
            err,
            TensorError::InvalidShape {
                op: "RunningBatchNorm",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("at least 2"), "{err}");
    assert_eq!(vals(rbn.step()), vec![0.0], "nothing was updated");
    assert_eq!(
        rbn.batch_momentum(1).unwrap_err(),
        NormError::BatchTooSmall {
            norm: "RunningBatchNorm",
            batch: 1
        }
    );
    assert!((rbn.batch_momentum(2).unwrap() - 0.1).abs() < 1e-15);
    rbn.eval();
    assert!(
        rbn.forward(&input(&[1, 3, 4, 4])).is_ok(),
        "eval has no mom1"
    );
}

#[test]
fn batchnorm2d_refuses_one_value_per_channel_in_training() {
    let bn = BatchNorm2d::new(3).unwrap();
    let err = bn.forward(&input(&[1, 3, 1, 1])).unwrap_err();
    assert!(
        matches!(
            err,
            TensorError::InvalidShape {
                op: "BatchNorm2d",
                ..
            }
        ),
        "{err:?}"
    );
    bn.eval();
    assert!(bn.forward(&input(&[1, 3, 1, 1])).is_ok());
}

#[test]
fn bad_settings_are_refused_at_construction() {
    let bad_eps = [0.0, -1e-5, f64::NAN, f64::INFINITY];
    for eps in bad_eps {
        let cfg = NormConfig::default().with_eps(eps);
        assert!(matches!(
            BatchNorm::with_config(4, cfg),
            Err(NormError::InvalidEps { .. })
        ));
        assert!(matches!(
            BatchNorm2d::with_config(4, cfg),
            Err(NormError::InvalidEps { .. })
        ));
        assert!(matches!(
            RunningBatchNorm::with_config(4, cfg),
            Err(NormError::InvalidEps { .. })
        ));
        assert!(matches!(
            LayerNorm::with_eps(eps),
            Err(NormError::InvalidEps { .. })
        ));
        assert!(matches!(
            InstanceNorm::with_eps(4, eps),
            Err(NormError::InvalidEps { .. })
        ));
        assert!(matches!(
            GroupNorm::with_eps(2, 4, eps),
            Err(NormError::InvalidEps { .. })
        ));
    }
    for mom in [-0.1, 1.1, f64::NAN, f64::INFINITY] {
        let cfg = NormConfig::default().with_momentum(mom);
        assert!(matches!(
            BatchNorm::with_config(4, cfg),
            Err(NormError::InvalidMomentum { .. })
        ));
        assert!(matches!(
            BatchNorm2d::with_config(4, cfg),
            Err(NormError::InvalidMomentum { .. })
        ));
        assert!(matches!(
            RunningBatchNorm::with_config(4, cfg),
            Err(NormError::InvalidMomentum { .. })
        ));
    }
    for mom in [0.0, 1.0] {
        assert!(BatchNorm2d::with_config(4, NormConfig::new(1e-5, mom)).is_ok());
    }
    assert!(matches!(
        BatchNorm::new(0),
        Err(NormError::ZeroChannels { .. })
    ));
    assert!(matches!(
        BatchNorm2d::new(0),
        Err(NormError::ZeroChannels { .. })
    ));
    assert!(matches!(
        InstanceNorm::new(0),
        Err(NormError::ZeroChannels { .. })
    ));
    assert!(matches!(
        GroupNorm::new(1, 0),
        Err(NormError::ZeroChannels { .. })
    ));
    assert!(matches!(
        RunningBatchNorm::new(0),
        Err(NormError::ZeroChannels { .. })
    ));
}

#[test]
fn norm_errors_convert_to_tensor_errors_for_the_model_builder() {
    let e: TensorError = NormError::InvalidEps {
        norm: "BatchNorm",
        eps: -1.0,
    }
    .into();
    assert_eq!(
        e,
        TensorError::InvalidArgument {
            op: "BatchNorm",
            reason: "eps must be finite and > 0, got -1".to_string()
        }
    );
    let inner = TensorError::EmptyDimension { op: "x", axis: 0 };
    assert_eq!(TensorError::from(NormError::from(inner.clone())), inner);
}

#[test]
fn mismatched_dtypes_are_refused() {
    let bn = BatchNorm2d::new(2).unwrap(); // f32
    let x = Var::constant(t64(&[1.0, 2.0, 3.0, 4.0], &[2, 2]));
    assert!(matches!(
        bn.forward(&x),
        Err(TensorError::DTypeMismatch { .. })
    ));
}
