//! Dropping a prefetching epoch early stops its worker thread (its own test binary, so no
//! other test's prefetch threads are counted).

use std::path::Path;
use std::sync::Arc;

use dupstudy_cifar::{EpochBatches, EpochPlan, SplitName};

/// Threads of this process named `name` (`/proc/self/task/*/comm`).
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .filter(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == name))
        .count()
}

#[test]
#[cfg(target_os = "linux")]
fn dropping_a_prefetching_epoch_early_stops_its_thread() {
    let data = Arc::new(
        dupstudy_cifar::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/cifar"))
            .unwrap(),
    );
    let plan = EpochPlan {
        indices: Arc::new((0..20).collect()),
        batch_size: 2,
        shuffle_seed: Some(1),
        epoch: 0,
        augmentation: None,
        normalization: None,
        min_last_batch: 0,
    };
    assert_eq!(threads_named("cifar-batches"), 0);
    let mut batches = EpochBatches::new(data, SplitName::Train, plan, 2).unwrap();
    assert!(batches.next().is_some());
    assert_eq!(threads_named("cifar-batches"), 1, "a prefetch thread runs");
    drop(batches); // Joins the worker: must not hang, and the thread is gone after.
    assert_eq!(
        threads_named("cifar-batches"),
        0,
        "the prefetch thread stopped"
    );
}
