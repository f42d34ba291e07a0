//! From finished cells to per-model attack scores, the summary table and the report section.

use std::collections::BTreeMap;

use base64::Engine;
use dupstudy_metrics::Summary;

use super::attacks::{Lira, auc, correct, loss, loss_threshold, phi, tpr_at_fpr};
use super::bootstrap::{TargetScores, dose_difference_interval, dose_interval};
use super::claims::checks;
use super::{NAME, Plan, PrivacyStudy, Record, Training};
use crate::error::{Result, StudyError};
use crate::figure::{Color, Figure, Panel, RocCurve, RocPanel, Series, roc_points};
use crate::report::{Section, human_duration};
use crate::studies::band;
use crate::study::{Study, StudySummary};
use crate::table::{Row, Statistic, Table};

/// One model's attack results for the targets of one copy count.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct KScores {
    /// AUC of offline LiRA.
    pub auc_offline: f64,
    /// AUC of online LiRA (an upper bound: it also uses models the target is in).
    pub auc_online: f64,
    /// AUC of the global loss threshold.
    pub auc_loss: f64,
    /// AUC of the loss on the PGD example (E2 only; `NaN` in E1).
    pub auc_pgd_loss: f64,
    /// TPR of offline LiRA at 1 % FPR.
    pub tpr_1pct: f64,
    /// Memorization: accuracy on the targets in minus on the targets out.
    pub memorization: f64,
    /// Mean loss of the targets out minus in.
    pub loss_gap: f64,
}

/// One model's results per copy count.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelScores {
    /// The model number.
    pub model: u64,
    /// Per copy count.
    pub per_k: BTreeMap<u32, KScores>,
    /// The natural arm: accuracy on the test twins whose training partners are in minus
    /// on those whose partners are out, in points (`None` without twins on both sides).
    pub twin_effect: Option<f64>,
}

/// Every model's results, per kind of training, and the pooled low-FPR figures.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scores {
    /// Per training kind, per model (ascending).
    pub models: BTreeMap<Training, Vec<ModelScores>>,
    /// Per training kind and copy count: offline LiRA's TPR at 0.1 % FPR, pooled over
    /// models (descriptive: few non-members back it).
    pub pooled_tpr_01pct: BTreeMap<(Training, u32), f64>,
    /// Per training kind and copy count: offline LiRA's ROC curve, pooled over models.
    pub roc: BTreeMap<(Training, u32), Vec<(f64, f64)>>,
    /// Per training kind: every model's offline LiRA score of every target (the bootstrap
    /// check's input).
    pub targets: BTreeMap<Training, TargetScores>,
}

