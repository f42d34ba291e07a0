//! Metrics for the duplicates study: confusion matrices and accuracies, summaries over seeds
//! with Student-t confidence intervals, trend lines with an interval on the slope, and the bias-variance decomposition of the 0-1 loss.
//!
//! ```
//! use dupstudy_metrics::{ConfusionMatrix, Summary};
//!
//! let m = ConfusionMatrix::from_predictions(&[0, 0, 1, 1], &[0, 1, 1, 1], 2)?;
//! assert_eq!(m.accuracy(), Some(0.75));
//! assert_eq!(m.class_accuracy(0), Some(0.5));
//!
//! // Accuracy of five seeds: mean and 95 % confidence interval.
//! let s = Summary::of(&[0.70, 0.72, 0.71, 0.69, 0.73])?;
//! assert!(s.ci_low() < 0.71 && 0.71 < s.ci_high());
//! # Ok::<(), dupstudy_metrics::MetricsError>(())
//! ```
//!
//! Modules: [`confusion`], [`summary`], [`proportion`], [`trend`], [`bias_variance`],
//! [`error`].

pub mod bias_variance;
pub mod confusion;
pub mod error;
pub mod proportion;
pub mod summary;
pub mod trend;

pub use bias_variance::{BiasVariance, BiasVarianceSummary};
pub use confusion::ConfusionMatrix;
pub use error::{MetricsError, Result};
pub use proportion::wilson_95;
pub use summary::{Summary, student_t_cdf, student_t_quantile};
pub use trend::{LinearFit, slope, slopes_over_units};
