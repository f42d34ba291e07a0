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
use std::time::Instant;

use candle_core::Device;
use dupstudy_cifar::{Cifar10, N_CLASSES, SplitName};
use dupstudy_cnn::{EpochStats, ModelConfig, PgdConfig, TrainConfig, Trainer, confusion, predict};
use dupstudy_dup::{Duplication, DuplicationParams, Replacement};
use dupstudy_metrics::{ConfusionMatrix, Summary};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::training::train_with_checkpoints;
use super::{ESTIMATE_MARGIN, Tagged, band};
use crate::claims::{ClaimCheck, ClaimSpec, PaperValue, Rule, Unit, Verdict, fmt_summary};
use crate::data::DataSet;
use crate::error::{Result, StudyError};
use crate::figure::{Color, Figure, Panel, Series};
use crate::profile::{Env, Profile, Request};
use crate::report::{Section, human_duration};
use crate::seeding;
use crate::store::{CellRecord, config_hash};
use crate::study::{CellIo, Computed, Estimate, Study, StudySummary};
use crate::table::{Row, Statistic, Table};

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

/// The claims of the CIFAR studies, with the paper's numbers (Sections 4.3 and 4.4).
pub const CLAIMS: &[ClaimSpec] = &[
    ClaimSpec {
        id: "S-30",
        words: "Standard training: D-rate 30 raises test accuracy over no duplicates",
        paper: PaperValue::Change {
            d_rate: 30.0,
            from: 70.72,
            to: 74.12,
        },
        measure: "Δ clean test accuracy against D-rate 0, paired by seed",
        rule: Rule::Positive,
        unit: Unit::Points,
        primary: true,
        margin_reason: None,
    },
    ClaimSpec {
        id: "S-60",
        words: "Standard training: D-rate 60 raises test accuracy over no duplicates",
        paper: PaperValue::Change {
            d_rate: 60.0,
            from: 70.72,
            to: 75.11,
        },
        measure: "Δ clean test accuracy against D-rate 0, paired by seed",
        rule: Rule::Positive,
        unit: Unit::Points,
        primary: true,
        margin_reason: None,
    },
    ClaimSpec {
        id: "S-plateau",
        words: "Beyond D-rate 60 more duplication brings no further gain",
        paper: PaperValue::Text("diminishing returns, slight degradation (Fig. 3)"),
        measure: "test accuracy at the largest D-rate minus at D-rate 60, paired by seed",
        rule: Rule::NoGainBeyond(0.01),
        unit: Unit::Points,
        primary: false,
        margin_reason: Some(
            "1 point: the paper calls its own step from D-rate 30 to 60 (74.12 → 75.11 %, +0.99 points) \"only small improvements\", so a gain below 1 point is what it counts as no substantial gain",
        ),
    },
    ClaimSpec {
        id: "S-steps",
        words: "Duplicates help beyond the extra optimizer steps they bring (uniform − equal-steps)",
        paper: PaperValue::Text("not tested (control the paper lacked)"),
        measure: "uniform minus equal-steps test accuracy at the largest D-rate both ran, paired by seed",
        rule: Rule::Positive,
        unit: Unit::Points,
        primary: false,
        margin_reason: None,
    },
    ClaimSpec {
        id: "S-fresh",
        words: "Fresh images help more than duplicates (fresh-data − uniform)",
        paper: PaperValue::Text("not tested (control the paper lacked)"),
        measure: "fresh-data minus uniform test accuracy at the largest D-rate both ran, paired by seed",
        rule: Rule::Positive,
        unit: Unit::Points,
        primary: false,
        margin_reason: None,
    },
    ClaimSpec {
        id: "S-weighted",
        words: "Class-weighted duplication on CIFAR-10 favours the duplicated classes (Δ classes 0-4)",
        paper: PaperValue::Text("shown for Gaussian data only"),
        measure: "Δ mean test accuracy of classes 0-4 at the largest D-rate, paired by seed",
        rule: Rule::Positive,
        unit: Unit::Points,
        primary: false,
        margin_reason: None,
    },
    ClaimSpec {
        id: "S-nonuniform",
        words: "Class-weighted duplication lowers overall test accuracy against uniform duplication at the same D-rate",
        paper: PaperValue::Text(
            "abstract: duplication hurts when non-uniform across classes (shown on Gaussian data)",
        ),
        measure: "class-weighted minus uniform test accuracy at D-rate 60 (else the largest D-rate both ran), paired by seed",
        rule: Rule::Negative,
        unit: Unit::Points,
        primary: false,
        margin_reason: None,
    },
    ClaimSpec {
        id: "A-30",
        words: "Adversarial training: D-rate 30 lowers clean test accuracy",
        paper: PaperValue::Change {
            d_rate: 30.0,
            from: 41.16,
            to: 27.39,
        },
        measure: "Δ clean test accuracy against D-rate 0, paired by seed",
        rule: Rule::Negative,
        unit: Unit::Points,
        primary: true,
        margin_reason: None,
    },
    ClaimSpec {
        id: "A-60",
        words: "Adversarial training: D-rate 60 lowers clean test accuracy",
        paper: PaperValue::Change {
            d_rate: 60.0,
            from: 41.16,
            to: 20.90,
        },
        measure: "Δ clean test accuracy against D-rate 0, paired by seed",
        rule: Rule::Negative,
        unit: Unit::Points,
        primary: true,
        margin_reason: None,
    },
    ClaimSpec {
        id: "A-30-size",
        words: "Adversarial training: the paper's drop at D-rate 30 is reproduced in size",
        paper: PaperValue::Change {
            d_rate: 30.0,
            from: 41.16,
            to: 27.39,
        },
        measure: "Δ clean test accuracy against D-rate 0, paired by seed",
        rule: Rule::Includes(-0.1377),
        unit: Unit::Points,
        primary: false,
        margin_reason: Some(SIZE_READING),
    },
    ClaimSpec {
        id: "A-60-size",
        words: "Adversarial training: the paper's drop at D-rate 60 is reproduced in size",
        paper: PaperValue::Change {
            d_rate: 60.0,
            from: 41.16,
            to: 20.90,
        },
        measure: "Δ clean test accuracy against D-rate 0, paired by seed",
        rule: Rule::Includes(-0.2026),
        unit: Unit::Points,
        primary: false,
        margin_reason: Some(SIZE_READING),
    },
    ClaimSpec {
        id: "A-30-none",
        words: "Adversarial training: D-rate 30 leaves clean test accuracy unchanged (no effect)",
        paper: PaperValue::Text("the opposite: a drop of 13.77 pts"),
        measure: "Δ clean test accuracy against D-rate 0, paired by seed",
        rule: Rule::Within(0.02),
        unit: Unit::Points,
        primary: false,
        margin_reason: Some(NO_EFFECT_MARGIN),
    },
    ClaimSpec {
        id: "A-60-none",
        words: "Adversarial training: D-rate 60 leaves clean test accuracy unchanged (no effect)",
        paper: PaperValue::Text("the opposite: a drop of 20.26 pts"),
        measure: "Δ clean test accuracy against D-rate 0, paired by seed",
        rule: Rule::Within(0.02),
        unit: Unit::Points,
        primary: false,
        margin_reason: Some(NO_EFFECT_MARGIN),
    },
    ClaimSpec {
        id: "A-level",
        words: "Without duplicates, adversarial training reaches the paper's clean test accuracy",
        paper: PaperValue::Text("41.16 % at D-rate 0 (one run, Fig. 4)"),
        measure: "clean test accuracy at D-rate 0, over seeds",
        rule: Rule::Includes(0.4116),
        unit: Unit::Percent,
        primary: false,
        margin_reason: Some(
            "the level is the paper's one run; it holds when our interval over seeds contains it, so a model of the paper's accuracy with our spread would pass",
        ),
    },
    ClaimSpec {
        id: "A-robust",
        words: "Duplication does not improve robustness",
        paper: PaperValue::Text("no improvement (Fig. 4)"),
        measure: "Δ robust test accuracy at the largest D-rate, paired by seed",
        rule: Rule::NoGainBeyond(0.01),
        unit: Unit::Points,
        primary: false,
        margin_reason: Some(
            "1 point of robust accuracy, the same margin as S-plateau: a gain below the size of step the paper calls \"only small\"",
        ),
    },
];

