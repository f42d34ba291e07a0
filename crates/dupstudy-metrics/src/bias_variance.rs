//! Bias-variance decomposition of the 0-1 loss over repeated training sets (Domingos, *A
//! Unified Bias-Variance Decomposition*, ICML 2000).
//!
//! Train `M` models on `M` independent training sets and let each predict the same `N` test
//! points. At a point `x` with reference prediction `y*` (the Bayes-optimal class, where it
//! is known, or else the true label):
//!
//! - the *main prediction* `y_m` is the class predicted most often (ties: lowest index);
//! - the *bias* `B(x)` is `1` if `y_m != y*`, else `0`;
//! - the *variance* `V(x)` is the share of models whose prediction differs from `y_m`;
//! - the expected loss against the reference is `L(x) = B(x) + c2(x) V(x)`, where `c2 = 1`
//!   on unbiased points and `c2 = -P(y = y* | y != y_m)` on biased ones (`-1` for two
//!   classes): variance adds to the error where the main prediction is right and removes
//!   from it where it is wrong.
//!
//! Averages over points give `loss = bias + unbiased_variance - biased_variance`, which
//! [`BiasVariance::summary`] reports; [`BiasVariance::summary_over`] does the same over a
//! subset of points (e.g. the test points of one class, to check the paper's Proposition 1
//! class by class).

use crate::error::{MetricsError, Result};

/// Per-point bias-variance terms of a set of models on shared test points.
#[derive(Debug, Clone, PartialEq)]
pub struct BiasVariance {
    main_prediction: Vec<usize>,
    biased: Vec<bool>,
    variance: Vec<f64>,
    /// `c2(x) * V(x)`: the signed contribution of variance to the loss.
    net_variance: Vec<f64>,
}

/// Averages of the bias-variance terms over a set of points.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BiasVarianceSummary {
    /// Number of points averaged over.
    pub n_points: usize,
    /// Mean 0-1 loss against the reference, over points and models.
    pub loss: f64,
    /// Mean bias (share of points whose main prediction misses the reference).
    pub bias: f64,
    /// Mean variance over all points.
    pub variance: f64,
    /// Mean of `V(x)` over unbiased points, divided by all points (`V_u`).
    pub unbiased_variance: f64,
    /// Mean of `-c2(x) V(x)` over biased points, divided by all points (`V_b`).
    pub biased_variance: f64,
    /// `V_u - V_b`; `loss = bias + net_variance`.
    pub net_variance: f64,
}

impl BiasVariance {
    /// Decomposes the predictions of `models` (each a prediction per test point) against
    /// `reference` (a class per test point), over `n_classes` classes.
    ///
    /// # Errors
    /// [`MetricsError::Empty`] with no models, [`MetricsError::LengthMismatch`] if a model
    /// does not predict every reference point, [`MetricsError::ClassOutOfRange`] for a class
    /// `>= n_classes`, [`MetricsError::NoClasses`].
    ///
    /// Predictions and reference are class indices of any small unsigned type (`u8` keeps
    /// a large prediction matrix small); `models` may hold owned rows or borrowed ones, so a
    /// bootstrap can resample models without copying them.
    pub fn decompose<M, C>(models: &[M], reference: &[C], n_classes: usize) -> Result<Self>
    where
        M: AsRef<[C]>,
        C: Copy + Into<usize>,
    {
        if n_classes == 0 {
            return Err(MetricsError::NoClasses);
        }
        if models.is_empty() {
            return Err(MetricsError::Empty("bias-variance models"));
        }
        for model in models {
            if model.as_ref().len() != reference.len() {
                return Err(MetricsError::LengthMismatch {
                    what: "a model's predictions and the reference",
                    left: model.as_ref().len(),
                    right: reference.len(),
                });
            }
        }
        if let Some((index, class)) = reference
            .iter()
            .map(|&c| c.into())
            .enumerate()
            .find(|(_, c)| *c >= n_classes)
        {
            return Err(MetricsError::ClassOutOfRange {
                index,
                class,
                n_classes,
            });
        }
        let m = models.len() as f64;
        let n = reference.len();
        let mut votes = vec![0u32; n_classes];
        let mut out = Self {
            main_prediction: Vec::with_capacity(n),
            biased: Vec::with_capacity(n),
            variance: Vec::with_capacity(n),
            net_variance: Vec::with_capacity(n),
        };
        for (point, y_star) in reference.iter().map(|&c| c.into()).enumerate() {
            votes.iter_mut().for_each(|v| *v = 0);
            for model in models {
                let class: usize = model.as_ref()[point].into();
                if class >= n_classes {
                    return Err(MetricsError::ClassOutOfRange {
                        index: point,
                        class,
                        n_classes,
                    });
                }
                votes[class] += 1;
            }
            let mut main = 0;
            for (class, &count) in votes.iter().enumerate() {
                if count > votes[main] {
                    main = class;
                }
            }
            let variance = 1.0 - f64::from(votes[main]) / m;
            let biased = main != y_star;
            let net = if biased {
                // c2 = -P(y = y* | y != y_m); 0 when every model agrees on y_m.
                let off_main = m - f64::from(votes[main]);
                let c2 = if off_main > 0.0 {
                    -f64::from(votes[y_star]) / off_main
                } else {
                    0.0
                };
                c2 * variance
            } else {
                variance
            };
            out.main_prediction.push(main);
            out.biased.push(biased);
            out.variance.push(variance);
            out.net_variance.push(net);
        }
        Ok(out)
    }

