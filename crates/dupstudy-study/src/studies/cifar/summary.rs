//! From finished cells to the summary table, the report section and its figures.

use dupstudy_cifar::N_CLASSES;
use dupstudy_metrics::{ConfusionMatrix, Summary};

use super::claims::{checks, paper_points};
use super::reading::figure4_reading;
use super::{
    CIFAR_TRAIN_IMAGES, CifarStudy, FAVOURED_CLASSES, Network, Plan, Record, Setting, Variant,
};
use crate::claims::{Rule, Verdict, fmt_summary};
use crate::error::Result;
use crate::figure::{BandPoint, Color, Figure, Panel, Series};
use crate::report::{Section, human_duration};
use crate::studies::band;
use crate::study::{Study, StudySummary};
use crate::table::{Row, Statistic, Table};

/// A metric of a cell record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Measure {
    Test,
    TrainOriginal,
    TrainList,
    Robust,
    FavouredTest,
    OtherTest,
}

impl Measure {
    pub(super) fn of(self, r: &Record) -> Option<f64> {
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

    pub(super) fn name(self) -> &'static str {
        match self {
            Measure::Test => "test_accuracy",
            Measure::TrainOriginal => "train_accuracy_original",
            Measure::TrainList => "train_accuracy_duplicated",
            Measure::Robust => "robust_accuracy",
            Measure::FavouredTest => "test_accuracy_classes_0_4",
            Measure::OtherTest => "test_accuracy_classes_5_9",
        }
    }

    pub(super) fn evaluation(self) -> &'static str {
        match self {
            Measure::Test | Measure::FavouredTest | Measure::OtherTest => "test",
            Measure::TrainOriginal => "train",
            Measure::TrainList => "train_list",
            Measure::Robust => "robust",
        }
    }
}

/// The records of a study, looked up by series.
pub(super) struct Records<'a> {
    records: &'a [Record],
}

impl<'a> Records<'a> {
    pub(super) fn find(&self, variant: Variant, d: f64, seed: u64) -> Option<&'a Record> {
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
    pub(super) fn series(&self, variant: Variant) -> Vec<(f64, Vec<&'a Record>)> {
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

    pub(super) fn at(&self, variant: Variant, d: f64) -> Option<Vec<&'a Record>> {
        self.series(variant)
            .into_iter()
            .find(|(x, _)| x.to_bits() == d.to_bits())
            .map(|(_, c)| c)
    }

    pub(super) fn largest(&self, variant: Variant) -> f64 {
        self.series(variant)
            .into_iter()
            .map(|(d, _)| d)
            .fold(0.0, f64::max)
    }

