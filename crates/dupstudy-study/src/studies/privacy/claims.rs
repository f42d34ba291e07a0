//! The privacy claims as data, stated before any run, and how each is judged from the
//! per-model scores.

use dupstudy_metrics::Summary;

use super::Training;
use super::summary::{ModelScores, Scores};
use crate::claims::{ClaimCheck, ClaimSpec, PaperValue, Rule, Unit, Verdict, fmt_summary};

const OPEN: PaperValue = PaperValue::Text(
    "open question (Section 5): duplicated samples \"could be more easily revealed\"",
);

/// The claims of the privacy study. Primary: M-dose and A-M2, the two the question asks
/// (does duplication expose an image; does adversarial training make that worse).
pub const CLAIMS: &[ClaimSpec] = &[
    ClaimSpec {
        id: "M-dose",
        words: "Duplicated images are easier to reveal: exposure rises from 1 to 8 copies",
        paper: OPEN,
        measure: "E1, per model: offline LiRA AUC at k = 8 minus at k = 1",
        rule: Rule::Positive,
        unit: Unit::Share,
        primary: true,
        margin_reason: None,
    },
    ClaimSpec {
        id: "M-k2",
        words: "Two copies (the paper's uniform duplication) already expose an image more than one",
        paper: OPEN,
        measure: "E1, per model: offline LiRA AUC at k = 2 minus at k = 1",
        rule: Rule::Positive,
        unit: Unit::Share,
        primary: false,
        margin_reason: None,
    },
    ClaimSpec {
        id: "M-trend",
        words: "Exposure grows with the number of copies",
        paper: OPEN,
        measure: "E1, per model: slope of offline LiRA AUC on log2 k",
        rule: Rule::Positive,
        unit: Unit::Share,
        primary: false,
        margin_reason: None,
    },
    ClaimSpec {
        id: "M-chance",
        words: "A single copy is close to unrevealable (AUC near chance)",
        paper: OPEN,
        measure: "E1, per model: offline LiRA AUC at k = 1 minus 0.5",
        rule: Rule::Within(0.02),
        unit: Unit::Share,
        primary: false,
        margin_reason: Some(
            "0.02 of AUC, a fifth of the distance to 0.6 (an attack usually called weak): one model's AUC on 125 targets in and 125 out has a sampling error of about 0.037, so the mean of 16 models has about 0.009 and a 95 % interval of about ±0.02 — the margin is as tight as the paper-scale run can judge, and a true AUC of 0.5 may still read inconclusive",
        ),
    },
    ClaimSpec {
        id: "M-lowFPR",
        words: "Eight copies are revealed with confidence: TPR at 1 % FPR above chance",
        paper: OPEN,
        measure: "E1, per model: offline LiRA TPR at 1 % FPR for k = 8, minus 0.01",
        rule: Rule::Positive,
        unit: Unit::Share,
        primary: false,
        margin_reason: None,
    },
    ClaimSpec {
        id: "M-twin",
        words: "A test image is classified better when its near-duplicate is trained on",
        paper: OPEN,
        measure: "a test twin's correctness with its duplicate group in minus out",
        rule: Rule::Positive,
        unit: Unit::Points,
        primary: false,
        margin_reason: None,
    },
    ClaimSpec {
        id: "A-M1",
        words: "Adversarial training exposes single images more (Song et al. 2019)",
        paper: OPEN,
        measure: "E2, per model pair: offline LiRA AUC at k = 1, adversarial minus clean",
        rule: Rule::Positive,
        unit: Unit::Share,
        primary: false,
        margin_reason: None,
    },
    ClaimSpec {
        id: "A-M2",
        words: "Adversarial training makes duplicates more exposed still",
        paper: OPEN,
        measure: "E2, per model pair: (AUC at k = 8 minus k = 1), adversarial minus clean",
        rule: Rule::Positive,
        unit: Unit::Share,
        primary: true,
        margin_reason: None,
    },
];

fn claim(id: &str) -> &'static ClaimSpec {
    ClaimSpec::by_id(CLAIMS, id)
}

/// The offline LiRA AUC of a model at copy count `k`.
fn auc_at(m: &ModelScores, k: u32) -> Option<f64> {
    m.per_k.get(&k).map(|s| s.auc_offline)
}

