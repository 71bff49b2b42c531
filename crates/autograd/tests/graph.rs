//! The recorded graph: gradient accumulation, fan-out, no_grad, detach, error cases,
//! backward_with, fused ops made with `Var::from_fn`, and `Gradients`.

use autograd::{grad_enabled, no_grad, no_grad_guard, GradCheck, Var};
use tensor::{DType, Device, Result, Tensor, TensorError};

const CPU: Device = Device::Cpu;

fn t64(data: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_slice(data, shape, CPU).unwrap()
}

fn vals(t: &Tensor) -> Vec<f64> {
    t.to_vec_f64().unwrap()
}

fn grad(v: &Var) -> Vec<f64> {
    vals(&v.grad().expect("the var has a gradient"))
}

#[track_caller]
fn assert_close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "got {got:?}, want {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "got {got:?}, want {want:?}"
        );
    }
}

// ------------------------------------------------------------------------------------------
// Accumulation and fan-out
// ------------------------------------------------------------------------------------------

#[test]
fn gradients_accumulate_across_backward_passes_until_zeroed() {
    let x = Var::parameter(t64(&[1.0, -2.0, 3.0], &[3]));
    // L = sum(x^2): dL/dx = 2x = [2, -4, 6].
    let first = x.square().unwrap().sum_all().unwrap().backward().unwrap();
    assert_eq!(grad(&x), [2.0, -4.0, 6.0]);
    assert_eq!(vals(first.get(&x).unwrap()), [2.0, -4.0, 6.0]);
    // A second, different loss: L2 = sum(3x): adds 3 to every entry.
    let second = x
        .mul_scalar(3.0)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(grad(&x), [5.0, -1.0, 9.0]);
    // Each pass returns only its own gradient, and accumulating into the leaf did not
    // modify the tensor returned by the first pass (copy-on-write).
    assert_eq!(vals(second.get(&x).unwrap()), [3.0, 3.0, 3.0]);
    assert_eq!(vals(first.get(&x).unwrap()), [2.0, -4.0, 6.0]);
    x.zero_grad();
    assert!(x.grad().is_none());
    x.square().unwrap().sum_all().unwrap().backward().unwrap();
    assert_eq!(grad(&x), [2.0, -4.0, 6.0]);
}

#[test]
fn a_var_used_several_times_gets_the_sum_of_its_gradients() {
    let x = Var::parameter(t64(&[0.5, 2.0], &[2]));
    // y = x*x + 3x + x  =>  dy/dx = 2x + 4.
    let y = x
        .mul(&x)
        .unwrap()
        .add(&x.mul_scalar(3.0).unwrap())
        .unwrap()
        .add(&x)
        .unwrap();
    y.sum_all().unwrap().backward().unwrap();
    assert_eq!(grad(&x), [5.0, 8.0]);
    // x + x: both inputs of one node are the same var.
    let z = Var::parameter(t64(&[1.0, 1.0], &[2]));
    z.add(&z).unwrap().sum_all().unwrap().backward().unwrap();
    assert_eq!(grad(&z), [2.0, 2.0]);
    // x / x = 1 has zero gradient; x - x too.
    let w = Var::parameter(t64(&[3.0], &[1]));
    w.div(&w).unwrap().sum_all().unwrap().backward().unwrap();
    assert_close(&grad(&w), &[0.0], 1e-15);
    w.zero_grad();
    w.sub(&w).unwrap().sum_all().unwrap().backward().unwrap();
    assert_eq!(grad(&w), [0.0]);
}

#[test]
fn diamond_graphs_sum_every_path() {
    // a = e^x; b = a^2; c = a + b; L = sum(c)  =>  dL/dx = e^x + 2 e^{2x}.
    let xs = [0.0, 0.5, -1.0];
    let x = Var::parameter(t64(&xs, &[3]));
    let a = x.exp().unwrap();
    let b = a.square().unwrap();
    let c = a.add(&b).unwrap();
    c.sum_all().unwrap().backward().unwrap();
    let want: Vec<f64> = xs
        .iter()
        .map(|v: &f64| v.exp() + 2.0 * (2.0 * v).exp())
        .collect();
    assert_close(&grad(&x), &want, 1e-14);
    // Intermediate nodes hold no gradient.
    assert!(a.grad().is_none());
    assert!(b.grad().is_none());
    // A deeper shared sub-graph: d = c * c reuses c twice (and, through it, a four times).
    x.zero_grad();
    let d = c.mul(&c).unwrap();
    d.sum_all().unwrap().backward().unwrap();
    // d = (e^x + e^{2x})^2  =>  d' = 2 (e^x + e^{2x}) (e^x + 2 e^{2x}).
    let want: Vec<f64> = xs
        .iter()
        .map(|v: &f64| 2.0 * (v.exp() + (2.0 * v).exp()) * (v.exp() + 2.0 * (2.0 * v).exp()))
        .collect();
    assert_close(&grad(&x), &want, 1e-14);
}

