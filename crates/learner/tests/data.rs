//! Data loaders: batch counts, the kept last batch, and the seeded per-epoch shuffle.

mod common;

use learner::data::{epoch_permutation, get_dls};
use learner::{DataLoader, TensorDataset};
use tensor::{Device, Tensor};

/// A dataset whose inputs are the sample indices, so a batch shows which rows it holds.
fn indexed(n: usize) -> TensorDataset {
    let x: Vec<f32> = (0..n).map(|i| i as f32).collect();
    TensorDataset::new(
        Tensor::from_vec(x.clone(), &[n, 1], Device::Cpu).unwrap(),
        Tensor::from_vec(x, &[n], Device::Cpu).unwrap(),
    )
    .unwrap()
}

#[test]
fn lesson_batch_counts() {
    let (train, valid) = get_dls(indexed(50_000), indexed(10_000), 512, 0).unwrap();
    // 50,000 = 97 * 512 + 336.
    assert_eq!(train.len(), 98);
    assert_eq!(train.batch_len(97), 50_000 - 97 * 512);
    assert_eq!(train.batch_len(97), 336);
    assert_eq!(valid.batch_size(), 1024);
    assert_eq!(valid.len(), 10);
    assert_eq!(valid.batch_len(9), 10_000 - 9 * 1024);

    let sizes: Vec<usize> = train.iter(0).map(|b| b.unwrap().1.shape()[0]).collect();
    assert_eq!(sizes.len(), 98);
    assert!(sizes[..97].iter().all(|&s| s == 512));
    assert_eq!(sizes[97], 336);
}

#[test]
fn shuffled_epoch_is_a_permutation_covering_every_sample_once() {
    let dl = DataLoader::new(indexed(1000), 64, true, 42).unwrap();
    let mut seen: Vec<usize> = Vec::new();
    for batch in dl.iter(3) {
        let (x, y) = batch.unwrap();
        let xs = x.to_vec::<f32>().unwrap();
        assert_eq!(
            xs,
            y.to_vec::<f32>().unwrap(),
            "inputs and targets stay paired"
        );
        seen.extend(xs.iter().map(|&v| v as usize));
    }
    assert_eq!(seen.len(), 1000);
    assert_ne!(seen, (0..1000).collect::<Vec<_>>(), "shuffled");
    seen.sort_unstable();
    assert_eq!(seen, (0..1000).collect::<Vec<_>>());
}

#[test]
fn shuffle_is_reproducible_per_seed_and_epoch() {
    let (mut a, mut b, mut c, mut d) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    epoch_permutation(500, 9, 0, &mut a);
    epoch_permutation(500, 9, 0, &mut b);
    epoch_permutation(500, 9, 1, &mut c);
    epoch_permutation(500, 10, 0, &mut d);
    assert_eq!(a, b);
    assert_ne!(a, c, "each epoch has its own order");
    assert_ne!(a, d, "each seed has its own order");

    let dl = DataLoader::new(indexed(100), 10, true, 9).unwrap();
    let first: Vec<Vec<f32>> = dl.iter(2).map(|b| b.unwrap().0.to_vec().unwrap()).collect();
    let again: Vec<Vec<f32>> = dl.iter(2).map(|b| b.unwrap().0.to_vec().unwrap()).collect();
    assert_eq!(first, again);
}

#[test]
fn validation_loader_keeps_order() {
    let dl = DataLoader::new(indexed(10), 4, false, 0).unwrap();
    let xs: Vec<f32> = dl
        .iter(5)
        .flat_map(|b| b.unwrap().0.to_vec::<f32>().unwrap())
        .collect();
    assert_eq!(xs, (0..10).map(|i| i as f32).collect::<Vec<_>>());
    assert_eq!(dl.len(), 3);
}

#[test]
fn max_batches_caps_an_epoch() {
    let dl = DataLoader::new(indexed(100), 8, true, 0)
        .unwrap()
        .with_max_batches(Some(5))
        .unwrap();
    assert_eq!(dl.len(), 5);
    assert_eq!(dl.iter(0).count(), 5);
    let dl = dl.with_max_batches(Some(1000)).unwrap();
    assert_eq!(dl.len(), 13);
}

#[test]
fn bad_configurations_are_errors() {
    assert!(DataLoader::new(indexed(10), 0, true, 0).is_err());
    assert!(DataLoader::new(indexed(10), 2, true, 0)
        .unwrap()
        .with_max_batches(Some(0))
        .is_err());
    let x = Tensor::zeros(&[3, 2], tensor::DType::F32, Device::Cpu).unwrap();
    let y = Tensor::zeros(&[4], tensor::DType::F32, Device::Cpu).unwrap();
    assert!(TensorDataset::new(x, y).is_err());
}

#[test]
fn mnist_sample_bunch() {
    let mut splits = mnist_data::MnistSplits::load(&mnist_data::DataSource::Sample).unwrap();
    splits.normalize().unwrap();
    let data = learner::data::mnist_bunch(&splits, 512, 0, Device::Cpu).unwrap();
    assert_eq!(data.train.len(), 2); // 1,000 = 512 + 488
    assert_eq!(data.valid.len(), 1); // 200 in one batch of 1,024
    assert_eq!(data.c, 10);
    let (x, y) = data.train.iter(0).next().unwrap().unwrap();
    assert_eq!(x.shape(), &[512, 784]);
    assert_eq!(y.shape(), &[512]);
}
