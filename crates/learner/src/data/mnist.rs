//! MNIST splits (from `mnist-data`) as datasets and a data bunch on a device.

use mnist_data::{MnistSplits, Split, CLASSES, PIXELS};
use tensor::{Device, Tensor};

use crate::data::{get_dls, DataBunch, TensorDataset};
use crate::error::Result;

/// One split as a dataset on `device`: `x` is `[n, 784]` pixels, `y` the labels as `f32`.
pub fn mnist_dataset(split: &Split, device: Device) -> Result<TensorDataset> {
    let n = split.len();
    let x = Tensor::from_slice(&split.images, &[n, PIXELS], device)?;
    let labels: Vec<f32> = split.labels.iter().map(|&l| f32::from(l)).collect();
    let y = Tensor::from_vec(labels, &[n], device)?;
    TensorDataset::new(x, y)
}

/// The lesson's data bunch: train and valid splits copied to `device` once, batch `bs`
/// (valid `2 * bs`), training order seeded by `seed`. Normalise the splits first.
pub fn mnist_bunch(
    splits: &MnistSplits,
    bs: usize,
    seed: u64,
    device: Device,
) -> Result<DataBunch> {
    let train = mnist_dataset(&splits.train, device)?;
    let valid = mnist_dataset(&splits.valid, device)?;
    let (train, valid) = get_dls(train, valid, bs, seed)?;
    Ok(DataBunch::new(train, valid, CLASSES))
}
