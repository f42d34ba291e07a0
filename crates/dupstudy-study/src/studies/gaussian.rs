//! The Gaussian study (paper Section 4.1, Figures 1 and 2): an RBF SVM on two 2-D Gaussian
//! classes, before and after duplicates are appended, over many seeds.
//!
//! Cells: one `original` cell per seed (fit on the original draw) and one `duplicated` cell
//! per (policy, D-rate > 0, seed) (fit on the same draw plus duplicates). D-rate 0 is the
//! original. Accuracy is measured on a held-out test set shared by all cells and, as the
//! paper's code did, on the training data.

use std::collections::BTreeMap;
use std::time::Instant;

use dupstudy_dup::{DuplicateDraw, Duplication, DuplicationParams, Replacement};
use dupstudy_gauss::{GaussianClasses, GaussianParams, LabelledPoints};
use dupstudy_metrics::{BiasVariance, ConfusionMatrix, Summary, slopes_over_units};
use dupstudy_svm::{Gamma, Svm, SvmParams};
use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{ESTIMATE_MARGIN, Tagged, band, capitalize};
use crate::claims::{ClaimCheck, ClaimSpec, PaperValue, Rule, Unit, Verdict, fmt_summary};
use crate::data::DataSet;
use crate::error::{Result, StudyError};
use crate::figure::{BandPoint, Color, Curve, Figure, MapPanel, Markers, Panel, Series};
use crate::profile::{Env, PolicyName, Profile, Request};
use crate::report::Section;
use crate::seeding;
use crate::store::{CellRecord, config_hash};
use crate::study::{CellIo, Computed, Estimate, Study, StudySummary};
use crate::table::{Row, Statistic, Table};

/// Bumped when a change alters what a cell computes, so old cells are not reused.
const CELL_VERSION: u32 = 1;
/// The study's name.
const NAME: &str = "gaussian";

/// The Gaussian study.
#[derive(Debug, Clone, Copy, Default)]
pub struct GaussianStudy;

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
    /// D-rates in percent (0 = the original data), ascending.
    pub d_rates: Vec<f64>,
    /// Duplication policies.
    pub policies: Vec<Policy>,
}

/// One cell's configuration; its id is derived from all of it (and the study's name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellSpec {
    /// `None` for an original (no duplicates) cell.
    pub policy: Option<Policy>,
    /// D-rate in percent (0 for an original cell).
    pub d_rate: f64,
    /// The seed of the original draw.
    pub seed: u64,
    /// The shared setting.
    pub setting: Setting,
    /// The cell format version (bumped when a change alters what a cell computes).
    pub version: u32,
}

/// What a cell computes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
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
    /// Test-set predictions, one bit per point (1 = class +1), as hex.
    pub test_predictions: String,
}

/// A stored Gaussian cell.
pub type Record = CellRecord<CellSpec, CellResult>;

/// Everything the cells share, built once.
pub struct Context {
    classes: GaussianClasses,
    test: LabelledPoints,
    svm: Svm,
}

/// The claims of the Gaussian study, with the paper's numbers (Section 4.1).
pub const CLAIMS: &[ClaimSpec] = &[
    ClaimSpec {
        id: "G1",
        words: "Uniform duplication at D-rate 50 (D-ratio +1 near 50 %) increases overall accuracy",
        paper: PaperValue::Text("+3 points (one run)"),
        measure: "Δ overall accuracy at D-rate 50, paired by seed",
        rule: Rule::Positive,
        unit: Unit::Points,
        primary: true,
        margin_reason: None,
    },
    ClaimSpec {
        id: "G2",
        words: "Uniform duplication generally has a positive effect on accuracy",
        paper: PaperValue::Text("qualitative (Fig. 1a)"),
        measure: "Δ overall accuracy, per seed the mean over D-rates > 0",
        rule: Rule::Positive,
        unit: Unit::Points,
        primary: true,
        margin_reason: None,
    },
    ClaimSpec {
        id: "G3",
        words: "When D-ratio +1 deviates from 50 %, the class with more duplicates gains and the other loses",
        paper: PaperValue::Text("D-rate 30: D-ratio 58 %, +1: 54→61 %, −1: 87→77 % (one run)"),
        measure: "slope of (Δacc+1 − Δacc−1) on (D-ratio+1 − 0.5) over the D-rates above 0, one per seed, t interval over seeds",
        rule: Rule::Positive,
        unit: Unit::PointsPer10DRatio,
        primary: true,
        margin_reason: None,
    },
    ClaimSpec {
        id: "G4",
        words: "Uniform duplicates move per-class and overall accuracy by at most about 10 points",
        paper: PaperValue::Text("within ~10 % (Fig. 1a)"),
        measure: "every Δ (class −1, class +1, overall) at every D-rate",
        rule: Rule::Within(0.10),
        unit: Unit::Points,
        primary: false,
        margin_reason: Some(
            "10 points is the paper's own bound (\"within approximately the range of up to 10 %\"); it holds when every interval of every class and D-rate lies inside ±10 points, and fails when any lies wholly outside",
        ),
    },
    ClaimSpec {
        id: "G5",
        words: "Increasing uniform duplication does not necessarily enhance generalization",
        paper: PaperValue::Text("qualitative (Fig. 1a)"),
        measure: "slope of Δ overall accuracy against D-rate over the D-rates above 0, one per seed, t interval over seeds",
        rule: Rule::NoGainBeyond(0.0001),
        unit: Unit::PointsPer10DRate,
        primary: false,
        margin_reason: Some(
            "0.1 points per 10 D-rate adds up to under 1 point over D-rates 0–90, the size of step the paper calls \"only small improvements\" on CIFAR-10 (74.12 → 75.11 %)",
        ),
    },
    ClaimSpec {
        id: "G6",
        words: "Class-weighted duplication raises the accuracy of the favoured class +1",
        paper: PaperValue::Change {
            d_rate: 40.0,
            from: 67.0,
            to: 83.0,
        },
        measure: "Δ class +1 accuracy, per seed the mean over D-rates > 0",
        rule: Rule::Positive,
        unit: Unit::Points,
        primary: true,
        margin_reason: None,
    },
    ClaimSpec {
        id: "G7",
        words: "… and lowers the accuracy of class −1",
        paper: PaperValue::Change {
            d_rate: 40.0,
            from: 85.0,
            to: 61.0,
        },
        measure: "Δ class −1 accuracy, per seed the mean over D-rates > 0",
        rule: Rule::Negative,
        unit: Unit::Points,
        primary: true,
        margin_reason: None,
    },
    ClaimSpec {
        id: "G8",
        words: "… and lowers overall accuracy",
        paper: PaperValue::Change {
            d_rate: 40.0,
            from: 76.0,
            to: 72.0,
        },
        measure: "Δ overall accuracy, per seed the mean over D-rates > 0",
        rule: Rule::Negative,
        unit: Unit::Points,
        primary: true,
        margin_reason: None,
    },
    ClaimSpec {
        id: "G9",
        words: "More class-weighted duplication decreases overall accuracy further",
        paper: PaperValue::Text("qualitative (Fig. 2a)"),
        measure: "slope of Δ overall accuracy against D-rate over the D-rates above 0, one per seed, t interval over seeds",
        rule: Rule::Negative,
        unit: Unit::PointsPer10DRate,
        primary: true,
        margin_reason: None,
    },
    ClaimSpec {
        id: "P1",
        words: "Proposition 1: duplication biases the model towards the duplicated class; the variance of the duplicated class falls while that of the other may rise",
        paper: PaperValue::Text("stated, not measured"),
        measure: "duplicated − original 0-1 bias on class −1 points and variance on class +1 points at the largest D-rate, bootstrap over seeds",
        rule: Rule::Positive,
        unit: Unit::Share,
        primary: true,
        margin_reason: None,
    },
];

