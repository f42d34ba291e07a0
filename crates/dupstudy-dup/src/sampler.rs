//! Drawing the duplicates.

use rand::Rng;

use crate::error::{DupError, Result};
use crate::params::{Duplication, Replacement};

/// A validated duplication policy, built by [`crate::DuplicationParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct DuplicationSampler {
    d_rate: f64,
    policy: Duplication,
    replacement: Replacement,
}

/// The duplicates drawn from a set: the indices to append, in draw order, and how many fell
/// to each class.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DuplicateDraw {
    /// Indices into the original set, one per duplicate, in the order drawn.
    pub indices: Vec<usize>,
    /// `per_class[c]` is the number of duplicates whose label is `c`.
    pub per_class: Vec<usize>,
}

impl DuplicateDraw {
    /// The number of duplicates.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// Whether no duplicate was drawn.
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// The D-ratio of class `c`: its share of the duplicates, in `[0, 1]` (the paper's
    /// "D-ratio +1" is this for the class of label `+1`, in percent). `None` when there are
    /// no duplicates or `c` is not a class of the set.
    pub fn d_ratio(&self, class: usize) -> Option<f64> {
        if self.indices.is_empty() {
            return None;
        }
        let count = *self.per_class.get(class)?;
        Some(count as f64 / self.indices.len() as f64)
    }
}

impl DuplicationSampler {
    pub(crate) fn from_checked(d_rate: f64, policy: Duplication, replacement: Replacement) -> Self {
        Self {
            d_rate,
            policy,
            replacement,
        }
    }

    /// The D-rate in percent.
    pub fn d_rate(&self) -> f64 {
        self.d_rate
    }

    /// The policy.
    pub fn policy(&self) -> &Duplication {
        &self.policy
    }

    /// Whether points can be drawn more than once.
    pub fn replacement(&self) -> Replacement {
        self.replacement
    }

    /// The number of duplicates drawn for a set of `n` points: `round(n * d_rate / 100)`.
    pub fn count_for(&self, n: usize) -> usize {
        (n as f64 * self.d_rate / 100.0).round() as usize
    }

    /// Draws the duplicates for a set with the given labels (class indices `0..k`).
    ///
    /// Every check runs before anything is drawn, except one: without replacement under a
    /// class-weighted policy, the number of duplicates that falls to each class is itself
    /// random, and a class that receives more than it holds is reported as
    /// [`DupError::ClassExhausted`].
    ///
    /// # Errors
    /// [`DupError::EmptySet`]; [`DupError::LabelWithoutWeight`] when a label has no weight;
    /// [`DupError::EmptyWeightedClass`] when a class with positive weight has no points;
    /// [`DupError::SetExhausted`] / [`DupError::ClassExhausted`] without replacement.
    pub fn draw<L, R>(&self, labels: &[L], rng: &mut R) -> Result<DuplicateDraw>
    where
        L: Copy + Into<usize>,
        R: Rng + ?Sized,
    {
        let n = labels.len();
        if n == 0 {
            return Err(DupError::EmptySet);
        }
        let count = self.count_for(n);
        let n_classes = match &self.policy {
            Duplication::Uniform => labels.iter().map(|&l| l.into()).max().unwrap_or(0) + 1,
            Duplication::ClassWeighted(weights) => {
                if let Some((index, label)) = labels
                    .iter()
                    .map(|&l| l.into())
                    .enumerate()
                    .find(|&(_, l)| l >= weights.len())
                {
                    return Err(DupError::LabelWithoutWeight {
                        index,
                        label,
                        n_weights: weights.len(),
                    });
                }
                weights.len()
            }
        };
        let indices = match &self.policy {
            Duplication::Uniform => self.draw_uniform(n, count, rng)?,
            Duplication::ClassWeighted(weights) => {
                self.draw_weighted(labels, weights, count, rng)?
            }
        };
        let mut per_class = vec![0; n_classes];
        for &i in &indices {
            per_class[labels[i].into()] += 1;
        }
        tracing::debug!(n, count, ?per_class, "drew duplicates");
        Ok(DuplicateDraw { indices, per_class })
    }

    fn draw_uniform<R: Rng + ?Sized>(
        &self,
        n: usize,
        count: usize,
        rng: &mut R,
    ) -> Result<Vec<usize>> {
        match self.replacement {
            Replacement::With => Ok((0..count).map(|_| index_below(rng, n)).collect()),
            Replacement::Without => {
                if count > n {
                    return Err(DupError::SetExhausted {
                        requested: count,
                        available: n,
                    });
                }
                let mut pool: Vec<usize> = (0..n).collect();
                Ok(partial_shuffle(&mut pool, count, rng).to_vec())
            }
        }
    }

