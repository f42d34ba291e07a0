//! A check on the primary claims' intervals: a bootstrap over models and targets together.
//!
//! The claims' t intervals treat the model as the unit and each model's targets as fixed;
//! the targets are a sample too. Each resample draws the models with replacement and, within
//! each copy count, the targets with replacement (one draw shared by every model, since every
//! model scores the same targets), and recomputes the statistic from the per-target offline
//! LiRA scores. The scores themselves stay as computed (the reference models are not
//! redrawn), so this checks the sampling of models and targets, not of the attack.

use rand::Rng;

use super::attacks::auc;

/// Every model's offline LiRA score and membership for every target of one kind of training.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TargetScores {
    /// The model numbers, ascending (one row of `inside` and `offline` each).
    pub models: Vec<u64>,
    /// Per target: its copy count.
    pub copies: Vec<u32>,
    /// Per model, per target: whether the target was in.
    pub inside: Vec<Vec<bool>>,
    /// Per model, per target: the offline LiRA score (`NaN` where it has none).
    pub offline: Vec<Vec<f64>>,
}

impl TargetScores {
    /// Model `m`'s offline LiRA AUC on the targets `targets` (positions, repeats allowed).
    fn auc_of(&self, m: usize, targets: &[usize]) -> Option<f64> {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for &t in targets {
            let s = self.offline[m][t];
            if s.is_finite() {
                if self.inside[m][t] {
                    a.push(s);
                } else {
                    b.push(s);
                }
            }
        }
        auc(&a, &b)
    }

    /// Model `m`'s AUC at `hi` copies minus at `lo`, on the drawn targets of each.
    fn dose(&self, m: usize, drawn: &Drawn) -> Option<f64> {
        Some(self.auc_of(m, &drawn.hi)? - self.auc_of(m, &drawn.lo)?)
    }

    fn of_k(&self, k: u32) -> Vec<usize> {
        (0..self.copies.len())
            .filter(|&t| self.copies[t] == k)
            .collect()
    }
}

/// One resample's targets at the two copy counts.
struct Drawn {
    lo: Vec<usize>,
    hi: Vec<usize>,
}

fn draw<R: Rng>(rng: &mut R, from: &[usize]) -> Vec<usize> {
    (0..from.len())
        .map(|_| from[rng.random_range(0..from.len())])
        .collect()
}

