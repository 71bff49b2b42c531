//! Shared cases for the criterion benchmarks in `benches/` (`cargo bench -p benches`).
//!
//! The shapes are those of fast.ai's 2019 BatchNorm lesson: the MNIST CNN
//! `conv(1,8,k5) conv(8,16) conv(16,32) conv(32,64) conv(64,64)` (stride 2, padding `k/2`),
//! then a pooled `Linear(64, 10)` head. Every case builds its operands once, from a fixed
//! seed, on the CPU in `f32`; the benchmark then times only the kernel calls.
//! `docs/benchmarks.md` holds the results beside PyTorch's for the same shapes.

use tensor::ops::conv::conv2d_geometry;
use tensor::{Conv2dGeometry, DType, Result, Tensor};

/// Batch sizes every per-batch benchmark runs at: training (512), a small batch (32) and
/// the overhead-bound extreme (2).
pub const BATCHES: [usize; 3] = [512, 32, 2];

/// Stride of every conv layer of the lesson's model.
pub const STRIDE: usize = 2;

/// One conv layer of the lesson's model, by the size of the map it reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvLayer {
    /// Short id used in benchmark names, e.g. `l1_1x8_k5`.
    pub id: &'static str,
    pub c_in: usize,
    pub c_out: usize,
    /// Square kernel size; padding is `k / 2`.
    pub k: usize,
    /// Square input map size (height = width).
    pub hw: usize,
}

impl ConvLayer {
    /// Padding of the layer (`k / 2`, as in the lesson's `conv_layer`).
    pub fn padding(&self) -> usize {
        self.k / 2
    }
}

/// The lesson's five conv layers on 28x28 MNIST input.
pub const LESSON_CONVS: [ConvLayer; 5] = [
    ConvLayer {
        id: "l1_1x8_k5",
        c_in: 1,
        c_out: 8,
        k: 5,
        hw: 28,
    },
    ConvLayer {
        id: "l2_8x16_k3",
        c_in: 8,
        c_out: 16,
        k: 3,
        hw: 14,
    },
    ConvLayer {
        id: "l3_16x32_k3",
        c_in: 16,
        c_out: 32,
        k: 3,
        hw: 7,
    },
    ConvLayer {
        id: "l4_32x64_k3",
        c_in: 32,
        c_out: 64,
        k: 3,
        hw: 4,
    },
    ConvLayer {
        id: "l5_64x64_k3",
        c_in: 64,
        c_out: 64,
        k: 3,
        hw: 2,
    },
];

/// A seeded standard-normal `f32` CPU tensor.
pub fn randn(shape: &[usize], seed: u64) -> Tensor {
    test_oracles::tensors::randn(shape, DType::F32, seed)
}

/// Operands of one conv layer at one batch size: input, weight, bias and an upstream
/// gradient of the output's shape.
#[derive(Clone, Debug)]
pub struct ConvCase {
    pub layer: ConvLayer,
    pub geometry: Conv2dGeometry,
    pub x: Tensor,
    pub w: Tensor,
    pub b: Tensor,
    pub dy: Tensor,
}

/// The four results of one forward + backward pass.
#[derive(Clone, Debug)]
pub struct ConvPass {
    pub y: Tensor,
    pub dx: Tensor,
    pub dw: Tensor,
    pub db: Tensor,
}

impl ConvCase {
    /// Builds the operands of `layer` at `batch` (seeded, so every run times the same data).
    pub fn new(layer: ConvLayer, batch: usize) -> Self {
        let x = randn(&[batch, layer.c_in, layer.hw, layer.hw], 1);
        let w = randn(&[layer.c_out, layer.c_in, layer.k, layer.k], 2);
        let b = randn(&[layer.c_out], 3);
        let geometry = conv2d_geometry(x.shape(), w.shape(), STRIDE, layer.padding())
            .expect("the lesson's conv shapes are valid");
        let dy = randn(&[batch, layer.c_out, geometry.h_out, geometry.w_out], 4);
        ConvCase {
            layer,
            geometry,
            x,
            w,
            b,
            dy,
        }
    }

    /// `y = conv2d(x, w, b)`.
    pub fn forward(&self) -> Result<Tensor> {
        self.x
            .conv2d(&self.w, Some(&self.b), STRIDE, self.layer.padding())
    }

    /// `dx` from the upstream gradient `dy`.
    pub fn backward_input(&self) -> Result<Tensor> {
        self.dy.conv2d_backward_input(&self.w, &self.geometry)
    }

    /// `dw` from the upstream gradient `dy`.
    pub fn backward_weight(&self) -> Result<Tensor> {
        self.dy.conv2d_backward_weight(&self.x, &self.geometry)
    }

