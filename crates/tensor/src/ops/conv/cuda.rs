//! Convolutions on a GPU: cuDNN for the forward pass and both backward passes (plans and
//! algorithms chosen once per geometry, see `cuda/dnn.rs`), our own kernels for the bias
//! passes (`conv.cu`), and — when cuDNN is missing, disabled (`TENSOR_CUDA_CONV=im2col`)
//! or has no acceptable algorithm — an im2col + cuBLAS path:
//!
//! * forward: `cols = im2col(x)` (`K x nb·P`, `K = c_in·k_h·k_w`, `P = h_out·w_out`),
//!   `Yt = W · cols` (`c_out x nb·P`), then `Yt` is permuted into NCHW;
//! * input gradient: `dYt` = `dy` permuted to `c_out x nb·P`, `dcols = Wᵀ · dYt`,
//!   `dx = col2im(dcols)` (a gather: one thread per input pixel);
//! * weight gradient: `dW += dYt · colsᵀ`, accumulated over chunks by the GEMM's `beta`.
//!
//! The batch is cut into chunks of `nb` samples whose column matrix has at most
//! [`COLS_BUDGET`] elements; all scratch is allocated once per call and reused per chunk.

use super::{Conv2dGeometry, ConvOps};
use crate::cuda::{
    elementwise_config, i64_of, rows_config, Arg, CudaBackend, Family, KernelSource, Pass,
    RowMajorGemm,
};
use crate::storage::Storage;
use crate::{DType, Result, Tensor, TensorError};

pub(crate) static KERNELS: KernelSource = KernelSource {
    family: Family::Conv,
    name: "conv",
    source: include_str!("conv.cu"),
    entries: &["im2col", "col2im", "bias_add", "bias_grad"],
};

/// Largest column matrix (elements) the im2col path builds at once.
const COLS_BUDGET: usize = 1 << 25;

/// `ConvGeom` of `conv.cu`.
fn geom(g: &Conv2dGeometry) -> Arg {
    let v = [
        g.c_in, g.h_in, g.w_in, g.k_h, g.k_w, g.stride, g.padding, g.h_out, g.w_out,
    ];
    Arg::I64x9(v.map(|d| d as i64))
}

/// Samples per chunk of the im2col path.
fn chunk(g: &Conv2dGeometry) -> usize {
    let per_sample = (g.patch_len() * g.h_out * g.w_out).max(1);
    (COLS_BUDGET / per_sample).clamp(1, g.batch.max(1))
}

/// `base + elements * size_of(dtype)`.
fn offset(base: u64, elements: usize, dtype: DType) -> u64 {
    base + (elements * dtype.size_in_bytes()) as u64
}

impl CudaBackend {
    /// `cols = im2col(x[n0 .. n0 + nb])` in the KNP layout.
    fn im2col(
        &self,
        g: &Conv2dGeometry,
        dtype: DType,
        x: u64,
        n0: usize,
        nb: usize,
        cols: u64,
    ) -> Result<()> {
        let n = g.patch_len() * nb * g.h_out * g.w_out;
        let x0 = offset(x, n0 * g.c_in * g.h_in * g.w_in, dtype);
        let args = [geom(g), i64_of(nb), Arg::Ptr(x0), Arg::Ptr(cols)];
        self.launch(&KERNELS, "im2col", dtype, elementwise_config(n), &args)
    }

    /// `dyt[c, n, p] = dy[n0 + n, c, p]`: the chunk's output gradient as `c_out x nb·P`.
    fn gradient_rows(
        &self,
        g: &Conv2dGeometry,
        dtype: DType,
        dy: u64,
        n0: usize,
        nb: usize,
        dyt: u64,
    ) -> Result<()> {
        let p = g.h_out * g.w_out;
        let src = offset(dy, n0 * g.c_out * p, dtype);
        let strides = [p, g.c_out * p, 1];
        self.strided_copy(
            "conv2d",
            dtype,
            src,
            nb * g.c_out * p,
            &[g.c_out, nb, p],
            &strides,
            dyt,
        )
    }

