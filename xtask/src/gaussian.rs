//! The Gaussian study (paper Section 4.1, Figures 1 and 2): an RBF SVM on two 2-D Gaussian
//! classes, before and after duplicates are appended, over many seeds.
//!
//! Cells: one `original` cell per seed (fit on the original draw) and one `duplicated` cell
//! per (policy, D-rate > 0, seed) (fit on the same draw plus duplicates). D-rate 0 is the
//! original. Accuracy is measured on a held-out test set shared by all cells and, as the
//! paper's code did, on the training data.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use dupstudy_dup::{Duplication, DuplicationParams, Replacement};
use dupstudy_gauss::{GaussianClasses, GaussianParams, LabelledPoints};
use dupstudy_metrics::{BiasVariance, ConfusionMatrix, LinearFit, Summary};
use dupstudy_svm::{Gamma, Svm, SvmParams};
use indicatif::ProgressBar;
use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::claims::{ClaimCheck, Direction, Verdict, fmt_slope, fmt_summary};
use crate::plot::{self, BandPoint, Curve, MapPanel, Markers, PALETTE, Panel, Series};
use crate::results::{CellStore, config_hash, write_atomic};
use crate::seeding;

/// Bumped when a change alters what a cell computes, so old cells are not reused.
const CELL_VERSION: u32 = 1;

/// How duplicates are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Policy {
    /// Every point equally likely.
    Uniform,
    /// Class +1 with probability `p_plus`, class -1 otherwise.
    Weighted {
        /// Probability that a duplicate is drawn from class +1.
        p_plus: f64,
    },
}

impl Policy {
    /// A short name for files and tables.
    pub fn label(&self) -> String {
        match self {
            Policy::Uniform => "uniform".to_string(),
            Policy::Weighted { p_plus } => format!("weighted-{p_plus}"),
        }
    }

    fn duplication(&self) -> Duplication {
        match self {
            Policy::Uniform => Duplication::Uniform,
            Policy::Weighted { p_plus } => Duplication::ClassWeighted(vec![1.0 - p_plus, *p_plus]),
        }
    }

    fn describe(&self) -> String {
        match self {
            Policy::Uniform => "uniform duplication".to_string(),
            Policy::Weighted { p_plus } => format!(
                "class-weighted duplication (class +1 picked with p = {p_plus}, class -1 with {:.1})",
                1.0 - p_plus
            ),
        }
    }
}

/// What every cell of one run shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Setting {
    /// Original training points per class.
    pub train_per_class: usize,
    /// Held-out test points per class.
    pub test_per_class: usize,
    /// Seed of the test set.
    pub test_seed: u64,
    /// Whether a point can be duplicated more than once.
    pub replacement: Replacement,
    /// SVM box constraint.
    pub c: f64,
    /// SVM kernel width.
    pub gamma: Gamma,
}

/// The whole Gaussian study: the setting and the matrix of cells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Shared setting.
    pub setting: Setting,
    /// Seeds `0..seeds`.
    pub seeds: u64,
    /// D-rates in percent (0 = the original data).
    pub d_rates: Vec<f64>,
    /// Duplication policies.
    pub policies: Vec<Policy>,
}

/// One cell's configuration; its id is derived from all of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellSpec {
    /// Always `gaussian`.
    pub study: String,
    /// `None` for an original (no duplicates) cell.
    pub policy: Option<Policy>,
    /// D-rate in percent (0 for an original cell).
    pub d_rate: f64,
    /// The seed of the original draw.
    pub seed: u64,
    /// The shared setting.
    pub setting: Setting,
    /// [`CELL_VERSION`].
    pub version: u32,
}

impl CellSpec {
    /// `gaussian-<policy|original>-d<rate>-s<seed>-<hash of everything>`.
    pub fn id(&self) -> Result<String> {
        let policy = self
            .policy
            .map_or_else(|| "original".to_string(), |p| p.label());
        Ok(format!(
            "gaussian-{policy}-d{}-s{}-{}",
            self.d_rate,
            self.seed,
            config_hash(self)?
        ))
    }
}

/// A finished cell, as stored in `cells/<id>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CellRecord {
    /// The cell id.
    pub id: String,
    /// Its configuration.
    pub spec: CellSpec,
    /// Duplicates drawn from class -1 and class +1.
    pub duplicates_per_class: Vec<usize>,
    /// Share of the duplicates drawn from class +1 (`None` without duplicates).
    pub d_ratio_plus: Option<f64>,
    /// Confusion matrix on the held-out test set (class 0 = label -1, class 1 = label +1).
    pub test: ConfusionMatrix,
    /// Confusion matrix on the original training points.
    pub train_original: ConfusionMatrix,
    /// Confusion matrix on the training set as fitted (with its duplicates).
    pub train_fitted: ConfusionMatrix,
    /// Support vectors.
    pub n_support: usize,
    /// SMO iterations.
    pub iterations: u64,
    /// Dual objective.
    pub dual_objective: f64,
    /// Whether SMO converged.
    pub converged: bool,
    /// Wall time of the cell, seconds.
    pub seconds: f64,
    /// Test-set predictions, one bit per point (1 = class +1), as hex.
    pub test_predictions: String,
}

/// Everything the cells share, built once.
struct StudyContext {
    classes: GaussianClasses,
    test: LabelledPoints,
    svm: Svm,
}

impl Plan {
    /// Checks the plan before any work starts; errors name the flag.
    pub fn validate(&self) -> Result<()> {
        if self.seeds == 0 {
            bail!("--seeds must be at least 1");
        }
        if self.d_rates.is_empty() {
            bail!("--d-rates must list at least one D-rate");
        }
        if self.policies.is_empty() {
            bail!("--policy must name at least one policy (uniform, weighted)");
        }
        for p in &self.policies {
            if let Policy::Weighted { p_plus } = p
                && !(0.0..=1.0).contains(p_plus)
            {
                bail!("--weighted-p-plus values must lie in [0, 1], got {p_plus}");
            }
        }
        for &d in &self.d_rates {
            DuplicationParams::default()
                .d_rate(d)
                .replacement(self.setting.replacement)
                .check()
                .with_context(|| format!("--d-rates: {d} is not a valid D-rate"))?;
        }
        if self.setting.test_per_class == 0 {
            bail!("--test-per-class must be at least 1");
        }
        GaussianParams::default()
            .count_per_class(self.setting.train_per_class)
            .check()
            .context("--train-per-class must be at least 1")?;
        self.svm().context("SVM parameters (--c, --gamma)")?;
        Ok(())
    }

    fn svm(&self) -> Result<Svm> {
        Ok(SvmParams::default()
            .c(self.setting.c)
            .gamma(self.setting.gamma)
            .threads(1)
            .check()?)
    }

