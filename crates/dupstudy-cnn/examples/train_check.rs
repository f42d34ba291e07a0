//! The CNN crate's acceptance check on real data: trains the standard network on
//! `--standard-images` training images for `--standard-epochs` epochs and the adversarial
//! network with Madry PGD-10 on `--adversarial-images` images for `--adversarial-epochs`
//! epochs, then reports clean and PGD-10 (8/255) test accuracy of both as JSON.
//!
//! ```sh
//! cargo run --release -p dupstudy-cnn --example train_check -- \
//!     --data-dir ../shared/cifar-10-jpeg/cifar-10-batches-bin
//! ```
//!
//! Defaults are the issue's bar: 5 epochs on 50,000 images (standard), 5 epochs on 10,000
//! images (adversarial), evaluation on all 10,000 test images.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use dupstudy_cifar::SplitName;
use dupstudy_cnn::{ModelConfig, PgdConfig, TrainConfig, Trainer, evaluate};

/// Trains both paper networks briefly and measures clean and PGD accuracy.
#[derive(Debug, Parser)]
struct Args {
    /// CIFAR-10 folder or archive.
    #[arg(long)]
    data_dir: PathBuf,
    /// Training images for the standard network.
    #[arg(long, default_value_t = 50_000)]
    standard_images: usize,
    /// Epochs of the standard network.
    #[arg(long, default_value_t = 5)]
    standard_epochs: u64,
    /// Training images for the adversarial network.
    #[arg(long, default_value_t = 10_000)]
    adversarial_images: usize,
    /// Epochs of the adversarial network.
    #[arg(long, default_value_t = 5)]
    adversarial_epochs: u64,
    /// Test images for evaluation.
    #[arg(long, default_value_t = 10_000)]
    test_images: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// cpu or cuda.
    #[arg(long, default_value = "cpu")]
    device: String,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // SAFETY: the first thing `main` does: no other thread runs yet.
    #[allow(unsafe_code)]
    unsafe {
        dupstudy_cnn::alloc::park_idle_candle_workers();
    }
    let args = Args::parse();
    dupstudy_cnn::alloc::keep_freed_memory();
    let device = dupstudy_cnn::device::device(&args.device)?;
    let data = Arc::new(dupstudy_cifar::load(&args.data_dir)?);
    let test = Arc::new((0..args.test_images.min(data.test().len())).collect::<Vec<_>>());
    let attack = PgdConfig::madry();
    let mut results = serde_json::Map::new();
    for (name, model, config, images, epochs) in [
        (
            "standard",
            ModelConfig::standard(),
            TrainConfig::paper_standard(args.seed),
            args.standard_images,
            args.standard_epochs,
        ),
        (
            "adversarial",
            ModelConfig::adversarial(),
            TrainConfig::paper_adversarial(args.seed, attack),
            args.adversarial_images,
            args.adversarial_epochs,
        ),
    ] {
        let start = Instant::now();
        let mut trainer = Trainer::new(&model, config, &device)?;
        let indices = Arc::new((0..images.min(data.train().len())).collect::<Vec<_>>());
        let mut epochs_stats = Vec::new();
        for epoch in 0..epochs {
            let stats = trainer.train_epoch(&data, indices.clone(), epoch, &mut |_| {})?;
            eprintln!(
                "{name} epoch {epoch}: loss {:.3} train acc {:.3} ({:.0} images/s)",
                stats.loss, stats.accuracy, stats.images_per_s
            );
            epochs_stats.push(serde_json::to_value(stats)?);
        }
        let train_seconds = start.elapsed().as_secs_f64();
        let clean = evaluate(
            trainer.model(),
            &data,
            SplitName::Test,
            test.clone(),
            500,
            &device,
            None,
        )?;
        let robust = evaluate(
            trainer.model(),
            &data,
            SplitName::Test,
            test.clone(),
            500,
            &device,
            Some((&attack, 1)),
        )?;
        results.insert(
            name.to_string(),
            serde_json::json!({
                "train_images": images,
                "epochs": epochs,
                "train_seconds": train_seconds,
                "clean_test_accuracy": clean.accuracy(),
                "pgd10_test_accuracy": robust.accuracy(),
                "epochs_stats": epochs_stats,
            }),
        );
        eprintln!(
            "{name}: clean {:?} PGD-10 {:?}",
            clean.accuracy(),
            robust.accuracy()
        );
    }
    results.insert(
        "data".into(),
        serde_json::json!(data.source().display().to_string()),
    );
    results.insert("test_images".into(), serde_json::json!(test.len()));
    println!("{}", serde_json::Value::Object(results));
    Ok(())
}