    fn im2col_forward(
        &self,
        g: &Conv2dGeometry,
        dtype: DType,
        x: u64,
        w: u64,
        y: u64,
    ) -> Result<()> {
        let (k, p, nb) = (g.patch_len(), g.h_out * g.w_out, chunk(g));
        let cols = self.alloc(dtype, k * nb * p)?;
        let yt = self.alloc(dtype, g.c_out * nb * p)?;
        for n0 in (0..g.batch).step_by(nb) {
            let b = nb.min(g.batch - n0);
            self.im2col(g, dtype, x, n0, b, cols.ptr())?;
            let gemm = RowMajorGemm {
                batch: 1,
                m: g.c_out,
                n: b * p,
                k,
                trans_a: false,
                trans_b: false,
                stride_a: 0,
                stride_b: 0,
                stride_c: 0,
                alpha: 1.0,
                beta: 0.0,
            };
            self.gemm("conv2d", dtype, &gemm, w, cols.ptr(), yt.ptr())?;
            // y[n0 + n, c, p] = yt[c, n * P + p]
            let out = offset(y, n0 * g.c_out * p, dtype);
            self.strided_copy(
                "conv2d",
                dtype,
                yt.ptr(),
                g.c_out * b * p,
                &[b, g.c_out, p],
                &[p, b * p, 1],
                out,
            )?;
        }
        Ok(())
    }

    fn im2col_backward_input(
        &self,
        g: &Conv2dGeometry,
        dtype: DType,
        dy: u64,
        w: u64,
        dx: u64,
    ) -> Result<()> {
        let (k, p, nb) = (g.patch_len(), g.h_out * g.w_out, chunk(g));
        let dyt = self.alloc(dtype, g.c_out * nb * p)?;
        let dcols = self.alloc(dtype, k * nb * p)?;
        let image = g.c_in * g.h_in * g.w_in;
        for n0 in (0..g.batch).step_by(nb) {
            let b = nb.min(g.batch - n0);
            self.gradient_rows(g, dtype, dy, n0, b, dyt.ptr())?;
            let gemm = RowMajorGemm {
                batch: 1,
                m: k,
                n: b * p,
                k: g.c_out,
                trans_a: true,
                trans_b: false,
                stride_a: 0,
                stride_b: 0,
                stride_c: 0,
                alpha: 1.0,
                beta: 0.0,
            };
            self.gemm(
                "conv2d_backward_input",
                dtype,
                &gemm,
                w,
                dyt.ptr(),
                dcols.ptr(),
            )?;
            let out = offset(dx, n0 * image, dtype);
            let args = [geom(g), i64_of(b), Arg::Ptr(dcols.ptr()), Arg::Ptr(out)];
            self.launch(
                &KERNELS,
                "col2im",
                dtype,
                elementwise_config(b * image),
                &args,
            )?;
        }
        Ok(())
    }

    fn im2col_backward_weight(
        &self,
        g: &Conv2dGeometry,
        dtype: DType,
        dy: u64,
        x: u64,
        dw: u64,
    ) -> Result<()> {
        let (k, p, nb) = (g.patch_len(), g.h_out * g.w_out, chunk(g));
        let cols = self.alloc(dtype, k * nb * p)?;
        let dyt = self.alloc(dtype, g.c_out * nb * p)?;
        for (i, n0) in (0..g.batch).step_by(nb).enumerate() {
            let b = nb.min(g.batch - n0);
            self.im2col(g, dtype, x, n0, b, cols.ptr())?;
            self.gradient_rows(g, dtype, dy, n0, b, dyt.ptr())?;
            let gemm = RowMajorGemm {
                batch: 1,
                m: g.c_out,
                n: k,
                k: b * p,
                trans_a: false,
                trans_b: true,
                stride_a: 0,
                stride_b: 0,
                stride_c: 0,
                alpha: 1.0,
                beta: if i == 0 { 0.0 } else { 1.0 },
            };
            self.gemm(
                "conv2d_backward_weight",
                dtype,
                &gemm,
                dyt.ptr(),
                cols.ptr(),
                dw,
            )?;
        }
        Ok(())
    }

    /// Runs `pass` on cuDNN when it is on and has an algorithm; `false` otherwise.
    fn try_dnn(
        &self,
        pass: Pass,
        g: &Conv2dGeometry,
        dtype: DType,
        in0: u64,
        in1: u64,
        out: u64,
    ) -> Result<bool> {
        match &self.dnn {
            Some(d) => d.run(self, pass, g, dtype, in0, in1, out),
            None => Ok(false),
        }
    }
}

