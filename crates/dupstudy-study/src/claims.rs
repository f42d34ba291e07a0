//! Claims as data and verdicts as pre-stated rules applied to intervals.
//!
//! Each study holds one table of [`ClaimSpec`]s: the paper's words, the paper's number, what
//! we measure, and the [`Rule`] that turns a 95 % interval into a [`Verdict`]. Directional
//! claims ("raises accuracy") hold when the interval lies on the stated side of zero. Claims
//! of *no* effect are judged as equivalence tests are: against a stated margin, holding only
//! when the whole interval lies inside it, so a wide interval is "inconclusive", not support.
//!
//! Each study declares its *primary* claims (the paper's directional claims it tests); the
//! report gives, beside each primary verdict, the verdict after Holm's correction over the
//! study's primary claims ([`apply_holm`]), so that judging many rows does not make one
//! lucky interval a finding.

use dupstudy_metrics::{LinearFit, Summary, student_t_cdf};

/// How a measured interval is judged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    /// The claim says the quantity is above zero.
    Positive,
    /// The claim says the quantity is below zero.
    Negative,
    /// The claim says the quantity's size is at most `margin` (`|x| <= margin`).
    Within(f64),
    /// The claim says there is no gain beyond `margin` (`x <= margin`).
    NoGainBeyond(f64),
    /// The claim says the quantity has the size `value` (the paper's number, from one run):
    /// holds when the interval contains it, does not hold when it lies outside. A wide
    /// interval can contain both it and zero; the directional and equivalence readings of
    /// the same interval say which.
    Includes(f64),
}

impl Rule {
    /// The verdict on an interval `[low, high]` of the quantity.
    pub fn judge(self, low: f64, high: f64) -> Verdict {
        if !(low.is_finite() && high.is_finite()) {
            return Verdict::NotTested("the interval is not finite".into());
        }
        match self {
            Rule::Positive if low > 0.0 => Verdict::Holds,
            Rule::Positive if high < 0.0 => Verdict::DoesNotHold,
            Rule::Negative if high < 0.0 => Verdict::Holds,
            Rule::Negative if low > 0.0 => Verdict::DoesNotHold,
            Rule::Positive | Rule::Negative => Verdict::NotDistinguishable,
            Rule::Within(m) if low > -m && high < m => Verdict::Holds,
            Rule::Within(m) if low > m || high < -m => Verdict::DoesNotHold,
            Rule::NoGainBeyond(m) if high < m => Verdict::Holds,
            Rule::NoGainBeyond(m) if low > m => Verdict::DoesNotHold,
            Rule::Within(_) | Rule::NoGainBeyond(_) => Verdict::Inconclusive,
            Rule::Includes(v) if low <= v && v <= high => Verdict::Holds,
            Rule::Includes(_) => Verdict::DoesNotHold,
        }
    }

    /// The distance from `x` to the boundary the rule decides at (0 for a directional claim,
    /// the margin otherwise); `None` for [`Rule::Includes`], which is a reading of size, not a
    /// test a correction applies to.
    fn distance(self, x: f64) -> Option<f64> {
        match self {
            Rule::Positive | Rule::Negative => Some(x.abs()),
            Rule::Within(m) => Some((x.abs() - m).abs()),
            Rule::NoGainBeyond(m) => Some((x - m).abs()),
            Rule::Includes(_) => None,
        }
    }

    /// The smallest `alpha` at which this rule is decisive (holds or does not hold) on the
    /// two-sided `1 - alpha` Student-t interval of `summary`: the p-value that agrees with the
    /// 95 % verdict (decisive exactly when it is below 0.05). `None` without an interval.
    pub fn p_value(self, summary: &Summary) -> Option<f64> {
        let std = summary.std?;
        let d = self.distance(summary.mean)?;
        let se = std / (summary.n as f64).sqrt();
        if se == 0.0 {
            return Some(if d > 0.0 { 0.0 } else { 1.0 });
        }
        let df = (summary.n - 1) as f64;
        Some((2.0 * (1.0 - student_t_cdf(d / se, df))).clamp(0.0, 1.0))
    }

