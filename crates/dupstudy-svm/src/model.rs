//! A fitted SVM: support vectors, dual coefficients, bias, and prediction.

use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;

use crate::error::{Result, SvmError};
use crate::kernel::ColumnPoints;
use crate::solver::Solution;
use crate::train::{check_finite, with_threads};

/// A fitted RBF C-SVM: `f(x) = sum_i coef_i K(sv_i, x) + bias`, predicting `+1` where
/// `f(x) > 0` and `-1` elsewhere (as LIBSVM does).
#[derive(Debug, Clone, PartialEq)]
pub struct SvmModel {
    support_vectors: Array2<f64>,
    /// Distinct support vectors, column-major, for prediction.
    sv_columns: ColumnPoints,
    /// Summed coefficient of each distinct support vector.
    sv_coef: Vec<f64>,
    support_indices: Vec<usize>,
    dual_coef: Vec<f64>,
    n_bounded: usize,
    bias: f64,
    gamma: f64,
    c: f64,
    dual_objective: f64,
    iterations: u64,
    converged: bool,
    cache_evictions: u64,
    threads: usize,
}

/// Rows of `points` with identical coordinates merged, in order of first appearance, with
/// their coefficients summed.
fn merge_identical(points: ArrayView2<'_, f64>, coef: &[f64]) -> (Array2<f64>, Vec<f64>) {
    let mut first: std::collections::HashMap<Vec<u64>, usize> = std::collections::HashMap::new();
    let mut keep = Vec::new();
    let mut merged: Vec<f64> = Vec::new();
    for (i, row) in points.rows().into_iter().enumerate() {
        // -0.0 and 0.0 are the same point.
        let key: Vec<u64> = row.iter().map(|v| (v + 0.0).to_bits()).collect();
        match first.get(&key) {
            Some(&slot) => merged[slot] += coef[i],
            None => {
                first.insert(key, merged.len());
                keep.push(i);
                merged.push(coef[i]);
            }
        }
    }
    (points.select(Axis(0), &keep), merged)
}

/// Test points handled per parallel task in prediction.
const PREDICT_CHUNK: usize = 64;

impl SvmModel {
    pub(crate) fn from_solution(
        features: ArrayView2<'_, f64>,
        labels: &[i32],
        solution: Solution,
        gamma: f64,
        c: f64,
        threads: usize,
    ) -> Self {
        let support_indices: Vec<usize> = solution
            .alpha
            .iter()
            .enumerate()
            .filter(|(_, a)| **a > 0.0)
            .map(|(i, _)| i)
            .collect();
        let dual_coef: Vec<f64> = support_indices
            .iter()
            .map(|&i| f64::from(labels[i]) * solution.alpha[i])
            .collect();
        let n_bounded = support_indices
            .iter()
            .filter(|&&i| solution.alpha[i] >= c)
            .count();
        let support_vectors = features.select(Axis(0), &support_indices);
        let (distinct, sv_coef) = merge_identical(support_vectors.view(), &dual_coef);
        let sv_columns = ColumnPoints::from_rows(distinct.view());
        Self {
            support_vectors,
            sv_columns,
            sv_coef,
            support_indices,
            dual_coef,
            n_bounded,
            bias: -solution.rho,
            gamma,
            c,
            dual_objective: solution.objective,
            iterations: solution.iterations,
            converged: solution.converged,
            cache_evictions: solution.cache_evictions,
            threads,
        }
    }

    /// The support vectors, one per row.
    pub fn support_vectors(&self) -> ArrayView2<'_, f64> {
        self.support_vectors.view()
    }

    /// The training-set index of each support vector.
    pub fn support_indices(&self) -> &[usize] {
        &self.support_indices
    }

    /// `y_i alpha_i` of each support vector (scikit-learn's `dual_coef_`).
    pub fn dual_coefficients(&self) -> &[f64] {
        &self.dual_coef
    }

    /// The number of support vectors.
    pub fn n_support(&self) -> usize {
        self.support_indices.len()
    }

    /// The number of distinct support vectors: exact duplicates in the training set become
    /// separate support vectors, and prediction merges them (summing their coefficients),
    /// so it costs this many kernel evaluations per point.
    pub fn n_distinct_support(&self) -> usize {
        self.sv_coef.len()
    }

    /// The number of support vectors at the upper bound `alpha_i = C`.
    pub fn n_bounded_support(&self) -> usize {
        self.n_bounded
    }

    /// The bias `b` (LIBSVM's `-rho`, scikit-learn's `intercept_`).
    pub fn bias(&self) -> f64 {
        self.bias
    }

    /// The kernel width used (after resolving `auto` / `scale`).
    pub fn gamma(&self) -> f64 {
        self.gamma
    }

    /// The box constraint `C`.
    pub fn c(&self) -> f64 {
        self.c
    }

    /// The dual objective at the solution, `1/2 a^T Q a - e^T a` (LIBSVM's `obj`).
    pub fn dual_objective(&self) -> f64 {
        self.dual_objective
    }

    /// Kernel rows the fit dropped from its cache to stay within the cache budget (0 when
    /// the whole kernel fitted).
    pub fn cache_evictions(&self) -> u64 {
        self.cache_evictions
    }

    /// SMO iterations taken.
    pub fn iterations(&self) -> u64 {
        self.iterations
    }

    /// Whether SMO met its tolerance before the iteration cap.
    pub fn converged(&self) -> bool {
        self.converged
    }

    /// Sets the threads used by prediction: `0` all cores, `1` this thread only, `n` a pool
    /// of `n`. Defaults to the setting the model was fitted with.
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads;
    }

    /// `f(x)` for every row of `points`.
    ///
    /// # Errors
    /// [`SvmError::FeatureCountMismatch`], [`SvmError::NonFiniteFeature`] or
    /// [`SvmError::ThreadPool`].
    pub fn decision_function(&self, points: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        let d = self.support_vectors.ncols();
        if points.ncols() != d {
            return Err(SvmError::FeatureCountMismatch {
                expected: d,
                got: points.ncols(),
            });
        }
        check_finite(points)?;
        let n = points.nrows();
        let mut out = vec![0.0; n];
        let decide = |start: usize, chunk: &mut [f64]| {
            let mut z = vec![0.0; d];
            for (t, o) in chunk.iter_mut().enumerate() {
                for (zk, &v) in z.iter_mut().zip(points.row(start + t)) {
                    *zk = v;
                }
                *o = self
                    .sv_columns
                    .weighted_kernel_sum(&z, self.gamma, &self.sv_coef)
                    + self.bias;
            }
        };
        if self.threads == 1 {
            decide(0, &mut out);
        } else {
            with_threads(self.threads, || {
                out.par_chunks_mut(PREDICT_CHUNK)
                    .enumerate()
                    .for_each(|(c, chunk)| decide(c * PREDICT_CHUNK, chunk));
            })?;
        }
        Ok(out)
    }

    /// The predicted label (`+1` or `-1`) of every row of `points`.
    ///
    /// # Errors
    /// As [`SvmModel::decision_function`].
    pub fn predict(&self, points: ArrayView2<'_, f64>) -> Result<Vec<i32>> {
        Ok(self
            .decision_function(points)?
            .into_iter()
            .map(|f| if f > 0.0 { 1 } else { -1 })
            .collect())
    }
}
