//! The natural-duplicates study: what the duplicates CIFAR-10 already holds do to accuracy,
//! and to the accuracy we report.
//!
//! The paper plants synthetic duplicates; this study starts from the ones the data set has.
//! Its context audits a training pool and a test pool ([`dupstudy_audit`]: exact copies and
//! near-duplicates, within and across the splits) once per results folder, and every cell
//! trains the paper's standard network on one of three lists built from the pool:
//! - (a) `full`: the whole training pool;
//! - (b) `deduplicated`: every duplicate group cut to one image (its first member);
//! - (c) `random-removal`: the pool minus as many random images as (b) removed — the
//!   control that separates "these were duplicates" from "the set is smaller".
//!
//! Each model is evaluated on the whole test pool, on the test pool without the images
//! whose twin is in the training pool, and on those images alone. All three arms of a seed
//! share the trainer's seed (initialization and every random draw of training), so arm
//! differences are paired by seed.

use std::sync::Arc;

use candle_core::Device;
use dupstudy_audit::AuditParams;
use dupstudy_cifar::Cifar10;
use dupstudy_cnn::{EpochStats, ModelConfig, TrainConfig};
use dupstudy_descriptor::LearnedAudit;
use dupstudy_metrics::ConfusionMatrix;
use serde::{Deserialize, Serialize};

use crate::claims::ClaimSpec;
use crate::data::DataSet;
use crate::error::Result;
use crate::profile::{Env, Request};
use crate::report::human_duration;
use crate::store::{CellRecord, cell_id};
use crate::studies::cnn::calibrate;
use crate::study::{CellIo, Computed, Estimate, Study, StudySummary};

mod claims;
mod partition;
mod plan;
mod run;
mod seeds;
mod summary;
pub mod twins;

pub use claims::{CLAIMS, MIN_TWINS};
pub use partition::{Partition, PartitionKey, audit_dir, partition};

pub use run::run_cell;
use summary::summarize;

/// The study's name.
pub const NAME: &str = "cifar-natural";
/// Bumped when a change alters what a cell computes.
const CELL_VERSION: u32 = 1;
/// The audit's folder inside the study's folder.
pub const AUDIT_DIR: &str = "audit";

/// The natural-duplicates study (one entry of the registry).
#[derive(Debug, Clone, Copy, Default)]
pub struct NaturalStudy;

/// Which training list a cell trains on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arm {
    /// (a) The whole training pool.
    Full,
    /// (b) Every duplicate group cut to one image.
    Deduplicated,
    /// (c) The pool minus as many random images as (b) removed.
    RandomRemoval,
}

impl Arm {
    /// Every arm, in report order.
    pub const ALL: [Arm; 3] = [Arm::Full, Arm::Deduplicated, Arm::RandomRemoval];

    /// A short name (ids, tables).
    pub fn label(self) -> &'static str {
        match self {
            Arm::Full => "full",
            Arm::Deduplicated => "deduplicated",
            Arm::RandomRemoval => "random-removal",
        }
    }

    /// The arm in words, with its letter.
    pub fn describe(self) -> &'static str {
        match self {
            Arm::Full => "(a) full training pool",
            Arm::Deduplicated => "(b) duplicate groups cut to one image",
            Arm::RandomRemoval => "(c) as many random images removed (control)",
        }
    }
}

/// What every cell of the study shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Setting {
    /// Training images audited and trained on: the first ones of the training split in the
    /// official order (all 50,000 outside the smoke profile).
    pub train_pool: usize,
    /// Test images audited and evaluated on: the first ones of the test split.
    pub test_pool: usize,
    /// Epochs over each training list.
    pub epochs: u64,
    /// Images per batch.
    pub batch_size: usize,
    /// How the audit decides what a duplicate is.
    pub audit: AuditParams,
    /// The learned descriptor fused into the audit's score (its threshold then applies to
    /// the fused score); absent in plans from before it, whose audits aligned alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learned: Option<LearnedAudit>,
    /// A last batch of an epoch with fewer images than this joins the batch before it. The
    /// arms' lists differ in length, and a list one image past a multiple of the batch ends
    /// every epoch on a one-image step that makes training unstable (`docs/audit.md`), so
    /// plans set half a batch; 0 (plans from before it): the last batch is kept.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub min_last_batch: usize,
    /// SHA-256 of the data, so results of other data never mix.
    pub data_sha256: String,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The planned study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The shared setting.
    pub setting: Setting,
    /// Seeds `0..seeds`, each training all three arms.
    pub seeds: u64,
}