    /// `db` from the upstream gradient `dy`.
    pub fn backward_bias(&self) -> Result<Tensor> {
        self.dy.conv2d_backward_bias(&self.geometry)
    }

    /// Forward, then the input, weight and bias gradients: one training step's work for
    /// the layer (what PyTorch does for `conv2d(x, w, b).backward(dy)`).
    pub fn forward_backward(&self) -> Result<ConvPass> {
        Ok(ConvPass {
            y: self.forward()?,
            dx: self.backward_input()?,
            dw: self.backward_weight()?,
            db: self.backward_bias()?,
        })
    }

    /// Forward, then only the weight and bias gradients: the work of a first layer, whose
    /// input (the data) needs no gradient: `(y, dw, db)`.
    pub fn forward_backward_params(&self) -> Result<(Tensor, Tensor, Tensor)> {
        Ok((
            self.forward()?,
            self.backward_weight()?,
            self.backward_bias()?,
        ))
    }

    /// Multiply-adds of the forward pass, counted as 2 flops each (the backward passes for
    /// input and weight cost the same again each).
    pub fn forward_flops(&self) -> u64 {
        let g = &self.geometry;
        (2 * g.batch * g.c_out * g.h_out * g.w_out * g.c_in * g.k_h * g.k_w) as u64
    }
}

/// Operands of the head `Linear(in_features, out_features)` at one batch size.
#[derive(Clone, Debug)]
pub struct LinearCase {
    /// `[batch, in]`.
    pub x: Tensor,
    /// `[out, in]`, PyTorch's layout.
    pub w: Tensor,
    /// `[out]`.
    pub b: Tensor,
    /// `[batch, out]`.
    pub dy: Tensor,
}

/// The four results of one linear forward + backward pass.
#[derive(Clone, Debug)]
pub struct LinearPass {
    pub y: Tensor,
    pub dx: Tensor,
    pub dw: Tensor,
    pub db: Tensor,
}

impl LinearCase {
    /// The lesson's head: `Linear(64, 10)`.
    pub fn head(batch: usize) -> Self {
        Self::new(batch, 64, 10)
    }

    /// `Linear(in_features, out_features)` at `batch`, seeded.
    pub fn new(batch: usize, in_features: usize, out_features: usize) -> Self {
        LinearCase {
            x: randn(&[batch, in_features], 11),
            w: randn(&[out_features, in_features], 12),
            b: randn(&[out_features], 13),
            dy: randn(&[batch, out_features], 14),
        }
    }

    /// `y = x wᵀ + b`.
    pub fn forward(&self) -> Result<Tensor> {
        self.x.matmul_t(&self.w, false, true)?.add(&self.b)
    }

    /// Forward, then `dx = dy w`, `dw = dyᵀ x` and `db = Σ_batch dy`.
    pub fn forward_backward(&self) -> Result<LinearPass> {
        Ok(LinearPass {
            y: self.forward()?,
            dx: self.dy.matmul(&self.w)?,
            dw: self.dy.matmul_t(&self.x, true, false)?,
            db: self.dy.sum(&[0], false)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lesson_convs_chain_into_each_other() {
        // Each layer reads the map the previous one writes, ending at 1x1.
        let mut hw = 28;
        let mut c = 1;
        for layer in LESSON_CONVS {
            assert_eq!((layer.hw, layer.c_in), (hw, c), "{}", layer.id);
            let case = ConvCase::new(layer, 2);
            hw = case.geometry.h_out;
            c = layer.c_out;
        }
        assert_eq!((hw, c), (1, 64));
    }

    #[test]
    fn conv_pass_shapes() {
        let case = ConvCase::new(LESSON_CONVS[1], 2);
        let pass = case.forward_backward().unwrap();
        assert_eq!(pass.y.shape(), &[2, 16, 7, 7]);
        assert_eq!(pass.dx.shape(), case.x.shape());
        assert_eq!(pass.dw.shape(), case.w.shape());
        assert_eq!(pass.db.shape(), &[16]);
        assert_eq!(case.forward_flops(), 2 * 2 * 16 * 49 * 8 * 9);
    }

    #[test]
    fn linear_pass_shapes() {
        let pass = LinearCase::head(3).forward_backward().unwrap();
        assert_eq!(pass.y.shape(), &[3, 10]);
        assert_eq!(pass.dx.shape(), &[3, 64]);
        assert_eq!(pass.dw.shape(), &[10, 64]);
        assert_eq!(pass.db.shape(), &[10]);
    }
}
