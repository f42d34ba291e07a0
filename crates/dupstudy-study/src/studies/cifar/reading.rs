//! What the paper's Figure 4 most likely came from: the adversarial section's closing
//! paragraph, read from the same intervals the claims judge.
//!
//! The paper's Figure 4 mixes two things this study separates: its attack (the published
//! code perturbs the *normalized* input and clamps it to `[0, 1]`) and duplication. The
//! reading compares the two arms' levels at D-rate 0 with the paper's, then their changes
//! at D-rates 30 and 60 with the paper's drops, and names the one explanation the intervals
//! leave standing. Its rules are fixed here, in code, and use only the claims' own rules
//! (the size reading `Includes`, the directional `Negative`, the ±2-point `Within`) and,
//! where they leave it open, one more: an arm whose seeds differ within one cell by at least
//! the paper's smallest drop could show that drop by chance with one run per D-rate, as the
//! paper ran. A re-render of the same cells gives the same words. It needs both arms at
//! D-rates 0 and 60 with an interval each (two seeds or more); otherwise there is no
//! paragraph.

use dupstudy_metrics::Summary;

use super::claims::paper_points;
use super::summary::{Measure, Records, summary_of};
use super::{Network, Variant};
use crate::claims::{Rule, Verdict};

/// The equivalence margin of the no-effect readings (A-30-none, A-60-none), as a fraction.
const NO_EFFECT: f64 = 0.02;

/// One arm's changes against its D-rate 0, at the paper's D-rates, with the paper's
/// change at each.
struct ArmChanges {
    /// `(D-rate, our paired change, the paper's change)`, all fractions.
    at: Vec<(f64, Summary, f64)>,
}

impl ArmChanges {
    fn of(recs: &Records<'_>, variant: Variant, paper: &[(f64, f64)]) -> Option<Self> {
        let from = paper.first()?.1 / 100.0;
        let at: Vec<(f64, Summary, f64)> = paper
            .iter()
            .skip(1)
            .filter_map(|&(d, to)| {
                let cells = recs.at(variant, d)?;
                let s = recs.delta(&cells, Measure::Test)?;
                s.ci_half_width.map(|_| (d, s, to / 100.0 - from))
            })
            .collect();
        // The reading needs the paper's highest D-rate; D-rates are exact plan values.
        let highest = paper.last()?.0.to_bits();
        at.iter()
            .any(|(d, ..)| d.to_bits() == highest)
            .then_some(Self { at })
    }

    fn all(&self, f: impl Fn(&Summary, f64) -> bool) -> bool {
        self.at.iter().all(|(_, s, p)| f(s, *p))
    }

    /// The paper's change lies inside the interval and the interval lies below zero.
    fn reproduces(&self) -> bool {
        self.all(|s, p| {
            Rule::Includes(p).judge_summary(s) == Verdict::Holds
                && Rule::Negative.judge_summary(s) == Verdict::Holds
        })
    }

    /// The paper's change lies outside every interval.
    fn excludes_paper(&self) -> bool {
        self.all(|s, p| Rule::Includes(p).judge_summary(s) == Verdict::DoesNotHold)
    }

    fn within_margin(&self) -> bool {
        self.all(|s, _| Rule::Within(NO_EFFECT).judge_summary(s) == Verdict::Holds)
    }

    /// `+1.03 [0.35, 1.72] pts at 30 and ...`.
    fn shown(&self) -> String {
        self.at
            .iter()
            .map(|(d, s, _)| format!("{} pts at {d}", in_points(s, true)))
            .collect::<Vec<_>>()
            .join(" and ")
    }
}

/// `s` in points with its interval, the mean signed (a change) or not (a level).
fn in_points(s: &Summary, signed: bool) -> String {
    let mean = 100.0 * s.mean;
    let mean = if signed {
        format!("{mean:+.2}")
    } else {
        format!("{mean:.2}")
    };
    format!(
        "{mean} [{:.2}, {:.2}]",
        100.0 * s.ci_low(),
        100.0 * s.ci_high()
    )
}

/// The cell of one arm whose seeds spread furthest in clean test accuracy: what one run
/// per D-rate could move by chance there.
#[derive(Clone, Copy)]
struct Spread {
    /// Its D-rate.
    d_rate: f64,
    /// Its highest and lowest seed, in points.
    high: f64,
    low: f64,
}

impl Spread {
    /// The widest cell of `variant` with two seeds or more, or `None` when there is none.
    fn widest(recs: &Records<'_>, variant: Variant) -> Option<Self> {
        recs.series(variant)
            .into_iter()
            .filter_map(|(d_rate, cells)| {
                let accs: Vec<f64> = cells.iter().filter_map(|r| Measure::Test.of(r)).collect();
                (accs.len() > 1).then(|| Self {
                    d_rate,
                    high: 100.0 * accs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    low: 100.0 * accs.iter().copied().fold(f64::INFINITY, f64::min),
                })
            })
            .max_by(|a, b| a.points().total_cmp(&b.points()))
    }

    fn points(&self) -> f64 {
        self.high - self.low
    }
}