    /// Every cell of the plan, original cells first.
    pub fn cells(&self) -> Vec<CellSpec> {
        let spec = |policy, d_rate, seed| CellSpec {
            study: "gaussian".into(),
            policy,
            d_rate,
            seed,
            setting: self.setting.clone(),
            version: CELL_VERSION,
        };
        let mut cells: Vec<CellSpec> = (0..self.seeds).map(|s| spec(None, 0.0, s)).collect();
        for &policy in &self.policies {
            for &d_rate in self.d_rates.iter().filter(|&&d| d > 0.0) {
                for seed in 0..self.seeds {
                    cells.push(spec(Some(policy), d_rate, seed));
                }
            }
        }
        cells
    }

    fn context(&self) -> Result<StudyContext> {
        let classes = GaussianParams::default()
            .count_per_class(self.setting.train_per_class)
            .check()?;
        let n = self.setting.test_per_class;
        let key = format!("gaussian/test/n={n}/seed={}", self.setting.test_seed);
        let test = classes.sample_counts(&[n, n], &mut seeding::stream(&key))?;
        Ok(StudyContext {
            classes,
            test,
            svm: self.svm()?,
        })
    }
}

/// The original training draw of a seed.
fn original_data(classes: &GaussianClasses, setting: &Setting, seed: u64) -> LabelledPoints {
    let key = format!("gaussian/train/n={}/seed={seed}", setting.train_per_class);
    classes.sample(&mut seeding::stream(&key))
}

fn run_cell(spec: &CellSpec, ctx: &StudyContext) -> Result<CellRecord> {
    let start = Instant::now();
    let id = spec.id()?;
    let original = original_data(&ctx.classes, &spec.setting, spec.seed);
    let (fitted, per_class, d_ratio_plus) = match spec.policy {
        None => (original.clone(), vec![0, 0], None),
        Some(policy) => {
            let sampler = DuplicationParams::default()
                .d_rate(spec.d_rate)
                .policy(policy.duplication())
                .replacement(spec.setting.replacement)
                .check()?;
            let key = format!(
                "gaussian/duplicates/{}/d_rate={}/n={}/seed={}",
                policy.label(),
                spec.d_rate,
                spec.setting.train_per_class,
                spec.seed
            );
            let draw = sampler
                .draw(original.classes(), &mut seeding::stream(&key))
                .with_context(|| format!("drawing duplicates for cell {id}"))?;
            let fitted = original
                .with_appended(&draw.indices)
                .context("duplicate index out of range")?;
            let ratio = draw.d_ratio(1);
            (fitted, draw.per_class, ratio)
        }
    };
    let model = ctx
        .svm
        .fit(fitted.features(), &fitted.labels())
        .with_context(|| format!("fitting cell {id}"))?;
    let classify = |points: &LabelledPoints| -> Result<(ConfusionMatrix, Vec<usize>)> {
        let predicted: Vec<usize> = model
            .predict(points.features())?
            .into_iter()
            .map(|l| usize::from(l > 0))
            .collect();
        Ok((
            ConfusionMatrix::from_predictions(points.classes(), &predicted, 2)?,
            predicted,
        ))
    };
    let (test, test_predicted) = classify(&ctx.test)?;
    let (train_original, _) = classify(&original)?;
    let (train_fitted, _) = classify(&fitted)?;
    Ok(CellRecord {
        id,
        spec: spec.clone(),
        duplicates_per_class: per_class,
        d_ratio_plus,
        test,
        train_original,
        train_fitted,
        n_support: model.n_support(),
        iterations: model.iterations(),
        dual_objective: model.dual_objective(),
        converged: model.converged(),
        seconds: start.elapsed().as_secs_f64(),
        test_predictions: pack_bits(&test_predicted),
    })
}

fn pack_bits(classes: &[usize]) -> String {
    classes
        .chunks(8)
        .map(|chunk| {
            let byte = chunk
                .iter()
                .enumerate()
                .fold(0u8, |b, (k, &c)| b | (u8::from(c == 1) << k));
            format!("{byte:02x}")
        })
        .collect()
}

fn unpack_bits(hex: &str, n: usize) -> Result<Vec<u8>> {
    if hex.len() != n.div_ceil(8) * 2 {
        bail!(
            "packed predictions hold {} hex digits, expected {}",
            hex.len(),
            n.div_ceil(8) * 2
        );
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n.div_ceil(8) {
        let byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
            .context("packed predictions are not hex")?;
        for k in 0..8 {
            if out.len() < n {
                out.push((byte >> k) & 1);
            }
        }
    }
    Ok(out)
}

/// Aggregating the study (bootstrap, tables, figures) took 2.1 s after 9–10 s of cells on
/// the 2-core development machine; estimates add this share of the cells' time for it (with
/// room for run-to-run variation).
const AGGREGATION_SHARE: f64 = 0.4;

/// Estimated seconds for the cells of `plan` not yet in `store`, and the report: the
/// slowest kind of pending cell (largest D-rate) is timed in parallel as the run would do,
/// a dozen per worker thread, not saved; every pending cell is assumed to take as long, and
/// [`AGGREGATION_SHARE`] is added.
pub fn estimate_seconds(plan: &Plan, store: &CellStore, threads: usize) -> Result<f64> {
    let cells = plan.cells();
    let mut pending = Vec::new();
    for cell in &cells {
        if !store.is_done(&cell.id()?) {
            pending.push(cell);
        }
    }
    if pending.is_empty() {
        return Ok(0.0);
    }
    let mut probes = pending.clone();
    probes.sort_by(|a, b| b.d_rate.total_cmp(&a.d_rate));
    probes.truncate(12 * threads.max(1));
    let ctx = plan.context()?;
    let start = Instant::now();
    probes
        .par_iter()
        .try_for_each(|cell| run_cell(cell, &ctx).map(drop))?;
    let per_cell = start.elapsed().as_secs_f64() / probes.len() as f64;
    Ok((1.0 + AGGREGATION_SHARE) * per_cell * pending.len() as f64)
}

/// Runs every unfinished cell of `plan` in parallel, each saved as soon as it finishes.
/// Returns the number of cells computed now (the rest were already done).
pub fn run_cells(plan: &Plan, store: &CellStore, progress: &ProgressBar) -> Result<usize> {
    let ctx = plan.context()?;
    let cells = plan.cells();
    let ids: Vec<String> = cells.iter().map(CellSpec::id).collect::<Result<_>>()?;
    let pending: Vec<(&CellSpec, &String)> = cells
        .iter()
        .zip(&ids)
        .filter(|(_, id)| !store.is_done(id))
        .collect();
    progress.set_length(cells.len() as u64);
    progress.set_position((cells.len() - pending.len()) as u64);
    tracing::info!(
        total = cells.len(),
        pending = pending.len(),
        "gaussian cells"
    );
    pending
        .par_iter()
        .try_for_each(|(spec, id)| -> Result<()> {
            let Some(_claim) = store.try_claim(id)? else {
                // Another worker holds it.
                progress.inc(1);
                return Ok(());
            };
            if !store.is_done(id) {
                let record = run_cell(spec, &ctx)?;
                store.save(id, &record)?;
            }
            progress.inc(1);
            Ok(())
        })?;
    Ok(pending.len())
}

/// Per-class and overall accuracy of one cell for one evaluation.
#[derive(Debug, Clone, Copy)]
struct Accuracies {
    minus: f64,
    plus: f64,
    overall: f64,
}

impl Accuracies {
    fn of(m: &ConfusionMatrix) -> Self {
        Self {
            minus: m.class_accuracy(0).unwrap_or(f64::NAN),
            plus: m.class_accuracy(1).unwrap_or(f64::NAN),
            overall: m.accuracy().unwrap_or(f64::NAN),
        }
    }
    fn get(&self, metric: Metric) -> f64 {
        match metric {
            Metric::Minus => self.minus,
            Metric::Plus => self.plus,
            Metric::Overall => self.overall,
        }
    }
}

/// Which accuracy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Metric {
    /// Accuracy on class -1.
    Minus,
    /// Accuracy on class +1.
    Plus,
    /// Overall accuracy.
    Overall,
}

