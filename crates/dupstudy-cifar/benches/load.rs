//! Loading and serving CIFAR-10.
//!
//! - `load/folder`: the whole data set (60,000 images) from the binary files, warm cache.
//! - `batch/128`: gathering 128 augmented, normalized images into f32.
//! - `epoch/prefetch/<depth>`: 80 batches of 128 with a stand-in for a training step (a
//!   computation on the consumer thread, sized at start-up to take as long as preparing a
//!   batch); depth 0 prepares batches in line, depth 2 on a background thread. Perfect
//!   overlap would halve the time.
//!
//! The data comes from `$CIFAR10_DIR`, else `../shared/cifar-10-jpeg/cifar-10-batches-bin`
//! next to the workspace; without it the bench says so and measures nothing.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

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

/// A fixed amount of compute on the calling thread, standing in for a training step (a
/// dependent integer chain: no memory traffic; `black_box` keeps it from being folded).
fn spin(iterations: u64) -> u64 {
    let mut x = 1u64;
    for _ in 0..iterations {
        x = std::hint::black_box(x)
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
    }
    x
}

/// Seconds per call of `f`, over `calls` calls.
fn seconds_per_call(calls: u32, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..calls {
        f();
    }
    start.elapsed().as_secs_f64() / f64::from(calls)
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

    // Size the stand-in step to take as long as preparing a batch, measured here.
    let prepare = seconds_per_call(50, || {
        data.train()
            .fill_batch(&indices, &options, &mut batch)
            .unwrap();
    });
    let per_spin = seconds_per_call(5, || {
        std::hint::black_box(spin(1_000_000));
    }) / 1e6;
    let step_iterations = (prepare / per_spin).ceil() as u64;
    eprintln!(
        "stand-in step: {step_iterations} iterations, about {:.0} µs (preparing a batch: {:.0} µs)",
        step_iterations as f64 * per_spin * 1e6,
        prepare * 1e6
    );

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
                    min_last_batch: 0,
                };
                let mut batches =
                    EpochBatches::new(data.clone(), SplitName::Train, plan, depth).unwrap();
                let mut total = 0u64;
                while let Some(batch) = batches.next() {
                    let batch = batch.unwrap();
                    total = total
                        .wrapping_add(spin(step_iterations))
                        .wrapping_add(u64::from(batch.labels[0]));
                    batches.recycle(batch);
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