#[test]
fn two_parameters_in_one_product() {
    // L = sum(A B) with A [2, 3], B [3, 2]: dL/dA = 1 B^T (row sums of B), dL/dB = A^T 1.
    let a = Var::parameter(t64(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]));
    let b = Var::parameter(t64(&[1.0, -1.0, 2.0, 0.0, 0.5, 0.5], &[3, 2]));
    let g = a.matmul(&b).unwrap().sum_all().unwrap().backward().unwrap();
    assert_eq!(vals(g.get(&a).unwrap()), [0.0, 2.0, 1.0, 0.0, 2.0, 1.0]);
    assert_eq!(vals(g.get(&b).unwrap()), [5.0, 5.0, 7.0, 7.0, 9.0, 9.0]);
    assert_eq!(g.len(), 2);
    assert!(!g.is_empty());
}

// ------------------------------------------------------------------------------------------
// Grad mode, detach, constants
// ------------------------------------------------------------------------------------------

#[test]
fn no_grad_records_nothing() {
    let x = Var::parameter(t64(&[1.0, 2.0], &[2]));
    assert!(grad_enabled());
    let y = no_grad(|| {
        assert!(!grad_enabled());
        x.mul_scalar(2.0).unwrap().exp().unwrap()
    });
    assert!(grad_enabled());
    assert!(!y.requires_grad());
    assert!(y.is_leaf());
    // The value is computed all the same.
    assert_close(&vals(&y.value()), &[2f64.exp(), 4f64.exp()], 1e-15);
    // Backward from it is a typed error, and x gets nothing.
    let err = y.sum_all().unwrap().backward().unwrap_err();
    assert!(
        matches!(err, TensorError::InvalidArgument { .. }),
        "{err:?}"
    );
    assert!(x.grad().is_none());
    // Nested scopes restore the outer mode; the guard form too.
    no_grad(|| {
        no_grad(|| assert!(!grad_enabled()));
        assert!(!grad_enabled());
    });
    assert!(grad_enabled());
    {
        let _g = no_grad_guard();
        assert!(!grad_enabled());
        assert!(!x.square().unwrap().requires_grad());
    }
    assert!(grad_enabled());
    assert!(x.square().unwrap().requires_grad());
}

#[test]
fn no_grad_is_restored_after_a_panic() {
    let r =
        std::panic::catch_unwind(|| no_grad(|| panic!("inside no_grad (expected by the test)")));
    assert!(r.is_err());
    assert!(grad_enabled());
}

#[test]
fn grad_mode_is_per_thread() {
    let _g = no_grad_guard();
    assert!(!grad_enabled());
    // Another thread starts with recording on.
    let other = std::thread::spawn(grad_enabled).join().unwrap();
    assert!(other);
}

#[test]
fn detach_cuts_the_graph() {
    let x = Var::parameter(t64(&[2.0, -3.0], &[2]));
    let d = x.detach();
    assert!(!d.requires_grad());
    assert!(d.is_leaf());
    assert_ne!(d.id(), x.id());
    assert_eq!(vals(&d.value()), [2.0, -3.0]);
    // L = sum(detach(x) * x): only the second factor carries a gradient, so dL/dx = x.
    x.detach()
        .mul(&x)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(grad(&x), [2.0, -3.0]);
    // Detaching an intermediate: L = sum(detach(x^2) + x): dL/dx = 1.
    x.zero_grad();
    let sq = x.square().unwrap();
    sq.detach()
        .add(&x)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(grad(&x), [1.0, 1.0]);
}

