//! CUDA kernels of the normalisation family (`norm.cu`).
//!
//! * Statistics: `norm_partial_sums` (each group split over several blocks), then for
//!   variances `norm_partial_sq` (squared deviations from the group mean, a second pass as
//!   on the CPU), then `norm_finish_*` (one thread per group sums the partials in order).
//! * `norm_apply`: one flat elementwise pass.
//! * Backward: per-row sums of `dy` and `dy xhat` (`norm_row_sums_*`, a block per row for
//!   long rows, a thread per row for short ones), the affine gradients and the per-group
//!   coefficients `A`, `B` from them (one thread per channel / group, rows in order), then
//!   one flat pass for `dx`.
//!
//! Every sum is in `f64`; all intermediate buffers are allocated from the stream-ordered
//! pool; nothing waits for the GPU.
//!
//! A ReLU input ([`NormInput::Relu`]) is composed here from the elementwise `relu` (and
//! `ReluGrad` for the input gradient) and the identity-input kernels: the same values as
//! the CPU's fused loops, without their saving of a pass.

use super::{
    NormGeometry, NormGrads, NormInput, NormLayout, NormOps, NormStats, StatGrad, Variance,
};
use crate::cuda::{
    elementwise_config, i64_of, rows_config, slice_ptr, Arg, CudaBackend, Family, KernelSource,
};
use crate::storage::Storage;
use crate::{BinaryOp, DType, Result, Tensor};

pub(crate) static KERNELS: KernelSource = KernelSource {
    family: Family::Norm,
    name: "norm",
    source: include_str!("norm.cu"),
    entries: &[
        "norm_partial_sums",
        "norm_partial_sq",
        "norm_finish_stats",
        "norm_finish_sums",
        "norm_apply",
        "norm_row_sums_block",
        "norm_row_sums_thread",
        "norm_affine_grads",
        "norm_coefficients",
        "norm_dx",
    ],
};

/// Elements per block aimed at when a statistic group is split across blocks.
const ELEMENTS_PER_BLOCK: usize = 4096;
/// Upper bound on the blocks of a statistics launch (before the grid-stride loop).
const STAT_BLOCKS: usize = 1024;
/// Rows shorter than this are summed by one thread each in the backward pass.
const SHORT_ROW: usize = 64;

/// `NormGeom` of `norm.cu` for geometry `g` with an affine of `affine` elements.
fn geom(g: &NormGeometry, affine: usize) -> Arg {
    let (per_group, cpg) = match g.layout() {
        NormLayout::PerChannel => (0, 1),
        NormLayout::PerGroup { groups } => (1, g.channels() / groups),
    };
    let v = [
        g.batch(),
        g.channels(),
        g.spatial(),
        per_group,
        cpg,
        g.stat_count(),
        g.group_len(),
        affine,
        0,
    ];
    Arg::I64x9(v.map(|d| d as i64))
}

/// Blocks per statistic group: enough that few groups still fill the GPU.
fn splits(g: &NormGeometry) -> usize {
    let wanted = g.group_len().div_ceil(ELEMENTS_PER_BLOCK);
    let room = (STAT_BLOCKS / g.stat_count()).max(1);
    wanted.clamp(1, room)
}

impl CudaBackend {
    /// Partial sums (and sums of squares) of every chunk of every group, `f64`.
    fn partial_sums(
        &self,
        g: &NormGeometry,
        dtype: DType,
        x: u64,
        squares: bool,
    ) -> Result<(
        usize,
        cudarc::driver::CudaSlice<f64>,
        cudarc::driver::CudaSlice<f64>,
    )> {
        let sp = splits(g);
        let blocks = g.stat_count() * sp;
        let ps = self.scratch_f64(blocks)?;
        let pq = self.scratch_f64(blocks)?;
        let args = [
            geom(g, 1),
            i64_of(sp),
            Arg::I32(squares as i32),
            Arg::Ptr(x),
            Arg::Ptr(slice_ptr(self, &ps)),
            Arg::Ptr(slice_ptr(self, &pq)),
        ];
        self.launch(
            &KERNELS,
            "norm_partial_sums",
            dtype,
            rows_config(blocks),
            &args,
        )?;
        Ok((sp, ps, pq))
    }
}

