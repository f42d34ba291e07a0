//! Membership-inference scores and how well they separate members from non-members.
//!
//! Every score is "higher means more likely a member". The attacks read only the logits a
//! cell record keeps:
//! - [`loss_threshold`]: minus the cross-entropy loss (Yeom et al. 2018), one global
//!   threshold;
//! - [`Lira`]: the likelihood-ratio attack of Carlini et al. (2022) on the logit-scaled
//!   confidence [`phi`], with a variance fixed over all targets; *offline* compares a
//!   model's score with the target's distribution in the reference models it is out of,
//!   *online* also with the models it is in. The image and its mirror are two queries whose
//!   standardized scores are averaged.

/// The log of the sum of the exponentials, stably.
fn log_sum_exp(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let max = values.clone().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return max;
    }
    max + values.map(|v| (v - max).exp()).sum::<f64>().ln()
}

/// The cross-entropy loss of `logits` for class `label`.
pub fn loss(logits: &[f32], label: usize) -> f64 {
    log_sum_exp(logits.iter().map(|&z| f64::from(z))) - f64::from(logits[label])
}

/// The logit-scaled confidence `log p_y - log(1 - p_y)` of class `label`, computed from
/// the logits without forming `p_y`.
pub fn phi(logits: &[f32], label: usize) -> f64 {
    let others = logits
        .iter()
        .enumerate()
        .filter(|&(j, _)| j != label)
        .map(|(_, &z)| f64::from(z));
    f64::from(logits[label]) - log_sum_exp(others)
}

/// Whether the top class is `label`.
pub fn correct(logits: &[f32], label: usize) -> bool {
    let top = logits
        .iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (j, &z)| {
            if z > best.1 { (j, z) } else { best }
        });
    top.0 == label
}

/// The score of the loss-threshold attack: minus the loss.
pub fn loss_threshold(logits: &[f32], label: usize) -> f64 {
    -loss(logits, label)
}

/// The area under the ROC curve of scores of members (`inside`) against non-members
/// (`outside`): the chance that a random member scores above a random non-member, ties
/// counted half (Mann-Whitney). `None` when either side is empty.
pub fn auc(inside: &[f64], outside: &[f64]) -> Option<f64> {
    if inside.is_empty() || outside.is_empty() {
        return None;
    }
    let mut all: Vec<(f64, bool)> = inside
        .iter()
        .map(|&s| (s, true))
        .chain(outside.iter().map(|&s| (s, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Sum of the members' ranks, ties given their mean rank.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0.total_cmp(&all[i].0).is_eq() {
            j += 1;
        }
        let mean_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += all[i..=j].iter().filter(|x| x.1).count() as f64 * mean_rank;
        i = j + 1;
    }
    let (n1, n0) = (inside.len() as f64, outside.len() as f64);
    Some((rank_sum - n1 * (n1 + 1.0) / 2.0) / (n1 * n0))
}

/// The true-positive rate at a false-positive rate of at most `fpr`: the share of members
/// scoring above the threshold that at most `fpr` of non-members exceed. `None` when
/// either side is empty.
pub fn tpr_at_fpr(inside: &[f64], outside: &[f64], fpr: f64) -> Option<f64> {
    if inside.is_empty() || outside.is_empty() {
        return None;
    }
    let mut out = outside.to_vec();
    out.sort_by(|a, b| b.total_cmp(a));
    // At most `allowed` non-members may score above the threshold.
    let allowed = (fpr * out.len() as f64).floor() as usize;
    let threshold = out[allowed.min(out.len() - 1)];
    let above = if allowed >= out.len() {
        inside.len()
    } else {
        inside.iter().filter(|&&s| s > threshold).count()
    };
    Some(above as f64 / inside.len() as f64)
}

/// LiRA over a set of models: `phis[m][t][q]` is model `m`'s logit-scaled confidence of
/// target `t` under query `q` (image, mirror), `inside[m][t]` whether `t` is in model `m`.
#[derive(Debug, Clone)]
pub struct Lira<'a> {
    phis: &'a [Vec<[f64; 2]>],
    inside: &'a [Vec<bool>],
    sigma_in: f64,
    sigma_out: f64,
}