fn decode(id: &str, text: &str, len: usize) -> Result<Vec<f32>> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| StudyError::Cell {
            id: id.to_string(),
            message: format!("logits are not base64: {e}"),
        })?;
    if bytes.len() != 4 * len {
        return Err(StudyError::Cell {
            id: id.to_string(),
            message: format!("{} bytes of logits, {} expected", bytes.len(), 4 * len),
        });
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

impl Scores {
    /// The scores of every kind of training in `records`.
    ///
    /// # Errors
    /// Records of one kind that disagree on the targets, or unreadable logits.
    pub fn of(records: &[Record]) -> Result<Self> {
        let mut scores = Scores::default();
        for training in Training::ALL {
            let mut cells: Vec<&Record> = records
                .iter()
                .filter(|r| r.spec.training == training)
                .collect();
            if cells.len() < 4 {
                continue;
            }
            cells.sort_by_key(|r| r.spec.model);
            scores.add(training, &cells)?;
        }
        Ok(scores)
    }

    fn add(&mut self, training: Training, cells: &[&Record]) -> Result<()> {
        let first = &cells[0].result;
        for r in cells {
            if r.result.targets != first.targets || r.result.copies != first.copies {
                return Err(StudyError::Cell {
                    id: r.id.clone(),
                    message: format!("its targets differ from those of {}", cells[0].id),
                });
            }
        }
        let n = first.targets.len();
        let mut logits = Vec::new();
        for r in cells {
            logits.push(decode(&r.id, &r.result.logits, n * 20)?);
        }
        let label = |t: usize| usize::from(first.labels[t]);
        let phis: Vec<Vec<[f64; 2]>> = logits
            .iter()
            .map(|l| {
                (0..n)
                    .map(|t| {
                        [
                            phi(&l[t * 20..t * 20 + 10], label(t)),
                            phi(&l[t * 20 + 10..t * 20 + 20], label(t)),
                        ]
                    })
                    .collect()
            })
            .collect();
        let inside: Vec<Vec<bool>> = cells.iter().map(|r| r.result.included.clone()).collect();
        let attacked: Vec<Option<Vec<f32>>> = cells
            .iter()
            .map(|r| {
                r.result
                    .attacked_logits
                    .as_ref()
                    .map(|a| decode(&r.id, a, n * 10))
                    .transpose()
            })
            .collect::<Result<_>>()?;
        let lira = Lira::new(&phis, &inside);
        let ks: std::collections::BTreeSet<u32> = first.copies.iter().copied().collect();
        let mut models = Vec::new();
        let mut pooled: BTreeMap<u32, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
        for (m, r) in cells.iter().enumerate() {
            let mut per_k = BTreeMap::new();
            for &k in &ks {
                let of_k: Vec<usize> = (0..n).filter(|&t| first.copies[t] == k).collect();
                let split = |score: &dyn Fn(usize) -> Option<f64>| {
                    let (mut a, mut b) = (Vec::new(), Vec::new());
                    for &t in &of_k {
                        if let Some(s) = score(t) {
                            if inside[m][t] { a.push(s) } else { b.push(s) }
                        }
                    }
                    (a, b)
                };
                let image = |t: usize| &logits[m][t * 20..t * 20 + 10];
                let (off_in, off_out) = split(&|t| lira.offline(m, t));
                let (on_in, on_out) = split(&|t| lira.online(m, t));
                let (loss_in, loss_out) = split(&|t| Some(loss_threshold(image(t), label(t))));
                let (pgd_in, pgd_out) = match &attacked[m] {
                    Some(a) => split(&|t| Some(-loss(&a[t * 10..t * 10 + 10], label(t)))),
                    None => (Vec::new(), Vec::new()),
                };
                let (acc_in, acc_out) =
                    split(&|t| Some(f64::from(u8::from(correct(image(t), label(t))))));
                let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
                let entry = pooled.entry(k).or_default();
                entry.0.extend(&off_in);
                entry.1.extend(&off_out);
                per_k.insert(
                    k,
                    KScores {
                        auc_offline: auc(&off_in, &off_out).unwrap_or(f64::NAN),
                        auc_online: auc(&on_in, &on_out).unwrap_or(f64::NAN),
                        auc_loss: auc(&loss_in, &loss_out).unwrap_or(f64::NAN),
                        auc_pgd_loss: auc(&pgd_in, &pgd_out).unwrap_or(f64::NAN),
                        tpr_1pct: tpr_at_fpr(&off_in, &off_out, 0.01).unwrap_or(f64::NAN),
                        memorization: mean(&acc_in) - mean(&acc_out),
                        loss_gap: mean(&loss_in) - mean(&loss_out),
                    },
                );
            }
            models.push(ModelScores {
                model: r.spec.model,
                per_k,
                twin_effect: twin_effect(&r.result),
            });
        }
        for (k, (a, b)) in pooled {
            if let Some(t) = tpr_at_fpr(&a, &b, 0.001) {
                self.pooled_tpr_01pct.insert((training, k), t);
            }
            self.roc.insert((training, k), roc_points(&a, &b, 200));
        }
        self.models.insert(training, models);
        self.targets.insert(
            training,
            TargetScores {
                models: cells.iter().map(|r| r.spec.model).collect(),
                copies: first.copies.clone(),
                offline: (0..cells.len())
                    .map(|m| {
                        (0..n)
                            .map(|t| lira.offline(m, t).unwrap_or(f64::NAN))
                            .collect()
                    })
                    .collect(),
                inside,
            },
        );
        Ok(())
    }

    /// A statistic of every model of `training`, as a summary over models.
    pub fn over_models(
        &self,
        training: Training,
        value: impl Fn(&ModelScores) -> Option<f64>,
    ) -> Option<Summary> {
        let values: Vec<f64> = self
            .models
            .get(&training)?
            .iter()
            .filter_map(value)
            .filter(|v| v.is_finite())
            .collect();
        Summary::of(&values).ok()
    }
}

/// A model's accuracy on the twins whose partners it trained on minus on the others, in
/// points.
fn twin_effect(r: &super::CellResult) -> Option<f64> {
    let mean = |want: bool| {
        let v: Vec<f64> = r
            .twins_in
            .iter()
            .zip(&r.twins_correct)
            .filter(|(i, _)| **i == want)
            .map(|(_, &c)| f64::from(u8::from(c)))
            .collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    Some(100.0 * (mean(true)? - mean(false)?))
}

/// How a metric is read from a copy count's scores.
type Read = fn(&KScores) -> f64;

/// The metrics of the table: `(name, how to read it)`.
const METRICS: [(&str, Read); 7] = [
    ("auc_offline_lira", |s| s.auc_offline),
    ("auc_online_lira", |s| s.auc_online),
    ("auc_loss_threshold", |s| s.auc_loss),
    ("auc_pgd_loss", |s| s.auc_pgd_loss),
    ("tpr_at_1pct_fpr", |s| s.tpr_1pct),
    ("memorization", |s| s.memorization),
    ("loss_gap", |s| s.loss_gap),
];

/// The summary: per-model scores, then the table, the claims and the report section.
pub(super) fn summarize(plan: &Plan, records: &[Record]) -> Result<StudySummary> {
    let scores = Scores::of(records)?;
    let mut table = Table::default();
    let mut section = Section::new(PrivacyStudy.title(), NAME);
    section.text(setting_paragraph(plan, records));
    for (&training, models) in &scores.models {
        let ks: Vec<u32> = models
            .first()
            .map(|m| m.per_k.keys().copied().collect())
            .unwrap_or_default();
        for &k in &ks {
            for (metric, read) in METRICS {
                if let Some(s) = scores.over_models(training, |m| m.per_k.get(&k).map(read)) {
                    table.push(Row {
                        study: NAME,
                        series: training.label().into(),
                        d_rate: f64::from(k),
                        arm: "value",
                        evaluation: "targets",
                        metric,
                        estimate: Statistic::of(&s),
                    });
                }
            }
        }
        section.text(kind_table(&scores, training, &ks));
        if let Some(s) = scores.over_models(training, |m| m.twin_effect) {
            table.push(Row {
                study: NAME,
                series: training.label().into(),
                d_rate: 0.0,
                arm: "value",
                evaluation: "test_twins",
                metric: "accuracy_partners_in_minus_out",
                estimate: Statistic::of(&s),
            });
            let twins = records
                .iter()
                .find(|r| r.spec.training == training)
                .map_or(0, |r| r.result.twins.len());
            section.text(format!(
                "Natural arm ({}): the {twins} test twins in the test pool score {} pts better when their duplicate group's training images are in the model than when they are out (mean over models, paired inside each model by the random halves).\n\n",
                training.label(),
                crate::claims::fmt_summary(&s, false)
            ));
        }
    }
    section.figure(
        format!("{NAME}.svg"),
        "Membership exposure against the copy count",
        figure(&scores),
    );
    section.figure(
        format!("{NAME}_roc.svg"),
        "ROC curves of offline LiRA, pooled over models, on log-log axes",
        roc_figure(&scores),
    );
    section.text(format!(
        "\nThe table's `d_rate` column holds the copy count k. Intervals are 95 % t intervals over models (the unit of inference; each model's targets in and out are a random half each). The ROC curves pool every model's targets (descriptive); the dashed diagonal is chance.\n\nCompute: {} of cell time over {} cells (the audit not included).\n",
        human_duration(records.iter().map(|r| r.seconds).sum()),
        records.len()
    ));
    section.text(bootstrap_paragraph(&scores));
    let claims = checks(&scores);
    let scale = match &plan.e1 {
        Some(s) => format!(
            "E1: {} models x {} training images x {} epochs, {} targets per k",
            s.models, s.pool, s.epochs, s.targets_per_k
        ),
        None => "no E1".into(),
    };
    Ok(StudySummary {
        table,
        claims,
        scale,
        section,
    })
}

/// Resamples of the bootstrap check.
const RESAMPLES: usize = 2_000;

/// The primary claims' statistics under a bootstrap over models and targets together.
fn bootstrap_paragraph(scores: &Scores) -> String {
    let mut rng = super::seeds::bootstrap();
    let fmt = |i: Option<(f64, f64)>| {
        i.map_or("not computable".to_string(), |(lo, hi)| {
            format!("[{lo:.3}, {hi:.3}]")
        })
    };
    let dose = scores
        .targets
        .get(&Training::Standard)
        .and_then(|s| dose_interval(s, 1, 8, RESAMPLES, &mut rng));
    let difference = match (
        scores.targets.get(&Training::Adversarial),
        scores.targets.get(&Training::Clean),
    ) {
        (Some(a), Some(c)) => dose_difference_interval(a, c, 1, 8, RESAMPLES, &mut rng),
        _ => None,
    };
    format!(
        "Check on the primary claims' intervals (a bootstrap over models and targets together, {RESAMPLES} resamples, 95 % percentile; targets drawn within each copy count, the same draw for every model; LiRA's scores kept as computed): M-dose (AUC(8) − AUC(1), E1) {}; A-M2 (the same, adversarial minus clean, E2) {}.\n\n",
        fmt(dose),
        fmt(difference)
    )
}

fn setting_paragraph(plan: &Plan, records: &[Record]) -> String {
    let mut text = String::new();
    for (name, s, kinds) in [
        ("E1", &plan.e1, "the paper's standard network and protocol"),
        (
            "E2",
            &plan.e2,
            "the adversarial network trained clean and with Madry's PGD from the same data and initialization",
        ),
    ] {
        if let Some(s) = s {
            text.push_str(&format!(
                "{name}: {kinds}; {} models, the first {} training images as the pool, {} targets per copy count k in {:?} (outside every duplicate group the audit found, one class after another), each in a random half of the models; {} epochs, batch {}{}.\n\n",
                s.models,
                s.pool,
                s.targets_per_k,
                s.copies,
                s.epochs,
                s.batch_size,
                if s.attack_steps > 0 { format!(", PGD-{} (eps 8/255)", s.attack_steps) } else { String::new() }
            ));
        }
    }
    let _ = records;
    text
}

fn kind_table(scores: &Scores, training: Training, ks: &[u32]) -> String {
    let mut md = format!(
        "**{}** (mean over models [95 % interval])\n\n| k | AUC offline LiRA | AUC online LiRA | AUC loss threshold | AUC loss on PGD example | TPR at 1 % FPR | TPR at 0.1 % FPR (pooled) | memorization (pts) | loss gap |\n|---:|---|---|---|---|---|---|---|---|\n",
        training.label()
    );
    for &k in ks {
        let cell = |read: fn(&KScores) -> f64, scale: f64| {
            scores
                .over_models(training, |m| m.per_k.get(&k).map(read))
                .map_or("—".to_string(), |s| {
                    format!(
                        "{:.3} [{:.3}, {:.3}]",
                        scale * s.mean,
                        scale * s.ci_low(),
                        scale * s.ci_high()
                    )
                })
        };
        md.push_str(&format!(
            "| {k} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            cell(|s| s.auc_offline, 1.0),
            cell(|s| s.auc_online, 1.0),
            cell(|s| s.auc_loss, 1.0),
            cell(|s| s.auc_pgd_loss, 1.0),
            cell(|s| s.tpr_1pct, 1.0),
            scores
                .pooled_tpr_01pct
                .get(&(training, k))
                .map_or("—".into(), |t| format!("{t:.3}")),
            cell(|s| s.memorization, 100.0),
            cell(|s| s.loss_gap, 1.0),
        ));
    }
    md.push('\n');
    md
}

fn figure(scores: &Scores) -> Figure {
    let series = |read: fn(&KScores) -> f64| -> Vec<Series> {
        scores
            .models
            .iter()
            .enumerate()
            .map(|(i, (&training, models))| Series {
                name: training.label().into(),
                points: models
                    .first()
                    .map(|m| m.per_k.keys().copied().collect::<Vec<_>>())
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|k| {
                        scores
                            .over_models(training, |m| m.per_k.get(&k).map(read))
                            .map(|s| band(&s, f64::from(k), 1.0))
                    })
                    .collect(),
                color: Color::Palette(i),
                dashed: training == Training::Clean,
            })
            .collect()
    };
    let panel = |title: &str, y: &str, series| Panel {
        title: title.into(),
        x_label: "copies k of a target in the models it is in".into(),
        y_label: y.into(),
        y_range: None,
        series,
    };
    Figure::Lines {
        caption: "Membership inference against the copy count".into(),
        panels: vec![
            panel("Offline LiRA, AUC", "AUC", series(|s| s.auc_offline)),
            panel(
                "Offline LiRA, TPR at 1 % FPR",
                "TPR",
                series(|s| s.tpr_1pct),
            ),
        ],
    }
}

fn roc_figure(scores: &Scores) -> Figure {
    let panels = scores
        .models
        .keys()
        .map(|&training| RocPanel {
            title: format!("{} (offline LiRA)", training.label()),
            curves: scores
                .roc
                .iter()
                .filter(|((t, _), _)| *t == training)
                .enumerate()
                .map(|(i, (&(_, k), points))| RocCurve {
                    name: format!("k = {k}"),
                    points: points.clone(),
                    color: Color::Palette(i),
                })
                .collect(),
        })
        .collect();
    Figure::Roc {
        caption: "Membership inference by copy count: ROC on log-log axes".into(),
        panels,
    }
}
