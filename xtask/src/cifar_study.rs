//! The CIFAR-10 studies (paper Section 4.2, Figures 3 and 4) and the controls the paper
//! lacked, cell by cell.
//!
//! A cell trains one network on one training list and evaluates it. The list is a *base*
//! (a seeded random subset of the training split, or all of it) plus, by variant:
//! - `uniform`: D-rate % of the base as duplicates, drawn uniformly without replacement
//!   (the corrected protocol);
//! - `notebook_copies`: `D-rate / 10` whole copies of the base (the published notebook's
//!   definition, which is where the paper's 74.12 and 75.11 % come from);
//! - `class_weighted`: duplicates drawn with replacement, the first five classes picked
//!   with total probability `favoured_share` (the Gaussian study's bias, on CIFAR-10);
//! - `equal_steps`: no duplicates, but as many optimizer steps as the uniform run at that
//!   D-rate (does "more data" help, or only "more steps"?);
//! - `fresh_data`: D-rate % of *unseen* training images instead of copies;
//! - `paper_attack` (adversarial study only): uniform duplicates, trained and evaluated with
//!   the paper code's PGD (perturbation and clamp on normalized inputs).
//!
//! D-rate 0 is the base alone; every variant except `paper_attack` shares the `uniform`
//! D-rate 0 cell as its baseline.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use candle_core::Device;
use dupstudy_cifar::{Cifar10, SplitName};
use dupstudy_cnn::{ModelConfig, PgdConfig, TrainConfig, Trainer, confusion, predict};
use dupstudy_dup::{Duplication, DuplicationParams, Replacement};
use dupstudy_metrics::{ConfusionMatrix, Summary};
use indicatif::ProgressBar;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::claims::{ClaimCheck, Direction, Verdict, fmt_summary};
use crate::plot::{self, BandPoint, PALETTE, Panel, Series};
use crate::results::{CellStore, config_hash, write_atomic};
use crate::seeding;

/// Bumped when a change alters what a cell computes.
const CELL_VERSION: u32 = 1;
/// Classes the class-weighted variant favours.
const FAVOURED_CLASSES: usize = 5;

/// Which of the paper's two CIFAR experiments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Network {
    /// Standard training (Figure 3).
    Standard,
    /// PGD adversarial training (Figure 4).
    Adversarial,
}

impl Network {
    /// The study's name in paths, ids and the report.
    pub fn study(self) -> &'static str {
        match self {
            Network::Standard => "cifar-standard",
            Network::Adversarial => "cifar-adversarial",
        }
    }
}

/// How the training list is built from the base (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Variant {
    /// Uniform duplicates, D-rate % of the base, without replacement.
    Uniform,
    /// `D-rate / 10` whole copies of the base.
    NotebookCopies,
    /// Duplicates with replacement, the first five classes favoured.
    ClassWeighted {
        /// Total probability of drawing from the favoured classes.
        favoured_share: f64,
    },
    /// The base only, for as many steps as the uniform run at this D-rate.
    EqualSteps,
    /// D-rate % of unseen images added instead of duplicates.
    FreshData,
    /// Uniform duplicates; training and evaluation with the paper code's PGD.
    PaperAttack,
}

impl Variant {
    /// A short name.
    pub fn label(&self) -> String {
        match self {
            Variant::Uniform => "uniform".into(),
            Variant::NotebookCopies => "notebook-copies".into(),
            Variant::ClassWeighted { favoured_share } => format!("class-weighted-{favoured_share}"),
            Variant::EqualSteps => "equal-steps".into(),
            Variant::FreshData => "fresh-data".into(),
            Variant::PaperAttack => "paper-attack".into(),
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            Variant::Uniform => "uniform duplicates (D-rate % of the base, without replacement)",
            Variant::NotebookCopies => {
                "the notebook's definition (D-rate/10 whole copies of the base)"
            }
            Variant::ClassWeighted { .. } => {
                "class-weighted duplicates (classes 0-4 favoured, with replacement)"
            }
            Variant::EqualSteps => {
                "control: no duplicates, as many optimizer steps as the uniform run"
            }
            Variant::FreshData => "control: D-rate % of unseen images instead of copies",
            Variant::PaperAttack => {
                "uniform duplicates, trained and attacked with the paper code's PGD"
            }
        }
    }
}

/// What every cell of one CIFAR study shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Setting {
    /// Which network and training.
    pub network: Network,
    /// Size of the training base.
    pub base_images: usize,
    /// Test images for clean accuracy (the first ones of the test split).
    pub test_images: usize,
    /// Test images attacked for robust accuracy (adversarial study).
    pub robust_test_images: usize,
    /// Epochs over the training list.
    pub epochs: u64,
    /// Images per batch.
    pub batch_size: usize,
    /// The attack used for adversarial training (Madry's PGD).
    pub train_attack: Option<PgdConfig>,
    /// The attack used to measure robust accuracy.
    pub eval_attack: Option<PgdConfig>,
    /// SHA-256 of the data files, so results of other data never mix.
    pub data_sha256: String,
}

/// One cell's configuration; its id is derived from all of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellSpec {
    /// `cifar-standard` or `cifar-adversarial`.
    pub study: String,
    /// How the training list is built.
    pub variant: Variant,
    /// D-rate in percent of the base.
    pub d_rate: f64,
    /// Seed of the base, the duplicates, the initialization and every random draw.
    pub seed: u64,
    /// The shared setting.
    pub setting: Setting,
    /// [`CELL_VERSION`].
    pub version: u32,
}

impl CellSpec {
    /// `<study>-<variant>-d<rate>-s<seed>-<hash of everything>`.
    pub fn id(&self) -> Result<String> {
        Ok(format!(
            "{}-{}-d{}-s{}-{}",
            self.study,
            self.variant.label(),
            self.d_rate,
            self.seed,
            config_hash(self)?
        ))
    }