/// How the size readings (A-30-size, A-60-size) are read.
const SIZE_READING: &str = "the paper's change is one run's number; it is reproduced when it lies inside our 95 % interval over seeds and not reproduced when it lies outside (an interval wide enough to hold both it and 0 reproduces it without showing a drop: read the directional row beside it)";

/// The equivalence margin of the adversarial no-effect readings (A-30-none, A-60-none).
const NO_EFFECT_MARGIN: &str = "2 points of clean accuracy: a seventh of the smallest drop the paper reports (13.77 points), and about twice one model's binomial error on 10,000 test images at 40 % accuracy (0.98 points), so a change below it is far from the paper's claim and not far beyond the noise of one model";

fn claim(id: &str) -> &'static ClaimSpec {
    ClaimSpec::by_id(CLAIMS, id)
}

/// The paper's clean test accuracies of `network` at D-rates 0, 30 and 60, read from the
/// claims table (the one place the paper's numbers live).
pub fn paper_points(network: Network) -> Vec<(f64, f64)> {
    let ids = match network {
        Network::Standard => ["S-30", "S-60"],
        Network::Adversarial => ["A-30", "A-60"],
    };
    let mut points = Vec::new();
    for id in ids {
        if let PaperValue::Change { d_rate, from, to } = claim(id).paper {
            if points.is_empty() {
                points.push((0.0, from));
            }
            points.push((d_rate, to));
        }
    }
    points
}

/// A profile's defaults for one CIFAR study.
struct Defaults {
    base: usize,
    test: usize,
    robust: usize,
    epochs: u64,
    batch: usize,
    seeds: u64,
    d_rates: Vec<f64>,
    extra: Vec<(Variant, Vec<f64>, u64)>,
    attack_steps: usize,
}

fn defaults(profile: Profile, network: Network) -> Defaults {
    let all: Vec<f64> = (0..10).map(|k| 10.0 * f64::from(k)).collect();
    let weighted = Variant::ClassWeighted {
        favoured_share: 0.7,
    };
    let v = |d: &[f64]| d.to_vec();
    let adversarial = network == Network::Adversarial;
    match (profile, network) {
        (Profile::Smoke, Network::Standard) => Defaults {
            base: 256,
            test: 256,
            robust: 0,
            epochs: 2,
            batch: 64,
            seeds: 1,
            d_rates: v(&[0.0, 50.0]),
            extra: vec![
                (Variant::NotebookCopies, v(&[30.0]), 1),
                (Variant::EqualSteps, v(&[50.0]), 1),
                (Variant::FreshData, v(&[50.0]), 1),
                (weighted, v(&[50.0]), 1),
            ],
            attack_steps: 0,
        },
        (Profile::Smoke, Network::Adversarial) => Defaults {
            base: 128,
            test: 128,
            robust: 64,
            epochs: 2,
            batch: 64,
            seeds: 1,
            d_rates: v(&[0.0, 50.0]),
            extra: vec![(Variant::PaperAttack, v(&[0.0, 50.0]), 1)],
            attack_steps: 2,
        },
        (Profile::Quick, Network::Standard) => Defaults {
            base: 12_000,
            test: 10_000,
            robust: 0,
            epochs: 8,
            batch: 128,
            seeds: 3,
            d_rates: v(&[0.0, 30.0, 60.0, 90.0]),
            extra: vec![
                (Variant::NotebookCopies, v(&[30.0, 60.0]), 1),
                (Variant::EqualSteps, v(&[30.0, 60.0, 90.0]), 3),
                (Variant::FreshData, v(&[30.0, 60.0, 90.0]), 3),
                (weighted, v(&[30.0, 60.0, 90.0]), 3),
            ],
            attack_steps: 0,
        },
        (Profile::Quick, Network::Adversarial) => Defaults {
            base: 4_000,
            test: 10_000,
            robust: 2_000,
            epochs: 5,
            batch: 128,
            seeds: 2,
            d_rates: v(&[0.0, 30.0, 60.0]),
            extra: vec![(Variant::PaperAttack, v(&[0.0, 30.0, 60.0]), 1)],
            attack_steps: 10,
        },
        // 7 seeds: at the spread the first 3 showed, S-30 needs about 7 for an 80 % chance
        // of a decisive verdict, S-plateau 5-7 and S-steps within its margin about 7.
        (Profile::PaperStandard, Network::Standard) => Defaults {
            base: 50_000,
            test: 10_000,
            robust: 0,
            epochs: 30,
            batch: 128,
            seeds: 7,
            d_rates: v(&[0.0, 30.0, 60.0, 90.0]),
            extra: vec![
                (Variant::EqualSteps, v(&[90.0]), 7),
                (Variant::NotebookCopies, v(&[30.0]), 1),
                (weighted, v(&[60.0]), 7),
            ],
            attack_steps: 0,
        },
        (Profile::PaperAdversarial, Network::Adversarial) => Defaults {
            base: 50_000,
            test: 10_000,
            robust: 10_000,
            epochs: 30,
            batch: 128,
            seeds: 3,
            d_rates: v(&[0.0, 30.0, 60.0]),
            extra: vec![(Variant::PaperAttack, v(&[0.0, 30.0, 60.0]), 3)],
            attack_steps: 10,
        },
        // The paper's protocol at every D-rate; the adversarial study with the seeds its
        // paired changes need (paper-adversarial: one seed gives no interval).
        (Profile::Paper | Profile::PaperStandard | Profile::PaperAdversarial, _) => Defaults {
            base: 50_000,
            test: 10_000,
            robust: if adversarial { 10_000 } else { 0 },
            epochs: 30,
            batch: 128,
            seeds: if adversarial { 3 } else { 1 },
            d_rates: all.clone(),
            extra: vec![if adversarial {
                (Variant::PaperAttack, v(&[0.0, 30.0, 60.0]), 3)
            } else {
                (Variant::NotebookCopies, v(&[10.0, 30.0, 60.0]), 1)
            }],
            attack_steps: if adversarial { 10 } else { 0 },
        },
        (Profile::Full, _) => Defaults {
            base: 25_000,
            test: 10_000,
            robust: if adversarial { 10_000 } else { 0 },
            epochs: 30,
            batch: 128,
            seeds: 3,
            d_rates: all.clone(),
            extra: vec![
                if adversarial {
                    (Variant::PaperAttack, v(&[0.0, 30.0, 60.0]), 3)
                } else {
                    (Variant::NotebookCopies, v(&[10.0, 30.0, 60.0]), 3)
                },
                (Variant::EqualSteps, all[1..].to_vec(), 3),
                (Variant::FreshData, all[1..].to_vec(), 3),
                (weighted, all[1..].to_vec(), 3),
            ],
            attack_steps: if adversarial { 10 } else { 0 },
        },
    }
}