    /// As [`Rule::p_value`] for a directional rule judged on the percentile interval of
    /// bootstrap `samples`: twice the smaller share of samples on either side of zero.
    /// `None` for other rules or no samples.
    pub fn p_value_of_samples(self, samples: &[f64]) -> Option<f64> {
        if !matches!(self, Rule::Positive | Rule::Negative) || samples.is_empty() {
            return None;
        }
        let n = samples.len() as f64;
        let below = samples.iter().filter(|&&v| v <= 0.0).count() as f64 / n;
        let above = samples.iter().filter(|&&v| v >= 0.0).count() as f64 / n;
        Some((2.0 * below.min(above)).min(1.0))
    }

    /// The verdict on a summary over seeds (not tested without an interval).
    pub fn judge_summary(self, summary: &Summary) -> Verdict {
        if summary.ci_half_width.is_none() {
            return Verdict::NotTested(format!("{} seed(s): no confidence interval", summary.n));
        }
        self.judge(summary.ci_low(), summary.ci_high())
    }

    /// The verdict on the slope of a trend line.
    pub fn judge_slope(self, fit: &LinearFit) -> Verdict {
        self.judge(fit.slope_low(), fit.slope_high())
    }

    /// The rule in words, for the report, with margins in the units `scale` turns them into.
    pub fn describe(self, scale: f64, unit: &str) -> String {
        match self {
            Rule::Positive => "interval above 0".into(),
            Rule::Negative => "interval below 0".into(),
            Rule::Within(m) => format!("interval inside ±{} {unit}", fmt_number(scale * m)),
            Rule::NoGainBeyond(m) => format!("interval below +{} {unit}", fmt_number(scale * m)),
            Rule::Includes(v) => format!("interval contains {} {unit}", fmt_number(scale * v)),
        }
    }
}

fn fmt_number(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A verdict on one claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The interval lies where the claim says.
    Holds,
    /// The interval lies where the claim says it does not.
    DoesNotHold,
    /// A directional claim whose interval contains zero.
    NotDistinguishable,
    /// A claim with a margin whose interval reaches past the margin.
    Inconclusive,
    /// No interval could be formed (e.g. one seed, or the cells were not run); the reason.
    NotTested(String),
}

impl Verdict {
    /// The words the report prints.
    pub fn label(&self) -> String {
        match self {
            Verdict::Holds => "**holds**".to_string(),
            Verdict::DoesNotHold => "**does not hold**".to_string(),
            Verdict::NotDistinguishable => "**not distinguishable from noise**".to_string(),
            Verdict::Inconclusive => {
                "**inconclusive**: the interval reaches past the margin".to_string()
            }
            Verdict::NotTested(why) => format!("not tested ({why})"),
        }
    }

    /// Every part must hold: holds if all hold, does not hold if any does not, otherwise
    /// the first part that neither holds nor fails (not tested when there are no parts).
    pub fn all(parts: impl IntoIterator<Item = Verdict>) -> Verdict {
        let parts: Vec<Verdict> = parts.into_iter().collect();
        if parts.is_empty() {
            return Verdict::NotTested("nothing to judge".into());
        }
        if parts.contains(&Verdict::DoesNotHold) {
            return Verdict::DoesNotHold;
        }
        parts
            .into_iter()
            .find(|v| *v != Verdict::Holds)
            .unwrap_or(Verdict::Holds)
    }
}

/// The paper's number for a claim.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PaperValue {
    /// An accuracy (in %) at D-rate 0 and at `d_rate`, from one run.
    Change {
        /// The D-rate of the second number.
        d_rate: f64,
        /// Accuracy without duplicates, %.
        from: f64,
        /// Accuracy at `d_rate`, %.
        to: f64,
    },
    /// A number or a description in words.
    Text(&'static str),
}

impl PaperValue {
    /// How the report prints it.
    pub fn render(&self) -> String {
        match *self {
            PaperValue::Change { d_rate, from, to } => format!(
                "D-rate {d_rate}: {from} → {to} % ({:+.2} pts, one run)",
                to - from
            ),
            PaperValue::Text(text) => text.to_string(),
        }
    }
}

/// The unit a claim's measure is printed in (the measure itself is a fraction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Percentage points (accuracy differences).
    Points,
    /// Percentage points per 10 points of D-rate (a slope against the D-rate in %).
    PointsPer10DRate,
    /// Percentage points per 10 % of D-ratio (a slope against a share).
    PointsPer10DRatio,
    /// The raw share (bias and variance terms).
    Share,
    /// Percent (an accuracy level, not a difference).
    Percent,
}