impl ConvOps for CudaBackend {
    fn conv2d(
        &self,
        g: &Conv2dGeometry,
        x: &Tensor,
        w: &Tensor,
        bias: Option<&Tensor>,
    ) -> Result<Tensor> {
        let (sx, sw) = self.pair_of("conv2d", x, w)?;
        let dtype = sx.dtype();
        let sb = bias
            .map(|b| self.pair_of("conv2d", x, b).map(|p| p.1))
            .transpose()?;
        if let Some(b) = sb {
            if b.len() != g.c_out {
                return Err(TensorError::InvalidShape {
                    op: "conv2d",
                    reason: format!("bias of {} elements for {} channels", b.len(), g.c_out),
                });
            }
        }
        let y = self.alloc(dtype, g.output_len())?;
        if !self.try_dnn(Pass::Forward, g, dtype, sx.ptr(), sw.ptr(), y.ptr())? {
            self.im2col_forward(g, dtype, sx.ptr(), sw.ptr(), y.ptr())?;
        }
        if let Some(b) = sb {
            let p = g.h_out * g.w_out;
            let args = [
                i64_of(g.batch),
                i64_of(g.c_out),
                i64_of(p),
                Arg::Ptr(b.ptr()),
                Arg::Ptr(y.ptr()),
            ];
            self.launch(
                &KERNELS,
                "bias_add",
                dtype,
                elementwise_config(g.output_len()),
                &args,
            )?;
        }
        Ok(Tensor::from_storage(
            Storage::Cuda(y),
            vec![g.batch, g.c_out, g.h_out, g.w_out],
        ))
    }

    fn conv2d_backward_input(&self, g: &Conv2dGeometry, dy: &Tensor, w: &Tensor) -> Result<Tensor> {
        let (sdy, sw) = self.pair_of("conv2d_backward_input", dy, w)?;
        let dtype = sdy.dtype();
        let dx = self.alloc(dtype, g.input_len())?;
        if !self.try_dnn(Pass::BackwardData, g, dtype, sdy.ptr(), sw.ptr(), dx.ptr())? {
            self.im2col_backward_input(g, dtype, sdy.ptr(), sw.ptr(), dx.ptr())?;
        }
        Ok(Tensor::from_storage(
            Storage::Cuda(dx),
            vec![g.batch, g.c_in, g.h_in, g.w_in],
        ))
    }

    fn conv2d_backward_weight(
        &self,
        g: &Conv2dGeometry,
        dy: &Tensor,
        x: &Tensor,
    ) -> Result<Tensor> {
        let (sdy, sx) = self.pair_of("conv2d_backward_weight", dy, x)?;
        let dtype = sdy.dtype();
        let dw = self.alloc(dtype, g.weight_len())?;
        if !self.try_dnn(
            Pass::BackwardFilter,
            g,
            dtype,
            sx.ptr(),
            sdy.ptr(),
            dw.ptr(),
        )? {
            self.im2col_backward_weight(g, dtype, sdy.ptr(), sx.ptr(), dw.ptr())?;
        }
        Ok(Tensor::from_storage(
            Storage::Cuda(dw),
            vec![g.c_out, g.c_in, g.k_h, g.k_w],
        ))
    }

    fn conv2d_backward_bias(&self, g: &Conv2dGeometry, dy: &Tensor) -> Result<Tensor> {
        let sdy = self.storage_of("conv2d_backward_bias", dy)?;
        let db = self.alloc(sdy.dtype(), g.c_out)?;
        let p = g.h_out * g.w_out;
        let args = [
            i64_of(g.batch),
            i64_of(g.c_out),
            i64_of(p),
            Arg::Ptr(sdy.ptr()),
            Arg::Ptr(db.ptr()),
        ];
        self.launch(
            &KERNELS,
            "bias_grad",
            sdy.dtype(),
            rows_config(g.c_out),
            &args,
        )?;
        Ok(Tensor::from_storage(Storage::Cuda(db), vec![g.c_out]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geometry(batch: usize, c_in: usize, hw: usize, c_out: usize, k: usize) -> Conv2dGeometry {
        crate::ops::conv::conv2d_geometry(&[batch, c_in, hw, hw], &[c_out, c_in, k, k], 1, 0)
            .unwrap()
    }

    #[test]
    fn chunks_respect_the_budget_and_the_batch() {
        let small = geometry(3, 2, 5, 4, 3);
        assert_eq!(chunk(&small), 3);
        let big = geometry(1000, 64, 64, 8, 3);
        let nb = chunk(&big);
        assert!(nb >= 1 && nb * big.patch_len() * big.h_out * big.w_out <= COLS_BUDGET);
        let huge = geometry(2, 4096, 130, 1, 5);
        assert_eq!(chunk(&huge), 1);
    }
}
