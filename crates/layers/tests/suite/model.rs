//! The lesson's model end to end: shapes, names, modes, hooks, devices, and a module defined
//! outside the crate.

use std::cell::RefCell;
use std::rc::Rc;

use autograd::Var;
use layers::{state_dict, Conv2d, HookEvent, Module, ModuleCore, ModuleExt, Sequential};
use tensor::{DType, Device, Tensor, TensorError};

use crate::support::{assert_state_eq, bn_model, plain_model, randn, TestNorm};

/// The names PyTorch gives `get_cnn_model(nfs, conv_layer)` with `BatchNorm2d`.
const BN_NAMES: [&str; 32] = [
    "0.0.weight",
    "0.2.weight",
    "0.2.bias",
    "0.2.running_mean",
    "0.2.running_var",
    "0.2.num_batches_tracked",
    "1.0.weight",
    "1.2.weight",
    "1.2.bias",
    "1.2.running_mean",
    "1.2.running_var",
    "1.2.num_batches_tracked",
    "2.0.weight",
    "2.2.weight",
    "2.2.bias",
    "2.2.running_mean",
    "2.2.running_var",
    "2.2.num_batches_tracked",
    "3.0.weight",
    "3.2.weight",
    "3.2.bias",
    "3.2.running_mean",
    "3.2.running_var",
    "3.2.num_batches_tracked",
    "4.0.weight",
    "4.2.weight",
    "4.2.bias",
    "4.2.running_mean",
    "4.2.running_var",
    "4.2.num_batches_tracked",
    "7.weight",
    "7.bias",
];

/// Without a norm the convolutions keep their bias.
const PLAIN_NAMES: [&str; 12] = [
    "0.0.weight",
    "0.0.bias",
    "1.0.weight",
    "1.0.bias",
    "2.0.weight",
    "2.0.bias",
    "3.0.weight",
    "3.0.bias",
    "4.0.weight",
    "4.0.bias",
    "7.weight",
    "7.bias",
];

#[test]
fn state_dict_names_match_pytorch() {
    let sd = state_dict(&bn_model(0));
    assert_eq!(sd.names().collect::<Vec<_>>(), BN_NAMES);
    let shapes: Vec<(&str, &[usize])> = vec![
        ("0.0.weight", &[8, 1, 5, 5]),
        ("1.0.weight", &[16, 8, 3, 3]),
        ("2.0.weight", &[32, 16, 3, 3]),
        ("3.0.weight", &[64, 32, 3, 3]),
        ("4.0.weight", &[64, 64, 3, 3]),
        ("4.2.running_var", &[64]),
        ("0.2.num_batches_tracked", &[]),
        ("7.weight", &[10, 64]),
        ("7.bias", &[10]),
    ];
    for (name, shape) in shapes {
        assert_eq!(sd.get(name).unwrap().shape(), shape, "{name}");
    }
    let plain = state_dict(&plain_model(0));
    assert_eq!(plain.names().collect::<Vec<_>>(), PLAIN_NAMES);
    // 8*25 + 16*8*9 + 32*16*9 + 64*32*9 + 64*64*9 conv weights, 184 conv biases, 64*10+10.
    assert_eq!(plain_model(0).num_parameters(), 61_256 + 184 + 650);
    assert_eq!(bn_model(0).num_parameters(), 61_256 + 2 * 184 + 650);
}

