//! CUDA kernels of the layout family (`layout.cu`).
//!
//! Permute and broadcast are one strided gather (`gather_strided`, reading the input
//! through [`Strided`] metadata). Row gathers upload their indices (a small host-to-device
//! copy, no synchronisation). The scatter-add of rows is made deterministic on the host:
//! the indices are sorted stably into a CSR list per target row, and one thread per output
//! element sums its sources in the original order — the same additions, in the same order,
//! as the CPU kernel, with no atomics.

use super::LayoutOps;
use crate::cuda::{
    elementwise_config, i64_of, slice_ptr, Arg, CudaBackend, CudaStorage, Family, KernelSource,
    Strided,
};
use crate::shape::{broadcast_strides, contiguous_strides, numel};
use crate::storage::Storage;
use crate::{DType, Result, Tensor};

pub(crate) static KERNELS: KernelSource = KernelSource {
    family: Family::Layout,
    name: "layout",
    source: include_str!("layout.cu"),
    entries: &["gather_strided", "gather_rows", "scatter_add_rows"],
};

impl CudaBackend {
    /// Enqueues `out[i] = src[offset(i)]` for the row-major index space of `out_shape`,
    /// `src` (an allocation of `src_len` elements at device address `src`) read with
    /// element `strides`; `out` is a device address with room for `numel(out_shape)`.
    pub(crate) fn strided_copy(
        &self,
        op: &'static str,
        dtype: DType,
        src: u64,
        src_len: usize,
        out_shape: &[usize],
        strides: &[usize],
        out: u64,
    ) -> Result<()> {
        let n = numel(out_shape);
        if n == 0 {
            return Ok(());
        }
        let m = Strided::new(op, out_shape, strides, None)?;
        debug_assert!(
            m.extent(0) <= src_len as i64,
            "{op}: strided read past the source"
        );
        let args = [
            i64_of(n),
            Arg::Strided(m),
            Arg::Ptr(src),
            i64_of(src_len),
            Arg::Ptr(out),
        ];
        self.launch(
            &KERNELS,
            "gather_strided",
            dtype,
            elementwise_config(n),
            &args,
        )
    }

    /// A new storage holding `x` read through `strides` in the index space of `out_shape`.
    fn gathered(
        &self,
        op: &'static str,
        x: &CudaStorage,
        out_shape: &[usize],
        strides: &[usize],
    ) -> Result<CudaStorage> {
        let out = self.alloc(x.dtype(), numel(out_shape))?;
        self.strided_copy(
            op,
            x.dtype(),
            x.ptr(),
            x.len(),
            out_shape,
            strides,
            out.ptr(),
        )?;
        Ok(out)
    }

    /// Copies host indices to the device as `i64`.
    pub(crate) fn upload_indices(
        &self,
        values: &[usize],
    ) -> Result<cudarc::driver::CudaSlice<i64>> {
        let v: Vec<i64> = values.iter().map(|&i| i as i64).collect();
        self.upload(&v)
    }
}

/// The CSR form of a scatter: distinct target rows in increasing order, `offsets` into
/// `sources` (source rows grouped by target, each group in its original order).
fn csr(indices: &[usize]) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let mut sources: Vec<usize> = (0..indices.len()).collect();
    sources.sort_by_key(|&r| indices[r]);
    let mut targets = Vec::new();
    let mut offsets = vec![0];
    for (k, &r) in sources.iter().enumerate() {
        if targets.last() != Some(&indices[r]) {
            if k > 0 {
                offsets.push(k);
            }
            targets.push(indices[r]);
        }
    }
    offsets.push(sources.len());
    if targets.is_empty() {
        offsets = vec![0];
    }
    (targets, offsets, sources)
}

impl LayoutOps for CudaBackend {
    fn permute(&self, x: &Tensor, axes: &[usize]) -> Result<Tensor> {
        let sx = self.storage_of("permute", x)?;
        let own = contiguous_strides(x.shape());
        let strides: Vec<usize> = axes.iter().map(|&a| own[a]).collect();
        let out_shape: Vec<usize> = axes.iter().map(|&a| x.shape()[a]).collect();
        let out = self.gathered("permute", sx, &out_shape, &strides)?;
        Ok(Tensor::from_storage(Storage::Cuda(out), out_shape))
    }

    fn broadcast_to(&self, x: &Tensor, shape: &[usize]) -> Result<Tensor> {
        let sx = self.storage_of("broadcast_to", x)?;
        let strides = broadcast_strides(x.shape(), shape);
        let out = self.gathered("broadcast_to", sx, shape, &strides)?;
        Ok(Tensor::from_storage(Storage::Cuda(out), shape))
    }

    fn index_select_rows(&self, x: &Tensor, indices: &[usize]) -> Result<Tensor> {
        let sx = self.storage_of("index_select_rows", x)?;
        let row_len = numel(&x.shape()[1..]);
        let mut shape = x.shape().to_vec();
        shape[0] = indices.len();
        let n = indices.len() * row_len;
        let out = self.alloc(sx.dtype(), n)?;
        if n > 0 {
            let idx = self.upload_indices(indices)?;
            let args = [
                i64_of(indices.len()),
                i64_of(row_len),
                Arg::Ptr(slice_ptr(self, &idx)),
                i64_of(x.shape()[0]),
                Arg::Ptr(sx.ptr()),
                Arg::Ptr(out.ptr()),
            ];
            self.launch(
                &KERNELS,
                "gather_rows",
                sx.dtype(),
                elementwise_config(n),
                &args,
            )?;
        }
        Ok(Tensor::from_storage(Storage::Cuda(out), shape))
    }

    fn index_add_rows(&self, src: &Tensor, indices: &[usize], rows: usize) -> Result<Tensor> {
        let ss = self.storage_of("index_add_rows", src)?;
        let row_len = numel(&src.shape()[1..]);
        let mut shape = src.shape().to_vec();
        shape[0] = rows;
        let out = self.alloc_zeros(ss.dtype(), rows * row_len)?;
        let (targets, offsets, sources) = csr(indices);
        let n = targets.len() * row_len;
        if n > 0 {
            let t = self.upload_indices(&targets)?;
            let o = self.upload_indices(&offsets)?;
            let s = self.upload_indices(&sources)?;
            let args = [
                i64_of(targets.len()),
                i64_of(row_len),
                Arg::Ptr(slice_ptr(self, &t)),
                Arg::Ptr(slice_ptr(self, &o)),
                Arg::Ptr(slice_ptr(self, &s)),
                i64_of(src.shape()[0]),
                i64_of(rows),
                Arg::Ptr(ss.ptr()),
                Arg::Ptr(out.ptr()),
            ];
            self.launch(
                &KERNELS,
                "scatter_add_rows",
                ss.dtype(),
                elementwise_config(n),
                &args,
            )?;
        }
        Ok(Tensor::from_storage(Storage::Cuda(out), shape))
    }
}

#[cfg(test)]
mod tests {
    use super::csr;

    #[test]
    fn csr_groups_sources_by_target_in_original_order() {
        let (t, o, s) = csr(&[3, 1, 3, 0, 1, 3]);
        assert_eq!(t, vec![0, 1, 3]);
        assert_eq!(o, vec![0, 1, 3, 6]);
        assert_eq!(s, vec![3, 1, 4, 0, 2, 5]);
    }

    #[test]
    fn csr_of_nothing_is_empty() {
        let (t, o, s) = csr(&[]);
        assert!(t.is_empty() && s.is_empty());
        assert_eq!(o, vec![0]);
    }
}
