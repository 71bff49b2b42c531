//! The lesson's CNN: `conv_layer` and `get_cnn_model`, with the normalisation layer chosen by
//! a [`NormFactory`].
//!
//! `get_cnn_model(nfs)` with `nfs = [8, 16, 32, 64, 64]` on `[N, 1, 28, 28]` input is
//!
//! | index | module | output |
//! |---|---|---|
//! | 0..=4 | `conv_layer(nfs[i-1], nfs[i], ks = 5 if i = 0 else 3, stride 2)` | `[N, nfs[i], s_i, s_i]` |
//! | 5 | `AdaptiveAvgPool2d(1)` | `[N, 64, 1, 1]` |
//! | 6 | `Flatten` | `[N, 64]` |
//! | 7 | `Linear(64, 10)` | `[N, 10]` |
//!
//! where layer 0 reads the 1 input channel and each layer pads by `ks / 2`, so it maps a
//! side `s` to `floor((s + 2 (ks / 2) - ks) / 2) + 1 = ceil(s / 2)` for odd `ks`:
//! 28 -> 14 -> 7 -> 4 -> 2 -> 1. A `conv_layer` is
//! `Sequential[Conv2d(bias = no norm), GeneralRelu (ReLU), norm]`,
//! the norm after the activation as in the lesson, so PyTorch's names follow:
//! `0.0.weight`, `0.2.weight`, `0.2.running_mean`, ..., `7.weight`, `7.bias`.

use rand::Rng;
use tensor::{Result, TensorError};

use crate::activation::GeneralRelu;
use crate::conv::Conv2d;
use crate::flatten::Flatten;
use crate::linear::Linear;
use crate::module::Module;
use crate::pool::AdaptiveAvgPool2d;
use crate::sequential::Sequential;

/// A function building a normalisation layer for `nf` channels.
pub type NormFn = dyn Fn(usize) -> Result<Box<dyn Module>>;

/// Which normalisation layer (if any) each `conv_layer` gets.
///
/// This crate knows no norm layer (they live in the `norms` crate, which depends on this
/// one), so a factory is a closure from the channel count to a boxed [`Module`]:
///
/// ```
/// use layers::{get_cnn_model, GeneralRelu, Module, NormFactory};
/// use rand::SeedableRng;
///
/// // Any module works as a "norm"; the norms crate's factories build BatchNorm2d etc.
/// let norm = NormFactory::new(|_nf| Ok(Box::new(GeneralRelu::relu()) as Box<dyn Module>));
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let with_norm = get_cnn_model(&[8, 16], &norm, &mut rng).unwrap();
/// let plain = get_cnn_model(&[8, 16], &NormFactory::none(), &mut rng).unwrap();
/// assert_eq!(with_norm.get(0).unwrap().children().len(), 3); // conv, relu, norm
/// assert_eq!(plain.get(0).unwrap().children().len(), 2); // conv (with bias), relu
/// ```
///
/// `NormFactory::none()` means no norm layer, and then convolutions keep their bias (a norm's
/// shift makes a conv bias redundant, so convs before a norm have none). The factory is
/// called once per `conv_layer`; the module it returns is placed third in the layer, so its
/// tensors are named `<layer>.2.<name>`.
#[derive(Default)]
pub struct NormFactory(Option<Box<NormFn>>);

impl std::fmt::Debug for NormFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "NormFactory(Some)"
        } else {
            "NormFactory(None)"
        })
    }
}

impl NormFactory {
    /// No normalisation.
    pub fn none() -> Self {
        NormFactory(None)
    }

    /// Normalisation layers made by `f(nf)`.
    pub fn new(f: impl Fn(usize) -> Result<Box<dyn Module>> + 'static) -> Self {
        NormFactory(Some(Box::new(f)))
    }

    /// True when no norm layer is added.
    pub fn is_none(&self) -> bool {
        self.0.is_none()
    }

    /// True when a norm layer is added.
    pub fn is_some(&self) -> bool {
        self.0.is_some()
    }

    /// The norm layer for `nf` channels, or `None` without a factory.
    pub fn build(&self, nf: usize) -> Result<Option<Box<dyn Module>>> {
        self.0.as_ref().map(|f| f(nf)).transpose()
    }
}

/// `Sequential[Conv2d(ni, nf, ks, stride, padding = ks / 2, bias = norm.is_none()),
/// GeneralRelu::relu(), norm(nf)]` (the norm only when the factory has one).
pub fn conv_layer<R: Rng + ?Sized>(
    ni: usize,
    nf: usize,
    ks: usize,
    stride: usize,
    norm: &NormFactory,
    rng: &mut R,
) -> Result<Sequential> {
    let mut layer = Sequential::new()
        .with(Conv2d::new(
            ni,
            nf,
            ks,
            stride,
            ks / 2,
            norm.is_none(),
            rng,
        )?)
        .with(GeneralRelu::relu());
    if let Some(n) = norm.build(nf)? {
        layer.push_boxed(n);
    }
    Ok(layer)
}

/// The lesson's model for MNIST: 1 input channel, 10 classes (see the module docs).
pub fn get_cnn_model<R: Rng + ?Sized>(
    nfs: &[usize],
    norm: &NormFactory,
    rng: &mut R,
) -> Result<Sequential> {
    cnn_model(1, nfs, 10, norm, rng)
}

/// [`get_cnn_model`] for `c_in` input channels and `n_classes` outputs: one `conv_layer`
/// per entry of `nfs` (kernel 5 first, then 3; stride 2), then pool, flatten and linear head.
/// PyTorch's default initialisation throughout; call `init_cnn` for the lesson's.
pub fn cnn_model<R: Rng + ?Sized>(
    c_in: usize,
    nfs: &[usize],
    n_classes: usize,
    norm: &NormFactory,
    rng: &mut R,
) -> Result<Sequential> {
    let Some(&last) = nfs.last() else {
        return Err(TensorError::InvalidArgument {
            op: "cnn_model",
            reason: "nfs must list at least one layer width".to_string(),
        });
    };
    let mut model = Sequential::new();
    let mut ni = c_in;
    for (i, &nf) in nfs.iter().enumerate() {
        let ks = if i == 0 { 5 } else { 3 };
        model.push(conv_layer(ni, nf, ks, 2, norm, rng)?);
        ni = nf;
    }
    model.push(AdaptiveAvgPool2d::new(1)?);
    model.push(Flatten::new());
    model.push(Linear::new(last, n_classes, rng)?);
    Ok(model)
}