#[test]
fn constants_get_no_gradient_and_constant_only_graphs_record_nothing() {
    let x = Var::parameter(t64(&[1.0, 2.0], &[2]));
    let c = Var::constant(t64(&[5.0, 7.0], &[2]));
    let g = x.mul(&c).unwrap().sum_all().unwrap().backward().unwrap();
    assert_eq!(grad(&x), [5.0, 7.0]);
    assert!(c.grad().is_none());
    assert!(g.get(&c).is_none());
    assert_eq!(g.len(), 1);
    // Ops on constants only give constants.
    let k = c.add(&c).unwrap().exp().unwrap();
    assert!(!k.requires_grad());
    assert!(k.is_leaf());
    assert!(Var::parameter(t64(&[1.0], &[1])).requires_grad());
}

// ------------------------------------------------------------------------------------------
// Errors and backward_with
// ------------------------------------------------------------------------------------------

#[test]
fn backward_on_a_non_scalar_is_a_typed_error() {
    let x = Var::parameter(t64(&[1.0, 2.0, 3.0], &[3]));
    let y = x.square().unwrap();
    let err = y.backward().unwrap_err();
    assert!(
        matches!(err, TensorError::InvalidShape { op: "backward", .. }),
        "{err:?}"
    );
    assert!(x.grad().is_none());
    // A one-element tensor of any rank is fine.
    x.sum(&[0], true).unwrap().backward().unwrap();
    assert_eq!(grad(&x), [1.0, 1.0, 1.0]);
    // An empty output has no element to seed either.
    let e = Var::parameter(Tensor::zeros(&[0], DType::F64, CPU).unwrap());
    assert!(matches!(
        e.square().unwrap().backward(),
        Err(TensorError::InvalidShape { .. })
    ));
}

