//! Training, adversarial-training and evaluation steps of the paper's networks on the CPU,
//! batch 128 (the numbers behind the README's table; `scripts/cnn_speed_table.py` compares
//! them with PyTorch in one sitting).
//!
//! - `train_step/<model>`: forward with dropout, backward, optimizer step (SGD or Adam);
//! - `pgd_step/<model>`: PGD-10 (8/255, 2/255, random start), then the optimizer step;
//! - `eval/<model>`: forward without gradients;
//! - `eval_reference/<model>`: the same through candle's own ops (what the kernels replace).

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use candle_core::{Device, Tensor};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use dupstudy_cnn::{Cnn, Kernels, ModelConfig, Optimizer, OptimizerConfig, PgdConfig, layers, pgd};
use rand::{Rng, SeedableRng};

fn batch(n: usize) -> (Tensor, Tensor) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let x: Vec<f32> = (0..n * 3072).map(|_| rng.random::<f32>()).collect();
    let y: Vec<u32> = (0..n).map(|_| rng.random_range(0..10)).collect();
    (
        Tensor::from_vec(x, (n, 3, 32, 32), &Device::Cpu).unwrap(),
        Tensor::from_vec(y, n, &Device::Cpu).unwrap(),
    )
}

fn models() -> [(&'static str, ModelConfig, OptimizerConfig); 2] {
    [
        (
            "standard",
            ModelConfig::standard(),
            OptimizerConfig::paper_sgd(),
        ),
        (
            "adversarial",
            ModelConfig::adversarial(),
            OptimizerConfig::paper_adam(),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    dupstudy_cnn::alloc::keep_freed_memory();
    let (x, y) = batch(128);
    let attack = PgdConfig::madry();
    let mut group = c.benchmark_group("train_step");
    for (name, config, optimizer) in models() {
        let (varmap, model) = Cnn::init(&config, 0, &Device::Cpu).unwrap();
        let mut opt = Optimizer::for_model(optimizer, &varmap, &config).unwrap();
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                let loss = layers::cross_entropy(&model.logits(&x, true).unwrap(), &y).unwrap();
                opt.backward_step(&loss).unwrap();
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("pgd_step");
    group.sample_size(10);
    for (name, config, optimizer) in models() {
        let (varmap, model) = Cnn::init(&config, 0, &Device::Cpu).unwrap();
        let mut opt = Optimizer::for_model(optimizer, &varmap, &config).unwrap();
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                let adv = pgd::attack(&model, &x, &y, &attack, 0).unwrap();
                let loss = layers::cross_entropy(&adv.logits(&model, true).unwrap(), &y).unwrap();
                opt.backward_step(&loss).unwrap();
            })
        });
    }
    group.finish();

    for (group_name, kernels) in [
        ("eval", Kernels::Fast),
        ("eval_portable", Kernels::Portable),
        ("eval_reference", Kernels::Reference),
    ] {
        let mut group = c.benchmark_group(group_name);
        for (name, config, _) in models() {
            let (_, mut model) = Cnn::init(&config, 0, &Device::Cpu).unwrap();
            model.set_kernels(kernels);
            group.bench_function(BenchmarkId::from_parameter(name), |b| {
                b.iter(|| layers::argmax(&model.logits(&x, false).unwrap()).unwrap())
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