impl Plan {
    /// The plan of a profile for `network`, with the flags' overrides, validated against
    /// the training split's size.
    ///
    /// # Errors
    /// A value the plan cannot use, naming its flag.
    pub fn from_request(
        network: Network,
        request: &Request,
        train_size: usize,
        data_sha256: &str,
    ) -> Result<Self> {
        let o = &request.overrides;
        let d = defaults(request.profile, network);
        let seeds = o.seeds.unwrap_or(d.seeds);
        let attack = |steps: usize| PgdConfig {
            steps,
            ..PgdConfig::madry()
        };
        let setting = Setting {
            network,
            base_images: o.train_subset.unwrap_or(d.base),
            test_images: d.test,
            robust_test_images: d.robust,
            epochs: o.epochs.unwrap_or(d.epochs),
            batch_size: d.batch,
            train_attack: (network == Network::Adversarial).then(|| attack(d.attack_steps)),
            eval_attack: (network == Network::Adversarial).then(|| {
                attack(if request.profile == Profile::Smoke {
                    3
                } else {
                    10
                })
            }),
            data_sha256: data_sha256.to_string(),
        };
        let mut series = vec![(
            Variant::Uniform,
            o.d_rates.clone().unwrap_or(d.d_rates),
            seeds,
        )];
        for (variant, d_rates, s) in d.extra {
            let d_rates = match &o.d_rates {
                Some(given) => given
                    .iter()
                    .copied()
                    .filter(|&x| x > 0.0 || variant == Variant::PaperAttack)
                    .collect(),
                None => d_rates,
            };
            series.push((variant, d_rates, if o.seeds.is_some() { seeds } else { s }));
        }
        Self::from_series(setting, &series, train_size)
    }

    /// The cells of `(variant, D-rates, seeds)` series, with D-rate 0 of every variant but
    /// `paper_attack` mapped to the uniform baseline and every baseline added; duplicates
    /// removed.
    ///
    /// # Errors
    /// A D-rate that a variant cannot provide (checked by the duplicate sampler's own
    /// parameter check, or fresh images beyond the training split, or a notebook D-rate that
    /// is not a multiple of 10), naming the flag.
    pub fn from_series(
        setting: Setting,
        series: &[(Variant, Vec<f64>, u64)],
        train_size: usize,
    ) -> Result<Self> {
        let s = &setting;
        if s.base_images == 0 || s.base_images > train_size {
            return Err(StudyError::invalid(
                "--train-subset",
                format!("must lie in 1..={train_size}, got {}", s.base_images),
            ));
        }
        if s.epochs == 0 {
            return Err(StudyError::invalid("--epochs", "must be at least 1"));
        }
        if s.batch_size == 0 {
            return Err(StudyError::invalid("batch size", "must be at least 1"));
        }
        for (variant, d_rates, seeds) in series {
            if *seeds == 0 {
                return Err(StudyError::invalid("--seeds", "must be at least 1"));
            }
            for &d in d_rates {
                check_d_rate(*variant, d, s, train_size)?;
            }
        }
        let spec = |variant, d_rate, seed| CellSpec {
            variant,
            d_rate,
            seed,
            setting: setting.clone(),
            version: CELL_VERSION,
        };
        let mut cells: Vec<CellSpec> = Vec::new();
        let push = |cells: &mut Vec<CellSpec>, cell: CellSpec| {
            if !cells.contains(&cell) {
                cells.push(cell);
            }
        };
        for (variant, d_rates, seeds) in series {
            for seed in 0..*seeds {
                for &d in d_rates {
                    let v = if d == 0.0 {
                        variant.baseline()
                    } else {
                        *variant
                    };
                    push(&mut cells, spec(v, d, seed));
                }
            }
        }
        let baselines: Vec<CellSpec> = cells
            .iter()
            .map(|c| spec(c.variant.baseline(), 0.0, c.seed))
            .collect();
        for b in baselines {
            push(&mut cells, b);
        }
        // Seed by seed, each seed's baselines first (each seed's paired comparisons
        // complete before the next seed starts, so a run stopped early leaves whole seeds of
        // every arm), variants in report order.
        cells.sort_by(|a, b| {
            (
                a.seed,
                a.d_rate > 0.0,
                a.variant.rank(),
                a.variant.label(),
                a.d_rate.to_bits(),
            )
                .cmp(&(
                    b.seed,
                    b.d_rate > 0.0,
                    b.variant.rank(),
                    b.variant.label(),
                    b.d_rate.to_bits(),
                ))
        });
        Ok(Plan {
            network: setting.network,
            cells,
        })
    }
}

