//! The Gaussian study (paper Section 4.1, Figures 1 and 2): an RBF SVM on two 2-D Gaussian
//! classes, before and after duplicates are appended, over many seeds.
//!
//! Cells: one `original` cell per seed (fit on the original draw) and one `duplicated` cell
//! per (policy, D-rate > 0, seed) (fit on the same draw plus duplicates). D-rate 0 is the
//! original. Accuracy is measured on a held-out test set shared by all cells and, as the
//! paper's code did, on the training data.

use std::time::Instant;

use dupstudy_dup::{Duplication, Replacement};
use dupstudy_gauss::{GaussianClasses, LabelledPoints};
use dupstudy_metrics::ConfusionMatrix;
use dupstudy_svm::{Gamma, Svm};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::claims::ClaimSpec;
use crate::data::DataSet;
use crate::error::{Result, StudyError};
use crate::profile::{Env, Request};
use crate::store::{CellRecord, config_hash};
use crate::study::{CellIo, Computed, Estimate, Study, StudySummary};

mod aggregate;
mod claims;
mod figures;
pub mod flags;
mod plan;
mod run;
mod seeds;
mod summary;

use claims::CLAIMS;
pub use run::pack_bits;
use run::run_cell;
use summary::summarize;
pub use summary::{Evaluation, Metric};

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

    fn data_note(&self) -> Option<&'static str> {
        Some("Gaussian study: synthetic data from seeded streams")
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

    fn cell_label(&self, cell: &CellSpec) -> String {
        cell.label()
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
            seconds: (1.0 + AGGREGATION_SHARE) * per_cell * pending.len() as f64,
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

#[cfg(test)]
mod tests {
    use super::run::unpack_bits;
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
        let flag = |plan: Plan| match plan.check() {
            Err(StudyError::InvalidParameter { flag, .. }) => flag,
            other => panic!("{other:?}"),
        };
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