impl<'a> Lira<'a> {
    /// The attack over these models, with the fixed variances: the spread of every
    /// target's scores around its own mean, pooled over targets, separately in and out.
    pub fn new(phis: &'a [Vec<[f64; 2]>], inside: &'a [Vec<bool>]) -> Self {
        let pooled = |want: bool| -> f64 {
            let (mut ss, mut n) = (0.0, 0.0);
            let targets = phis.first().map_or(0, Vec::len);
            for t in 0..targets {
                for q in 0..2 {
                    let values: Vec<f64> = (0..phis.len())
                        .filter(|&m| inside[m][t] == want)
                        .map(|m| phis[m][t][q])
                        .collect();
                    if values.len() < 2 {
                        continue;
                    }
                    let mean = values.iter().sum::<f64>() / values.len() as f64;
                    ss += values.iter().map(|v| (v - mean).powi(2)).sum::<f64>();
                    n += values.len() as f64 - 1.0;
                }
            }
            if n > 0.0 {
                (ss / n).sqrt().max(1e-6)
            } else {
                1.0
            }
        };
        Self {
            phis,
            inside,
            sigma_in: pooled(true),
            sigma_out: pooled(false),
        }
    }

    /// The mean of target `t`'s query `q` over the first `limit` models (in model order)
    /// other than `attacked` with membership `want`; `None` when there are none.
    fn reference_mean(
        &self,
        attacked: usize,
        t: usize,
        q: usize,
        want: bool,
        limit: usize,
    ) -> Option<f64> {
        let values: Vec<f64> = self
            .references(attacked, t, want)
            .take(limit)
            .map(|m| self.phis[m][t][q])
            .collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    }

    /// The models other than `attacked` with membership `want` for target `t`.
    fn references(&self, attacked: usize, t: usize, want: bool) -> impl Iterator<Item = usize> {
        (0..self.phis.len()).filter(move |&m| m != attacked && self.inside[m][t] == want)
    }

    /// Offline LiRA's score of target `t` against model `attacked`: how far its confidence
    /// lies above the target's out-distribution, in fixed standard deviations, averaged
    /// over the two queries.
    pub fn offline(&self, attacked: usize, t: usize) -> Option<f64> {
        let mut total = 0.0;
        for q in 0..2 {
            let mu = self.reference_mean(attacked, t, q, false, usize::MAX)?;
            total += (self.phis[attacked][t][q] - mu) / self.sigma_out;
        }
        Some(total / 2.0)
    }