    fn model(&self) -> ModelConfig {
        match self.setting.network {
            Network::Standard => ModelConfig::standard(),
            Network::Adversarial => ModelConfig::adversarial(),
        }
    }

    fn train_config(&self) -> TrainConfig {
        let seed = seeding::seed_u64(&format!("cifar/train/seed={}", self.seed));
        let mut config = match self.setting.network {
            Network::Standard => TrainConfig::paper_standard(seed),
            Network::Adversarial => {
                let attack = if self.variant == Variant::PaperAttack {
                    PgdConfig::paper_code()
                } else {
                    self.setting.train_attack.unwrap_or_else(PgdConfig::madry)
                };
                TrainConfig::paper_adversarial(seed, attack)
            }
        };
        config.epochs = self.setting.epochs;
        config.batch_size = self.setting.batch_size;
        config
    }

    fn eval_attack(&self) -> Option<PgdConfig> {
        match (self.setting.network, self.variant) {
            (Network::Standard, _) => None,
            (Network::Adversarial, Variant::PaperAttack) => Some(PgdConfig::paper_code()),
            (Network::Adversarial, _) => self.setting.eval_attack,
        }
    }
}

/// A finished cell, as stored in `cells/<id>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CellRecord {
    /// The cell id.
    pub id: String,
    /// Its configuration.
    pub spec: CellSpec,
    /// Images in the training list (base + duplicates or fresh images).
    pub train_list: usize,
    /// Duplicates per class (empty for variants without duplicates).
    pub duplicates_per_class: Vec<usize>,
    /// Optimizer steps taken.
    pub steps: u64,
    /// Per-epoch statistics.
    pub epochs: Vec<dupstudy_cnn::EpochStats>,
    /// Clean test confusion matrix.
    pub test: ConfusionMatrix,
    /// Clean confusion matrix on the base (the original training set).
    pub train_original: ConfusionMatrix,
    /// Clean confusion matrix on the training list, duplicates counted as often as they
    /// occur.
    pub train_list_confusion: ConfusionMatrix,
    /// Confusion matrix under the evaluation attack (adversarial study).
    pub robust: Option<ConfusionMatrix>,
    /// Wall time of the cell, seconds (including any earlier run it resumed).
    pub seconds: f64,
    /// The compute device.
    pub device: String,
}

/// A planned study: its setting, the cells and what the report needs to know.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The network.
    pub network: Network,
    /// Every cell, baselines first.
    pub cells: Vec<CellSpec>,
}

/// Which cells a profile plans for one network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanRequest {
    /// The shared setting of the main series.
    pub setting: Setting,
    /// Seeds of the main series.
    pub seeds: u64,
    /// D-rates of the main (uniform) series.
    pub d_rates: Vec<f64>,
    /// `(variant, D-rates, seeds)` of the other series.
    pub extra: Vec<(Variant, Vec<f64>, u64)>,
}

impl PlanRequest {
    /// The cells, with D-rate 0 of every variant but `paper_attack` mapped to the uniform
    /// baseline; duplicates removed.
    ///
    /// # Errors
    /// A D-rate that a variant cannot provide (e.g. fresh images beyond the training split,
    /// a notebook D-rate that is not a multiple of 10), naming the flag.
    pub fn plan(&self, train_size: usize) -> Result<Plan> {
        let s = &self.setting;
        if s.base_images == 0 || s.base_images > train_size {
            bail!(
                "--train-subset must lie in 1..={train_size}, got {}",
                s.base_images
            );
        }
        if s.epochs == 0 {
            bail!("--epochs must be at least 1");
        }
        if s.batch_size == 0 {
            bail!("the batch size must be at least 1");
        }
        if self.seeds == 0 {
            bail!("--seeds must be at least 1");
        }
        let spec = |variant, d_rate, seed| CellSpec {
            study: s.network.study().into(),
            variant,
            d_rate,
            seed,
            setting: s.clone(),
            version: CELL_VERSION,
        };
        let mut cells: Vec<CellSpec> = Vec::new();
        let push = |cells: &mut Vec<CellSpec>, cell: CellSpec| {
            if !cells.contains(&cell) {
                cells.push(cell);
            }
        };
        let mut series: Vec<(Variant, Vec<f64>, u64)> =
            vec![(Variant::Uniform, self.d_rates.clone(), self.seeds)];
        series.extend(self.extra.iter().cloned());
        for (variant, d_rates, seeds) in &series {
            for &d in d_rates {
                if !(d.is_finite() && d >= 0.0) {
                    bail!("--d-rates: {d} is not a valid D-rate");
                }
                match variant {
                    Variant::Uniform | Variant::PaperAttack | Variant::EqualSteps if d > 100.0 => {
                        bail!(
                            "--d-rates: {d} % cannot be drawn without replacement from the base (at most 100)"
                        )
                    }
                    Variant::NotebookCopies if d % 10.0 != 0.0 => {
                        bail!(
                            "notebook D-rates must be multiples of 10 (D-rate p appends p/10 copies), got {d}"
                        )
                    }
                    Variant::FreshData
                        if s.base_images + (s.base_images as f64 * d / 100.0).round() as usize
                            > train_size =>
                    {
                        bail!(
                            "fresh-data control at D-rate {d}: a base of {} images leaves too few unseen images in {train_size}; use a smaller --train-subset",
                            s.base_images
                        )
                    }
                    _ => {}
                }
            }
            for seed in 0..*seeds {
                for &d in d_rates {
                    let variant = if d == 0.0 && *variant != Variant::PaperAttack {
                        Variant::Uniform
                    } else {
                        *variant
                    };
                    push(&mut cells, spec(variant, d, seed));
                }
            }
        }
        // Every series needs its baseline.
        let baselines: Vec<CellSpec> = cells
            .iter()
            .map(|c| {
                let variant = if c.variant == Variant::PaperAttack {
                    Variant::PaperAttack
                } else {
                    Variant::Uniform
                };
                spec(variant, 0.0, c.seed)
            })
            .collect();
        for b in baselines {
            push(&mut cells, b);
        }
        cells.sort_by(|a, b| {
            (
                a.d_rate > 0.0,
                a.variant.label(),
                a.seed,
                a.d_rate.to_bits(),
            )
                .cmp(&(
                    b.d_rate > 0.0,
                    b.variant.label(),
                    b.seed,
                    b.d_rate.to_bits(),
                ))
        });
        Ok(Plan {
            network: s.network,
            cells,
        })
    }
}

