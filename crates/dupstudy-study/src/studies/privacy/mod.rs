//! The privacy study: do duplicated training images give themselves away? A
//! membership-inference experiment with randomized inclusion (LiRA, Carlini et al. 2022).
//!
//! Target images are drawn from the training pool outside every duplicate group the audit
//! found (so the data set's own duplicates do not blur the copy count), stratified by class,
//! and assigned a copy count k. Each target is *in* exactly half of the models (k copies in
//! the training list) and *out* of the other half; every other pool image is always in,
//! once. Each cell trains one model and records the logits of every target and of its
//! mirror image, so every attack re-runs from the records:
//! - E1 (`standard`): the paper's standard network and protocol, k in {1, 2, 4, 8};
//! - E2 (`clean` and `adversarial`): the adversarial network on a smaller pool, trained
//!   clean and with Madry's PGD from the same data and initialization, k in {1, 2, 8},
//!   with the logits of each target's PGD example too.
//!
//! Attacks ([`attacks`]): the global loss threshold (Yeom et al. 2018), offline LiRA with a
//! fixed variance (leave-one-model-out reference models, image and mirror as queries),
//! online LiRA as an upper bound, and in E2 the loss on the PGD example (Song et al. 2019).
//! The unit of inference is the model: per-model AUC, TPR at 1 % FPR and memorization per
//! k, compared across k within each model.

use std::sync::Arc;

use candle_core::Device;
use dupstudy_audit::AuditParams;
use dupstudy_cifar::Cifar10;
use dupstudy_cnn::{EpochStats, ModelConfig, PgdConfig, TrainConfig};
use dupstudy_metrics::ConfusionMatrix;
use serde::{Deserialize, Serialize};

use crate::claims::ClaimSpec;
use crate::data::DataSet;
use crate::error::Result;
use crate::profile::{Env, Request};
use crate::store::{CellRecord, cell_id};
use crate::studies::cnn::calibrate;
use crate::studies::natural::{Partition, PartitionKey, partition};
use crate::study::{CellIo, Computed, Estimate, Study, StudySummary};

pub mod attacks;
pub mod bootstrap;
mod claims;
mod design;
mod plan;
mod run;
mod seeds;
mod summary;

pub use claims::CLAIMS;
pub use design::Design;
pub use run::run_cell;
pub use summary::{ModelScores, Scores};

/// The study's name.
pub const NAME: &str = "cifar-privacy";
/// Bumped when a change alters what a cell computes.
const CELL_VERSION: u32 = 1;

/// The membership-inference study (one entry of the registry).
#[derive(Debug, Clone, Copy, Default)]
pub struct PrivacyStudy;

/// How a cell's model is trained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Training {
    /// E1: the paper's standard network and protocol (crop + flip, dropout, SGD).
    Standard,
    /// E2: the adversarial network trained without an attack.
    Clean,
    /// E2: the adversarial network trained with Madry's PGD.
    Adversarial,
}

impl Training {
    /// Every kind, in report order.
    pub const ALL: [Training; 3] = [Training::Standard, Training::Clean, Training::Adversarial];

    /// The name in ids and tables.
    pub fn label(self) -> &'static str {
        match self {
            Training::Standard => "standard",
            Training::Clean => "clean",
            Training::Adversarial => "adversarial",
        }
    }
}

/// One experiment's setting (E1, or E2's pair of trainings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Setting {
    /// Training images: the first `pool` of the training split (targets included).
    pub pool: usize,
    /// Test images for the models' accuracy: the first `test_pool` of the test split.
    pub test_pool: usize,
    /// Target images per copy count (a multiple of 10, one per class in turn).
    pub targets_per_k: usize,
    /// The copy counts k a target has in the models it is in.
    pub copies: Vec<u32>,
    /// Models (even: each target is in exactly half).
    pub models: u64,
    /// Epochs over each model's training list.
    pub epochs: u64,
    /// Batch size.
    pub batch_size: usize,
    /// PGD steps of adversarial training and of the attacked queries (E2; 0 in E1).
    pub attack_steps: usize,
    /// The audit whose duplicate groups targets avoid.
    pub audit: AuditParams,
    /// Data checksum.
    pub data_sha256: String,
}

/// A planned study: E1, E2, or both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// E1 (standard training), when planned.
    pub e1: Option<Setting>,
    /// E2 (clean and adversarial training, paired), when planned.
    pub e2: Option<Setting>,
}

