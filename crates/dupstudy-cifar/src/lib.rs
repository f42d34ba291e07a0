//! CIFAR-10 from the files on disk to batches of tensors: a strict reader of the official
//! binary format (folder or `cifar-10-binary.tar.gz`), index views, the paper's augmentation,
//! a prefetching epoch loader, and a verified download.
//!
//! ```no_run
//! use std::sync::Arc;
//! use dupstudy_cifar::{Augmentation, EpochBatches, EpochPlan, Normalization, SplitName};
//!
//! let data = Arc::new(dupstudy_cifar::load("data/cifar-10-batches-bin".as_ref())?);
//! assert_eq!(data.train().len(), 50_000);
//! // Duplicates are indices: append them to the list, no image is copied.
//! let mut indices: Vec<usize> = (0..50_000).collect();
//! indices.extend(0..500);
//! let plan = EpochPlan {
//!     indices: Arc::new(indices),
//!     batch_size: 128,
//!     shuffle_seed: Some(1),
//!     epoch: 0,
//!     augmentation: Some(Augmentation::default()),
//!     normalization: None,
//!     min_last_batch: 0,
//! };
//! for batch in EpochBatches::new(data.clone(), SplitName::Train, plan, 2)? {
//!     let (images, labels) = batch?.to_tensors(&candle_core::Device::Cpu)?;
//!     # let _ = (images, labels, Normalization::half());
//! }
//! # Ok::<(), dupstudy_cifar::CifarError>(())
//! ```
//!
//! Modules: [`dataset`] (the data in memory), [`read`] (files and archive), [`batch`]
//! (gathering, augmentation, normalization, tensors), [`loader`] (epochs with prefetch),
//! [`fetch`] (download and verification), [`synthetic`] (tiny deterministic records for
//! fixtures), [`error`].

pub mod batch;
pub mod dataset;
pub mod error;
pub mod fetch;
pub mod loader;
pub mod read;
pub mod synthetic;

pub use batch::{Augmentation, BatchOptions, HostBatch, Normalization};
pub use dataset::{Cifar10, IMAGE_BYTES, N_CLASSES, RECORD_BYTES, SplitView};
pub use error::{CifarError, Result};
pub use loader::{EpochBatches, EpochPlan, SplitName};
#[cfg(feature = "test-support")]
pub use read::real_data_for_tests;
pub use read::{load, locate};
