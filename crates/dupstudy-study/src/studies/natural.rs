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

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use candle_core::Device;
use dupstudy_audit::{AuditParams, ImageSet};
use dupstudy_cifar::{Cifar10, SplitName};
use dupstudy_cnn::{EpochStats, ModelConfig, TrainConfig, Trainer, confusion, predict};
use dupstudy_metrics::{ConfusionMatrix, Summary};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::training::train_with_checkpoints;
use super::{ESTIMATE_MARGIN, Tagged, cifar};
use crate::claims::{ClaimCheck, ClaimSpec, PaperValue, Rule, Unit, Verdict, fmt_summary};
use crate::data::DataSet;
use crate::error::{Result, StudyError};
use crate::profile::{Env, Profile, Request};
use crate::progress::Progress;
use crate::report::{Section, human_duration};
use crate::seeding;
use crate::store::{CellRecord, config_hash, read_json, write_json_atomic};
use crate::study::{CellIo, Computed, Estimate, Study, StudySummary};
use crate::table::{Row, Statistic, Table};

/// The study's name.
pub const NAME: &str = "cifar-natural";
/// Bumped when a change alters what a cell computes.
const CELL_VERSION: u32 = 1;
/// The audit's folder inside the study's folder.
pub const AUDIT_DIR: &str = "audit";
/// Images predicted per batch.
const EVAL_BATCH: usize = 500;

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
    /// SHA-256 of the data, so results of other data never mix.
    pub data_sha256: String,
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
        let hash = config_hash(&Tagged {
            study: NAME,
            spec: self,
        })?;
        Ok(format!("{NAME}-{}-s{}-{hash}", self.arm.label(), self.seed))
    }

    fn train_config(&self) -> TrainConfig {
        let mut config = TrainConfig::paper_standard(seeding::natural_training(self.seed));
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
    pub per_image: Option<super::twins::PerImage>,
}

/// A stored cell.
pub type Record = CellRecord<CellSpec, CellResult>;

/// What the audit of the pools decided, in the indices the cells use; cached as
/// `<out>/cifar-natural/audit/partition.json` so that a resumed run audits once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Partition {
    /// The pools, audit parameters and data it was computed for.
    pub key: PartitionKey,
    /// Duplicate groups restricted to the training pool (training indices, ascending, two
    /// or more per group).
    pub train_groups: Vec<Vec<usize>>,
    /// Training indices the deduplicated arm drops (every group member after its first),
    /// ascending.
    pub cut: Vec<usize>,
    /// Test indices whose duplicate group holds a training image, ascending.
    pub twins: Vec<usize>,
    /// The audit group of each twin, in the order of `twins` (twins of one group share a
    /// number); empty in partitions stored before it was kept.
    #[serde(default)]
    pub twin_groups: Vec<usize>,
    /// Test images in groups of test images only (duplicates within the test pool).
    pub test_in_test_groups: usize,
    /// Seconds the audit took.
    pub seconds: f64,
}

/// What a partition depends on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartitionKey {
    /// Training pool size.
    pub train_pool: usize,
    /// Test pool size.
    pub test_pool: usize,
    /// Audit parameters.
    pub audit: AuditParams,
    /// Data checksum.
    pub data_sha256: String,
}

