//! Samplers and the loader built on them: the seeded sampler keeps the original loader's
//! batches exactly, an explicit order given that permutation reproduces them, the
//! distributed split covers each epoch once across ranks, prefetching changes nothing, and
//! user datasets gather without per-sample tensors.

use learner::data::{
    epoch_permutation, gather_samples, DistributedSampler, ExplicitSampler, RandomSampler, Sampler,
    SequentialSampler,
};
use learner::{DataLoader, Dataset, LearnerError, TensorDataset};
use tensor::{Device, Tensor};

fn indexed(n: usize) -> TensorDataset {
    let x: Vec<f32> = (0..n).map(|i| i as f32).collect();
    TensorDataset::new(
        Tensor::from_vec(x.clone(), &[n, 1], Device::Cpu).unwrap(),
        Tensor::from_vec(x, &[n], Device::Cpu).unwrap(),
    )
    .unwrap()
}

/// The sample indices of every batch of an epoch (read from the targets).
fn rows(dl: &DataLoader, epoch: usize) -> Vec<Vec<usize>> {
    dl.iter(epoch)
        .map(|b| {
            let (x, y) = b.unwrap();
            let xs = x.to_vec::<f32>().unwrap();
            assert_eq!(
                xs,
                y.to_vec::<f32>().unwrap(),
                "inputs and targets stay paired"
            );
            xs.iter().map(|&v| v as usize).collect()
        })
        .collect()
}

/// The original loader's batches: epoch `e`'s `epoch_permutation`, cut into `bs` chunks
/// (the code this module replaced, restated).
fn original_batches(n: usize, bs: usize, seed: u64, epoch: usize) -> Vec<Vec<usize>> {
    let mut order = Vec::new();
    epoch_permutation(n, seed, epoch, &mut order);
    order.chunks(bs).map(<[usize]>::to_vec).collect()
}

#[test]
fn seeded_sampler_gives_the_original_batches() {
    // Pinned from the original implementation (seed 2024, 103 samples, epoch 0).
    let mut p = Vec::new();
    epoch_permutation(103, 2024, 0, &mut p);
    let pinned = PINNED_2024_EPOCH0;
    assert_eq!(&p[..pinned.len()], pinned);
    let dl = DataLoader::new(indexed(103), 16, true, 2024).unwrap();
    let same = DataLoader::with_sampler(indexed(103), 16, RandomSampler::new(2024)).unwrap();
    for epoch in [0, 1, 5] {
        let want = original_batches(103, 16, 2024, epoch);
        assert_eq!(rows(&dl, epoch), want, "epoch {epoch}");
        assert_eq!(rows(&same, epoch), want, "epoch {epoch}");
    }
}

/// The first indices of `epoch_permutation(103, 2024, 0)` as the original loader drew them
/// (printed by the pre-sampler `data/loader.rs` of commit 1797879, whose function this is
/// verbatim, with the same `rand` in Cargo.lock).
const PINNED_2024_EPOCH0: &[usize] = &[
    69, 101, 42, 52, 2, 33, 95, 81, 83, 75, 80, 62, 13, 46, 30, 54,
];

#[test]
fn explicit_order_reproduces_the_seeded_sampler() {
    let n = 100;
    let orders: Vec<Vec<usize>> = (0..3)
        .map(|e| {
            let mut o = Vec::new();
            epoch_permutation(n, 7, e, &mut o);
            o
        })
        .collect();
    let seeded = DataLoader::new(indexed(n), 12, true, 7).unwrap();
    let explicit = DataLoader::with_sampler(
        indexed(n),
        12,
        ExplicitSampler::per_epoch(orders.clone()).unwrap(),
    )
    .unwrap();
    for e in 0..3 {
        assert_eq!(rows(&explicit, e), rows(&seeded, e), "epoch {e}");
    }
    // Saved to .npy (as a torch.randperm would be) and read back: the same batches.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("order.npy");
    let flat: Vec<i64> = orders.iter().flatten().map(|&i| i as i64).collect();
    let a = tensor::ndarray::ArrayD::from_shape_vec(vec![3, n], flat).unwrap();
    tensor::npy::write_npy(&path, &tensor::npy::NpyArray::I64(a)).unwrap();
    let from_file =
        DataLoader::with_sampler(indexed(n), 12, ExplicitSampler::from_npy(&path).unwrap())
            .unwrap();
    for e in 0..3 {
        assert_eq!(rows(&from_file, e), rows(&seeded, e), "epoch {e}");
    }
}

#[test]
fn torch_randperm_file_is_an_order() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tensor/tests/fixtures/npy/randperm_10_seed0.npy"
    );
    let s = ExplicitSampler::from_npy(path).unwrap();
    let dl = DataLoader::with_sampler(indexed(10), 4, s).unwrap();
    assert_eq!(
        rows(&dl, 0),
        vec![vec![4, 1, 7, 5], vec![3, 9, 0, 8], vec![6, 2]]
    );
    assert_eq!(rows(&dl, 1), rows(&dl, 0), "one order serves every epoch");
}

