//! Audits an image data set for its own duplicates: exact copies (identical pixels) and
//! near-duplicates (the same photo re-encoded, shifted a few pixels, cropped or rescaled a
//! little, mirrored, or with a colour, contrast or brightness change), within the training
//! set, within the test set, and between the two.
//!
//! Two stages: a candidate search over 8 x 8 grayscale thumbnails of every image and its
//! mirror ([`index`], a random-projection forest whose cost grows near `N log N`), then an
//! exact check of every candidate: the normalized cross-correlation of blurred,
//! standardized grayscale images at their best mirror and shift ([`features::align`]). One
//! threshold on that score separates copies from different photos of the same kind of
//! object; [`planted`] measures both sides of it. Results are counted in images, not pairs
//! ([`summary`]), and written as CSV, JSON, a report and contact sheets ([`output`]).
//!
//! ```no_run
//! use dupstudy_audit::{AuditParams, audit, features, images, progress::Silent};
//! let set = images::load("cifar-10-batches-bin".as_ref())?;
//! let f = features::compute(&set);
//! let found = audit::run(&set, &f, &AuditParams::default(), &Silent)?;
//! println!("{} duplicate groups", found.groups.len());
//! # Ok::<(), dupstudy_audit::AuditError>(())
//! ```

pub mod audit;
pub mod error;
pub mod features;
pub mod images;
pub mod index;
pub mod output;
pub mod planted;
pub mod progress;
pub mod summary;

pub use audit::{Audit, AuditParams, Pair, PairKind};
pub use error::{AuditError, Result};
pub use images::{ImageInfo, ImageSet, Split};
