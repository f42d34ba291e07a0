//! A run interrupted after any epoch and resumed from its checkpoint ends with exactly the
//! weights of an uninterrupted run.

use std::path::Path;
use std::sync::Arc;

use candle_core::Device;
use dupstudy_cnn::{ModelConfig, PgdConfig, TrainConfig, Trainer};

fn fixture() -> Arc<dupstudy_cifar::Cifar10> {
    Arc::new(
        dupstudy_cifar::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/cifar"))
            .unwrap(),
    )
}

fn weights(trainer: &Trainer) -> Vec<Vec<f32>> {
    trainer
        .model()
        .parameters()
        .iter()
        .map(|p| p.flatten_all().unwrap().to_vec1::<f32>().unwrap())
        .collect()
}

fn check(model: ModelConfig, mut config: TrainConfig, name: &str) {
    config.batch_size = 8;
    config.epochs = 3;
    let data = fixture();
    let indices = Arc::new((0..20).chain([1, 2, 3]).collect::<Vec<_>>());
    let mut straight = Trainer::new(&model, config.clone(), &Device::Cpu).unwrap();
    for epoch in 0..3 {
        straight
            .train_epoch(&data, indices.clone(), epoch, &mut |_| {})
            .unwrap();
    }
    for stop_after in 0..3u64 {
        let dir = std::env::temp_dir().join(format!(
            "dupstudy-ckpt-{name}-{stop_after}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let mut first = Trainer::new(&model, config.clone(), &Device::Cpu).unwrap();
        for epoch in 0..stop_after {
            first
                .train_epoch(&data, indices.clone(), epoch, &mut |_| {})
                .unwrap();
            first
                .save_checkpoint(
                    &dir,
                    epoch + 1,
                    serde_json::json!({"epochs_done": epoch + 1}),
                )
                .unwrap();
        }
        drop(first); // The process dies here.
        let mut resumed = Trainer::new(&model, config.clone(), &Device::Cpu).unwrap();
        let start = match resumed.restore_checkpoint(&dir).unwrap() {
            Some((next, extra)) => {
                assert_eq!(extra["epochs_done"], serde_json::json!(next));
                next
            }
            None => 0,
        };
        assert_eq!(start, stop_after);
        for epoch in start..3 {
            resumed
                .train_epoch(&data, indices.clone(), epoch, &mut |_| {})
                .unwrap();
        }
        assert_eq!(
            weights(&resumed),
            weights(&straight),
            "{name}: resumed after epoch {stop_after}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn resumed_sgd_training_is_exact() {
    check(
        ModelConfig::standard(),
        TrainConfig::paper_standard(4),
        "sgd",
    );
}

#[test]
fn resumed_adversarial_adam_training_is_exact() {
    let attack = PgdConfig {
        steps: 2,
        ..PgdConfig::madry()
    };
    check(
        ModelConfig::adversarial(),
        TrainConfig::paper_adversarial(4, attack),
        "adam",
    );
}

#[test]
fn a_checkpoint_of_another_seed_is_refused() {
    let dir = std::env::temp_dir().join(format!("dupstudy-ckpt-seed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let model = ModelConfig::standard();
    let trainer = Trainer::new(&model, TrainConfig::paper_standard(1), &Device::Cpu).unwrap();
    trainer
        .save_checkpoint(&dir, 1, serde_json::Value::Null)
        .unwrap();
    let mut other = Trainer::new(&model, TrainConfig::paper_standard(2), &Device::Cpu).unwrap();
    let err = other.restore_checkpoint(&dir).unwrap_err();
    assert!(err.to_string().contains("seed"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_step_budget_cuts_the_last_epoch() {
    let data = fixture();
    let mut config = TrainConfig::paper_standard(3);
    config.batch_size = 8;
    let mut trainer = Trainer::new(&ModelConfig::standard(), config, &Device::Cpu).unwrap();
    let indices = Arc::new((0..20).collect::<Vec<_>>());
    let stats = trainer
        .train_partial_epoch(&data, indices, 0, Some(2), &mut |_| {})
        .unwrap();
    assert_eq!(stats.images, 16);
    assert_eq!(trainer.optimizer().steps(), 2);
}