#[test]
fn shapes_through_the_model() {
    let model = plain_model(1);
    let seen = Rc::new(RefCell::new(Vec::new()));
    let mut handles = Vec::new();
    for i in 0..5 {
        let seen = Rc::clone(&seen);
        handles.push(
            model
                .get(i)
                .unwrap()
                .hooks()
                .register(move |e: &HookEvent<'_>| {
                    seen.borrow_mut().push(e.output.shape());
                    Ok(())
                }),
        );
    }
    let x = Var::constant(randn(&[3, 1, 28, 28], DType::F32, 2));
    let y = model.call(&x).unwrap();
    assert_eq!(y.shape(), vec![3, 10]);
    let sides: Vec<usize> = seen.borrow().iter().map(|s| s[2]).collect();
    assert_eq!(sides, vec![14, 7, 4, 2, 1]);
    let channels: Vec<usize> = seen.borrow().iter().map(|s| s[1]).collect();
    assert_eq!(channels, vec![8, 16, 32, 64, 64]);
    // The layers really are Sequential[Conv2d, GeneralRelu, norm] with the lesson's geometry.
    let first = model.get(0).unwrap().children();
    let conv = first[0].1.as_any().downcast_ref::<Conv2d>().unwrap();
    assert_eq!(
        (conv.kernel_size(), conv.stride(), conv.padding()),
        ((5, 5), 2, 2)
    );
    assert_eq!(first[1].1.type_name(), "GeneralRelu");
    let bn = bn_model(1);
    assert_eq!(bn.get(3).unwrap().children()[2].1.type_name(), "TestNorm");
    assert_eq!(bn.call(&x).unwrap().shape(), vec![3, 10]);
}

#[test]
fn wrong_input_channels_is_a_typed_error() {
    let model = plain_model(3);
    let x = Var::constant(randn(&[2, 3, 28, 28], DType::F32, 4));
    match model.call(&x) {
        Err(TensorError::InvalidShape {
            op: "Conv2d",
            reason,
        }) => assert!(reason.contains("1 channels")),
        other => panic!("expected a Conv2d shape error, got {other:?}"),
    }
    let flat = Var::constant(randn(&[2, 784], DType::F32, 4));
    assert!(matches!(
        model.call(&flat),
        Err(TensorError::InvalidShape { op: "Conv2d", .. })
    ));
}

#[test]
fn train_and_eval_reach_every_module() {
    let model = bn_model(5);
    assert!(model.named_modules().iter().all(|(_, m)| m.is_training()));
    model.eval();
    assert!(model.named_modules().iter().all(|(_, m)| !m.is_training()));
    let x = Var::constant(randn(&[2, 1, 28, 28], DType::F32, 6));
    model.call(&x).unwrap();
    let counter = |m: &Sequential| {
        state_dict(m)
            .get("2.2.num_batches_tracked")
            .unwrap()
            .to_scalar()
            .unwrap()
    };
    assert_eq!(counter(&model), 0.0, "eval mode must not count batches");
    model.train();
    assert!(model.named_modules().iter().all(|(_, m)| m.is_training()));
    model.call(&x).unwrap();
    model.call(&x).unwrap();
    assert_eq!(counter(&model), 2.0);
}

#[test]
fn hooks_run_on_every_call_until_dropped() {
    let model = plain_model(7);
    let calls = Rc::new(RefCell::new(Vec::new()));
    let c = Rc::clone(&calls);
    let root = model.hooks().register(move |e: &HookEvent<'_>| {
        c.borrow_mut()
            .push((e.module, e.input.shape(), e.output.shape()));
        Ok(())
    });
    let count = Rc::new(RefCell::new(0));
    let k = Rc::clone(&count);
    let conv = model.get(0).unwrap().children()[0]
        .1
        .hooks()
        .register(move |_: &HookEvent<'_>| {
            *k.borrow_mut() += 1;
            Ok(())
        });
    let x = Var::constant(randn(&[2, 1, 28, 28], DType::F32, 8));
    model.call(&x).unwrap();
    model.call(&x).unwrap();
    assert_eq!(*count.borrow(), 2);
    assert_eq!(calls.borrow().len(), 2);
    assert_eq!(
        calls.borrow()[0],
        ("Sequential", vec![2, 1, 28, 28], vec![2, 10])
    );
    drop(conv);
    root.remove();
    model.call(&x).unwrap();
    assert_eq!((*count.borrow(), calls.borrow().len()), (2, 2));
    assert!(model.hooks().is_empty());
    // A failing hook stops the forward pass with its error.
    let _h = model.hooks().register(|_: &HookEvent<'_>| {
        Err(TensorError::InvalidArgument {
            op: "hook",
            reason: "stop".into(),
        })
    });
    assert!(matches!(
        model.call(&x),
        Err(TensorError::InvalidArgument { op: "hook", .. })
    ));
}

