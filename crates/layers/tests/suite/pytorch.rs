//! PyTorch interop without PyTorch: checkpoints laid out byte by byte as
//! `safetensors.torch.save_file(model.state_dict(), path)` writes them for the lesson's model
//! with `BatchNorm2d` (from the safetensors format spec: an 8-byte little-endian header
//! length, a JSON header `{name: {dtype, shape, data_offsets}}` padded with spaces to a
//! multiple of 8, then little-endian data; tensors ordered by descending dtype, then name;
//! no `__metadata__` without metadata), and an independent reader for the files we write.

use autograd::Var;
use layers::{load_safetensors, load_state_dict, save_safetensors, state_dict, Module};
use serde_json::Value;
use tensor::DType;
use test_oracles::conv::{conv2d, ConvShape};
use test_oracles::matmul::{matmul, MatmulShape};
use test_oracles::norm::{normalize_with, Grouping, Moments, NormShape};

use crate::support::{bn_model, randn};

/// PyTorch's `state_dict()` of `get_cnn_model(nfs, conv_layer)` with `BatchNorm2d`:
/// name, safetensors dtype, shape. Every float tensor is `float32`; the counters `int64`.
fn pytorch_entries() -> Vec<(String, &'static str, Vec<usize>)> {
    let mut out = Vec::new();
    let chans = [(1, 8, 5), (8, 16, 3), (16, 32, 3), (32, 64, 3), (64, 64, 3)];
    for (i, (ni, nf, k)) in chans.into_iter().enumerate() {
        out.push((format!("{i}.0.weight"), "F32", vec![nf, ni, k, k]));
        for name in ["weight", "bias", "running_mean", "running_var"] {
            out.push((format!("{i}.2.{name}"), "F32", vec![nf]));
        }
        out.push((format!("{i}.2.num_batches_tracked"), "I64", vec![]));
    }
    out.push(("7.weight".into(), "F32", vec![10, 64]));
    out.push(("7.bias".into(), "F32", vec![10]));
    out
}

/// A deterministic value for element `j` of tensor `t` (distinct across the model).
fn value(t: usize, j: usize) -> f32 {
    ((t * 1000 + j) as f32 * 0.618_034).sin() * 0.5
}

/// The value PyTorch's checkpoint holds: variances are positive, as after training.
fn stored(name: &str, t: usize, j: usize) -> f32 {
    if name.ends_with("running_var") {
        1.0 + value(t, j)
    } else {
        value(t, j)
    }
}

/// A trained network's counter: 3 epochs of 98 batches.
const BATCHES: i64 = 294;

/// The bytes of a PyTorch checkpoint holding `value(t, j)` in tensor `t` (index in
/// `pytorch_entries`) and `BATCHES` in every counter.
fn pytorch_checkpoint() -> Vec<u8> {
    let entries = pytorch_entries();
    let mut order: Vec<usize> = (0..entries.len()).collect();
    // safetensors sorts by dtype, descending (I64 after F32 in its enum), then by name.
    order.sort_by(|&a, &b| {
        let rank = |d: &str| if d == "I64" { 1 } else { 0 };
        rank(entries[b].1)
            .cmp(&rank(entries[a].1))
            .then(entries[a].0.cmp(&entries[b].0))
    });
    let mut header = String::from("{");
    let mut data = Vec::new();
    for (k, &t) in order.iter().enumerate() {
        let (name, dtype, shape) = &entries[t];
        let start = data.len();
        if *dtype == "I64" {
            data.extend(BATCHES.to_le_bytes());
        } else {
            let n: usize = shape.iter().product();
            for j in 0..n {
                data.extend(stored(name, t, j).to_le_bytes());
            }
        }
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        if k > 0 {
            header.push(',');
        }
        header.push_str(&format!(
            r#""{name}":{{"dtype":"{dtype}","shape":[{}],"data_offsets":[{start},{}]}}"#,
            dims.join(","),
            data.len()
        ));
    }
    header.push('}');
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend(header.as_bytes());
    file.extend(data);
    file
}

