//! Every norm layer on CUDA against the same layer on the CPU: forward output, input
//! gradient, parameter gradients and buffers after a training step, then eval-mode output.
//!
//! GPU-only (`#[ignore = "needs CUDA"]`); run by `../shared/tools/gpu-bundle` on the device
//! machine. Tolerance: `|cuda - cpu| <= 1e-4 * (1 + |cpu|)` in f32 — the kernels sum in f64
//! on both devices, so the differences are rounding of the f32 inputs and outputs only.

use autograd::Var;
use layers::{get_cnn_model, init_cnn, Module, ModuleExt};
use norms::NormKind;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tensor::{DType, Device, Tensor};

/// Deterministic values in [-2, 2) (the shared seeded generator), rounded to `f32`.
fn values(len: usize, seed: u64) -> Vec<f32> {
    test_oracles::seeded::uniform_in(len, seed, -2.0, 2.0)
        .into_iter()
        .map(|v| v as f32)
        .collect()
}

fn assert_close(what: &str, cpu: &Tensor, cuda: &Tensor) {
    let (a, b) = (cpu.to_vec_f64().unwrap(), cuda.to_vec_f64().unwrap());
    assert_eq!(cpu.shape(), cuda.shape(), "{what}: shape");
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        let same_nan = x.is_nan() && y.is_nan();
        assert!(
            same_nan || (x - y).abs() <= 1e-4 * (1.0 + x.abs()),
            "{what}[{i}]: cpu {x}, cuda {y}"
        );
    }
}

/// One training step (forward, backward of `sum(y * r)`) and one eval forward on `device`.
struct Outcome {
    y: Tensor,
    dx: Tensor,
    grads: Vec<(String, Tensor)>,
    buffers: Vec<(String, Tensor)>,
    y_eval: Tensor,
}

fn run(kind: &NormKind, device: Device, shape: &[usize]) -> Outcome {
    run_layer(kind.build(shape[1]).expect("build"), device, shape)
}

fn run_layer(layer: Box<dyn Module>, device: Device, shape: &[usize]) -> Outcome {
    layer.to_device(device).expect("to_device");
    let n: usize = shape.iter().product();
    let x = Var::parameter(Tensor::from_vec(values(n, 1), shape, device).unwrap());
    let r = Var::constant(Tensor::from_vec(values(n, 2), shape, device).unwrap());
    let y = layer.call(&x).expect("forward");
    y.mul(&r)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .expect("backward");
    let grads = layer
        .named_parameters()
        .into_iter()
        .map(|(name, p)| (name, p.grad().expect("parameter gradient")))
        .collect();
    let buffers = layer
        .named_buffers()
        .into_iter()
        .map(|(name, b)| (name, b.value()))
        .collect();
    layer.eval();
    let x_eval = Var::constant(Tensor::from_vec(values(n, 3), shape, device).unwrap());
    let y_eval = layer.call(&x_eval).expect("eval forward").value();
    Outcome {
        y: y.value(),
        dx: x.grad().expect("input gradient"),
        grads,
        buffers,
        y_eval,
    }
}

#[test]
#[ignore = "needs CUDA"]
fn every_norm_agrees_with_the_cpu() {
    let kinds = [
        "batch-lesson",
        "batch",
        "layer",
        "instance",
        "group",
        "running-batch",
    ];
    // Odd sizes, and a batch of 2 (RunningBatchNorm's smallest).
    for shape in [[2usize, 8, 5, 3], [7, 16, 4, 4], [3, 8, 1, 1]] {
        for name in kinds {
            if name == "instance" && shape[2] * shape[3] == 1 {
                continue; // 0/0 by design on a 1x1 map; NaN == NaN is checked elsewhere.
            }
            let kind: NormKind = name.parse().unwrap();
            let cpu = run(&kind, Device::Cpu, &shape);
            let gpu = run(&kind, Device::Cuda(0), &shape);
            let at = format!("{name} {shape:?}");
            assert_close(&format!("{at} y"), &cpu.y, &gpu.y);
            assert_close(&format!("{at} dx"), &cpu.dx, &gpu.dx);
            for ((n, a), (_, b)) in cpu.grads.iter().zip(&gpu.grads) {
                assert_close(&format!("{at} d{n}"), a, b);
            }
            for ((n, a), (_, b)) in cpu.buffers.iter().zip(&gpu.buffers) {
                assert_close(&format!("{at} buffer {n}"), a, b);
            }
            assert_close(&format!("{at} eval y"), &cpu.y_eval, &gpu.y_eval);
            assert_eq!(cpu.y.dtype(), DType::F32);
        }
    }
}

fn compare(at: &str, cpu: &Outcome, gpu: &Outcome) {
    assert_close(&format!("{at} y"), &cpu.y, &gpu.y);
    assert_close(&format!("{at} dx"), &cpu.dx, &gpu.dx);
    assert_eq!(cpu.grads.len(), gpu.grads.len(), "{at}: parameters");
    for ((n, a), (_, b)) in cpu.grads.iter().zip(&gpu.grads) {
        assert_close(&format!("{at} d{n}"), a, b);
    }
    assert_eq!(cpu.buffers.len(), gpu.buffers.len(), "{at}: buffers");
    for ((n, a), (_, b)) in cpu.buffers.iter().zip(&gpu.buffers) {
        assert_close(&format!("{at} buffer {n}"), a, b);
    }
    assert_close(&format!("{at} eval y"), &cpu.y_eval, &gpu.y_eval);
}

