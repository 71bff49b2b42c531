//! `convert_sync_batchnorm` on the lesson's CNN (`get_cnn_model([8, 16, 32, 64, 64])` with
//! BatchNorm2d), on one rank: the converted model has a SyncBatchNorm wherever the original
//! had a BatchNorm2d, holds the very same parameter and buffer handles, keeps the mode, and
//! (checked against a twin model built from the same seed and left unconverted) has the same
//! state dict and computes the same outputs, input gradients, parameter gradients and
//! running buffers, bit for bit, over two training steps and an eval pass, in f64.

use std::rc::Rc;

use autograd::Var;
use collective::{Collective, SingleProcess};
use layers::{get_cnn_model, state_dict, Module, ModuleExt, Sequential};
use norms::{convert_sync_batchnorm, BatchNorm2d, NormKind, SyncBatchNorm};
use rand::{Rng, SeedableRng};
use tensor::{DType, Device, Tensor};

const NFS: [usize; 5] = [8, 16, 32, 64, 64];

fn lesson_cnn() -> Sequential {
    let mut rng = rand::rngs::StdRng::seed_from_u64(13);
    let m = get_cnn_model(&NFS, &NormKind::Batch.factory(), &mut rng).unwrap();
    m.to_dtype(DType::F64).unwrap();
    m
}

fn random(rng: &mut impl Rng, shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect();
    Tensor::from_slice(&v, shape, Device::Cpu).unwrap()
}

fn values(t: &Tensor) -> Vec<f64> {
    t.to_vec_f64().unwrap()
}

fn comm() -> Rc<dyn Collective> {
    Rc::new(SingleProcess::new())
}

/// The modules' dotted paths with their type names.
fn types(m: &dyn Module) -> Vec<(String, &'static str)> {
    m.named_modules()
        .into_iter()
        .map(|(p, m)| (p, m.type_name()))
        .collect()
}

#[test]
fn every_batchnorm2d_becomes_a_sync_batchnorm_sharing_its_tensors() {
    let original = lesson_cnn();
    let before = types(&original);
    let ids: Vec<usize> = original
        .named_parameters()
        .iter()
        .chain(original.named_buffers().iter())
        .map(|(_, v)| v.id())
        .collect();
    let converted = convert_sync_batchnorm(Box::new(original), &comm()).unwrap();
    let after = types(converted.as_ref());
    assert_eq!(before.len(), after.len());
    let mut swapped = Vec::new();
    for ((p0, t0), (p1, t1)) in before.iter().zip(&after) {
        assert_eq!(p0, p1);
        if *t0 == BatchNorm2d::NAME {
            assert_eq!(*t1, SyncBatchNorm::NAME, "{p0}");
            swapped.push(p0.as_str());
        } else {
            assert_eq!(t0, t1, "{p0}");
        }
    }
    assert_eq!(swapped, ["0.2", "1.2", "2.2", "3.2", "4.2"]);
    let ids_after: Vec<usize> = converted
        .named_parameters()
        .iter()
        .chain(converted.named_buffers().iter())
        .map(|(_, v)| v.id())
        .collect();
    assert_eq!(ids, ids_after);
    let modules = converted.named_modules();
    let (_, sync) = modules.iter().find(|(p, _)| p == "0.2").unwrap();
    let sync: &SyncBatchNorm = sync.as_any().downcast_ref().unwrap();
    assert_eq!(sync.channels(), 8);
    assert_eq!(sync.config(), norms::NormConfig::default());
}

#[test]
fn the_mode_is_kept() {
    let original = lesson_cnn();
    original.eval();
    let converted = convert_sync_batchnorm(Box::new(original), &comm()).unwrap();
    assert!(converted
        .named_modules()
        .iter()
        .all(|(_, m)| !m.is_training()));
}

#[test]
fn a_lone_batchnorm2d_is_converted_and_other_modules_are_kept() {
    let bn: Box<dyn Module> = Box::new(BatchNorm2d::new(3).unwrap());
    assert_eq!(
        convert_sync_batchnorm(bn, &comm()).unwrap().type_name(),
        SyncBatchNorm::NAME
    );
    let gn: Box<dyn Module> = Box::new(norms::GroupNorm::new(1, 3).unwrap());
    assert_eq!(
        convert_sync_batchnorm(gn, &comm()).unwrap().type_name(),
        "GroupNorm"
    );
}

#[test]
fn on_one_rank_the_converted_cnn_equals_the_original_bit_for_bit() {
    let twin = lesson_cnn();
    let converted = convert_sync_batchnorm(Box::new(lesson_cnn()), &comm()).unwrap();
    let (sd0, sd1) = (state_dict(&twin), state_dict(converted.as_ref()));
    let names0: Vec<&str> = sd0.names().collect();
    let names1: Vec<&str> = sd1.names().collect();
    assert_eq!(names0, names1);
    assert_eq!(names0.len(), 5 * (1 + 5) + 2); // conv weight, 2 params + 3 buffers; head
    for (n, e) in sd0.entries() {
        let e1 = sd1.entry(n).unwrap();
        assert_eq!(e.encoding, e1.encoding, "{n}");
        assert_eq!(e.tensor.shape(), e1.tensor.shape(), "{n}");
        assert_eq!(values(&e.tensor), values(&e1.tensor), "{n}");
    }

    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for _step in 0..2 {
        let x = random(&mut rng, &[6, 1, 28, 28]);
        let dy = random(&mut rng, &[6, 10]);
        let run = |m: &dyn Module| {
            m.zero_grad();
            let xv = Var::parameter(x.clone());
            let y = m.call(&xv).unwrap();
            y.backward_with(dy.clone()).unwrap();
            let grads: Vec<Vec<f64>> = m
                .parameters()
                .iter()
                .map(|p| values(&p.grad().unwrap()))
                .collect();
            (values(&y.value()), values(&xv.grad().unwrap()), grads)
        };
        let (y0, dx0, g0) = run(&twin);
        let (y1, dx1, g1) = run(converted.as_ref());
        assert_eq!(y0, y1);
        assert_eq!(dx0, dx1);
        assert_eq!(g0, g1);
        for ((n, b0), (_, b1)) in twin.named_buffers().iter().zip(converted.named_buffers()) {
            assert_eq!(values(&b0.value()), values(&b1.value()), "{n}");
        }
    }
    let count = converted.named_buffers()[2].1.value();
    assert_eq!(values(&count), [2.0]);

    twin.eval();
    converted.eval();
    let x = Var::constant(random(&mut rng, &[3, 1, 28, 28]));
    let y0 = values(&twin.call(&x).unwrap().value());
    let y1 = values(&converted.call(&x).unwrap().value());
    assert_eq!(y0, y1);
}

#[test]
fn options_sync_batch_norm_lacks_are_typed_errors() {
    use norms::{BatchNormOptions, NormError};
    let cases = [
        (
            BatchNormOptions::default().with_momentum(None),
            "momentum=None",
        ),
        (
            BatchNormOptions {
                affine: false,
                ..BatchNormOptions::default()
            },
            "affine=false",
        ),
        (
            BatchNormOptions {
                track_running_stats: false,
                ..BatchNormOptions::default()
            },
            "track_running_stats=false",
        ),
    ];
    for (options, option) in cases {
        let inner: Box<dyn layers::Module> =
            Box::new(BatchNorm2d::with_options(4, options).unwrap());
        let model = layers::Sequential::from_layers(vec![inner]);
        let err = convert_sync_batchnorm(Box::new(model), &comm()).err();
        assert_eq!(
            err,
            Some(NormError::UnsupportedOption {
                norm: "SyncBatchNorm",
                option
            })
        );
    }
}