impl Metric {
    const ALL: [Metric; 3] = [Metric::Minus, Metric::Plus, Metric::Overall];
    fn name(self) -> &'static str {
        match self {
            Metric::Minus => "acc_minus1",
            Metric::Plus => "acc_plus1",
            Metric::Overall => "acc_overall",
        }
    }
    fn legend(self) -> &'static str {
        match self {
            Metric::Minus => "class -1",
            Metric::Plus => "class +1",
            Metric::Overall => "overall",
        }
    }
}

/// Where accuracy is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Evaluation {
    /// The held-out test set.
    Test,
    /// The original training points (what the paper's code measured).
    Train,
}

impl Evaluation {
    const ALL: [Evaluation; 2] = [Evaluation::Test, Evaluation::Train];
    fn name(self) -> &'static str {
        match self {
            Evaluation::Test => "test",
            Evaluation::Train => "train",
        }
    }
}

/// Per-seed accuracies of the original and duplicated models of one (policy, D-rate).
struct PointData {
    d_rate: f64,
    original: Vec<[Accuracies; 2]>,
    duplicated: Vec<[Accuracies; 2]>,
    d_ratio_plus: Vec<f64>,
    predictions: Vec<Vec<u8>>,
}

impl PointData {
    fn values(&self, model: Model, eval: Evaluation, metric: Metric) -> Vec<f64> {
        let e = eval as usize;
        match model {
            Model::Original => self.original.iter().map(|a| a[e].get(metric)).collect(),
            Model::Duplicated => self.duplicated.iter().map(|a| a[e].get(metric)).collect(),
            Model::Delta => self
                .original
                .iter()
                .zip(&self.duplicated)
                .map(|(o, d)| d[e].get(metric) - o[e].get(metric))
                .collect(),
        }
    }
}

/// Which model a statistic is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Model {
    Original,
    Duplicated,
    /// Duplicated minus original, paired by seed.
    Delta,
}

impl Model {
    fn name(self) -> &'static str {
        match self {
            Model::Original => "original",
            Model::Duplicated => "duplicated",
            Model::Delta => "delta",
        }
    }
}

/// Bias-variance terms of one (policy, D-rate) or of the original models.
#[derive(Debug, Clone, Copy, Serialize)]
struct BvTerms {
    bias: [f64; 3],
    variance: [f64; 3],
    loss: [f64; 3],
}

/// What the report needs from the Gaussian study.
pub struct Outcome {
    /// The report section, markdown.
    pub report: String,
    /// Claim checks, for the overall verdict table.
    pub claims: Vec<ClaimCheck>,
    /// Total compute seconds over all cells.
    pub cell_seconds: f64,
}

