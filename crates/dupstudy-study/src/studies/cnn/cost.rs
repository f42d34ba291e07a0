//! The measured costs of a CIFAR network's work, for time estimates: timed through the
//! same training and evaluation code a cell runs.

use std::sync::Arc;
use std::time::Instant;

use dupstudy_cifar::{Cifar10, SplitName};
use dupstudy_cnn::{PgdConfig, Trainer, predict};

use crate::error::Result;
use candle_core::Device;
use dupstudy_cnn::{ModelConfig, TrainConfig};

/// Measured costs of one network's work in seconds per image, for time estimates.
#[derive(Debug, Clone, Copy, Default)]
pub struct Costs {
    /// Training on one image without an attack (batch preparation, forward with dropout,
    /// backward and the optimizer update).
    pub train: f64,
    /// Predicting one image.
    pub eval: f64,
    /// One PGD step on one image (forward and backward to the input), as evaluation under
    /// attack runs it.
    pub attack_step: f64,
    /// Adversarial training of one image, timed as it runs, with its PGD steps; `None`
    /// when the timed cell does not train adversarially. Timed directly because it costs
    /// more than training plus that many evaluation-time PGD steps (about 25 % more).
    pub adversarial_train: Option<(usize, f64)>,
}

impl Costs {
    /// The calibrated speeds in words.
    pub fn describe(&self) -> String {
        let per_s = |seconds: f64| if seconds > 0.0 { 1.0 / seconds } else { 0.0 };
        let mut text = format!(
            "{:.0} training images/s, {:.0} predictions/s",
            per_s(self.train),
            per_s(self.eval)
        );
        if let Some((steps, cost)) = self.adversarial_train {
            text.push_str(&format!(
                ", {:.0} PGD-{steps} training images/s",
                per_s(cost)
            ));
        }
        if self.attack_step > 0.0 {
            text.push_str(&format!(
                ", {:.0} PGD image-steps/s",
                per_s(self.attack_step)
            ));
        }
        text
    }
}

/// Times a network (`network`, trained with `full_config`, evaluated under `eval_attack`) through the same training and evaluation code a cell runs, on
/// the first images of the data: each part once to warm up, then repeated until it has run
/// for a set time (two seconds of training), so that a short burst of a fast clock or a
/// quiet moment on a shared machine does not set the estimate.
///
/// # Errors
/// Model, data and tensor errors.
pub fn calibrate(
    network: &ModelConfig,
    full_config: &TrainConfig,
    eval_attack: Option<&PgdConfig>,
    data: &Arc<Cifar10>,
    device: &Device,
) -> Result<Costs> {
    const TRAIN_BATCHES: usize = 24;
    const PROBE_STEPS: usize = 3;
    const TRAIN_SECONDS: f64 = 2.0;
    const EVAL_SECONDS: f64 = 0.5;
    const ATTACK_SECONDS: f64 = 1.0;
    const ADVERSARIAL_SECONDS: f64 = 2.0;
    let mut config = full_config.clone();
    config.adversarial = None;
    let batch = config.batch_size;
    let mut trainer = Trainer::new(network, config, device)?;
    let train = seconds_per_training_image(&mut trainer, data, TRAIN_BATCHES, 2, TRAIN_SECONDS)?;
    let model = trainer.model();
    let m = (4 * batch).min(data.test().len());
    let test_idx = Arc::new((0..m).collect::<Vec<_>>());
    let run_predict = |attack: Option<(&PgdConfig, u64)>| -> Result<()> {
        predict(
            model,
            data,
            SplitName::Test,
            test_idx.clone(),
            batch,
            device,
            attack,
        )?;
        Ok(())
    };
    run_predict(None)?;
    let eval = seconds_per_item(EVAL_SECONDS, m, || run_predict(None))?;
    let attack_step = if eval_attack.is_none() && full_config.adversarial.is_none() {
        0.0
    } else {
        let probe = PgdConfig {
            steps: PROBE_STEPS,
            ..PgdConfig::madry()
        };
        let attacked = seconds_per_item(ATTACK_SECONDS, m, || run_predict(Some((&probe, 0))))?;
        ((attacked - eval) / PROBE_STEPS as f64).max(0.0)
    };
    let adversarial_train = match &full_config.adversarial {
        None => None,
        Some(attack) => {
            let mut trainer = Trainer::new(network, full_config.clone(), device)?;
            let cost = seconds_per_training_image(&mut trainer, data, 4, 1, ADVERSARIAL_SECONDS)?;
            Some((attack.steps, cost))
        }
    };
    Ok(Costs {
        train,
        eval,
        attack_step,
        adversarial_train,
    })
}

/// Seconds per training image of `trainer` on runs of the first `batches` batches of
/// `data`, after `warm_up_batches` untimed ones, timed for at least `min_seconds`.
pub(super) fn seconds_per_training_image(
    trainer: &mut Trainer,
    data: &Arc<Cifar10>,
    batches: usize,
    warm_up_batches: usize,
    min_seconds: f64,
) -> Result<f64> {
    let n = (batches * trainer.config().batch_size).min(data.train().len());
    let indices = Arc::new((0..n).collect::<Vec<_>>());
    trainer.train_partial_epoch(data, indices.clone(), 0, Some(warm_up_batches), &mut |_| {})?;
    let mut epoch = 0;
    seconds_per_item(min_seconds, n, || {
        epoch += 1;
        trainer.train_partial_epoch(data, indices.clone(), epoch, None, &mut |_| {})?;
        Ok(())
    })
}

/// Seconds per item of `work`, which handles `items_per_call` items a call: calls it until
/// at least `min_seconds` have passed (once at the least).
pub(super) fn seconds_per_item(
    min_seconds: f64,
    items_per_call: usize,
    mut work: impl FnMut() -> Result<()>,
) -> Result<f64> {
    let start = Instant::now();
    let mut calls = 0usize;
    while calls == 0 || start.elapsed().as_secs_f64() < min_seconds {
        work()?;
        calls += 1;
    }
    Ok(start.elapsed().as_secs_f64() / (calls * items_per_call).max(1) as f64)
}
