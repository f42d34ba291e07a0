//! The natural-duplicates claims as data, and how each is judged from the finished cells.

use super::summary::{Measure, arm_cells, measured, paired, summary_of};
use super::{Arm, Record};
use crate::claims::{ClaimCheck, ClaimSpec, PaperValue, Rule, Unit, Verdict, fmt_summary};

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

pub(super) fn claim(id: &str) -> &'static ClaimSpec {
    ClaimSpec::by_id(CLAIMS, id)
}

/// N-twins on the cells of arm (a): the class-standardized twin advantage with its interval
/// (see [`super::twins`]): `(text, verdict, p-value)`.
pub(super) fn twin_advantage(cells: &[&Record], rule: Rule) -> (String, Verdict, Option<f64>) {
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

pub(super) fn claims(records: &[Record], cut: usize, twins: usize) -> Vec<ClaimCheck> {
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