/// Loads every cell of the plan, writes `summary.csv`, the figures and returns the report
/// section.
pub fn aggregate(
    plan: &Plan,
    store: &CellStore,
    out_dir: &Path,
    figure_prefix: &str,
) -> Result<Outcome> {
    let ctx = plan.context()?;
    let mut by_key: BTreeMap<String, CellRecord> = BTreeMap::new();
    for spec in plan.cells() {
        let id = spec.id()?;
        let record: CellRecord = store
            .load(&id)?
            .with_context(|| format!("cell {id} is missing from {}", store.dir().display()))?;
        by_key.insert(id, record);
    }
    let cell_seconds: f64 = by_key.values().map(|r| r.seconds).sum();
    let non_converged = by_key.values().filter(|r| !r.converged).count();
    let n_test = ctx.test.len();
    let test_classes = ctx.test.classes().to_vec();
    let bayes_classes: Vec<usize> = (0..n_test)
        .map(|i| {
            let point = ctx.test.point(i);
            ctx.classes.bayes_class(&[point[0], point[1]])
        })
        .collect::<std::result::Result<_, _>>()?;
    let bayes_accuracy = ConfusionMatrix::from_predictions(&test_classes, &bayes_classes, 2)?;
    let bayes: Vec<u8> = bayes_classes.iter().map(|&c| u8::from(c == 1)).collect();

    let find = |policy: Option<Policy>, d_rate: f64, seed: u64| -> Result<&CellRecord> {
        let spec = CellSpec {
            study: "gaussian".into(),
            policy,
            d_rate,
            seed,
            setting: plan.setting.clone(),
            version: CELL_VERSION,
        };
        let id = spec.id()?;
        by_key
            .get(&id)
            .with_context(|| format!("cell {id} missing"))
    };
    let accs = |r: &CellRecord| [Accuracies::of(&r.test), Accuracies::of(&r.train_original)];

    let originals: Vec<&CellRecord> = (0..plan.seeds)
        .map(|s| find(None, 0.0, s))
        .collect::<Result<_>>()?;
    let original_predictions: Vec<Vec<u8>> = originals
        .iter()
        .map(|r| unpack_bits(&r.test_predictions, n_test))
        .collect::<Result<_>>()?;
    let class_points: [Vec<usize>; 2] =
        [0, 1].map(|c| (0..n_test).filter(|&i| test_classes[i] == c).collect());
    let bv_terms = |predictions: &[Vec<u8>]| -> Result<BvTerms> {
        let bv = BiasVariance::decompose(predictions, &bayes, 2)?;
        let parts = [
            bv.summary_over(&class_points[0])?,
            bv.summary_over(&class_points[1])?,
            bv.summary(),
        ];
        Ok(BvTerms {
            bias: parts.map(|p| p.bias),
            variance: parts.map(|p| p.variance),
            loss: parts.map(|p| p.loss),
        })
    };
    let bv_original = bv_terms(&original_predictions)?;

    let mut csv =
        String::from("study,policy,d_rate,model,evaluation,metric,n,mean,std,ci95_low,ci95_high\n");
    let mut section = String::new();
    let mut claims = Vec::new();
    let mut all_points: Vec<(Policy, Vec<PointData>, Vec<BvTerms>)> = Vec::new();
    let mut d_rates = plan.d_rates.clone();
    d_rates.sort_by(f64::total_cmp);

    for &policy in &plan.policies {
        let mut points = Vec::new();
        let mut bvs = Vec::new();
        for &d_rate in &d_rates {
            let mut data = PointData {
                d_rate,
                original: Vec::new(),
                duplicated: Vec::new(),
                d_ratio_plus: Vec::new(),
                predictions: Vec::new(),
            };
            for seed in 0..plan.seeds {
                let original = originals[seed as usize];
                let dup = if d_rate > 0.0 {
                    find(Some(policy), d_rate, seed)?
                } else {
                    original
                };
                data.original.push(accs(original));
                data.duplicated.push(accs(dup));
                if let Some(r) = dup.d_ratio_plus {
                    data.d_ratio_plus.push(r);
                }
                data.predictions.push(if d_rate > 0.0 {
                    unpack_bits(&dup.test_predictions, n_test)?
                } else {
                    original_predictions[seed as usize].clone()
                });
            }
            bvs.push(bv_terms(&data.predictions)?);
            for model in [Model::Original, Model::Duplicated, Model::Delta] {
                for eval in Evaluation::ALL {
                    for metric in Metric::ALL {
                        let s = Summary::of(&data.values(model, eval, metric))?;
                        csv.push_str(&csv_row(
                            &policy.label(),
                            d_rate,
                            model.name(),
                            eval.name(),
                            metric.name(),
                            &s,
                        ));
                    }
                }
            }
            if !data.d_ratio_plus.is_empty() {
                let s = Summary::of(&data.d_ratio_plus)?;
                csv.push_str(&csv_row(
                    &policy.label(),
                    d_rate,
                    "duplicated",
                    "duplicates",
                    "d_ratio_plus1",
                    &s,
                ));
            }
            let bv = bvs.last().copied().unwrap_or(bv_original);
            for (k, part) in ["minus1", "plus1", "all"].iter().enumerate() {
                for (what, value) in [
                    ("bias", bv.bias[k]),
                    ("variance", bv.variance[k]),
                    ("loss", bv.loss[k]),
                ] {
                    csv.push_str(&format!(
                        "gaussian,{},{d_rate},duplicated,test_vs_bayes,bv_{what}_{part},{},{value},,,\n",
                        policy.label(),
                        plan.seeds
                    ));
                }
            }
            // Keep predictions only where the Proposition 1 check needs them (the largest
            // D-rate); they take n_seeds x n_test words each.
            if d_rate < d_rates[d_rates.len() - 1] {
                data.predictions = Vec::new();
            }
            points.push(data);
        }
        all_points.push((policy, points, bvs));
    }
    write_atomic(&out_dir.join("summary.csv"), csv.as_bytes())?;

    // Figures and tables per policy.
    section.push_str(&setting_paragraph(plan, &bayes_accuracy, non_converged));
    for (fig_index, (policy, points, bvs)) in all_points.iter().enumerate() {
        let label = policy.label();
        section.push_str(&format!(
            "\n### {} ({label})\n\n",
            capitalize(&policy.describe())
        ));
        for eval in Evaluation::ALL {
            let file = format!("gaussian_{label}_{}.svg", eval.name());
            accuracy_figure(&out_dir.join(&file), policy, points, eval)?;
            section.push_str(&format!(
                "![{} accuracy, {label}]({figure_prefix}{file})\n\n",
                if eval == Evaluation::Test {
                    "Held-out test"
                } else {
                    "Training-data"
                }
            ));
        }
        let bv_file = format!("gaussian_{label}_bias_variance.svg");
        bias_variance_figure(&out_dir.join(&bv_file), policy, points, bvs, &bv_original)?;
        section.push_str(&format!(
            "![Bias and variance, {label}]({figure_prefix}{bv_file})\n\n"
        ));
        section.push_str(&accuracy_table(points)?);
        if fig_index == 0 || matches!(policy, Policy::Weighted { .. }) {
            section.push_str(&paper_protocol_table(points, plan.seeds));
        }
        let bootstrap = match points.last() {
            Some(last) if last.d_rate > 0.0 && plan.seeds >= 2 => Some(bootstrap_bv_deltas(
                &original_predictions,
                &last.predictions,
                &bayes,
                &class_points,
                &format!("gaussian/bootstrap/{label}"),
            )?),
            _ => None,
        };
        claims.extend(policy_claims(policy, points, bootstrap.as_ref())?);
    }

    // Decision boundaries of seed 0 at the largest D-rate, for each policy.
    let boundary_file = "gaussian_boundaries_seed0.svg";
    boundary_figure(plan, &ctx, &out_dir.join(boundary_file))?;
    section.push_str(&format!(
        "\n### Decision boundaries of one seed\n\n![Decision boundaries]({figure_prefix}{boundary_file})\n\n\
         Seed 0, original data (dots) and its duplicates (rings, larger for more copies) at the \
         largest D-rate of each policy; dashed grey: Bayes-optimal boundary `x1 + x2 = 1`.\n"
    ));
    Ok(Outcome {
        report: section,
        claims,
        cell_seconds,
    })
}

fn csv_row(
    policy: &str,
    d_rate: f64,
    model: &str,
    eval: &str,
    metric: &str,
    s: &Summary,
) -> String {
    format!(
        "gaussian,{policy},{d_rate},{model},{eval},{metric},{},{},{},{},{}\n",
        s.n,
        s.mean,
        s.std.map_or(String::new(), |v| v.to_string()),
        s.ci_low(),
        s.ci_high()
    )
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_uppercase().collect::<String>() + chars.as_str()
    })
}

