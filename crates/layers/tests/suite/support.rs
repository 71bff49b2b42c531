//! Shared helpers: a seeded generator, tensor builders, and a test-only norm module with
//! PyTorch `BatchNorm2d`'s tensor names (the real norms live in the `norms` crate).

use autograd::Var;
use layers::{Forward, Module, ModuleCore, NormFactory};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tensor::{DType, Device, Result, Tensor};

pub const NFS: [usize; 5] = [8, 16, 32, 64, 64];

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Seeded standard-normal CPU values (the shared generator of `test-oracles`).
pub use test_oracles::tensors::randn;

pub fn f64_tensor(data: Vec<f64>, shape: &[usize]) -> Tensor {
    Tensor::from_vec(data, shape, Device::Cpu).unwrap()
}

/// A norm with `BatchNorm2d`'s tensors: parameters `weight` (1s) and `bias` (0s); buffers
/// `running_mean` (0s), `running_var` (1s) and `num_batches_tracked` (a scalar 0).
/// Its forward pass always uses the running statistics,
/// `y = (x - running_mean) / sqrt(running_var + 1e-5) * weight + bias` per channel, and in
/// training mode counts the batch in `num_batches_tracked`.
#[derive(Debug, Module)]
pub struct TestNorm {
    #[param]
    pub weight: Var,
    #[param]
    pub bias: Var,
    #[buffer]
    pub running_mean: Var,
    #[buffer]
    pub running_var: Var,
    #[buffer(int64)]
    pub num_batches_tracked: Var,
    core: ModuleCore,
}

impl TestNorm {
    pub fn new(nf: usize) -> Result<Self> {
        let f = |v: f64, shape: &[usize]| Tensor::full(shape, v, DType::F32, Device::Cpu);
        Ok(TestNorm {
            weight: Var::parameter(f(1.0, &[nf])?),
            bias: Var::parameter(f(0.0, &[nf])?),
            running_mean: Var::constant(f(0.0, &[nf])?),
            running_var: Var::constant(f(1.0, &[nf])?),
            num_batches_tracked: Var::constant(f(0.0, &[])?),
            core: ModuleCore::default(),
        })
    }
}

impl Forward for TestNorm {
    fn forward(&self, x: &Var) -> Result<Var> {
        if self.is_training() {
            self.num_batches_tracked
                .update_value(|t| t.add_scalar(1.0).map(|n| *t = n))?;
        }
        let c = self.weight.shape()[0];
        let per_channel = |v: &Var| v.reshape(&[1, c, 1, 1]);
        let scale = per_channel(&self.running_var)?
            .add_scalar(1e-5)?
            .rsqrt()?
            .mul(&per_channel(&self.weight)?)?;
        x.sub(&per_channel(&self.running_mean)?)?
            .mul(&scale)?
            .add(&per_channel(&self.bias)?)
    }
}

pub fn test_norm() -> NormFactory {
    NormFactory::new(|nf| Ok(Box::new(TestNorm::new(nf)?) as Box<dyn Module>))
}

/// The lesson's model with the test norm in place of `BatchNorm2d`.
pub fn bn_model(seed: u64) -> layers::Sequential {
    layers::get_cnn_model(&NFS, &test_norm(), &mut rng(seed)).unwrap()
}

/// The lesson's model without norms.
pub fn plain_model(seed: u64) -> layers::Sequential {
    layers::get_cnn_model(&NFS, &NormFactory::none(), &mut rng(seed)).unwrap()
}

/// Gives every tensor of `model` distinct values (counters get whole numbers).
pub fn scramble(model: &dyn Module, seed: u64) {
    use layers::ModuleExt;
    let mut r = rng(seed);
    for (name, v) in model
        .named_parameters()
        .into_iter()
        .chain(model.named_buffers())
    {
        let t = v.value();
        let fresh = if name.ends_with("num_batches_tracked") {
            Tensor::full(&[], 469.0, t.dtype(), t.device()).unwrap()
        } else {
            Tensor::randn(t.shape(), 0.0, 1.0, t.dtype(), t.device(), &mut r).unwrap()
        };
        v.set_value(fresh);
    }
}

/// Bit-exact equality of two state dicts (names, order, shapes, dtypes, values).
pub fn assert_state_eq(a: &layers::StateDict, b: &layers::StateDict) {
    let na: Vec<_> = a.names().collect();
    let nb: Vec<_> = b.names().collect();
    assert_eq!(na, nb);
    for (n, t) in a.iter() {
        assert!(t.bit_eq(b.get(n).unwrap()), "{n} differs");
    }
}
