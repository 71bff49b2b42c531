//! [`DistributedSampler`]: rank `r` of `w`'s share of an epoch's sample order.
//!
//! Every rank draws the *same* permutation (the single-process seeded order of
//! [`epoch_permutation`](crate::data::epoch_permutation), which depends only on the seed and
//! the epoch) and keeps a *strided* share of it, as PyTorch's `DistributedSampler` does: with
//! `n` samples, `L = ceil(n / w)` samples per rank and the order padded to `w L` positions by
//! wrapping around to its start (`p -> order[p mod n]`), rank `r` gets positions
//! `r, r + w, r + 2w, ...`, that is `share[j] = order[(r + j w) mod n]` for `j < L`.
//!
//! Why strided: cut into local batches of `b`, local batch `i` of rank `r` holds the
//! positions `r + w (i b + j)`, `j < b`, so the union over the ranks of local batch `i` is the
//! positions `[i w b, (i + 1) w b)`: exactly global batch `i` of one process whose batch size is
//! `w b`. A data-parallel run at global batch `B = w b` therefore sees the same batches, step
//! for step, as one process at batch `B` (when `w` divides `n`, so nothing is padded).

use crate::error::{LearnerError, Result};

/// Rank `rank` of `world` ranks' strided share of a sample order (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DistributedSampler {
    rank: usize,
    world: usize,
}

impl DistributedSampler {
    /// The share of rank `rank` in a world of `world` ranks.
    ///
    /// # Errors
    ///
    /// [`LearnerError::InvalidConfig`] when `world` is 0 or `rank >= world`.
    pub fn new(rank: usize, world: usize) -> Result<Self> {
        if world == 0 {
            return Err(LearnerError::config("world size", "must be at least 1"));
        }
        if rank >= world {
            return Err(LearnerError::config(
                "rank",
                format!("{rank} is not a rank of a world of {world}"),
            ));
        }
        Ok(DistributedSampler { rank, world })
    }

    /// This rank.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The number of ranks.
    pub fn world(&self) -> usize {
        self.world
    }

    /// Samples per rank for `n` samples: `ceil(n / world)` (the same on every rank).
    pub fn local_len(&self, n: usize) -> usize {
        n.div_ceil(self.world)
    }

    /// Writes this rank's share of `order` (all `n` sample indices of an epoch) into `out`:
    /// `out[j] = order[(rank + j world) mod n]` for `j < local_len(n)`.
    pub fn shard_into(&self, order: &[usize], out: &mut Vec<usize>) {
        out.clear();
        let n = order.len();
        if n == 0 {
            return;
        }
        out.extend((0..self.local_len(n)).map(|j| order[(self.rank + j * self.world) % n]));
    }

    /// This rank's share of `order` as a new vector (see [`shard_into`](Self::shard_into)).
    pub fn shard(&self, order: &[usize]) -> Vec<usize> {
        let mut out = Vec::new();
        self.shard_into(order, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_strided_and_cover_the_order_once() {
        let order: Vec<usize> = vec![7, 3, 9, 0, 5, 1, 8, 2, 6, 4, 11, 10];
        let s0 = DistributedSampler::new(0, 3).unwrap().shard(&order);
        let s1 = DistributedSampler::new(1, 3).unwrap().shard(&order);
        let s2 = DistributedSampler::new(2, 3).unwrap().shard(&order);
        assert_eq!(s0, [7, 0, 8, 4]);
        assert_eq!(s1, [3, 5, 2, 11]);
        assert_eq!(s2, [9, 1, 6, 10]);
        let mut all: Vec<usize> = [s0, s1, s2].concat();
        all.sort_unstable();
        assert_eq!(all, (0..12).collect::<Vec<_>>());
    }

    #[test]
    fn local_batches_union_to_the_global_batch() {
        // 2 ranks, local batch 3: local batch i of both ranks = global batch i of size 6.
        let order: Vec<usize> = (0..24).map(|i| (i * 7) % 24).collect();
        let (w, b) = (2, 3);
        let shares: Vec<Vec<usize>> = (0..w)
            .map(|r| DistributedSampler::new(r, w).unwrap().shard(&order))
            .collect();
        for i in 0..4 {
            let mut union: Vec<usize> = shares
                .iter()
                .flat_map(|s| s[i * b..(i + 1) * b].to_vec())
                .collect();
            let mut global = order[i * w * b..(i + 1) * w * b].to_vec();
            union.sort_unstable();
            global.sort_unstable();
            assert_eq!(union, global, "batch {i}");
        }
    }

    #[test]
    fn uneven_lengths_wrap_around_like_pytorch() {
        // n = 5, w = 2: padded to 6 positions, the sixth is order[0].
        let order = [4, 2, 0, 3, 1];
        let s0 = DistributedSampler::new(0, 2).unwrap().shard(&order);
        let s1 = DistributedSampler::new(1, 2).unwrap().shard(&order);
        assert_eq!(s0, [4, 0, 1]);
        assert_eq!(s1, [2, 3, 4]);
        assert_eq!(DistributedSampler::new(1, 2).unwrap().local_len(5), 3);
        assert!(DistributedSampler::new(0, 2).unwrap().shard(&[]).is_empty());
    }

    #[test]
    fn one_rank_keeps_the_whole_order() {
        let order = [2, 0, 1];
        assert_eq!(DistributedSampler::new(0, 1).unwrap().shard(&order), order);
    }

    #[test]
    fn bad_ranks_are_refused() {
        assert!(matches!(
            DistributedSampler::new(0, 0),
            Err(LearnerError::InvalidConfig {
                what: "world size",
                ..
            })
        ));
        let err = DistributedSampler::new(2, 2).unwrap_err().to_string();
        assert_eq!(err, "invalid rank: 2 is not a rank of a world of 2");
    }
}