#[test]
fn device_moves() {
    let model = bn_model(9);
    let before = state_dict(&model);
    model.to_device(Device::Cpu).unwrap();
    assert_state_eq(&before, &state_dict(&model));
    match model.to_device(Device::Cuda(0)) {
        Err(TensorError::DeviceUnavailable {
            device: Device::Cuda(0),
            ..
        }) => {
            // All or nothing: the failed move left everything on the CPU, unchanged.
            assert_state_eq(&before, &state_dict(&model));
            assert!(model
                .parameters()
                .iter()
                .all(|p| p.value().device() == Device::Cpu));
        }
        // A build with a CUDA backend on a machine with a GPU: the move must round-trip.
        Ok(()) => {
            assert!(state_dict(&model)
                .iter()
                .all(|(_, t)| t.device() == Device::Cuda(0)));
            model.to_device(Device::Cpu).unwrap();
            assert_state_eq(&before, &state_dict(&model));
        }
        Err(other) => panic!("expected DeviceUnavailable, got {other:?}"),
    }
}

#[test]
fn dtype_moves() {
    let model = plain_model(10);
    model.to_dtype(DType::F64).unwrap();
    assert!(state_dict(&model)
        .iter()
        .all(|(_, t)| t.dtype() == DType::F64));
    let x = Var::constant(randn(&[2, 1, 28, 28], DType::F64, 11));
    assert_eq!(model.call(&x).unwrap().value().dtype(), DType::F64);
    let x32 = Var::constant(randn(&[2, 1, 28, 28], DType::F32, 11));
    assert!(matches!(
        model.call(&x32),
        Err(TensorError::DTypeMismatch { .. })
    ));
}

/// A module written by a user of the crate: `y = alpha * child(x)`, with a parameter, a
/// buffer counting calls, and a child.
#[derive(Module)]
struct Scaled {
    #[param]
    alpha: Var,
    #[buffer]
    calls: Var,
    #[module]
    inner: Sequential,
    core: ModuleCore,
}

impl layers::Forward for Scaled {
    fn forward(&self, x: &Var) -> tensor::Result<Var> {
        self.calls
            .update_value(|t| t.add_scalar(1.0).map(|n| *t = n))?;
        self.inner.call(x)?.mul(&self.alpha)
    }
}

