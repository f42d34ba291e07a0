//! Verdicts on the paper's claims from measured intervals.

use dupstudy_metrics::{LinearFit, Summary};

/// The direction a claim predicts for a measured quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The claim says the quantity is above zero.
    Positive,
    /// The claim says the quantity is below zero.
    Negative,
    /// The claim says the quantity is not above zero (e.g. "does not improve").
    NotPositive,
}

/// A verdict on one claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The 95 % interval lies entirely on the side the claim predicts.
    Holds,
    /// The 95 % interval lies entirely on the other side.
    DoesNotHold,
    /// The interval contains zero.
    NotDistinguishable,
    /// No interval could be formed (e.g. one seed); the reason.
    NotTested(String),
}

impl Verdict {
    /// From an interval `[low, high]` of the quantity and the claimed direction.
    pub fn from_interval(low: f64, high: f64, direction: Direction) -> Self {
        match direction {
            Direction::Positive if low > 0.0 => Verdict::Holds,
            Direction::Positive if high < 0.0 => Verdict::DoesNotHold,
            Direction::Negative if high < 0.0 => Verdict::Holds,
            Direction::Negative if low > 0.0 => Verdict::DoesNotHold,
            Direction::NotPositive if low > 0.0 => Verdict::DoesNotHold,
            Direction::NotPositive => Verdict::Holds,
            Direction::Positive | Direction::Negative => Verdict::NotDistinguishable,
        }
    }

    /// From a summary over seeds of a paired difference.
    pub fn from_summary(summary: &Summary, direction: Direction) -> Self {
        if summary.ci_half_width.is_none() {
            return Verdict::NotTested(format!("{} seed(s): no confidence interval", summary.n));
        }
        Self::from_interval(summary.ci_low(), summary.ci_high(), direction)
    }

    /// From the slope of a trend line.
    pub fn from_slope(fit: &LinearFit, direction: Direction) -> Self {
        Self::from_interval(fit.slope_low(), fit.slope_high(), direction)
    }

    /// The words the report prints.
    pub fn label(&self) -> String {
        match self {
            Verdict::Holds => "**holds**".to_string(),
            Verdict::DoesNotHold => "**does not hold**".to_string(),
            Verdict::NotDistinguishable => "**not distinguishable from noise**".to_string(),
            Verdict::NotTested(why) => format!("not tested ({why})"),
        }
    }
}

/// One row of a report's claim table.
#[derive(Debug, Clone)]
pub struct ClaimCheck {
    /// Short id, e.g. `G1`.
    pub id: String,
    /// The claim, in the paper's words or close to them.
    pub claim: String,
    /// What the paper reports for it.
    pub paper: String,
    /// What we measure, on the held-out test set (or the primary measurement).
    pub ours: String,
    /// The verdict on `ours`.
    pub verdict: Verdict,
    /// The same measured the paper's way (e.g. on the training data), if it differs.
    pub ours_paper_way: Option<(String, Verdict)>,
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
    fn verdicts_follow_the_interval() {
        assert_eq!(
            Verdict::from_interval(0.1, 0.2, Direction::Positive),
            Verdict::Holds
        );
        assert_eq!(
            Verdict::from_interval(-0.2, -0.1, Direction::Positive),
            Verdict::DoesNotHold
        );
        assert_eq!(
            Verdict::from_interval(-0.1, 0.1, Direction::Positive),
            Verdict::NotDistinguishable
        );
        assert_eq!(
            Verdict::from_interval(-0.2, -0.1, Direction::Negative),
            Verdict::Holds
        );
        assert_eq!(
            Verdict::from_interval(-0.1, 0.1, Direction::NotPositive),
            Verdict::Holds
        );
        assert_eq!(
            Verdict::from_interval(0.1, 0.2, Direction::NotPositive),
            Verdict::DoesNotHold
        );
        let one = Summary::of(&[0.5]).unwrap();
        assert!(matches!(
            Verdict::from_summary(&one, Direction::Positive),
            Verdict::NotTested(_)
        ));
    }
}