fn setting_paragraph(plan: &Plan, bayes: &ConfusionMatrix, non_converged: usize) -> String {
    let s = &plan.setting;
    let gamma = match s.gamma {
        Gamma::Auto => "auto (1/2)".to_string(),
        Gamma::Scale => "scale".to_string(),
        Gamma::Value(g) => g.to_string(),
    };
    format!(
        "Two classes, N([0,0], S) labelled -1 and N([1,1], S) labelled +1, S = [[1, 0.5], [0.5, 1]], \
         {} training points per class; RBF SVM (our SMO) with C = {}, gamma = {gamma}; duplicates drawn \
         {} replacement at D-rates {} % of the training set; {} seeds; accuracy on a held-out test set of \
         {} points per class (shared by all seeds) and on the original training points (the paper's \
         measurement). Intervals are 95 % Student-t intervals over seeds; \"delta\" is duplicated minus \
         original, paired by seed. The Bayes-optimal classifier scores {:.2} % on this test set \
         (class -1 {:.2} %, class +1 {:.2} %); bias and variance are measured against it \
         (Domingos 2000).{}\n",
        s.train_per_class,
        s.c,
        match s.replacement {
            Replacement::With => "with",
            Replacement::Without => "without",
        },
        plan.d_rates
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        plan.seeds,
        s.test_per_class,
        100.0 * bayes.accuracy().unwrap_or(f64::NAN),
        100.0 * bayes.class_accuracy(0).unwrap_or(f64::NAN),
        100.0 * bayes.class_accuracy(1).unwrap_or(f64::NAN),
        if non_converged > 0 {
            format!(" **{non_converged} fits hit the SMO iteration cap.**")
        } else {
            String::new()
        }
    )
}

fn band(s: &Summary, x: f64, k: f64) -> BandPoint {
    BandPoint {
        x,
        mean: k * s.mean,
        low: k * s.ci_low(),
        high: k * s.ci_high(),
    }
}

fn accuracy_figure(
    path: &Path,
    policy: &Policy,
    points: &[PointData],
    eval: Evaluation,
) -> Result<()> {
    let mut series = Vec::new();
    for (k, metric) in Metric::ALL.into_iter().enumerate() {
        for (model, dashed, tag) in [
            (Model::Original, true, "orig."),
            (Model::Duplicated, false, "dup."),
        ] {
            let pts = points
                .iter()
                .map(|p| {
                    Ok(band(
                        &Summary::of(&p.values(model, eval, metric))?,
                        p.d_rate,
                        100.0,
                    ))
                })
                .collect::<Result<Vec<_>>>()?;
            series.push(Series {
                name: format!("{} ({tag})", metric.legend()),
                points: pts,
                color: PALETTE[k],
                dashed,
            });
        }
    }
    let ratio: Vec<BandPoint> = points
        .iter()
        .filter(|p| !p.d_ratio_plus.is_empty())
        .map(|p| Ok(band(&Summary::of(&p.d_ratio_plus)?, p.d_rate, 100.0)))
        .collect::<Result<_>>()?;
    let what = match eval {
        Evaluation::Test => "held-out test set",
        Evaluation::Train => "original training points (paper's measurement)",
    };
    plot::panels_svg(
        path,
        &format!(
            "{} — accuracy on the {what}",
            capitalize(&policy.describe())
        ),
        &[
            Panel {
                title: "Accuracy, original (dashed) vs duplicated (solid)".into(),
                x_label: "D-rate (%)".into(),
                y_label: "accuracy (%)".into(),
                y_range: None,
                series,
            },
            Panel {
                title: "D-ratio +1 (share of duplicates from class +1)".into(),
                x_label: "D-rate (%)".into(),
                y_label: "D-ratio +1 (%)".into(),
                y_range: Some((0.0, 100.0)),
                series: vec![Series {
                    name: "D-ratio +1".into(),
                    points: ratio,
                    color: PALETTE[3],
                    dashed: false,
                }],
            },
        ],
    )
}

fn bias_variance_figure(
    path: &Path,
    policy: &Policy,
    points: &[PointData],
    bvs: &[BvTerms],
    original: &BvTerms,
) -> Result<()> {
    let mut panels = Vec::new();
    for (title, pick) in [("Bias (vs Bayes rule)", 0usize), ("Variance", 1usize)] {
        let mut series = Vec::new();
        for (k, part) in ["class -1 points", "class +1 points", "all points"]
            .iter()
            .enumerate()
        {
            let value = |t: &BvTerms| if pick == 0 { t.bias[k] } else { t.variance[k] };
            let dup: Vec<BandPoint> = points
                .iter()
                .zip(bvs)
                .map(|(p, t)| BandPoint {
                    x: p.d_rate,
                    mean: value(t),
                    low: value(t),
                    high: value(t),
                })
                .collect();
            let orig: Vec<BandPoint> = points
                .iter()
                .map(|p| BandPoint {
                    x: p.d_rate,
                    mean: value(original),
                    low: value(original),
                    high: value(original),
                })
                .collect();
            series.push(Series {
                name: format!("{part} (dup.)"),
                points: dup,
                color: PALETTE[k],
                dashed: false,
            });
            series.push(Series {
                name: format!("{part} (orig.)"),
                points: orig,
                color: PALETTE[k],
                dashed: true,
            });
        }
        panels.push(Panel {
            title: title.into(),
            x_label: "D-rate (%)".into(),
            y_label: "share of test points".into(),
            y_range: None,
            series,
        });
    }
    plot::panels_svg(
        path,
        &format!(
            "{} — 0-1 bias and variance over seeds (Domingos)",
            capitalize(&policy.describe())
        ),
        &panels,
    )
}

fn accuracy_table(points: &[PointData]) -> Result<String> {
    let mut t = String::from(
        "| D-rate | D-ratio +1 (%) | class -1: orig → dup | class +1: orig → dup | overall: orig → dup | Δ overall (points) |\n\
         |---:|---:|---|---|---|---:|\n",
    );
    for p in points {
        let ratio = if p.d_ratio_plus.is_empty() {
            "—".to_string()
        } else {
            fmt_summary(&Summary::of(&p.d_ratio_plus)?, true)
        };
        let cell = |metric| -> Result<String> {
            let o = Summary::of(&p.values(Model::Original, Evaluation::Test, metric))?;
            let d = Summary::of(&p.values(Model::Duplicated, Evaluation::Test, metric))?;
            Ok(format!("{:.2} → {:.2}", 100.0 * o.mean, 100.0 * d.mean))
        };
        let delta = Summary::of(&p.values(Model::Delta, Evaluation::Test, Metric::Overall))?;
        t.push_str(&format!(
            "| {} | {ratio} | {} | {} | {} | {} |\n",
            p.d_rate,
            cell(Metric::Minus)?,
            cell(Metric::Plus)?,
            cell(Metric::Overall)?,
            fmt_summary(&delta, true)
        ));
    }
    t.push_str("\nHeld-out test accuracy in %, means over seeds; Δ with its 95 % interval.\n\n");
    Ok(t)
}