/// Whether `variant` can provide D-rate `d` on this setting.
fn check_d_rate(variant: Variant, d: f64, s: &Setting, train_size: usize) -> Result<()> {
    let bad = |message: String| Err(StudyError::invalid("--d-rates", message));
    let (policy, replacement) = match variant {
        Variant::ClassWeighted { favoured_share } => (
            class_weights(favoured_share).map(Duplication::ClassWeighted),
            Replacement::With,
        ),
        _ => (Some(Duplication::Uniform), Replacement::Without),
    };
    let Some(policy) = policy else {
        return bad(format!(
            "class-weighted share must lie in [0, 1], got {variant:?}"
        ));
    };
    DuplicationParams::default()
        .d_rate(d)
        .policy(policy)
        .replacement(replacement)
        .check()
        .map_err(|e| {
            StudyError::invalid(
                "--d-rates",
                format!("{d} is not a valid D-rate for {}: {e}", variant.label()),
            )
        })?;
    match variant {
        Variant::NotebookCopies if d % 10.0 != 0.0 => bad(format!(
            "notebook D-rates must be multiples of 10 (D-rate p appends p/10 copies), got {d}"
        )),
        Variant::FreshData
            if s.base_images + (s.base_images as f64 * d / 100.0).round() as usize > train_size =>
        {
            bad(format!(
                "fresh-data control at D-rate {d}: a base of {} images leaves too few unseen images in {train_size}; use a smaller --train-subset",
                s.base_images
            ))
        }
        _ => Ok(()),
    }
}

/// The class weights of the class-weighted variant, or `None` for a share outside [0, 1].
fn class_weights(favoured_share: f64) -> Option<Vec<f64>> {
    if !(0.0..=1.0).contains(&favoured_share) {
        return None;
    }
    Some(
        (0..N_CLASSES)
            .map(|c| {
                if c < FAVOURED_CLASSES {
                    favoured_share / FAVOURED_CLASSES as f64
                } else {
                    (1.0 - favoured_share) / (N_CLASSES - FAVOURED_CLASSES) as f64
                }
            })
            .collect(),
    )
}

impl CellSpec {
    /// `<study>-<variant>-d<rate>-s<seed>-<hash of everything>`.
    ///
    /// # Errors
    /// Serialization.
    pub fn id(&self) -> Result<String> {
        let study = self.setting.network.study();
        let hash = config_hash(&Tagged { study, spec: self })?;
        Ok(format!(
            "{study}-{}-d{}-s{}-{hash}",
            self.variant.label(),
            self.d_rate,
            self.seed
        ))
    }

    fn model(&self) -> ModelConfig {
        match self.setting.network {
            Network::Standard => ModelConfig::standard(),
            Network::Adversarial => ModelConfig::adversarial(),
        }
    }

    fn train_config(&self) -> TrainConfig {
        let seed = seeding::cifar_training(self.seed);
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

    /// The total optimizer steps: the uniform run's at this D-rate for the equal-steps
    /// control, else epochs over the list.
    fn step_budget(&self, list_len: usize) -> u64 {
        let b = self.setting.batch_size;
        let per_epoch = |n: usize| n.div_ceil(b) as u64;
        match self.variant {
            Variant::EqualSteps if self.d_rate > 0.0 => {
                let base = self.setting.base_images;
                let uniform_len = base + (base as f64 * self.d_rate / 100.0).round() as usize;
                self.setting.epochs * per_epoch(uniform_len)
            }
            _ => self.setting.epochs * per_epoch(list_len),
        }
    }

    /// Images the cell trains on (epochs x list), for estimates and progress.
    fn trained_images(&self) -> f64 {
        let s = &self.setting;
        let list = match self.variant {
            Variant::NotebookCopies => s.base_images as f64 * (1.0 + (self.d_rate / 10.0).floor()),
            _ => s.base_images as f64 * (1.0 + self.d_rate / 100.0),
        };
        s.epochs as f64 * list
    }
}

/// The base, the training list and the duplicates per class of a cell.
fn training_list(spec: &CellSpec, data: &Cifar10) -> Result<(Vec<usize>, Vec<usize>, Vec<usize>)> {
    let train = data.train();
    let mut order: Vec<usize> = (0..train.len()).collect();
    order.shuffle(&mut seeding::cifar_base(spec.seed));
    let base_len = spec.setting.base_images.min(order.len());
    let base: Vec<usize> = order[..base_len].to_vec();
    let base_labels: Vec<u8> = base.iter().map(|&i| train.labels()[i]).collect();
    let d = spec.d_rate;
    let draw =
        |policy: Duplication, replacement: Replacement| -> Result<(Vec<usize>, Vec<usize>)> {
            let sampler = DuplicationParams::default()
                .d_rate(d)
                .policy(policy)
                .replacement(replacement)
                .check()?;
            let mut rng = seeding::cifar_duplicates(&spec.variant.label(), d, base_len, spec.seed);
            let draw = sampler.draw(&base_labels, &mut rng)?;
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
            let weights = class_weights(favoured_share).ok_or_else(|| StudyError::Cell {
                id: spec.id().unwrap_or_default(),
                message: format!("favoured share {favoured_share} is outside [0, 1]"),
            })?;
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
            let mut per_class = vec![0; N_CLASSES];
            for &l in &base_labels {
                per_class[usize::from(l)] += copies;
            }
            (list, per_class)
        }
        Variant::EqualSteps => (base.clone(), Vec::new()),
        Variant::FreshData => {
            let extra = (base_len as f64 * d / 100.0).round() as usize;
            if base_len + extra > order.len() {
                return Err(StudyError::Cell {
                    id: spec.id()?,
                    message: "not enough unseen images for the fresh-data control".into(),
                });
            }
            let mut list = base.clone();
            list.extend_from_slice(&order[base_len..base_len + extra]);
            (list, Vec::new())
        }
    };
    Ok((base, list, per_class))
}

