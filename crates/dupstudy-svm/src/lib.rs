//! A hand-written SMO solver for the RBF-kernel C-SVM, the classifier of the Gaussian
//! experiment in *The Impact of Duplicates in Image Classification* (arXiv 2504.00638).
//!
//! It solves the same dual as LIBSVM with the same algorithm (second-order working set
//! selection, LIBSVM's stopping rule and `tau`, shrinking, an LRU kernel cache) and is tested
//! against LIBSVM's answers on committed problems, heavy duplication included.
//!
//! ```
//! use dupstudy_svm::{Gamma, SvmParams};
//! use ndarray::array;
//!
//! let x = array![[0.0, 0.0], [0.2, 0.1], [1.0, 1.0], [0.9, 1.2]];
//! let y = [-1, -1, 1, 1];
//! let svm = SvmParams::default().c(1.0).gamma(Gamma::Auto).check()?;
//! let model = svm.fit(x.view(), &y)?;
//! assert_eq!(model.predict(x.view())?, vec![-1, -1, 1, 1]);
//! assert!(model.dual_objective() < 0.0);
//! # Ok::<(), dupstudy_svm::SvmError>(())
//! ```
//!
//! Modules: [`params`] (hyper-parameters, validated), [`train`] (fitting), [`model`] (the
//! fitted model and prediction), [`kernel`] (the RBF kernel), [`csv`] (labelled CSV files),
//! [`error`]. The solver and its
//! kernel cache are internal.

mod cache;
pub mod csv;
pub mod error;
pub mod kernel;
pub mod model;
pub mod params;
mod simd;
mod solver;
pub mod train;

pub use error::{Result, SvmError};
pub use model::SvmModel;
pub use params::{Gamma, MIN_CACHE_BYTES, PARALLEL_FROM, SvmParams};
pub use simd::instruction_set;
pub use train::Svm;
