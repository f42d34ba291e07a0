//! N-twins: how much better the test images with a training twin are classified than the
//! others, standardized by class, with an interval over the independent units.
//!
//! Twins are not spread over the classes like the other test images (on CIFAR-10 airplanes
//! and automobiles are over-represented), and classes differ in accuracy, so the raw gap mixes
//! the twin effect with the class mix. The standardized gap compares the twins' accuracy with
//! the other images' per-class accuracies weighted by the twins' class shares.
//!
//! Its interval, where the cells carry per-image results: a bootstrap that resamples the seeds
//! (models), the twins' duplicate groups (twins of one group move together, so images of one
//! group are not counted as independent), and the other test images within their class;
//! 2,000 resamples, percentile interval. Cells from before per-image results were kept give
//! the t interval over seeds alone, which bounds the gap on these fixed images only, and the
//! row says so.

use dupstudy_metrics::{ConfusionMatrix, Summary};
use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::claims::Rule;
use crate::seeding;

/// Bootstrap resamples of the N-twins interval.
pub const RESAMPLES: usize = 2_000;

/// What one cell keeps per test image, for intervals over images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerImage {
    /// Whether each test image of the pool (in index order) was classified correctly, as
    /// hexadecimal digits of 4 images each (image `4k` in the lowest bit of digit `k`).
    pub correct: String,
    /// Each test image's label, one base-36 digit each (CIFAR-10: `0`-`9`).
    pub labels: String,
    /// Test indices with a training twin, ascending.
    pub twins: Vec<usize>,
    /// The audit group of each twin (same order): twins of one group share a number.
    pub twin_groups: Vec<usize>,
}

impl PerImage {
    /// From the predictions on the test pool `0..labels.len()`.
    pub fn new(
        labels: &[u8],
        predicted: &[u8],
        twins: Vec<usize>,
        twin_groups: Vec<usize>,
    ) -> Self {
        let correct = labels
            .chunks(4)
            .zip(predicted.chunks(4))
            .map(|(l, p)| {
                let nibble = l
                    .iter()
                    .zip(p)
                    .enumerate()
                    .filter(|(_, (a, b))| a == b)
                    .fold(0u32, |acc, (k, _)| acc | (1 << k));
                char::from_digit(nibble, 16).expect("a nibble is one hex digit")
            })
            .collect();
        let labels = labels
            .iter()
            .map(|&l| char::from_digit(u32::from(l), 36).unwrap_or('?'))
            .collect();
        Self {
            correct,
            labels,
            twins,
            twin_groups,
        }
    }

    /// The labels (`None` on a digit that is not one, e.g. more than 36 classes).
    pub fn labels(&self) -> Option<Vec<u8>> {
        self.labels
            .chars()
            .map(|c| c.to_digit(36).and_then(|d| u8::try_from(d).ok()))
            .collect()
    }

    /// Whether image `i` was classified correctly (`None` beyond the pool or on a bad digit).
    pub fn is_correct(&self, i: usize) -> Option<bool> {
        let digit = self.correct.as_bytes().get(i / 4)?;
        let nibble = (*digit as char).to_digit(16)?;
        Some(nibble & (1 << (i % 4)) != 0)
    }
}

/// The class-standardized twin advantage of one model: twins' accuracy minus the other
/// images' per-class accuracies weighted by the twins' class shares (classes without other
/// images are left out of both). `None` without twins.
pub fn standardized(twins: &ConfusionMatrix, others: &ConfusionMatrix) -> Option<f64> {
    let mut right = 0.0;
    let mut count = 0.0;
    let mut reference = 0.0;
    for c in 0..twins.n_classes() {
        let n = twins.support(c) as f64;
        let (Some(acc_twins), Some(acc_others)) =
            (twins.class_accuracy(c), others.class_accuracy(c))
        else {
            continue;
        };
        right += acc_twins * n;
        count += n;
        reference += acc_others * n;
    }
    (count > 0.0).then(|| (right - reference) / count)
}

/// The t interval over seeds of the per-seed standardized advantage.
pub fn over_seeds(cells: &[(&ConfusionMatrix, &ConfusionMatrix)]) -> Option<Summary> {
    let values: Vec<f64> = cells
        .iter()
        .filter_map(|(t, o)| standardized(t, o))
        .collect();
    Summary::of(&values).ok()
}

