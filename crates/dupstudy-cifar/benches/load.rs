//! Loading and serving CIFAR-10.
//!
//! - `load/folder`: the whole data set (60,000 images) from the binary files, warm cache.
//! - `batch/128`: gathering 128 augmented, normalized images into f32.
//! - `epoch/prefetch_<depth>`: 80 batches of 128 with a fixed stand-in for a training step
//!   (a fixed computation on the consumer thread, about as long as preparing a batch);
//!   depth 0 prepares batches in line, depth 2 on a background thread.
//!
//! The data comes from `$CIFAR10_DIR`, else `../shared/cifar-10-jpeg/cifar-10-batches-bin`
//! next to the workspace; without it the bench says so and measures nothing.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::path::PathBuf;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use dupstudy_cifar::{
    Augmentation, BatchOptions, EpochBatches, EpochPlan, HostBatch, Normalization, SplitName,
};

fn data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("CIFAR10_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/cifar-10-jpeg/cifar-10-batches-bin")
        });
    if dir.exists() {
        Some(dir)
    } else {
        eprintln!("CIFAR-10 not found at {}; set CIFAR10_DIR", dir.display());
        None
    }
}

/// A fixed amount of compute standing in for a training step, about as long as preparing
/// a batch, on the calling thread (a dependent integer chain: no memory traffic).
fn fake_step(batch: &HostBatch) -> u64 {
    let mut x = u64::from(batch.labels[0]) + 1;
    for _ in 0..250_000 {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
    }
    x
}

fn bench(c: &mut Criterion) {
    let Some(dir) = data_dir() else { return };
    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    group.bench_function("folder", |b| b.iter(|| dupstudy_cifar::load(&dir).unwrap()));
    group.finish();

    let data = Arc::new(dupstudy_cifar::load(&dir).unwrap());
    let options = BatchOptions {
        augmentation: Some((Augmentation::default(), 1)),
        normalization: Some(Normalization::half()),
    };
    let indices: Vec<usize> = (0..128).map(|i| i * 37).collect();
    let mut batch = HostBatch {
        images: Vec::new(),
        labels: Vec::new(),
    };
    c.bench_function("batch/128", |b| {
        b.iter(|| {
            data.train()
                .fill_batch(&indices, &options, &mut batch)
                .unwrap()
        })
    });

    let mut group = c.benchmark_group("epoch");
    group.sample_size(10);
    for depth in [0usize, 2] {
        group.bench_with_input(BenchmarkId::new("prefetch", depth), &depth, |b, &depth| {
            b.iter(|| {
                let plan = EpochPlan {
                    indices: Arc::new((0..10_240).collect()),
                    batch_size: 128,
                    shuffle_seed: Some(3),
                    epoch: 0,
                    augmentation: Some(Augmentation::default()),
                    normalization: Some(Normalization::half()),
                };
                let batches =
                    EpochBatches::new(data.clone(), SplitName::Train, plan, depth).unwrap();
                let mut total = 0u64;
                for batch in batches {
                    total = total.wrapping_add(fake_step(&batch.unwrap()));
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
