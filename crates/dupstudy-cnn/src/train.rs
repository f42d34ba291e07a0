//! Training: standard or adversarial (Madry: every batch replaced by its PGD examples),
//! seeded and deterministic on the CPU.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use candle_core::Device;
use candle_nn::VarMap;
use dupstudy_cifar::{Augmentation, Cifar10, EpochBatches, EpochPlan, Normalization, SplitName};
use serde::{Deserialize, Serialize};

use crate::config::{ModelConfig, OptimizerConfig};
use crate::error::{CnnError, Result};
use crate::layers;
use crate::model::Cnn;
use crate::optim::Optimizer;
use crate::pgd::{self, PgdConfig};

/// How to train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Optimizer and hyper-parameters.
    pub optimizer: OptimizerConfig,
    /// Images per batch.
    pub batch_size: usize,
    /// Epochs.
    pub epochs: u64,
    /// Random crop + flip (the standard model's training), or none.
    pub augment: bool,
    /// Adversarial training with this attack, or standard training.
    pub adversarial: Option<PgdConfig>,
    /// Seed of the initialization, shuffling, augmentation, dropout and attack starts.
    pub seed: u64,
    /// Batches prepared ahead on a background thread (0: in line).
    pub prefetch: usize,
    /// A last batch of an epoch with fewer images than this joins the batch before it (0:
    /// kept whatever its size; see `dupstudy_cifar::EpochPlan::min_last_batch`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub min_last_batch: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl TrainConfig {
    /// The paper's standard training: SGD (0.01, momentum 0.9, weight decay 5e-4), batch
    /// 128, 30 epochs, crop + flip.
    pub fn paper_standard(seed: u64) -> Self {
        Self {
            optimizer: OptimizerConfig::paper_sgd(),
            batch_size: 128,
            epochs: 30,
            augment: true,
            adversarial: None,
            seed,
            prefetch: 2,
            min_last_batch: 0,
        }
    }

    /// The paper's adversarial training: Adam (1e-3), batch 128, 30 epochs, no augmentation,
    /// each batch replaced by its PGD examples under `attack`.
    pub fn paper_adversarial(seed: u64, attack: PgdConfig) -> Self {
        Self {
            optimizer: OptimizerConfig::paper_adam(),
            batch_size: 128,
            epochs: 30,
            augment: false,
            adversarial: Some(attack),
            seed,
            prefetch: 2,
            min_last_batch: 0,
        }
    }

    /// Checks every field.
    ///
    /// # Errors
    /// [`CnnError::InvalidParameter`] naming it.
    pub fn validate(&self) -> Result<()> {
        self.optimizer.validate()?;
        if self.batch_size == 0 {
            return Err(CnnError::InvalidParameter {
                name: "batch size",
                message: "must be at least 1".into(),
            });
        }
        if let Some(attack) = &self.adversarial {
            attack.validate()?;
        }
        Ok(())
    }
}

/// What one epoch did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// The epoch number (from 0).
    pub epoch: u64,
    /// Mean training loss over the epoch's images (on adversarial inputs when training
    /// adversarially).
    pub loss: f64,
    /// Accuracy on the epoch's training inputs as seen by the optimizer.
    pub accuracy: f64,
    /// Images processed.
    pub images: usize,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Images per second.
    pub images_per_s: f64,
}

/// Progress within an epoch, for progress bars.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchProgress {
    /// Batch index within the epoch.
    pub batch: usize,
    /// Batches in the epoch.
    pub batches: usize,
    /// Images so far this epoch.
    pub images: usize,
    /// Mean loss so far this epoch.
    pub loss: f64,
}

/// A model, its parameters and its optimizer.
pub struct Trainer {
    model: Cnn,
    varmap: VarMap,
    optimizer: Optimizer,
    config: TrainConfig,
    device: Device,
}

impl std::fmt::Debug for Trainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("model", &self.model)
            .field("optimizer", &self.optimizer)
            .field("config", &self.config)
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
struct CheckpointState {
    next_epoch: u64,
    optimizer_steps: u64,
    seed: u64,
    weights: String,
    optimizer: String,
    #[serde(default)]
    extra: serde_json::Value,
}

