//! Parameters of the class-conditional Gaussians, and their validation.

use crate::error::{GaussError, Result};
use crate::model::GaussianClasses;

/// Parameters of labelled Gaussian data: one mean per class, one covariance shared by all
/// classes, a number of points per class and a label per class.
///
/// [`Default`] is the setting of the paper (Section 4.1): means `[0, 0]` and `[1, 1]`, covariance
/// `[[1, 0.5], [0.5, 1]]`, 100 points per class, labels `-1` and `+1`.
///
/// Nothing is checked until [`GaussianParams::check`], which returns a [`GaussianClasses`] that
/// cannot hold a bad value.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GaussianParams {
    means: Vec<Vec<f64>>,
    covariance: Vec<Vec<f64>>,
    counts: Vec<usize>,
    labels: Vec<i32>,
}

impl Default for GaussianParams {
    fn default() -> Self {
        Self {
            means: vec![vec![0.0, 0.0], vec![1.0, 1.0]],
            covariance: vec![vec![1.0, 0.5], vec![0.5, 1.0]],
            counts: vec![100, 100],
            labels: vec![-1, 1],
        }
    }
}

impl GaussianParams {
    /// Sets the class means, one vector of length `d` per class. Every entry must be finite.
    pub fn means(mut self, means: Vec<Vec<f64>>) -> Self {
        self.means = means;
        self
    }

    /// Sets the shared covariance: a `d x d` symmetric positive definite matrix, given by rows.
    pub fn covariance(mut self, covariance: Vec<Vec<f64>>) -> Self {
        self.covariance = covariance;
        self
    }

    /// Sets the number of points per class (each at least 1; one entry per class).
    pub fn counts(mut self, counts: Vec<usize>) -> Self {
        self.counts = counts;
        self
    }

    /// Sets the same number of points (at least 1) for every class that has a mean.
    pub fn count_per_class(mut self, count: usize) -> Self {
        self.counts = vec![count; self.means.len()];
        self
    }

    /// Sets the label of each class (distinct values, one per class).
    pub fn labels(mut self, labels: Vec<i32>) -> Self {
        self.labels = labels;
        self
    }

    /// Validates the parameters and factors the covariance.
    ///
    /// # Errors
    /// A [`GaussError`] naming the bad field: no classes, mismatched lengths, a non-finite
    /// entry, a covariance that is not square, symmetric and positive definite, a count of
    /// zero, or a repeated label.
    pub fn check(self) -> Result<GaussianClasses> {
        let n_classes = self.means.len();
        if n_classes == 0 {
            return Err(GaussError::NoClasses);
        }
        if self.counts.len() != n_classes || self.labels.len() != n_classes {
            return Err(GaussError::ClassCountMismatch {
                means: n_classes,
                counts: self.counts.len(),
                labels: self.labels.len(),
            });
        }
        let dim = self.covariance.len();
        if dim == 0 {
            return Err(GaussError::ZeroDimension);
        }
        if let Some((bad_row, row)) = self
            .covariance
            .iter()
            .enumerate()
            .find(|(_, row)| row.len() != dim)
        {
            return Err(GaussError::CovarianceShape {
                expected: dim,
                rows: dim,
                bad_row,
                bad_len: row.len(),
            });
        }
        for (class, mean) in self.means.iter().enumerate() {
            if mean.len() != dim {
                return Err(GaussError::MeanLength {
                    class,
                    expected: dim,
                    got: mean.len(),
                });
            }
            if let Some((k, &value)) = mean.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(GaussError::NonFinite {
                    what: format!("means[{class}][{k}]"),
                    value,
                });
            }
        }
        for (row, values) in self.covariance.iter().enumerate() {
            for (col, &value) in values.iter().enumerate() {
                if !value.is_finite() {
                    return Err(GaussError::NonFinite {
                        what: format!("covariance[{row}][{col}]"),
                        value,
                    });
                }
            }
        }
        for row in 0..dim {
            for col in row + 1..dim {
                let upper = self.covariance[row][col];
                let lower = self.covariance[col][row];
                let scale = upper.abs().max(lower.abs()).max(1.0);
                if (upper - lower).abs() > 1e-12 * scale {
                    return Err(GaussError::NotSymmetric {
                        row,
                        col,
                        upper,
                        lower,
                    });
                }
            }
        }
        if let Some(class) = self.counts.iter().position(|&c| c == 0) {
            return Err(GaussError::ZeroCount { class });
        }
        for (i, label) in self.labels.iter().enumerate() {
            if self.labels[..i].contains(label) {
                return Err(GaussError::DuplicateLabel { label: *label });
            }
        }
        let cholesky = cholesky_lower(&self.covariance)?;
        Ok(GaussianClasses::from_checked(
            self.means,
            self.covariance,
            cholesky,
            self.counts,
            self.labels,
        ))
    }
}

/// Lower-triangular Cholesky factor `L` with `L L^T = a`, stored row-major in a `d*d` vector.
fn cholesky_lower(a: &[Vec<f64>]) -> Result<Vec<f64>> {
    let dim = a.len();
    let mut l = vec![0.0; dim * dim];
    for i in 0..dim {
        for j in 0..=i {
            let mut sum = a[i][j];
            for k in 0..j {
                sum -= l[i * dim + k] * l[j * dim + k];
            }
            if i == j {
                if sum <= 0.0 || !sum.is_finite() {
                    return Err(GaussError::NotPositiveDefinite {
                        pivot: i,
                        value: sum,
                    });
                }
                l[i * dim + i] = sum.sqrt();
            } else {
                l[i * dim + j] = sum / l[j * dim + j];
            }
        }
    }
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_of_paper_covariance() {
        let l = cholesky_lower(&[vec![1.0, 0.5], vec![0.5, 1.0]]).unwrap();
        let expected = [1.0, 0.0, 0.5, 0.75f64.sqrt()];
        for (got, want) in l.iter().zip(expected) {
            assert!((got - want).abs() < 1e-15, "{l:?}");
        }
    }

    #[test]
    fn cholesky_rejects_indefinite() {
        let err = cholesky_lower(&[vec![1.0, 2.0], vec![2.0, 1.0]]).unwrap_err();
        assert!(matches!(
            err,
            GaussError::NotPositiveDefinite { pivot: 1, .. }
        ));
    }
}