/// The training list of a cell, and the duplicates per class.
fn training_list(spec: &CellSpec, data: &Cifar10) -> Result<(Vec<usize>, Vec<usize>, Vec<usize>)> {
    let train = data.train();
    let mut order: Vec<usize> = (0..train.len()).collect();
    order.shuffle(&mut seeding::stream(&format!(
        "cifar/base/seed={}",
        spec.seed
    )));
    let base_len = spec.setting.base_images.min(order.len());
    let base: Vec<usize> = order[..base_len].to_vec();
    let base_labels: Vec<u8> = base.iter().map(|&i| train.labels()[i]).collect();
    let d = spec.d_rate;
    let dup_key = format!(
        "cifar/duplicates/{}/d_rate={d}/n={base_len}/seed={}",
        spec.variant.label(),
        spec.seed
    );
    let draw =
        |policy: Duplication, replacement: Replacement| -> Result<(Vec<usize>, Vec<usize>)> {
            let sampler = DuplicationParams::default()
                .d_rate(d)
                .policy(policy)
                .replacement(replacement)
                .check()?;
            let draw = sampler.draw(&base_labels, &mut seeding::stream(&dup_key))?;
            let mut list = base.clone();
            list.extend(draw.indices.iter().map(|&k| base[k]));
            Ok((list, draw.per_class))
        };
    let (list, per_class) = match spec.variant {
        _ if d == 0.0 => (base.clone(), Vec::new()),
        Variant::Uniform | Variant::PaperAttack => {
            draw(Duplication::Uniform, Replacement::Without)?
        }
        Variant::ClassWeighted { favoured_share } => {
            let weights: Vec<f64> = (0..dupstudy_cifar::N_CLASSES)
                .map(|c| {
                    if c < FAVOURED_CLASSES {
                        favoured_share / FAVOURED_CLASSES as f64
                    } else {
                        (1.0 - favoured_share)
                            / (dupstudy_cifar::N_CLASSES - FAVOURED_CLASSES) as f64
                    }
                })
                .collect();
            draw(Duplication::ClassWeighted(weights), Replacement::With)?
        }
        Variant::NotebookCopies => {
            let copies = (d / 10.0) as usize;
            let mut list = base.clone();
            list.extend(
                dupstudy_dup::whole_set_copies(base.len(), copies)
                    .into_iter()
                    .map(|k| base[k]),
            );
            let mut per_class = vec![0; dupstudy_cifar::N_CLASSES];
            for &l in &base_labels {
                per_class[usize::from(l)] += copies;
            }
            (list, per_class)
        }
        Variant::EqualSteps => (base.clone(), Vec::new()),
        Variant::FreshData => {
            let extra = (base_len as f64 * d / 100.0).round() as usize;
            if base_len + extra > order.len() {
                bail!(
                    "cell {}: not enough unseen images for the fresh-data control",
                    spec.id()?
                );
            }
            let mut list = base.clone();
            list.extend_from_slice(&order[base_len..base_len + extra]);
            (list, Vec::new())
        }
    };
    Ok((base, list, per_class))
}

/// The total optimizer steps of a cell: the uniform run's at this D-rate for the
/// equal-steps control, else epochs over the list.
fn step_budget(spec: &CellSpec, list_len: usize) -> u64 {
    let b = spec.setting.batch_size;
    let per_epoch = |n: usize| n.div_ceil(b) as u64;
    match spec.variant {
        Variant::EqualSteps if spec.d_rate > 0.0 => {
            let uniform_len = spec.setting.base_images
                + (spec.setting.base_images as f64 * spec.d_rate / 100.0).round() as usize;
            spec.setting.epochs * per_epoch(uniform_len)
        }
        _ => spec.setting.epochs * per_epoch(list_len),
    }
}

/// Measured costs of one network's work in seconds per image, for time estimates.
#[derive(Debug, Clone, Copy, Default)]
pub struct Costs {
    /// Training on one image without an attack: preparing its batch on the prefetch
    /// thread, forward with dropout, backward and the optimizer update.
    pub train: f64,
    /// Predicting one image.
    pub eval: f64,
    /// One PGD step on one image (forward and backward to the input), as evaluation under
    /// attack runs it.
    pub attack_step: f64,
    /// Adversarial training of one image, timed as it runs (PGD examples, then the
    /// training step on them), with the number of PGD steps it used; `None` when the
    /// timed cell does not train adversarially. Timed directly because it costs more
    /// than training plus that many evaluation-time PGD steps (about 25 % more, measured).
    pub adversarial_train: Option<(usize, f64)>,
}

