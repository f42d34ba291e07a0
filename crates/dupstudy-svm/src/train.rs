//! Fitting: input checks, the thread policy, and the call into the solver.

use ndarray::ArrayView2;

use crate::error::{Result, SvmError};
use crate::kernel::ColumnPoints;
use crate::model::SvmModel;
use crate::params::SvmParams;
use crate::solver::{Solver, SolverSettings};

/// A validated RBF C-SVM, ready to fit; built by [`SvmParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct Svm {
    params: SvmParams,
}

impl Svm {
    pub(crate) fn from_checked(params: SvmParams) -> Self {
        Self { params }
    }

    /// The parameters this SVM was built from.
    pub fn params(&self) -> &SvmParams {
        &self.params
    }

    /// Fits the SVM to `features` (`n x d`, one point per row) with `labels` in `{-1, +1}`.
    ///
    /// # Errors
    /// [`SvmError::EmptyTrainingSet`], [`SvmError::LengthMismatch`],
    /// [`SvmError::NonFiniteFeature`], [`SvmError::InvalidLabel`], [`SvmError::SingleClass`],
    /// or [`SvmError::ThreadPool`].
    pub fn fit(&self, features: ArrayView2<'_, f64>, labels: &[i32]) -> Result<SvmModel> {
        let (rows, cols) = features.dim();
        if rows == 0 || cols == 0 {
            return Err(SvmError::EmptyTrainingSet { rows, cols });
        }
        if labels.len() != rows {
            return Err(SvmError::LengthMismatch {
                features: rows,
                labels: labels.len(),
            });
        }
        check_finite(features)?;
        if let Some((index, &value)) = labels
            .iter()
            .enumerate()
            .find(|(_, l)| **l != 1 && **l != -1)
        {
            return Err(SvmError::InvalidLabel { index, value });
        }
        if labels.iter().all(|&l| l == labels[0]) {
            return Err(SvmError::SingleClass {
                label: labels[0],
                n: rows,
            });
        }
        let variance = {
            let count = (rows * cols) as f64;
            let mean = features.iter().sum::<f64>() / count;
            features
                .iter()
                .map(|v| (v - mean) * (v - mean))
                .sum::<f64>()
                / count
        };
        let gamma = self.params.gamma_setting().resolve(cols, variance);
        let threads = self.params.threads_value();
        let settings = SolverSettings {
            c: self.params.c_value(),
            gamma,
            eps: self.params.tolerance_value(),
            max_iterations: self
                .params
                .max_iterations_value()
                .unwrap_or_else(|| 10_000_000u64.max(100 * rows as u64)),
            cache_bytes: self.params.cache_bytes_value(),
            shrinking: self.params.shrinking_value(),
            parallel: threads != 1,
            parallel_from: self.params.parallel_from_value(),
        };
        let y: Vec<f64> = labels.iter().map(|&l| f64::from(l)).collect();
        let points = ColumnPoints::from_rows(features);
        let solve = move || Solver::new(points, y, settings).solve();
        let solution = with_threads(threads, solve)?;
        tracing::debug!(
            n = rows,
            gamma,
            iterations = solution.iterations,
            objective = solution.objective,
            "fitted RBF SVM"
        );
        Ok(SvmModel::from_solution(
            features,
            labels,
            solution,
            gamma,
            self.params.c_value(),
            threads,
        ))
    }
}

/// Checks that every entry is finite.
pub(crate) fn check_finite(features: ArrayView2<'_, f64>) -> Result<()> {
    if let Some(((row, col), &value)) = features.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(SvmError::NonFiniteFeature { row, col, value });
    }
    Ok(())
}

/// Runs `work` under the thread policy: `1` on this thread alone (the work itself then
/// never spawns), `0` in the current rayon pool, `n` in a fresh pool of `n` threads.
pub(crate) fn with_threads<T: Send>(threads: usize, work: impl FnOnce() -> T + Send) -> Result<T> {
    if threads <= 1 {
        return Ok(work());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| SvmError::ThreadPool {
            threads,
            message: e.to_string(),
        })?;
    Ok(pool.install(work))
}
