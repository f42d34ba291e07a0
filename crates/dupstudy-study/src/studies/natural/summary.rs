//! From finished cells to the summary table and the report section.

use dupstudy_metrics::Summary;

use super::claims::claims;
use super::{AUDIT_DIR, Arm, NAME, NaturalStudy, Plan, Record};
use crate::claims::{Rule, Verdict, fmt_summary};
use crate::error::{Result, StudyError};
use crate::report::{Section, human_duration};
use crate::study::{Study, StudySummary};
use crate::table::{Row, Statistic, Table};

/// What is measured on one cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Measure {
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
    pub(super) const ALL: [Measure; 5] = [
        Measure::Whole,
        Measure::WithoutTwins,
        Measure::Twins,
        Measure::Leakage,
        Measure::TwinAdvantage,
    ];

    pub(super) fn of(self, r: &Record) -> Option<f64> {
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
    pub(super) fn names(self) -> (&'static str, &'static str) {
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
pub(super) fn arm_cells(records: &[Record], arm: Arm) -> Vec<&Record> {
    records.iter().filter(|r| r.spec.arm == arm).collect()
}

pub(super) fn summary_of(cells: &[&Record], m: Measure) -> Option<Summary> {
    let values: Vec<f64> = cells.iter().filter_map(|r| m.of(r)).collect();
    Summary::of(&values).ok()
}

/// `a - b` of measure `m`, paired by seed.
pub(super) fn paired(records: &[Record], a: Arm, b: Arm, m: Measure) -> Option<Summary> {
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

pub(super) fn cell(s: &Option<Summary>) -> String {
    s.as_ref().map_or("—".to_string(), |s| fmt_summary(s, true))
}

pub(super) fn measured(
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
pub(super) fn common_partition(records: &[Record]) -> Result<Option<String>> {
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

/// The summary: the table, the claims and the report section.
pub(super) fn summarize(plan: &Plan, records: &[Record]) -> Result<StudySummary> {
    let fingerprint = common_partition(records)?;
    let s = &plan.setting;
    let table = table(records);
    let mut section = Section::new(NaturalStudy.title(), NAME);
    let first = |arm: Arm| arm_cells(records, arm).first().map(|r| &r.result);
    let full = first(Arm::Full);
    let (cut, twins) = match (full, first(Arm::Deduplicated)) {
        (Some(a), Some(b)) => (b.removed, a.test_twins.total() as usize),
        _ => (0, 0),
    };
    section.text(format!(
        "The audit (`{AUDIT_DIR}/REPORT.md` in this study's folder; {}) of the first {} training and {} test images found {} training images beyond one per duplicate group (natural D-rate {:.2} % of the training pool) and {} test images ({:.2} % of the test pool) whose twin is in the training pool. \
         The paper's standard network (16/32/128, dropout 0.5; SGD 0.01, momentum 0.9, weight decay 5e-4, crop + flip) trains {} epochs, batch {}, on (a) the whole pool, (b) the pool with every duplicate group cut to its first image, and (c) the pool minus {} random images (as many as (b) removed), each seed's three arms from the same initialization. Seeds: {}. Partition fingerprint: `{}`.\n\n",
        match &s.learned {
            Some(l) => format!(
                "the learned score at {:.3}: the higher of the aligned similarity and {} x it + {} x a learned descriptor's similarity, the descriptor trained {} epochs on the pool's labels",
                s.audit.threshold,
                l.weight,
                1.0 - l.weight,
                l.descriptor.epochs
            ),
            None => format!("threshold {:.3} on the aligned similarity", s.audit.threshold),
        },
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
    section.text(arms_table(records, twins));
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

/// The long-format table: every measure of every arm, and the paired differences between
/// arms.
fn table(records: &[Record]) -> Table {
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

    table
}

/// The arms side by side, their paired differences, and how to read the intervals.
fn arms_table(records: &[Record], twins: usize) -> String {
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
    md
}
