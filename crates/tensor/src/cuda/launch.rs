//! Launching our kernels: argument lists, launch configurations, and the strided-operand
//! metadata ([`Strided`]) that broadcasting and permuting kernels index through.

use cudarc::driver::{DeviceRepr, LaunchConfig, PushKernelArg};

use super::kernels::KernelSource;
use super::CudaBackend;
use crate::{DType, Result, TensorError};

/// Threads per block of every launch (the kernels' `BLOCK`).
pub(crate) const BLOCK: u32 = 256;

/// Upper bound on blocks per launch; kernels loop over the rest (grid-stride loops).
const MAX_BLOCKS: u64 = 1 << 16;

/// Rank of the [`Strided`] metadata (the kernels' `MAX_RANK`).
pub(crate) const MAX_RANK: usize = 6;

/// Shape and element strides of up to two operands read through one row-major index space,
/// left-padded to [`MAX_RANK`] dims of size 1 and stride 0. Mirrors `struct Strided` in
/// `common.cuh`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Strided {
    pub shape: [i64; MAX_RANK],
    pub s0: [i64; MAX_RANK],
    pub s1: [i64; MAX_RANK],
}

// SAFETY: a plain `#[repr(C)]` struct of integers, laid out like the kernels' `Strided`.
unsafe impl DeviceRepr for Strided {}

impl Strided {
    /// Metadata for reading operands with element strides `s0` (and `s1`) through the
    /// row-major index space of `shape`. Adjacent dims that are contiguous in every operand
    /// are merged and size-1 dims dropped first; more than [`MAX_RANK`] dims left is an
    /// error.
    pub(crate) fn new(
        op: &'static str,
        shape: &[usize],
        s0: &[usize],
        s1: Option<&[usize]>,
    ) -> Result<Self> {
        let zeros = vec![0; shape.len()];
        let s1 = s1.unwrap_or(&zeros);
        debug_assert_eq!(s0.len(), shape.len());
        debug_assert_eq!(s1.len(), shape.len());
        // (size, stride0, stride1) from the innermost dim outwards, merged greedily.
        let mut dims: Vec<(usize, usize, usize)> = Vec::with_capacity(shape.len());
        for d in (0..shape.len()).rev() {
            if shape[d] == 1 {
                continue;
            }
            match dims.last_mut() {
                Some(inner) if s0[d] == inner.1 * inner.0 && s1[d] == inner.2 * inner.0 => {
                    inner.0 *= shape[d];
                }
                _ => dims.push((shape[d], s0[d], s1[d])),
            }
        }
        if dims.len() > MAX_RANK {
            return Err(TensorError::InvalidShape {
                op,
                reason: format!(
                    "the CUDA backend indexes at most {MAX_RANK} non-contiguous dimensions, shape {shape:?} needs {}",
                    dims.len()
                ),
            });
        }
        let mut m = Strided {
            shape: [1; MAX_RANK],
            s0: [0; MAX_RANK],
            s1: [0; MAX_RANK],
        };
        for (k, &(size, a, b)) in dims.iter().enumerate() {
            let slot = MAX_RANK - 1 - k;
            m.shape[slot] = size as i64;
            m.s0[slot] = a as i64;
            m.s1[slot] = b as i64;
        }
        Ok(m)
    }

    /// The largest offset operand `k` (0 or 1) is read at, plus one; 0 for an empty shape.
    pub(crate) fn extent(&self, k: usize) -> i64 {
        let s = if k == 0 { &self.s0 } else { &self.s1 };
        if self.shape.contains(&0) {
            return 0;
        }
        1 + self
            .shape
            .iter()
            .zip(s)
            .map(|(&d, &st)| (d - 1) * st)
            .sum::<i64>()
    }
}

/// One kernel argument; pointers are raw device addresses.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Arg {
    Ptr(u64),
    I64(i64),
    I32(i32),
    F64(f64),
    Strided(Strided),
    /// Nine `i64`s passed by value, laid out like a C struct of nine `long long`s
    /// (`ConvGeom` in `conv.cu`).
    I64x9([i64; 9]),
}

/// `size` as a kernel's `i64` argument.
pub(crate) fn i64_of(size: usize) -> Arg {
    Arg::I64(size as i64)
}

/// One thread per element for `n` elements, at most [`MAX_BLOCKS`] blocks.
pub(crate) fn elementwise_config(n: usize) -> LaunchConfig {
    blocks(n.div_ceil(BLOCK as usize))
}

