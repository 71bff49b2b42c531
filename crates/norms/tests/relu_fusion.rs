//! `Sequential[ReLU, norm]` runs as the norm's fused `forward_after_relu` on the ReLU's
//! input; against the same two modules run one after the other (a hook on the ReLU turns
//! the fusion off) it must give the same bits: outputs, input and parameter gradients, and
//! running buffers, over training steps and an eval pass, for every norm kind.

use std::cell::Cell;
use std::rc::Rc;

use autograd::Var;
use layers::{GeneralRelu, HookEvent, Module, ModuleExt, Sequential};
use norms::NormKind;
use tensor::{DType, Device, Tensor};

/// The kinds with a fused form, and the two without one (which must still run).
const KINDS: [NormKind; 9] = [
    NormKind::BatchLesson,
    NormKind::Batch,
    NormKind::Layer,
    NormKind::Instance { eps: 1e-5 },
    NormKind::Group { groups: 2 },
    NormKind::RunningBatch,
    NormKind::InstancePytorch,
    NormKind::BatchRenorm,
    NormKind::LayerPytorch,
];

fn layer(kind: NormKind) -> Sequential {
    let norm = kind.build_spatial(4, 3).unwrap();
    let mut seq = Sequential::new().with(GeneralRelu::relu());
    seq.push_boxed(norm);
    seq
}

/// A pre-activation with negatives, zeros (both signs) and positives, shifted per step.
fn input(step: usize, dtype: DType) -> Var {
    let v: Vec<f64> = (0..2 * 4 * 3 * 3)
        .map(|i| match (i + step) % 9 {
            0 => 0.0,
            4 => -0.0,
            _ => (((i * 7 + step * 3) % 13) as f64 - 5.5) / 3.0,
        })
        .collect();
    let t = Tensor::from_slice(&v, &[2, 4, 3, 3], Device::Cpu).unwrap();
    Var::parameter(t.to_dtype(dtype).unwrap())
}

fn bits(t: &Tensor) -> Vec<u64> {
    t.to_vec_f64()
        .unwrap()
        .iter()
        .map(|v| v.to_bits())
        .collect()
}

/// Output, input gradient, every parameter gradient and every buffer after one pass.
fn pass(seq: &Sequential, step: usize, dtype: DType) -> Vec<Vec<u64>> {
    let z = input(step, dtype);
    seq.zero_grad();
    let y = seq.call(&z).unwrap();
    let w: Vec<f64> = (0..y.value().numel())
        .map(|i| ((i * 5 % 11) as f64 - 4.0) / 4.0)
        .collect();
    let dy = Tensor::from_slice(&w, &y.shape(), Device::Cpu).unwrap();
    y.backward_with(dy.to_dtype(dtype).unwrap()).unwrap();
    let mut out = vec![bits(&y.value()), bits(&z.grad().unwrap())];
    for (_, p) in seq.named_parameters() {
        out.push(p.grad().map(|g| bits(&g)).unwrap_or_default());
    }
    for (_, b) in seq.named_buffers() {
        out.push(bits(&b.value()));
    }
    out
}

#[test]
fn fused_relu_and_norm_give_the_bits_of_the_two_modules() {
    for dtype in [DType::F32, DType::F64] {
        for kind in KINDS {
            let fused = layer(kind);
            let separate = layer(kind);
            fused.to_dtype(dtype).unwrap();
            separate.to_dtype(dtype).unwrap();
            let relu_ran = Rc::new(Cell::new(0));
            let seen = Rc::clone(&relu_ran);
            let _hook = separate
                .get(0)
                .unwrap()
                .hooks()
                .register(move |_: &HookEvent<'_>| {
                    seen.set(seen.get() + 1);
                    Ok(())
                });
            for step in 0..3 {
                if step == 2 {
                    fused.eval();
                    separate.eval();
                }
                let (a, b) = (pass(&fused, step, dtype), pass(&separate, step, dtype));
                assert_eq!(a, b, "{kind} {dtype:?} step {step}");
            }
            assert_eq!(relu_ran.get(), 3, "{kind}: the hooked ReLU ran as a module");
        }
    }
}

#[test]
fn the_norms_with_a_fused_form_offer_it() {
    let z = input(0, DType::F32);
    // Fresh modules per call: training passes update the running buffers.
    let build = |kind: NormKind| kind.build_spatial(4, 3).unwrap();
    for kind in KINDS {
        let fused = build(kind).forward_after_relu(&z);
        let expected = !matches!(kind, NormKind::BatchRenorm | NormKind::LayerPytorch);
        assert_eq!(fused.is_some(), expected, "{kind}");
        if let Some(y) = fused {
            // The fused form normalises relu(z), not z: it matches the module on relu(z).
            let want = build(kind).forward(&z.relu().unwrap()).unwrap();
            assert_eq!(bits(&y.unwrap().value()), bits(&want.value()), "{kind}");
            assert_ne!(
                bits(&build(kind).forward(&z).unwrap().value()),
                bits(&want.value()),
                "{kind}: the test input has negatives"
            );
        }
    }
}