/// Times `spec`'s network through the same training and evaluation code a cell runs, on
/// the first images of `data`: each part once to warm up, then repeated until it has run
/// for a set time (two seconds of training), so that a short burst of a fast clock or a
/// quiet moment on a shared machine does not set the estimate.
///
/// # Errors
/// Model, data and tensor errors.
pub fn calibrate(spec: &CellSpec, data: &Arc<Cifar10>, device: &Device) -> Result<Costs> {
    const TRAIN_BATCHES: usize = 24;
    const PROBE_STEPS: usize = 3;
    const TRAIN_SECONDS: f64 = 2.0;
    const EVAL_SECONDS: f64 = 0.5;
    const ATTACK_SECONDS: f64 = 1.0;
    const ADVERSARIAL_SECONDS: f64 = 2.0;
    let full_config = spec.train_config();
    let mut config = full_config.clone();
    config.adversarial = None;
    let batch = config.batch_size;
    let mut trainer = Trainer::new(&spec.model(), config, device)?;
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
    let attack_step = if attack_steps(spec) == (0, 0) {
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
            let steps = attack.steps;
            let mut trainer = Trainer::new(&spec.model(), full_config.clone(), device)?;
            let cost = seconds_per_training_image(&mut trainer, data, 4, 1, ADVERSARIAL_SECONDS)?;
            Some((steps, cost))
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
fn seconds_per_training_image(
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
fn seconds_per_item(
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
    Ok(start.elapsed().as_secs_f64() / (calls * items_per_call) as f64)
}

/// Estimated seconds of one cell from its network's measured `costs`.
pub fn estimate_seconds(spec: &CellSpec, costs: &Costs) -> f64 {
    let (train, eval, attacked) = cell_workload(spec);
    let (train_steps, eval_steps) = attack_steps(spec);
    let train_per_image = match costs.adversarial_train {
        Some((timed_steps, cost)) if train_steps > 0 => {
            (cost + (train_steps as f64 - timed_steps as f64) * costs.attack_step).max(costs.train)
        }
        _ => costs.train + train_steps as f64 * costs.attack_step,
    };
    train * train_per_image
        + eval * costs.eval
        + attacked * (costs.eval + eval_steps as f64 * costs.attack_step)
}

/// PGD steps per image of a cell's training and of its attacked evaluation (0 without an
/// attack), for time estimates.
fn attack_steps(spec: &CellSpec) -> (usize, usize) {
    (
        spec.train_config().adversarial.map_or(0, |a| a.steps),
        spec.eval_attack().map_or(0, |a| a.steps),
    )
}

/// Images a cell trains on and evaluates, for time estimates: `(train, eval, attacked
/// eval)`; [`attack_steps`] gives the attack's cost on the first and the last.
fn cell_workload(spec: &CellSpec) -> (f64, f64, f64) {
    let s = &spec.setting;
    let d = spec.d_rate / 100.0;
    let list = match spec.variant {
        Variant::NotebookCopies => s.base_images as f64 * (1.0 + (spec.d_rate / 10.0).floor()),
        _ => s.base_images as f64 * (1.0 + d),
    };
    let train = s.epochs as f64 * list;
    let eval = (s.test_images + s.base_images) as f64
        + if spec.variant == Variant::FreshData {
            list - s.base_images as f64
        } else {
            0.0
        };
    let attacked_eval = if spec.eval_attack().is_some() {
        s.robust_test_images as f64
    } else {
        0.0
    };
    (train, eval, attacked_eval)
}

/// Runs one cell: resumes from its checkpoint if there is one, saves a checkpoint after
/// every epoch, and returns the finished record. The caller writes it.
pub fn run_cell(
    spec: &CellSpec,
    data: &Arc<Cifar10>,
    device: &Device,
    checkpoints: &Path,
    bar: &ProgressBar,
) -> Result<CellRecord> {
    let start = Instant::now();
    let id = spec.id()?;
    let (base, list, per_class) = training_list(spec, data)?;
    let list = Arc::new(list);
    let mut trainer = Trainer::new(&spec.model(), spec.train_config(), device)?;
    let dir = checkpoints.join(&id);
    let (mut epoch, mut stats, mut seconds_before): (u64, Vec<dupstudy_cnn::EpochStats>, f64) =
        match trainer
            .restore_checkpoint(&dir)
            .with_context(|| format!("resuming cell {id}"))?
        {
            Some((next, extra)) => {
                let stats = serde_json::from_value(extra["epochs"].clone()).unwrap_or_default();
                let seconds = extra["seconds"].as_f64().unwrap_or(0.0);
                tracing::info!(%id, next, "resumed from checkpoint");
                (next, stats, seconds)
            }
            None => (0, Vec::new(), 0.0),
        };
    let budget = step_budget(spec, list.len());
    let per_epoch = list.len().div_ceil(spec.setting.batch_size) as u64;
    let total_epochs = budget.div_ceil(per_epoch);
    bar.set_length(budget);
    bar.set_position((epoch * per_epoch).min(budget));
    while epoch < total_epochs {
        let done = epoch * per_epoch;
        let limit = (budget - done).min(per_epoch) as usize;
        bar.set_message(format!("epoch {}/{total_epochs}", epoch + 1));
        let position = bar.position();
        let epoch_stats =
            trainer.train_partial_epoch(data, list.clone(), epoch, Some(limit), &mut |p| {
                bar.set_position(position + p.batch as u64 + 1);
            })?;
        bar.set_message(format!(
            "epoch {}/{total_epochs}, {:.0} images/s",
            epoch + 1,
            epoch_stats.images_per_s
        ));
        stats.push(epoch_stats);
        epoch += 1;
        let elapsed = seconds_before + start.elapsed().as_secs_f64();
        trainer.save_checkpoint(
            &dir,
            epoch,
            serde_json::json!({ "epochs": stats, "seconds": elapsed }),
        )?;
        seconds_before = elapsed - start.elapsed().as_secs_f64();
    }
    bar.set_message("evaluating");
    let model = trainer.model();
    let test = Arc::new((0..spec.setting.test_images.min(data.test().len())).collect::<Vec<_>>());
    let batch = 500;
    let test_pred = predict(
        model,
        data,
        SplitName::Test,
        test.clone(),
        batch,
        device,
        None,
    )?;
    let test_confusion = confusion(&test, data.test().labels(), &test_pred)?;
    // Predict each distinct training image once; the list's accuracy weights repeats.
    let mut unique: Vec<usize> = list.as_ref().clone();
    unique.sort_unstable();
    unique.dedup();
    let unique = Arc::new(unique);
    let unique_pred = predict(
        model,
        data,
        SplitName::Train,
        unique.clone(),
        batch,
        device,
        None,
    )?;
    let lookup = |i: usize| -> u8 {
        unique
            .binary_search(&i)
            .map(|k| unique_pred[k])
            .unwrap_or(u8::MAX)
    };
    let base_pred: Vec<u8> = base.iter().map(|&i| lookup(i)).collect();
    let list_pred: Vec<u8> = list.iter().map(|&i| lookup(i)).collect();
    let train_original = confusion(&base, data.train().labels(), &base_pred)?;
    let train_list_confusion = confusion(&list, data.train().labels(), &list_pred)?;
    let robust = match spec.eval_attack() {
        Some(attack) => {
            bar.set_message("attacking the test set");
            let robust_idx = Arc::new(
                (0..spec.setting.robust_test_images.min(data.test().len())).collect::<Vec<_>>(),
            );
            let seed = seeding::seed_u64(&format!("cifar/eval-attack/seed={}", spec.seed));
            let pred = predict(
                model,
                data,
                SplitName::Test,
                robust_idx.clone(),
                batch,
                device,
                Some((&attack, seed)),
            )?;
            Some(confusion(&robust_idx, data.test().labels(), &pred)?)
        }
        None => None,
    };
    Ok(CellRecord {
        id,
        spec: spec.clone(),
        train_list: list.len(),
        duplicates_per_class: per_class,
        steps: trainer.optimizer().steps(),
        epochs: stats,
        test: test_confusion,
        train_original,
        train_list_confusion,
        robust,
        seconds: seconds_before + start.elapsed().as_secs_f64(),
        device: dupstudy_cnn::device::describe(device),
    })
}

/// The paper's numbers: standard test accuracy and adversarial clean accuracy at D-rates
/// 0, 30 and 60 (Section 4.3 and 4.4).
const PAPER_STANDARD: [(f64, f64); 3] = [(0.0, 70.72), (30.0, 74.12), (60.0, 75.11)];
const PAPER_ADVERSARIAL_CLEAN: [(f64, f64); 3] = [(0.0, 41.16), (30.0, 27.39), (60.0, 20.90)];

/// What the report needs from one CIFAR study.
pub struct Outcome {
    /// The report section.
    pub report: String,
    /// Claim checks.
    pub claims: Vec<ClaimCheck>,
    /// Total cell seconds.
    pub cell_seconds: f64,
}

/// A metric of a cell record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Measure {
    Test,
    TrainOriginal,
    TrainList,
    Robust,
    FavouredTest,
    OtherTest,
}

impl Measure {
    fn of(self, r: &CellRecord) -> Option<f64> {
        let group = |range: std::ops::Range<usize>| {
            let accs: Vec<f64> = range.filter_map(|c| r.test.class_accuracy(c)).collect();
            (!accs.is_empty()).then(|| accs.iter().sum::<f64>() / accs.len() as f64)
        };
        match self {
            Measure::Test => r.test.accuracy(),
            Measure::TrainOriginal => r.train_original.accuracy(),
            Measure::TrainList => r.train_list_confusion.accuracy(),
            Measure::Robust => r.robust.as_ref().and_then(ConfusionMatrix::accuracy),
            Measure::FavouredTest => group(0..FAVOURED_CLASSES),
            Measure::OtherTest => group(FAVOURED_CLASSES..dupstudy_cifar::N_CLASSES),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Measure::Test => "test_accuracy",
            Measure::TrainOriginal => "train_accuracy_original",
            Measure::TrainList => "train_accuracy_duplicated",
            Measure::Robust => "robust_accuracy",
            Measure::FavouredTest => "test_accuracy_classes_0_4",
            Measure::OtherTest => "test_accuracy_classes_5_9",
        }
    }
}

/// Loads the cells of `plan`, writes `summary.csv` and the figures into `out_dir`, and
/// returns the report section.
pub fn aggregate(
    plan: &Plan,
    store: &CellStore,
    out_dir: &Path,
    figure_prefix: &str,
) -> Result<Outcome> {
    let mut records: Vec<CellRecord> = Vec::new();
    for spec in &plan.cells {
        let id = spec.id()?;
        let record: CellRecord = store
            .load(&id)?
            .with_context(|| format!("cell {id} is missing from {}", store.dir().display()))?;
        records.push(record);
    }
    let cell_seconds = records.iter().map(|r| r.seconds).sum();
    let network = plan.network;
    let baseline_variant = |v: Variant| {
        if v == Variant::PaperAttack {
            Variant::PaperAttack
        } else {
            Variant::Uniform
        }
    };
    let find = |variant: Variant, d: f64, seed: u64| {
        records.iter().find(|r| {
            let v = if d == 0.0 {
                baseline_variant(variant)
            } else {
                variant
            };
            r.spec.variant == v && r.spec.d_rate.to_bits() == d.to_bits() && r.spec.seed == seed
        })
    };
    // Series: (variant, d-rates with their per-seed records).
    let mut variants: Vec<Variant> = Vec::new();
    for r in &records {
        if r.spec.d_rate > 0.0 && !variants.contains(&r.spec.variant) {
            variants.push(r.spec.variant);
        }
    }
    if variants.is_empty() {
        variants.push(Variant::Uniform);
    }
    let rank = |v: &Variant| match v {
        Variant::Uniform => 0,
        Variant::NotebookCopies => 1,
        Variant::PaperAttack => 2,
        Variant::ClassWeighted { .. } => 3,
        Variant::EqualSteps => 4,
        Variant::FreshData => 5,
    };
    variants.sort_by_key(rank);
    let series_points = |variant: Variant| -> Vec<(f64, Vec<&CellRecord>)> {
        let mut d_rates: Vec<f64> = records
            .iter()
            .filter(|r| {
                r.spec.variant == variant
                    || (r.spec.d_rate == 0.0 && r.spec.variant == baseline_variant(variant))
            })
            .map(|r| r.spec.d_rate)
            .collect();
        d_rates.sort_by(f64::total_cmp);
        d_rates.dedup();
        d_rates
            .into_iter()
            .map(|d| {
                let cells: Vec<&CellRecord> = records
                    .iter()
                    .filter(|r| {
                        r.spec.d_rate.to_bits() == d.to_bits()
                            && (r.spec.variant == variant
                                || (d == 0.0 && r.spec.variant == baseline_variant(variant)))
                    })
                    .collect();
                (d, cells)
            })
            .collect()
    };
    let summary_of = |cells: &[&CellRecord], measure: Measure| -> Option<Summary> {
        let values: Vec<f64> = cells.iter().filter_map(|r| measure.of(r)).collect();
        Summary::of(&values).ok()
    };
    // Paired difference (cell - its D-rate 0 baseline of the same seed).
    let delta_of = |cells: &[&CellRecord], measure: Measure| -> Option<Summary> {
        let values: Vec<f64> = cells
            .iter()
            .filter_map(|r| {
                let base = find(r.spec.variant, 0.0, r.spec.seed)?;
                Some(measure.of(r)? - measure.of(base)?)
            })
            .collect();
        Summary::of(&values).ok()
    };

    let measures: Vec<Measure> = match network {
        Network::Standard => vec![
            Measure::Test,
            Measure::TrainOriginal,
            Measure::TrainList,
            Measure::FavouredTest,
            Measure::OtherTest,
        ],
        Network::Adversarial => vec![
            Measure::Test,
            Measure::Robust,
            Measure::TrainOriginal,
            Measure::TrainList,
        ],
    };
    let mut csv =
        String::from("study,variant,d_rate,statistic,metric,n,mean,std,ci95_low,ci95_high\n");
    for &variant in &variants {
        for (d, cells) in series_points(variant) {
            for &m in &measures {
                for (stat, s) in [
                    ("value", summary_of(&cells, m)),
                    ("delta_vs_d0", delta_of(&cells, m)),
                ] {
                    if let Some(s) = s {
                        csv.push_str(&format!(
                            "{},{},{d},{stat},{},{},{},{},{},{}\n",
                            network.study(),
                            variant.label(),
                            m.name(),
                            s.n,
                            s.mean,
                            s.std.map_or(String::new(), |v| v.to_string()),
                            s.ci_low(),
                            s.ci_high()
                        ));
                    }
                }
            }
        }
    }
    write_atomic(&out_dir.join("summary.csv"), csv.as_bytes())?;

    // Figure: accuracy against D-rate for every series.
    let band = |s: &Summary, x: f64| BandPoint {
        x,
        mean: 100.0 * s.mean,
        low: 100.0 * s.ci_low(),
        high: 100.0 * s.ci_high(),
    };
    let series_for = |measure: Measure, pick: &dyn Fn(Variant) -> bool| -> Vec<Series> {
        variants
            .iter()
            .enumerate()
            .filter(|(_, v)| pick(**v))
            .map(|(k, &v)| Series {
                name: v.label(),
                points: series_points(v)
                    .into_iter()
                    .filter_map(|(d, cells)| summary_of(&cells, measure).map(|s| band(&s, d)))
                    .collect(),
                color: PALETTE[k % PALETTE.len()],
                dashed: matches!(v, Variant::EqualSteps | Variant::FreshData),
            })
            .filter(|s| !s.points.is_empty())
            .collect()
    };
    let mut panels = vec![Panel {
        title: "Clean test accuracy".into(),
        x_label: "D-rate (%)".into(),
        y_label: "accuracy (%)".into(),
        y_range: None,
        series: series_for(Measure::Test, &|_| true),
    }];
    match network {
        Network::Standard => {
            let mut train_series = Vec::new();
            for (k, (measure, name)) in [
                (Measure::TrainOriginal, "original set"),
                (Measure::TrainList, "duplicated set"),
            ]
            .into_iter()
            .enumerate()
            {
                train_series.push(Series {
                    name: format!("uniform, {name}"),
                    points: series_points(Variant::Uniform)
                        .into_iter()
                        .filter_map(|(d, cells)| summary_of(&cells, measure).map(|s| band(&s, d)))
                        .collect(),
                    color: PALETTE[k + 4],
                    dashed: k == 1,
                });
            }
            panels.push(Panel {
                title: "Training accuracy (uniform duplicates)".into(),
                x_label: "D-rate (%)".into(),
                y_label: "accuracy (%)".into(),
                y_range: None,
                series: train_series,
            });
        }
        Network::Adversarial => panels.push(Panel {
            title: "Robust test accuracy (each series under its own attack)".into(),
            x_label: "D-rate (%)".into(),
            y_label: "accuracy under attack (%)".into(),
            y_range: None,
            series: series_for(Measure::Robust, &|_| true),
        }),
    }
    let figure = format!("{}.svg", network.study());
    let caption = match network {
        Network::Standard => "CIFAR-10, standard training (paper Figure 3 redrawn, with controls)",
        Network::Adversarial => "CIFAR-10, adversarial training (paper Figure 4 redrawn)",
    };
    plot::panels_svg(&out_dir.join(&figure), caption, &panels)?;

    // Report section.
    let s = &plan.cells[0].setting;
    let mut md = format!(
        "{} network of the paper's code, {} training images in the base (a seeded random subset per seed{}), \
         {} epochs, batch {}, test accuracy on the first {} test images{}. Seeds: {}. \
         Δ is a cell minus its D-rate-0 baseline of the same seed (same base, same initialization).\n\n\
         ![{caption}]({figure_prefix}{figure})\n\n",
        match network {
            Network::Standard =>
                "The standard (16/32/128, dropout 0.5; SGD 0.01, momentum 0.9, weight decay 5e-4, crop + flip)",
            Network::Adversarial =>
                "The adversarial-training (32/64/256; Adam 1e-3, no augmentation)",
        },
        s.base_images,
        if s.base_images >= 50_000 {
            "; here the whole training split"
        } else {
            ""
        },
        s.epochs,
        s.batch_size,
        s.test_images,
        match (network, &s.train_attack, &s.eval_attack) {
            (Network::Adversarial, Some(t), Some(e)) => format!(
                "; trained on PGD-{} examples (eps {:.4}, step {:.4}, random start), robust accuracy under PGD-{} on the first {} test images",
                t.steps, t.epsilon, t.step_size, e.steps, s.robust_test_images
            ),
            _ => String::new(),
        },
        records
            .iter()
            .map(|r| r.spec.seed)
            .max()
            .map_or(0, |m| m + 1)
    );
    for &variant in &variants {
        md.push_str(&format!(
            "**{}** — {}\n\n",
            variant.label(),
            variant.describe()
        ));
        let mut header = "| D-rate | seeds | test acc. (%) | Δ test (pts) |".to_string();
        let mut rule = "|---:|---:|---|---|".to_string();
        match network {
            Network::Standard => {
                header.push_str(" train acc., original / duplicated (%) |");
                rule.push_str("---|");
                if matches!(variant, Variant::ClassWeighted { .. }) {
                    header.push_str(" Δ classes 0-4 / 5-9 (pts) |");
                    rule.push_str("---|");
                }
            }
            Network::Adversarial => {
                header.push_str(" robust acc. (%) | Δ robust (pts) |");
                rule.push_str("---|---|");
            }
        }
        md.push_str(&format!("{header}\n{rule}\n"));
        for (d, cells) in series_points(variant) {
            let f = |m: Measure| {
                summary_of(&cells, m).map_or("—".to_string(), |s| fmt_summary(&s, true))
            };
            let fd = |m: Measure| {
                if d == 0.0 {
                    "—".to_string()
                } else {
                    delta_of(&cells, m).map_or("—".to_string(), |s| fmt_summary(&s, true))
                }
            };
            let mut row = format!(
                "| {d} | {} | {} | {} |",
                cells.len(),
                f(Measure::Test),
                fd(Measure::Test)
            );
            match network {
                Network::Standard => {
                    row.push_str(&format!(
                        " {} / {} |",
                        f(Measure::TrainOriginal),
                        f(Measure::TrainList)
                    ));
                    if matches!(variant, Variant::ClassWeighted { .. }) {
                        row.push_str(&format!(
                            " {} / {} |",
                            fd(Measure::FavouredTest),
                            fd(Measure::OtherTest)
                        ));
                    }
                }
                Network::Adversarial => row.push_str(&format!(
                    " {} | {} |",
                    f(Measure::Robust),
                    fd(Measure::Robust)
                )),
            }
            md.push_str(&row);
            md.push('\n');
        }
        md.push('\n');
    }

    // Claims.
    let mut claims = Vec::new();
    let delta_at = |variant: Variant, d: f64, m: Measure| -> Option<Summary> {
        series_points(variant)
            .into_iter()
            .find(|(x, _)| x.to_bits() == d.to_bits())
            .and_then(|(_, cells)| delta_of(&cells, m))
    };
    let verdict = |s: &Option<Summary>, dir: Direction| {
        s.as_ref()
            .map_or(Verdict::NotTested("not in this run's plan".into()), |s| {
                Verdict::from_summary(s, dir)
            })
    };
    let shown = |s: &Option<Summary>| {
        s.as_ref().map_or("not run".to_string(), |s| {
            format!("{} pts", fmt_summary(s, true))
        })
    };
    let largest = |variant: Variant| {
        series_points(variant)
            .into_iter()
            .map(|(d, _)| d)
            .fold(0.0, f64::max)
    };
    match network {
        Network::Standard => {
            for (d, paper) in [
                (30.0, "70.72 → 74.12 (+3.40, one run)"),
                (60.0, "70.72 → 75.11 (+4.39, one run)"),
            ] {
                let ours = delta_at(Variant::Uniform, d, Measure::Test);
                let notebook = delta_at(Variant::NotebookCopies, d, Measure::Test);
                claims.push(ClaimCheck {
                    id: format!("S-{d}"),
                    claim: format!(
                        "Standard training: D-rate {d} raises test accuracy over no duplicates"
                    ),
                    paper: paper.into(),
                    ours: format!("uniform % definition: Δ {}", shown(&ours)),
                    verdict: verdict(&ours, Direction::Positive),
                    ours_paper_way: Some((
                        format!(
                            "notebook definition ({} copies): Δ {}",
                            d / 10.0,
                            shown(&notebook)
                        ),
                        verdict(&notebook, Direction::Positive),
                    )),
                });
            }
            let top = largest(Variant::Uniform);
            if top > 60.0 {
                let (d60, dtop) = (series_points(Variant::Uniform), top);
                let diff: Option<Summary> = {
                    let at = |d: f64| {
                        d60.iter()
                            .find(|(x, _)| x.to_bits() == d.to_bits())
                            .map(|(_, c)| c.clone())
                    };
                    match (at(60.0), at(dtop)) {
                        (Some(a), Some(b)) => {
                            let values: Vec<f64> = b
                                .iter()
                                .filter_map(|rb| {
                                    let ra = a.iter().find(|r| r.spec.seed == rb.spec.seed)?;
                                    Some(Measure::Test.of(rb)? - Measure::Test.of(ra)?)
                                })
                                .collect();
                            Summary::of(&values).ok()
                        }
                        _ => None,
                    }
                };
                claims.push(ClaimCheck {
                    id: "S-plateau".into(),
                    claim: format!("Beyond D-rate 60 more duplication brings no further gain (D-rate {dtop} vs 60)"),
                    paper: "diminishing returns, slight degradation (Fig. 3)".into(),
                    ours: format!("test acc. at {dtop} minus at 60: {}", shown(&diff)),
                    verdict: verdict(&diff, Direction::NotPositive),
                    ours_paper_way: None,
                });
            }
            // Controls: duplicates against equal steps and against fresh data, at the
            // largest D-rate both ran.
            for (control, id, claim, dir) in [
                (
                    Variant::EqualSteps,
                    "S-steps",
                    "Duplicates help beyond the extra optimizer steps they bring (uniform − equal-steps)",
                    Direction::Positive,
                ),
                (
                    Variant::FreshData,
                    "S-fresh",
                    "Fresh images help more than duplicates (fresh-data − uniform)",
                    Direction::Positive,
                ),
            ] {
                let d = largest(control);
                if d == 0.0 {
                    continue;
                }
                let pairs: Vec<f64> = series_points(control)
                    .into_iter()
                    .find(|(x, _)| x.to_bits() == d.to_bits())
                    .map(|(_, cells)| {
                        cells
                            .iter()
                            .filter_map(|c| {
                                let u = find(Variant::Uniform, d, c.spec.seed)?;
                                let (cv, uv) = (Measure::Test.of(c)?, Measure::Test.of(u)?);
                                Some(if control == Variant::EqualSteps {
                                    uv - cv
                                } else {
                                    cv - uv
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let s = Summary::of(&pairs).ok();
                claims.push(ClaimCheck {
                    id: id.into(),
                    claim: format!("{claim}, D-rate {d}"),
                    paper: "not tested (control the paper lacked)".into(),
                    ours: shown(&s),
                    verdict: verdict(&s, dir),
                    ours_paper_way: None,
                });
            }
            for &variant in variants
                .iter()
                .filter(|v| matches!(v, Variant::ClassWeighted { .. }))
            {
                let d = largest(variant);
                let favoured = delta_at(variant, d, Measure::FavouredTest);
                let other = delta_at(variant, d, Measure::OtherTest);
                claims.push(ClaimCheck {
                    id: format!("S-weighted ({})", variant.label()),
                    claim: format!("Class-weighted duplication on CIFAR-10 favours the duplicated classes (Δ classes 0-4), D-rate {d}"),
                    paper: "shown for Gaussian data only".into(),
                    ours: format!("Δ classes 0-4 {}; Δ classes 5-9 {}", shown(&favoured), shown(&other)),
                    verdict: verdict(&favoured, Direction::Positive),
                    ours_paper_way: None,
                });
            }
        }
        Network::Adversarial => {
            for (d, paper) in [
                (30.0, "41.16 → 27.39 (−13.77, one run)"),
                (60.0, "41.16 → 20.90 (−20.26, one run)"),
            ] {
                let ours = delta_at(Variant::Uniform, d, Measure::Test);
                let paper_way = delta_at(Variant::PaperAttack, d, Measure::Test);
                claims.push(ClaimCheck {
                    id: format!("A-{d}"),
                    claim: format!("Adversarial training: D-rate {d} lowers clean test accuracy"),
                    paper: paper.into(),
                    ours: format!("Madry PGD: Δ {}", shown(&ours)),
                    verdict: verdict(&ours, Direction::Negative),
                    ours_paper_way: Some((
                        format!("paper code's attack: Δ {}", shown(&paper_way)),
                        verdict(&paper_way, Direction::Negative),
                    )),
                });
            }
            let d = largest(Variant::Uniform);
            if d > 0.0 {
                let ours = delta_at(Variant::Uniform, d, Measure::Robust);
                let paper_way = delta_at(
                    Variant::PaperAttack,
                    largest(Variant::PaperAttack),
                    Measure::Robust,
                );
                claims.push(ClaimCheck {
                    id: "A-robust".into(),
                    claim: format!("Duplication does not improve robustness (D-rate {d})"),
                    paper: "no improvement (Fig. 4)".into(),
                    ours: format!("Madry PGD: Δ robust acc. {}", shown(&ours)),
                    verdict: verdict(&ours, Direction::NotPositive),
                    ours_paper_way: Some((
                        format!("paper attack: Δ {}", shown(&paper_way)),
                        verdict(&paper_way, Direction::NotPositive),
                    )),
                });
            }
        }
    }

    // The paper's numbers next to ours.
    let paper_points: &[(f64, f64)] = match network {
        Network::Standard => &PAPER_STANDARD,
        Network::Adversarial => &PAPER_ADVERSARIAL_CLEAN,
    };
    md.push_str("Against the paper's numbers (clean test accuracy, %):\n\n| D-rate | paper (one run) | ours, uniform % | ours, ");
    md.push_str(match network {
        Network::Standard => "notebook copies |\n|---:|---:|---|---|\n",
        Network::Adversarial => "paper code's attack |\n|---:|---:|---|---|\n",
    });
    let other = match network {
        Network::Standard => Variant::NotebookCopies,
        Network::Adversarial => Variant::PaperAttack,
    };
    for &(d, paper) in paper_points {
        let at = |v: Variant| {
            series_points(v)
                .into_iter()
                .find(|(x, _)| x.to_bits() == d.to_bits())
                .and_then(|(_, cells)| summary_of(&cells, Measure::Test))
                .map_or("not run".to_string(), |s| fmt_summary(&s, true))
        };
        md.push_str(&format!(
            "| {d} | {paper:.2} | {} | {} |\n",
            at(Variant::Uniform),
            at(other)
        ));
    }
    md.push('\n');
    if s.base_images < 50_000 || s.epochs < 30 {
        md.push_str(&format!(
            "These runs use {} training images and {} epochs, not the paper's 50,000 and 30 (profile setting): absolute accuracies are lower than the paper's, and only the differences between D-rates are comparable.\n",
            s.base_images, s.epochs
        ));
    }
    Ok(Outcome {
        report: md,
        claims,
        cell_seconds,
    })
}

/// The folder of a study's results.
pub fn study_dir(out: &Path, network: Network) -> PathBuf {
    out.join(network.study())
}