impl Unit {
    /// The factor from the measure to the printed number, and the unit's name.
    pub fn scale(self) -> (f64, &'static str) {
        match self {
            Unit::Points => (100.0, "pts"),
            Unit::PointsPer10DRate => (1000.0, "pts per 10 D-rate"),
            Unit::PointsPer10DRatio => (10.0, "pts per 10 % of D-ratio"),
            Unit::Share => (1.0, ""),
            Unit::Percent => (100.0, "%"),
        }
    }
}

/// One claim of the paper, as data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClaimSpec {
    /// Short id, e.g. `G1` (instances per policy or variant add a suffix).
    pub id: &'static str,
    /// The claim, in the paper's words or close to them.
    pub words: &'static str,
    /// What the paper reports for it.
    pub paper: PaperValue,
    /// What we measure to test it.
    pub measure: &'static str,
    /// How the interval is judged.
    pub rule: Rule,
    /// The unit the measure and the rule's margin are printed in.
    pub unit: Unit,
    /// Whether the claim is one of its study's primary claims (the paper's directional
    /// claims the study tests), corrected for their number in the report.
    pub primary: bool,
    /// Why a margin has the size it has (claims with a margin must say).
    pub margin_reason: Option<&'static str>,
}

/// One row of a report's verdict table: a claim judged on our measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimCheck {
    /// Short id, e.g. `G6 (p = 0.7)`.
    pub id: String,
    /// The claim.
    pub claim: String,
    /// What the paper reports for it.
    pub paper: String,
    /// The rule, in words.
    pub rule: String,
    /// What we measure, on the held-out test set (or the primary measurement).
    pub ours: String,
    /// The verdict on `ours`.
    pub verdict: Verdict,
    /// The same measured the paper's way (e.g. on the training data), if it differs.
    pub ours_paper_way: Option<(String, Verdict)>,
    /// Why the rule's margin has its size (claims with a margin).
    pub margin_reason: Option<&'static str>,
    /// Whether the claim is primary in its study (see [`ClaimSpec::primary`]).
    pub primary: bool,
    /// The p-value that agrees with `verdict` (see [`Rule::p_value`]), where one exists.
    pub p_value: Option<f64>,
    /// For a primary claim, the verdict after Holm's correction over the study's primary
    /// claims ([`apply_holm`]); `None` for the others.
    pub corrected: Option<Verdict>,
}

impl ClaimSpec {
    /// A verdict row for this claim; `suffix` tells instances apart (`p = 0.7`).
    pub fn check(
        &self,
        suffix: Option<&str>,
        ours: (String, Verdict),
        paper_way: Option<(String, Verdict)>,
    ) -> ClaimCheck {
        ClaimCheck {
            id: match suffix {
                Some(s) => format!("{} ({s})", self.id),
                None => self.id.to_string(),
            },
            claim: self.words.to_string(),
            paper: self.paper.render(),
            rule: {
                let (scale, unit) = self.unit.scale();
                self.rule.describe(scale, unit)
            },
            ours: ours.0,
            verdict: ours.1,
            ours_paper_way: paper_way,
            margin_reason: self.margin_reason,
            primary: self.primary,
            p_value: None,
            corrected: None,
        }
    }

    /// The spec with this id in `table`.
    pub fn find<'a>(table: &'a [ClaimSpec], id: &str) -> Option<&'a ClaimSpec> {
        table.iter().find(|c| c.id == id)
    }

    /// The spec with this id in a study's own table, for the ids the study itself names.
    ///
    /// # Panics
    /// If the table lacks the id: a mismatch between a study's code and its own table
    /// (every study's tests reach every claim), never something a user can cause.
    pub fn by_id(table: &'static [ClaimSpec], id: &str) -> &'static ClaimSpec {
        Self::find(table, id).unwrap_or_else(|| panic!("claim {id} is not in the study's table"))
    }
}

impl ClaimCheck {
    /// The row with the p-value of its verdict (see [`Rule::p_value`]).
    pub fn with_p_value(mut self, p: Option<f64>) -> Self {
        self.p_value = p;
        self
    }
}

/// The family-wise error rate [`apply_holm`] controls.
pub const FAMILY_ALPHA: f64 = 0.05;

