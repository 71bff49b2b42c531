//! Initialisation statistics against the formulas, evaluated by hand in the tests.

use layers::init::{kaiming_normal_, kaiming_uniform_};
use layers::{init_cnn, init_cnn_with, state_dict, Conv2d, Kaiming, Linear, Module, Sequential};
use tensor::TensorError;

use crate::support::{assert_state_eq, bn_model, plain_model, rng};

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// A big layer: 256 x 64 x 3 x 3 = 147,456 weights, fan-in 64 * 9 = 576.
fn big_conv(bias: bool) -> Conv2d {
    Conv2d::new(64, 256, 3, 1, 1, bias, &mut rng(1)).unwrap()
}

#[test]
fn init_cnn_gives_kaiming_normal_with_slope_0_1_and_zero_bias() {
    let model = Sequential::new().with(big_conv(true));
    assert_eq!(init_cnn(&model, &mut rng(2)).unwrap(), 1);
    let conv = model
        .get(0)
        .unwrap()
        .as_any()
        .downcast_ref::<Conv2d>()
        .unwrap();
    let w = conv.weight().value().to_vec_f64().unwrap();
    let (mean, std) = mean_std(&w);
    // gain sqrt(2 / (1 + 0.01)), std = gain / sqrt(576) = gain / 24.
    let expected = (2.0f64 / 1.01).sqrt() / 24.0;
    // Sampling error of a std over n draws: about std / sqrt(2 n) = 0.18%; allow 1%.
    assert!(
        (std / expected - 1.0).abs() < 0.01,
        "std {std} vs {expected}"
    );
    assert!(
        mean.abs() < 5.0 * expected / (w.len() as f64).sqrt(),
        "mean {mean}"
    );
    let b = conv.bias().unwrap().value().to_vec_f64().unwrap();
    assert!(b.iter().all(|&x| x == 0.0));
}

#[test]
fn kaiming_uniform_bound_and_std() {
    let conv = big_conv(false);
    kaiming_uniform_(conv.weight(), 0.1, &mut rng(3)).unwrap();
    let w = conv.weight().value().to_vec_f64().unwrap();
    // bound = gain * sqrt(3 / 576) = gain / sqrt(192).
    let bound = (2.0f64 / 1.01).sqrt() / 192f64.sqrt();
    assert!(w.iter().all(|x| x.abs() <= bound * (1.0 + 1e-6)));
    assert!(w.iter().any(|x| x.abs() > 0.99 * bound));
    let (_, std) = mean_std(&w);
    assert!((std / (bound / 3f64.sqrt()) - 1.0).abs() < 0.01);
    // The uniform variant of init_cnn draws from the same bound.
    let model = Sequential::new().with(big_conv(true));
    init_cnn_with(&model, Kaiming::Uniform, &mut rng(4)).unwrap();
    let m = state_dict(&model);
    assert!(m
        .get("0.weight")
        .unwrap()
        .to_vec_f64()
        .unwrap()
        .iter()
        .all(|x| x.abs() <= bound * (1.0 + 1e-6)));
    assert!(m
        .get("0.bias")
        .unwrap()
        .to_vec_f64()
        .unwrap()
        .iter()
        .all(|&x| x == 0.0));
}

#[test]
fn slope_zero_is_plain_he_init() {
    let conv = big_conv(false);
    kaiming_normal_(conv.weight(), 0.0, &mut rng(5)).unwrap();
    let (_, std) = mean_std(&conv.weight().value().to_vec_f64().unwrap());
    let expected = 2f64.sqrt() / 24.0;
    assert!((std / expected - 1.0).abs() < 0.01);
}

#[test]
fn pytorch_default_init_of_linear_and_conv() {
    // U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias; fan_in 4096 -> bound 1/64.
    let lin = Linear::new(4096, 64, &mut rng(6)).unwrap();
    let w = lin.weight().value().to_vec_f64().unwrap();
    let bound = 1.0 / 64.0;
    assert!(w.iter().all(|x| x.abs() <= bound));
    let (_, std) = mean_std(&w);
    assert!((std / (bound / 3f64.sqrt()) - 1.0).abs() < 0.01);
    let b = lin.bias().unwrap().value().to_vec_f64().unwrap();
    assert!(b.iter().all(|x| x.abs() <= bound) && b.iter().any(|&x| x != 0.0));
    let conv = Conv2d::new(1, 8, 5, 2, 2, true, &mut rng(7)).unwrap();
    let cb = conv.bias().unwrap().value().to_vec_f64().unwrap();
    assert!(cb.iter().all(|x| x.abs() <= 0.2) && cb.iter().any(|&x| x != 0.0));
}

#[test]
fn init_cnn_touches_only_convolutions() {
    let model = bn_model(8);
    let before = state_dict(&model);
    assert_eq!(init_cnn(&model, &mut rng(9)).unwrap(), 5);
    let after = state_dict(&model);
    for (name, t) in before.iter() {
        let changed = !t.bit_eq(after.get(name).unwrap());
        assert_eq!(changed, name.ends_with(".0.weight"), "{name}");
    }
}

#[test]
fn init_is_reproducible_from_the_seed() {
    let (a, b, c) = (plain_model(10), plain_model(10), plain_model(10));
    init_cnn(&a, &mut rng(11)).unwrap();
    init_cnn(&b, &mut rng(11)).unwrap();
    init_cnn(&c, &mut rng(12)).unwrap();
    assert_state_eq(&state_dict(&a), &state_dict(&b));
    let (sa, sc) = (state_dict(&a), state_dict(&c));
    assert!(!sa
        .get("0.0.weight")
        .unwrap()
        .bit_eq(sc.get("0.0.weight").unwrap()));
    // Conv biases are zero after init_cnn, whatever the seed.
    assert!(sa
        .get("3.0.bias")
        .unwrap()
        .bit_eq(sc.get("3.0.bias").unwrap()));
}

#[test]
fn kaiming_needs_a_weight_with_a_fan_in() {
    let bias_only = Linear::new(3, 2, &mut rng(13)).unwrap();
    let b = bias_only.bias().unwrap();
    assert!(matches!(
        kaiming_normal_(b, 0.1, &mut rng(14)),
        Err(TensorError::InvalidShape { .. })
    ));
    assert!(matches!(
        kaiming_normal_(bias_only.weight(), f64::NAN, &mut rng(14)),
        Err(TensorError::InvalidArgument { .. })
    ));
    let _ = bias_only.describe();
}