#[test]
fn backward_with_an_explicit_output_gradient() {
    let x = Var::parameter(t64(&[1.0, 2.0, 3.0], &[3]));
    let y = x.square().unwrap();
    // dL/dx = g * 2x with g = [1, 0.5, -1].
    let g = t64(&[1.0, 0.5, -1.0], &[3]);
    let grads = y.backward_with(g.clone()).unwrap();
    assert_eq!(vals(grads.get(&x).unwrap()), [2.0, 2.0, -6.0]);
    assert_eq!(grad(&x), [2.0, 2.0, -6.0]);
    // Twice: the leaf accumulates, the caller's tensor is untouched.
    y.backward_with(g.clone()).unwrap();
    assert_eq!(grad(&x), [4.0, 4.0, -12.0]);
    assert_eq!(vals(&g), [1.0, 0.5, -1.0]);
    // Straight into a leaf: the gradient is the given tensor, which stays untouched when
    // later passes accumulate onto it.
    let p = Var::parameter(t64(&[0.0, 0.0], &[2]));
    let seed = t64(&[1.0, 2.0], &[2]);
    p.backward_with(seed.clone()).unwrap();
    p.backward_with(seed.clone()).unwrap();
    assert_eq!(grad(&p), [2.0, 4.0]);
    assert_eq!(vals(&seed), [1.0, 2.0]);
    // Wrong shape, wrong dtype, constant output.
    assert!(matches!(
        y.backward_with(t64(&[1.0, 1.0], &[2])),
        Err(TensorError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        y.backward_with(t64(&[1.0, 1.0, 1.0], &[3, 1])),
        Err(TensorError::ShapeMismatch { .. })
    ));
    let g32 = Tensor::ones(&[3], DType::F32, CPU).unwrap();
    assert!(matches!(
        y.backward_with(g32),
        Err(TensorError::DTypeMismatch { .. })
    ));
    let c = Var::constant(t64(&[1.0], &[1]));
    assert!(matches!(
        c.backward_with(t64(&[1.0], &[1])),
        Err(TensorError::InvalidArgument { .. })
    ));
}

// ------------------------------------------------------------------------------------------
// Fused ops
// ------------------------------------------------------------------------------------------

/// A fused "scaled squared error" `mean((a - b)^2) * k` with a hand-written backward:
/// `dL/da = 2 k (a - b) / n * g`, `dL/db = -dL/da`.
fn fused_mse(a: &Var, b: &Var, k: f64) -> Result<Var> {
    let (av, bv) = (a.value(), b.value());
    let diff = av.sub(&bv)?;
    let n = diff.numel() as f64;
    let out = diff.square()?.mean_all()?.mul_scalar(k)?;
    Ok(Var::from_fn(out, &[a, b], "fused_mse", move |g| {
        let da = diff.mul_scalar(2.0 * k / n)?.mul(g)?;
        let db = da.neg()?;
        Ok(vec![Some(da), Some(db)])
    }))
}

/// The same function composed from primitive ops.
fn composed_mse(a: &Var, b: &Var, k: f64) -> Result<Var> {
    a.sub(b)?.square()?.mean_all()?.mul_scalar(k)
}

#[test]
fn a_fused_op_matches_the_composed_ops() {
    let av = t64(&[0.5, -1.0, 2.0, 0.25, 3.0, -0.75], &[2, 3]);
    let bv = t64(&[1.0, 1.0, -1.0, 0.0, 2.5, 0.5], &[2, 3]);
    let (a1, b1) = (Var::parameter(av.clone()), Var::parameter(bv.clone()));
    let (a2, b2) = (Var::parameter(av.clone()), Var::parameter(bv.clone()));
    let l1 = fused_mse(&a1, &b1, 1.5).unwrap();
    let l2 = composed_mse(&a2, &b2, 1.5).unwrap();
    assert_close(&vals(&l1.value()), &vals(&l2.value()), 1e-15);
    // Used inside a bigger graph (scaled by 3 afterwards), as a model would.
    l1.mul_scalar(3.0).unwrap().backward().unwrap();
    l2.mul_scalar(3.0).unwrap().backward().unwrap();
    assert_close(&grad(&a1), &grad(&a2), 1e-14);
    assert_close(&grad(&b1), &grad(&b2), 1e-14);
    // Hand-worked: dL/da = 3 * 2 * 1.5 (a - b) / 6 = 1.5 (a - b).
    let want: Vec<f64> = vals(&av)
        .iter()
        .zip(vals(&bv))
        .map(|(x, y)| 1.5 * (x - y))
        .collect();
    assert_close(&grad(&a1), &want, 1e-14);
    // And the finite-difference check agrees.
    GradCheck::default()
        .run(&[av, bv], |v| fused_mse(&v[0], &v[1], 1.5))
        .unwrap();
}

#[test]
fn fused_ops_respect_grad_mode_and_constant_inputs() {
    let a = Var::parameter(t64(&[1.0], &[1]));
    let b = Var::constant(t64(&[0.0], &[1]));
    let y = no_grad(|| fused_mse(&a, &b, 1.0).unwrap());
    assert!(!y.requires_grad());
    let c = fused_mse(&b, &Var::constant(t64(&[2.0], &[1])), 1.0).unwrap();
    assert!(!c.requires_grad());
    // With one constant input the backward's gradient for it is dropped.
    let l = fused_mse(&a, &b, 1.0).unwrap();
    assert!(l.requires_grad());
    assert!(!l.is_leaf());
    l.backward().unwrap();
    assert_eq!(grad(&a), [2.0]);
    assert!(b.grad().is_none());
}

#[test]
fn a_fused_backward_with_the_wrong_arity_or_shape_is_a_typed_error() {
    let x = Var::parameter(t64(&[1.0, 2.0], &[2]));
    let v = x.value();
    let too_few = Var::from_fn(v.sum_all().unwrap(), &[&x], "too_few", |_| Ok(vec![]));
    assert!(matches!(
        too_few.backward(),
        Err(TensorError::InvalidArgument { .. })
    ));
    let wrong_shape = Var::from_fn(v.sum_all().unwrap(), &[&x], "wrong_shape", |g| {
        Ok(vec![Some(g.broadcast_to(&[3])?)])
    });
    assert!(matches!(
        wrong_shape.backward(),
        Err(TensorError::ShapeMismatch { .. })
    ));
    let failing = Var::from_fn(v.sum_all().unwrap(), &[&x], "failing", |_| {
        Err(TensorError::InvalidArgument {
            op: "failing",
            reason: "by design".into(),
        })
    });
    assert!(matches!(
        failing.backward(),
        Err(TensorError::InvalidArgument { op: "failing", .. })
    ));
    assert!(x.grad().is_none());
    // A backward returning None for an input that requires a gradient: the input is simply
    // not reached.
    let none = Var::from_fn(v.sum_all().unwrap(), &[&x], "none", |_| Ok(vec![None]));
    let g = none.backward().unwrap();
    assert!(g.get(&x).is_none());
    assert!(g.is_empty());
    assert!(x.grad().is_none());
}

// ------------------------------------------------------------------------------------------
// Gradients, identity and values
// ------------------------------------------------------------------------------------------

#[test]
fn gradients_are_looked_up_by_leaf() {
    let a = Var::parameter(t64(&[1.0], &[1]));
    let b = Var::parameter(t64(&[2.0], &[1]));
    let unused = Var::parameter(t64(&[3.0], &[1]));
    let y = a.mul(&b).unwrap();
    let g = y.sum_all().unwrap().backward().unwrap();
    assert_eq!(vals(g.get(&a).unwrap()), [2.0]);
    assert_eq!(vals(g.get(&b).unwrap()), [1.0]);
    assert!(g.get(&unused).is_none());
    assert!(
        g.get(&y).is_none(),
        "intermediate vars are not in Gradients"
    );
    assert_eq!(g.len(), 2);
    // A clone is the same var.
    let a2 = a.clone();
    assert_eq!(a2.id(), a.id());
    assert_eq!(vals(g.get(&a2).unwrap()), [2.0]);
    assert_eq!(grad(&a2), [2.0]);
    // A new var with the same value is not.
    let a3 = Var::parameter(a.value());
    assert!(g.get(&a3).is_none());
    assert_ne!(a3.id(), a.id());
}

#[test]
fn updating_a_leaf_does_not_change_recorded_values() {
    let p = Var::parameter(t64(&[1.0, 2.0], &[2]));
    let y = p.mul_scalar(1.0).unwrap();
    let view = p.reshape(&[2, 1]).unwrap();
    // An SGD step on the leaf.
    p.update_value(|t| t.add_scaled_(&t64(&[1.0, 1.0], &[2]), -0.5).unwrap());
    assert_eq!(vals(&p.value()), [0.5, 1.5]);
    assert_eq!(vals(&y.value()), [1.0, 2.0]);
    assert_eq!(
        vals(&view.value()),
        [1.0, 2.0],
        "a reshape shares storage, yet keeps its value"
    );
    p.set_value(t64(&[9.0, 9.0], &[2]));
    assert_eq!(vals(&p.value()), [9.0, 9.0]);
    assert_eq!(p.shape(), [2]);
    // The graph recorded before the update still differentiates at the old point:
    // L = sum(p^2) recorded at p = [1, 2] gives [2, 4] whatever p holds now.
    let q = Var::parameter(t64(&[1.0, 2.0], &[2]));
    let l = q.square().unwrap().sum_all().unwrap();
    q.set_value(t64(&[5.0, 5.0], &[2]));
    l.backward().unwrap();
    assert_eq!(grad(&q), [2.0, 4.0]);
}

#[test]
fn long_chains_backpropagate_and_drop() {
    // 5000 ops in a row: the backward walk must not recurse per node, and dropping the
    // graph must not overflow the stack either.
    let x = Var::parameter(t64(&[1.0], &[1]));
    let mut y = x.clone();
    for _ in 0..5000 {
        y = y.mul_scalar(1.0001).unwrap();
    }
    y.sum_all().unwrap().backward().unwrap();
    assert_close(&grad(&x), &[1.0001f64.powi(5000)], 1e-10);
    drop(y);
}

#[test]
fn f32_graphs_work_too() {
    let x = Var::parameter(Tensor::from_vec(vec![1.0f32, -2.0], &[2], CPU).unwrap());
    x.square().unwrap().sum_all().unwrap().backward().unwrap();
    let g = x.grad().unwrap();
    assert_eq!(g.dtype(), DType::F32);
    assert_eq!(g.to_vec::<f32>().unwrap(), [2.0, -4.0]);
}

#[test]
fn dropping_a_very_long_chain_does_not_overflow_the_stack() {
    // Runs on a thread with a 2 MiB stack, the size test threads get by default.
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let x = Var::parameter(t64(&[1.0], &[1]));
            let mut y = x.clone();
            for _ in 0..200_000 {
                y = y.mul_scalar(1.0).unwrap();
            }
            drop(y);
        })
        .unwrap()
        .join()
        .unwrap();
}