/// The closing paragraph of the adversarial section, or `None` when either arm lacks an
/// interval at D-rate 0 or 60.
pub(super) fn figure4_reading(recs: &Records<'_>) -> Option<String> {
    let paper = paper_points(Network::Adversarial);
    let paper_level = paper.first()?.1;
    let level = |v: Variant| {
        recs.at(v, 0.0)
            .and_then(|c| summary_of(&c, Measure::Test))
            .filter(|s| s.ci_half_width.is_some())
    };
    let (madry0, attack0) = (level(Variant::Uniform)?, level(Variant::PaperAttack)?);
    let madry = ArmChanges::of(recs, Variant::Uniform, &paper)?;
    let attack = ArmChanges::of(recs, Variant::PaperAttack, &paper)?;
    let at_paper =
        |s: &Summary| Rule::Includes(paper_level / 100.0).judge_summary(s) == Verdict::Holds;
    let level_words = match (at_paper(&madry0), at_paper(&attack0)) {
        (false, true) => "inside the attack's interval only: the paper's level is its attack's",
        (true, false) => "inside Madry's interval only: the paper's level is Madry's PGD's",
        (true, true) => "inside both intervals",
        (false, false) => "outside both intervals",
    };
    let changes = format!(
        "With duplicates, clean accuracy changes by {} with Madry's PGD and by {} with the paper code's attack, against the paper's {} (paired by seed).",
        madry.shown(),
        attack.shown(),
        paper
            .iter()
            .skip(1)
            .map(|&(d, to)| format!("{:+.2} pts at {d}", to - paper_level))
            .collect::<Vec<_>>()
            .join(" and ")
    );
    let verdict = conclusion(
        &madry,
        &attack,
        at_paper(&attack0) && !at_paper(&madry0),
        [
            Spread::widest(recs, Variant::Uniform),
            Spread::widest(recs, Variant::PaperAttack),
        ],
    );
    Some(format!(
        "**What the paper's Figure 4 most likely came from.** Without duplicates the paper code's attack (it perturbs the normalized input and clamps it to [0, 1]) trains the network to {} % clean test accuracy and Madry's PGD to {} %; the paper's {paper_level:.2} % lies {level_words}. {changes} {verdict}\n",
        in_points(&attack0, false),
        in_points(&madry0, false),
    ))
}

/// The explanation the intervals leave standing; `spreads` are the arms' widest cells,
/// Madry's first.
fn conclusion(
    madry: &ArmChanges,
    attack: &ArmChanges,
    level_is_attack: bool,
    spreads: [Option<Spread>; 2],
) -> String {
    // The smallest drop the paper reports, in points (13.77).
    let smallest = madry
        .at
        .iter()
        .map(|(_, _, p)| 100.0 * p.abs())
        .fold(f64::INFINITY, f64::min);
    let spread = spreads
        .iter()
        .flatten()
        .map(Spread::points)
        .fold(0.0, f64::max);
    let spread = if 2.0 * spread < smallest {
        format!(
            ", and the seeds of one cell here differ by at most {spread:.2} points, so one run per D-rate would not fall that far by chance either"
        )
    } else {
        format!(
            ", although the seeds of one cell here differ by up to {spread:.2} points, so one run per D-rate could move a long way by chance"
        )
    };
    match (madry.reproduces(), attack.reproduces()) {
        (true, _) => format!(
            "Duplication itself lowers clean accuracy under adversarial training by about the paper's amount: the drop holds with the correct attack{}.",
            if attack.reproduces() { " and with the paper's" } else { "" }
        ),
        (false, true) => "The drop comes with the paper code's attack and not with Madry's PGD: Figure 4 most likely shows what duplication does under that attack, not under adversarial training as such.".into(),
        (false, false) if madry.excludes_paper() && attack.excludes_paper() => format!(
            "Neither arm falls by the paper's amount (its drops lie outside every interval{}){spread}. So Figure 4 most likely did not come from duplication: {}its fall at D-rates 30 and 60 is not what uniform duplication does at the paper's protocol under either attack, and this run cannot say what else differed in the paper's runs (one per D-rate, no seeds published).",
            if madry.within_margin() && attack.within_margin() {
                "; both arms stay within the ±2-point no-effect margin"
            } else {
                ""
            },
            if level_is_attack {
                "its level at D-rate 0 is its attack's, "
            } else {
                ""
            }
        ),
        (false, false) => format!(
            "The run leaves it open: in at least one arm the paper's drop is neither reproduced at both D-rates nor excluded at both (an interval too wide to tell, or the D-rates disagree).{}",
            unstable(madry, attack, spreads, smallest)
        ),
    }
}

/// For an open reading: each arm that leaves the paper's drop standing although one of its
/// cells spreads over seeds by at least the paper's smallest drop (so one run per D-rate,
/// as the paper ran, could fall that far by chance), that spread; and where that arm is
/// the paper code's attack and Madry's PGD excludes the paper's drops, the explanation this
/// leaves.
fn unstable(
    madry: &ArmChanges,
    attack: &ArmChanges,
    spreads: [Option<Spread>; 2],
    smallest: f64,
) -> String {
    let arms = [
        (madry, "Madry's PGD", false),
        (attack, "the paper code's attack", true),
    ];
    let mut words = String::new();
    for ((arm, name, is_attack), spread) in arms.into_iter().zip(spreads) {
        let Some(w) = spread.filter(|w| !arm.excludes_paper() && w.points() >= smallest) else {
            continue;
        };
        words += &format!(
            " Under {name} the seeds of one cell differ by {:.2} points (D-rate {}: {:.2} % and {:.2} %), more than the paper's smallest drop ({smallest:.2} points): one run per D-rate, as the paper ran, can fall by the paper's amount by chance.",
            w.points(),
            w.d_rate,
            w.high,
            w.low,
        );
        if is_attack && madry.excludes_paper() {
            words += &format!(
                " Madry's PGD falls by neither of the paper's drops ({}{}), so Figure 4 most likely shows this instability of the paper code's attack, not an effect of duplication.",
                madry.shown(),
                if madry.within_margin() {
                    ", within the ±2-point no-effect margin"
                } else {
                    ""
                }
            );
        }
    }
    words
}