#[test]
fn explicit_orders_are_checked() {
    let dl = DataLoader::with_sampler(indexed(5), 2, ExplicitSampler::new(vec![0, 9])).unwrap();
    let err = dl.iter(0).next().unwrap().unwrap_err();
    assert!(err.to_string().contains("index 9"), "{err}");
    assert!(ExplicitSampler::per_epoch(vec![vec![0, 1], vec![0]]).is_err());
    assert!(ExplicitSampler::per_epoch(vec![]).is_err());
    let f = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tensor/tests/fixtures/npy/f32_c.npy"
    );
    let err = ExplicitSampler::from_npy(f).unwrap_err().to_string();
    assert!(err.contains("integers") && err.contains("float32"), "{err}");
}

#[test]
fn distributed_ranks_share_one_permutation() {
    let n = 10;
    let mut perm = Vec::new();
    epoch_permutation(n, 3, 4, &mut perm);
    let mut shares = Vec::new();
    for rank in 0..3 {
        let s = DistributedSampler::new(RandomSampler::new(3), rank, 3).unwrap();
        assert_eq!(s.len(n), 4);
        let mut out = Vec::new();
        s.order_into(n, 4, &mut out).unwrap();
        // Padded to 12 by repeating the start: rank r takes positions r, r + 3, ...
        let want: Vec<usize> = (rank..12).step_by(3).map(|i| perm[i % n]).collect();
        assert_eq!(out, want, "rank {rank}");
        shares.extend(out);
    }
    let mut covered = shares.clone();
    covered.sort_unstable();
    covered.dedup();
    assert_eq!(covered, (0..n).collect::<Vec<_>>());
    assert_eq!(shares.len(), 12);
    // drop_last: 9 indices, 3 each, none repeated.
    let s = DistributedSampler::new(SequentialSampler, 2, 3)
        .unwrap()
        .drop_last(true);
    let mut out = Vec::new();
    s.order_into(n, 0, &mut out).unwrap();
    assert_eq!(out, [2, 5, 8]);
    // A loader over a rank's share.
    let dl = DataLoader::with_sampler(
        indexed(n),
        2,
        DistributedSampler::new(RandomSampler::new(3), 1, 3).unwrap(),
    )
    .unwrap();
    assert_eq!(dl.len(), 2);
    assert_eq!(
        rows(&dl, 4).concat(),
        vec![perm[1], perm[4], perm[7], perm[0]]
    );
    assert!(DistributedSampler::new(SequentialSampler, 3, 3).is_err());
    assert!(DistributedSampler::new(SequentialSampler, 0, 0).is_err());
}

#[test]
fn prefetching_changes_nothing() {
    let plain = DataLoader::new(indexed(77), 8, true, 11).unwrap();
    let ahead = plain.clone().with_prefetch(true);
    assert!(ahead.prefetches());
    for e in 0..3 {
        assert_eq!(rows(&ahead, e), rows(&plain, e));
    }
    // Dropping an epoch early stops the worker (no hang), and the next epoch is whole.
    let mut it = ahead.iter(0);
    it.next().unwrap().unwrap();
    drop(it);
    assert_eq!(ahead.iter(1).count(), 10);
}

/// A user type: sample i is `[i, 2i, 3i]` with class `i % 4`, computed on the fly.
#[derive(Debug)]
struct Computed(usize);

impl Dataset for Computed {
    fn len(&self) -> usize {
        self.0
    }
    fn sample_shape(&self) -> Vec<usize> {
        vec![3]
    }
    fn read_sample(&self, i: usize, x: &mut [f32]) -> learner::Result<usize> {
        for (k, v) in x.iter_mut().enumerate() {
            *v = (i * (k + 1)) as f32;
        }
        Ok(i % 4)
    }
}

#[test]
fn user_datasets_batch_through_one_buffer() {
    let dl = DataLoader::with_sampler(Computed(5), 2, SequentialSampler)
        .unwrap()
        .with_prefetch(true);
    let batches: Vec<(Tensor, Tensor)> = dl.iter(0).map(Result::unwrap).collect();
    assert_eq!(batches.len(), 3);
    assert_eq!(batches[0].0.shape(), &[2, 3]);
    assert_eq!(
        batches[1].0.to_vec::<f32>().unwrap(),
        [2.0, 4.0, 6.0, 3.0, 6.0, 9.0]
    );
    assert_eq!(batches[1].1.to_vec::<f32>().unwrap(), [2.0, 3.0]);
    assert_eq!(batches[2].0.shape(), &[1, 3]);
    assert!(matches!(
        gather_samples(&Computed(5), &[5]),
        Err(LearnerError::Data(_))
    ));
    // TensorDataset's own read_sample agrees with its gather.
    let t = indexed(6);
    let mut x = [0f32; 1];
    assert_eq!(Dataset::read_sample(&t, 4, &mut x).unwrap(), 4);
    assert_eq!(x, [4.0]);
}

#[test]
fn datasets_from_ndarray_take_the_buffer() {
    let x = tensor::ndarray::Array2::from_shape_fn((4, 3), |(i, j)| (i * 3 + j) as f32);
    let ptr = x.as_ptr();
    let ds = TensorDataset::from_ndarray(x, &[0, 1, 2, 1], Device::Cpu).unwrap();
    assert_eq!(ds.x().ndarray_view::<f32>().unwrap().as_ptr(), ptr);
    assert_eq!(ds.y().to_vec::<f32>().unwrap(), [0.0, 1.0, 2.0, 1.0]);
    assert!(TensorDataset::from_ndarray(
        tensor::ndarray::Array2::<f32>::zeros((2, 2)),
        &[0],
        Device::Cpu
    )
    .is_err());
}
