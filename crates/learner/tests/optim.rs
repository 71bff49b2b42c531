//! SGD's update against values computed by hand in f64.

use autograd::Var;
use learner::Sgd;
use tensor::{Device, Tensor};

fn param(v: &[f64]) -> Var {
    Var::parameter(Tensor::from_slice(v, &[v.len()], Device::Cpu).unwrap())
}

/// Gives `p` the gradient `g` through `sum(p * g)`.
fn set_grad(p: &Var, g: &[f64]) {
    let gv = Var::constant(Tensor::from_slice(g, &[g.len()], Device::Cpu).unwrap());
    p.zero_grad();
    p.mul(&gv).unwrap().sum_all().unwrap().backward().unwrap();
}

fn values(p: &Var) -> Vec<f64> {
    p.value().to_vec::<f64>().unwrap()
}

#[test]
fn plain_sgd_is_p_minus_lr_grad() {
    let p = param(&[1.0, -2.0, 0.5]);
    let q = param(&[3.0]);
    let mut opt = Sgd::new(vec![p.clone(), q.clone()], 0.1).unwrap();
    set_grad(&p, &[0.5, 0.25, -4.0]);
    set_grad(&q, &[2.0]);
    opt.step().unwrap();
    assert_eq!(
        values(&p),
        vec![1.0 - 0.1 * 0.5, -2.0 - 0.1 * 0.25, 0.5 + 0.1 * 4.0]
    );
    assert_eq!(values(&q), vec![3.0 - 0.1 * 2.0]);
    opt.zero_grad();
    assert!(p.grad().is_none() && q.grad().is_none());
    // Without a gradient a parameter is left alone.
    opt.step().unwrap();
    assert_eq!(values(&q), vec![3.0 - 0.1 * 2.0]);
    assert_eq!(opt.steps(), 2);
}

#[test]
fn momentum_and_weight_decay_follow_pytorch() {
    let p = param(&[1.0, 2.0]);
    let mut opt = Sgd::new(vec![p.clone()], 0.5)
        .unwrap()
        .with_momentum(0.9)
        .unwrap()
        .with_weight_decay(0.01)
        .unwrap();
    // By hand: g' = g + wd*p, buf = g' (first step), then buf = mom*buf + g'; p -= lr*buf.
    let mut pv = [1.0f64, 2.0];
    let mut buf = [0.0f64; 2];
    let grads = [[0.2, -0.4], [0.1, 0.3], [-0.5, 0.0]];
    for (step, g) in grads.iter().enumerate() {
        set_grad(&p, g);
        opt.step().unwrap();
        for i in 0..2 {
            let gd = g[i] + 0.01 * pv[i];
            buf[i] = if step == 0 { gd } else { 0.9 * buf[i] + gd };
            pv[i] -= 0.5 * buf[i];
        }
        let got = values(&p);
        for i in 0..2 {
            assert!(
                (got[i] - pv[i]).abs() < 1e-12,
                "step {step}: {got:?} vs {pv:?}"
            );
        }
    }
}

#[test]
fn hyper_parameters_by_name_and_validation() {
    let mut opt = Sgd::new(vec![param(&[1.0])], 0.4).unwrap();
    assert_eq!(opt.hyper("lr").unwrap(), 0.4);
    opt.set_hyper("lr", 0.7).unwrap();
    assert_eq!(opt.lr(), 0.7);
    opt.set_hyper("mom", 0.5).unwrap();
    assert_eq!(opt.hyper("mom").unwrap(), 0.5);
    assert!(opt.set_hyper("lr", -1.0).is_err());
    assert!(opt.set_hyper("lr", f64::NAN).is_err());
    assert!(opt.set_hyper("mom", 1.0).is_err());
    assert!(opt.set_hyper("wd", -0.1).is_err());
    assert!(opt.set_hyper("beta", 0.1).is_err());
    assert!(opt.hyper("beta").is_err());
    assert!(Sgd::new(vec![], -1.0).is_err());
    assert_eq!(opt.lr(), 0.7, "a refused value changes nothing");
}