    /// Online LiRA's score: the log-likelihood ratio of the in- and out-distributions,
    /// averaged over the two queries. Both means come from as many reference models (the
    /// first of the larger side in model order): with the attacked model left out, a member
    /// would otherwise have one "in" reference fewer than a non-member, and the noisier of
    /// two means pulls the quadratic score down on its side — with no signal, members would
    /// score below non-members (an AUC below 0.5; by (1/(n−1) − 1/n)/2 variances in
    /// expectation with n models on each side).
    pub fn online(&self, attacked: usize, t: usize) -> Option<f64> {
        let log_normal =
            |x: f64, mu: f64, sigma: f64| -0.5 * ((x - mu) / sigma).powi(2) - sigma.ln();
        let limit = self
            .references(attacked, t, true)
            .count()
            .min(self.references(attacked, t, false).count());
        let mut total = 0.0;
        for q in 0..2 {
            let x = self.phis[attacked][t][q];
            let mu_in = self.reference_mean(attacked, t, q, true, limit)?;
            let mu_out = self.reference_mean(attacked, t, q, false, limit)?;
            total += log_normal(x, mu_in, self.sigma_in) - log_normal(x, mu_out, self.sigma_out);
        }
        Some(total / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_and_phi_match_the_softmax() {
        let z = [1.0f32, 2.0, 0.5];
        let e: Vec<f64> = z.iter().map(|&v| f64::from(v).exp()).collect();
        let p1 = e[1] / e.iter().sum::<f64>();
        assert!((loss(&z, 1) + p1.ln()).abs() < 1e-12);
        assert!((phi(&z, 1) - (p1 / (1.0 - p1)).ln()).abs() < 1e-12);
        assert!(correct(&z, 1) && !correct(&z, 0));
    }

    #[test]
    fn auc_and_tpr_by_hand() {
        // Members 3, 5, 7 against non-members 1, 4, 6: 3 beats one, 5 two, 7 three: 6/9.
        assert!((auc(&[3.0, 5.0, 7.0], &[1.0, 4.0, 6.0]).unwrap() - 6.0 / 9.0).abs() < 1e-12);
        // A tie counts half.
        assert_eq!(auc(&[2.0], &[2.0]), Some(0.5));
        assert_eq!(auc(&[], &[1.0]), None);
        // 100 non-members 0..99; at 1 % FPR one may exceed the threshold (99 does): the
        // threshold is 98, and three members of four lie above it; at 0 % it is 99.
        let out: Vec<f64> = (0..100).map(f64::from).collect();
        let members = [99.5, 120.0, 98.5, 10.0];
        assert_eq!(tpr_at_fpr(&members, &out, 0.01), Some(0.75));
        assert_eq!(tpr_at_fpr(&members, &out, 0.0), Some(0.5));
    }

    #[test]
    #[allow(clippy::needless_range_loop)] // models and targets index two tables alike
    fn without_a_signal_online_lira_is_at_chance() {
        use rand::{Rng, SeedableRng};
        // 8 models, each target in a random half; the confidences are pure noise.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let (models, targets) = (8, 1500);
        let mut inside = vec![vec![false; targets]; models];
        for t in 0..targets {
            let mut order: Vec<usize> = (0..models).collect();
            for i in (1..models).rev() {
                order.swap(i, rng.random_range(0..=i));
            }
            for &m in &order[..models / 2] {
                inside[m][t] = true;
            }
        }
        let phis: Vec<Vec<[f64; 2]>> = (0..models)
            .map(|_| {
                (0..targets)
                    .map(|_| {
                        let v = rng.random::<f64>();
                        [v, v]
                    })
                    .collect()
            })
            .collect();
        let lira = Lira::new(&phis, &inside);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for m in 0..models {
            for t in 0..targets {
                let s = lira.online(m, t).unwrap();
                if inside[m][t] { a.push(s) } else { b.push(s) }
            }
        }
        // Reference means from 3 in and 4 out models would put it near 0.46.
        let value = auc(&a, &b).unwrap();
        assert!((value - 0.5).abs() < 0.015, "{value}");
    }

    #[test]
    fn lira_by_hand() {
        // Two targets, four models; target 0 is in models 0 and 1, target 1 in 2 and 3.
        let inside = vec![
            vec![true, false],
            vec![true, false],
            vec![false, true],
            vec![false, true],
        ];
        let phis = vec![
            vec![[3.0, 3.0], [0.0, 0.0]],
            vec![[5.0, 5.0], [2.0, 2.0]],
            vec![[1.0, 1.0], [4.0, 4.0]],
            vec![[-1.0, -1.0], [6.0, 6.0]],
        ];
        let lira = Lira::new(&phis, &inside);
        // Out-deviations around each target's out-mean: target 0 out in 2, 3 (mean 0):
        // +1, -1; target 1 out in 0, 1 (mean 1): -1, +1; per query. Pooled: 8 / 4 = 2.
        assert!((lira.sigma_out - 2.0f64.sqrt()).abs() < 1e-12);
        // Model 0, target 0: out-references are models 2 and 3 (mean 0); (3 - 0) / sqrt 2.
        let s = lira.offline(0, 0).unwrap();
        assert!((s - 3.0 / 2.0f64.sqrt()).abs() < 1e-12);
        // Model 2, target 0 (out): the only other out-model is 3 (-1): (1 + 1) / sqrt 2.
        assert!((lira.offline(2, 0).unwrap() - 2.0 / 2.0f64.sqrt()).abs() < 1e-12);
        // Online, model 0, target 0: one in-reference (model 1: 5), so one out-reference
        // too, the first in model order (model 2: 1), not the mean of both (0).
        let (si, so) = (lira.sigma_in, lira.sigma_out);
        let expected = (-0.5 * ((3.0f64 - 5.0) / si).powi(2) - si.ln())
            - (-0.5 * ((3.0f64 - 1.0) / so).powi(2) - so.ln());
        assert!((lira.online(0, 0).unwrap() - expected).abs() < 1e-12);
    }
}
