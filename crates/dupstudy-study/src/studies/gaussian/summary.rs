//! From finished cells to the summary table and the report section.

use std::collections::BTreeMap;

use dupstudy_dup::Replacement;
use dupstudy_metrics::{BiasVariance, ConfusionMatrix, Summary};
use dupstudy_svm::Gamma;

use super::aggregate::{accuracy_table, bootstrap_bv_deltas, paper_protocol_table};
use super::claims::policy_claims;
use super::figures::{accuracy_figure, bias_variance_figure, boundary_figure};
use super::run::unpack_bits;
use super::{
    CELL_VERSION, CellResult, CellSpec, Context, GaussianStudy, NAME, Plan, Policy, Record,
};
use crate::error::{Result, StudyError};
use crate::report::Section;
use crate::studies::capitalize;
use crate::study::{Study, StudySummary};
use crate::table::{Row, Statistic, Table};

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
    pub(super) const ALL: [Metric; 3] = [Metric::Minus, Metric::Plus, Metric::Overall];
    pub(super) fn name(self) -> &'static str {
        match self {
            Metric::Minus => "acc_minus1",
            Metric::Plus => "acc_plus1",
            Metric::Overall => "acc_overall",
        }
    }
    pub(super) fn legend(self) -> &'static str {
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
    pub(super) const ALL: [Evaluation; 2] = [Evaluation::Test, Evaluation::Train];
    pub(super) fn name(self) -> &'static str {
        match self {
            Evaluation::Test => "test",
            Evaluation::Train => "train",
        }
    }
}

/// Per-class and overall accuracy of one confusion matrix.
#[derive(Debug, Clone, Copy)]
pub(super) struct Accuracies {
    pub(super) minus: f64,
    pub(super) plus: f64,
    pub(super) overall: f64,
}

impl Accuracies {
    pub(super) fn of(m: &ConfusionMatrix) -> Self {
        Self {
            minus: m.class_accuracy(0).unwrap_or(f64::NAN),
            plus: m.class_accuracy(1).unwrap_or(f64::NAN),
            overall: m.accuracy().unwrap_or(f64::NAN),
        }
    }
    pub(super) fn get(&self, metric: Metric) -> f64 {
        match metric {
            Metric::Minus => self.minus,
            Metric::Plus => self.plus,
            Metric::Overall => self.overall,
        }
    }
}

/// The accuracies of one cell on the test set and on the original training points.
#[derive(Debug, Clone, Copy)]
pub(super) struct CellAccuracies {
    pub(super) test: Accuracies,
    pub(super) train: Accuracies,
}

impl CellAccuracies {
    pub(super) fn of(r: &CellResult) -> Self {
        Self {
            test: Accuracies::of(&r.test),
            train: Accuracies::of(&r.train_original),
        }
    }
    pub(super) fn get(&self, eval: Evaluation, metric: Metric) -> f64 {
        match eval {
            Evaluation::Test => self.test.get(metric),
            Evaluation::Train => self.train.get(metric),
        }
    }
}

/// Which model a statistic is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Model {
    Original,
    Duplicated,
    /// Duplicated minus original, paired by seed.
    Delta,
}

impl Model {
    pub(super) fn name(self) -> &'static str {
        match self {
            Model::Original => "original",
            Model::Duplicated => "duplicated",
            Model::Delta => "delta",
        }
    }
}

/// Per-seed accuracies of the original and duplicated models of one (policy, D-rate).
pub(super) struct PointData {
    pub(super) d_rate: f64,
    pub(super) original: Vec<CellAccuracies>,
    pub(super) duplicated: Vec<CellAccuracies>,
    pub(super) d_ratio_plus: Vec<f64>,
    pub(super) predictions: Vec<Vec<u8>>,
}