impl Partition {
    /// From an audit of `set` (the pools, as [`ImageSet::from_cifar_prefix`] builds them).
    pub fn from_audit(
        key: PartitionKey,
        set: &ImageSet,
        audit: &dupstudy_audit::Audit,
        seconds: f64,
    ) -> Self {
        use dupstudy_audit::Split as S;
        let index = |i: usize| set.info[i].index;
        let mut train_groups: Vec<Vec<usize>> = audit
            .groups
            .iter()
            .map(|g| {
                let mut m: Vec<usize> = g
                    .iter()
                    .filter(|&&i| set.info[i].split == S::Train)
                    .map(|&i| index(i))
                    .collect();
                m.sort_unstable();
                m
            })
            .filter(|m| m.len() > 1)
            .collect();
        train_groups.sort();
        let kept: std::collections::HashSet<usize> =
            dupstudy_audit::summary::deduplicated_train(set, audit)
                .into_iter()
                .map(index)
                .collect();
        let cut: Vec<usize> = (0..key.train_pool).filter(|i| !kept.contains(i)).collect();
        let twins: Vec<usize> = dupstudy_audit::summary::test_with_train_twin(set, audit)
            .into_iter()
            .map(index)
            .collect();
        let mut grouped: Vec<(usize, usize)> = audit
            .groups
            .iter()
            .enumerate()
            .filter(|(_, g)| g.iter().any(|&i| set.info[i].split == S::Train))
            .flat_map(|(gi, g)| {
                g.iter()
                    .filter(|&&i| set.info[i].split == S::Test)
                    .map(move |&i| (index(i), gi))
            })
            .collect();
        grouped.sort_unstable();
        let twin_groups: Vec<usize> = grouped.into_iter().map(|(_, g)| g).collect();
        let test_in_test_groups = audit
            .groups
            .iter()
            .filter(|g| g.iter().all(|&i| set.info[i].split == S::Test))
            .map(Vec::len)
            .sum();
        Self {
            key,
            train_groups,
            cut,
            twins,
            twin_groups,
            test_in_test_groups,
            seconds,
        }
    }

    /// A short fingerprint of what the cells depend on (the cut and the twins).
    pub fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        for (tag, list) in [("cut", &self.cut), ("twins", &self.twins)] {
            hasher.update(tag.as_bytes());
            for &i in list {
                hasher.update((i as u64).to_le_bytes());
            }
        }
        hasher.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The training list of `arm` for `seed`, ascending.
    pub fn training_list(&self, arm: Arm, seed: u64) -> Vec<usize> {
        let pool = self.key.train_pool;
        match arm {
            Arm::Full => (0..pool).collect(),
            Arm::Deduplicated => {
                let mut drop = vec![false; pool];
                for &i in &self.cut {
                    drop[i] = true;
                }
                (0..pool).filter(|&i| !drop[i]).collect()
            }
            Arm::RandomRemoval => {
                let mut order: Vec<usize> = (0..pool).collect();
                order.shuffle(&mut seeding::natural_removal(pool, self.cut.len(), seed));
                let mut list = order[self.cut.len()..].to_vec();
                list.sort_unstable();
                list
            }
        }
    }

    /// The D-rate of a training list (ascending indices): images beyond one per duplicate
    /// group, over the list's images.
    pub fn d_rate_of(&self, list: &[usize]) -> f64 {
        let surplus: usize = self
            .train_groups
            .iter()
            .map(|g| {
                g.iter()
                    .filter(|i| list.binary_search(i).is_ok())
                    .count()
                    .saturating_sub(1)
            })
            .sum();
        if list.is_empty() {
            0.0
        } else {
            surplus as f64 / list.len() as f64
        }
    }
}

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

/// The claims of the natural-duplicates study.
pub const CLAIMS: &[ClaimSpec] = &[
    ClaimSpec {
        id: "N-dups",
        words: "The duplicates CIFAR-10's training set already holds do not change test accuracy ((b) groups cut to one − (c) as many random images removed)",
        paper: PaperValue::Text("not studied (the paper plants synthetic duplicates only)"),
        measure: "(b) minus (c) accuracy on the test images without a training twin, paired by seed",
        rule: Rule::Within(0.01),
        unit: Unit::Points,
        primary: false,
        margin_reason: Some(
            "1 point, as S-plateau and A-robust: smaller than the step the paper calls \"only small improvements\" (+0.99 points from D-rate 30 to 60); an effect of natural duplicates below it would not change a practitioner's choice",
        ),
    },
    ClaimSpec {
        id: "N-leak",
        words: "Test images whose twin was trained on inflate the test accuracy we report (whole test − test without twins, model (a))",
        paper: PaperValue::Text("not studied (the paper's test set is CIFAR-10's, twins included)"),
        measure: "accuracy on the whole test pool minus on the test pool without training twins, model (a), paired by seed",
        rule: Rule::Positive,
        unit: Unit::Points,
        primary: true,
        margin_reason: None,
    },
    ClaimSpec {
        id: "N-twins",
        words: "Test images with a training twin score higher than the other test images of their classes (model (a))",
        paper: PaperValue::Text("not studied"),
        measure: "accuracy on the test images with a training twin minus the other test images' per-class accuracies weighted by the twins' class mix, model (a); bootstrap over seeds, twin groups and the other images by class",
        rule: Rule::Positive,
        unit: Unit::Points,
        primary: true,
        margin_reason: None,
    },
];

