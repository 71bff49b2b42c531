//! CUDA kernels of the reduction family (`reduce.cu`).
//!
//! The reduced axes are brought into the middle of an `[outer, red, inner]` view — as they
//! are when they form one block of consecutive axes, else by a permute that moves them to
//! the end (one copy). Then:
//! * `inner == 1` runs `reduce_rows`, one block per output row (block-wide tree reduction);
//! * otherwise `reduce_cols`, one thread per output looping over `red` with coalesced
//!   reads across `inner`. When there are few outputs but long reductions (a sum over the
//!   batch of a small `[N, C]` tensor), the reduced axes are moved last instead so that the
//!   rows kernel spreads each reduction over a block.

use super::{ReduceOp, ReduceOps};
use crate::cuda::{
    elementwise_config, i64_of, rows_config, Arg, CudaBackend, Family, KernelSource,
};
use crate::shape::{numel, reduced_shape};
use crate::storage::Storage;
use crate::{Result, Tensor};

pub(crate) static KERNELS: KernelSource = KernelSource {
    family: Family::Reduce,
    name: "reduce",
    source: include_str!("reduce.cu"),
    entries: &["reduce_rows", "reduce_cols", "argmax"],
};

/// Below this many outputs a strided reduction of at least [`LONG_REDUCTION`] elements is
/// moved to the rows kernel.
const FEW_OUTPUTS: usize = 2048;
const LONG_REDUCTION: usize = 256;

fn reduce_code(op: ReduceOp) -> i32 {
    match op {
        ReduceOp::Sum => 0,
        ReduceOp::Mean => 1,
        ReduceOp::Max => 2,
        ReduceOp::Min => 3,
        ReduceOp::Var { unbiased: false } => 4,
        ReduceOp::Var { unbiased: true } => 5,
    }
}

/// `(outer, red, inner)` when `axes` (sorted, non-empty) are consecutive.
fn as_three_blocks(shape: &[usize], axes: &[usize]) -> Option<(usize, usize, usize)> {
    let (first, last) = (axes[0], axes[axes.len() - 1]);
    (last - first + 1 == axes.len()).then(|| {
        (
            numel(&shape[..first]),
            numel(&shape[first..=last]),
            numel(&shape[last + 1..]),
        )
    })
}

impl ReduceOps for CudaBackend {
    fn reduce(&self, op: ReduceOp, x: &Tensor, axes: &[usize]) -> Result<Tensor> {
        if axes.is_empty() {
            return Ok(x.clone());
        }
        let sx = self.storage_of("reduce", x)?;
        let dtype = sx.dtype();
        let out_shape = reduced_shape(x.shape(), axes, true);
        let n_out = numel(&out_shape);
        let red: usize = axes.iter().map(|&a| x.shape()[a]).product();
        if n_out == 0 || red == 0 {
            // Only a sum may reduce an empty axis (the caller checks): it is 0.
            let value = if op == ReduceOp::Sum { 0.0 } else { f64::NAN };
            return Tensor::full(&out_shape, value, dtype, x.device());
        }
        let blocks = as_three_blocks(x.shape(), axes).filter(|&(outer, red, inner)| {
            inner == 1 || outer * inner >= FEW_OUTPUTS || red < LONG_REDUCTION
        });
        let (source, outer, inner) = match blocks {
            Some((outer, _, inner)) => (x.clone(), outer, inner),
            None => {
                let kept = (0..x.rank()).filter(|a| !axes.contains(a));
                let order: Vec<usize> = kept.chain(axes.iter().copied()).collect();
                (x.permute(&order)?, n_out, 1)
            }
        };
        let src = self.storage_of("reduce", &source)?;
        let out = self.alloc(dtype, n_out)?;
        let code = Arg::I32(reduce_code(op));
        if inner == 1 {
            let args = [
                i64_of(outer),
                i64_of(red),
                code,
                Arg::Ptr(src.ptr()),
                Arg::Ptr(out.ptr()),
            ];
            self.launch(&KERNELS, "reduce_rows", dtype, rows_config(outer), &args)?;
        } else {
            let args = [
                i64_of(outer),
                i64_of(red),
                i64_of(inner),
                code,
                Arg::Ptr(src.ptr()),
                Arg::Ptr(out.ptr()),
            ];
            self.launch(
                &KERNELS,
                "reduce_cols",
                dtype,
                elementwise_config(outer * inner),
                &args,
            )?;
        }
        Ok(Tensor::from_storage(Storage::Cuda(out), out_shape))
    }

    fn argmax(&self, x: &Tensor, axis: usize) -> Result<Tensor> {
        let sx = self.storage_of("argmax", x)?;
        let out_shape = reduced_shape(x.shape(), &[axis], true);
        let (outer, red, inner) = (
            numel(&x.shape()[..axis]),
            x.shape()[axis],
            numel(&x.shape()[axis + 1..]),
        );
        let n_out = outer * inner;
        let out = self.alloc(sx.dtype(), n_out)?;
        if n_out > 0 {
            let args = [
                i64_of(outer),
                i64_of(red),
                i64_of(inner),
                Arg::Ptr(sx.ptr()),
                Arg::Ptr(out.ptr()),
            ];
            self.launch(
                &KERNELS,
                "argmax",
                sx.dtype(),
                elementwise_config(n_out),
                &args,
            )?;
        }
        Ok(Tensor::from_storage(Storage::Cuda(out), out_shape))
    }
}