#[test]
fn users_can_define_modules() {
    let scalar = |v: f64| Tensor::full(&[], v, DType::F64, Device::Cpu).unwrap();
    let m = Scaled {
        alpha: Var::parameter(scalar(3.0)),
        calls: Var::constant(scalar(0.0)),
        inner: Sequential::new()
            .with(layers::GeneralRelu::relu())
            .with(TestNorm::new(2).unwrap()),
        core: ModuleCore::default(),
    };
    let names: Vec<String> = state_dict(&m).names().map(str::to_string).collect();
    assert_eq!(
        names,
        [
            "alpha",
            "calls",
            "inner.1.weight",
            "inner.1.bias",
            "inner.1.running_mean",
            "inner.1.running_var",
            "inner.1.num_batches_tracked"
        ]
    );
    // Parameters only: the buffer is saved and moved but never optimised.
    let params: Vec<String> = m.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(params, ["alpha", "inner.1.weight", "inner.1.bias"]);
    m.to_dtype(DType::F64).unwrap();
    let x = Var::parameter(crate::support::f64_tensor(vec![-1.0, 2.0], &[1, 2, 1, 1]));
    let y = m.call(&x).unwrap();
    // relu -> [0, 2]; norm with unit statistics divides by s = sqrt(1 + 1e-5); times 3.
    let s = (1.0f64 + 1e-5).sqrt();
    let expected = [0.0, 6.0 / s];
    let got = y.value().to_vec::<f64>().unwrap();
    assert!((got[0] - expected[0]).abs() < 1e-12 && (got[1] - expected[1]).abs() < 1e-12);
    // L = sum(g * y), g = [0.5, -2], y = alpha (relu(x) / s * weight + bias), by hand:
    // dalpha = sum g inner = -2 * 2 / s; dweight = alpha g relu(x) / s = [0, 3 (-2) 2 / s];
    // dbias = alpha g = [1.5, -6]; dx = alpha g relu'(x) weight / s = [0, 3 (-2) / s].
    let g = Var::constant(crate::support::f64_tensor(vec![0.5, -2.0], &[1, 2, 1, 1]));
    y.mul(&g).unwrap().sum_all().unwrap().backward().unwrap();
    let grad = |v: &Var| v.grad().expect("a gradient").to_vec::<f64>().unwrap();
    let near = |got: Vec<f64>, want: &[f64]| {
        assert_eq!(got.len(), want.len());
        assert!(
            got.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-12),
            "{got:?} vs {want:?}"
        );
    };
    near(grad(&m.alpha), &[-4.0 / s]);
    let norm = m.inner.get(1).unwrap();
    let p = norm.named_parameters();
    assert_eq!((p[0].0.as_str(), p[1].0.as_str()), ("weight", "bias"));
    near(grad(&p[0].1), &[0.0, -12.0 / s]);
    near(grad(&p[1].1), &[1.5, -6.0]);
    near(grad(&x), &[0.0, -6.0 / s]);
    assert_eq!(
        state_dict(&m).get("calls").unwrap().to_scalar().unwrap(),
        1.0
    );
    m.eval();
    assert!(!m.inner.get(1).unwrap().is_training());
}

#[test]
fn gradients_match_finite_differences_and_zero_grad_clears_them() {
    let model = plain_model(12);
    model.to_dtype(DType::F64).unwrap();
    let x = Var::constant(randn(&[2, 1, 28, 28], DType::F64, 13));
    // L = sum(r * model(x)) with a non-constant r.
    let r = Var::constant(randn(&[2, 10], DType::F64, 14));
    let loss = || -> f64 {
        let y = model.call(&x).unwrap().mul(&r).unwrap();
        y.value().to_vec::<f64>().unwrap().iter().sum()
    };
    model
        .call(&x)
        .unwrap()
        .mul(&r)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert!(model.parameters().iter().all(|p| p.grad().is_some()));
    // Central differences on three entries of every parameter tensor (first, middle, last),
    // in f64: (L(p + h) - L(p - h)) / 2h, h = 1e-6.
    let h = 1e-6;
    let mut nonzero = 0;
    for (name, p) in model.named_parameters() {
        let analytic = p.grad().unwrap().to_vec::<f64>().unwrap();
        let base = p.value().to_vec::<f64>().unwrap();
        let shape = p.shape();
        for i in [0, base.len() / 2, base.len() - 1] {
            let at = |delta: f64| {
                let mut v = base.clone();
                v[i] += delta;
                p.set_value(Tensor::from_vec(v, &shape, Device::Cpu).unwrap());
                loss()
            };
            let numeric = (at(h) - at(-h)) / (2.0 * h);
            p.set_value(Tensor::from_vec(base.clone(), &shape, Device::Cpu).unwrap());
            let a = analytic[i];
            assert!(
                (a - numeric).abs() <= 1e-6 * (1.0 + numeric.abs()),
                "{name}[{i}]: backward {a}, finite differences {numeric}"
            );
            nonzero += usize::from(a.abs() > 1e-6);
        }
    }
    assert!(nonzero >= 12, "only {nonzero} non-zero gradients checked");
    model.zero_grad();
    assert!(model.parameters().iter().all(|p| p.grad().is_none()));
}