fn claim(id: &str) -> &'static ClaimSpec {
    ClaimSpec::by_id(CLAIMS, id)
}

/// A profile's defaults: `(train pool, test pool, epochs, batch, seeds)`.
fn defaults(profile: Profile) -> (usize, usize, u64, usize, u64) {
    match profile {
        Profile::Smoke => (3_000, 1_000, 1, 64, 2),
        Profile::Quick => (50_000, 10_000, 8, 128, 8),
        Profile::Paper | Profile::PaperStandard | Profile::PaperAdversarial => {
            (50_000, 10_000, 30, 128, 5)
        }
        Profile::Full => (50_000, 10_000, 30, 128, 8),
    }
}

impl Plan {
    /// The plan of a profile with the flags' overrides (`--seeds`, `--epochs`,
    /// `--train-subset` for the training pool; `--d-rates` does not apply and is reported
    /// as such), validated against the data's split sizes.
    ///
    /// # Errors
    /// A value the plan cannot use, naming its flag.
    pub fn from_request(
        request: &Request,
        (train_size, test_size): (usize, usize),
        data_sha256: &str,
    ) -> Result<Self> {
        let o = &request.overrides;
        if o.d_rates.is_some() {
            tracing::warn!(
                "--d-rates does not apply to {NAME}: its D-rates are the data set's own (see its report)"
            );
        }
        let (train, test, epochs, batch, seeds) = defaults(request.profile);
        let plan = Plan {
            setting: Setting {
                train_pool: o.train_subset.unwrap_or(train),
                test_pool: test.min(test_size),
                epochs: o.epochs.unwrap_or(epochs),
                batch_size: batch,
                audit: AuditParams::default(),
                data_sha256: data_sha256.to_string(),
            },
            seeds: o.seeds.unwrap_or(seeds),
        };
        plan.check(train_size, test_size)?;
        Ok(plan)
    }

    /// Checks every parameter against the split sizes.
    ///
    /// # Errors
    /// The first bad one, naming its flag.
    pub fn check(&self, train_size: usize, test_size: usize) -> Result<()> {
        let s = &self.setting;
        if s.train_pool < 2 || s.train_pool > train_size {
            return Err(StudyError::invalid(
                "--train-subset",
                format!(
                    "the natural-duplicates study's training pool must lie in 2..={train_size}, got {}",
                    s.train_pool
                ),
            ));
        }
        if s.test_pool == 0 || s.test_pool > test_size {
            return Err(StudyError::invalid(
                "test pool",
                format!("must lie in 1..={test_size}, got {}", s.test_pool),
            ));
        }
        if s.epochs == 0 {
            return Err(StudyError::invalid("--epochs", "must be at least 1"));
        }
        if s.batch_size == 0 {
            return Err(StudyError::invalid("batch size", "must be at least 1"));
        }
        if self.seeds == 0 {
            return Err(StudyError::invalid("--seeds", "must be at least 1"));
        }
        s.audit
            .check()
            .map_err(|e| StudyError::invalid("audit parameters", e.to_string()))
    }

    /// Every cell: seed by seed, the three arms of each.
    pub fn cells(&self) -> Vec<CellSpec> {
        (0..self.seeds)
            .flat_map(|seed| {
                Arm::ALL.map(|arm| CellSpec {
                    arm,
                    seed,
                    setting: self.setting.clone(),
                    version: CELL_VERSION,
                })
            })
            .collect()
    }

    fn key(&self) -> PartitionKey {
        let s = &self.setting;
        PartitionKey {
            train_pool: s.train_pool,
            test_pool: s.test_pool,
            audit: s.audit,
            data_sha256: s.data_sha256.clone(),
        }
    }
}

/// The audit's phases on a study progress bar.
struct AuditBar<'a>(&'a dyn Progress);

