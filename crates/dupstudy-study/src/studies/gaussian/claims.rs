//! The Gaussian claims as data (with the paper's numbers), and how each policy's claims are
//! judged.

use dupstudy_metrics::Summary;

use super::Policy;
use super::aggregate::{BvDeltas, fmt_slopes, g3_slopes, nearest, overall_trend, pooled_delta};
use super::summary::{Evaluation, Metric, Model, PointData};
use crate::claims::{ClaimCheck, ClaimSpec, PaperValue, Rule, Unit, Verdict, fmt_summary};

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

pub(super) fn claim(id: &str) -> &'static ClaimSpec {
    ClaimSpec::by_id(CLAIMS, id)
}

/// A measurement and its verdict.
pub(super) type Judged = (String, Verdict);

pub(super) fn not_tested(why: &str) -> Judged {
    (why.to_string(), Verdict::NotTested(why.to_string()))
}

/// `(ours on the test set, ours on the training data)` of one claim.
pub(super) fn both(make: impl Fn(Evaluation) -> Judged) -> (Judged, Option<Judged>) {
    (make(Evaluation::Test), Some(make(Evaluation::Train)))
}

/// The claims of one policy: G1-G5 for uniform duplicates, G6-G9 and P1 for weighted.
pub(super) fn policy_claims(
    policy: &Policy,
    points: &[PointData],
    bootstrap: Option<&BvDeltas>,
) -> Vec<ClaimCheck> {
    match policy {
        Policy::Uniform => uniform_claims(points),
        Policy::Weighted { p_plus } => weighted_claims(*p_plus, points, bootstrap),
    }
}

/// A claim on the mean over D-rates of a paired difference, on both evaluations.
fn pooled(
    spec: &ClaimSpec,
    points: &[PointData],
    metric: Metric,
    prefix: &str,
) -> (Judged, Option<Judged>) {
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
}

/// The p-value of a pooled claim's test-set measurement.
fn pooled_p(spec: &ClaimSpec, points: &[PointData], metric: Metric) -> Option<f64> {
    pooled_delta(points, Evaluation::Test, metric).and_then(|s| spec.rule.p_value(&s))
}

/// A claim on the per-seed slope of Δ overall over the D-rate, on both evaluations.
fn trend(spec: &ClaimSpec, points: &[PointData], prefix: &str) -> (Judged, Option<Judged>) {
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
}

/// G1-G5, uniform duplicates.
fn uniform_claims(points: &[PointData]) -> Vec<ClaimCheck> {
    let mut out = Vec::new();
    out.extend(g1_check(points));
    let g2 = claim("G2");
    let (ours, paper_way) = pooled(g2, points, Metric::Overall, "");
    out.push(
        g2.check(None, ours, paper_way)
            .with_p_value(pooled_p(g2, points, Metric::Overall)),
    );
    out.push(g3_check(points));
    let g4 = claim("G4");
    let (ours, paper_way) = both(|e| g4_check(g4, points, e));
    out.push(g4.check(None, ours, paper_way));
    let g5 = claim("G5");
    let (ours, paper_way) = trend(g5, points, "");
    out.push(g5.check(None, ours, paper_way));
    out
}

/// G1: Δ overall at the D-rate nearest 50.
fn g1_check(points: &[PointData]) -> Option<ClaimCheck> {
    let g1 = claim("G1");
    let p50 = nearest(points, 50.0)?;
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
    Some(g1.check(None, ours, paper_way).with_p_value(p))
}

/// G3: the per-seed slope of the class gap on the D-ratio.
fn g3_check(points: &[PointData]) -> ClaimCheck {
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
    g3.check(None, ours, paper_way).with_p_value(p)
}

/// G6-G9 and P1, weighted duplicates with probability `p_plus` of class +1.
fn weighted_claims(
    p_plus: f64,
    points: &[PointData],
    bootstrap: Option<&BvDeltas>,
) -> Vec<ClaimCheck> {
    let tag = format!("p = {p_plus}");
    let prefix = format!("{tag}: ");
    let mut out = Vec::new();
    for (id, metric) in [
        ("G6", Metric::Plus),
        ("G7", Metric::Minus),
        ("G8", Metric::Overall),
    ] {
        let spec = claim(id);
        let (ours, paper_way) = pooled(spec, points, metric, &prefix);
        out.push(
            spec.check(Some(&tag), ours, paper_way)
                .with_p_value(pooled_p(spec, points, metric)),
        );
    }
    let g9 = claim("G9");
    let (ours, paper_way) = trend(g9, points, &prefix);
    let p = overall_trend(points, Evaluation::Test)
        .ok()
        .and_then(|s| g9.rule.p_value(&s));
    out.push(g9.check(Some(&tag), ours, paper_way).with_p_value(p));
    if let (Some(last), Some(b)) = (points.last(), bootstrap) {
        out.push(p1_check(&tag, last.d_rate, b));
    }
    out
}

/// P1: at the largest D-rate, bias on class −1 rises and variance on class +1 falls.
fn p1_check(tag: &str, d_rate: f64, b: &BvDeltas) -> ClaimCheck {
    let bias = Rule::Positive.judge(b.bias_minus.1, b.bias_minus.2);
    let variance = Rule::Negative.judge(b.variance_plus.1, b.variance_plus.2);
    let fmt = |t: (f64, f64, f64)| format!("{:+.4} [{:+.4}, {:+.4}]", t.0, t.1, t.2);
    let mut check = claim("P1").check(
        Some(tag),
        (
            format!(
                "D-rate {d_rate}, duplicated − original: bias on class −1 points {}, variance on class +1 points {}, on class −1 points {} (bootstrap over seeds, {} resamples)",
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
    check.with_p_value(Some(b.p_bias_minus.max(b.p_variance_plus)))
}

/// G4: every Δ (per class and overall, at every D-rate) must lie within the margin; the
/// row shows the largest mean |Δ|.
pub(super) fn g4_check(spec: &ClaimSpec, points: &[PointData], eval: Evaluation) -> Judged {
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
