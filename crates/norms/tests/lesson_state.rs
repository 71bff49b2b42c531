//! PyTorch state dicts of the lesson's own classes (`tests/fixtures/lesson_state`, written
//! by its `generate.py` from the seed's Python classes) load into our layers with the same
//! names and shapes, and give PyTorch's outputs in train mode (with the buffers after
//! that pass) and in eval mode. With `NORMS_LESSON_OUT=DIR` the test also writes our own
//! state dicts and outputs as `DIR/ours_<case>.safetensors` / `ours_<case>_io.safetensors`,
//! which `python generate.py --check DIR` loads into the seed's classes in PyTorch.

mod common;

use std::collections::HashMap;
use std::path::Path;

use autograd::Var;
use common::fixture::{fixture_dir, Fixture};
use layers::{load_safetensors, load_state_dict, save_safetensors, state_dict, Module, ModuleExt};
use norms::{BatchNorm, InstanceNorm, LayerNorm, NormKind, RunningBatchNorm};
use rand::SeedableRng;
use tensor::DType;

const CASES: [&str; 6] = [
    "batchnorm",
    "layernorm",
    "instancenorm",
    "runningbatchnorm",
    "cnn_batchnorm",
    "cnn_batchnorm2d",
];

/// A fresh module of the case's class (PyTorch's default initial values; all overwritten).
fn build(case: &str) -> Box<dyn Module> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let cnn = |kind: NormKind, rng: &mut rand::rngs::StdRng| -> Box<dyn Module> {
        Box::new(layers::get_cnn_model(&[8, 16, 32, 64, 64], &kind.factory(), rng).unwrap())
    };
    let m: Box<dyn Module> = match case {
        "batchnorm" => Box::new(BatchNorm::new(3).unwrap()),
        "layernorm" => Box::new(LayerNorm::new().unwrap()),
        "instancenorm" => Box::new(InstanceNorm::new(3).unwrap()),
        "runningbatchnorm" => Box::new(RunningBatchNorm::new(3).unwrap()),
        "cnn_batchnorm" => cnn(NormKind::BatchLesson, &mut rng),
        "cnn_batchnorm2d" => cnn(NormKind::Batch, &mut rng),
        other => panic!("unknown case {other}"),
    };
    m.to_dtype(DType::F64).unwrap();
    m
}

/// A module of the case's class loaded (strictly) from PyTorch's state dict.
fn loaded(case: &str, path: &Path) -> Box<dyn Module> {
    let m = build(case);
    let sd = load_safetensors(path).unwrap();
    load_state_dict(m.as_ref(), &sd, true).unwrap_or_else(|e| panic!("{case}: {e}"));
    m
}

/// Our train-mode and eval-mode outputs on `x` and the buffers after the train pass.
fn run(case: &str, state: &Path, x: &Var) -> (Var, Var, Vec<(String, Var)>) {
    let train = loaded(case, state);
    train.train();
    let y_train = train.forward(x).unwrap();
    let eval = loaded(case, state);
    eval.eval();
    let y_eval = eval.forward(x).unwrap();
    (y_train, y_eval, train.named_buffers())
}

#[test]
fn pytorch_state_dicts_of_the_lesson_load_and_give_pytorchs_outputs() {
    let dir = fixture_dir("lesson_state");
    let out = std::env::var_os("NORMS_LESSON_OUT").map(std::path::PathBuf::from);
    for case in CASES {
        let state = dir.join(format!("{case}.safetensors"));
        let io = Fixture::load_from("lesson_state", &format!("{case}_io"));
        // Same names and shapes as PyTorch's state dict.
        let theirs = load_safetensors(&state).unwrap();
        let ours = state_dict(build(case).as_ref());
        // (safetensors files keep no order, so compare sorted.)
        let names = |sd: &layers::StateDict| -> Vec<(String, Vec<usize>)> {
            let mut v: Vec<_> = sd
                .iter()
                .map(|(n, t)| (n.to_string(), t.shape().to_vec()))
                .collect();
            v.sort();
            v
        };
        assert_eq!(
            names(&ours),
            names(&theirs),
            "{case}: state dict names and shapes"
        );
        let x = Var::constant(io.tensor("x"));
        let (y_train, y_eval, buffers) = run(case, &state, &x);
        let mut worst = io.check_var("y_train", &y_train);
        worst = worst.max(io.check_var("y_eval", &y_eval));
        for (name, b) in &buffers {
            worst = worst.max(io.check_var(&format!("after_train.{name}"), b));
        }
        eprintln!("lesson_state {case}: worst relative error {worst:.3e}");
        if let Some(out) = &out {
            write_ours(out, case, &state, &x);
        }
    }
}

/// Writes our state dict (saved from our module) and our outputs from it.
fn write_ours(out: &Path, case: &str, theirs: &Path, x: &Var) {
    std::fs::create_dir_all(out).unwrap();
    let ours = out.join(format!("ours_{case}.safetensors"));
    save_safetensors(&ours, &state_dict(loaded(case, theirs).as_ref())).unwrap();
    let (y_train, y_eval, buffers) = run(case, &ours, x);
    let mut io: HashMap<String, Vec<u8>> = HashMap::new();
    let mut shapes: HashMap<String, Vec<usize>> = HashMap::new();
    let mut put = |k: String, v: &Var| {
        let t = v.value();
        shapes.insert(k.clone(), t.shape().to_vec());
        io.insert(
            k,
            t.to_vec_f64()
                .unwrap()
                .iter()
                .flat_map(|f| f.to_le_bytes())
                .collect(),
        );
    };
    put("x".into(), x);
    put("y_train".into(), &y_train);
    put("y_eval".into(), &y_eval);
    for (n, b) in &buffers {
        put(format!("after_train.{n}"), b);
    }
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = io
        .iter()
        .map(|(k, bytes)| {
            let view = safetensors::tensor::TensorView::new(
                safetensors::Dtype::F64,
                shapes[k].clone(),
                bytes,
            )
            .unwrap();
            (k.clone(), view)
        })
        .collect();
    let path = out.join(format!("ours_{case}_io.safetensors"));
    safetensors::serialize_to_file(views, &None, &path).unwrap();
}