impl dupstudy_audit::progress::Progress for AuditBar<'_> {
    fn start(&self, phase: &str, total: u64) {
        self.0.set_length(total);
        self.0.set_position(0);
        self.0.message(&format!("audit: {phase}"));
    }
    fn advance(&self, n: u64) {
        self.0.inc(n);
    }
    fn finish(&self) {}
}

/// The partition of `plan`'s pools: read from `dir/partition.json` when it was computed for
/// the same pools, parameters and data, else audited now (its outputs and the partition
/// written into `dir`, each file atomically).
///
/// # Errors
/// An unreadable cached partition (naming the file), audit and write errors.
pub fn partition(
    plan: &Plan,
    data: &Cifar10,
    dir: &Path,
    progress: &dyn Progress,
) -> Result<Partition> {
    let path = dir.join("partition.json");
    let key = plan.key();
    if path.is_file() {
        let cached: Partition = read_json(&path, "natural-duplicates partition")?;
        if cached.key == key && cached.twin_groups.len() == cached.twins.len() {
            return Ok(cached);
        }
        tracing::info!(path = %path.display(), "the cached partition is for other pools or parameters; auditing again");
    }
    let start = Instant::now();
    progress.message("audit: features");
    let set = ImageSet::from_cifar_prefix(data, key.train_pool, key.test_pool);
    let features = dupstudy_audit::features::compute(&set);
    let audit = dupstudy_audit::audit::run(&set, &features, &key.audit, &AuditBar(progress))?;
    let summary = dupstudy_audit::summary::summarize(&set, &audit);
    dupstudy_audit::output::write_all(dir, &set, &audit, &summary, None)?;
    let partition = Partition::from_audit(key, &set, &audit, start.elapsed().as_secs_f64());
    write_json_atomic(&path, &partition)?;
    tracing::info!(
        groups = partition.train_groups.len(),
        cut = partition.cut.len(),
        twins = partition.twins.len(),
        seconds = partition.seconds,
        "audited the pools"
    );
    Ok(partition)
}

/// The audit's folder of a results folder.
pub fn audit_dir(out: &Path) -> PathBuf {
    crate::driver::study_dir(out, NAME).join(AUDIT_DIR)
}

/// Runs one cell (resuming from its checkpoint). With `epoch_budget`, stops with
/// [`StudyError::Interrupted`] once that many epochs have been trained in this call.
///
/// # Errors
/// Model, data and checkpoint errors.
pub fn run_cell(
    spec: &CellSpec,
    ctx: &Context,
    io: &CellIo<'_>,
    epoch_budget: Option<u64>,
) -> Result<Computed<CellResult>> {
    let start = Instant::now();
    let id = spec.id()?;
    let p = &ctx.partition;
    if p.key.train_pool != spec.setting.train_pool || p.key.test_pool != spec.setting.test_pool {
        return Err(StudyError::Cell {
            id,
            message: format!(
                "the partition is of pools {}/{}, the cell's are {}/{}",
                p.key.train_pool, p.key.test_pool, spec.setting.train_pool, spec.setting.test_pool
            ),
        });
    }
    let list = p.training_list(spec.arm, spec.seed);
    let natural_d_rate = p.d_rate_of(&list);
    let removed = spec.setting.train_pool - list.len();
    let list = Arc::new(list);
    let config = spec.train_config();
    let step_budget = config.epochs * list.len().div_ceil(config.batch_size) as u64;
    let mut trainer = Trainer::new(&ModelConfig::standard(), config, &ctx.device)?;
    let trained = train_with_checkpoints(
        &mut trainer,
        &ctx.data,
        &list,
        step_budget,
        io,
        (&id, start, epoch_budget),
    )?;
    io.progress.message("evaluating");
    let test: Vec<usize> = (0..spec.setting.test_pool).collect();
    let predicted = predict(
        trainer.model(),
        &ctx.data,
        SplitName::Test,
        Arc::new(test.clone()),
        EVAL_BATCH,
        &ctx.device,
        None,
    )?;
    let labels = ctx.data.test().labels();
    let subset = |twin: bool| -> Result<ConfusionMatrix> {
        let (idx, pred): (Vec<usize>, Vec<u8>) = test
            .iter()
            .zip(&predicted)
            .filter(|(i, _)| p.twins.binary_search(i).is_ok() == twin)
            .map(|(&i, &y)| (i, y))
            .unzip();
        Ok(confusion(&idx, labels, &pred)?)
    };
    Ok(Computed {
        result: CellResult {
            train_list: list.len(),
            removed,
            natural_d_rate,
            steps: trainer.optimizer().steps(),
            epochs: trained.epochs,
            test: confusion(&test, labels, &predicted)?,
            test_without_twins: subset(false)?,
            test_twins: subset(true)?,
            partition: p.fingerprint(),
            per_image: Some(super::twins::PerImage::new(
                &labels[..test.len()],
                &predicted,
                p.twins.clone(),
                p.twin_groups.clone(),
            )),
        },
        seconds: trained.seconds_before + start.elapsed().as_secs_f64(),
        device: Some(dupstudy_cnn::device::describe(&ctx.device)),
    })
}

