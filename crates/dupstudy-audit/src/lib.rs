//! Audits an image data set for its own duplicates: exact copies (identical pixels) and
//! near-duplicates (the same photo re-encoded, shifted a few pixels, cropped or rescaled a
//! little, mirrored, or with a colour, contrast or brightness change), within the training
//! set, within the test set, and between the two.
//!
//! Two stages: a candidate search over blurred 8 x 8 thumbnails of every image, queried
//! with its mirror and shifted copies ([`index`], a random-projection forest whose cost
//! grows near `N log N`), then an exact alignment of every candidate pair
//! ([`features::align`]): the best mirror and shift (and, when a shift alone does not align
//! them, a crop of 88-96 % of either image), scored by the geometric mean of two
//! correlations at that alignment, of the colour planes and of their fine detail (each
//! image minus its 3 x 3 box blur). One threshold on that score separates copies from
//! different photos of the same kind of object; [`planted`] measures both sides of it. Results are counted in images, not pairs
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
pub mod labelled;
pub mod neighbours;
pub mod output;
pub mod planted;
pub mod progress;
pub mod summary;

pub use audit::{Audit, AuditParams, Pair, PairKind};
pub use error::{AuditError, Result};
pub use images::{ImageInfo, ImageSet, SplitName};