impl PointData {
    pub(super) fn values(&self, model: Model, eval: Evaluation, metric: Metric) -> Vec<f64> {
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
pub(super) struct BvTerms {
    pub(super) bias: [f64; 3],
    pub(super) variance: [f64; 3],
    pub(super) loss: [f64; 3],
}

/// The true and the Bayes-optimal class of every held-out test point.
pub(super) struct Truth {
    pub(super) n_test: usize,
    pub(super) class_points: [Vec<usize>; 2],
    pub(super) bayes: Vec<u8>,
    pub(super) bayes_accuracy: ConfusionMatrix,
}

impl Truth {
    fn of(ctx: &Context) -> Result<Self> {
        let n_test = ctx.test.len();
        let test_classes = ctx.test.classes().to_vec();
        let bayes_classes: Vec<usize> = (0..n_test)
            .map(|i| {
                let point = ctx.test.point(i);
                ctx.classes.bayes_class(&[point[0], point[1]])
            })
            .collect::<std::result::Result<_, _>>()?;
        Ok(Self {
            n_test,
            class_points: [0, 1].map(|c| (0..n_test).filter(|&i| test_classes[i] == c).collect()),
            bayes: bayes_classes.iter().map(|&c| u8::from(c == 1)).collect(),
            bayes_accuracy: ConfusionMatrix::from_predictions(&test_classes, &bayes_classes, 2)?,
        })
    }

    /// Bias-variance terms of models' test predictions against the Bayes-optimal classes.
    fn bv_terms(&self, predictions: &[Vec<u8>]) -> Result<BvTerms> {
        let bv = BiasVariance::decompose(predictions, &self.bayes, 2)?;
        let parts = [
            bv.summary_over(&self.class_points[0])?,
            bv.summary_over(&self.class_points[1])?,
            bv.summary(),
        ];
        Ok(BvTerms {
            bias: parts.map(|p| p.bias),
            variance: parts.map(|p| p.variance),
            loss: parts.map(|p| p.loss),
        })
    }
}

/// The records of a plan by id, with the original (D-rate 0) model of every seed.
struct Cells<'a> {
    plan: &'a Plan,
    by_id: BTreeMap<&'a str, &'a Record>,
    originals: Vec<&'a Record>,
    original_predictions: Vec<Vec<u8>>,
}

impl<'a> Cells<'a> {
    fn new(plan: &'a Plan, records: &'a [Record], n_test: usize) -> Result<Self> {
        let mut cells = Self {
            plan,
            by_id: records.iter().map(|r| (r.id.as_str(), r)).collect(),
            originals: Vec::new(),
            original_predictions: Vec::new(),
        };
        cells.originals = (0..plan.seeds)
            .map(|s| cells.find(None, 0.0, s))
            .collect::<Result<_>>()?;
        cells.original_predictions = cells
            .originals
            .iter()
            .map(|r| unpack_bits(&r.id, &r.result.test_predictions, n_test))
            .collect::<Result<_>>()?;
        Ok(cells)
    }

    fn find(&self, policy: Option<Policy>, d_rate: f64, seed: u64) -> Result<&'a Record> {
        let spec = CellSpec {
            policy,
            d_rate,
            seed,
            setting: self.plan.setting.clone(),
            version: CELL_VERSION,
        };
        let id = spec.id()?;
        self.by_id
            .get(id.as_str())
            .copied()
            .ok_or(StudyError::MissingCell {
                id,
                dir: std::path::PathBuf::from("the records given"),
            })
    }

    /// Every seed's original and duplicated model of `policy` at `d_rate`.
    fn point(&self, policy: Policy, d_rate: f64, n_test: usize) -> Result<PointData> {
        let mut data = PointData {
            d_rate,
            original: Vec::new(),
            duplicated: Vec::new(),
            d_ratio_plus: Vec::new(),
            predictions: Vec::new(),
        };
        for seed in 0..self.plan.seeds {
            let original = self.originals[seed as usize];
            let dup = if d_rate > 0.0 {
                self.find(Some(policy), d_rate, seed)?
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
                self.original_predictions[seed as usize].clone()
            });
        }
        Ok(data)
    }
}

/// One policy's points over the D-rates, with their bias-variance terms.
struct PolicyPoints {
    policy: Policy,
    points: Vec<PointData>,
    bvs: Vec<BvTerms>,
}