/// The paper ran each D-rate once, on a fresh draw, and scored the training data. Taking
/// seed `k` for the `k`-th D-rate reproduces that protocol from our cells; the spread
/// between such single runs and the seed means shows how much of the paper's curves is
/// noise.
fn paper_protocol_table(points: &[PointData], seeds: u64) -> String {
    if seeds < points.len() as u64 {
        return String::new();
    }
    let mut t = String::from(
        "Paper's protocol replayed (one run per D-rate, a fresh draw each — seed k for the k-th D-rate — \
         accuracy on the training data), next to the mean over all seeds:\n\n\
         | D-rate | single run: overall orig → dup | single run: class -1 / +1 (dup) | all seeds: overall orig → dup |\n\
         |---:|---|---|---|\n",
    );
    for (k, p) in points.iter().enumerate() {
        let o = p.original[k][1];
        let d = p.duplicated[k][1];
        let mean = |m: Model| {
            let v = p.values(m, Evaluation::Train, Metric::Overall);
            100.0 * v.iter().sum::<f64>() / v.len() as f64
        };
        t.push_str(&format!(
            "| {} | {:.1} → {:.1} | {:.1} / {:.1} | {:.1} → {:.1} |\n",
            p.d_rate,
            100.0 * o.overall,
            100.0 * d.overall,
            100.0 * d.minus,
            100.0 * d.plus,
            mean(Model::Original),
            mean(Model::Duplicated)
        ));
    }
    t.push('\n');
    t
}

/// Per seed, the mean over D-rates > 0 of a paired difference.
fn pooled_delta(points: &[PointData], eval: Evaluation, metric: Metric) -> Result<Summary> {
    let active: Vec<&PointData> = points.iter().filter(|p| p.d_rate > 0.0).collect();
    if active.is_empty() {
        bail!("no D-rate above 0 in the plan");
    }
    let per_point: Vec<Vec<f64>> = active
        .iter()
        .map(|p| p.values(Model::Delta, eval, metric))
        .collect();
    let seeds = per_point[0].len();
    let pooled: Vec<f64> = (0..seeds)
        .map(|s| per_point.iter().map(|v| v[s]).sum::<f64>() / per_point.len() as f64)
        .collect();
    Ok(Summary::of(&pooled)?)
}

/// Trend of a paired difference over D-rates (all seeds' points).
fn delta_trend(
    points: &[PointData],
    eval: Evaluation,
    metric: Metric,
) -> Result<Option<LinearFit>> {
    let mut x = Vec::new();
    let mut y = Vec::new();
    for p in points {
        for v in p.values(Model::Delta, eval, metric) {
            x.push(p.d_rate);
            y.push(v);
        }
    }
    Ok(LinearFit::fit(&x, &y).ok())
}

/// The trend of Δ overall accuracy against D-rate, as a claim's measurement and verdict.
fn overall_trend(
    points: &[PointData],
    eval: Evaluation,
    prefix: &str,
    direction: Direction,
) -> Result<(String, Verdict)> {
    Ok(match delta_trend(points, eval, Metric::Overall)? {
        Some(fit) => (
            format!(
                "{prefix}trend of Δ overall: {} pts per 10 D-rate",
                fmt_slope(&fit, 1000.0)
            ),
            Verdict::from_slope(&fit, direction),
        ),
        None => (
            "too few D-rates".into(),
            Verdict::NotTested("too few D-rates".into()),
        ),
    })
}

fn nearest(points: &[PointData], d_rate: f64) -> Option<&PointData> {
    points.iter().filter(|p| p.d_rate > 0.0).min_by(|a, b| {
        (a.d_rate - d_rate)
            .abs()
            .total_cmp(&(b.d_rate - d_rate).abs())
    })
}

/// Paired bootstrap over seeds of (duplicated - original) bias-variance terms: bias on class
/// -1 points, variance on class +1 points, variance on class -1 points; each as (estimate,
/// 2.5 %, 97.5 %).
struct BvDeltas {
    bias_minus: (f64, f64, f64),
    variance_plus: (f64, f64, f64),
    variance_minus: (f64, f64, f64),
    resamples: usize,
}

const BOOTSTRAP_RESAMPLES: usize = 200;

fn bootstrap_bv_deltas(
    original: &[Vec<u8>],
    duplicated: &[Vec<u8>],
    reference: &[u8],
    class_points: &[Vec<usize>; 2],
    key: &str,
) -> Result<BvDeltas> {
    let terms = |models: &[&[u8]]| -> Result<[f64; 3]> {
        let bv = BiasVariance::decompose(models, reference, 2)?;
        let minus = bv.summary_over(&class_points[0])?;
        let plus = bv.summary_over(&class_points[1])?;
        Ok([minus.bias, plus.variance, minus.variance])
    };
    let delta = |orig: &[&[u8]], dup: &[&[u8]]| -> Result<[f64; 3]> {
        let (o, d) = (terms(orig)?, terms(dup)?);
        Ok([d[0] - o[0], d[1] - o[1], d[2] - o[2]])
    };
    let all_original: Vec<&[u8]> = original.iter().map(Vec::as_slice).collect();
    let all_duplicated: Vec<&[u8]> = duplicated.iter().map(Vec::as_slice).collect();
    let estimate = delta(&all_original, &all_duplicated)?;
    let n = original.len();
    let samples: Vec<[f64; 3]> = (0..BOOTSTRAP_RESAMPLES)
        .into_par_iter()
        .map(|b| {
            let mut rng = seeding::stream(&format!("{key}/resample={b}"));
            let picks: Vec<usize> = (0..n)
                .map(|_| rng.random_range(0..n as u64) as usize)
                .collect();
            let o: Vec<&[u8]> = picks.iter().map(|&i| all_original[i]).collect();
            let d: Vec<&[u8]> = picks.iter().map(|&i| all_duplicated[i]).collect();
            delta(&o, &d)
        })
        .collect::<Result<_>>()?;
    let interval = |k: usize| {
        let mut v: Vec<f64> = samples.iter().map(|s| s[k]).collect();
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((q * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)];
        (estimate[k], at(0.025), at(0.975))
    };
    Ok(BvDeltas {
        bias_minus: interval(0),
        variance_plus: interval(1),
        variance_minus: interval(2),
        resamples: BOOTSTRAP_RESAMPLES,
    })
}

