//! Confusion matrix and the accuracies derived from it.

use crate::error::{MetricsError, Result};

/// Counts of (true class, predicted class) pairs over `k` classes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConfusionMatrix {
    n_classes: usize,
    /// Row-major `k x k`: `counts[t * k + p]` points of true class `t` predicted as `p`.
    counts: Vec<u64>,
}

impl ConfusionMatrix {
    /// An all-zero matrix over `n_classes` classes.
    ///
    /// # Errors
    /// [`MetricsError::NoClasses`] if `n_classes` is 0.
    pub fn new(n_classes: usize) -> Result<Self> {
        if n_classes == 0 {
            return Err(MetricsError::NoClasses);
        }
        Ok(Self {
            n_classes,
            counts: vec![0; n_classes * n_classes],
        })
    }

    /// Counts the pairs `(truth[i], predicted[i])`.
    ///
    /// # Errors
    /// [`MetricsError::LengthMismatch`] or [`MetricsError::ClassOutOfRange`].
    pub fn from_predictions(
        truth: &[usize],
        predicted: &[usize],
        n_classes: usize,
    ) -> Result<Self> {
        if truth.len() != predicted.len() {
            return Err(MetricsError::LengthMismatch {
                what: "truth and predictions",
                left: truth.len(),
                right: predicted.len(),
            });
        }
        let mut matrix = Self::new(n_classes)?;
        for (index, (&t, &p)) in truth.iter().zip(predicted).enumerate() {
            for class in [t, p] {
                if class >= n_classes {
                    return Err(MetricsError::ClassOutOfRange {
                        index,
                        class,
                        n_classes,
                    });
                }
            }
            matrix.counts[t * n_classes + p] += 1;
        }
        Ok(matrix)
    }

    /// Builds a matrix from its row-major counts (`k * k` values).
    ///
    /// # Errors
    /// [`MetricsError::NoClasses`] or [`MetricsError::LengthMismatch`].
    pub fn from_counts(n_classes: usize, counts: Vec<u64>) -> Result<Self> {
        if n_classes == 0 {
            return Err(MetricsError::NoClasses);
        }
        if counts.len() != n_classes * n_classes {
            return Err(MetricsError::LengthMismatch {
                what: "confusion counts and k*k",
                left: counts.len(),
                right: n_classes * n_classes,
            });
        }
        Ok(Self { n_classes, counts })
    }

    /// The number of classes.
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// Row-major counts: entry `t * k + p` counts true class `t` predicted as `p`.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Points of true class `t` predicted as `p`.
    pub fn get(&self, t: usize, p: usize) -> u64 {
        self.counts[t * self.n_classes + p]
    }

    /// Total number of points.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Number of points whose true class is `t`.
    pub fn support(&self, t: usize) -> u64 {
        self.counts[t * self.n_classes..(t + 1) * self.n_classes]
            .iter()
            .sum()
    }

    /// Share of points predicted correctly; `None` for an empty matrix.
    pub fn accuracy(&self) -> Option<f64> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let correct: u64 = (0..self.n_classes).map(|c| self.get(c, c)).sum();
        Some(correct as f64 / total as f64)
    }

    /// Accuracy on the points of true class `c` (its recall); `None` if it has no points.
    pub fn class_accuracy(&self, c: usize) -> Option<f64> {
        let support = self.support(c);
        (support > 0).then(|| self.get(c, c) as f64 / support as f64)
    }

    /// [`ConfusionMatrix::class_accuracy`] of every class.
    pub fn per_class_accuracy(&self) -> Vec<Option<f64>> {
        (0..self.n_classes)
            .map(|c| self.class_accuracy(c))
            .collect()
    }

    /// Mean of the per-class accuracies over the classes that have points; `None` if none do.
    pub fn balanced_accuracy(&self) -> Option<f64> {
        let present: Vec<f64> = self.per_class_accuracy().into_iter().flatten().collect();
        (!present.is_empty()).then(|| present.iter().sum::<f64>() / present.len() as f64)
    }

    /// Adds another matrix's counts to this one.
    ///
    /// # Errors
    /// [`MetricsError::LengthMismatch`] if the class counts differ.
    pub fn merge(&mut self, other: &Self) -> Result<()> {
        if other.n_classes != self.n_classes {
            return Err(MetricsError::LengthMismatch {
                what: "merged confusion matrices' class counts",
                left: self.n_classes,
                right: other.n_classes,
            });
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracies_by_hand() {
        // truth:     0 0 0 0 1 1
        // predicted: 0 0 0 1 1 0
        let m =
            ConfusionMatrix::from_predictions(&[0, 0, 0, 0, 1, 1], &[0, 0, 0, 1, 1, 0], 2).unwrap();
        assert_eq!(m.counts(), &[3, 1, 1, 1]);
        assert!((m.accuracy().unwrap() - 4.0 / 6.0).abs() < 1e-15);
        assert!((m.class_accuracy(0).unwrap() - 0.75).abs() < 1e-15);
        assert!((m.class_accuracy(1).unwrap() - 0.5).abs() < 1e-15);
        assert!((m.balanced_accuracy().unwrap() - 0.625).abs() < 1e-15);
    }

    #[test]
    fn absent_class_has_no_accuracy() {
        let m = ConfusionMatrix::from_predictions(&[0, 0], &[0, 2], 3).unwrap();
        assert_eq!(m.class_accuracy(1), None);
        assert!((m.balanced_accuracy().unwrap() - 0.5).abs() < 1e-15);
    }

    #[test]
    fn rejects_out_of_range_class() {
        let err = ConfusionMatrix::from_predictions(&[0, 3], &[0, 0], 2).unwrap_err();
        assert_eq!(
            err,
            MetricsError::ClassOutOfRange {
                index: 1,
                class: 3,
                n_classes: 2
            }
        );
    }
}
