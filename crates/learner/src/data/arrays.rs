//! Datasets from `ndarray` arrays and `.npz` files.
//!
//! * [`TensorDataset::from_ndarray`]: inputs `[N, ...]` (f32 or f64) and integer labels
//!   `[N]`, the inputs taken without a copy when in standard layout.
//! * [`load_image_npz`]: the lesson's data from any `.npz` holding `x_train, y_train,
//!   x_valid, y_valid`: images as `[N, 784]` rows, `[N, 28, 28]` or `[N, 1, 28, 28]`, float
//!   in `[0, 1]` or `uint8` 0-255 (divided by 255 like MNIST's bytes), labels integers in
//!   `0..classes`. Anything else is a one-line [`LearnerError::Data`] naming the file, the
//!   key and what is wrong with it.

use std::path::Path;

use tensor::ndarray::{ArrayBase, ArrayD, Data, Dimension};
use tensor::npy::{NpyArray, Npz};
use tensor::{Device, Element, Tensor};

use crate::data::sampler::integer_values;
use crate::data::TensorDataset;
use crate::error::{LearnerError, Result};

/// Pixels per image of the lesson's data (28 x 28).
pub const IMAGE_PIXELS: usize = 784;

impl TensorDataset {
    /// A dataset on `device` from inputs `x` (`[N, ...]`) and class ids `labels` (`N`
    /// of them). On the CPU the inputs are not copied when in standard layout.
    pub fn from_ndarray<T, S, D>(
        x: ArrayBase<S, D>,
        labels: &[usize],
        device: Device,
    ) -> Result<Self>
    where
        T: Element,
        S: tensor::ndarray::DataOwned<Elem = T>,
        D: Dimension,
    {
        let x = Tensor::from_ndarray(x).to_device(device)?;
        let y: Vec<T> = labels.iter().map(|&c| T::of_f64(c as f64)).collect();
        let y = Tensor::from_vec(y, &[labels.len()], device)?;
        TensorDataset::new(x, y)
    }
}

/// One split of an image archive: row-major `[n, 784]` pixels in `[0, 1]` and a label per
/// image.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageSplit {
    /// `n x 784` pixels, row-major.
    pub images: ArrayD<f32>,
    /// One class id per image.
    pub labels: Vec<usize>,
}

impl ImageSplit {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// Reads and checks the training and validation splits of an image `.npz` (see the module
/// docs); labels must lie in `0..classes`.
pub fn load_image_npz(path: impl AsRef<Path>, classes: usize) -> Result<(ImageSplit, ImageSplit)> {
    let path = path.as_ref();
    let mut z = tensor::npy::read_npz(path).map_err(data_err)?;
    let train = split(&mut z, "x_train", "y_train", classes)?;
    let valid = split(&mut z, "x_valid", "y_valid", classes)?;
    Ok((train, valid))
}

fn data_err(e: impl std::fmt::Display) -> LearnerError {
    LearnerError::Data(e.to_string())
}

fn split(z: &mut Npz, xk: &str, yk: &str, classes: usize) -> Result<ImageSplit> {
    let src = z.source().to_string();
    // Look both keys up first, so a missing one is reported before any other problem.
    z.get(xk).map_err(data_err)?;
    z.get(yk).map_err(data_err)?;
    let images = images(&src, xk, z.take(xk).map_err(data_err)?)?;
    let labels = labels(&src, yk, &z.take(yk).map_err(data_err)?, classes)?;
    let n = images.shape()[0];
    if labels.len() != n {
        return Err(LearnerError::Data(format!(
            "{src}: `{xk}` has {n} images but `{yk}` has {} labels",
            labels.len()
        )));
    }
    Ok(ImageSplit { images, labels })
}

/// `[N, 784]`, `[N, 28, 28]` or `[N, 1, 28, 28]` float in `[0, 1]` or uint8, as `[N, 784]`
/// f32 (uint8 / 255).
fn images(src: &str, key: &str, a: NpyArray) -> Result<ArrayD<f32>> {
    let shape = a.shape().to_vec();
    let ok = matches!(shape.as_slice(), [_, 784] | [_, 28, 28] | [_, 1, 28, 28]);
    if !ok {
        return Err(LearnerError::Data(format!(
            "{src}: `{key}` has shape {shape:?}; images must be [N, 784], [N, 28, 28] or [N, 1, 28, 28]"
        )));
    }
    let n = shape[0];
    let flat = match a {
        NpyArray::F32(x) => check_unit(src, key, x)?,
        NpyArray::F64(x) => check_unit(src, key, x.mapv(|v| v as f32))?,
        NpyArray::U8(x) => x.mapv(|v| f32::from(v) / 255.0),
        other => {
            return Err(LearnerError::Data(format!(
                "{src}: `{key}` is {}; images must be float32/float64 in [0, 1] or uint8 0-255",
                other.dtype_name()
            )))
        }
    };
    // Row-major [N, 784] (no copy when already in standard layout).
    let flat = if flat.is_standard_layout() {
        flat
    } else {
        flat.as_standard_layout().into_owned()
    };
    flat.into_shape_with_order(tensor::ndarray::IxDyn(&[n, IMAGE_PIXELS]))
        .map_err(|e| LearnerError::Data(format!("{src}: `{key}`: {e}")))
}

fn check_unit<S: Data<Elem = f32>>(
    src: &str,
    key: &str,
    x: ArrayBase<S, tensor::ndarray::IxDyn>,
) -> Result<ArrayD<f32>> {
    if let Some((i, v)) = x
        .iter()
        .enumerate()
        .find(|(_, v)| !(**v >= 0.0 && **v <= 1.0))
    {
        return Err(LearnerError::Data(format!(
            "{src}: `{key}` holds {v} at flat index {i}; float images must lie in [0, 1] (uint8 images may be 0-255)"
        )));
    }
    Ok(x.into_owned())
}

/// A vector of integer class ids in `0..classes`.
fn labels(src: &str, key: &str, a: &NpyArray, classes: usize) -> Result<Vec<usize>> {
    if a.shape().len() != 1 {
        return Err(LearnerError::Data(format!(
            "{src}: `{key}` has shape {:?}; labels must be a vector [N]",
            a.shape()
        )));
    }
    let values = integer_values(a).ok_or_else(|| {
        LearnerError::Data(format!(
            "{src}: `{key}` is {}; labels must be integers 0-{}",
            a.dtype_name(),
            classes.saturating_sub(1)
        ))
    })?;
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            if v >= 0 && (v as u128) < classes as u128 {
                Ok(v as usize)
            } else {
                Err(LearnerError::Data(format!(
                    "{src}: `{key}` holds label {v} at index {i}; labels must be integers 0-{}",
                    classes.saturating_sub(1)
                )))
            }
        })
        .collect()
}