/// Holm's step-down correction over the primary claims of one study: sorted by p-value, the
/// `i`-th (from 0) of `m` keeps its verdict while every p-value so far is at most
/// `alpha / (m - i)`; from the first that is not, every later one is **not distinguishable**
/// (primary claims are directional). Fills `corrected` of every primary row; a primary row
/// without a p-value (not tested) keeps its verdict and does not count in `m`.
pub fn apply_holm(checks: &mut [ClaimCheck]) {
    let mut tested: Vec<(usize, f64)> = checks
        .iter()
        .enumerate()
        .filter(|(_, c)| c.primary)
        .filter_map(|(i, c)| c.p_value.map(|p| (i, p)))
        .collect();
    tested.sort_by(|a, b| a.1.total_cmp(&b.1));
    let m = tested.len();
    let mut rejecting = true;
    for (rank, &(i, p)) in tested.iter().enumerate() {
        rejecting = rejecting && p <= FAMILY_ALPHA / (m - rank) as f64;
        let raw = &checks[i].verdict;
        checks[i].corrected = Some(match raw {
            Verdict::Holds | Verdict::DoesNotHold if !rejecting => Verdict::NotDistinguishable,
            other => other.clone(),
        });
    }
    for c in checks
        .iter_mut()
        .filter(|c| c.primary && c.corrected.is_none())
    {
        c.corrected = Some(c.verdict.clone());
    }
}

/// `mean [low, high]` of a summary, in percentage points when `percent` is set.
pub fn fmt_summary(s: &Summary, percent: bool) -> String {
    let k = if percent { 100.0 } else { 1.0 };
    match s.ci_half_width {
        Some(_) => format!(
            "{:.2} [{:.2}, {:.2}]",
            k * s.mean,
            k * s.ci_low(),
            k * s.ci_high()
        ),
        None => format!("{:.2}", k * s.mean),
    }
}