impl NormOps for CudaBackend {
    fn norm_stats(
        &self,
        g: &NormGeometry,
        x: &Tensor,
        variance: Variance,
        eps: f64,
    ) -> Result<NormStats> {
        if g.input() == NormInput::Relu {
            return self.norm_stats(&g.with_identity_input(), &x.relu()?, variance, eps);
        }
        let sx = self.storage_of("norm_stats", x)?;
        let dtype = sx.dtype();
        let (sp, ps, pq) = self.partial_sums(g, dtype, sx.ptr(), false)?;
        let blocks = g.stat_count() * sp;
        let args = [
            geom(g, 1),
            i64_of(sp),
            Arg::Ptr(sx.ptr()),
            Arg::Ptr(slice_ptr(self, &ps)),
            Arg::Ptr(slice_ptr(self, &pq)),
        ];
        self.launch(
            &KERNELS,
            "norm_partial_sq",
            dtype,
            rows_config(blocks),
            &args,
        )?;
        let k = g.stat_count();
        let (mean, var, invstd) = (
            self.alloc(dtype, k)?,
            self.alloc(dtype, k)?,
            self.alloc(dtype, k)?,
        );
        let args = [
            geom(g, 1),
            i64_of(sp),
            Arg::Ptr(slice_ptr(self, &ps)),
            Arg::Ptr(slice_ptr(self, &pq)),
            Arg::F64(variance.divisor(g.group_len())),
            Arg::F64(eps),
            Arg::Ptr(mean.ptr()),
            Arg::Ptr(var.ptr()),
            Arg::Ptr(invstd.ptr()),
        ];
        self.launch(
            &KERNELS,
            "norm_finish_stats",
            dtype,
            elementwise_config(k),
            &args,
        )?;
        let shape = g.stat_shape();
        Ok(NormStats {
            mean: Tensor::from_storage(Storage::Cuda(mean), shape.clone()),
            var: Tensor::from_storage(Storage::Cuda(var), shape.clone()),
            invstd: Tensor::from_storage(Storage::Cuda(invstd), shape),
        })
    }

    fn norm_power_sums(&self, g: &NormGeometry, x: &Tensor) -> Result<(Tensor, Tensor)> {
        if g.input() == NormInput::Relu {
            return self.norm_power_sums(&g.with_identity_input(), &x.relu()?);
        }
        let sx = self.storage_of("norm_power_sums", x)?;
        let dtype = sx.dtype();
        let (sp, ps, pq) = self.partial_sums(g, dtype, sx.ptr(), true)?;
        let k = g.stat_count();
        let (sum, sumsq) = (self.alloc(dtype, k)?, self.alloc(dtype, k)?);
        let args = [
            geom(g, 1),
            i64_of(sp),
            Arg::Ptr(slice_ptr(self, &ps)),
            Arg::Ptr(slice_ptr(self, &pq)),
            Arg::Ptr(sum.ptr()),
            Arg::Ptr(sumsq.ptr()),
        ];
        self.launch(
            &KERNELS,
            "norm_finish_sums",
            dtype,
            elementwise_config(k),
            &args,
        )?;
        let shape = g.stat_shape();
        Ok((
            Tensor::from_storage(Storage::Cuda(sum), shape.clone()),
            Tensor::from_storage(Storage::Cuda(sumsq), shape),
        ))
    }

    fn norm_apply(
        &self,
        g: &NormGeometry,
        x: &Tensor,
        mean: &Tensor,
        invstd: &Tensor,
        scale: &Tensor,
        shift: &Tensor,
    ) -> Result<Tensor> {
        const OP: &str = "norm_apply";
        if g.input() == NormInput::Relu {
            let plain = g.with_identity_input();
            return self.norm_apply(&plain, &x.relu()?, mean, invstd, scale, shift);
        }
        let sx = self.storage_of(OP, x)?;
        let (_, sm) = self.pair_of(OP, x, mean)?;
        let (_, si) = self.pair_of(OP, x, invstd)?;
        let (ss, sh) = self.pair_of(OP, scale, shift)?;
        self.pair_of(OP, x, scale)?;
        let dtype = sx.dtype();
        let y = self.alloc(dtype, g.numel())?;
        let args = [
            geom(g, ss.len()),
            Arg::Ptr(sx.ptr()),
            Arg::Ptr(sm.ptr()),
            Arg::Ptr(si.ptr()),
            Arg::Ptr(ss.ptr()),
            Arg::Ptr(sh.ptr()),
            Arg::Ptr(y.ptr()),
        ];
        self.launch(
            &KERNELS,
            "norm_apply",
            dtype,
            elementwise_config(g.numel()),
            &args,
        )?;
        Ok(Tensor::from_storage(Storage::Cuda(y), x.shape()))
    }

