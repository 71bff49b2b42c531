//! CUDA kernels of the loss family (`loss.cu`), one block per row of logits.
//!
//! The mean cross-entropy is two launches: per-row losses in `f64` scratch, then a
//! single-block sum (deterministic, no atomics). Class ids are not copied to the host to be
//! checked (that would synchronise every step): a kernel that meets an invalid id makes its
//! row NaN and sets the device error flag, which the next `to_host` turns into
//! [`crate::TensorError::InvalidArgument`].

use super::LossOps;
use crate::cuda::{
    i64_of, one_block, rows_config, slice_ptr, Arg, CudaBackend, Family, KernelSource,
};
use crate::storage::Storage;
use crate::{Result, Tensor, TensorError};

pub(crate) static KERNELS: KernelSource = KernelSource {
    family: Family::Loss,
    name: "loss",
    source: include_str!("loss.cu"),
    entries: &[
        "log_softmax",
        "log_softmax_backward",
        "cross_entropy_rows",
        "cross_entropy_mean",
        "cross_entropy_backward",
    ],
};

/// `(rows, classes)` of a 2-D tensor.
fn rows_cols(op: &'static str, t: &Tensor) -> Result<(usize, usize)> {
    match t.shape() {
        [n, c] => Ok((*n, *c)),
        other => Err(TensorError::InvalidShape {
            op,
            reason: format!("expected [N, C], got {other:?}"),
        }),
    }
}

impl LossOps for CudaBackend {
    fn log_softmax(&self, x: &Tensor) -> Result<Tensor> {
        let sx = self.storage_of("log_softmax", x)?;
        let (rows, c) = rows_cols("log_softmax", x)?;
        let out = self.alloc(sx.dtype(), rows * c)?;
        if rows * c > 0 {
            let args = [
                i64_of(rows),
                i64_of(c),
                Arg::Ptr(sx.ptr()),
                Arg::Ptr(out.ptr()),
            ];
            self.launch(
                &KERNELS,
                "log_softmax",
                sx.dtype(),
                rows_config(rows),
                &args,
            )?;
        }
        Ok(Tensor::from_storage(Storage::Cuda(out), x.shape()))
    }

    fn log_softmax_backward(&self, y: &Tensor, dy: &Tensor) -> Result<Tensor> {
        let (sy, sg) = self.pair_of("log_softmax_backward", y, dy)?;
        let (rows, c) = rows_cols("log_softmax_backward", y)?;
        let out = self.alloc(sy.dtype(), rows * c)?;
        if rows * c > 0 {
            let args = [
                i64_of(rows),
                i64_of(c),
                Arg::Ptr(sy.ptr()),
                Arg::Ptr(sg.ptr()),
                Arg::Ptr(out.ptr()),
            ];
            self.launch(
                &KERNELS,
                "log_softmax_backward",
                sy.dtype(),
                rows_config(rows),
                &args,
            )?;
        }
        Ok(Tensor::from_storage(Storage::Cuda(out), y.shape()))
    }

    fn cross_entropy(&self, logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
        let (sz, st) = self.pair_of("cross_entropy", logits, targets)?;
        let (rows, c) = rows_cols("cross_entropy", logits)?;
        let dtype = sz.dtype();
        let out = self.alloc(dtype, 1)?;
        let losses = self.scratch_f64(rows)?;
        let args = [
            i64_of(rows),
            i64_of(c),
            Arg::Ptr(sz.ptr()),
            Arg::Ptr(st.ptr()),
            Arg::Ptr(slice_ptr(self, &losses)),
            Arg::Ptr(self.flags_ptr()),
        ];
        self.launch(
            &KERNELS,
            "cross_entropy_rows",
            dtype,
            rows_config(rows),
            &args,
        )?;
        let args = [
            i64_of(rows),
            Arg::Ptr(slice_ptr(self, &losses)),
            Arg::Ptr(out.ptr()),
        ];
        self.launch(&KERNELS, "cross_entropy_mean", dtype, one_block(), &args)?;
        Ok(Tensor::from_storage(Storage::Cuda(out), vec![]))
    }

    fn cross_entropy_backward(
        &self,
        logits: &Tensor,
        targets: &Tensor,
        dloss: &Tensor,
    ) -> Result<Tensor> {
        let (sz, st) = self.pair_of("cross_entropy_backward", logits, targets)?;
        let (_, sd) = self.pair_of("cross_entropy_backward", logits, dloss)?;
        let (rows, c) = rows_cols("cross_entropy_backward", logits)?;
        let out = self.alloc(sz.dtype(), rows * c)?;
        let args = [
            i64_of(rows),
            i64_of(c),
            Arg::Ptr(sz.ptr()),
            Arg::Ptr(st.ptr()),
            Arg::Ptr(sd.ptr()),
            Arg::Ptr(out.ptr()),
            Arg::Ptr(self.flags_ptr()),
        ];
        self.launch(
            &KERNELS,
            "cross_entropy_backward",
            sz.dtype(),
            rows_config(rows),
            &args,
        )?;
        Ok(Tensor::from_storage(Storage::Cuda(out), logits.shape()))
    }
}