/// Runs one cell: resumes from its checkpoint if there is one, saves a checkpoint after
/// every epoch, and returns the finished result. With `epoch_budget`, stops with
/// [`StudyError::Interrupted`] once that many epochs have been trained in this call.
///
/// # Errors
/// Model, data and checkpoint errors; a checkpoint whose history cannot be read is an error
/// naming its file, never an empty history.
pub fn run_cell(
    spec: &CellSpec,
    ctx: &Context,
    io: &CellIo<'_>,
    epoch_budget: Option<u64>,
) -> Result<Computed<CellResult>> {
    let start = Instant::now();
    let id = spec.id()?;
    let data = &ctx.data;
    let (base, list, per_class) = training_list(spec, data)?;
    let list = Arc::new(list);
    let mut trainer = Trainer::new(&spec.model(), spec.train_config(), &ctx.device)?;
    let trained = train_with_checkpoints(
        &mut trainer,
        data,
        &list,
        spec.step_budget(list.len()),
        io,
        (&id, start, epoch_budget),
    )?;
    let (stats, seconds_before) = (trained.epochs, trained.seconds_before);
    let bar = io.progress;
    bar.message("evaluating");
    let model = trainer.model();
    let device = &ctx.device;
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
            bar.message("attacking the test set");
            let robust_idx = Arc::new(
                (0..spec.setting.robust_test_images.min(data.test().len())).collect::<Vec<_>>(),
            );
            let seed = seeding::cifar_eval_attack(spec.seed);
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
    Ok(Computed {
        result: CellResult {
            train_list: list.len(),
            duplicates_per_class: per_class,
            steps: trainer.optimizer().steps(),
            epochs: stats,
            test: test_confusion,
            train_original,
            train_list_confusion,
            robust,
        },
        seconds: seconds_before + start.elapsed().as_secs_f64(),
        device: Some(dupstudy_cnn::device::describe(device)),
    })
}

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