    /// The main (most frequent) prediction at every point.
    pub fn main_predictions(&self) -> &[usize] {
        &self.main_prediction
    }

    /// Whether each point's main prediction misses the reference.
    pub fn biased(&self) -> &[bool] {
        &self.biased
    }

    /// The variance at every point.
    pub fn variance(&self) -> &[f64] {
        &self.variance
    }

    /// Averages over all points.
    pub fn summary(&self) -> BiasVarianceSummary {
        self.summarize((0..self.biased.len()).collect::<Vec<_>>().iter().copied())
    }

    /// Averages over the points in `points` (indices into the test points).
    ///
    /// # Errors
    /// [`MetricsError::Empty`] if `points` is empty; [`MetricsError::PointOutOfRange`] for an
    /// index out of range.
    pub fn summary_over(&self, points: &[usize]) -> Result<BiasVarianceSummary> {
        if points.is_empty() {
            return Err(MetricsError::Empty("bias-variance subset"));
        }
        if let Some((index, &point)) = points
            .iter()
            .enumerate()
            .find(|(_, p)| **p >= self.biased.len())
        {
            return Err(MetricsError::PointOutOfRange {
                index,
                point,
                n_points: self.biased.len(),
            });
        }
        Ok(self.summarize(points.iter().copied()))
    }

    fn summarize(&self, points: impl Iterator<Item = usize>) -> BiasVarianceSummary {
        let mut n = 0usize;
        let (mut bias, mut variance, mut v_u, mut v_b) = (0.0, 0.0, 0.0, 0.0);
        for p in points {
            n += 1;
            variance += self.variance[p];
            if self.biased[p] {
                bias += 1.0;
                v_b -= self.net_variance[p];
            } else {
                v_u += self.net_variance[p];
            }
        }
        let n_f = n.max(1) as f64;
        let (bias, variance, v_u, v_b) = (bias / n_f, variance / n_f, v_u / n_f, v_b / n_f);
        BiasVarianceSummary {
            n_points: n,
            loss: bias + v_u - v_b,
            bias,
            variance,
            unbiased_variance: v_u,
            biased_variance: v_b,
            net_variance: v_u - v_b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_class_by_hand() {
        // Three models, three points, reference all 0.
        // Point 0: predictions 0 0 1 -> main 0, unbiased, V = 1/3, loss 1/3.
        // Point 1: predictions 1 1 0 -> main 1, biased, V = 1/3, loss 2/3 = 1 - 1/3.
        // Point 2: predictions 0 0 0 -> main 0, unbiased, V = 0, loss 0.
        let models = vec![vec![0usize, 1, 0], vec![0, 1, 0], vec![1, 0, 0]];
        let bv = BiasVariance::decompose(&models, &[0, 0, 0], 2).unwrap();
        assert_eq!(bv.main_predictions(), &[0, 1, 0]);
        let s = bv.summary();
        assert!((s.bias - 1.0 / 3.0).abs() < 1e-15);
        assert!((s.unbiased_variance - 1.0 / 9.0).abs() < 1e-15);
        assert!((s.biased_variance - 1.0 / 9.0).abs() < 1e-15);
        assert!((s.loss - 1.0 / 3.0).abs() < 1e-15);
        let direct_loss = models.iter().flatten().filter(|&&p| p != 0).count() as f64 / 9.0;
        assert!((s.loss - direct_loss).abs() < 1e-15);
    }

    #[test]
    fn multiclass_loss_identity() {
        // Point: reference 2, predictions 0 0 1 2 -> main 0, biased; V = 1/2;
        // c2 = -P(y = 2 | y != 0) = -1/2; loss = 1 - 1/4 = 3/4 = 3 of 4 wrong.
        let models: Vec<Vec<u8>> = vec![vec![0], vec![0], vec![1], vec![2]];
        let s = BiasVariance::decompose(&models, &[2u8], 3)
            .unwrap()
            .summary();
        assert!((s.loss - 0.75).abs() < 1e-15);
        assert!((s.biased_variance - 0.25).abs() < 1e-15);
    }

    #[test]
    fn rejects_ragged_models() {
        let err = BiasVariance::decompose(&[vec![0usize, 1], vec![0]], &[0, 0], 2).unwrap_err();
        assert!(matches!(err, MetricsError::LengthMismatch { .. }));
    }
}