/// The bootstrap of the standardized advantage over seeds, twin groups and other images.
#[derive(Debug, Clone, PartialEq)]
pub struct Bootstrap {
    /// The estimate on every seed and image (mean over seeds of the standardized advantage).
    pub estimate: f64,
    /// 2.5 % and 97.5 % quantiles of the resamples.
    pub low: f64,
    /// See `low`.
    pub high: f64,
    /// Resamples.
    pub resamples: usize,
    /// Seeds, twin groups and twins it resampled.
    pub seeds: usize,
    /// See `seeds`.
    pub groups: usize,
    /// See `seeds`.
    pub twins: usize,
    /// The p-value of a directional rule on this interval ([`Rule::p_value_of_samples`]).
    pub p_value: Option<f64>,
}

/// The bootstrap of [`Bootstrap`] from each seed's per-image results;
/// `None` when a cell lacks them, the cells disagree on the twins, or there are no twins.
pub fn bootstrap(cells: &[&PerImage], rule: Rule) -> Option<Bootstrap> {
    let first = cells.first()?;
    if first.twins.is_empty()
        || first.twins.len() != first.twin_groups.len()
        || cells.iter().any(|c| {
            c.twins != first.twins || c.twin_groups != first.twin_groups || c.labels != first.labels
        })
    {
        return None;
    }
    let labels = &first.labels()?;
    let n_classes = usize::from(*labels.iter().max()?) + 1;
    // Correctness as bytes, per seed.
    let correct: Vec<Vec<u8>> = cells
        .iter()
        .map(|c| {
            (0..labels.len())
                .map(|i| c.is_correct(i).map(u8::from))
                .collect::<Option<Vec<u8>>>()
        })
        .collect::<Option<_>>()?;
    let groups = groups_of(first);
    let others = others_by_class(first, labels, n_classes);
    let advantage = |seeds: &[usize], twins: &[usize], others: &[Vec<usize>]| {
        standardized_advantage(&correct, labels, seeds, twins, others)
    };
    let all_seeds: Vec<usize> = (0..cells.len()).collect();
    let estimate = advantage(&all_seeds, &first.twins, &others)?;
    let samples: Vec<f64> = (0..RESAMPLES)
        .into_par_iter()
        .filter_map(|b| {
            let mut rng = seeding::stream(&format!("natural/twins-bootstrap/resample={b}"));
            let seeds: Vec<usize> = (0..cells.len())
                .map(|_| rng.random_range(0..cells.len()))
                .collect();
            let twins: Vec<usize> = (0..groups.len())
                .flat_map(|_| groups[rng.random_range(0..groups.len())].iter().copied())
                .collect();
            let drawn: Vec<Vec<usize>> = others
                .iter()
                .map(|imgs| {
                    (0..imgs.len())
                        .map(|_| imgs[rng.random_range(0..imgs.len())])
                        .collect()
                })
                .collect();
            advantage(&seeds, &twins, &drawn)
        })
        .collect();
    let mut sorted = samples.clone();
    sorted.sort_by(f64::total_cmp);
    let at =
        |q: f64| sorted[((q * (sorted.len() - 1) as f64).round() as usize).min(sorted.len() - 1)];
    Some(Bootstrap {
        estimate,
        low: at(0.025),
        high: at(0.975),
        resamples: sorted.len(),
        seeds: cells.len(),
        groups: groups.len(),
        twins: first.twins.len(),
        p_value: rule.p_value_of_samples(&samples),
    })
}

/// The twins, grouped by duplicate group (resampled together).
fn groups_of(first: &PerImage) -> Vec<Vec<usize>> {
    let mut group_ids: Vec<usize> = first.twin_groups.clone();
    group_ids.sort_unstable();
    group_ids.dedup();
    group_ids
        .iter()
        .map(|g| {
            first
                .twins
                .iter()
                .zip(&first.twin_groups)
                .filter(|(_, h)| *h == g)
                .map(|(&t, _)| t)
                .collect()
        })
        .collect()
}

/// The test images that are not twins, by class.
fn others_by_class(first: &PerImage, labels: &[u8], n_classes: usize) -> Vec<Vec<usize>> {
    let mut others: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (i, &l) in labels.iter().enumerate() {
        if first.twins.binary_search(&i).is_err() {
            others[usize::from(l)].push(i);
        }
    }
    others
}