fn read_state(path: &Path) -> Result<CheckpointState> {
    let fail = |message: String| CnnError::Checkpoint {
        path: path.to_path_buf(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| fail(e.to_string()))
}

/// A 64-bit mix of three numbers (SplitMix64 finalizer), for per-batch seeds.
pub fn mix_seed(a: u64, b: u64, c: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ c.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Trainer {
    /// A fresh model (initialized from `config.seed`) and a fresh optimizer.
    ///
    /// # Errors
    /// [`CnnError::InvalidParameter`] for a bad configuration.
    pub fn new(model_config: &ModelConfig, config: TrainConfig, device: &Device) -> Result<Self> {
        config.validate()?;
        let (varmap, model) = Cnn::init(model_config, mix_seed(config.seed, 1, 0), device)?;
        let optimizer = Optimizer::for_model(config.optimizer, &varmap, model_config)?;
        Ok(Self {
            model,
            varmap,
            optimizer,
            config,
            device: device.clone(),
        })
    }

    /// The model being trained.
    pub fn model(&self) -> &Cnn {
        &self.model
    }

    /// Chooses the layers' kernels (the fast ones by default).
    pub fn set_kernels(&mut self, kernels: crate::Kernels) {
        self.model.set_kernels(kernels);
    }

    /// The parameters.
    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    /// The optimizer.
    pub fn optimizer(&self) -> &Optimizer {
        &self.optimizer
    }

    /// Writes a checkpoint to `dir`: the weights, the optimizer state and `next_epoch`
    /// (the epoch a resumed run starts with), with the caller's `extra` (e.g. the epoch
    /// statistics so far). Files of epoch `k` are written under their own names and
    /// `state.json` is replaced last, atomically, so a kill at any moment leaves either the
    /// previous checkpoint or the new one.
    ///
    /// # Errors
    /// [`CnnError::Checkpoint`] naming the file.
    pub fn save_checkpoint(
        &self,
        dir: &Path,
        next_epoch: u64,
        extra: serde_json::Value,
    ) -> Result<()> {
        let fail = |path: &Path, message: String| CnnError::Checkpoint {
            path: path.to_path_buf(),
            message,
        };
        std::fs::create_dir_all(dir).map_err(|e| fail(dir, e.to_string()))?;
        let weights = dir.join(format!("weights-{next_epoch}.safetensors"));
        let optimizer = dir.join(format!("optimizer-{next_epoch}.safetensors"));
        self.model.save(&weights)?;
        let (steps, state) = self.optimizer.state();
        let state: std::collections::HashMap<String, candle_core::Tensor> =
            state.into_iter().collect();
        if state.is_empty() {
            // safetensors cannot hold an empty map; an optimizer before its first step has
            // no state to keep.
            std::fs::write(&optimizer, b"").map_err(|e| fail(&optimizer, e.to_string()))?;
        } else {
            candle_core::safetensors::save(&state, &optimizer)?;
        }
        let manifest = serde_json::json!({
            "next_epoch": next_epoch,
            "optimizer_steps": steps,
            "seed": self.config.seed,
            "weights": weights.file_name().map(|n| n.to_string_lossy().into_owned()),
            "optimizer": optimizer.file_name().map(|n| n.to_string_lossy().into_owned()),
            "extra": extra,
        });
        let tmp = dir.join("state.json.tmp");
        let target = dir.join("state.json");
        let previous = read_state(&target).ok();
        let bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| fail(&tmp, e.to_string()))?;
        {
            use std::io::Write;
            let mut file = std::fs::File::create(&tmp).map_err(|e| fail(&tmp, e.to_string()))?;
            file.write_all(&bytes)
                .map_err(|e| fail(&tmp, e.to_string()))?;
            file.sync_all().map_err(|e| fail(&tmp, e.to_string()))?;
        }
        std::fs::rename(&tmp, &target).map_err(|e| fail(&target, e.to_string()))?;
        if let Some(previous) = previous
            && previous.next_epoch != next_epoch
        {
            let _ = std::fs::remove_file(dir.join(previous.weights));
            let _ = std::fs::remove_file(dir.join(previous.optimizer));
        }
        Ok(())
    }

    /// Restores the checkpoint in `dir`, if any, and returns the epoch to continue with and
    /// the caller's `extra`.
    ///
    /// # Errors
    /// [`CnnError::Checkpoint`] when the checkpoint exists but is unreadable or belongs to
    /// another seed or model.
    pub fn restore_checkpoint(&mut self, dir: &Path) -> Result<Option<(u64, serde_json::Value)>> {
        let path = dir.join("state.json");
        if !path.is_file() {
            return Ok(None);
        }
        let state = read_state(&path)?;
        if state.seed != self.config.seed {
            return Err(CnnError::Checkpoint {
                path,
                message: format!(
                    "written with seed {}, this run uses {}",
                    state.seed, self.config.seed
                ),
            });
        }
        let config = self.model.config().clone();
        Cnn::load_into(
            &self.varmap,
            &config,
            &dir.join(&state.weights),
            &self.device,
        )?;
        let optimizer_path = dir.join(&state.optimizer);
        let tensors = if std::fs::metadata(&optimizer_path)
            .map(|m| m.len())
            .unwrap_or(0)
            == 0
        {
            std::collections::HashMap::new()
        } else {
            candle_core::safetensors::load(&optimizer_path, &self.device).map_err(|e| {
                CnnError::Checkpoint {
                    path: optimizer_path.clone(),
                    message: e.to_string(),
                }
            })?
        };
        self.optimizer.load_state(state.optimizer_steps, &tensors)?;
        Ok(Some((state.next_epoch, state.extra)))
    }

    /// The training configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Trains one epoch over `indices` of the training split (a repeated index is a
    /// duplicate). Everything random depends only on the seed, the epoch and the batch
    /// number, so an epoch gives the same result whether or not earlier epochs ran in this
    /// process (resuming from a checkpoint is exact).
    ///
    /// # Errors
    /// [`CnnError::Diverged`] if the loss stops being finite; data and tensor errors.
    pub fn train_epoch(
        &mut self,
        data: &Arc<Cifar10>,
        indices: Arc<Vec<usize>>,
        epoch: u64,
        on_batch: &mut dyn FnMut(BatchProgress),
    ) -> Result<EpochStats> {
        self.train_partial_epoch(data, indices, epoch, None, on_batch)
    }

    /// As [`Trainer::train_epoch`], stopping after `max_batches` batches if given (the last
    /// epoch of a run with a fixed number of optimizer steps).
    ///
    /// # Errors
    /// As [`Trainer::train_epoch`].
    pub fn train_partial_epoch(
        &mut self,
        data: &Arc<Cifar10>,
        indices: Arc<Vec<usize>>,
        epoch: u64,
        max_batches: Option<usize>,
        on_batch: &mut dyn FnMut(BatchProgress),
    ) -> Result<EpochStats> {
        let start = Instant::now();
        let plan = EpochPlan {
            indices,
            batch_size: self.config.batch_size,
            shuffle_seed: Some(mix_seed(self.config.seed, 2, 0)),
            epoch,
            augmentation: self.config.augment.then(Augmentation::default),
            normalization: None::<Normalization>,
            min_last_batch: self.config.min_last_batch,
        };
        let batches = max_batches.map_or(plan.n_batches(), |m| m.min(plan.n_batches()));
        let loader = EpochBatches::new(data.clone(), SplitName::Train, plan, self.config.prefetch)?;
        let (mut loss_sum, mut correct, mut images) = (0.0f64, 0usize, 0usize);
        for (b, host) in loader.take(batches).enumerate() {
            let host = host?;
            let n = host.len();
            let (x, y) = host.to_tensors(&self.device)?;
            let batch_seed = mix_seed(self.config.seed, 3 + epoch, b as u64);
            let logits = match &self.config.adversarial {
                None => {
                    self.model.seed_dropout(batch_seed);
                    self.model.logits(&x, true)?
                }
                Some(attack) => {
                    let adversarial = pgd::attack(&self.model, &x, &y, attack, batch_seed)?;
                    self.model.seed_dropout(batch_seed);
                    adversarial.logits(&self.model, true)?
                }
            };
            let loss = layers::cross_entropy(&logits, &y)?;
            let loss_value = loss.to_scalar::<f32>()?;
            if !loss_value.is_finite() {
                return Err(CnnError::Diverged {
                    loss: loss_value,
                    epoch,
                    batch: b,
                });
            }
            self.optimizer.backward_step(&loss)?;
            let predicted = layers::argmax(&logits)?;
            let labels = y.to_vec1::<u32>()?;
            correct += predicted
                .iter()
                .zip(&labels)
                .filter(|(p, l)| p == l)
                .count();
            loss_sum += f64::from(loss_value) * n as f64;
            images += n;
            on_batch(BatchProgress {
                batch: b,
                batches,
                images,
                loss: loss_sum / images as f64,
            });
        }
        let seconds = start.elapsed().as_secs_f64();
        let stats = EpochStats {
            epoch,
            loss: loss_sum / images.max(1) as f64,
            accuracy: correct as f64 / images.max(1) as f64,
            images,
            seconds,
            images_per_s: images as f64 / seconds.max(1e-9),
        };
        tracing::info!(
            epoch,
            loss = stats.loss,
            accuracy = stats.accuracy,
            images_per_s = stats.images_per_s,
            "epoch done"
        );
        Ok(stats)
    }
}
