//! The data set in memory: every image in one contiguous buffer, labels beside it.

use std::path::{Path, PathBuf};

use crate::error::{CifarError, Result};

/// Bytes of one image: 3 planes (R, G, B) of 32 x 32, row-major.
pub const IMAGE_BYTES: usize = 3 * 32 * 32;
/// Bytes of one record in the binary format: a label byte, then the image.
pub const RECORD_BYTES: usize = 1 + IMAGE_BYTES;
/// Number of classes.
pub const N_CLASSES: usize = 10;
/// The training batch files, in the order their records are numbered.
pub const TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
/// The test batch file.
pub const TEST_FILE: &str = "test_batch.bin";
/// The file listing the class names, one per line.
pub const META_FILE: &str = "batches.meta.txt";

/// CIFAR-10 in memory: the training records then the test records in one `u8` buffer
/// (`IMAGE_BYTES` per image, channel-major), a label per record, and the class names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cifar10 {
    pixels: Vec<u8>,
    labels: Vec<u8>,
    n_train: usize,
    class_names: Vec<String>,
    source: PathBuf,
}

/// A borrowed view of one split (train or test).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitView<'a> {
    pixels: &'a [u8],
    labels: &'a [u8],
}

impl Cifar10 {
    /// Assembles a data set from parsed parts. `pixels` holds `labels.len()` images;
    /// the first `n_train` are the training split.
    pub(crate) fn from_parts(
        pixels: Vec<u8>,
        labels: Vec<u8>,
        n_train: usize,
        class_names: Vec<String>,
        source: PathBuf,
    ) -> Self {
        debug_assert_eq!(pixels.len(), labels.len() * IMAGE_BYTES);
        Self {
            pixels,
            labels,
            n_train,
            class_names,
            source,
        }
    }

    /// A data set from images held in memory (synthetic data, tests): `pixels` holds
    /// `labels.len()` images of [`IMAGE_BYTES`] each, the first `n_train` are the training
    /// split, `class_names` has ten entries.
    ///
    /// # Errors
    /// [`CifarError::InvalidParameter`] naming `pixels`, `labels`, `n_train` or
    /// `class_names` when the parts do not fit together.
    pub fn from_memory(
        pixels: Vec<u8>,
        labels: Vec<u8>,
        n_train: usize,
        class_names: Vec<String>,
    ) -> Result<Self> {
        SplitView::new(&pixels, &labels)?;
        if n_train > labels.len() {
            return Err(CifarError::InvalidParameter {
                name: "n_train",
                message: format!("{n_train} training images of {} in all", labels.len()),
            });
        }
        if class_names.len() != N_CLASSES {
            return Err(CifarError::InvalidParameter {
                name: "class_names",
                message: format!("{} names, CIFAR-10 has {N_CLASSES}", class_names.len()),
            });
        }
        Ok(Self::from_parts(
            pixels,
            labels,
            n_train,
            class_names,
            PathBuf::from("<memory>"),
        ))
    }

    /// The training split (50,000 images for the full data set).
    pub fn train(&self) -> SplitView<'_> {
        SplitView {
            pixels: &self.pixels[..self.n_train * IMAGE_BYTES],
            labels: &self.labels[..self.n_train],
        }
    }

    /// The test split (10,000 images for the full data set).
    pub fn test(&self) -> SplitView<'_> {
        SplitView {
            pixels: &self.pixels[self.n_train * IMAGE_BYTES..],
            labels: &self.labels[self.n_train..],
        }
    }

    /// The ten class names, from the meta file.
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// Where the data was read from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// All pixels, training then test records.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// All labels, training then test records.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }
}

impl<'a> SplitView<'a> {
    /// A split over raw parts (for tests and synthetic data).
    ///
    /// # Errors
    /// [`CifarError::InvalidParameter`] if `pixels` does not hold `IMAGE_BYTES` per label or
    /// a label is above 9.
    pub fn new(pixels: &'a [u8], labels: &'a [u8]) -> Result<Self> {
        if pixels.len() != labels.len() * IMAGE_BYTES {
            return Err(CifarError::InvalidParameter {
                name: "pixels",
                message: format!(
                    "{} bytes for {} labels; expected {} per image",
                    pixels.len(),
                    labels.len(),
                    IMAGE_BYTES
                ),
            });
        }
        if let Some(&bad) = labels.iter().find(|&&l| usize::from(l) >= N_CLASSES) {
            return Err(CifarError::InvalidParameter {
                name: "labels",
                message: format!("label {bad} is above 9"),
            });
        }
        Ok(Self { pixels, labels })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the split is empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The labels (class indices 0..=9).
    pub fn labels(&self) -> &'a [u8] {
        self.labels
    }

    /// Image `i`: `IMAGE_BYTES` bytes, R plane then G then B, each row-major 32 x 32.
    ///
    /// # Errors
    /// [`CifarError::IndexOutOfRange`].
    pub fn image(&self, i: usize) -> Result<&'a [u8]> {
        if i >= self.len() {
            return Err(CifarError::IndexOutOfRange {
                index: i,
                len: self.len(),
            });
        }
        Ok(&self.pixels[i * IMAGE_BYTES..(i + 1) * IMAGE_BYTES])
    }

    /// Images per class.
    pub fn class_counts(&self) -> [usize; N_CLASSES] {
        let mut counts = [0; N_CLASSES];
        for &l in self.labels {
            counts[usize::from(l)] += 1;
        }
        counts
    }

    /// The pixel buffer of the whole split.
    pub fn pixels(&self) -> &'a [u8] {
        self.pixels
    }

    /// Checks that every index is in range.
    ///
    /// # Errors
    /// [`CifarError::IndexOutOfRange`] for the first bad index.
    pub fn check_indices(&self, indices: &[usize]) -> Result<()> {
        match indices.iter().find(|&&i| i >= self.len()) {
            Some(&index) => Err(CifarError::IndexOutOfRange {
                index,
                len: self.len(),
            }),
            None => Ok(()),
        }
    }
}