/// One block per row for `rows` rows, at most [`MAX_BLOCKS`] blocks.
pub(crate) fn rows_config(rows: usize) -> LaunchConfig {
    blocks(rows)
}

/// A single block.
pub(crate) fn one_block() -> LaunchConfig {
    blocks(1)
}

fn blocks(count: usize) -> LaunchConfig {
    let grid = (count as u64).clamp(1, MAX_BLOCKS) as u32;
    LaunchConfig {
        grid_dim: (grid, 1, 1),
        block_dim: (BLOCK, 1, 1),
        shared_mem_bytes: 0,
    }
}

impl CudaBackend {
    /// Enqueues `<base>_<dtype>` of `src` on this device's stream with `args`.
    ///
    /// The caller guarantees that the arguments match the kernel's parameter list and that
    /// every pointer addresses a live allocation of this device large enough for what the
    /// kernel touches given the sizes passed (the kernels bound every access by them).
    pub(crate) fn launch(
        &self,
        src: &'static KernelSource,
        base: &'static str,
        dtype: DType,
        cfg: LaunchConfig,
        args: &[Arg],
    ) -> Result<()> {
        debug_assert!(cfg.block_dim.0 == BLOCK && cfg.grid_dim.0 >= 1);
        let f = self.kernels.function(&self.ctx, src, base, dtype)?;
        let stream = self.stream();
        let mut builder = stream.launch_builder(f);
        for a in args {
            match a {
                Arg::Ptr(v) => builder.arg(v),
                Arg::I64(v) => builder.arg(v),
                Arg::I32(v) => builder.arg(v),
                Arg::F64(v) => builder.arg(v),
                Arg::Strided(v) => builder.arg(v),
                Arg::I64x9(v) => builder.arg(v),
            };
        }
        // SAFETY: see the contract above; the argument values live in `args` until the
        // launch call returns (the driver copies them at launch).
        unsafe { builder.launch(cfg) }
            .map(|_| ())
            .map_err(|e| super::error::cuda_error(self.ordinal(), base, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_dims_merge_into_one() {
        let m = Strided::new("t", &[2, 3, 4], &[12, 4, 1], Some(&[12, 4, 1])).unwrap();
        assert_eq!(m.shape, [1, 1, 1, 1, 1, 24]);
        assert_eq!(m.s0[5], 1);
        assert_eq!(m.extent(0), 24);
    }

    #[test]
    fn broadcast_dims_keep_zero_strides() {
        // [2, 3, 4] + [3, 1]: b has strides [0, 1, 0].
        let m = Strided::new("t", &[2, 3, 4], &[12, 4, 1], Some(&[0, 1, 0])).unwrap();
        assert_eq!(&m.shape[3..], &[2, 3, 4]);
        assert_eq!(&m.s1[3..], &[0, 1, 0]);
        assert_eq!(m.extent(1), 3);
        assert_eq!(m.extent(0), 24);
    }

    #[test]
    fn scalar_broadcast_collapses_to_rank_one() {
        let m = Strided::new("t", &[5, 7], &[7, 1], Some(&[0, 0])).unwrap();
        assert_eq!(m.shape, [1, 1, 1, 1, 1, 35]);
        assert_eq!(m.s1[5], 0);
        assert_eq!(m.extent(1), 1);
    }

    #[test]
    fn permutation_strides_and_size_one_dims() {
        // Transpose of [3, 1, 5] to [5, 1, 3]: strides into the input [1, 5, 5].
        let m = Strided::new("t", &[5, 1, 3], &[1, 5, 5], None).unwrap();
        assert_eq!(&m.shape[4..], &[5, 3]);
        assert_eq!(&m.s0[4..], &[1, 5]);
        assert_eq!(m.extent(0), 15);
    }

    #[test]
    fn too_many_dims_is_an_error() {
        let shape = [2usize; 8];
        // Reversed strides: nothing merges.
        let s: Vec<usize> = (0..8).map(|d| 1usize << d).collect();
        assert!(Strided::new("t", &shape, &s, None).is_err());
    }

    #[test]
    fn empty_shapes_have_no_extent() {
        let m = Strided::new("t", &[0, 3], &[3, 1], None).unwrap();
        assert_eq!(m.extent(0), 0);
    }

    #[test]
    fn configs_are_bounded() {
        assert_eq!(elementwise_config(1).grid_dim.0, 1);
        assert_eq!(elementwise_config(257).grid_dim.0, 2);
        assert_eq!(elementwise_config(usize::MAX / 2).grid_dim.0, 1 << 16);
        assert_eq!(rows_config(0).grid_dim.0, 1);
    }
}