fn policy_claims(
    policy: &Policy,
    points: &[PointData],
    bootstrap: Option<&BvDeltas>,
) -> Result<Vec<ClaimCheck>> {
    let mut out = Vec::new();
    let both = |make: &dyn Fn(Evaluation) -> Result<(String, Verdict)>| -> Result<((String, Verdict), (String, Verdict))> {
        Ok((make(Evaluation::Test)?, make(Evaluation::Train)?))
    };
    let push = |out: &mut Vec<ClaimCheck>,
                id: &str,
                claim: &str,
                paper: &str,
                pair: ((String, Verdict), (String, Verdict))| {
        let ((ours, verdict), paper_way) = pair;
        out.push(ClaimCheck {
            id: id.into(),
            claim: claim.into(),
            paper: paper.into(),
            ours,
            verdict,
            ours_paper_way: Some(paper_way),
        });
    };
    match policy {
        Policy::Uniform => {
            if let Some(p50) = nearest(points, 50.0) {
                let pair = both(&|e| {
                    let s = Summary::of(&p50.values(Model::Delta, e, Metric::Overall))?;
                    Ok((
                        format!(
                            "Δ overall at D-rate {}: {} pts",
                            p50.d_rate,
                            fmt_summary(&s, true)
                        ),
                        Verdict::from_summary(&s, Direction::Positive),
                    ))
                })?;
                push(
                    &mut out,
                    "G1",
                    "Uniform duplication at D-rate 50 (D-ratio +1 near 50 %) increases overall accuracy",
                    "+3 points (one run)",
                    pair,
                );
            }
            let pair = both(&|e| {
                let s = pooled_delta(points, e, Metric::Overall)?;
                Ok((
                    format!(
                        "Δ overall, mean over D-rates: {} pts",
                        fmt_summary(&s, true)
                    ),
                    Verdict::from_summary(&s, Direction::Positive),
                ))
            })?;
            push(
                &mut out,
                "G2",
                "Uniform duplication generally has a positive effect on accuracy",
                "qualitative (Fig. 1a)",
                pair,
            );
            let pair = both(&|e| {
                // Regress the class gap change on the D-ratio deviation, over every seed and D-rate.
                let mut x = Vec::new();
                let mut y = Vec::new();
                for p in points.iter().filter(|p| p.d_rate > 0.0) {
                    let plus = p.values(Model::Delta, e, Metric::Plus);
                    let minus = p.values(Model::Delta, e, Metric::Minus);
                    for ((r, dp), dm) in p.d_ratio_plus.iter().zip(&plus).zip(&minus) {
                        x.push(r - 0.5);
                        y.push(dp - dm);
                    }
                }
                match LinearFit::fit(&x, &y) {
                    Ok(fit) => Ok((
                        format!(
                            "slope of (Δacc+1 − Δacc−1) on (D-ratio+1 − 0.5): {} pts per 10 % of D-ratio",
                            fmt_slope(&fit, 10.0)
                        ),
                        Verdict::from_slope(&fit, Direction::Positive),
                    )),
                    Err(e) => Ok((
                        format!("no fit: {e}"),
                        Verdict::NotTested("too few points".into()),
                    )),
                }
            })?;
            push(
                &mut out,
                "G3",
                "When D-ratio +1 deviates from 50 %, the class with more duplicates gains and the other loses",
                "D-rate 30: D-ratio 58 %, +1: 54→61 %, −1: 87→77 % (one run)",
                pair,
            );
            let pair = both(&|e| {
                let worst = points
                    .iter()
                    .flat_map(|p| {
                        Metric::ALL
                            .map(|m| (p.d_rate, m, Summary::of(&p.values(Model::Delta, e, m))))
                    })
                    .map(|(d, m, s)| s.map(|s| (d, m, s)))
                    .collect::<std::result::Result<Vec<_>, _>>()?
                    .into_iter()
                    .max_by(|a, b| a.2.mean.abs().total_cmp(&b.2.mean.abs()));
                Ok(match worst {
                    Some((d, m, s)) => {
                        let verdict = Verdict::from_interval(
                            0.10 - s.ci_high().abs().max(s.ci_low().abs()),
                            1.0,
                            Direction::Positive,
                        );
                        (
                            format!(
                                "largest mean |Δ|: {} at D-rate {d}, {} pts",
                                m.legend(),
                                fmt_summary(&s, true)
                            ),
                            verdict,
                        )
                    }
                    None => ("no data".into(), Verdict::NotTested("no D-rates".into())),
                })
            })?;
            push(
                &mut out,
                "G4",
                "Uniform duplicates move per-class and overall accuracy by at most about 10 points",
                "within ~10 % (Fig. 1a)",
                pair,
            );
            let pair = both(&|e| overall_trend(points, e, "", Direction::NotPositive))?;
            push(
                &mut out,
                "G5",
                "Increasing uniform duplication does not necessarily enhance generalization",
                "qualitative (Fig. 1a)",
                pair,
            );
        }
        Policy::Weighted { p_plus } => {
            let tag = format!("p = {p_plus}");
            for (id, metric, direction, claim) in [
                (
                    "G6",
                    Metric::Plus,
                    Direction::Positive,
                    "Class-weighted duplication raises the accuracy of the favoured class +1",
                ),
                (
                    "G7",
                    Metric::Minus,
                    Direction::Negative,
                    "… and lowers the accuracy of class −1",
                ),
                (
                    "G8",
                    Metric::Overall,
                    Direction::Negative,
                    "… and lowers overall accuracy",
                ),
            ] {
                let pair = both(&|e| {
                    let s = pooled_delta(points, e, metric)?;
                    Ok((
                        format!(
                            "{tag}: Δ {}, mean over D-rates: {} pts",
                            metric.legend(),
                            fmt_summary(&s, true)
                        ),
                        Verdict::from_summary(&s, direction),
                    ))
                })?;
                let paper = match metric {
                    Metric::Plus => "D-rate 40: 0.67 → 0.83 (one run)",
                    Metric::Minus => "D-rate 40: 0.85 → 0.61 (one run)",
                    Metric::Overall => "D-rate 40: 0.76 → 0.72 (one run)",
                };
                push(&mut out, &format!("{id} ({tag})"), claim, paper, pair);
            }
            let pair =
                both(&|e| overall_trend(points, e, &format!("{tag}: "), Direction::Negative))?;
            push(
                &mut out,
                &format!("G9 ({tag})"),
                "More class-weighted duplication decreases overall accuracy further",
                "qualitative (Fig. 2a)",
                pair,
            );
            if let (Some(last), Some(b)) = (points.last(), bootstrap) {
                let bias =
                    Verdict::from_interval(b.bias_minus.1, b.bias_minus.2, Direction::Positive);
                let variance = Verdict::from_interval(
                    b.variance_plus.1,
                    b.variance_plus.2,
                    Direction::Negative,
                );
                let verdict = match (&bias, &variance) {
                    (Verdict::Holds, Verdict::Holds) => Verdict::Holds,
                    (Verdict::DoesNotHold, _) | (_, Verdict::DoesNotHold) => Verdict::DoesNotHold,
                    _ => Verdict::NotDistinguishable,
                };
                let fmt = |t: (f64, f64, f64)| format!("{:+.4} [{:+.4}, {:+.4}]", t.0, t.1, t.2);
                out.push(ClaimCheck {
                    id: format!("P1 ({tag})"),
                    claim: "Proposition 1: duplication biases the model towards the duplicated class; the variance of the duplicated class falls while that of the other may rise".into(),
                    paper: "stated, not measured".into(),
                    ours: format!(
                        "D-rate {}, duplicated − original: bias on class −1 points {}, variance on class +1 points {}, on class −1 points {} (bootstrap over seeds, {} resamples)",
                        last.d_rate,
                        fmt(b.bias_minus),
                        fmt(b.variance_plus),
                        fmt(b.variance_minus),
                        b.resamples
                    ),
                    verdict,
                    ours_paper_way: None,
                });
            }
        }
    }
    Ok(out)
}

