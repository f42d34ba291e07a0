//! `dupaudit`: finds the exact and near-duplicate images of a folder tree, and the leakage
//! between its sets (train, validation, test), with the method of [`dupstudy_audit`]: a
//! candidate search over blurred thumbnails queried with mirrored and shifted copies, then
//! an exact alignment of every candidate pair (mirror, shift, crop) scored on colour and
//! detail, one threshold validated by planted copies.
//!
//! Every file under the folders is read (PNG, JPEG, WebP, BMP, TIFF, GIF; any size), decoded
//! one at a time and reduced at once to the working size, so memory grows with the number
//! of images, not their size. Files that cannot be used are listed with their reason.
//!
//! ```no_run
//! use dupaudit::{Options, collect, scan};
//! let (sets, outside) = collect::sets_of("photos".as_ref())?;
//! let images = collect::read_sets(sets, outside, &Default::default(), &|_, _| {})?;
//! let found = scan::run(images, &Options::default(), &dupstudy_audit::progress::Silent)?;
//! for group in found.groups() {
//!     println!("{:?}", group.members);
//! }
//! # Ok::<(), dupaudit::Error>(())
//! ```

pub mod cli;
pub mod collect;
pub mod error;
pub mod outputs;
#[cfg(feature = "python")]
mod python;
pub mod scan;
pub mod store;

pub use error::{Error, Result};
pub use scan::{Group, Options, Scan};