    fn norm_backward(
        &self,
        g: &NormGeometry,
        x: &Tensor,
        dy: &Tensor,
        mean: &Tensor,
        invstd: &Tensor,
        scale: &Tensor,
        grad: StatGrad<'_>,
    ) -> Result<NormGrads> {
        const OP: &str = "norm_backward";
        if g.input() == NormInput::Relu {
            let plain = g.with_identity_input();
            let mut grads =
                self.norm_backward(&plain, &x.relu()?, dy, mean, invstd, scale, grad)?;
            grads.dx = x.binary(BinaryOp::ReluGrad, &grads.dx)?;
            return Ok(grads);
        }
        let (sx, sdy) = self.pair_of(OP, x, dy)?;
        let (_, sm) = self.pair_of(OP, x, mean)?;
        let (_, si) = self.pair_of(OP, x, invstd)?;
        let (_, ss) = self.pair_of(OP, x, scale)?;
        let dtype = sx.dtype();
        let (rows, k, affine) = (g.rows(), g.stat_count(), ss.len());

        // Per-row sums of dy and dy * xhat.
        let a = self.scratch_f64(rows)?;
        let b = self.scratch_f64(rows)?;
        let (a_ptr, b_ptr) = (slice_ptr(self, &a), slice_ptr(self, &b));
        let args = [
            geom(g, affine),
            Arg::Ptr(sx.ptr()),
            Arg::Ptr(sdy.ptr()),
            Arg::Ptr(sm.ptr()),
            Arg::Ptr(si.ptr()),
            Arg::Ptr(a_ptr),
            Arg::Ptr(b_ptr),
        ];
        if g.spatial() < SHORT_ROW {
            self.launch(
                &KERNELS,
                "norm_row_sums_thread",
                dtype,
                elementwise_config(rows),
                &args,
            )?;
        } else {
            self.launch(
                &KERNELS,
                "norm_row_sums_block",
                dtype,
                rows_config(rows),
                &args,
            )?;
        }

        // Affine gradients.
        let (dscale, dshift) = (self.alloc(dtype, affine)?, self.alloc(dtype, affine)?);
        let args = [
            geom(g, affine),
            Arg::Ptr(a_ptr),
            Arg::Ptr(b_ptr),
            Arg::Ptr(dscale.ptr()),
            Arg::Ptr(dshift.ptr()),
        ];
        self.launch(
            &KERNELS,
            "norm_affine_grads",
            dtype,
            elementwise_config(affine),
            &args,
        )?;

        // Per-group coefficients of dx.
        let (mode, divisor, share, live) = match grad {
            StatGrad::Detached => (0, 1.0, 0.0, None),
            StatGrad::Batch(v) => (1, v.divisor(g.group_len()), 0.0, None),
            StatGrad::Running { share, var_live } => (2, 1.0, share, var_live),
        };
        let live_ptr = match live {
            Some(l) => Some(self.pair_of(OP, x, l)?.1.ptr()),
            None => None,
        };
        let (ca, cb) = (self.alloc(dtype, k)?, self.alloc(dtype, k)?);
        let args = [
            geom(g, affine),
            Arg::I32(mode),
            Arg::F64(divisor),
            Arg::F64(share),
            Arg::Ptr(si.ptr()),
            Arg::Ptr(ss.ptr()),
            Arg::I32(live_ptr.is_some() as i32),
            // Never read without `has_live`; any valid address will do.
            Arg::Ptr(live_ptr.unwrap_or(si.ptr())),
            Arg::Ptr(a_ptr),
            Arg::Ptr(b_ptr),
            Arg::Ptr(ca.ptr()),
            Arg::Ptr(cb.ptr()),
        ];
        self.launch(
            &KERNELS,
            "norm_coefficients",
            dtype,
            elementwise_config(k),
            &args,
        )?;

        // dx.
        let dx = self.alloc(dtype, g.numel())?;
        let args = [
            geom(g, affine),
            Arg::I32(matches!(grad, StatGrad::Detached) as i32),
            Arg::Ptr(sx.ptr()),
            Arg::Ptr(sdy.ptr()),
            Arg::Ptr(sm.ptr()),
            Arg::Ptr(si.ptr()),
            Arg::Ptr(ss.ptr()),
            Arg::Ptr(ca.ptr()),
            Arg::Ptr(cb.ptr()),
            Arg::Ptr(dx.ptr()),
        ];
        self.launch(
            &KERNELS,
            "norm_dx",
            dtype,
            elementwise_config(g.numel()),
            &args,
        )?;
        Ok(NormGrads {
            dx: Tensor::from_storage(Storage::Cuda(dx), x.shape()),
            dscale: Tensor::from_storage(Storage::Cuda(dscale), scale.shape()),
            dshift: Tensor::from_storage(Storage::Cuda(dshift), scale.shape()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_large_groups_are_split_and_many_small_ones_are_not() {
        let bn = NormGeometry::new("t", &[512, 8, 28, 28], NormLayout::PerChannel).unwrap();
        let s = splits(&bn);
        assert!(s > 1 && bn.stat_count() * s <= STAT_BLOCKS);
        let gn =
            NormGeometry::new("t", &[512, 32, 4, 4], NormLayout::PerGroup { groups: 32 }).unwrap();
        assert_eq!(splits(&gn), 1);
    }
}