/// One model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellSpec {
    /// How it is trained.
    pub training: Training,
    /// Its number (0..models): the inclusion column and the trainer's seed (shared by E2's
    /// clean and adversarial model of the same number).
    pub model: u64,
    /// Its experiment's setting.
    pub setting: Setting,
    /// The cell format version.
    pub version: u32,
}

impl CellSpec {
    /// `<study>-<training>-m<model>-<hash of everything>`.
    ///
    /// # Errors
    /// Serialization.
    pub fn id(&self) -> Result<String> {
        cell_id(NAME, &self.label(), self)
    }

    /// `<training>-m<model>`, the readable middle of the id.
    pub fn label(&self) -> String {
        format!("{}-m{}", self.training.label(), self.model)
    }

    fn network(&self) -> ModelConfig {
        match self.training {
            Training::Standard => ModelConfig::standard(),
            Training::Clean | Training::Adversarial => ModelConfig::adversarial(),
        }
    }

    fn attack(&self) -> PgdConfig {
        PgdConfig {
            steps: self.setting.attack_steps,
            ..PgdConfig::madry()
        }
    }

    fn train_config(&self) -> TrainConfig {
        let seed = seeds::training(self.model);
        let mut config = match self.training {
            Training::Standard => TrainConfig::paper_standard(seed),
            Training::Clean => {
                let mut c = TrainConfig::paper_adversarial(seed, self.attack());
                c.adversarial = None;
                c
            }
            Training::Adversarial => TrainConfig::paper_adversarial(seed, self.attack()),
        };
        config.epochs = self.setting.epochs;
        config.batch_size = self.setting.batch_size;
        config
    }
}

/// What a cell computes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
    /// Images in the training list.
    pub train_list: usize,
    /// Optimizer steps taken.
    pub steps: u64,
    /// Per-epoch training statistics.
    pub epochs: Vec<EpochStats>,
    /// Clean accuracy on the test pool.
    pub test: ConfusionMatrix,
    /// The targets (training indices), in the design's order.
    pub targets: Vec<usize>,
    /// Each target's class.
    pub labels: Vec<u8>,
    /// Each target's copy count when in.
    pub copies: Vec<u32>,
    /// Whether each target is in this model's training list.
    pub included: Vec<bool>,
    /// Logits of each target, then of its mirror image: `targets x 2 x 10` little-endian
    /// `f32`, base64.
    pub logits: String,
    /// Logits of each target's PGD example (E2 only), as `logits`: `targets x 10`.
    pub attacked_logits: Option<String>,
    /// The natural arm: test twins (test indices) whose duplicate group's training images
    /// enter or leave the models whole.
    pub twins: Vec<usize>,
    /// Whether each twin's training partners are in this model.
    pub twins_in: Vec<bool>,
    /// Whether this model classifies each twin correctly.
    pub twins_correct: Vec<bool>,
    /// The partition the targets were chosen outside of.
    pub partition: String,
}

/// A stored cell.
pub type Record = CellRecord<CellSpec, CellResult>;

/// What every cell shares: the data, the device and the audit's partition.
pub struct Context {
    data: Arc<Cifar10>,
    device: Device,
    partition: Partition,
}

impl Context {
    /// A context over loaded data and a partition (for tests and programs).
    pub fn new(data: Arc<Cifar10>, device: Device, partition: Partition) -> Self {
        Self {
            data,
            device,
            partition,
        }
    }
}

impl Study for PrivacyStudy {
    type Plan = Plan;
    type Cell = CellSpec;
    type Result = CellResult;
    type Context = Context;