// ------------------------------------------------------------------------------------------
// Documented choices at ties and kinks
// ------------------------------------------------------------------------------------------

#[test]
fn max_and_min_reductions_share_the_gradient_among_ties() {
    // max([1, 3, 3, 2]) = 3 is reached twice: each copy gets half the gradient.
    let x = Var::parameter(t64(&[1.0, 3.0, 3.0, 2.0], &[4]));
    x.max(&[0], false).unwrap().backward().unwrap();
    assert_eq!(grad(&x), [0.0, 0.5, 0.5, 0.0]);
    // Per row, with keepdim and an upstream gradient: rows [5, 5, 5] and [0, -1, 0].
    let y = Var::parameter(t64(&[5.0, 5.0, 5.0, 0.0, -1.0, 0.0], &[2, 3]));
    y.min(&[1], true)
        .unwrap()
        .backward_with(t64(&[3.0, 2.0], &[2, 1]))
        .unwrap();
    assert_eq!(grad(&y), [1.0, 1.0, 1.0, 0.0, 2.0, 0.0]);
    y.zero_grad();
    y.max(&[-1], false)
        .unwrap()
        .backward_with(t64(&[3.0, 2.0], &[2]))
        .unwrap();
    assert_eq!(grad(&y), [1.0, 1.0, 1.0, 1.0, 0.0, 1.0]);
}

