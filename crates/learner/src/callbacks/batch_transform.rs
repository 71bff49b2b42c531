//! [`BatchTransformX`]: replaces each input batch with a function of it.

use tensor::Tensor;

use crate::runner::{Callback, CbResult, Ctx, Flow};

/// A function from an input batch to a new one.
pub type BatchFn = Box<dyn Fn(&Tensor) -> tensor::Result<Tensor>>;

/// A batch transform that views each `[bs, ...]` batch as `[bs, shape...]` (no copy): the
/// lesson's `view_tfm`.
pub fn view_tfm(shape: &[usize]) -> BatchFn {
    let shape = shape.to_vec();
    Box::new(move |x: &Tensor| {
        let mut full = Vec::with_capacity(shape.len() + 1);
        full.push(x.shape().first().copied().unwrap_or(0));
        full.extend_from_slice(&shape);
        x.reshape(&full)
    })
}

/// The lesson's `mnist_view`: rows of 784 as `[bs, 1, 28, 28]` images.
pub fn mnist_view() -> BatchFn {
    view_tfm(&[1, 28, 28])
}

/// The lesson's `BatchTransformXCallback(f)` (order 2).
pub struct BatchTransformX {
    f: BatchFn,
}

impl std::fmt::Debug for BatchTransformX {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BatchTransformX")
    }
}

impl BatchTransformX {
    /// Applies `f` to every input batch.
    pub fn new(f: BatchFn) -> Self {
        BatchTransformX { f }
    }
}

impl Callback for BatchTransformX {
    fn name(&self) -> &'static str {
        "batch_transform_x"
    }

    fn order(&self) -> i32 {
        2
    }

    fn begin_batch(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        if let Some(x) = &ctx.state.xb {
            ctx.state.xb = Some((self.f)(x)?);
        }
        Ok(Flow::Continue)
    }
}