fn claim(id: &str) -> &'static ClaimSpec {
    ClaimSpec::by_id(CLAIMS, id)
}

impl Plan {
    /// The plan of a profile, with the flags' overrides, validated.
    ///
    /// # Errors
    /// An invalid value, naming its flag.
    pub fn from_request(request: &Request) -> Result<Self> {
        let o = &request.overrides;
        let (seeds, test_per_class, d_rates) = match request.profile {
            Profile::Smoke => (5, 1_000, vec![0.0, 30.0, 60.0, 90.0]),
            Profile::Quick
            | Profile::Paper
            | Profile::Full
            | Profile::PaperStandard
            | Profile::PaperAdversarial => {
                (100, 10_000, (0..10).map(|k| 10.0 * f64::from(k)).collect())
            }
        };
        let p_plus = o.weighted_p_plus.clone().unwrap_or_else(|| vec![0.7, 0.8]);
        let names = o
            .policy
            .clone()
            .unwrap_or_else(|| vec![PolicyName::Uniform, PolicyName::Weighted]);
        let mut policies = Vec::new();
        for name in names {
            match name {
                PolicyName::Uniform => policies.push(Policy::Uniform),
                PolicyName::Weighted => {
                    policies.extend(p_plus.iter().map(|&p| Policy::Weighted { p_plus: p }));
                }
            }
        }
        let mut d_rates = o.d_rates.clone().unwrap_or(d_rates);
        d_rates.sort_by(f64::total_cmp);
        d_rates.dedup();
        let plan = Plan {
            setting: Setting {
                train_per_class: o.train_per_class.unwrap_or(100),
                test_per_class: o.test_per_class.unwrap_or(test_per_class),
                test_seed: 0,
                replacement: o.replacement.unwrap_or(Replacement::With),
                c: o.c.unwrap_or(1.0),
                gamma: o.gamma.unwrap_or(Gamma::Auto),
            },
            seeds: o.seeds.unwrap_or(seeds),
            d_rates,
            policies,
        };
        plan.validate()?;
        Ok(plan)
    }

