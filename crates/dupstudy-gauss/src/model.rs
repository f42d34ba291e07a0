//! The validated class-conditional Gaussians: sampling and the Bayes-optimal rule.

use ndarray::Array2;
use rand::Rng;
use rand_distr::StandardNormal;

use crate::dataset::LabelledPoints;
use crate::error::{GaussError, Result};

/// Validated labelled Gaussians, built by [`crate::GaussianParams::check`].
///
/// Holds the Cholesky factor of the shared covariance, so sampling a point costs one
/// triangular matrix-vector product.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianClasses {
    dim: usize,
    means: Vec<Vec<f64>>,
    covariance: Vec<Vec<f64>>,
    /// Lower Cholesky factor, row-major `dim x dim`.
    cholesky: Vec<f64>,
    counts: Vec<usize>,
    labels: Vec<i32>,
}

impl GaussianClasses {
    pub(crate) fn from_checked(
        means: Vec<Vec<f64>>,
        covariance: Vec<Vec<f64>>,
        cholesky: Vec<f64>,
        counts: Vec<usize>,
        labels: Vec<i32>,
    ) -> Self {
        Self {
            dim: covariance.len(),
            means,
            covariance,
            cholesky,
            counts,
            labels,
        }
    }

    /// The data dimension `d`.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The number of classes.
    pub fn n_classes(&self) -> usize {
        self.means.len()
    }

    /// The class means.
    pub fn means(&self) -> &[Vec<f64>] {
        &self.means
    }

    /// The shared covariance, by rows.
    pub fn covariance(&self) -> &[Vec<f64>] {
        &self.covariance
    }

    /// The number of points per class that [`GaussianClasses::sample`] draws.
    pub fn counts(&self) -> &[usize] {
        &self.counts
    }

    /// The label of each class.
    pub fn labels(&self) -> &[i32] {
        &self.labels
    }

    /// Draws the configured number of points of every class.
    ///
    /// Points come class by class (all of class 0, then class 1, ...); each is
    /// `mean + L z` with `z` a vector of independent standard normals drawn coordinate by
    /// coordinate from `rng`. A fixed seed therefore fixes the output.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> LabelledPoints {
        self.sample_counts_unchecked(&self.counts, rng)
    }

    /// Draws `counts[c]` points of each class `c` (a count may be zero here), e.g. a large
    /// held-out test set from the same distributions.
    ///
    /// # Errors
    /// [`GaussError::ClassCountMismatch`] if `counts` does not have one entry per class.
    pub fn sample_counts<R: Rng + ?Sized>(
        &self,
        counts: &[usize],
        rng: &mut R,
    ) -> Result<LabelledPoints> {
        if counts.len() != self.n_classes() {
            return Err(GaussError::ClassCountMismatch {
                means: self.n_classes(),
                counts: counts.len(),
                labels: self.labels.len(),
            });
        }
        Ok(self.sample_counts_unchecked(counts, rng))
    }

    fn sample_counts_unchecked<R: Rng + ?Sized>(
        &self,
        counts: &[usize],
        rng: &mut R,
    ) -> LabelledPoints {
        let total: usize = counts.iter().sum();
        let dim = self.dim;
        let mut features = Array2::<f64>::zeros((total, dim));
        let mut classes = Vec::with_capacity(total);
        let mut z = vec![0.0; dim];
        let mut row = 0;
        for (class, &count) in counts.iter().enumerate() {
            let mean = &self.means[class];
            for _ in 0..count {
                for zk in z.iter_mut() {
                    *zk = rng.sample(StandardNormal);
                }
                for i in 0..dim {
                    let l_row = &self.cholesky[i * dim..i * dim + i + 1];
                    let offset: f64 = l_row.iter().zip(&z).map(|(l, zk)| l * zk).sum();
                    features[[row, i]] = mean[i] + offset;
                }
                classes.push(class);
                row += 1;
            }
        }
        LabelledPoints::new(features, classes, self.labels.clone())
    }

    /// Log of the class posteriors at `x`, up to a shared constant, with priors proportional
    /// to the configured counts: `log p(c) - (x - mu_c)^T S^-1 (x - mu_c) / 2`.
    ///
    /// # Errors
    /// [`GaussError::PointDimension`] if `x` does not have `d` coordinates.
    pub fn log_posteriors(&self, x: &[f64]) -> Result<Vec<f64>> {
        if x.len() != self.dim {
            return Err(GaussError::PointDimension {
                expected: self.dim,
                got: x.len(),
            });
        }
        let total: usize = self.counts.iter().sum();
        Ok(self
            .means
            .iter()
            .zip(&self.counts)
            .map(|(mean, &count)| {
                let diff: Vec<f64> = x.iter().zip(mean).map(|(a, b)| a - b).collect();
                let solved = self.forward_substitute(&diff);
                let mahalanobis: f64 = solved.iter().map(|v| v * v).sum();
                (count as f64 / total as f64).ln() - 0.5 * mahalanobis
            })
            .collect())
    }

    /// The class index with the highest posterior at `x` (the Bayes-optimal prediction under
    /// 0-1 loss). Ties go to the lower class index.
    ///
    /// # Errors
    /// [`GaussError::PointDimension`] if `x` does not have `d` coordinates.
    pub fn bayes_class(&self, x: &[f64]) -> Result<usize> {
        let posteriors = self.log_posteriors(x)?;
        let mut best = 0;
        for (class, &value) in posteriors.iter().enumerate() {
            if value > posteriors[best] {
                best = class;
            }
        }
        Ok(best)
    }

    /// Solves `L y = b` for the lower Cholesky factor `L`.
    fn forward_substitute(&self, b: &[f64]) -> Vec<f64> {
        let dim = self.dim;
        let mut y = vec![0.0; dim];
        for i in 0..dim {
            let row = &self.cholesky[i * dim..i * dim + i];
            let sum = b[i] - row.iter().zip(&y[..i]).map(|(l, v)| l * v).sum::<f64>();
            y[i] = sum / self.cholesky[i * dim + i];
        }
        y
    }
}
