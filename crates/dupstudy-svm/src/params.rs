//! Hyper-parameters of the C-SVM and their validation.

use crate::error::{Result, SvmError};
use crate::train::Svm;

/// Width of the RBF kernel `K(x, z) = exp(-gamma |x - z|^2)`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Gamma {
    /// A fixed value (finite, `> 0`).
    Value(f64),
    /// `1 / n_features`: scikit-learn's `gamma="auto"`, which the paper's code used.
    Auto,
    /// `1 / (n_features * Var(X))` with the variance over all entries of the training matrix
    /// (`1 / n_features` if that variance is 0): scikit-learn's default `gamma="scale"`.
    Scale,
}

impl std::str::FromStr for Gamma {
    type Err = String;

    /// `auto`, `scale`, or a number (checked to be finite and `> 0` when the parameters are
    /// checked).
    fn from_str(text: &str) -> std::result::Result<Self, Self::Err> {
        match text {
            "auto" => Ok(Gamma::Auto),
            "scale" => Ok(Gamma::Scale),
            number => number
                .parse()
                .map(Gamma::Value)
                .map_err(|_| format!("expected `auto`, `scale` or a number > 0, got `{number}`")),
        }
    }
}

impl Gamma {
    /// The value this setting takes on a training matrix with `n_features` columns whose
    /// entries have (population) variance `variance`.
    pub fn resolve(self, n_features: usize, variance: f64) -> f64 {
        let d = n_features.max(1) as f64;
        match self {
            Gamma::Value(g) => g,
            Gamma::Auto => 1.0 / d,
            Gamma::Scale if variance > 0.0 => 1.0 / (d * variance),
            Gamma::Scale => 1.0 / d,
        }
    }
}

/// Parameters of an RBF-kernel C-SVM trained by SMO.
///
/// Defaults: `C = 1`, [`Gamma::Scale`], tolerance `1e-3` (LIBSVM's), LIBSVM's iteration cap
/// (`max(10^7, 100 n)`), a 200 MB kernel cache, shrinking on, all cores.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SvmParams {
    c: f64,
    gamma: Gamma,
    tolerance: f64,
    max_iterations: Option<u64>,
    cache_bytes: usize,
    shrinking: bool,
    threads: usize,
    parallel_from: usize,
}

/// The default problem size from which work inside one SMO iteration is split across
/// threads (see [`SvmParams::parallel_from`]).
pub const PARALLEL_FROM: usize = 1 << 18;

impl Default for SvmParams {
    fn default() -> Self {
        Self {
            c: 1.0,
            gamma: Gamma::Scale,
            tolerance: 1e-3,
            max_iterations: None,
            cache_bytes: 200 * 1024 * 1024,
            shrinking: true,
            threads: 0,
            parallel_from: PARALLEL_FROM,
        }
    }
}

/// The smallest kernel cache accepted, in bytes.
pub const MIN_CACHE_BYTES: usize = 1024 * 1024;

impl SvmParams {
    /// Sets the box constraint `C` (finite, `> 0`).
    pub fn c(mut self, c: f64) -> Self {
        self.c = c;
        self
    }

    /// Sets the kernel width (see [`Gamma`]).
    pub fn gamma(mut self, gamma: Gamma) -> Self {
        self.gamma = gamma;
        self
    }

    /// Sets the stopping tolerance on the maximal KKT violation, LIBSVM's `eps` (finite,
    /// `> 0`).
    pub fn tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Caps the SMO iterations (`>= 1`); `None` is LIBSVM's cap `max(10^7, 100 n)`. A fit
    /// that reaches the cap returns its current solution with
    /// [`crate::SvmModel::converged`] false.
    pub fn max_iterations(mut self, max_iterations: Option<u64>) -> Self {
        self.max_iterations = max_iterations;
        self
    }

    /// Sets the kernel-row cache budget in bytes (at least [`MIN_CACHE_BYTES`]). The cache
    /// always holds at least two rows, whatever the budget.
    pub fn cache_bytes(mut self, bytes: usize) -> Self {
        self.cache_bytes = bytes;
        self
    }

    /// Turns shrinking (LIBSVM's `-h`) on or off. The solution does not change beyond the
    /// tolerance; shrinking only skips work.
    pub fn shrinking(mut self, shrinking: bool) -> Self {
        self.shrinking = shrinking;
        self
    }

    /// Sets the number of worker threads: `0` for all cores, `1` for single-threaded work.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Sets the problem size (points in the active set, or kernel-row length) from which the
    /// work inside one SMO iteration (kernel rows, working-set scans; gradient updates from
    /// four times this size) is split across threads, when more than one is allowed. The
    /// default, [`PARALLEL_FROM`] (262,144), is where splitting stopped costing time on 2
    /// cores; any value from 1 gives the same fit, bit for bit, since the split scans pick
    /// the same working set as the serial ones.
    pub fn parallel_from(mut self, points: usize) -> Self {
        self.parallel_from = points.max(1);
        self
    }

    /// Validates the parameters.
    ///
    /// # Errors
    /// [`SvmError::InvalidC`], [`SvmError::InvalidGamma`], [`SvmError::InvalidTolerance`],
    /// [`SvmError::InvalidMaxIterations`] or [`SvmError::InvalidCacheSize`].
    pub fn check(self) -> Result<Svm> {
        if !(self.c.is_finite() && self.c > 0.0) {
            return Err(SvmError::InvalidC(self.c));
        }
        if let Gamma::Value(g) = self.gamma
            && !(g.is_finite() && g > 0.0)
        {
            return Err(SvmError::InvalidGamma(g));
        }
        if !(self.tolerance.is_finite() && self.tolerance > 0.0) {
            return Err(SvmError::InvalidTolerance(self.tolerance));
        }
        if self.max_iterations == Some(0) {
            return Err(SvmError::InvalidMaxIterations);
        }
        if self.cache_bytes < MIN_CACHE_BYTES {
            return Err(SvmError::InvalidCacheSize {
                min: MIN_CACHE_BYTES,
                got: self.cache_bytes,
            });
        }
        Ok(Svm::from_checked(self))
    }

    pub(crate) fn c_value(&self) -> f64 {
        self.c
    }
    pub(crate) fn gamma_setting(&self) -> Gamma {
        self.gamma
    }
    pub(crate) fn tolerance_value(&self) -> f64 {
        self.tolerance
    }
    pub(crate) fn max_iterations_value(&self) -> Option<u64> {
        self.max_iterations
    }
    pub(crate) fn cache_bytes_value(&self) -> usize {
        self.cache_bytes
    }
    pub(crate) fn shrinking_value(&self) -> bool {
        self.shrinking
    }
    pub(crate) fn threads_value(&self) -> usize {
        self.threads
    }
    pub(crate) fn parallel_from_value(&self) -> usize {
        self.parallel_from
    }
}