fn percentile_interval(mut values: Vec<f64>) -> Option<(f64, f64)> {
    values.retain(|v| v.is_finite());
    if values.len() < 20 {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    Some((at(0.025), at(0.975)))
}

/// The 95 % percentile interval of the mean over models of (AUC at `hi` minus at `lo`)
/// (M-dose), from `resamples` resamples drawn from `rng`; `None` without targets at both
/// copy counts or with fewer than 2 models.
pub fn dose_interval<R: Rng>(
    scores: &TargetScores,
    lo: u32,
    hi: u32,
    resamples: usize,
    rng: &mut R,
) -> Option<(f64, f64)> {
    let (at_lo, at_hi) = (scores.of_k(lo), scores.of_k(hi));
    let n = scores.models.len();
    if at_lo.is_empty() || at_hi.is_empty() || n < 2 {
        return None;
    }
    let values = (0..resamples)
        .map(|_| {
            let models: Vec<usize> = (0..n).map(|_| rng.random_range(0..n)).collect();
            let drawn = Drawn {
                lo: draw(rng, &at_lo),
                hi: draw(rng, &at_hi),
            };
            mean(models.iter().map(|&m| scores.dose(m, &drawn)))
        })
        .collect();
    percentile_interval(values)
}

/// The 95 % percentile interval of the mean over model pairs of the adversarial model's
/// (AUC at `hi` minus at `lo`) minus the clean model's (A-M2): models paired by number and
/// drawn together, the same targets for both; `None` as for [`dose_interval`] or when the two
/// kinds do not share their targets.
pub fn dose_difference_interval<R: Rng>(
    adversarial: &TargetScores,
    clean: &TargetScores,
    lo: u32,
    hi: u32,
    resamples: usize,
    rng: &mut R,
) -> Option<(f64, f64)> {
    if adversarial.copies != clean.copies {
        return None;
    }
    let pairs: Vec<(usize, usize)> = adversarial
        .models
        .iter()
        .enumerate()
        .filter_map(|(a, m)| Some((a, clean.models.iter().position(|c| c == m)?)))
        .collect();
    let (at_lo, at_hi) = (adversarial.of_k(lo), adversarial.of_k(hi));
    if at_lo.is_empty() || at_hi.is_empty() || pairs.len() < 2 {
        return None;
    }
    let values = (0..resamples)
        .map(|_| {
            let drawn_pairs: Vec<(usize, usize)> = (0..pairs.len())
                .map(|_| pairs[rng.random_range(0..pairs.len())])
                .collect();
            let drawn = Drawn {
                lo: draw(rng, &at_lo),
                hi: draw(rng, &at_hi),
            };
            mean(
                drawn_pairs
                    .iter()
                    .map(|&(a, c)| Some(adversarial.dose(a, &drawn)? - clean.dose(c, &drawn)?)),
            )
        })
        .collect();
    percentile_interval(values)
}

/// The mean of the values present (`NaN` when none is).
fn mean(values: impl Iterator<Item = Option<f64>>) -> f64 {
    let v: Vec<f64> = values.flatten().filter(|v| v.is_finite()).collect();
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// `models` models of 40 targets at k = 1 and 40 at k = 8; at k = 8 the members score
    /// `gap` above the non-members (plus noise), at k = 1 nothing separates them.
    fn synthetic(models: u64, gap: f64, seed: u64) -> TargetScores {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let copies: Vec<u32> = (0..80).map(|t| if t < 40 { 1 } else { 8 }).collect();
        let mut s = TargetScores {
            models: (0..models).collect(),
            copies: copies.clone(),
            ..TargetScores::default()
        };
        for _ in 0..models {
            let inside: Vec<bool> = (0..80).map(|_| rng.random::<bool>()).collect();
            let offline = (0..80)
                .map(|t| {
                    let noise = rng.random::<f64>();
                    noise
                        + if copies[t] == 8 && inside[t] {
                            gap
                        } else {
                            0.0
                        }
                })
                .collect();
            s.inside.push(inside);
            s.offline.push(offline);
        }
        s
    }

    #[test]
    fn a_dose_effect_gives_an_interval_above_zero_and_none_gives_one_around_it() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let (lo, hi) = dose_interval(&synthetic(10, 0.5, 2), 1, 8, 400, &mut rng).unwrap();
        assert!(lo > 0.2 && hi < 1.0, "[{lo}, {hi}]");
        let (lo, hi) = dose_interval(&synthetic(10, 0.0, 3), 1, 8, 400, &mut rng).unwrap();
        assert!(lo < 0.0 && hi > 0.0, "[{lo}, {hi}]");
    }

    #[test]
    fn the_paired_difference_follows_the_larger_dose() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let strong = synthetic(8, 0.6, 5);
        let mut weak = synthetic(8, 0.0, 6);
        weak.copies = strong.copies.clone();
        let (lo, _) = dose_difference_interval(&strong, &weak, 1, 8, 400, &mut rng).unwrap();
        assert!(lo > 0.1, "{lo}");
        let (_, hi) = dose_difference_interval(&weak, &strong, 1, 8, 400, &mut rng).unwrap();
        assert!(hi < -0.1, "{hi}");
        // Different targets: no pairing.
        let mut other = weak.clone();
        other.copies[0] = 8;
        assert!(dose_difference_interval(&strong, &other, 1, 8, 50, &mut rng).is_none());
    }

    #[test]
    fn the_same_generator_gives_the_same_interval() {
        let s = synthetic(6, 0.3, 7);
        let run = |seed| {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            dose_interval(&s, 1, 8, 200, &mut rng)
        };
        assert_eq!(run(9), run(9));
        assert!(
            dose_interval(
                &s,
                1,
                4,
                200,
                &mut rand_chacha::ChaCha8Rng::seed_from_u64(9)
            )
            .is_none()
        );
    }
}