    fn draw_weighted<L, R>(
        &self,
        labels: &[L],
        weights: &[f64],
        count: usize,
        rng: &mut R,
    ) -> Result<Vec<usize>>
    where
        L: Copy + Into<usize>,
        R: Rng + ?Sized,
    {
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); weights.len()];
        for (i, &label) in labels.iter().enumerate() {
            members[label.into()].push(i);
        }
        if let Some((class, &weight)) = weights
            .iter()
            .enumerate()
            .find(|&(c, &w)| w > 0.0 && members[c].is_empty())
        {
            return Err(DupError::EmptyWeightedClass { class, weight });
        }
        if self.replacement == Replacement::Without {
            let available: usize = weights
                .iter()
                .zip(&members)
                .filter(|(w, _)| **w > 0.0)
                .map(|(_, m)| m.len())
                .sum();
            if count > available {
                return Err(DupError::SetExhausted {
                    requested: count,
                    available,
                });
            }
        }
        let total: f64 = weights.iter().sum();
        let class_sequence: Vec<usize> = (0..count)
            .map(|_| pick_class(weights, total, rng))
            .collect();
        match self.replacement {
            Replacement::With => Ok(class_sequence
                .iter()
                .map(|&c| members[c][index_below(rng, members[c].len())])
                .collect()),
            Replacement::Without => {
                let mut wanted = vec![0usize; weights.len()];
                for &c in &class_sequence {
                    wanted[c] += 1;
                }
                for (class, (&requested, pool)) in wanted.iter().zip(&members).enumerate() {
                    if requested > pool.len() {
                        return Err(DupError::ClassExhausted {
                            class,
                            requested,
                            available: pool.len(),
                        });
                    }
                }
                let mut chosen: Vec<std::vec::IntoIter<usize>> = members
                    .iter_mut()
                    .zip(&wanted)
                    .map(|(pool, &k)| partial_shuffle(pool, k, rng).to_vec().into_iter())
                    .collect();
                Ok(class_sequence
                    .iter()
                    .filter_map(|&c| chosen[c].next())
                    .collect())
            }
        }
    }
}

/// The indices of `copies` whole copies of a set of `n` points: `0..n` repeated. This is how
/// the paper's published CIFAR-10 notebook duplicated ("D-rate p" appended `p / 10` copies).
pub fn whole_set_copies(n: usize, copies: usize) -> Vec<usize> {
    (0..copies).flat_map(|_| 0..n).collect()
}

/// A uniform index in `0..n` (`n > 0`), drawn through `u64` so that the value for a given
/// seed does not depend on the platform's pointer width.
fn index_below<R: Rng + ?Sized>(rng: &mut R, n: usize) -> usize {
    rng.random_range(0..n as u64) as usize
}

/// Moves a uniform random `k`-subset of `pool` to its front (in random order) and returns it.
fn partial_shuffle<'a, R: Rng + ?Sized>(
    pool: &'a mut [usize],
    k: usize,
    rng: &mut R,
) -> &'a [usize] {
    let n = pool.len();
    for i in 0..k {
        let j = i + index_below(rng, n - i);
        pool.swap(i, j);
    }
    &pool[..k]
}

/// A class drawn with probability `weights[c] / total`; zero-weight classes are never drawn.
fn pick_class<R: Rng + ?Sized>(weights: &[f64], total: f64, rng: &mut R) -> usize {
    let u = rng.random::<f64>() * total;
    let mut cumulative = 0.0;
    let mut last_positive = 0;
    for (c, &w) in weights.iter().enumerate() {
        if w > 0.0 {
            cumulative += w;
            last_positive = c;
            if u < cumulative {
                return c;
            }
        }
    }
    // Only reachable through rounding when u lands within an ulp of `total`.
    last_positive
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn partial_shuffle_gives_distinct_in_range() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut pool: Vec<usize> = (0..50).collect();
        let picked = partial_shuffle(&mut pool, 20, &mut rng).to_vec();
        let mut sorted = picked.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 20);
        assert!(picked.iter().all(|&i| i < 50));
    }

    #[test]
    fn pick_class_never_returns_zero_weight() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let weights = [0.0, 1.0, 0.0, 2.0];
        for _ in 0..10_000 {
            let c = pick_class(&weights, 3.0, &mut rng);
            assert!(c == 1 || c == 3);
        }
    }
}
