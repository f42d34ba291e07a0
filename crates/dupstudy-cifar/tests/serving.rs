//! Serving: epochs, prefetching, determinism.

use std::path::Path;
use std::sync::Arc;

use dupstudy_cifar::{Augmentation, EpochBatches, EpochPlan, HostBatch, Normalization, SplitName};

fn fixture() -> Arc<dupstudy_cifar::Cifar10> {
    Arc::new(
        dupstudy_cifar::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/cifar"))
            .unwrap(),
    )
}

fn plan(indices: Vec<usize>, seed: Option<u64>, epoch: u64) -> EpochPlan {
    EpochPlan {
        indices: Arc::new(indices),
        batch_size: 6,
        shuffle_seed: seed,
        epoch,
        augmentation: Some(Augmentation::default()),
        normalization: Some(Normalization::half()),
        min_last_batch: 0,
    }
}

fn collect(depth: usize, plan: EpochPlan) -> Vec<HostBatch> {
    EpochBatches::new(fixture(), SplitName::Train, plan, depth)
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn prefetch_gives_the_same_batches_as_inline() {
    // Duplicates: indices 0..20 then 3 and 7 again.
    let indices: Vec<usize> = (0..20).chain([3, 7]).collect();
    let inline = collect(0, plan(indices.clone(), Some(5), 2));
    for depth in [1, 3] {
        assert_eq!(collect(depth, plan(indices.clone(), Some(5), 2)), inline);
    }
    assert_eq!(inline.len(), 4);
    assert_eq!(inline[3].len(), 4, "22 = 3 x 6 + 4");
    let seen: usize = inline.iter().map(HostBatch::len).sum();
    assert_eq!(seen, 22);
}

#[test]
fn every_index_is_served_once_per_epoch() {
    let indices: Vec<usize> = (0..20).chain([3, 3, 7]).collect();
    let p = plan(indices.clone(), Some(9), 0);
    let mut order = p.order();
    order.sort_unstable();
    let mut want = indices;
    want.sort_unstable();
    assert_eq!(order, want);
}

#[test]
fn order_depends_on_seed_and_epoch_only() {
    let indices: Vec<usize> = (0..20).collect();
    let a = plan(indices.clone(), Some(1), 0).order();
    assert_eq!(a, plan(indices.clone(), Some(1), 0).order());
    assert_ne!(a, plan(indices.clone(), Some(1), 1).order());
    assert_ne!(a, plan(indices.clone(), Some(2), 0).order());
    assert_eq!(plan(indices.clone(), None, 0).order(), indices);
}

#[test]
fn bad_plans_fail_before_any_work() {
    let mut p = plan(vec![0, 1, 99], Some(1), 0);
    assert!(matches!(
        EpochBatches::new(fixture(), SplitName::Train, p.clone(), 2),
        Err(dupstudy_cifar::CifarError::IndexOutOfRange { index: 99, len: 20 })
    ));
    p.indices = Arc::new(vec![0]);
    p.batch_size = 0;
    assert!(EpochBatches::new(fixture(), SplitName::Train, p, 2).is_err());
}

#[test]
fn tensors_have_the_expected_shape_and_range() {
    let data = fixture();
    let options = dupstudy_cifar::BatchOptions::default();
    let (images, labels) = data
        .test()
        .batch(&[0, 1, 2], &options, &candle_core::Device::Cpu)
        .unwrap();
    assert_eq!(images.dims(), &[3, 3, 32, 32]);
    assert_eq!(labels.to_vec1::<u32>().unwrap(), vec![0, 1, 2]);
    let values = images.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert!(values.iter().all(|v| (0.0..=1.0).contains(v)));
}

#[test]
fn a_short_last_batch_joins_the_one_before_it_when_asked() {
    // 22 indices in batches of 6: 6, 6, 6, 4; a last batch under 5 joins the third.
    let indices: Vec<usize> = (0..20).chain([3, 7]).collect();
    for (min_last_batch, sizes) in [
        (0, vec![6, 6, 6, 4]),
        (4, vec![6, 6, 6, 4]),
        (5, vec![6, 6, 10]),
    ] {
        let plan = EpochPlan {
            min_last_batch,
            ..plan(indices.clone(), Some(5), 1)
        };
        assert_eq!(plan.n_batches(), sizes.len());
        for depth in [0, 2] {
            let batches = collect(depth, plan.clone());
            let got: Vec<usize> = batches.iter().map(|b| b.labels.len()).collect();
            assert_eq!(got, sizes, "min_last_batch {min_last_batch}, depth {depth}");
        }
        // Every image of the order is served once, in order.
        let served: usize = (0..plan.n_batches())
            .map(|b| plan.batch_range(b).len())
            .sum();
        assert_eq!(served, indices.len());
    }
    // A list shorter than one batch stays one batch.
    let short = EpochPlan {
        min_last_batch: 5,
        ..plan(vec![1, 2, 3], None, 0)
    };
    assert_eq!(short.n_batches(), 1);
    assert_eq!(collect(0, short)[0].labels.len(), 3);
}