    /// Checks the plan before any work starts; errors name the flag.
    ///
    /// # Errors
    /// [`StudyError::InvalidParameter`].
    pub fn validate(&self) -> Result<()> {
        if self.seeds == 0 {
            return Err(StudyError::invalid("--seeds", "must be at least 1"));
        }
        if self.d_rates.is_empty() {
            return Err(StudyError::invalid(
                "--d-rates",
                "must list at least one D-rate",
            ));
        }
        if self.policies.is_empty() {
            return Err(StudyError::invalid(
                "--policy",
                "must name at least one policy (uniform, weighted)",
            ));
        }
        for p in &self.policies {
            if let Policy::Weighted { p_plus } = p
                && !(0.0..=1.0).contains(p_plus)
            {
                return Err(StudyError::invalid(
                    "--weighted-p-plus",
                    format!("values must lie in [0, 1], got {p_plus}"),
                ));
            }
        }
        for &d in &self.d_rates {
            DuplicationParams::default()
                .d_rate(d)
                .replacement(self.setting.replacement)
                .check()
                .map_err(|e| {
                    StudyError::invalid("--d-rates", format!("{d} is not a valid D-rate: {e}"))
                })?;
        }
        if self.setting.test_per_class == 0 {
            return Err(StudyError::invalid(
                "--test-per-class",
                "must be at least 1",
            ));
        }
        GaussianParams::default()
            .count_per_class(self.setting.train_per_class)
            .check()
            .map_err(|e| {
                StudyError::invalid("--train-per-class", format!("must be at least 1 ({e})"))
            })?;
        self.svm()
            .map_err(|e| StudyError::invalid("--c, --gamma", e.to_string()))?;
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

    /// The shared context: the classes, the test set and the SVM.
    ///
    /// # Errors
    /// Invalid parameters.
    pub fn context(&self) -> Result<Context> {
        let classes = GaussianParams::default()
            .count_per_class(self.setting.train_per_class)
            .check()?;
        let n = self.setting.test_per_class;
        let test = classes.sample_counts(
            &[n, n],
            &mut seeding::gaussian_test(n, self.setting.test_seed),
        )?;
        Ok(Context {
            classes,
            test,
            svm: self.svm()?,
        })
    }
}

impl Context {
    /// The true class and the Bayes-optimal class of every held-out test point, in the
    /// order of the cells' packed test predictions.
    ///
    /// # Errors
    /// A point of the wrong dimension (not for points of this context).
    pub fn test_reference(&self) -> Result<(Vec<usize>, Vec<usize>)> {
        let bayes = (0..self.test.len())
            .map(|i| {
                let p = self.test.point(i);
                self.classes.bayes_class(&[p[0], p[1]])
            })
            .collect::<std::result::Result<_, _>>()?;
        Ok((self.test.classes().to_vec(), bayes))
    }
}

impl CellSpec {
    /// `gaussian-<policy|original>-d<rate>-s<seed>-<hash of everything>`.
    ///
    /// # Errors
    /// Serialization.
    pub fn id(&self) -> Result<String> {
        let policy = self
            .policy
            .map_or_else(|| "original".to_string(), |p| p.label());
        let hash = config_hash(&Tagged {
            study: NAME,
            spec: self,
        })?;
        Ok(format!(
            "{NAME}-{policy}-d{}-s{}-{hash}",
            self.d_rate, self.seed
        ))
    }
}

/// The original training draw of a seed.
fn original_data(classes: &GaussianClasses, setting: &Setting, seed: u64) -> LabelledPoints {
    classes.sample(&mut seeding::gaussian_train(setting.train_per_class, seed))
}

/// The duplicates of `policy` at `d_rate` drawn for the original data of `seed`, and the
/// training set with them appended: the cells and the boundary figure share this draw.
fn duplicated_data(
    original: &LabelledPoints,
    policy: Policy,
    d_rate: f64,
    setting: &Setting,
    seed: u64,
) -> Result<(DuplicateDraw, LabelledPoints)> {
    let sampler = DuplicationParams::default()
        .d_rate(d_rate)
        .policy(policy.duplication())
        .replacement(setting.replacement)
        .check()?;
    let mut rng =
        seeding::gaussian_duplicates(&policy.label(), d_rate, setting.train_per_class, seed);
    let draw = sampler.draw(original.classes(), &mut rng)?;
    let fitted = original
        .with_appended(&draw.indices)
        .ok_or_else(|| StudyError::Cell {
            id: format!("{}-d{d_rate}-s{seed}", policy.label()),
            message: "a drawn duplicate index lies outside the original points".into(),
        })?;
    Ok((draw, fitted))
}

fn run_cell(spec: &CellSpec, ctx: &Context) -> Result<CellResult> {
    let original = original_data(&ctx.classes, &spec.setting, spec.seed);
    let (fitted, per_class, d_ratio_plus) = match spec.policy {
        None => (original.clone(), vec![0, 0], None),
        Some(policy) => {
            let (draw, fitted) =
                duplicated_data(&original, policy, spec.d_rate, &spec.setting, spec.seed)?;
            let ratio = draw.d_ratio(1);
            (fitted, draw.per_class, ratio)
        }
    };
    let model = ctx.svm.fit(fitted.features(), &fitted.labels())?;
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
    Ok(CellResult {
        duplicates_per_class: per_class,
        d_ratio_plus,
        test,
        train_original,
        train_fitted,
        n_support: model.n_support(),
        iterations: model.iterations(),
        dual_objective: model.dual_objective(),
        converged: model.converged(),
        test_predictions: pack_bits(&test_predicted),
    })
}

/// Test-set predictions (class 0 or 1 per point) packed one bit per point as hex, as cell
/// records store them.
pub fn pack_bits(classes: &[usize]) -> String {
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

fn unpack_bits(id: &str, hex: &str, n: usize) -> Result<Vec<u8>> {
    let bad = |message: String| StudyError::Cell {
        id: id.to_string(),
        message,
    };
    if hex.len() != n.div_ceil(8) * 2 {
        return Err(bad(format!(
            "packed predictions hold {} hex digits, expected {} for {n} test points",
            hex.len(),
            n.div_ceil(8) * 2
        )));
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n.div_ceil(8) {
        let byte = hex
            .get(2 * i..2 * i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .ok_or_else(|| bad(format!("packed predictions are not hex at digit {}", 2 * i)))?;
        for k in 0..8 {
            if out.len() < n {
                out.push((byte >> k) & 1);
            }
        }
    }
    Ok(out)
}

/// Aggregating the study (bootstrap, tables, figures) took 2.1 s after 9–10 s of cells on
/// the 2-core development machine; estimates add this share of the cells' time for it.
const AGGREGATION_SHARE: f64 = 0.4;

impl Study for GaussianStudy {
    type Plan = Plan;
    type Cell = CellSpec;
    type Result = CellResult;
    type Context = Context;

    fn name(&self) -> &'static str {
        NAME
    }

    fn title(&self) -> &'static str {
        "Gaussian data and an RBF SVM (paper Section 4.1, Figures 1–2)"
    }

    fn plan(&self, request: &Request, _data: Option<&DataSet>) -> Result<Plan> {
        Plan::from_request(request)
    }

    fn describe(&self, plan: &Plan) -> String {
        format!(
            "{} seeds x [1 original + {} policies x {} D-rates > 0], {} test points",
            plan.seeds,
            plan.policies.len(),
            plan.d_rates.iter().filter(|&&d| d > 0.0).count(),
            2 * plan.setting.test_per_class
        )
    }

    fn cells(&self, plan: &Plan) -> Vec<CellSpec> {
        plan.cells()
    }

    fn cell_id(&self, cell: &CellSpec) -> Result<String> {
        cell.id()
    }

    fn parallel_cells(&self) -> bool {
        true
    }

    fn single_unit(&self, plan: &Plan) -> Result<Option<String>> {
        Ok(Some(format!("gaussian-study-{}", config_hash(plan)?)))
    }

    fn context(&self, plan: &Plan, _env: &Env) -> Result<Context> {
        plan.context()
    }

    /// The slowest kind of pending cell (largest D-rate) is timed in parallel as the run
    /// would do, a dozen per worker thread, not saved; every pending cell is assumed to
    /// take as long, and a share for the summary and the margin are added.
    fn estimate(&self, _plan: &Plan, ctx: &Context, pending: &[&CellSpec]) -> Result<Estimate> {
        let mut probes = pending.to_vec();
        probes.sort_by(|a, b| b.d_rate.total_cmp(&a.d_rate));
        probes.truncate(12 * rayon::current_num_threads().max(1));
        let start = Instant::now();
        probes
            .par_iter()
            .try_for_each(|cell| run_cell(cell, ctx).map(drop))?;
        let per_cell = start.elapsed().as_secs_f64() / probes.len().max(1) as f64;
        Ok(Estimate {
            seconds: ESTIMATE_MARGIN * (1.0 + AGGREGATION_SHARE) * per_cell * pending.len() as f64,
            detail: format!(
                "{:.2} ms per slowest cell on {} threads",
                1000.0 * per_cell,
                rayon::current_num_threads()
            ),
        })
    }

    fn run_cell(
        &self,
        ctx: &Context,
        cell: &CellSpec,
        _io: &CellIo<'_>,
    ) -> Result<Computed<CellResult>> {
        let start = Instant::now();
        let result = run_cell(cell, ctx).map_err(|e| StudyError::Cell {
            id: cell.id().unwrap_or_default(),
            message: e.to_string(),
        })?;
        Ok(Computed {
            result,
            seconds: start.elapsed().as_secs_f64(),
            device: None,
        })
    }

    fn claims(&self) -> &'static [ClaimSpec] {
        CLAIMS
    }

    fn summarize(&self, plan: &Plan, records: &[Record]) -> Result<StudySummary> {
        summarize(plan, records)
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

/// Per-class and overall accuracy of one confusion matrix.
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

/// The accuracies of one cell on the test set and on the original training points.
#[derive(Debug, Clone, Copy)]
struct CellAccuracies {
    test: Accuracies,
    train: Accuracies,
}

impl CellAccuracies {
    fn of(r: &CellResult) -> Self {
        Self {
            test: Accuracies::of(&r.test),
            train: Accuracies::of(&r.train_original),
        }
    }
    fn get(&self, eval: Evaluation, metric: Metric) -> f64 {
        match eval {
            Evaluation::Test => self.test.get(metric),
            Evaluation::Train => self.train.get(metric),
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

/// Per-seed accuracies of the original and duplicated models of one (policy, D-rate).
struct PointData {
    d_rate: f64,
    original: Vec<CellAccuracies>,
    duplicated: Vec<CellAccuracies>,
    d_ratio_plus: Vec<f64>,
    predictions: Vec<Vec<u8>>,
}

impl PointData {
    fn values(&self, model: Model, eval: Evaluation, metric: Metric) -> Vec<f64> {
        match model {
            Model::Original => self.original.iter().map(|a| a.get(eval, metric)).collect(),
            Model::Duplicated => self
                .duplicated
                .iter()
                .map(|a| a.get(eval, metric))
                .collect(),
            Model::Delta => self
                .original
                .iter()
                .zip(&self.duplicated)
                .map(|(o, d)| d.get(eval, metric) - o.get(eval, metric))
                .collect(),
        }
    }
}

/// Bias-variance terms (class -1 points, class +1 points, all points).
#[derive(Debug, Clone, Copy)]
struct BvTerms {
    bias: [f64; 3],
    variance: [f64; 3],
    loss: [f64; 3],
}

fn summarize(plan: &Plan, records: &[Record]) -> Result<StudySummary> {
    let ctx = plan.context()?;
    let by_id: BTreeMap<&str, &Record> = records.iter().map(|r| (r.id.as_str(), r)).collect();
    let cell_seconds: f64 = records.iter().map(|r| r.seconds).sum();
    let non_converged = records.iter().filter(|r| !r.result.converged).count();
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

    let find = |policy: Option<Policy>, d_rate: f64, seed: u64| -> Result<&Record> {
        let spec = CellSpec {
            policy,
            d_rate,
            seed,
            setting: plan.setting.clone(),
            version: CELL_VERSION,
        };
        let id = spec.id()?;
        by_id
            .get(id.as_str())
            .copied()
            .ok_or(StudyError::MissingCell {
                id,
                dir: std::path::PathBuf::from("the records given"),
            })
    };
    let originals: Vec<&Record> = (0..plan.seeds)
        .map(|s| find(None, 0.0, s))
        .collect::<Result<_>>()?;
    let original_predictions: Vec<Vec<u8>> = originals
        .iter()
        .map(|r| unpack_bits(&r.id, &r.result.test_predictions, n_test))
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

    let mut table = Table::default();
    let mut claims = Vec::new();
    let mut all_points: Vec<(Policy, Vec<PointData>, Vec<BvTerms>)> = Vec::new();
    let d_rates = plan.d_rates.clone();
    let top = d_rates.last().copied().unwrap_or(0.0);
    for &policy in &plan.policies {
        let series = policy.label();
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
                data.original.push(CellAccuracies::of(&original.result));
                data.duplicated.push(CellAccuracies::of(&dup.result));
                if let Some(r) = dup.result.d_ratio_plus {
                    data.d_ratio_plus.push(r);
                }
                data.predictions.push(if d_rate > 0.0 {
                    unpack_bits(&dup.id, &dup.result.test_predictions, n_test)?
                } else {
                    original_predictions[seed as usize].clone()
                });
            }
            bvs.push(bv_terms(&data.predictions)?);
            let mut row = |arm, evaluation, metric, estimate| {
                table.push(Row {
                    study: NAME,
                    series: series.clone(),
                    d_rate,
                    arm,
                    evaluation,
                    metric,
                    estimate,
                });
            };
            for model in [Model::Original, Model::Duplicated, Model::Delta] {
                for eval in Evaluation::ALL {
                    for metric in Metric::ALL {
                        let s = Summary::of(&data.values(model, eval, metric))?;
                        row(model.name(), eval.name(), metric.name(), Statistic::of(&s));
                    }
                }
            }
            if !data.d_ratio_plus.is_empty() {
                let s = Summary::of(&data.d_ratio_plus)?;
                row(
                    "duplicated",
                    "duplicates",
                    "d_ratio_plus1",
                    Statistic::of(&s),
                );
            }
            let bv = bvs.last().copied().unwrap_or(bv_original);
            const BV_METRICS: [[&str; 3]; 3] = [
                ["bv_bias_minus1", "bv_variance_minus1", "bv_loss_minus1"],
                ["bv_bias_plus1", "bv_variance_plus1", "bv_loss_plus1"],
                ["bv_bias_all", "bv_variance_all", "bv_loss_all"],
            ];
            for (k, names) in BV_METRICS.iter().enumerate() {
                let n = plan.seeds as usize;
                row(
                    "duplicated",
                    "test_vs_bayes",
                    names[0],
                    Statistic::value(n, bv.bias[k]),
                );
                row(
                    "duplicated",
                    "test_vs_bayes",
                    names[1],
                    Statistic::value(n, bv.variance[k]),
                );
                row(
                    "duplicated",
                    "test_vs_bayes",
                    names[2],
                    Statistic::value(n, bv.loss[k]),
                );
            }
            // Keep predictions only where the Proposition 1 check needs them (the largest
            // D-rate); they take n_seeds x n_test bytes each.
            if d_rate < top {
                data.predictions = Vec::new();
            }
            points.push(data);
        }
        all_points.push((policy, points, bvs));
    }

    let mut section = Section::new(GaussianStudy.title(), NAME);
    section.text(setting_paragraph(plan, &bayes_accuracy, non_converged));
    for (fig_index, (policy, points, bvs)) in all_points.iter().enumerate() {
        let label = policy.label();
        section.text(format!(
            "\n### {} ({label})\n\n",
            capitalize(&policy.describe())
        ));
        for eval in Evaluation::ALL {
            section.figure(
                format!("gaussian_{label}_{}.svg", eval.name()),
                format!(
                    "{} accuracy, {label}",
                    if eval == Evaluation::Test {
                        "Held-out test"
                    } else {
                        "Training-data"
                    }
                ),
                accuracy_figure(policy, points, eval)?,
            );
        }
        section.figure(
            format!("gaussian_{label}_bias_variance.svg"),
            format!("Bias and variance, {label}"),
            bias_variance_figure(policy, points, bvs, &bv_original),
        );
        section.text(accuracy_table(points)?);
        if fig_index == 0 || matches!(policy, Policy::Weighted { .. }) {
            section.text(paper_protocol_table(points, plan.seeds));
        }
        let bootstrap = match points.last() {
            Some(last) if last.d_rate > 0.0 && plan.seeds >= 2 => Some(bootstrap_bv_deltas(
                &original_predictions,
                &last.predictions,
                &bayes,
                &class_points,
                &label,
            )?),
            _ => None,
        };
        claims.extend(policy_claims(policy, points, bootstrap.as_ref())?);
    }
    if let Some(figure) = boundary_figure(plan, &ctx)? {
        section.text("\n### Decision boundaries of one seed\n\n");
        section.figure(
            "gaussian_boundaries_seed0.svg",
            "Decision boundaries",
            figure,
        );
        section.text(
            "Seed 0, original data (dots) and its duplicates (rings, larger for more copies) at the \
             largest D-rate of each policy; dashed grey: Bayes-optimal boundary `x1 + x2 = 1`.\n",
        );
    }
    section.text(format!(
        "\nCompute: {} of cell time over {} cells.\n",
        crate::report::human_duration(cell_seconds),
        records.len()
    ));
    let scale = format!(
        "{} training points per class, {} seeds, {} held-out test points per class",
        plan.setting.train_per_class, plan.seeds, plan.setting.test_per_class
    );
    Ok(StudySummary {
        table,
        claims,
        scale,
        section,
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

fn accuracy_figure(policy: &Policy, points: &[PointData], eval: Evaluation) -> Result<Figure> {
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
                color: Color::Palette(k),
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
    Ok(Figure::Lines {
        caption: format!(
            "{} — accuracy on the {what}",
            capitalize(&policy.describe())
        ),
        panels: vec![
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
                    color: Color::Palette(3),
                    dashed: false,
                }],
            },
        ],
    })
}

fn bias_variance_figure(
    policy: &Policy,
    points: &[PointData],
    bvs: &[BvTerms],
    original: &BvTerms,
) -> Figure {
    let flat = |x: f64, v: f64| BandPoint {
        x,
        mean: v,
        low: v,
        high: v,
    };
    let mut panels = Vec::new();
    for (title, pick_bias) in [("Bias (vs Bayes rule)", true), ("Variance", false)] {
        let mut series = Vec::new();
        for (k, part) in ["class -1 points", "class +1 points", "all points"]
            .iter()
            .enumerate()
        {
            let value = |t: &BvTerms| if pick_bias { t.bias[k] } else { t.variance[k] };
            series.push(Series {
                name: format!("{part} (dup.)"),
                points: points
                    .iter()
                    .zip(bvs)
                    .map(|(p, t)| flat(p.d_rate, value(t)))
                    .collect(),
                color: Color::Palette(k),
                dashed: false,
            });
            series.push(Series {
                name: format!("{part} (orig.)"),
                points: points
                    .iter()
                    .map(|p| flat(p.d_rate, value(original)))
                    .collect(),
                color: Color::Palette(k),
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
    Figure::Lines {
        caption: format!(
            "{} — 0-1 bias and variance over seeds (Domingos)",
            capitalize(&policy.describe())
        ),
        panels,
    }
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
        let o = p.original[k].train;
        let d = p.duplicated[k].train;
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
fn pooled_delta(points: &[PointData], eval: Evaluation, metric: Metric) -> Option<Summary> {
    let per_point: Vec<Vec<f64>> = points
        .iter()
        .filter(|p| p.d_rate > 0.0)
        .map(|p| p.values(Model::Delta, eval, metric))
        .collect();
    let seeds = per_point.first()?.len();
    let pooled: Vec<f64> = (0..seeds)
        .map(|s| per_point.iter().map(|v| v[s]).sum::<f64>() / per_point.len() as f64)
        .collect();
    Summary::of(&pooled).ok()
}

/// The trend of Δ overall accuracy against D-rate: one slope per seed over the D-rates above
/// 0 (Δ at D-rate 0 is 0 by construction), then the t interval over seeds.
fn overall_trend(points: &[PointData], eval: Evaluation) -> std::result::Result<Summary, String> {
    let points: Vec<&PointData> = points.iter().filter(|p| p.d_rate > 0.0).collect();
    let per_point: Vec<Vec<f64>> = points
        .iter()
        .map(|p| p.values(Model::Delta, eval, Metric::Overall))
        .collect();
    let x: Vec<f64> = points.iter().map(|p| p.d_rate).collect();
    let seeds = per_point.first().map_or(0, Vec::len);
    let units: Vec<(Vec<f64>, Vec<f64>)> = (0..seeds)
        .map(|s| (x.clone(), per_point.iter().map(|v| v[s]).collect()))
        .collect();
    slopes_over_units(&units).map_err(|e| e.to_string())
}

/// `slope [low, high]` of a per-seed slope summary, scaled by `k`, with its unit count.
fn fmt_slopes(s: &Summary, k: f64) -> String {
    match s.ci_half_width {
        Some(_) => format!(
            "{:+.3} [{:+.3}, {:+.3}]",
            k * s.mean,
            k * s.ci_low(),
            k * s.ci_high()
        ),
        None => format!("{:+.3}", k * s.mean),
    }
}

fn nearest(points: &[PointData], d_rate: f64) -> Option<&PointData> {
    points.iter().filter(|p| p.d_rate > 0.0).min_by(|a, b| {
        (a.d_rate - d_rate)
            .abs()
            .total_cmp(&(b.d_rate - d_rate).abs())
    })
}

/// G3 per seed: the slope of the class-gap change (Δacc+1 − Δacc−1) on the D-ratio's
/// deviation from 0.5 over the D-rates above 0, then the t interval over seeds.
fn g3_slopes(points: &[PointData], eval: Evaluation) -> dupstudy_metrics::Result<Summary> {
    let points: Vec<&PointData> = points.iter().filter(|p| p.d_rate > 0.0).collect();
    let seeds = points.first().map_or(0, |p| p.d_ratio_plus.len());
    let gaps: Vec<(Vec<f64>, Vec<f64>)> = points
        .iter()
        .map(|p| {
            (
                p.values(Model::Delta, eval, Metric::Plus),
                p.values(Model::Delta, eval, Metric::Minus),
            )
        })
        .collect();
    let units: Vec<(Vec<f64>, Vec<f64>)> = (0..seeds)
        .map(|s| {
            let x = points.iter().map(|p| p.d_ratio_plus[s] - 0.5).collect();
            let y = gaps
                .iter()
                .map(|(plus, minus)| plus[s] - minus[s])
                .collect();
            (x, y)
        })
        .collect();
    slopes_over_units(&units)
}

/// Paired bootstrap over seeds of (duplicated - original) bias-variance terms: bias on class
/// -1 points, variance on class +1 points, variance on class -1 points; each as (estimate,
/// 2.5 %, 97.5 %).
struct BvDeltas {
    bias_minus: (f64, f64, f64),
    variance_plus: (f64, f64, f64),
    variance_minus: (f64, f64, f64),
    /// p-values agreeing with the percentile intervals: bias on class −1 above 0, variance
    /// on class +1 below 0.
    p_bias_minus: f64,
    p_variance_plus: f64,
    resamples: usize,
}

/// Resamples of the bias-variance bootstrap: 2,000, so that each 2.5 % tail of the 95 %
/// interval rests on 50 of them.
const BOOTSTRAP_RESAMPLES: usize = 2_000;

fn bootstrap_bv_deltas(
    original: &[Vec<u8>],
    duplicated: &[Vec<u8>],
    reference: &[u8],
    class_points: &[Vec<usize>; 2],
    policy: &str,
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
            let mut rng = seeding::gaussian_bootstrap(policy, b);
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
    let p = |k: usize| {
        let v: Vec<f64> = samples.iter().map(|s| s[k]).collect();
        Rule::Positive.p_value_of_samples(&v).unwrap_or(1.0)
    };
    Ok(BvDeltas {
        bias_minus: interval(0),
        variance_plus: interval(1),
        variance_minus: interval(2),
        p_bias_minus: p(0),
        p_variance_plus: p(1),
        resamples: BOOTSTRAP_RESAMPLES,
    })
}

/// A measurement and its verdict.
type Judged = (String, Verdict);

fn not_tested(why: &str) -> Judged {
    (why.to_string(), Verdict::NotTested(why.to_string()))
}

/// `(ours on the test set, ours on the training data)` of one claim.
fn both(make: impl Fn(Evaluation) -> Judged) -> (Judged, Option<Judged>) {
    (make(Evaluation::Test), Some(make(Evaluation::Train)))
}

fn policy_claims(
    policy: &Policy,
    points: &[PointData],
    bootstrap: Option<&BvDeltas>,
) -> Result<Vec<ClaimCheck>> {
    let mut out = Vec::new();
    let pooled = |spec: &ClaimSpec, metric: Metric, prefix: &str| {
        both(|e| match pooled_delta(points, e, metric) {
            Some(s) => (
                format!(
                    "{prefix}Δ {}, mean over D-rates: {} pts",
                    metric.legend(),
                    fmt_summary(&s, true)
                ),
                spec.rule.judge_summary(&s),
            ),
            None => not_tested("no D-rate above 0 in the plan"),
        })
    };
    let trend = |spec: &ClaimSpec, prefix: &str| {
        both(|e| match overall_trend(points, e) {
            Ok(s) => (
                format!(
                    "{prefix}trend of Δ overall: {} pts per 10 D-rate (one slope per seed, {} seeds)",
                    fmt_slopes(&s, 1000.0),
                    s.n
                ),
                spec.rule.judge_summary(&s),
            ),
            Err(why) => not_tested(&format!("no trend: {why}")),
        })
    };
    // p-values of the primary claims' test-set measurements.
    let pooled_p = |spec: &ClaimSpec, metric: Metric| {
        pooled_delta(points, Evaluation::Test, metric).and_then(|s| spec.rule.p_value(&s))
    };
    let trend_p = |spec: &ClaimSpec| {
        overall_trend(points, Evaluation::Test)
            .ok()
            .and_then(|s| spec.rule.p_value(&s))
    };
    match policy {
        Policy::Uniform => {
            let g1 = claim("G1");
            if let Some(p50) = nearest(points, 50.0) {
                let (ours, paper_way) =
                    both(
                        |e| match Summary::of(&p50.values(Model::Delta, e, Metric::Overall)) {
                            Ok(s) => (
                                format!(
                                    "Δ overall at D-rate {}: {} pts",
                                    p50.d_rate,
                                    fmt_summary(&s, true)
                                ),
                                g1.rule.judge_summary(&s),
                            ),
                            Err(e) => not_tested(&e.to_string()),
                        },
                    );
                let p = Summary::of(&p50.values(Model::Delta, Evaluation::Test, Metric::Overall))
                    .ok()
                    .and_then(|s| g1.rule.p_value(&s));
                out.push(g1.check(None, ours, paper_way).with_p_value(p));
            }
            let g2 = claim("G2");
            let (ours, paper_way) = pooled(g2, Metric::Overall, "");
            out.push(
                g2.check(None, ours, paper_way)
                    .with_p_value(pooled_p(g2, Metric::Overall)),
            );
            let g3 = claim("G3");
            let (ours, paper_way) = both(|e| match g3_slopes(points, e) {
                Ok(s) => (
                    format!(
                        "slope of (Δacc+1 − Δacc−1) on (D-ratio+1 − 0.5): {} pts per 10 % of D-ratio (one slope per seed, {} seeds)",
                        fmt_slopes(&s, 10.0),
                        s.n
                    ),
                    g3.rule.judge_summary(&s),
                ),
                Err(e) => not_tested(&format!("no fit: {e}")),
            });
            let p = g3_slopes(points, Evaluation::Test)
                .ok()
                .and_then(|s| g3.rule.p_value(&s));
            out.push(g3.check(None, ours, paper_way).with_p_value(p));
            let g4 = claim("G4");
            let (ours, paper_way) = both(|e| g4_check(g4, points, e));
            out.push(g4.check(None, ours, paper_way));
            let g5 = claim("G5");
            let (ours, paper_way) = trend(g5, "");
            out.push(g5.check(None, ours, paper_way));
        }
        Policy::Weighted { p_plus } => {
            let tag = format!("p = {p_plus}");
            let prefix = format!("{tag}: ");
            for (id, metric) in [
                ("G6", Metric::Plus),
                ("G7", Metric::Minus),
                ("G8", Metric::Overall),
            ] {
                let spec = claim(id);
                let (ours, paper_way) = pooled(spec, metric, &prefix);
                out.push(
                    spec.check(Some(&tag), ours, paper_way)
                        .with_p_value(pooled_p(spec, metric)),
                );
            }
            let g9 = claim("G9");
            let (ours, paper_way) = trend(g9, &prefix);
            out.push(
                g9.check(Some(&tag), ours, paper_way)
                    .with_p_value(trend_p(g9)),
            );
            if let (Some(last), Some(b)) = (points.last(), bootstrap) {
                let bias = Rule::Positive.judge(b.bias_minus.1, b.bias_minus.2);
                let variance = Rule::Negative.judge(b.variance_plus.1, b.variance_plus.2);
                let fmt = |t: (f64, f64, f64)| format!("{:+.4} [{:+.4}, {:+.4}]", t.0, t.1, t.2);
                let mut check = claim("P1").check(
                    Some(&tag),
                    (
                        format!(
                            "D-rate {}, duplicated − original: bias on class −1 points {}, variance on class +1 points {}, on class −1 points {} (bootstrap over seeds, {} resamples)",
                            last.d_rate,
                            fmt(b.bias_minus),
                            fmt(b.variance_plus),
                            fmt(b.variance_minus),
                            b.resamples
                        ),
                        Verdict::all([bias, variance]),
                    ),
                    None,
                );
                check.rule = "bias on class −1 above 0 and variance on class +1 below 0".into();
                // Both parts must hold: the larger of their p-values (intersection-union).
                out.push(check.with_p_value(Some(b.p_bias_minus.max(b.p_variance_plus))));
            }
        }
    }
    Ok(out)
}

/// G4: every Δ (per class and overall, at every D-rate) must lie within the margin; the
/// row shows the largest mean |Δ|.
fn g4_check(spec: &ClaimSpec, points: &[PointData], eval: Evaluation) -> Judged {
    let mut summaries = Vec::new();
    for p in points.iter().filter(|p| p.d_rate > 0.0) {
        for m in Metric::ALL {
            match Summary::of(&p.values(Model::Delta, eval, m)) {
                Ok(s) => summaries.push((p.d_rate, m, s)),
                Err(e) => return not_tested(&e.to_string()),
            }
        }
    }
    let Some((d, m, worst)) = summaries
        .iter()
        .max_by(|a, b| a.2.mean.abs().total_cmp(&b.2.mean.abs()))
    else {
        return not_tested("no D-rate above 0 in the plan");
    };
    let verdict = Verdict::all(summaries.iter().map(|(_, _, s)| spec.rule.judge_summary(s)));
    (
        format!(
            "largest mean |Δ|: {} at D-rate {d}, {} pts",
            m.legend(),
            fmt_summary(worst, true)
        ),
        verdict,
    )
}

fn boundary_figure(plan: &Plan, ctx: &Context) -> Result<Option<Figure>> {
    let Some(&d_rate) = plan.d_rates.last() else {
        return Ok(None);
    };
    if d_rate <= 0.0 {
        return Ok(None);
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
    let orig_curve = crate::figure::zero_contour(range, range, 140, decision(&orig_model));
    let bayes = vec![[(-3.0, 4.0), (4.0, -3.0)]];
    let mut panels = Vec::new();
    for &policy in &plan.policies {
        let (draw, fitted) = duplicated_data(&original, policy, d_rate, &plan.setting, 0)?;
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
            color: Color::Palette(6),
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
            markers: vec![
                markers(0, Color::Palette(0)),
                markers(1, Color::Palette(1)),
                rings,
            ],
            curves: vec![
                Curve {
                    name: "Bayes".into(),
                    segments: bayes.clone(),
                    color: Color::Grey,
                    width: 1,
                },
                Curve {
                    name: "original fit".into(),
                    segments: orig_curve.clone(),
                    color: Color::Palette(2),
                    width: 2,
                },
                Curve {
                    name: "with duplicates".into(),
                    segments: crate::figure::zero_contour(range, range, 140, decision(&model)),
                    color: Color::Palette(3),
                    width: 2,
                },
            ],
        });
    }
    Ok(Some(Figure::Maps {
        caption: "SVM decision boundaries before and after duplication (seed 0)".into(),
        panels,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip() {
        let classes = vec![1, 0, 0, 1, 1, 1, 0, 1, 0, 1, 1];
        let packed = pack_bits(&classes);
        assert_eq!(packed.len(), 4);
        let unpacked: Vec<usize> = unpack_bits("c", &packed, classes.len())
            .unwrap()
            .into_iter()
            .map(usize::from)
            .collect();
        assert_eq!(unpacked, classes);
        assert!(unpack_bits("c", &packed, 30).is_err());
        assert!(unpack_bits("c", "zz", 8).is_err());
    }

    pub(crate) fn tiny_plan() -> Plan {
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
        assert_eq!(a, b);
        assert_eq!(a.duplicates_per_class.iter().sum::<usize>(), 30);
    }

    /// Cell ids are part of stored results: the same configuration must keep its id.
    #[test]
    fn cell_ids_are_stable() {
        let cell = &tiny_plan().cells()[0];
        assert_eq!(cell.id().unwrap(), "gaussian-original-d0-s0-ebe6104a9c66");
    }

    #[test]
    fn invalid_plans_name_the_flag() {
        let flag = |plan: Plan| match plan.validate() {
            Err(StudyError::InvalidParameter { flag, .. }) => flag,
            other => panic!("{other:?}"),
        };
        let mut plan = tiny_plan();
        plan.seeds = 0;
        assert_eq!(flag(plan), "--seeds");
        let mut plan = tiny_plan();
        plan.d_rates = vec![-5.0];
        assert_eq!(flag(plan), "--d-rates");
        let mut plan = tiny_plan();
        plan.setting.c = 0.0;
        assert_eq!(flag(plan), "--c, --gamma");
        let mut plan = tiny_plan();
        plan.policies = vec![Policy::Weighted { p_plus: 1.5 }];
        assert_eq!(flag(plan), "--weighted-p-plus");
    }
}