#[test]
fn a_pytorch_checkpoint_loads_into_our_model() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pytorch.safetensors");
    std::fs::write(&path, pytorch_checkpoint()).unwrap();
    let model = bn_model(1);
    load_state_dict(&model, &load_safetensors(&path).unwrap(), true).unwrap();
    let ours = state_dict(&model);
    for (t, (name, dtype, shape)) in pytorch_entries().iter().enumerate() {
        let got = ours.get(name).unwrap();
        assert_eq!(
            (got.shape(), got.dtype()),
            (&shape[..], DType::F32),
            "{name}"
        );
        let got = got.to_vec::<f32>().unwrap();
        if *dtype == "I64" {
            assert_eq!(got, [BATCHES as f32], "{name}");
        } else {
            let want: Vec<u32> = (0..got.len())
                .map(|j| stored(name, t, j).to_bits())
                .collect();
            assert_eq!(
                got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                want,
                "{name}"
            );
        }
    }
    // The loaded model computes the lesson's network with PyTorch's weights: its output
    // against an independent f64 forward pass from the same tensors.
    model.eval();
    let x = randn(&[2, 1, 28, 28], DType::F32, 2);
    let y = model.call(&Var::constant(x.clone())).unwrap().value();
    assert_eq!(y.shape(), [2, 10]);
    let want = reference_forward(&ours, &x.to_vec_f64().unwrap(), 2);
    let got = y.to_vec_f64().unwrap();
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    assert!(
        want.iter().any(|v| v.abs() > 0.1),
        "a degenerate reference: {want:?}"
    );
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        // f32 arithmetic over at most 576-term sums: far below 1e-4 of the scale.
        assert!(
            (g - w).abs() <= 1e-4 * scale,
            "logit {i}: got {g}, want {w}"
        );
    }

    // Saving it again writes exactly the bytes PyTorch wrote.
    let again = dir.path().join("ours.safetensors");
    save_safetensors(&again, &ours).unwrap();
    assert_eq!(std::fs::read(&again).unwrap(), pytorch_checkpoint());
}

/// The lesson's CNN (`get_cnn_model` with the test norm) evaluated in f64 from the tensors
/// of `sd` by the shared oracles, on `n` samples of `x: [n, 1, 28, 28]`: per layer `i`,
/// `conv(stride 2, padding k/2, no bias)`, ReLU, then
/// `(h - running_mean) / sqrt(running_var + 1e-5) * weight + bias` per channel; then the
/// mean over the (1x1) map and `y = h W^T + b`.
fn reference_forward(sd: &layers::StateDict, x: &[f64], n: usize) -> Vec<f64> {
    let get = |name: String| sd.get(&name).unwrap().to_vec_f64().unwrap();
    let chans = [(1, 8, 5), (8, 16, 3), (16, 32, 3), (32, 64, 3), (64, 64, 3)];
    let (mut h, mut shape) = (x.to_vec(), [n, 1, 28, 28]);
    for (i, (ni, nf, k)) in chans.into_iter().enumerate() {
        let conv = ConvShape::new(shape, [nf, ni, k, k], 2, k / 2).unwrap();
        h = conv2d(&conv, &h, &get(format!("{i}.0.weight")), None).unwrap();
        h.iter_mut().for_each(|v| *v = v.max(0.0));
        shape = conv.y_shape();
        let stats = Moments {
            mean: get(format!("{i}.2.running_mean")),
            var: get(format!("{i}.2.running_var")),
        };
        let norm = NormShape::new(&shape, Grouping::PerChannel).unwrap();
        let (w, b) = (get(format!("{i}.2.weight")), get(format!("{i}.2.bias")));
        h = normalize_with(&norm, &h, &stats, &w, &b, 1e-5).unwrap();
    }
    // [n, 64, 1, 1]: the average pool over one pixel and the flatten leave h as [n, 64].
    assert_eq!(shape, [n, 64, 1, 1]);
    let lin = MatmulShape::new(1, n, 64, 10).transposed(false, true);
    let mut y = matmul(&lin, &h, &get("7.weight".into())).unwrap();
    let bias = get("7.bias".into());
    for (j, v) in y.iter_mut().enumerate() {
        *v += bias[j % 10];
    }
    y
}