/// The twins' accuracy minus the other images' accuracy standardized to the twins' class
/// mix, averaged over `seeds` (`correct[seed][image]` is 1 when right); `None` when no twin
/// has a class with other images.
fn standardized_advantage(
    correct: &[Vec<u8>],
    labels: &[u8],
    seeds: &[usize],
    twins: &[usize],
    others: &[Vec<usize>],
) -> Option<f64> {
    let mut total = 0.0;
    for &s in seeds {
        let c = &correct[s];
        let mut right = 0.0;
        let mut reference = 0.0;
        let mut count = 0.0;
        // Per-class accuracy of the other images, then weighted by the twins' classes.
        let acc: Vec<Option<f64>> = others
            .iter()
            .map(|imgs| {
                (!imgs.is_empty())
                    .then(|| imgs.iter().map(|&i| f64::from(c[i])).sum::<f64>() / imgs.len() as f64)
            })
            .collect();
        for &t in twins {
            if let Some(a) = acc[usize::from(labels[t])] {
                right += f64::from(c[t]);
                reference += a;
                count += 1.0;
            }
        }
        if count == 0.0 {
            return None;
        }
        total += (right - reference) / count;
    }
    Some(total / seeds.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(per_class: &[(u64, u64)]) -> ConfusionMatrix {
        // (right, wrong) per class; wrong answers go to the next class.
        let n = per_class.len();
        let mut counts = vec![0u64; n * n];
        for (c, &(right, wrong)) in per_class.iter().enumerate() {
            counts[c * n + c] = right;
            counts[c * n + (c + 1) % n] = wrong;
        }
        ConfusionMatrix::from_counts(n, counts).unwrap()
    }

    #[test]
    fn standardizing_removes_the_class_mix() {
        // Class 0 is easy (90 %), class 1 hard (50 %); twins are mostly class 0 and score
        // exactly their classes' accuracy: a raw gap of 10 points, a standardized one of 0.
        let others = matrix(&[(90, 10), (50, 50)]);
        let twins = matrix(&[(27, 3), (5, 5)]);
        let raw = twins.accuracy().unwrap() - others.accuracy().unwrap();
        assert!((raw - 0.10).abs() < 1e-12, "{raw}");
        assert!(standardized(&twins, &others).unwrap().abs() < 1e-12);
        let better = matrix(&[(30, 0), (10, 0)]);
        let s = standardized(&better, &others).unwrap();
        assert!((s - (0.1 * 30.0 + 0.5 * 10.0) / 40.0).abs() < 1e-12);
    }

    #[test]
    fn per_image_bits_round_trip() {
        let labels = [0u8, 1, 2, 3, 4, 5, 6];
        let predicted = [0u8, 0, 2, 3, 0, 5, 0];
        let p = PerImage::new(&labels, &predicted, vec![2], vec![0]);
        let got: Vec<bool> = (0..7).map(|i| p.is_correct(i).unwrap()).collect();
        assert_eq!(p.labels().unwrap(), labels);
        assert_eq!(got, [true, false, true, true, false, true, false]);
        assert_eq!(p.is_correct(8), None);
    }

    #[test]
    fn the_bootstrap_resamples_groups_and_finds_a_real_advantage() {
        // 200 test images in 2 classes; 20 twins in 10 groups of 2, always right; the others
        // right 60 % of the time. Three seeds.
        let labels: Vec<u8> = (0..200).map(|i| (i % 2) as u8).collect();
        let twins: Vec<usize> = (0..20).collect();
        let groups: Vec<usize> = (0..20).map(|t| t / 2).collect();
        let cells: Vec<PerImage> = (0..3)
            .map(|s| {
                let predicted: Vec<u8> = labels
                    .iter()
                    .enumerate()
                    .map(|(i, &l)| if i < 20 || (i + s) % 5 < 3 { l } else { 1 - l })
                    .collect();
                PerImage::new(&labels, &predicted, twins.clone(), groups.clone())
            })
            .collect();
        let refs: Vec<&PerImage> = cells.iter().collect();
        let b = bootstrap(&refs, Rule::Positive).unwrap();
        assert_eq!((b.groups, b.twins, b.seeds), (10, 20, 3));
        assert!(
            b.low > 0.2 && b.estimate > b.low && b.high >= b.estimate,
            "{b:?}"
        );
        assert_eq!(b.p_value, Some(0.0));
        // Deterministic.
        assert_eq!(bootstrap(&refs, Rule::Positive), Some(b));
        // Cells that disagree on the twins give no bootstrap.
        let mut other = cells[0].clone();
        other.twins[0] = 199;
        assert!(bootstrap(&[&cells[1], &other], Rule::Positive).is_none());
    }
}