#[test]
fn elementwise_maximum_and_minimum_send_ties_to_the_first_operand() {
    let a = Var::parameter(t64(&[1.0, 2.0, 5.0], &[3]));
    let b = Var::parameter(t64(&[1.0, 3.0, 4.0], &[3]));
    a.maximum(&b)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(grad(&a), [1.0, 0.0, 1.0]);
    assert_eq!(grad(&b), [0.0, 1.0, 0.0]);
    a.zero_grad();
    b.zero_grad();
    a.minimum(&b)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(grad(&a), [1.0, 1.0, 0.0]);
    assert_eq!(grad(&b), [0.0, 0.0, 1.0]);
    // Broadcast: c = [2] against a = [1, 2, 5]: c collects the gradient of every position
    // where it is strictly larger (the first), a keeps the tie and the last.
    a.zero_grad();
    let c = Var::parameter(t64(&[2.0], &[1]));
    let g = a
        .maximum(&c)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(vals(g.get(&c).unwrap()), [1.0]);
    assert_eq!(vals(g.get(&a).unwrap()), [0.0, 1.0, 1.0]);
    // With the broadcast operand first, the tie goes to it: [2] vs [1, 2, 5] -> 2 of 3.
    let g = c
        .maximum(&a)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(vals(g.get(&c).unwrap()), [2.0]);
    assert_eq!(vals(g.get(&a).unwrap()), [0.0, 0.0, 1.0]);
}

#[test]
fn derivatives_at_the_kinks() {
    let x = Var::parameter(t64(&[-1.0, 0.0, 1.0], &[3]));
    let d = |f: &dyn Fn(&Var) -> Result<Var>| -> Vec<f64> {
        x.zero_grad();
        f(&x).unwrap().sum_all().unwrap().backward().unwrap();
        grad(&x)
    };
    assert_eq!(d(&|v| v.relu()), [0.0, 0.0, 1.0]);
    assert_eq!(d(&|v| v.leaky_relu(0.25)), [0.25, 0.25, 1.0]);
    assert_eq!(d(&|v| v.abs()), [-1.0, 0.0, 1.0]);
    // Clamp passes the gradient on its closed interval, boundaries included.
    assert_eq!(d(&|v| v.clamp(Some(0.0), Some(1.0))), [0.0, 1.0, 1.0]);
    assert_eq!(d(&|v| v.clamp(Some(-0.5), None)), [0.0, 1.0, 1.0]);
    assert_eq!(d(&|v| v.clamp(None, Some(0.0))), [1.0, 1.0, 0.0]);
}

/// A NaN input: relu passes the gradient (PyTorch zeroes it only where the input is
/// `<= 0`), leaky relu scales it by the slope, and the NaN reaches the output.
#[test]
fn relu_at_a_nan_passes_the_gradient() {
    let x = Var::parameter(t64(&[f64::NAN, -1.0, 1.0], &[3]));
    let y = x.relu().unwrap();
    assert!(vals(&y.value())[0].is_nan());
    y.sum_all().unwrap().backward().unwrap();
    assert_eq!(grad(&x), [1.0, 0.0, 1.0]);
    x.zero_grad();
    x.leaky_relu(0.25)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(grad(&x), [0.25, 0.25, 1.0]);
}
