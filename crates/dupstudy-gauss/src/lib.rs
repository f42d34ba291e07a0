//! Labelled multivariate normal data, as in the Gaussian experiment of *The Impact of
//! Duplicates in Image Classification* (arXiv 2504.00638, Section 4.1 and Appendix A).
//!
//! Each class `c` is drawn from `N(mu_c, S)` with a covariance `S` shared by all classes.
//! The defaults are the paper's: two classes labelled `-1` and `+1` with means `[0, 0]` and
//! `[1, 1]`, `S = [[1, 0.5], [0.5, 1]]`, 100 points each.
//!
//! ```
//! use dupstudy_gauss::GaussianParams;
//! use rand::SeedableRng;
//!
//! let classes = GaussianParams::default().check()?;
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
//! let data = classes.sample(&mut rng);
//! assert_eq!(data.len(), 200);
//! assert_eq!(data.labels()[0], -1);
//! assert_eq!(data.labels()[199], 1);
//! // The Bayes-optimal rule is known in closed form here:
//! assert_eq!(classes.bayes_class(&[2.0, 2.0])?, 1);
//! # Ok::<(), dupstudy_gauss::GaussError>(())
//! ```
//!
//! Modules: [`params`] (what to draw, validated), [`model`] (sampling and the Bayes rule),
//! [`dataset`] (the labelled points), [`error`].

pub mod dataset;
pub mod error;
pub mod model;
pub mod params;

pub use dataset::LabelledPoints;
pub use error::{GaussError, Result};
pub use model::GaussianClasses;
pub use params::GaussianParams;
