//! A learned image descriptor for duplicate search.
//!
//! The audit's own similarity ([`dupstudy_audit::features::align`]) recognizes the same
//! photo re-encoded, shifted, cropped, mirrored or re-coloured. People also call two
//! images near-duplicates when the photo was re-taken a moment later or re-cropped by
//! another scraper, which moves every pixel. This crate learns what those pairs share: it
//! trains the study's CNN ([`dupstudy_cnn`], the 32/64/256 network) on the set's own
//! training labels, seeded, and describes each image by the network's hidden layer (unit
//! length), so that two images of the same object in the same scene are close even when
//! no alignment maps one onto the other. Nothing is downloaded: the descriptor is trained
//! where it is used, and its cost is part of the audit's.
//!
//! ```no_run
//! use dupstudy_audit::{images, progress::Silent};
//! use dupstudy_descriptor::{DescriptorParams, learn};
//!
//! let set = images::load("cifar-10-batches-bin".as_ref())?;
//! let descriptors = learn(&set, &DescriptorParams::default(), &Silent)?;
//! let test: Vec<usize> = (50_000..60_000).collect();
//! let train: Vec<usize> = (0..50_000).collect();
//! let nearest = descriptors.nearest(&test, &train, 20);
//! println!("test image 0's nearest training image: {:?}", nearest[0][0]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Determinism: training draws everything from the seed (initialization, shuffling,
//! augmentation) and the embedding and the nearest-neighbour search sum in a fixed order,
//! so a seed gives the same descriptors run after run.

mod audit;
mod search;

pub use audit::{LearnedAudit, audit, train_and_audit, validate};

use std::sync::Arc;

use candle_core::{Device, Tensor};
use dupstudy_audit::neighbours::{Neighbour, dot};
use dupstudy_audit::progress::Progress;
use dupstudy_audit::{ImageSet, SplitName};
use dupstudy_cifar::{Cifar10, IMAGE_BYTES, N_CLASSES};
use dupstudy_cnn::{Cnn, ModelConfig, TrainConfig, Trainer};
use serde::{Deserialize, Serialize};

/// What can go wrong while learning or using descriptors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DescriptorError {
    /// A parameter outside its allowed range.
    #[error("descriptor parameter `{name}`: {message}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// A data set the descriptor cannot be learned on.
    #[error("{source_name}: {message}")]
    Unsupported {
        /// The data set, as its report names it.
        source_name: String,
        /// What is wrong and what is needed.
        message: String,
    },
    /// The audit failed.
    #[error(transparent)]
    Audit(#[from] dupstudy_audit::AuditError),
    /// Training or embedding failed.
    #[error(transparent)]
    Cnn(#[from] dupstudy_cnn::CnnError),
    /// The training set could not be assembled.
    #[error(transparent)]
    Cifar(#[from] dupstudy_cifar::CifarError),
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Results of this crate.
pub type Result<T> = std::result::Result<T, DescriptorError>;

/// How the descriptor is learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DescriptorParams {
    /// Training epochs over the set's training images (at least 1).
    pub epochs: u64,
    /// Seed of the initialization, shuffling and augmentation.
    pub seed: u64,
}

impl Default for DescriptorParams {
    /// 16 epochs, seed 0. The epochs were chosen on the development half of ciFAIR's
    /// labelled CIFAR-10 pairs (`docs/audit.md`): of 12, 16, 20 and 25 epochs, the fewest
    /// within two development pairs of the most found.
    fn default() -> Self {
        Self {
            epochs: 16,
            seed: 0,
        }
    }
}

impl DescriptorParams {
    /// Checks every field.
    ///
    /// # Errors
    /// [`DescriptorError::InvalidParameter`] naming it.
    pub fn check(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(DescriptorError::InvalidParameter {
                name: "epochs",
                message: "0; must be at least 1".into(),
            });
        }
        Ok(())
    }
}

/// One unit-length descriptor per image of a set, in the set's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Descriptors {
    dim: usize,
    rows: Vec<f32>,
}

impl Descriptors {
    /// Descriptors from rows of `dim` numbers (each scaled to unit length; an all-zero row
    /// stays zero).
    ///
    /// # Errors
    /// [`DescriptorError::InvalidParameter`] when `dim` is 0 or does not divide the rows.
    pub fn from_rows(dim: usize, mut rows: Vec<f32>) -> Result<Self> {
        if dim == 0 || !rows.len().is_multiple_of(dim) {
            return Err(DescriptorError::InvalidParameter {
                name: "dim",
                message: format!(
                    "{dim} for {} numbers; must be positive and divide them",
                    rows.len()
                ),
            });
        }
        for row in rows.chunks_mut(dim) {
            let norm = dot(row, row).sqrt();
            if norm > 0.0 {
                row.iter_mut().for_each(|v| *v /= norm);
            }
        }
        Ok(Self { dim, rows })
    }

    /// Numbers per descriptor.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Images described.
    pub fn len(&self) -> usize {
        self.rows.len() / self.dim
    }