/// A minimal safetensors reader, independent of the `safetensors` crate: header length,
/// JSON header, and little-endian data.
fn read_minimal(bytes: &[u8]) -> (serde_json::Map<String, Value>, &[u8]) {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    assert_eq!(n % 8, 0, "the header is padded to 8 bytes");
    let header: Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    (header.as_object().unwrap().clone(), &bytes[8 + n..])
}

#[test]
fn our_checkpoint_has_pytorchs_names_dtypes_and_shapes() {
    let model = bn_model(3);
    crate::support::scramble(&model, 4);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ours.safetensors");
    save_safetensors(&path, &state_dict(&model)).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let (header, data) = read_minimal(&bytes);

    let expected = pytorch_entries();
    let mut names: Vec<&String> = header.keys().collect();
    names.sort();
    let mut want: Vec<&String> = expected.iter().map(|e| &e.0).collect();
    want.sort();
    assert_eq!(names, want, "exactly PyTorch's keys, no __metadata__");

    let mut spans = Vec::new();
    let ours = state_dict(&model);
    for (name, dtype, shape) in &expected {
        let info = &header[name.as_str()];
        assert_eq!(info["dtype"], *dtype, "{name}");
        let got_shape: Vec<usize> = info["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(&got_shape, shape, "{name}");
        let offsets = info["data_offsets"].as_array().unwrap();
        let (a, b) = (
            offsets[0].as_u64().unwrap() as usize,
            offsets[1].as_u64().unwrap() as usize,
        );
        spans.push((a, b));
        let raw = &data[a..b];
        let want = ours.get(name).unwrap().to_vec::<f32>().unwrap();
        if *dtype == "I64" {
            assert_eq!(raw, 469i64.to_le_bytes(), "{name}");
        } else {
            let got: Vec<f32> = raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect();
            assert_eq!(
                got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "{name}"
            );
        }
    }
    // The data section is exactly covered by the tensors, without gaps or overlaps.
    spans.sort();
    assert_eq!(spans[0].0, 0);
    assert!(spans.windows(2).all(|w| w[0].1 == w[1].0));
    assert_eq!(spans.last().unwrap().1, data.len());
}

#[test]
fn a_pytorch_checkpoint_without_norms_loads_too() {
    // `get_cnn_model` without BatchNorm: the convs keep their bias.
    let entries: Vec<(String, Vec<usize>)> =
        [(1, 8, 5), (8, 16, 3), (16, 32, 3), (32, 64, 3), (64, 64, 3)]
            .into_iter()
            .enumerate()
            .flat_map(|(i, (ni, nf, k))| {
                [
                    (format!("{i}.0.weight"), vec![nf, ni, k, k]),
                    (format!("{i}.0.bias"), vec![nf]),
                ]
            })
            .chain([
                ("7.weight".to_string(), vec![10, 64]),
                ("7.bias".to_string(), vec![10]),
            ])
            .collect();
    let mut sorted = entries.clone();
    sorted.sort();
    let mut header = String::from("{");
    let mut data = Vec::new();
    for (k, (name, shape)) in sorted.iter().enumerate() {
        let start = data.len();
        for j in 0..shape.iter().product::<usize>() {
            data.extend(value(k, j).to_le_bytes());
        }
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        header.push_str(&format!(
            r#"{}"{name}":{{"dtype":"F32","shape":[{}],"data_offsets":[{start},{}]}}"#,
            if k > 0 { "," } else { "" },
            dims.join(","),
            data.len()
        ));
    }
    header.push('}');
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend(header.as_bytes());
    file.extend(&data);
    let sd = layers::from_safetensors_bytes(&file).unwrap();
    let model = crate::support::plain_model(5);
    load_state_dict(&model, &sd, true).unwrap();
    let bias = state_dict(&model)
        .get("3.0.bias")
        .unwrap()
        .to_vec::<f32>()
        .unwrap();
    let k = sorted.iter().position(|(n, _)| n == "3.0.bias").unwrap();
    assert_eq!(bias, (0..64).map(|j| value(k, j)).collect::<Vec<_>>());
    assert_eq!(
        layers::to_safetensors_bytes(&state_dict(&model)).unwrap(),
        file
    );
}
