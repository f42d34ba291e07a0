//! The CNNs of *The Impact of Duplicates in Image Classification* (arXiv 2504.00638,
//! Section 4.2) on candle: the two networks of the paper's code, PyTorch's SGD and Adam,
//! L-infinity PGD (Madry's setting and the paper code's exact variant), standard and
//! adversarial training, and evaluation. CPU by default; the `cuda` feature runs the same
//! code on a GPU.
//!
//! ```no_run
//! use std::sync::Arc;
//! use dupstudy_cnn::{ModelConfig, PgdConfig, TrainConfig, Trainer, evaluate};
//! use dupstudy_cifar::SplitName;
//!
//! let data = Arc::new(dupstudy_cifar::load("data/cifar-10-batches-bin".as_ref())?);
//! let device = candle_core::Device::Cpu;
//! let mut config = TrainConfig::paper_standard(0);
//! config.epochs = 1;
//! let mut trainer = Trainer::new(&ModelConfig::standard(), config, &device)?;
//! let train: Arc<Vec<usize>> = Arc::new((0..50_000).collect());
//! let stats = trainer.train_epoch(&data, train, 0, &mut |_| {})?;
//! let test: Arc<Vec<usize>> = Arc::new((0..10_000).collect());
//! let clean = evaluate(trainer.model(), &data, SplitName::Test, test.clone(), 256, &device, None)?;
//! let robust = evaluate(trainer.model(), &data, SplitName::Test, test, 256, &device,
//!     Some((&PgdConfig::madry(), 0)))?;
//! println!("{stats:?} clean {:?} PGD-10 {:?}", clean.accuracy(), robust.accuracy());
//! # Ok::<(), dupstudy_cnn::CnnError>(())
//! ```
//!
//! Modules: [`alloc`] (allocator tuning for training programs), [`config`] (models and optimizers, with the paper's presets), [`model`],
//! [`layers`], [`kernels`] (fast CPU kernels), [`optim`], [`pgd`], [`train`], [`eval`],
//! [`device`], [`error`].

pub mod alloc;
pub mod config;
pub mod device;
pub mod error;
pub mod eval;
pub mod kernels;
pub mod layers;
pub mod model;
pub mod optim;
pub mod pgd;
pub mod train;

pub use config::{ModelConfig, ModelKind, OptimizerConfig};
pub use error::{CnnError, Result};
pub use eval::{confusion, evaluate, logits, predict};
pub use kernels::Kernels;
pub use model::Cnn;
pub use optim::Optimizer;
pub use pgd::{AttackSpace, PgdConfig};
pub use train::{EpochStats, TrainConfig, Trainer};