/// One cell's configuration; its id is derived from all of it (and the study's name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellSpec {
    /// The training list.
    pub arm: Arm,
    /// Seed of the trainer (shared by the seed's arms) and of the control's removal.
    pub seed: u64,
    /// The shared setting.
    pub setting: Setting,
    /// The cell format version.
    pub version: u32,
}

impl CellSpec {
    /// `cifar-natural-<arm>-s<seed>-<hash of everything>`.
    ///
    /// # Errors
    /// Serialization.
    pub fn id(&self) -> Result<String> {
        cell_id(NAME, &self.label(), self)
    }

    /// `<arm>-s<seed>`, the readable middle of the id.
    pub fn label(&self) -> String {
        format!("{}-s{}", self.arm.label(), self.seed)
    }

    fn train_config(&self) -> TrainConfig {
        let mut config = TrainConfig::paper_standard(seeds::training(self.seed));
        config.epochs = self.setting.epochs;
        config.batch_size = self.setting.batch_size;
        config.min_last_batch = self.setting.min_last_batch;
        config
    }
}

/// What a cell computes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
    /// Images in the training list.
    pub train_list: usize,
    /// Images of the pool not in the list.
    pub removed: usize,
    /// The list's own D-rate: images beyond one per duplicate group, over the list's images.
    pub natural_d_rate: f64,
    /// Optimizer steps taken.
    pub steps: u64,
    /// Per-epoch statistics.
    pub epochs: Vec<EpochStats>,
    /// Confusion matrix on the whole test pool.
    pub test: ConfusionMatrix,
    /// On the test pool without the images that have a training twin.
    pub test_without_twins: ConfusionMatrix,
    /// On the images with a training twin alone (empty when there are none).
    pub test_twins: ConfusionMatrix,
    /// Fingerprint of the audit's partition the cell was computed from.
    pub partition: String,
    /// Each test image's correctness and the twins' groups, for the N-twins bootstrap
    /// (absent in cells from before they were kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_image: Option<twins::PerImage>,
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

    /// The audit's partition.
    pub fn partition(&self) -> &Partition {
        &self.partition
    }
}

impl Study for NaturalStudy {
    type Plan = Plan;
    type Cell = CellSpec;
    type Result = CellResult;
    type Context = Context;

    fn name(&self) -> &'static str {
        NAME
    }

    fn title(&self) -> &'static str {
        "CIFAR-10's own duplicates: what they do to accuracy and to the accuracy we report"
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
        let s = &plan.setting;
        format!(
            "audit of {} training and {} test images, then 3 training lists x {} seeds, {} epochs, batch {}",
            s.train_pool, s.test_pool, plan.seeds, s.epochs, s.batch_size
        )
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
        (cell.setting.epochs * cell.setting.train_pool as u64)
            .div_ceil(1000)
            .max(1)
    }

    fn context(&self, plan: &Plan, env: &Env) -> Result<Context> {
        let set = crate::data::required(env.data.as_deref(), NAME)?;
        let partition = partition(
            plan.key(),
            &set.data,
            &audit_dir(&env.out),
            env.progress.as_ref(),
        )?;
        Ok(Context::new(
            set.data.clone(),
            env.device.clone(),
            partition,
        ))
    }

    fn planned_data(&self, plan: &Plan) -> Option<String> {
        Some(plan.setting.data_sha256.clone())
    }

    fn estimate(&self, _plan: &Plan, ctx: &Context, pending: &[&CellSpec]) -> Result<Estimate> {
        if pending.is_empty() {
            return Ok(Estimate::default());
        }
        // Timed as the first pending cell trains (every arm trains the same network).
        let costs = calibrate(
            &ModelConfig::standard(),
            &pending[0].train_config(),
            None,
            &ctx.data,
            &ctx.device,
        )?;
        let p = &ctx.partition;
        let seconds: f64 = pending
            .iter()
            .map(|c| {
                let list = match c.arm {
                    Arm::Full => c.setting.train_pool,
                    _ => c.setting.train_pool - p.cut.len(),
                };
                (c.setting.epochs as f64 * list as f64) * costs.train
                    + c.setting.test_pool as f64 * costs.eval
            })
            .sum();
        Ok(Estimate {
            seconds,
            detail: format!(
                "on {} (measured: {}; the audit took {})",
                dupstudy_cnn::device::describe(&ctx.device),
                costs.describe(),
                human_duration(p.seconds)
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
        summarize(plan, records)
    }
}