    /// Whether no image is described.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Image `i`'s descriptor.
    ///
    /// # Panics
    /// If `i` is out of range.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.rows[i * self.dim..(i + 1) * self.dim]
    }

    /// The cosine similarity of images `i` and `j`, in `[-1, 1]` (the hidden layer is a
    /// ReLU's output, so in practice `[0, 1]`).
    pub fn similarity(&self, i: usize, j: usize) -> f32 {
        dot(self.row(i), self.row(j))
    }

    /// For each image in `queries`, the `k` most similar images in `base` other than
    /// itself, most similar first, ties by position (exact search: every query against
    /// every base image, blocked for the cache; [`Neighbour::similarity`] is the cosine
    /// similarity, bit for bit [`Descriptors::similarity`], and `mirror` is always false).
    pub fn nearest(&self, queries: &[usize], base: &[usize], k: usize) -> Vec<Vec<Neighbour>> {
        search::nearest(&self.rows, self.dim, queries, base, k, f32::NEG_INFINITY)
    }

    /// Candidate pairs `(a, b)`, `a < b`, sorted: each image's `k` most similar other
    /// images of the set whose similarity is at least `floor` (exact search; a pair found
    /// from both sides is listed once).
    pub fn candidates(&self, k: usize, floor: f32) -> Vec<(usize, usize)> {
        let all: Vec<usize> = (0..self.len()).collect();
        let found = search::nearest(&self.rows, self.dim, &all, &all, k, floor);
        let mut pairs: Vec<(usize, usize)> = found
            .iter()
            .enumerate()
            .flat_map(|(q, ns)| ns.iter().map(move |n| (q.min(n.index), q.max(n.index))))
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        pairs
    }
}

/// The side of the images the network takes.
pub const SIDE: usize = 32;

/// Images embedded per batch.
const EMBED_BATCH: usize = 500;

/// Learns descriptors for every image of `set`: trains the 32/64/256 network
/// ([`ModelConfig::adversarial`], no dropout) with the paper's standard recipe (SGD 0.01,
/// momentum 0.9, weight decay 5e-4, batch 128, random crop and mirror) for
/// `params.epochs` on the training split's images and labels (all images when the set has
/// no training split), then embeds every image.
///
/// # Errors
/// [`DescriptorError::Unsupported`] for images other than 32 x 32 or more than 10 classes;
/// bad parameters; training failures.
pub fn learn(
    set: &ImageSet,
    params: &DescriptorParams,
    progress: &dyn Progress,
) -> Result<Descriptors> {
    params.check()?;
    let model = train(set, params, progress)?;
    embed(&model, set, progress)
}

/// The trained network of [`learn`].
///
/// # Errors
/// As [`learn`].
pub fn train(set: &ImageSet, params: &DescriptorParams, progress: &dyn Progress) -> Result<Cnn> {
    params.check()?;
    let unsupported = |message: String| DescriptorError::Unsupported {
        source_name: set.source.clone(),
        message,
    };
    if (set.width, set.height) != (SIDE, SIDE) {
        return Err(unsupported(format!(
            "images are {}x{}; the learned descriptor takes {SIDE}x{SIDE} images",
            set.width, set.height
        )));
    }
    if set.class_names.len() > N_CLASSES {
        return Err(unsupported(format!(
            "{} classes; the learned descriptor's network has {N_CLASSES} outputs",
            set.class_names.len()
        )));
    }
    let mut members: Vec<usize> = (0..set.len())
        .filter(|&i| set.info[i].split == SplitName::Train)
        .collect();
    if members.is_empty() {
        members = (0..set.len()).collect();
    }
    if members.is_empty() {
        return Err(unsupported("no images to learn from".into()));
    }
    let mut pixels = Vec::with_capacity(members.len() * IMAGE_BYTES);
    let mut labels = Vec::with_capacity(members.len());
    for &i in &members {
        pixels.extend_from_slice(set.image(i));
        labels.push(set.info[i].class as u8);
    }
    let mut names = set.class_names.clone();
    names.resize_with(N_CLASSES, || "(unused)".to_string());
    let data = Arc::new(Cifar10::from_memory(pixels, labels, members.len(), names)?);
    let mut config = TrainConfig::paper_standard(params.seed);
    config.epochs = params.epochs;
    let device = Device::Cpu;
    let mut trainer = Trainer::new(&ModelConfig::adversarial(), config, &device)?;
    let indices: Arc<Vec<usize>> = Arc::new((0..members.len()).collect());
    let batches = members.len().div_ceil(trainer.config().batch_size) as u64;
    progress.start("descriptor: training", params.epochs * batches);
    for epoch in 0..params.epochs {
        let stats = trainer.train_epoch(&data, indices.clone(), epoch, &mut |_| {
            progress.advance(1);
        })?;
        tracing::info!(epoch, accuracy = stats.accuracy, "descriptor epoch done");
    }
    progress.finish();
    Ok(trainer.model().frozen()?)
}

/// Every image of `set` described by `model`'s hidden layer, unit length.
///
/// # Errors
/// [`DescriptorError::Unsupported`] for images other than 32 x 32; tensor failures.
pub fn embed(model: &Cnn, set: &ImageSet, progress: &dyn Progress) -> Result<Descriptors> {
    if (set.width, set.height) != (SIDE, SIDE) {
        return Err(DescriptorError::Unsupported {
            source_name: set.source.clone(),
            message: format!(
                "images are {}x{}; the learned descriptor takes {SIDE}x{SIDE} images",
                set.width, set.height
            ),
        });
    }
    let device = Device::Cpu;
    progress.start("descriptor: embedding", set.len() as u64);
    let mut rows = Vec::new();
    for start in (0..set.len()).step_by(EMBED_BATCH) {
        let end = (start + EMBED_BATCH).min(set.len());
        let pixels: Vec<f32> = (start..end)
            .flat_map(|i| set.image(i).iter().map(|&v| f32::from(v) / 255.0))
            .collect();
        let x = Tensor::from_vec(pixels, (end - start, 3, SIDE, SIDE), &device)?;
        rows.extend(model.embedding(&x)?.flatten_all()?.to_vec1::<f32>()?);
        progress.advance((end - start) as u64);
    }
    progress.finish();
    let dim = model.config().hidden;
    Descriptors::from_rows(dim, rows)
}
