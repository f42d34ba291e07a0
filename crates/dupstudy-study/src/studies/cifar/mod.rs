//! The CIFAR-10 studies (paper Section 4.2, Figures 3 and 4) and the controls the paper
//! lacked, cell by cell. One module serves both networks: `cifar-standard` and
//! `cifar-adversarial` are two entries of the registry.
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

use std::sync::Arc;

use candle_core::Device;
use dupstudy_cifar::Cifar10;
use dupstudy_cnn::{EpochStats, PgdConfig};
use dupstudy_metrics::ConfusionMatrix;
use serde::{Deserialize, Serialize};

use crate::claims::ClaimSpec;
use crate::data::DataSet;
use crate::error::Result;
use crate::profile::{Env, Profile, Request};
use crate::store::CellRecord;
use crate::studies::cnn::calibrate;
use crate::study::{CellIo, Computed, Estimate, Study, StudySummary};

mod claims;
mod estimate;
mod plan;
mod reading;
mod run;
mod seeds;
mod summary;

pub use claims::{CLAIMS, paper_points};
pub use estimate::estimate_seconds;
pub use run::run_cell;
use summary::summarize;

/// Bumped when a change alters what a cell computes.
const CELL_VERSION: u32 = 1;
/// Images in CIFAR-10's training split.
const CIFAR_TRAIN_IMAGES: usize = 50_000;
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

/// One of the two CIFAR studies.
#[derive(Debug, Clone, Copy)]
pub struct CifarStudy {
    network: Network,
}

impl CifarStudy {
    /// The study of `network`.
    pub fn new(network: Network) -> Self {
        Self { network }
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

    /// The variant whose D-rate 0 cell is this one's baseline.
    fn baseline(self) -> Variant {
        if self == Variant::PaperAttack {
            Variant::PaperAttack
        } else {
            Variant::Uniform
        }
    }

    /// Report order.
    fn rank(&self) -> u8 {
        match self {
            Variant::Uniform => 0,
            Variant::NotebookCopies => 1,
            Variant::PaperAttack => 2,
            Variant::ClassWeighted { .. } => 3,
            Variant::EqualSteps => 4,
            Variant::FreshData => 5,
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

/// One cell's configuration; its id is derived from all of it (and the study's name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellSpec {
    /// How the training list is built.
    pub variant: Variant,
    /// D-rate in percent of the base.
    pub d_rate: f64,
    /// Seed of the base, the duplicates, the initialization and every random draw.
    pub seed: u64,
    /// The shared setting.
    pub setting: Setting,
    /// The cell format version (bumped when a change alters what a cell computes).
    pub version: u32,
}

/// What a cell computes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
    /// Images in the training list (base + duplicates or fresh images).
    pub train_list: usize,
    /// Duplicates per class (empty for variants without duplicates).
    pub duplicates_per_class: Vec<usize>,
    /// Optimizer steps taken.
    pub steps: u64,
    /// Per-epoch statistics.
    pub epochs: Vec<EpochStats>,
    /// Clean test confusion matrix.
    pub test: ConfusionMatrix,
    /// Clean confusion matrix on the base (the original training set).
    pub train_original: ConfusionMatrix,
    /// Clean confusion matrix on the training list, duplicates counted as often as they
    /// occur.
    pub train_list_confusion: ConfusionMatrix,
    /// Confusion matrix under the evaluation attack (adversarial study).
    pub robust: Option<ConfusionMatrix>,
}

/// A stored CIFAR cell.
pub type Record = CellRecord<CellSpec, CellResult>;

/// A planned study: its setting and the cells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The network.
    pub network: Network,
    /// Every cell, baselines first.
    pub cells: Vec<CellSpec>,
}

/// What the cells share.
pub struct Context {
    data: Arc<Cifar10>,
    device: Device,
}

impl Context {
    /// A context over loaded data (for tests and programs that hold the data already).
    pub fn new(data: Arc<Cifar10>, device: Device) -> Self {
        Self { data, device }
    }
}

impl Study for CifarStudy {
    type Plan = Plan;
    type Cell = CellSpec;
    type Result = CellResult;
    type Context = Context;

    fn name(&self) -> &'static str {
        self.network.study()
    }

    fn title(&self) -> &'static str {
        match self.network {
            Network::Standard => {
                "CIFAR-10, standard training (paper Section 4.3, Figure 3) and controls"
            }
            Network::Adversarial => "CIFAR-10, adversarial training (paper Section 4.4, Figure 4)",
        }
    }

    fn in_profile(&self, profile: Profile) -> bool {
        profile.runs_every_study()
            || profile
                == match self.network {
                    Network::Standard => Profile::PaperStandard,
                    Network::Adversarial => Profile::PaperAdversarial,
                }
    }

    fn needs_cifar(&self) -> bool {
        true
    }

    fn plan(&self, request: &Request, data: Option<&DataSet>) -> Result<Plan> {
        let data = crate::data::required(data, self.name())?;
        Plan::from_request(self.network, request, data.data.train().len(), &data.sha256)
    }

    fn describe(&self, plan: &Plan) -> String {
        let s = plan.cells.first().map(|c| &c.setting);
        match s {
            Some(s) => format!(
                "{} training images, {} epochs, batch {}",
                s.base_images, s.epochs, s.batch_size
            ),
            None => "no cells".into(),
        }
    }

    fn cells(&self, plan: &Plan) -> Vec<CellSpec> {
        plan.cells.clone()
    }

    fn cell_label(&self, cell: &CellSpec) -> String {
        cell.label()
    }

    fn parallel_cells(&self) -> bool {
        false
    }

    fn cell_weight(&self, cell: &CellSpec) -> u64 {
        (cell.trained_images() / 1000.0).ceil().max(1.0) as u64
    }

    fn context(&self, _plan: &Plan, env: &Env) -> Result<Context> {
        let set = crate::data::required(env.data.as_deref(), self.name())?;
        Ok(Context::new(set.data.clone(), env.device.clone()))
    }

    fn planned_data(&self, plan: &Plan) -> Option<String> {
        plan.cells.first().map(|c| c.setting.data_sha256.clone())
    }

    fn estimate(&self, _plan: &Plan, ctx: &Context, pending: &[&CellSpec]) -> Result<Estimate> {
        let Some(first) = pending.first() else {
            return Ok(Estimate::default());
        };
        let costs = calibrate(
            &first.model(),
            &first.train_config(),
            first.eval_attack().as_ref(),
            &ctx.data,
            &ctx.device,
        )?;
        let seconds: f64 = pending.iter().map(|c| estimate_seconds(c, &costs)).sum();
        Ok(Estimate {
            seconds,
            detail: format!(
                "on {} (measured: {})",
                dupstudy_cnn::device::describe(&ctx.device),
                costs.describe()
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
