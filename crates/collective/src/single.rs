//! [`SingleProcess`]: the world of one rank.

use crate::error::Result;
use crate::traits::{check_root, Collective};

/// A group of exactly one rank (rank 0): every collective leaves the buffer unchanged.
///
/// The sum over one rank is that rank's buffer and a broadcast from rank 0 to itself copies
/// nothing, so all operations are no-ops apart from validating the root. Use it to run
/// data-parallel code in one process without any MPI installation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SingleProcess;

impl SingleProcess {
    /// The single-rank group.
    pub fn new() -> Self {
        SingleProcess
    }
}

impl Collective for SingleProcess {
    fn rank(&self) -> usize {
        0
    }

    fn world_size(&self) -> usize {
        1
    }

    fn all_reduce_sum_f32(&self, _buf: &mut [f32]) -> Result<()> {
        Ok(())
    }

    fn all_reduce_sum_f64(&self, _buf: &mut [f64]) -> Result<()> {
        Ok(())
    }

    fn broadcast_f32(&self, _buf: &mut [f32], root: usize) -> Result<()> {
        check_root(root, 1)
    }

    fn broadcast_f64(&self, _buf: &mut [f64], root: usize) -> Result<()> {
        check_root(root, 1)
    }

    fn broadcast_u8(&self, _buf: &mut [u8], root: usize) -> Result<()> {
        check_root(root, 1)
    }

    fn barrier(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CollectiveError;

    #[test]
    fn identity_of_the_one_rank_world() {
        let c = SingleProcess::new();
        assert_eq!((c.rank(), c.world_size(), c.is_root()), (0, 1, true));
    }

    #[test]
    fn all_reduce_over_one_rank_keeps_the_buffer_bit_for_bit() {
        let c = SingleProcess;
        let mut a = [1.5f32, -0.0, f32::MIN_POSITIVE, 3.0e38];
        c.all_reduce_sum_f32(&mut a).unwrap();
        assert_eq!(
            a.map(f32::to_bits),
            [1.5f32, -0.0, f32::MIN_POSITIVE, 3.0e38].map(f32::to_bits)
        );
        let mut b = [0.1f64, -2.25, 1.0e300];
        c.all_reduce_sum_f64(&mut b).unwrap();
        assert_eq!(b, [0.1, -2.25, 1.0e300]);
        let mut empty: [f32; 0] = [];
        c.all_reduce_sum_f32(&mut empty).unwrap();
    }

    #[test]
    fn broadcast_from_rank_zero_keeps_the_buffer() {
        let c = SingleProcess;
        let mut a = [7.0f32, 8.0];
        c.broadcast_f32(&mut a, 0).unwrap();
        assert_eq!(a, [7.0, 8.0]);
        let mut b = [9.0f64];
        c.broadcast_f64(&mut b, 0).unwrap();
        assert_eq!(b, [9.0]);
        let mut u = *b"abc";
        c.broadcast_u8(&mut u, 0).unwrap();
        assert_eq!(&u, b"abc");
        c.barrier().unwrap();
    }

    #[test]
    fn broadcast_from_a_missing_rank_is_an_error() {
        let c = SingleProcess;
        let mut a = [1.0f32];
        let err = c.broadcast_f32(&mut a, 1).unwrap_err();
        assert_eq!(
            err,
            CollectiveError::InvalidRoot {
                root: 1,
                world_size: 1
            }
        );
        assert_eq!(a, [1.0]);
        assert!(c.broadcast_f64(&mut [0.0], 2).is_err());
        assert!(c.broadcast_u8(&mut [0], 5).is_err());
    }

    #[test]
    fn usable_as_a_trait_object() {
        let c: Box<dyn Collective> = Box::new(SingleProcess);
        let mut a = [2.0f64];
        c.all_reduce_sum_f64(&mut a).unwrap();
        assert_eq!((a, c.world_size()), ([2.0], 1));
    }
}