/// `slope [low, high]` of a trend, scaled by `k`.
pub fn fmt_slope(fit: &LinearFit, k: f64) -> String {
    format!(
        "{:+.3} [{:+.3}, {:+.3}]",
        k * fit.slope,
        k * fit.slope_low(),
        k * fit.slope_high()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directional_rules_reach_every_outcome() {
        assert_eq!(Rule::Positive.judge(0.1, 0.2), Verdict::Holds);
        assert_eq!(Rule::Positive.judge(-0.2, -0.1), Verdict::DoesNotHold);
        assert_eq!(Rule::Positive.judge(-0.1, 0.1), Verdict::NotDistinguishable);
        assert_eq!(Rule::Negative.judge(-0.2, -0.1), Verdict::Holds);
        assert_eq!(Rule::Negative.judge(0.1, 0.2), Verdict::DoesNotHold);
        assert_eq!(Rule::Negative.judge(-0.1, 0.1), Verdict::NotDistinguishable);
        assert!(matches!(
            Rule::Positive.judge(f64::NAN, 1.0),
            Verdict::NotTested(_)
        ));
    }

    #[test]
    fn margin_rules_reach_every_outcome() {
        let within = Rule::Within(0.10);
        assert_eq!(within.judge(-0.02, 0.05), Verdict::Holds);
        assert_eq!(
            within.judge(0.35, 0.45),
            Verdict::DoesNotHold,
            "a 40-point effect"
        );
        assert_eq!(within.judge(-0.45, -0.35), Verdict::DoesNotHold);
        assert_eq!(within.judge(0.05, 0.15), Verdict::Inconclusive);
        let no_gain = Rule::NoGainBeyond(0.01);
        assert_eq!(no_gain.judge(-0.03, 0.005), Verdict::Holds);
        assert_eq!(no_gain.judge(0.02, 0.04), Verdict::DoesNotHold);
        // The quick report's S-plateau interval: consistent with no gain, but not support.
        assert_eq!(no_gain.judge(-0.0009, 0.0472), Verdict::Inconclusive);
    }

    #[test]
    fn includes_holds_exactly_when_the_value_is_inside() {
        let paper = Rule::Includes(-0.1377);
        assert_eq!(paper.judge(-0.20, -0.10), Verdict::Holds);
        assert_eq!(
            paper.judge(-0.1377, 0.05),
            Verdict::Holds,
            "endpoints count"
        );
        assert_eq!(paper.judge(-0.05, 0.04), Verdict::DoesNotHold);
        assert_eq!(paper.judge(-0.30, -0.20), Verdict::DoesNotHold);
        assert_eq!(paper.describe(100.0, "pts"), "interval contains -13.77 pts");
    }

    #[test]
    fn p_values_agree_with_the_95_percent_verdicts() {
        for values in [
            vec![0.01, 0.02, 0.03],
            vec![-0.01, 0.02, 0.03],
            vec![0.011, 0.012, 0.0125, 0.009],
            vec![0.02, 0.021, 0.019],
        ] {
            let s = Summary::of(&values).unwrap();
            for rule in [
                Rule::Positive,
                Rule::Negative,
                Rule::Within(0.015),
                Rule::NoGainBeyond(0.015),
            ] {
                let p = rule.p_value(&s).unwrap();
                let decisive = matches!(
                    rule.judge_summary(&s),
                    Verdict::Holds | Verdict::DoesNotHold
                );
                assert_eq!(decisive, p < 0.05, "{rule:?} on {values:?}: p = {p}");
            }
        }
        assert_eq!(
            Rule::Includes(0.1).p_value(&Summary::of(&[0.1, 0.2]).unwrap()),
            None
        );
        let samples = [0.1, 0.2, -0.1, 0.3];
        assert_eq!(Rule::Positive.p_value_of_samples(&samples), Some(0.5));
    }

    fn primary_row(id: &str, p: f64) -> ClaimCheck {
        let spec = ClaimSpec {
            id: "X",
            words: "w",
            paper: PaperValue::Text("t"),
            measure: "m",
            rule: Rule::Positive,
            unit: Unit::Points,
            primary: true,
            margin_reason: None,
        };
        let verdict = if p < 0.05 {
            Verdict::Holds
        } else {
            Verdict::NotDistinguishable
        };
        let mut row = spec
            .check(Some(id), ("o".into(), verdict), None)
            .with_p_value(Some(p));
        row.id = id.into();
        row
    }

    #[test]
    fn holm_turns_a_lucky_holds_into_not_distinguishable() {
        // Three primaries: 0.001 <= 0.05/3 keeps its verdict; 0.03 > 0.05/2 stops the
        // step-down, so its raw "holds" becomes not distinguishable, and so does the last.
        let mut rows = vec![
            primary_row("a", 0.03),
            primary_row("b", 0.001),
            primary_row("c", 0.04),
        ];
        let mut secondary = primary_row("d", 0.0001);
        secondary.primary = false;
        rows.push(secondary);
        apply_holm(&mut rows);
        assert_eq!(rows[0].verdict, Verdict::Holds);
        assert_eq!(rows[0].corrected, Some(Verdict::NotDistinguishable));
        assert_eq!(rows[1].corrected, Some(Verdict::Holds));
        assert_eq!(rows[2].corrected, Some(Verdict::NotDistinguishable));
        assert_eq!(
            rows[3].corrected, None,
            "secondary claims are not corrected"
        );
        // With small enough p-values every verdict stands.
        let mut rows = vec![primary_row("a", 0.02), primary_row("b", 0.001)];
        apply_holm(&mut rows);
        assert_eq!(rows[0].corrected, Some(Verdict::Holds));
    }

    #[test]
    fn summaries_without_an_interval_are_not_tested() {
        let one = Summary::of(&[0.5]).unwrap();
        assert!(matches!(
            Rule::Positive.judge_summary(&one),
            Verdict::NotTested(_)
        ));
        let three = Summary::of(&[0.5, 0.6, 0.7]).unwrap();
        assert_eq!(Rule::Positive.judge_summary(&three), Verdict::Holds);
    }

    #[test]
    fn all_combines_parts() {
        use Verdict::*;
        assert_eq!(Verdict::all([Holds, Holds]), Holds);
        assert_eq!(
            Verdict::all([Holds, DoesNotHold, Inconclusive]),
            DoesNotHold
        );
        assert_eq!(
            Verdict::all([Holds, NotDistinguishable]),
            NotDistinguishable
        );
        assert!(matches!(Verdict::all([]), NotTested(_)));
    }

    #[test]
    fn paper_values_render() {
        let change = PaperValue::Change {
            d_rate: 30.0,
            from: 70.72,
            to: 74.12,
        };
        assert_eq!(
            change.render(),
            "D-rate 30: 70.72 → 74.12 % (+3.40 pts, one run)"
        );
        assert_eq!(
            Rule::NoGainBeyond(0.01).describe(100.0, "pts"),
            "interval below +1 pts"
        );
    }
}