/// The least-squares slope of offline LiRA AUC on log2 k of one model.
fn slope(m: &ModelScores) -> Option<f64> {
    let points: Vec<(f64, f64)> = m
        .per_k
        .iter()
        .map(|(&k, s)| (f64::from(k).log2(), s.auc_offline))
        .collect();
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// One claim judged on a summary over models (or not tested, with why).
fn judged(spec: &ClaimSpec, label: &str, s: Option<Summary>, why: &str) -> ClaimCheck {
    match s {
        Some(s) if s.n >= 2 => spec
            .check(
                None,
                (
                    format!("{label}{} ({} models)", fmt_summary(&s, false), s.n),
                    spec.rule.judge_summary(&s),
                ),
                None,
            )
            .with_p_value(spec.rule.p_value(&s)),
        _ => spec.check(
            None,
            (why.to_string(), Verdict::NotTested(why.into())),
            None,
        ),
    }
}

/// Paired values over the model numbers both kinds share.
fn paired(
    scores: &Scores,
    value: impl Fn(&ModelScores, &ModelScores) -> Option<f64>,
) -> Option<Summary> {
    let adv = scores.models.get(&Training::Adversarial)?;
    let clean = scores.models.get(&Training::Clean)?;
    let values: Vec<f64> = adv
        .iter()
        .filter_map(|a| {
            let c = clean.iter().find(|c| c.model == a.model)?;
            value(a, c)
        })
        .filter(|v| v.is_finite())
        .collect();
    Summary::of(&values).ok()
}

/// Every claim judged on the scores.
pub(super) fn checks(scores: &Scores) -> Vec<ClaimCheck> {
    let e1 =
        |value: &dyn Fn(&ModelScores) -> Option<f64>| scores.over_models(Training::Standard, value);
    let no_e1 = "E1 was not run (fewer than 4 models)";
    let no_e2 = "E2 was not run (fewer than 4 model pairs)";
    vec![
        judged(
            claim("M-dose"),
            "AUC(8) − AUC(1): ",
            e1(&|m| Some(auc_at(m, 8)? - auc_at(m, 1)?)),
            no_e1,
        ),
        judged(
            claim("M-k2"),
            "AUC(2) − AUC(1): ",
            e1(&|m| Some(auc_at(m, 2)? - auc_at(m, 1)?)),
            no_e1,
        ),
        judged(claim("M-trend"), "slope per doubling: ", e1(&slope), no_e1),
        judged(
            claim("M-chance"),
            "AUC(1) − 0.5: ",
            e1(&|m| Some(auc_at(m, 1)? - 0.5)),
            no_e1,
        ),
        judged(
            claim("M-lowFPR"),
            "TPR at 1 % FPR, k = 8, minus 0.01: ",
            e1(&|m| Some(m.per_k.get(&8)?.tpr_1pct - 0.01)),
            no_e1,
        ),
        judged(
            claim("M-twin"),
            "twins with partners in − out: ",
            e1(&|m| m.twin_effect),
            "no E1 model has test twins with partners both in and out",
        ),
        judged(
            claim("A-M1"),
            "adversarial − clean AUC(1): ",
            paired(scores, |a, c| Some(auc_at(a, 1)? - auc_at(c, 1)?)),
            no_e2,
        ),
        judged(
            claim("A-M2"),
            "adversarial − clean (AUC(8) − AUC(1)): ",
            paired(scores, |a, c| {
                Some((auc_at(a, 8)? - auc_at(a, 1)?) - (auc_at(c, 8)? - auc_at(c, 1)?))
            }),
            no_e2,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::summary::KScores;
    use super::*;

    /// Scores of `models` models per kind whose AUC at k is `auc(kind, model, k)`.
    fn synthetic(models: u64, auc: impl Fn(Training, u64, u32) -> f64) -> Scores {
        let mut scores = Scores::default();
        for training in [Training::Standard, Training::Clean, Training::Adversarial] {
            let list = (0..models)
                .map(|m| ModelScores {
                    model: m,
                    per_k: [1, 2, 4, 8]
                        .into_iter()
                        .map(|k| {
                            let a = auc(training, m, k);
                            (
                                k,
                                KScores {
                                    auc_offline: a,
                                    tpr_1pct: a - 0.5,
                                    ..KScores::default()
                                },
                            )
                        })
                        .collect(),
                    twin_effect: Some(2.0 + if m.is_multiple_of(2) { 1.0 } else { -1.0 }),
                })
                .collect();
            scores.models.insert(training, list);
        }
        scores
    }

    fn verdict(checks: &[ClaimCheck], id: &str) -> Verdict {
        checks.iter().find(|c| c.id == id).unwrap().verdict.clone()
    }

    #[test]
    fn each_claim_reaches_each_outcome() {
        let noise = |m: u64| if m.is_multiple_of(2) { 0.004 } else { -0.004 };
        // Exposure rising with k, adversarial more so.
        let rising = synthetic(8, |t, m, k| {
            let gain = if t == Training::Adversarial {
                0.03
            } else {
                0.02
            };
            0.5 + gain * f64::from(k).log2() + noise(m)
        });
        let c = checks(&rising);
        for id in ["M-dose", "M-k2", "M-trend", "A-M2"] {
            assert_eq!(verdict(&c, id), Verdict::Holds, "{id}");
        }
        assert_eq!(verdict(&c, "M-chance"), Verdict::Holds);
        assert_eq!(verdict(&c, "M-twin"), Verdict::Holds);
        // Exposure falling with k.
        let falling = synthetic(8, |_, m, k| 0.7 - 0.02 * f64::from(k).log2() + noise(m));
        let c = checks(&falling);
        assert_eq!(verdict(&c, "M-dose"), Verdict::DoesNotHold);
        assert_eq!(verdict(&c, "M-chance"), Verdict::DoesNotHold);
        // No change beyond noise.
        let flat = synthetic(8, |_, m, k| {
            0.5 + if k == 8 { 2.0 * noise(m) } else { noise(m) }
        });
        let c = checks(&flat);
        assert_eq!(verdict(&c, "M-dose"), Verdict::NotDistinguishable);
        assert_eq!(verdict(&c, "A-M2"), Verdict::NotDistinguishable);
        // Too few models: not tested.
        let c = checks(&Scores::default());
        assert!(matches!(verdict(&c, "M-dose"), Verdict::NotTested(_)));
    }

    #[test]
    fn the_slope_is_per_doubling() {
        let m = ModelScores {
            model: 0,
            per_k: [(1, 0.5), (2, 0.55), (4, 0.6), (8, 0.65)]
                .into_iter()
                .map(|(k, a)| {
                    (
                        k,
                        KScores {
                            auc_offline: a,
                            ..KScores::default()
                        },
                    )
                })
                .collect(),
            twin_effect: None,
        };
        assert!((slope(&m).unwrap() - 0.05).abs() < 1e-12);
    }
}