/// The summary: aggregate the cells per policy and D-rate, then the table, the claims and
/// the report section.
pub(super) fn summarize(plan: &Plan, records: &[Record]) -> Result<StudySummary> {
    let ctx = plan.context()?;
    let truth = Truth::of(&ctx)?;
    let cells = Cells::new(plan, records, truth.n_test)?;
    let bv_original = truth.bv_terms(&cells.original_predictions)?;
    let mut table = Table::default();
    let mut all_points = Vec::new();
    let top = plan.d_rates.last().copied().unwrap_or(0.0);
    for &policy in &plan.policies {
        let mut points = Vec::new();
        let mut bvs = Vec::new();
        for &d_rate in &plan.d_rates {
            let mut data = cells.point(policy, d_rate, truth.n_test)?;
            let bv = truth.bv_terms(&data.predictions)?;
            bvs.push(bv);
            point_rows(&mut table, &policy.label(), plan.seeds, &data, &bv)?;
            // Keep predictions only where the Proposition 1 check needs them (the largest
            // D-rate); they take n_seeds x n_test bytes each.
            if d_rate < top {
                data.predictions = Vec::new();
            }
            points.push(data);
        }
        all_points.push(PolicyPoints {
            policy,
            points,
            bvs,
        });
    }
    let non_converged = records.iter().filter(|r| !r.result.converged).count();
    let mut section = Section::new(GaussianStudy.title(), NAME);
    section.text(setting_paragraph(
        plan,
        &truth.bayes_accuracy,
        non_converged,
    ));
    let mut claims = Vec::new();
    for (index, p) in all_points.iter().enumerate() {
        policy_section(&mut section, p, index, plan.seeds, &bv_original)?;
        let bootstrap = match p.points.last() {
            Some(last) if last.d_rate > 0.0 && plan.seeds >= 2 => Some(bootstrap_bv_deltas(
                &cells.original_predictions,
                &last.predictions,
                &truth.bayes,
                &truth.class_points,
                &p.policy.label(),
            )?),
            _ => None,
        };
        claims.extend(policy_claims(&p.policy, &p.points, bootstrap.as_ref()));
    }
    closing_text(&mut section, plan, &ctx, records)?;
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

/// The table rows of one (policy, D-rate): every model, evaluation and metric, the
/// duplicates' class ratio, and the bias-variance terms.
fn point_rows(
    table: &mut Table,
    series: &str,
    seeds: u64,
    data: &PointData,
    bv: &BvTerms,
) -> Result<()> {
    let mut row = |arm, evaluation, metric, estimate| {
        table.push(Row {
            study: NAME,
            series: series.to_string(),
            d_rate: data.d_rate,
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
    const BV_METRICS: [[&str; 3]; 3] = [
        ["bv_bias_minus1", "bv_variance_minus1", "bv_loss_minus1"],
        ["bv_bias_plus1", "bv_variance_plus1", "bv_loss_plus1"],
        ["bv_bias_all", "bv_variance_all", "bv_loss_all"],
    ];
    let n = seeds as usize;
    for (k, names) in BV_METRICS.iter().enumerate() {
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
    Ok(())
}

/// One policy's part of the report: its figures and tables.
fn policy_section(
    section: &mut Section,
    p: &PolicyPoints,
    index: usize,
    seeds: u64,
    bv_original: &BvTerms,
) -> Result<()> {
    let label = p.policy.label();
    section.text(format!(
        "\n### {} ({label})\n\n",
        capitalize(&p.policy.describe())
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
            accuracy_figure(&p.policy, &p.points, eval)?,
        );
    }
    section.figure(
        format!("gaussian_{label}_bias_variance.svg"),
        format!("Bias and variance, {label}"),
        bias_variance_figure(&p.policy, &p.points, &p.bvs, bv_original),
    );
    section.text(accuracy_table(&p.points)?);
    if index == 0 || matches!(p.policy, Policy::Weighted { .. }) {
        section.text(paper_protocol_table(&p.points, seeds));
    }
    Ok(())
}

/// The decision-boundary figure and the compute line.
fn closing_text(
    section: &mut Section,
    plan: &Plan,
    ctx: &Context,
    records: &[Record],
) -> Result<()> {
    if let Some(figure) = boundary_figure(plan, ctx)? {
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
    let cell_seconds: f64 = records.iter().map(|r| r.seconds).sum();
    section.text(format!(
        "\nCompute: {} of cell time over {} cells.\n",
        crate::report::human_duration(cell_seconds),
        records.len()
    ));
    Ok(())
}

pub(super) fn setting_paragraph(
    plan: &Plan,
    bayes: &ConfusionMatrix,
    non_converged: usize,
) -> String {
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