    /// Paired difference of each cell and its D-rate 0 baseline of the same seed.
    pub(super) fn delta(&self, cells: &[&Record], m: Measure) -> Option<Summary> {
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
    pub(super) fn paired(a: &[&Record], b: &[&Record], m: Measure, flip: bool) -> Option<Summary> {
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

pub(super) fn summary_of(cells: &[&Record], m: Measure) -> Option<Summary> {
    let values: Vec<f64> = cells.iter().filter_map(|r| m.of(r)).collect();
    Summary::of(&values).ok()
}

pub(super) fn shown(s: &Option<Summary>) -> String {
    s.as_ref().map_or("not run".to_string(), |s| {
        format!("{} pts", fmt_summary(s, true))
    })
}

pub(super) fn judged(rule: Rule, s: &Option<Summary>) -> Verdict {
    s.as_ref()
        .map_or(Verdict::NotTested("not in this run's plan".into()), |s| {
            rule.judge_summary(s)
        })
}

/// The summary: aggregate the cells, then the table, the claims and the report section.
pub(super) fn summarize(plan: &Plan, records: &[Record]) -> Result<StudySummary> {
    let network = plan.network;
    let recs = Records { records };
    let variants = variants_of(records);
    let table = table(network, &variants, &recs);
    let mut section = Section::new(CifarStudy::new(network).title(), network.study());
    let Some(s) = plan.cells.first().map(|c| c.setting.clone()) else {
        return Ok(StudySummary {
            table,
            claims: Vec::new(),
            scale: "no cells".into(),
            section,
        });
    };
    let claims = checks(network, &variants, &recs);
    fill_section(&mut section, plan, &s, &variants, &recs);
    Ok(StudySummary {
        table,
        claims,
        scale: scale(&s, &recs),
        section,
    })
}

/// The variants with cells above D-rate 0, in report order (uniform when there are none).
fn variants_of(records: &[Record]) -> Vec<Variant> {
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
    variants
}

/// What each network's table reports.
fn measures(network: Network) -> &'static [Measure] {
    match network {
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
    }
}

/// The long-format table: every measure's value and change against D-rate 0, per variant
/// and D-rate.
fn table(network: Network, variants: &[Variant], recs: &Records<'_>) -> Table {
    let mut table = Table::default();
    for &variant in variants {
        for (d, cells) in recs.series(variant) {
            for &m in measures(network) {
                for (arm, s) in [
                    ("value", summary_of(&cells, m)),
                    ("delta_vs_d0", recs.delta(&cells, m)),
                ] {
                    if let Some(s) = s {
                        table.push(Row {
                            study: network.study(),
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
    table
}

/// The report section: the setting, the figure, a table per variant, the paper's numbers
/// beside ours, and what this run's scale leaves out.
fn fill_section(
    section: &mut Section,
    plan: &Plan,
    s: &Setting,
    variants: &[Variant],
    recs: &Records<'_>,
) {
    let network = plan.network;
    let study = network.study();
    section.text(setting_paragraph(network, s, recs.records));
    let caption = match network {
        Network::Standard => "CIFAR-10, standard training (paper Figure 3 redrawn, with controls)",
        Network::Adversarial => "CIFAR-10, adversarial training (paper Figure 4 redrawn)",
    };
    section.figure(
        format!("{study}.svg"),
        caption,
        Figure::Lines {
            caption: caption.into(),
            panels: panels(network, variants, recs),
        },
    );
    for &variant in variants {
        section.text(series_table(network, variant, recs));
    }
    section.text(paper_table(network, recs));
    if network == Network::Adversarial
        && let Some(reading) = figure4_reading(recs)
    {
        section.text(reading);
    }
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
    let cell_seconds: f64 = recs.records.iter().map(|r| r.seconds).sum();
    section.text(format!(
        "\nCompute: {} of cell time over {} cells.\n",
        human_duration(cell_seconds),
        recs.records.len()
    ));
}

/// The figure's panels: clean test accuracy per variant, then training accuracy (standard)
/// or robust accuracy (adversarial).
fn panels(network: Network, variants: &[Variant], recs: &Records<'_>) -> Vec<Panel> {
    let curve = |variant: Variant, measure: Measure| -> Vec<BandPoint> {
        recs.series(variant)
            .into_iter()
            .filter_map(|(d, cells)| summary_of(&cells, measure).map(|s| band(&s, d, 100.0)))
            .collect()
    };
    let series_for = |measure: Measure| -> Vec<Series> {
        variants
            .iter()
            .enumerate()
            .map(|(k, &v)| Series {
                name: v.label(),
                points: curve(v, measure),
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
    let second = match network {
        Network::Standard => {
            let train_series = [
                (Measure::TrainOriginal, "original set"),
                (Measure::TrainList, "duplicated set"),
            ]
            .into_iter()
            .enumerate()
            .map(|(k, (measure, name))| Series {
                name: format!("uniform, {name}"),
                points: curve(Variant::Uniform, measure),
                color: Color::Palette(k + 4),
                dashed: k == 1,
            })
            .collect();
            panel(
                "Training accuracy (uniform duplicates)",
                "accuracy (%)",
                train_series,
            )
        }
        Network::Adversarial => panel(
            "Robust test accuracy (each series under its own attack)",
            "accuracy under attack (%)",
            series_for(Measure::Robust),
        ),
    };
    vec![
        panel(
            "Clean test accuracy",
            "accuracy (%)",
            series_for(Measure::Test),
        ),
        second,
    ]
}

/// The scale the verdicts were judged at, for the line beside the verdict table.
fn scale(s: &Setting, recs: &Records<'_>) -> String {
    format!(
        "{} training images x {} epochs, {} seed(s); clean test accuracy without duplicates {}",
        s.base_images,
        s.epochs,
        recs.records
            .iter()
            .map(|r| r.spec.seed)
            .max()
            .map_or(0, |m| m + 1),
        recs.at(Variant::Uniform, 0.0)
            .and_then(|c| summary_of(&c, Measure::Test))
            .map_or("not run".into(), |m| format!("{:.2} %", 100.0 * m.mean))
    )
}

pub(super) fn setting_paragraph(network: Network, s: &Setting, records: &[Record]) -> String {
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

pub(super) fn series_table(network: Network, variant: Variant, recs: &Records<'_>) -> String {
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

pub(super) fn paper_table(network: Network, recs: &Records<'_>) -> String {
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