fn boundary_figure(plan: &Plan, ctx: &StudyContext, path: &Path) -> Result<()> {
    let Some(&d_rate) = plan.d_rates.iter().max_by(|a, b| a.total_cmp(b)) else {
        return Ok(());
    };
    if d_rate <= 0.0 {
        return Ok(());
    }
    let original = original_data(&ctx.classes, &plan.setting, 0);
    let orig_model = ctx.svm.fit(original.features(), &original.labels())?;
    let range = (-3.0, 4.0);
    let decision = |model: &dupstudy_svm::SvmModel| {
        let model = model.clone();
        move |x: f64, y: f64| {
            model
                .decision_function(ndarray::array![[x, y]].view())
                .map(|v| v[0])
                .unwrap_or(f64::NAN)
        }
    };
    let orig_curve = plot::zero_contour(range, range, 140, decision(&orig_model));
    let bayes = vec![[(-3.0, 4.0), (4.0, -3.0)]];
    let mut panels = Vec::new();
    for policy in &plan.policies {
        let sampler = DuplicationParams::default()
            .d_rate(d_rate)
            .policy(policy.duplication())
            .replacement(plan.setting.replacement)
            .check()?;
        let key = format!(
            "gaussian/duplicates/{}/d_rate={d_rate}/n={}/seed=0",
            policy.label(),
            plan.setting.train_per_class
        );
        let draw = sampler.draw(original.classes(), &mut seeding::stream(&key))?;
        let fitted = original
            .with_appended(&draw.indices)
            .context("duplicate out of range")?;
        let model = ctx.svm.fit(fitted.features(), &fitted.labels())?;
        let mut copies = vec![0u32; original.len()];
        for &i in &draw.indices {
            copies[i] += 1;
        }
        let markers = |class: usize, color| Markers {
            name: format!("class {}", if class == 0 { "-1" } else { "+1" }),
            points: (0..original.len())
                .filter(|&i| original.classes()[i] == class)
                .map(|i| (original.point(i)[0], original.point(i)[1], 3))
                .collect(),
            color,
            filled: true,
        };
        let rings = Markers {
            name: "duplicated point".into(),
            points: (0..original.len())
                .filter(|&i| copies[i] > 0)
                .map(|i| {
                    (
                        original.point(i)[0],
                        original.point(i)[1],
                        4 + 2 * copies[i].min(4),
                    )
                })
                .collect(),
            color: PALETTE[6],
            filled: false,
        };
        panels.push(MapPanel {
            title: format!(
                "{}, D-rate {d_rate}, D-ratio +1 {:.0} %",
                policy.label(),
                100.0 * draw.d_ratio(1).unwrap_or(f64::NAN)
            ),
            x_range: range,
            y_range: range,
            markers: vec![markers(0, PALETTE[0]), markers(1, PALETTE[1]), rings],
            curves: vec![
                Curve {
                    name: "Bayes".into(),
                    segments: bayes.clone(),
                    color: plot::GREY,
                    width: 1,
                },
                Curve {
                    name: "original fit".into(),
                    segments: orig_curve.clone(),
                    color: PALETTE[2],
                    width: 2,
                },
                Curve {
                    name: "with duplicates".into(),
                    segments: plot::zero_contour(range, range, 140, decision(&model)),
                    color: PALETTE[3],
                    width: 2,
                },
            ],
        });
    }
    plot::maps_svg(
        path,
        "SVM decision boundaries before and after duplication (seed 0)",
        &panels,
    )
}

/// The folder of a run's Gaussian results.
pub fn study_dir(out: &Path) -> PathBuf {
    out.join("gaussian")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip() {
        let classes = vec![1, 0, 0, 1, 1, 1, 0, 1, 0, 1, 1];
        let packed = pack_bits(&classes);
        assert_eq!(packed.len(), 4);
        let unpacked: Vec<usize> = unpack_bits(&packed, classes.len())
            .unwrap()
            .into_iter()
            .map(usize::from)
            .collect();
        assert_eq!(unpacked, classes);
        assert!(unpack_bits(&packed, 30).is_err());
    }

    fn tiny_plan() -> Plan {
        Plan {
            setting: Setting {
                train_per_class: 30,
                test_per_class: 200,
                test_seed: 0,
                replacement: Replacement::With,
                c: 1.0,
                gamma: Gamma::Auto,
            },
            seeds: 3,
            d_rates: vec![0.0, 50.0, 90.0],
            policies: vec![Policy::Uniform, Policy::Weighted { p_plus: 0.7 }],
        }
    }

    #[test]
    fn cells_are_deterministic_and_distinct() {
        let plan = tiny_plan();
        let ctx = plan.context().unwrap();
        let cells = plan.cells();
        assert_eq!(cells.len(), 3 + 2 * 2 * 3);
        let ids: std::collections::BTreeSet<String> =
            cells.iter().map(|c| c.id().unwrap()).collect();
        assert_eq!(ids.len(), cells.len());
        let a = run_cell(&cells[5], &ctx).unwrap();
        let b = run_cell(&cells[5], &ctx).unwrap();
        assert_eq!(a.test_predictions, b.test_predictions);
        assert_eq!(a.test, b.test);
        assert_eq!(a.duplicates_per_class.iter().sum::<usize>(), 30);
    }

    #[test]
    fn invalid_plans_name_the_flag() {
        let mut plan = tiny_plan();
        plan.seeds = 0;
        assert!(plan.validate().unwrap_err().to_string().contains("--seeds"));
        let mut plan = tiny_plan();
        plan.d_rates = vec![-5.0];
        assert!(format!("{:#}", plan.validate().unwrap_err()).contains("--d-rates"));
        let mut plan = tiny_plan();
        plan.setting.c = 0.0;
        assert!(format!("{:#}", plan.validate().unwrap_err()).contains("--c"));
        let mut plan = tiny_plan();
        plan.policies = vec![Policy::Weighted { p_plus: 1.5 }];
        assert!(
            plan.validate()
                .unwrap_err()
                .to_string()
                .contains("--weighted-p-plus")
        );
    }
}