/// A cell of the standard CIFAR study with this setting's network, optimizer, batch and
/// pool, for timing with [`cifar::calibrate`].
fn timing_cell(s: &Setting) -> cifar::CellSpec {
    cifar::CellSpec {
        variant: cifar::Variant::Uniform,
        d_rate: 0.0,
        seed: 0,
        setting: cifar::Setting {
            network: cifar::Network::Standard,
            base_images: s.train_pool,
            test_images: s.test_pool,
            robust_test_images: 0,
            epochs: s.epochs,
            batch_size: s.batch_size,
            train_attack: None,
            eval_attack: None,
            data_sha256: s.data_sha256.clone(),
        },
        version: 0,
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
        let data =
            data.ok_or_else(|| StudyError::DataUnavailable(format!("{NAME} needs CIFAR-10")))?;
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

    fn cell_id(&self, cell: &CellSpec) -> Result<String> {
        cell.id()
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
        let set = env
            .data
            .as_ref()
            .ok_or_else(|| StudyError::DataUnavailable(format!("{NAME} needs CIFAR-10")))?;
        if plan.setting.data_sha256 != set.sha256 {
            return Err(StudyError::DataMismatch {
                found: set.description.clone(),
                found_sha256: set.sha256.clone(),
                planned_sha256: plan.setting.data_sha256.clone(),
            });
        }
        let partition = partition(plan, &set.data, &audit_dir(&env.out), env.progress.as_ref())?;
        Ok(Context::new(
            set.data.clone(),
            env.device.clone(),
            partition,
        ))
    }

    fn estimate(&self, plan: &Plan, ctx: &Context, pending: &[&CellSpec]) -> Result<Estimate> {
        if pending.is_empty() {
            return Ok(Estimate::default());
        }
        let costs = cifar::calibrate(
            &timing_cell(&plan.setting),
            &cifar::Context::new(ctx.data.clone(), ctx.device.clone()),
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
            seconds: ESTIMATE_MARGIN * seconds,
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

/// What is measured on one cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Measure {
    /// Accuracy on the whole test pool.
    Whole,
    /// On the test pool without training twins.
    WithoutTwins,
    /// On the images with a training twin.
    Twins,
    /// Whole minus without twins: how much the twins raise the reported accuracy.
    Leakage,
    /// Twins minus without twins: how much better a twin is classified.
    TwinAdvantage,
}

impl Measure {
    const ALL: [Measure; 5] = [
        Measure::Whole,
        Measure::WithoutTwins,
        Measure::Twins,
        Measure::Leakage,
        Measure::TwinAdvantage,
    ];

    fn of(self, r: &Record) -> Option<f64> {
        let r = &r.result;
        let (whole, without, twins) = (
            r.test.accuracy(),
            r.test_without_twins.accuracy(),
            r.test_twins.accuracy(),
        );
        match self {
            Measure::Whole => whole,
            Measure::WithoutTwins => without,
            Measure::Twins => twins,
            Measure::Leakage => Some(whole? - without?),
            Measure::TwinAdvantage => Some(twins? - without?),
        }
    }

    /// `(evaluation, metric)` of the summary table.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Measure::Whole => ("test", "accuracy"),
            Measure::WithoutTwins => ("test_without_twins", "accuracy"),
            Measure::Twins => ("test_twins", "accuracy"),
            Measure::Leakage => ("test", "leakage_inflation"),
            Measure::TwinAdvantage => ("test_twins", "twin_advantage"),
        }
    }
}

/// The cells of one arm, by seed.
fn arm_cells(records: &[Record], arm: Arm) -> Vec<&Record> {
    records.iter().filter(|r| r.spec.arm == arm).collect()
}

fn summary_of(cells: &[&Record], m: Measure) -> Option<Summary> {
    let values: Vec<f64> = cells.iter().filter_map(|r| m.of(r)).collect();
    Summary::of(&values).ok()
}

/// `a - b` of measure `m`, paired by seed.
fn paired(records: &[Record], a: Arm, b: Arm, m: Measure) -> Option<Summary> {
    let values: Vec<f64> = arm_cells(records, a)
        .into_iter()
        .filter_map(|ra| {
            let rb = records
                .iter()
                .find(|r| r.spec.arm == b && r.spec.seed == ra.spec.seed)?;
            Some(m.of(ra)? - m.of(rb)?)
        })
        .collect();
    Summary::of(&values).ok()
}

fn cell(s: &Option<Summary>) -> String {
    s.as_ref().map_or("—".to_string(), |s| fmt_summary(s, true))
}

fn measured(
    label: &str,
    rule: Rule,
    s: &Option<Summary>,
    unmet: Option<&str>,
) -> (String, Verdict) {
    if let Some(why) = unmet {
        return (why.to_string(), Verdict::NotTested(why.to_string()));
    }
    match s {
        Some(s) => (
            format!("{label}{} pts", fmt_summary(s, true)),
            rule.judge_summary(s),
        ),
        None => {
            let why = "not in this run's plan";
            (why.to_string(), Verdict::NotTested(why.into()))
        }
    }
}

/// The partition fingerprint all records share.
///
/// # Errors
/// [`StudyError::Cell`] naming a record computed from another audit.
fn common_partition(records: &[Record]) -> Result<Option<String>> {
    let Some(first) = records.first() else {
        return Ok(None);
    };
    for r in records {
        if r.result.partition != first.result.partition {
            return Err(StudyError::Cell {
                id: r.id.clone(),
                message: format!(
                    "computed from audit partition {}, but {} from {}: delete the cells of the older audit and run again",
                    r.result.partition, first.id, first.result.partition
                ),
            });
        }
    }
    Ok(Some(first.result.partition.clone()))
}

fn summarize(plan: &Plan, records: &[Record]) -> Result<StudySummary> {
    let fingerprint = common_partition(records)?;
    let s = &plan.setting;
    let mut table = Table::default();
    for arm in Arm::ALL {
        let cells = arm_cells(records, arm);
        let d_rate = cells
            .first()
            .map_or(0.0, |r| 100.0 * r.result.natural_d_rate);
        for m in Measure::ALL {
            let (evaluation, metric) = m.names();
            let mut rows = vec![("value", summary_of(&cells, m))];
            if arm != Arm::Full {
                rows.push(("delta_vs_full", paired(records, arm, Arm::Full, m)));
            }
            if arm == Arm::Deduplicated {
                rows.push((
                    "delta_vs_random_removal",
                    paired(records, arm, Arm::RandomRemoval, m),
                ));
            }
            for (kind, summary) in rows {
                if let Some(summary) = summary {
                    table.push(Row {
                        study: NAME,
                        series: arm.label().to_string(),
                        d_rate,
                        arm: kind,
                        evaluation,
                        metric,
                        estimate: Statistic::of(&summary),
                    });
                }
            }
        }
    }

    let mut section = Section::new(NaturalStudy.title(), NAME);
    let first = |arm: Arm| arm_cells(records, arm).first().map(|r| &r.result);
    let full = first(Arm::Full);
    let (cut, twins) = match (full, first(Arm::Deduplicated)) {
        (Some(a), Some(b)) => (b.removed, a.test_twins.total() as usize),
        _ => (0, 0),
    };
    section.text(format!(
        "The audit (`{AUDIT_DIR}/REPORT.md` in this study's folder; threshold {:.2}) of the first {} training and {} test images found {} training images beyond one per duplicate group (natural D-rate {:.2} % of the training pool) and {} test images ({:.2} % of the test pool) whose twin is in the training pool. \
         The paper's standard network (16/32/128, dropout 0.5; SGD 0.01, momentum 0.9, weight decay 5e-4, crop + flip) trains {} epochs, batch {}, on (a) the whole pool, (b) the pool with every duplicate group cut to its first image, and (c) the pool minus {} random images (as many as (b) removed), each seed's three arms from the same initialization. Seeds: {}. Partition fingerprint: `{}`.\n\n",
        s.audit.threshold,
        s.train_pool,
        s.test_pool,
        cut,
        full.map_or(0.0, |r| 100.0 * r.natural_d_rate),
        twins,
        100.0 * twins as f64 / s.test_pool.max(1) as f64,
        s.epochs,
        s.batch_size,
        cut,
        records.iter().map(|r| r.spec.seed).max().map_or(0, |m| m + 1),
        fingerprint.as_deref().unwrap_or("none"),
    ));
    let mut md = String::from(
        "| arm | seeds | training images | natural D-rate (%) | whole test (%) | without twins (%) | twins only (%) | leakage inflation (pts) | twin advantage (pts) |\n|---|---:|---:|---:|---|---|---|---|---|\n",
    );
    for arm in Arm::ALL {
        let cells = arm_cells(records, arm);
        let Some(r) = cells.first() else { continue };
        md.push_str(&format!(
            "| {} | {} | {} | {:.2} | {} | {} | {} | {} | {} |\n",
            arm.describe(),
            cells.len(),
            r.result.train_list,
            100.0 * r.result.natural_d_rate,
            cell(&summary_of(&cells, Measure::Whole)),
            cell(&summary_of(&cells, Measure::WithoutTwins)),
            cell(&summary_of(&cells, Measure::Twins)),
            cell(&summary_of(&cells, Measure::Leakage)),
            cell(&summary_of(&cells, Measure::TwinAdvantage)),
        ));
    }
    md.push_str("\nDifferences between arms, paired by seed (pts):\n\n| comparison | whole test | without twins | twins only |\n|---|---|---|---|\n");
    for (a, b, what) in [
        (
            Arm::Deduplicated,
            Arm::RandomRemoval,
            "(b) − (c): the effect of the duplicates themselves",
        ),
        (
            Arm::Deduplicated,
            Arm::Full,
            "(b) − (a): deduplicating the training set",
        ),
        (
            Arm::RandomRemoval,
            Arm::Full,
            "(c) − (a): removing as many random images",
        ),
    ] {
        md.push_str(&format!(
            "| {what} | {} | {} | {} |\n",
            cell(&paired(records, a, b, Measure::Whole)),
            cell(&paired(records, a, b, Measure::WithoutTwins)),
            cell(&paired(records, a, b, Measure::Twins)),
        ));
    }
    md.push_str(&format!(
        "\nIntervals are 95 % over seeds, on these fixed test images: they bound the accuracy this test set reports. N-twins, a claim about twins in general, is standardized by class (twins are not spread over the classes like the other test images) and its interval resamples the seeds, the duplicate groups of its {twins} twin images (twins of one group together) and the other images within their class. Arm (b) keeps each group's first image, and model (a) trained on every twin's partner, so N-twins says that twins score higher, not that they do *because* their partner was trained on: that needs the partner removed, which the privacy study does.\n\n"
    ));
    section.text(md);
    if s.train_pool < 50_000 || s.epochs < 30 {
        section.text(format!(
            "These runs use {} training images and {} epochs, not the paper's 50,000 and 30 (profile setting){}.\n",
            s.train_pool,
            s.epochs,
            if s.train_pool < 50_000 {
                "; a small pool holds few of the data set's duplicate pairs, so the arms differ little"
            } else {
                ""
            }
        ));
    }
    section.text(format!(
        "\nCompute: {} of cell time over {} cells (the audit not included).\n",
        human_duration(records.iter().map(|r| r.seconds).sum()),
        records.len()
    ));
    let claims = claims(records, cut, twins);
    let scale = format!(
        "{} training images x {} epochs, {} seed(s); model (a) {} on the whole test pool",
        s.train_pool,
        s.epochs,
        records
            .iter()
            .map(|r| r.spec.seed)
            .max()
            .map_or(0, |m| m + 1),
        summary_of(&arm_cells(records, Arm::Full), Measure::Whole)
            .map_or("not run".into(), |m| format!("{:.2} %", 100.0 * m.mean))
    );
    Ok(StudySummary {
        table,
        claims,
        scale,
        section,
    })
}

/// N-twins on the cells of arm (a): the class-standardized twin advantage with its interval
/// (see [`super::twins`]): `(text, verdict, p-value)`.
fn twin_advantage(cells: &[&Record], rule: Rule) -> (String, Verdict, Option<f64>) {
    let per_image: Option<Vec<&super::twins::PerImage>> =
        cells.iter().map(|r| r.result.per_image.as_ref()).collect();
    let raw = summary_of(cells, Measure::TwinAdvantage)
        .map_or("–".to_string(), |s| format!("{:.2}", 100.0 * s.mean));
    if let Some(b) = per_image
        .filter(|p| !p.is_empty())
        .and_then(|p| super::twins::bootstrap(&p, rule))
    {
        let verdict = rule.judge(b.low, b.high);
        let text = format!(
            "(a), class-standardized: {:.2} [{:.2}, {:.2}] pts (bootstrap over {} seeds, {} twin groups of {} twins and the other images by class, {} resamples; raw gap {raw})",
            100.0 * b.estimate,
            100.0 * b.low,
            100.0 * b.high,
            b.seeds,
            b.groups,
            b.twins,
            b.resamples
        );
        return (text, verdict, b.p_value);
    }
    let pairs: Vec<_> = cells
        .iter()
        .map(|r| (&r.result.test_twins, &r.result.test_without_twins))
        .collect();
    match super::twins::over_seeds(&pairs) {
        Some(s) => (
            format!(
                "(a), class-standardized: {} pts (t over {} seeds only: these cells predate per-image results, so the interval holds for these fixed images, not twins in general; raw gap {raw})",
                fmt_summary(&s, true),
                s.n
            ),
            rule.judge_summary(&s),
            rule.p_value(&s),
        ),
        None => (
            "not run".to_string(),
            Verdict::NotTested("no cells of arm (a)".into()),
            None,
        ),
    }
}

/// Fewest test images with a training twin for the twin-advantage claim to be judged.
pub const MIN_TWINS: usize = 30;

fn claims(records: &[Record], cut: usize, twins: usize) -> Vec<ClaimCheck> {
    let no_cut = (cut == 0).then_some("the audit found no training duplicates in this pool");
    let no_twins = (twins == 0).then_some("no test image has a training twin in this pool");
    let few_twins = format!(
        "{twins} test image(s) with a training twin in this pool; at least {MIN_TWINS} are needed"
    );
    let few_twins = (twins < MIN_TWINS).then_some(few_twins.as_str());
    let dups = claim("N-dups");
    let leak = claim("N-leak");
    let twin = claim("N-twins");
    let full = arm_cells(records, Arm::Full);
    vec![
        dups.check(
            None,
            measured(
                "(b) − (c), without twins: ",
                dups.rule,
                &paired(
                    records,
                    Arm::Deduplicated,
                    Arm::RandomRemoval,
                    Measure::WithoutTwins,
                ),
                no_cut,
            ),
            Some(measured(
                "whole test set: ",
                dups.rule,
                &paired(
                    records,
                    Arm::Deduplicated,
                    Arm::RandomRemoval,
                    Measure::Whole,
                ),
                no_cut,
            )),
        ),
        {
            let s = summary_of(&full, Measure::Leakage);
            let p = s.as_ref().and_then(|s| leak.rule.p_value(s));
            leak.check(None, measured("(a): ", leak.rule, &s, no_twins), None)
                .with_p_value(p.filter(|_| no_twins.is_none()))
        },
        match few_twins {
            Some(why) => twin.check(
                None,
                (why.to_string(), Verdict::NotTested(why.to_string())),
                None,
            ),
            None => {
                let (text, verdict, p) = twin_advantage(&full, twin.rule);
                twin.check(None, (text, verdict), None).with_p_value(p)
            }
        },
    ]
}