/// Times `spec`'s network through the same training and evaluation code a cell runs, on
/// the first images of the data: each part once to warm up, then repeated until it has run
/// for a set time (two seconds of training), so that a short burst of a fast clock or a
/// quiet moment on a shared machine does not set the estimate.
///
/// # Errors
/// Model, data and tensor errors.
pub fn calibrate(spec: &CellSpec, ctx: &Context) -> Result<Costs> {
    const TRAIN_BATCHES: usize = 24;
    const PROBE_STEPS: usize = 3;
    const TRAIN_SECONDS: f64 = 2.0;
    const EVAL_SECONDS: f64 = 0.5;
    const ATTACK_SECONDS: f64 = 1.0;
    const ADVERSARIAL_SECONDS: f64 = 2.0;
    let (data, device) = (&ctx.data, &ctx.device);
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
    let attack_step = if spec.eval_attack().is_none() && full_config.adversarial.is_none() {
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
            let mut trainer = Trainer::new(&spec.model(), full_config.clone(), device)?;
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
    Ok(start.elapsed().as_secs_f64() / (calls * items_per_call).max(1) as f64)
}

/// Estimated seconds of one cell from its network's measured `costs` (no margin).
pub fn estimate_seconds(spec: &CellSpec, costs: &Costs) -> f64 {
    let s = &spec.setting;
    let train_steps = spec.train_config().adversarial.map_or(0, |a| a.steps);
    let eval_steps = spec.eval_attack().map_or(0, |a| a.steps);
    let train_per_image = match costs.adversarial_train {
        Some((timed_steps, cost)) if train_steps > 0 => {
            (cost + (train_steps as f64 - timed_steps as f64) * costs.attack_step).max(costs.train)
        }
        _ => costs.train + train_steps as f64 * costs.attack_step,
    };
    let fresh = if spec.variant == Variant::FreshData {
        s.base_images as f64 * spec.d_rate / 100.0
    } else {
        0.0
    };
    let eval = (s.test_images + s.base_images) as f64 + fresh;
    let attacked = if spec.eval_attack().is_some() {
        s.robust_test_images as f64
    } else {
        0.0
    };
    spec.trained_images() * train_per_image
        + eval * costs.eval
        + attacked * (costs.eval + eval_steps as f64 * costs.attack_step)
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

    fn needs_cifar(&self) -> bool {
        true
    }

    fn plan(&self, request: &Request, data: Option<&DataSet>) -> Result<Plan> {
        let data = data.ok_or_else(|| {
            StudyError::DataUnavailable(format!("{} needs CIFAR-10", self.network.study()))
        })?;
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

    fn cell_id(&self, cell: &CellSpec) -> Result<String> {
        cell.id()
    }

    fn parallel_cells(&self) -> bool {
        false
    }

    fn cell_weight(&self, cell: &CellSpec) -> u64 {
        (cell.trained_images() / 1000.0).ceil().max(1.0) as u64
    }

    fn context(&self, plan: &Plan, env: &Env) -> Result<Context> {
        let set = env.data.as_ref().ok_or_else(|| {
            StudyError::DataUnavailable(format!("{} needs CIFAR-10", self.network.study()))
        })?;
        if let Some(cell) = plan.cells.first()
            && cell.setting.data_sha256 != set.sha256
        {
            return Err(StudyError::DataMismatch {
                found: set.description.clone(),
                found_sha256: set.sha256.clone(),
                planned_sha256: cell.setting.data_sha256.clone(),
            });
        }
        Ok(Context::new(set.data.clone(), env.device.clone()))
    }

    fn estimate(&self, _plan: &Plan, ctx: &Context, pending: &[&CellSpec]) -> Result<Estimate> {
        let Some(first) = pending.first() else {
            return Ok(Estimate::default());
        };
        let costs = calibrate(first, ctx)?;
        let seconds: f64 = pending.iter().map(|c| estimate_seconds(c, &costs)).sum();
        Ok(Estimate {
            seconds: ESTIMATE_MARGIN * seconds,
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
    fn of(self, r: &Record) -> Option<f64> {
        let r = &r.result;
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
            Measure::OtherTest => group(FAVOURED_CLASSES..N_CLASSES),
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

    fn evaluation(self) -> &'static str {
        match self {
            Measure::Test | Measure::FavouredTest | Measure::OtherTest => "test",
            Measure::TrainOriginal => "train",
            Measure::TrainList => "train_list",
            Measure::Robust => "robust",
        }
    }
}

/// The records of a study, looked up by series.
struct Records<'a> {
    records: &'a [Record],
}

impl<'a> Records<'a> {
    fn find(&self, variant: Variant, d: f64, seed: u64) -> Option<&'a Record> {
        let v = if d == 0.0 {
            variant.baseline()
        } else {
            variant
        };
        self.records.iter().find(|r| {
            r.spec.variant == v && r.spec.d_rate.to_bits() == d.to_bits() && r.spec.seed == seed
        })
    }

    /// `(D-rate, cells)` of a series, its baseline included.
    fn series(&self, variant: Variant) -> Vec<(f64, Vec<&'a Record>)> {
        let member = |r: &Record| {
            r.spec.variant == variant
                || (r.spec.d_rate == 0.0 && r.spec.variant == variant.baseline())
        };
        let mut d_rates: Vec<f64> = self
            .records
            .iter()
            .filter(|r| member(r))
            .map(|r| r.spec.d_rate)
            .collect();
        d_rates.sort_by(f64::total_cmp);
        d_rates.dedup();
        d_rates
            .into_iter()
            .map(|d| {
                let cells = self
                    .records
                    .iter()
                    .filter(|r| member(r) && r.spec.d_rate.to_bits() == d.to_bits())
                    .filter(|r| d == 0.0 || r.spec.variant == variant)
                    .collect();
                (d, cells)
            })
            .collect()
    }

    fn at(&self, variant: Variant, d: f64) -> Option<Vec<&'a Record>> {
        self.series(variant)
            .into_iter()
            .find(|(x, _)| x.to_bits() == d.to_bits())
            .map(|(_, c)| c)
    }

    fn largest(&self, variant: Variant) -> f64 {
        self.series(variant)
            .into_iter()
            .map(|(d, _)| d)
            .fold(0.0, f64::max)
    }

    /// Paired difference of each cell and its D-rate 0 baseline of the same seed.
    fn delta(&self, cells: &[&Record], m: Measure) -> Option<Summary> {
        let values: Vec<f64> = cells
            .iter()
            .filter_map(|r| {
                let base = self.find(r.spec.variant, 0.0, r.spec.seed)?;
                Some(m.of(r)? - m.of(base)?)
            })
            .collect();
        Summary::of(&values).ok()
    }

    /// Paired difference `a - b` of two cell sets, matched by seed, in the order of `a`
    /// (`b - a` when `flip`).
    fn paired(a: &[&Record], b: &[&Record], m: Measure, flip: bool) -> Option<Summary> {
        let values: Vec<f64> = a
            .iter()
            .filter_map(|ra| {
                let rb = b.iter().find(|r| r.spec.seed == ra.spec.seed)?;
                let (va, vb) = (m.of(ra)?, m.of(rb)?);
                Some(if flip { vb - va } else { va - vb })
            })
            .collect();
        Summary::of(&values).ok()
    }
}

fn summary_of(cells: &[&Record], m: Measure) -> Option<Summary> {
    let values: Vec<f64> = cells.iter().filter_map(|r| m.of(r)).collect();
    Summary::of(&values).ok()
}

fn shown(s: &Option<Summary>) -> String {
    s.as_ref().map_or("not run".to_string(), |s| {
        format!("{} pts", fmt_summary(s, true))
    })
}

fn judged(rule: Rule, s: &Option<Summary>) -> Verdict {
    s.as_ref()
        .map_or(Verdict::NotTested("not in this run's plan".into()), |s| {
            rule.judge_summary(s)
        })
}

fn summarize(plan: &Plan, records: &[Record]) -> Result<StudySummary> {
    let network = plan.network;
    let study = network.study();
    let recs = Records { records };
    let cell_seconds: f64 = records.iter().map(|r| r.seconds).sum();
    let mut variants: Vec<Variant> = Vec::new();
    for r in records {
        if r.spec.d_rate > 0.0 && !variants.contains(&r.spec.variant) {
            variants.push(r.spec.variant);
        }
    }
    if variants.is_empty() {
        variants.push(Variant::Uniform);
    }
    variants.sort_by_key(Variant::rank);
    let measures: &[Measure] = match network {
        Network::Standard => &[
            Measure::Test,
            Measure::TrainOriginal,
            Measure::TrainList,
            Measure::FavouredTest,
            Measure::OtherTest,
        ],
        Network::Adversarial => &[
            Measure::Test,
            Measure::Robust,
            Measure::TrainOriginal,
            Measure::TrainList,
        ],
    };
    let mut table = Table::default();
    for &variant in &variants {
        for (d, cells) in recs.series(variant) {
            for &m in measures {
                for (arm, s) in [
                    ("value", summary_of(&cells, m)),
                    ("delta_vs_d0", recs.delta(&cells, m)),
                ] {
                    if let Some(s) = s {
                        table.push(Row {
                            study,
                            series: variant.label(),
                            d_rate: d,
                            arm,
                            evaluation: m.evaluation(),
                            metric: m.name(),
                            estimate: Statistic::of(&s),
                        });
                    }
                }
            }
        }
    }

    let series_for = |measure: Measure| -> Vec<Series> {
        variants
            .iter()
            .enumerate()
            .map(|(k, &v)| Series {
                name: v.label(),
                points: recs
                    .series(v)
                    .into_iter()
                    .filter_map(|(d, cells)| {
                        summary_of(&cells, measure).map(|s| band(&s, d, 100.0))
                    })
                    .collect(),
                color: Color::Palette(k),
                dashed: matches!(v, Variant::EqualSteps | Variant::FreshData),
            })
            .filter(|s| !s.points.is_empty())
            .collect()
    };
    let panel = |title: &str, y: &str, series| Panel {
        title: title.into(),
        x_label: "D-rate (%)".into(),
        y_label: y.into(),
        y_range: None,
        series,
    };
    let mut panels = vec![panel(
        "Clean test accuracy",
        "accuracy (%)",
        series_for(Measure::Test),
    )];
    match network {
        Network::Standard => {
            let train_series = [
                (Measure::TrainOriginal, "original set"),
                (Measure::TrainList, "duplicated set"),
            ]
            .into_iter()
            .enumerate()
            .map(|(k, (measure, name))| Series {
                name: format!("uniform, {name}"),
                points: recs
                    .series(Variant::Uniform)
                    .into_iter()
                    .filter_map(|(d, cells)| {
                        summary_of(&cells, measure).map(|s| band(&s, d, 100.0))
                    })
                    .collect(),
                color: Color::Palette(k + 4),
                dashed: k == 1,
            })
            .collect();
            panels.push(panel(
                "Training accuracy (uniform duplicates)",
                "accuracy (%)",
                train_series,
            ));
        }
        Network::Adversarial => panels.push(panel(
            "Robust test accuracy (each series under its own attack)",
            "accuracy under attack (%)",
            series_for(Measure::Robust),
        )),
    }
    let caption = match network {
        Network::Standard => "CIFAR-10, standard training (paper Figure 3 redrawn, with controls)",
        Network::Adversarial => "CIFAR-10, adversarial training (paper Figure 4 redrawn)",
    };
    let mut section = Section::new(CifarStudy::new(network).title(), study);
    let Some(s) = plan.cells.first().map(|c| c.setting.clone()) else {
        return Ok(StudySummary {
            table,
            claims: Vec::new(),
            scale: "no cells".into(),
            section,
        });
    };
    section.text(setting_paragraph(network, &s, records));
    section.figure(
        format!("{study}.svg"),
        caption,
        Figure::Lines {
            caption: caption.into(),
            panels,
        },
    );
    for &variant in &variants {
        section.text(series_table(network, variant, &recs));
    }
    let claims = claims(network, &variants, &recs);
    section.text(paper_table(network, &recs));
    if s.base_images < 50_000 || s.epochs < 30 {
        section.text(format!(
            "These runs use {} training images and {} epochs, not the paper's 50,000 and 30 (profile setting): absolute accuracies are lower than the paper's, and only the differences between D-rates are comparable.\n",
            s.base_images, s.epochs
        ));
    }
    if network == Network::Standard
        && s.base_images >= CIFAR_TRAIN_IMAGES
        && !plan.cells.iter().any(|c| c.variant == Variant::FreshData)
    {
        section.text(format!(
            "The fresh-data control (S-fresh) is not run here: it adds images the base has not seen, and this base already holds all {CIFAR_TRAIN_IMAGES} training images. The quick profile runs it on a 12,000-image base.\n"
        ));
    }
    section.text(format!(
        "\nCompute: {} of cell time over {} cells.\n",
        human_duration(cell_seconds),
        records.len()
    ));
    let scale = format!(
        "{} training images x {} epochs, {} seed(s); clean test accuracy without duplicates {}",
        s.base_images,
        s.epochs,
        records
            .iter()
            .map(|r| r.spec.seed)
            .max()
            .map_or(0, |m| m + 1),
        recs.at(Variant::Uniform, 0.0)
            .and_then(|c| summary_of(&c, Measure::Test))
            .map_or("not run".into(), |m| format!("{:.2} %", 100.0 * m.mean))
    );
    Ok(StudySummary {
        table,
        claims,
        scale,
        section,
    })
}

fn setting_paragraph(network: Network, s: &Setting, records: &[Record]) -> String {
    format!(
        "{} network of the paper's code, {} training images in the base (a seeded random subset per seed{}), \
         {} epochs, batch {}, test accuracy on the first {} test images{}. Seeds: {}. \
         Δ is a cell minus its D-rate-0 baseline of the same seed (same base, same initialization).\n\n",
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
    )
}

fn series_table(network: Network, variant: Variant, recs: &Records<'_>) -> String {
    let weighted = matches!(variant, Variant::ClassWeighted { .. });
    let mut md = format!("**{}** — {}\n\n", variant.label(), variant.describe());
    let (header, rule) = match (network, weighted) {
        (Network::Standard, false) => (" train acc., original / duplicated (%) |", "---|"),
        (Network::Standard, true) => (
            " train acc., original / duplicated (%) | Δ classes 0-4 / 5-9 (pts) |",
            "---|---|",
        ),
        (Network::Adversarial, _) => (" robust acc. (%) | Δ robust (pts) |", "---|---|"),
    };
    md.push_str(&format!(
        "| D-rate | seeds | test acc. (%) | Δ test (pts) |{header}\n|---:|---:|---|---|{rule}\n"
    ));
    for (d, cells) in recs.series(variant) {
        let f =
            |m: Measure| summary_of(&cells, m).map_or("—".to_string(), |s| fmt_summary(&s, true));
        let fd = |m: Measure| {
            if d == 0.0 {
                "—".to_string()
            } else {
                recs.delta(&cells, m)
                    .map_or("—".to_string(), |s| fmt_summary(&s, true))
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
                if weighted {
                    row.push_str(&format!(
                        " {} / {} |",
                        fd(Measure::FavouredTest),
                        fd(Measure::OtherTest)
                    ));
                }
            }
            Network::Adversarial => {
                row.push_str(&format!(
                    " {} | {} |",
                    f(Measure::Robust),
                    fd(Measure::Robust)
                ));
            }
        }
        md.push_str(&row);
        md.push('\n');
    }
    md.push('\n');
    md
}

/// `label` followed by the interval, and the rule's verdict on it.
fn measured(label: String, rule: Rule, s: &Option<Summary>) -> (String, Verdict) {
    (format!("{label}{}", shown(s)), judged(rule, s))
}

fn claims(network: Network, variants: &[Variant], recs: &Records<'_>) -> Vec<ClaimCheck> {
    let mut out = Vec::new();
    let delta_at = |variant: Variant, d: f64, m: Measure| {
        recs.at(variant, d).and_then(|cells| recs.delta(&cells, m))
    };
    // The paper's two accuracy changes: ours (uniform %) and the paper's way (`other`).
    let (change_ids, other, ours_label, other_label): ([&str; 2], Variant, &str, &str) =
        match network {
            Network::Standard => (
                ["S-30", "S-60"],
                Variant::NotebookCopies,
                "uniform % definition: Δ ",
                "notebook definition",
            ),
            Network::Adversarial => (
                ["A-30", "A-60"],
                Variant::PaperAttack,
                "Madry PGD: Δ ",
                "paper code's attack",
            ),
        };
    for id in change_ids {
        let spec = claim(id);
        let PaperValue::Change { d_rate: d, .. } = spec.paper else {
            continue;
        };
        let other_label = match network {
            Network::Standard => format!("{other_label} ({} copies): Δ ", d / 10.0),
            Network::Adversarial => format!("{other_label}: Δ "),
        };
        let ours = delta_at(Variant::Uniform, d, Measure::Test);
        let p = ours.as_ref().and_then(|s| spec.rule.p_value(s));
        out.push(
            spec.check(
                None,
                measured(ours_label.into(), spec.rule, &ours),
                Some(measured(
                    other_label,
                    spec.rule,
                    &delta_at(other, d, Measure::Test),
                )),
            )
            .with_p_value(p),
        );
    }
    if network == Network::Adversarial {
        // The same paired changes read for size and for no effect, both arms.
        for (id, d) in [
            ("A-30-size", 30.0),
            ("A-60-size", 60.0),
            ("A-30-none", 30.0),
            ("A-60-none", 60.0),
        ] {
            let spec = claim(id);
            out.push(spec.check(
                None,
                measured(
                    ours_label.into(),
                    spec.rule,
                    &delta_at(Variant::Uniform, d, Measure::Test),
                ),
                Some(measured(
                    format!("{other_label}: Δ "),
                    spec.rule,
                    &delta_at(other, d, Measure::Test),
                )),
            ));
        }
        let spec = claim("A-level");
        let level = |label: String, v: Variant| {
            let s = recs.at(v, 0.0).and_then(|c| summary_of(&c, Measure::Test));
            let shown = s.as_ref().map_or("not run".to_string(), |s| {
                format!("{} %", fmt_summary(s, true))
            });
            (format!("{label}{shown}"), judged(spec.rule, &s))
        };
        out.push(spec.check(
            None,
            level("Madry PGD: ".into(), Variant::Uniform),
            Some(level(format!("{other_label}: "), Variant::PaperAttack)),
        ));
    }
    match network {
        Network::Standard => {
            let top = recs.largest(Variant::Uniform);
            let spec = claim("S-plateau");
            let check = if top > 60.0 {
                let diff = match (
                    recs.at(Variant::Uniform, top),
                    recs.at(Variant::Uniform, 60.0),
                ) {
                    (Some(a), Some(b)) => Records::paired(&a, &b, Measure::Test, false),
                    _ => None,
                };
                measured(
                    format!("test acc. at {top} minus at 60: "),
                    spec.rule,
                    &diff,
                )
            } else {
                let why = "no D-rate above 60 in this run's plan";
                (why.to_string(), Verdict::NotTested(why.into()))
            };
            out.push(spec.check(None, check, None));
            for (control, id) in [
                (Variant::EqualSteps, "S-steps"),
                (Variant::FreshData, "S-fresh"),
            ] {
                let spec = claim(id);
                let d = recs.largest(control);
                if d == 0.0 {
                    continue;
                }
                let s = match (recs.at(control, d), recs.at(Variant::Uniform, d)) {
                    (Some(c), Some(u)) => {
                        Records::paired(&c, &u, Measure::Test, control == Variant::EqualSteps)
                    }
                    _ => None,
                };
                out.push(spec.check(None, measured(format!("D-rate {d}: "), spec.rule, &s), None));
            }
            for &variant in variants
                .iter()
                .filter(|v| matches!(v, Variant::ClassWeighted { .. }))
            {
                let spec = claim("S-nonuniform");
                let common = |d: f64| {
                    recs.at(variant, d).is_some() && recs.at(Variant::Uniform, d).is_some()
                };
                let d = if common(60.0) {
                    Some(60.0)
                } else {
                    recs.series(variant)
                        .iter()
                        .map(|(d, _)| *d)
                        .filter(|&d| d > 0.0 && common(d))
                        .fold(None, |m: Option<f64>, d| Some(m.map_or(d, |m| m.max(d))))
                };
                let check = match d {
                    Some(d) => {
                        let s = match (recs.at(variant, d), recs.at(Variant::Uniform, d)) {
                            (Some(w), Some(u)) => Records::paired(&w, &u, Measure::Test, false),
                            _ => None,
                        };
                        measured(format!("D-rate {d}: "), spec.rule, &s)
                    }
                    None => {
                        let why = "no D-rate where both the class-weighted and the uniform arm ran";
                        (why.to_string(), Verdict::NotTested(why.into()))
                    }
                };
                out.push(spec.check(Some(&variant.label()), check, None));
            }
            for &variant in variants
                .iter()
                .filter(|v| matches!(v, Variant::ClassWeighted { .. }))
            {
                let spec = claim("S-weighted");
                let d = recs.largest(variant);
                let favoured = delta_at(variant, d, Measure::FavouredTest);
                let other = delta_at(variant, d, Measure::OtherTest);
                out.push(spec.check(
                    Some(&variant.label()),
                    (
                        format!(
                            "D-rate {d}: Δ classes 0-4 {}; Δ classes 5-9 {}",
                            shown(&favoured),
                            shown(&other)
                        ),
                        judged(spec.rule, &favoured),
                    ),
                    None,
                ));
            }
        }
        Network::Adversarial => {
            let d = recs.largest(Variant::Uniform);
            if d > 0.0 {
                let spec = claim("A-robust");
                let pd = recs.largest(Variant::PaperAttack);
                out.push(spec.check(
                    None,
                    measured(
                        format!("Madry PGD, D-rate {d}: Δ robust acc. "),
                        spec.rule,
                        &delta_at(Variant::Uniform, d, Measure::Robust),
                    ),
                    Some(measured(
                        format!("paper attack, D-rate {pd}: Δ "),
                        spec.rule,
                        &delta_at(Variant::PaperAttack, pd, Measure::Robust),
                    )),
                ));
            }
        }
    }
    out
}

fn paper_table(network: Network, recs: &Records<'_>) -> String {
    let (other, label) = match network {
        Network::Standard => (Variant::NotebookCopies, "notebook copies"),
        Network::Adversarial => (Variant::PaperAttack, "paper code's attack"),
    };
    let mut md = format!(
        "Against the paper's numbers (clean test accuracy, %):\n\n| D-rate | paper (one run) | ours, uniform % | ours, {label} |\n|---:|---:|---|---|\n"
    );
    for (d, paper) in paper_points(network) {
        let at = |v: Variant| {
            recs.at(v, d)
                .and_then(|cells| summary_of(&cells, Measure::Test))
                .map_or("not run".to_string(), |s| fmt_summary(&s, true))
        };
        md.push_str(&format!(
            "| {d} | {paper:.2} | {} | {} |\n",
            at(Variant::Uniform),
            at(other)
        ));
    }
    md.push('\n');
    md
}
