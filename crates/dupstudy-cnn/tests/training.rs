//! Short training runs: learning happens and runs are deterministic (on a generated
//! learnable set, so they run anywhere); adversarial training resists the attack better
//! (on a few hundred real images, when CIFAR-10 is there; CI always has it).

use std::path::Path;
use std::sync::Arc;

use candle_core::Device;
use dupstudy_cifar::SplitName;
use dupstudy_cnn::{ModelConfig, PgdConfig, TrainConfig, Trainer, evaluate};

/// A generated set the standard network can learn (flat class colours, stripes, noise).
fn synthetic() -> Arc<dupstudy_cifar::Cifar10> {
    Arc::new(dupstudy_cifar::synthetic::learnable(512, 500, 40, 3).unwrap())
}

/// The real CIFAR-10, or `None` (the test is skipped; under CI a missing set fails).
fn real() -> Option<Arc<dupstudy_cifar::Cifar10>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = dupstudy_cifar::real_data_for_tests(&root)
        .expect("CI must provide CIFAR-10 (CIFAR10_DIR or ../shared/cifar-10-jpeg)");
    match dir {
        Some(dir) => Some(Arc::new(dupstudy_cifar::load(&dir).unwrap())),
        None => {
            eprintln!("skipping: no CIFAR-10 beside the workspace and CIFAR10_DIR unset");
            None
        }
    }
}

fn train(
    config: &ModelConfig,
    train: TrainConfig,
    data: &Arc<dupstudy_cifar::Cifar10>,
    n: usize,
) -> (Trainer, Vec<f64>) {
    let mut trainer = Trainer::new(config, train.clone(), &Device::Cpu).unwrap();
    let indices = Arc::new((0..n).collect::<Vec<_>>());
    let losses = (0..train.epochs)
        .map(|epoch| {
            trainer
                .train_epoch(data, indices.clone(), epoch, &mut |_| {})
                .unwrap()
                .loss
        })
        .collect();
    (trainer, losses)
}

#[test]
fn standard_training_learns_and_is_deterministic() {
    let data = synthetic();
    let mut config = TrainConfig::paper_standard(1);
    config.epochs = 8;
    config.batch_size = 32;
    let model = ModelConfig::standard();
    let (a, losses) = train(&model, config.clone(), &data, 512);
    assert!(
        losses[7] < losses[0] - 0.1,
        "training loss must fall: {losses:?}"
    );
    let test = Arc::new((0..500).collect::<Vec<_>>());
    let clean = evaluate(
        a.model(),
        &data,
        SplitName::Test,
        test.clone(),
        250,
        &Device::Cpu,
        None,
    )
    .unwrap();
    let accuracy = clean.accuracy().unwrap();
    assert!(
        accuracy > 0.5,
        "128 steps on 512 learnable images should beat chance (0.1) by far: {accuracy}"
    );
    // Same seed, same weights; prefetching changes nothing.
    config.prefetch = 0;
    let (b, _) = train(&model, config, &data, 512);
    for (p, q) in a.model().parameters().iter().zip(b.model().parameters()) {
        assert_eq!(
            p.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            q.flatten_all().unwrap().to_vec1::<f32>().unwrap()
        );
    }
}

#[test]
fn adversarial_training_resists_pgd_better_than_standard_training() {
    let Some(data) = real() else { return };
    let n = 384;
    let mut standard = TrainConfig::paper_standard(2);
    standard.epochs = 6;
    standard.batch_size = 32;
    let (plain, _) = train(&ModelConfig::standard(), standard, &data, n);
    let mut adversarial = TrainConfig::paper_adversarial(
        2,
        PgdConfig {
            steps: 3,
            ..PgdConfig::madry()
        },
    );
    adversarial.epochs = 3;
    adversarial.batch_size = 32;
    let (robust, _) = train(&ModelConfig::adversarial(), adversarial, &data, n);
    let seen = Arc::new((0..n).collect::<Vec<_>>());
    let attack = PgdConfig::madry();
    let acc = |trainer: &Trainer, attack: Option<(&PgdConfig, u64)>| {
        evaluate(
            trainer.model(),
            &data,
            SplitName::Train,
            seen.clone(),
            128,
            &Device::Cpu,
            attack,
        )
        .unwrap()
        .accuracy()
        .unwrap()
    };
    let (plain_clean, plain_pgd) = (acc(&plain, None), acc(&plain, Some((&attack, 0))));
    let robust_pgd = acc(&robust, Some((&attack, 0)));
    assert!(
        plain_pgd < plain_clean,
        "the attack must lower accuracy: {plain_clean} -> {plain_pgd}"
    );
    assert!(
        robust_pgd > plain_pgd,
        "adversarial training must resist better: {robust_pgd} vs {plain_pgd}"
    );
}