/// The PyTorch-style layers with every option, and Batch Renormalization with clipping
/// active, on CUDA against the CPU (they dispatch through the same `tensor` norm ops).
#[test]
#[ignore = "needs CUDA"]
fn every_pytorch_option_and_batch_renorm_agree_with_the_cpu() {
    use norms::{
        BatchNorm1d, BatchNorm2d, BatchNormOptions, BatchRenorm, GroupNorm, InstanceNorm2d,
        TorchLayerNorm,
    };
    let d = BatchNormOptions::default();
    let options = [
        d,
        d.with_eps(1e-3),
        d.with_momentum(None),
        d.with_affine(false),
        d.with_track_running_stats(false),
    ];
    type Make = Box<dyn Fn() -> Box<dyn Module>>;
    let mut cases: Vec<(String, Make, Vec<usize>)> = Vec::new();
    for (i, o) in options.into_iter().enumerate() {
        cases.push((
            format!("bn1d nc {i}"),
            Box::new(move || Box::new(BatchNorm1d::with_options(6, o).unwrap())),
            vec![5, 6],
        ));
        cases.push((
            format!("bn1d ncl {i}"),
            Box::new(move || Box::new(BatchNorm1d::with_options(6, o).unwrap())),
            vec![1, 6, 7],
        ));
        cases.push((
            format!("bn2d {i}"),
            Box::new(move || Box::new(BatchNorm2d::with_options(6, o).unwrap())),
            vec![3, 6, 5, 3],
        ));
        let io = o
            .with_affine(!o.affine)
            .with_track_running_stats(!o.track_running_stats);
        cases.push((
            format!("in2d {i}"),
            Box::new(move || Box::new(InstanceNorm2d::with_options(6, io).unwrap())),
            vec![3, 6, 5, 3],
        ));
    }
    for (affine, bias) in [(true, true), (true, false), (false, true)] {
        cases.push((
            format!("layernorm {affine} {bias}"),
            Box::new(move || {
                Box::new(TorchLayerNorm::with_options(&[5, 3], 1e-5, affine, bias).unwrap())
            }),
            vec![3, 6, 5, 3],
        ));
    }
    cases.push((
        "groupnorm no affine".into(),
        Box::new(|| Box::new(GroupNorm::with_options(3, 6, 1e-5, false).unwrap())),
        vec![3, 6, 5, 3],
    ));
    for (rmax, dmax) in [(1.0, 0.0), (1.2, 0.1), (3.0, 5.0)] {
        cases.push((
            format!("batch renorm {rmax} {dmax}"),
            Box::new(move || {
                let m = BatchRenorm::with_options(6, 1e-5, 0.1, rmax, dmax).unwrap();
                m.running_std()
                    .set_value(Tensor::full(&[6], 0.3, DType::F32, Device::Cpu).unwrap());
                Box::new(m)
            }),
            vec![3, 6, 5, 3],
        ));
    }
    for (at, make, shape) in &cases {
        let cpu = run_layer(make(), Device::Cpu, shape);
        let gpu = run_layer(make(), Device::Cuda(0), shape);
        compare(at, &cpu, &gpu);
    }
}

/// The lesson's whole CNN (Conv2d, GeneralRelu, the norm, pooling, Linear) with each
/// norm: logits, every parameter gradient and every buffer after one training step.
#[test]
#[ignore = "needs CUDA"]
fn the_lesson_model_agrees_with_the_cpu() {
    let shape = [3usize, 1, 28, 28];
    let n: usize = shape.iter().product();
    for name in [
        "none",
        "batch-lesson",
        "batch",
        "group",
        "running-batch",
        "batch-renorm",
        "layer-pytorch",
    ] {
        let step = |device: Device| {
            let norm = if name == "none" {
                layers::NormFactory::none()
            } else {
                name.parse::<NormKind>().unwrap().factory()
            };
            let mut rng = StdRng::seed_from_u64(7);
            let model = get_cnn_model(&[8, 16, 32, 64, 64], &norm, &mut rng).unwrap();
            init_cnn(&model, &mut rng).unwrap();
            model.to_device(device).unwrap();
            let x = Var::constant(Tensor::from_vec(values(n, 4), &shape, device).unwrap());
            let t = Var::constant(Tensor::from_vec(vec![3f32, 0.0, 9.0], &[3], device).unwrap());
            let logits = model.call(&x).unwrap();
            logits.cross_entropy(&t).unwrap().backward().unwrap();
            let grads: Vec<(String, Tensor)> = model
                .named_parameters()
                .into_iter()
                .map(|(k, p)| (k, p.grad().expect("gradient")))
                .collect();
            let buffers: Vec<(String, Tensor)> = model
                .named_buffers()
                .into_iter()
                .map(|(k, b)| (k, b.value()))
                .collect();
            (logits.value(), grads, buffers)
        };
        let (la, ga, ba) = step(Device::Cpu);
        let (lb, gb, bb) = step(Device::Cuda(0));
        assert_close(&format!("{name} logits"), &la, &lb);
        for ((k, a), (_, b)) in ga.iter().zip(&gb).chain(ba.iter().zip(&bb)) {
            assert_close(&format!("{name} {k}"), a, b);
        }
    }
}
