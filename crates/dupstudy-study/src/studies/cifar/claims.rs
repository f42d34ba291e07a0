//! The CIFAR claims as data (with the paper's numbers), and how each is judged from the
//! finished cells.

use dupstudy_metrics::Summary;

use super::summary::{Measure, Records, judged, shown, summary_of};
use super::{Network, Variant};
use crate::claims::{ClaimCheck, ClaimSpec, PaperValue, Rule, Unit, Verdict, fmt_summary};

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
pub(super) const SIZE_READING: &str = "the paper's change is one run's number; it is reproduced when it lies inside our 95 % interval over seeds and not reproduced when it lies outside (an interval wide enough to hold both it and 0 reproduces it without showing a drop: read the directional row beside it)";

/// The equivalence margin of the adversarial no-effect readings (A-30-none, A-60-none).
pub(super) const NO_EFFECT_MARGIN: &str = "2 points of clean accuracy: a seventh of the smallest drop the paper reports (13.77 points), and about twice one model's binomial error on 10,000 test images at 40 % accuracy (0.98 points), so a change below it is far from the paper's claim and not far beyond the noise of one model";

pub(super) fn claim(id: &str) -> &'static ClaimSpec {
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

/// `label` followed by the interval, and the rule's verdict on it.
pub(super) fn measured(label: String, rule: Rule, s: &Option<Summary>) -> (String, Verdict) {
    (format!("{label}{}", shown(s)), judged(rule, s))
}

/// Every claim of `network` judged on the finished cells, in the claims table's order.
pub(super) fn checks(
    network: Network,
    variants: &[Variant],
    recs: &Records<'_>,
) -> Vec<ClaimCheck> {
    let mut out = change_checks(network, recs);
    match network {
        Network::Standard => {
            out.push(plateau_check(recs));
            out.extend(control_checks(recs));
            let weighted: Vec<Variant> = variants
                .iter()
                .copied()
                .filter(|v| matches!(v, Variant::ClassWeighted { .. }))
                .collect();
            out.extend(weighted.iter().map(|&v| nonuniform_check(v, recs)));
            out.extend(weighted.iter().map(|&v| weighted_check(v, recs)));
        }
        Network::Adversarial => {
            out.extend(adversarial_readings(recs));
            out.extend(robust_check(recs));
        }
    }
    out
}

/// The paired change against D-rate 0 of `variant` at `d` in measure `m`.
fn delta_at(recs: &Records<'_>, variant: Variant, d: f64, m: Measure) -> Option<Summary> {
    recs.at(variant, d).and_then(|cells| recs.delta(&cells, m))
}

/// The arm beside ours in the paper-change rows, and how both are labelled.
fn arms(network: Network) -> (Variant, &'static str, &'static str) {
    match network {
        Network::Standard => (
            Variant::NotebookCopies,
            "uniform % definition: Δ ",
            "notebook definition",
        ),
        Network::Adversarial => (Variant::PaperAttack, "Madry PGD: Δ ", "paper code's attack"),
    }
}

/// The paper's two accuracy changes (S-30, S-60 or ): ours with uniform
/// duplicates, beside the paper's way (notebook copies or the paper code's attack).
fn change_checks(network: Network, recs: &Records<'_>) -> Vec<ClaimCheck> {
    let ids = match network {
        Network::Standard => ["S-30", "S-60"],
        Network::Adversarial => ["A-30", "A-60"],
    };
    let (other, ours_label, other_label) = arms(network);
    let mut out = Vec::new();
    for id in ids {
        let spec = claim(id);
        let PaperValue::Change { d_rate: d, .. } = spec.paper else {
            continue;
        };
        let other_label = match network {
            Network::Standard => format!("{other_label} ({} copies): Δ ", d / 10.0),
            Network::Adversarial => format!("{other_label}: Δ "),
        };
        let ours = delta_at(recs, Variant::Uniform, d, Measure::Test);
        let p = ours.as_ref().and_then(|s| spec.rule.p_value(s));
        out.push(
            spec.check(
                None,
                measured(ours_label.into(), spec.rule, &ours),
                Some(measured(
                    other_label,
                    spec.rule,
                    &delta_at(recs, other, d, Measure::Test),
                )),
            )
            .with_p_value(p),
        );
    }
    out
}

/// The adversarial changes read for size and for no effect, and the D-rate-0 level, both
/// arms.
fn adversarial_readings(recs: &Records<'_>) -> Vec<ClaimCheck> {
    let (other, ours_label, other_label) = arms(Network::Adversarial);
    let mut out = Vec::new();
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
                &delta_at(recs, Variant::Uniform, d, Measure::Test),
            ),
            Some(measured(
                format!("{other_label}: Δ "),
                spec.rule,
                &delta_at(recs, other, d, Measure::Test),
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
    out
}

/// S-plateau: test accuracy at the largest uniform D-rate minus at 60.
fn plateau_check(recs: &Records<'_>) -> ClaimCheck {
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
    spec.check(None, check, None)
}

/// S-steps and S-fresh: each control against uniform duplicates at its largest D-rate.
fn control_checks(recs: &Records<'_>) -> Vec<ClaimCheck> {
    let mut out = Vec::new();
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
    out
}

/// S-nonuniform: class-weighted against uniform duplicates at the same D-rate (60 when
/// both ran there, else the largest both ran), paired by seed.
fn nonuniform_check(variant: Variant, recs: &Records<'_>) -> ClaimCheck {
    let spec = claim("S-nonuniform");
    let common = |d: f64| recs.at(variant, d).is_some() && recs.at(Variant::Uniform, d).is_some();
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
    spec.check(Some(&variant.label()), check, None)
}

/// S-weighted: the favoured classes' change at the variant's largest D-rate.
fn weighted_check(variant: Variant, recs: &Records<'_>) -> ClaimCheck {
    let spec = claim("S-weighted");
    let d = recs.largest(variant);
    let favoured = delta_at(recs, variant, d, Measure::FavouredTest);
    let other = delta_at(recs, variant, d, Measure::OtherTest);
    spec.check(
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
    )
}

/// A-robust: the change in robust accuracy at each arm's largest D-rate.
fn robust_check(recs: &Records<'_>) -> Option<ClaimCheck> {
    let d = recs.largest(Variant::Uniform);
    if d <= 0.0 {
        return None;
    }
    let spec = claim("A-robust");
    let pd = recs.largest(Variant::PaperAttack);
    Some(spec.check(
        None,
        measured(
            format!("Madry PGD, D-rate {d}: Δ robust acc. "),
            spec.rule,
            &delta_at(recs, Variant::Uniform, d, Measure::Robust),
        ),
        Some(measured(
            format!("paper attack, D-rate {pd}: Δ "),
            spec.rule,
            &delta_at(recs, Variant::PaperAttack, pd, Measure::Robust),
        )),
    ))
}