    fn name(&self) -> &'static str {
        NAME
    }

    fn title(&self) -> &'static str {
        "Do duplicates give training images away? Membership inference against k copies"
    }

    fn needs_cifar(&self) -> bool {
        true
    }

    fn plan(&self, request: &Request, data: Option<&DataSet>) -> Result<Plan> {
        let data = crate::data::required(data, NAME)?;
        Plan::from_request(
            request,
            (data.data.train().len(), data.data.test().len()),
            &data.sha256,
        )
    }

    fn describe(&self, plan: &Plan) -> String {
        let one = |name: &str, s: &Setting| {
            format!(
                "{name}: {} models, {} training images, {} targets per k in {:?}, {} epochs",
                s.models, s.pool, s.targets_per_k, s.copies, s.epochs
            )
        };
        let mut parts = Vec::new();
        if let Some(s) = &plan.e1 {
            parts.push(one("E1", s));
        }
        if let Some(s) = &plan.e2 {
            parts.push(one("E2 (clean and adversarial)", s));
        }
        parts.join("; ")
    }

    fn cells(&self, plan: &Plan) -> Vec<CellSpec> {
        plan.cells()
    }

    fn cell_label(&self, cell: &CellSpec) -> String {
        cell.label()
    }

    fn parallel_cells(&self) -> bool {
        false
    }

    fn cell_weight(&self, cell: &CellSpec) -> u64 {
        let attack = if cell.training == Training::Adversarial {
            1 + cell.setting.attack_steps as u64
        } else {
            1
        };
        (cell.setting.epochs * cell.setting.pool as u64 * attack)
            .div_ceil(1000)
            .max(1)
    }

    fn planned_data(&self, plan: &Plan) -> Option<String> {
        plan.e1
            .as_ref()
            .or(plan.e2.as_ref())
            .map(|s| s.data_sha256.clone())
    }

    fn context(&self, plan: &Plan, env: &Env) -> Result<Context> {
        let set = crate::data::required(env.data.as_deref(), NAME)?;
        let dir = crate::driver::study_dir(&env.out, NAME).join("audit");
        let partition = partition(plan.key(), &set.data, &dir, env.progress.as_ref())?;
        Ok(Context::new(
            set.data.clone(),
            env.device.clone(),
            partition,
        ))
    }

    fn estimate(&self, _plan: &Plan, ctx: &Context, pending: &[&CellSpec]) -> Result<Estimate> {
        let mut seconds = 0.0;
        let mut detail = Vec::new();
        for training in Training::ALL {
            let cells: Vec<&&CellSpec> =
                pending.iter().filter(|c| c.training == training).collect();
            let Some(first) = cells.first() else { continue };
            let costs = calibrate(
                &first.network(),
                &first.train_config(),
                None,
                &ctx.data,
                &ctx.device,
            )?;
            let per_image = costs.adversarial_train.map_or(costs.train, |(_, c)| c);
            for c in &cells {
                let list = c.setting.pool as f64 * 1.1;
                seconds += c.setting.epochs as f64 * list * per_image
                    + (c.setting.test_pool as f64) * costs.eval;
            }
            detail.push(format!("{}: {}", training.label(), costs.describe()));
        }
        Ok(Estimate {
            seconds,
            detail: format!(
                "on {} (measured: {})",
                dupstudy_cnn::device::describe(&ctx.device),
                detail.join("; ")
            ),
        })
    }

    fn run_cell(
        &self,
        ctx: &Context,
        cell: &CellSpec,
        io: &CellIo<'_>,
    ) -> Result<Computed<CellResult>> {
        run_cell(cell, ctx, io, None)
    }

    fn claims(&self) -> &'static [ClaimSpec] {
        CLAIMS
    }

    fn summarize(&self, plan: &Plan, records: &[Record]) -> Result<StudySummary> {
        summary::summarize(plan, records)
    }
}

impl Plan {
    /// What the partition depends on: the largest pools of the plan, the audit and data.
    pub fn key(&self) -> PartitionKey {
        let settings: Vec<&Setting> = self.e1.iter().chain(self.e2.iter()).collect();
        let first = settings[0];
        PartitionKey {
            train_pool: settings.iter().map(|s| s.pool).max().unwrap_or(0),
            test_pool: settings.iter().map(|s| s.test_pool).max().unwrap_or(0),
            audit: first.audit,
            // The privacy study keeps the aligned audit its published cells were made with.
            learned: None,
            data_sha256: first.data_sha256.clone(),
        }
    }

    /// Every cell: E1's models, then E2's clean and adversarial model of each number.
    pub fn cells(&self) -> Vec<CellSpec> {
        let mut cells = Vec::new();
        let cell = |training, model, setting: &Setting| CellSpec {
            training,
            model,
            setting: setting.clone(),
            version: CELL_VERSION,
        };
        if let Some(s) = &self.e1 {
            cells.extend((0..s.models).map(|m| cell(Training::Standard, m, s)));
        }
        if let Some(s) = &self.e2 {
            for m in 0..s.models {
                cells.push(cell(Training::Clean, m, s));
                cells.push(cell(Training::Adversarial, m, s));
            }
        }
        cells
    }
}
