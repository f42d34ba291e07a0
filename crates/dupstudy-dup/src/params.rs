//! What to duplicate and how much, and its validation.

use crate::error::{DupError, Result};
use crate::sampler::DuplicationSampler;

/// How duplicates are chosen among the points of a labelled set.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Duplication {
    /// Every point is equally likely (the paper's uniform setting).
    Uniform,
    /// Each duplicate first picks a class with probability proportional to its weight, then a
    /// point of that class uniformly. Weights are indexed by class (`weights[c]` for label
    /// `c`), non-negative and not all zero; they need not sum to one. The paper's non-uniform
    /// setting on labels `{-1 -> 0, +1 -> 1}` is `ClassWeighted(vec![0.3, 0.7])`.
    ClassWeighted(Vec<f64>),
}

/// Whether a point can be duplicated more than once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Replacement {
    /// A point may be chosen any number of times.
    With,
    /// Each point is chosen at most once; asking for more than a class or the set holds is an
    /// error.
    Without,
}

impl std::str::FromStr for Replacement {
    type Err = String;

    /// `with` or `without`.
    fn from_str(text: &str) -> std::result::Result<Self, Self::Err> {
        match text {
            "with" => Ok(Replacement::With),
            "without" => Ok(Replacement::Without),
            other => Err(format!("expected `with` or `without`, got `{other}`")),
        }
    }
}

/// Parameters of a duplication draw: D-rate, policy and replacement.
///
/// The D-rate is the number of duplicates as a percentage of the original set size: D-rate
/// 30 on 200 points appends exactly 60 duplicates (the count is `round(n * d_rate / 100)`,
/// halves rounded away from zero).
///
/// Default: D-rate 0, [`Duplication::Uniform`], [`Replacement::Without`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DuplicationParams {
    d_rate: f64,
    policy: Duplication,
    replacement: Replacement,
}

impl Default for DuplicationParams {
    fn default() -> Self {
        Self {
            d_rate: 0.0,
            policy: Duplication::Uniform,
            replacement: Replacement::Without,
        }
    }
}

impl DuplicationParams {
    /// Sets the D-rate in percent of the original set size. Valid: finite and `>= 0`; with
    /// [`Replacement::Without`] also `<= 100`.
    pub fn d_rate(mut self, percent: f64) -> Self {
        self.d_rate = percent;
        self
    }

    /// Sets the policy (see [`Duplication`]).
    pub fn policy(mut self, policy: Duplication) -> Self {
        self.policy = policy;
        self
    }

    /// Sets whether points may be drawn more than once.
    pub fn replacement(mut self, replacement: Replacement) -> Self {
        self.replacement = replacement;
        self
    }

    /// Validates the parameters.
    ///
    /// # Errors
    /// [`DupError::InvalidDRate`], [`DupError::DRateAboveSetWithoutReplacement`],
    /// [`DupError::InvalidWeight`] or [`DupError::ZeroWeights`].
    pub fn check(self) -> Result<DuplicationSampler> {
        if !self.d_rate.is_finite() || self.d_rate < 0.0 {
            return Err(DupError::InvalidDRate(self.d_rate));
        }
        if self.replacement == Replacement::Without && self.d_rate > 100.0 {
            return Err(DupError::DRateAboveSetWithoutReplacement(self.d_rate));
        }
        if let Duplication::ClassWeighted(weights) = &self.policy {
            if let Some((index, &value)) = weights
                .iter()
                .enumerate()
                .find(|(_, w)| !w.is_finite() || **w < 0.0)
            {
                return Err(DupError::InvalidWeight { index, value });
            }
            if weights.iter().sum::<f64>() <= 0.0 {
                return Err(DupError::ZeroWeights);
            }
        }
        Ok(DuplicationSampler::from_checked(
            self.d_rate,
            self.policy,
            self.replacement,
        ))
    }
}
