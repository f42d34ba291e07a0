//! Duplication sampling over any labelled set, given only its labels.
//!
//! The sampler returns the indices of the points to append as duplicates; it never sees or
//! copies the points themselves, so the same code duplicates 2-D Gaussian points and CIFAR-10
//! images. The *D-rate* is the number of duplicates as a percentage of the original size
//! (D-rate 30 on 200 points appends exactly 60), and the *D-ratio* of a class is its share of
//! the duplicates (the paper's "D-ratio +1").
//!
//! ```
//! use dupstudy_dup::{Duplication, DuplicationParams, Replacement};
//! use rand::SeedableRng;
//!
//! // 100 points of class 0 (label -1) and 100 of class 1 (label +1).
//! let labels: Vec<usize> = (0..200).map(|i| i / 100).collect();
//! let sampler = DuplicationParams::default()
//!     .d_rate(30.0)
//!     .policy(Duplication::ClassWeighted(vec![0.3, 0.7]))
//!     .replacement(Replacement::With)
//!     .check()?;
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
//! let draw = sampler.draw(&labels, &mut rng)?;
//! assert_eq!(draw.len(), 60);
//! assert!(draw.indices.iter().all(|&i| i < 200));
//! let d_ratio_plus = draw.d_ratio(1).unwrap();
//! assert!(d_ratio_plus > 0.4 && d_ratio_plus < 1.0);
//! # Ok::<(), dupstudy_dup::DupError>(())
//! ```
//!
//! Modules: [`params`] (policy, D-rate, replacement; validated), [`sampler`] (the draw),
//! [`error`].

pub mod error;
pub mod params;
pub mod sampler;

pub use error::{DupError, Result};
pub use params::{Duplication, DuplicationParams, Replacement};
pub use sampler::{DuplicateDraw, DuplicationSampler, whole_set_copies};
