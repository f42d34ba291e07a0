//! From indices to batches: gathering, the paper's augmentation, normalization, tensors.

use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::dataset::{IMAGE_BYTES, SplitView};
use crate::error::{CifarError, Result};

/// Side of an image.
pub const SIDE: usize = 32;

/// Per-channel normalization `(x - mean) / std`, applied to pixels already scaled to
/// `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalization {
    mean: [f32; 3],
    std: [f32; 3],
}

impl Normalization {
    /// A normalization; every `std` must be finite and positive, every `mean` finite.
    ///
    /// # Errors
    /// [`CifarError::InvalidParameter`] naming the bad channel.
    pub fn new(mean: [f32; 3], std: [f32; 3]) -> Result<Self> {
        for c in 0..3 {
            if !mean[c].is_finite() {
                return Err(CifarError::InvalidParameter {
                    name: "normalization mean",
                    message: format!("channel {c} is {}", mean[c]),
                });
            }
            if !(std[c].is_finite() && std[c] > 0.0) {
                return Err(CifarError::InvalidParameter {
                    name: "normalization std",
                    message: format!("channel {c} is {}; it must be finite and > 0", std[c]),
                });
            }
        }
        Ok(Self { mean, std })
    }

    /// Mean 0.5 and std 0.5 on every channel (maps `[0, 1]` to `[-1, 1]`), as the paper's
    /// code used.
    pub fn half() -> Self {
        Self {
            mean: [0.5; 3],
            std: [0.5; 3],
        }
    }

    /// The channel means.
    pub fn mean(&self) -> [f32; 3] {
        self.mean
    }

    /// The channel standard deviations.
    pub fn std(&self) -> [f32; 3] {
        self.std
    }
}

/// Random crop to 32 x 32 from the image padded with `pad` zero pixels on every side, then a
/// horizontal flip with probability 1/2 (`flip`), as `RandomCrop(32, padding=4)` and
/// `RandomHorizontalFlip()` in the paper's code. Padding is black (0) in pixel space,
/// before any normalization, as in torchvision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Augmentation {
    pad: usize,
    flip: bool,
}

impl Default for Augmentation {
    fn default() -> Self {
        Self { pad: 4, flip: true }
    }
}

impl Augmentation {
    /// A crop with `pad` pixels of padding (at most 16), with or without flips.
    ///
    /// # Errors
    /// [`CifarError::InvalidParameter`] if `pad > 16`.
    pub fn new(pad: usize, flip: bool) -> Result<Self> {
        if pad > 16 {
            return Err(CifarError::InvalidParameter {
                name: "augmentation padding",
                message: format!("{pad} pixels; at most 16"),
            });
        }
        Ok(Self { pad, flip })
    }

    /// The padding.
    pub fn pad(&self) -> usize {
        self.pad
    }

    /// Whether images are flipped.
    pub fn flips(&self) -> bool {
        self.flip
    }
}

/// How a batch is prepared.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BatchOptions {
    /// Augmentation and the seed of this batch's random draws (`None`: off, as for
    /// evaluation).
    pub augmentation: Option<(Augmentation, u64)>,
    /// Normalization (`None`: pixels in `[0, 1]`).
    pub normalization: Option<Normalization>,
}

/// A prepared batch in host memory: `len` images as f32 NCHW and their labels.
#[derive(Debug, Clone, PartialEq)]
pub struct HostBatch {
    /// `len * 3 * 32 * 32` values, image after image, channel-major.
    pub images: Vec<f32>,
    /// One label per image.
    pub labels: Vec<u32>,
}

impl HostBatch {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The batch as tensors on `device`: images `(n, 3, 32, 32)` f32 and labels `(n,)` u32.
    ///
    /// # Errors
    /// [`CifarError::Candle`] if the device cannot take the data.
    pub fn to_tensors(&self, device: &Device) -> Result<(Tensor, Tensor)> {
        let n = self.len();
        let images = Tensor::from_slice(&self.images, (n, 3, SIDE, SIDE), device)?;
        let labels = Tensor::from_slice(&self.labels, n, device)?;
        Ok((images, labels))
    }
}

impl SplitView<'_> {
    /// Gathers the images at `indices` (repeats allowed: that is how duplicates are
    /// served) into `batch`, reusing its buffers.
    ///
    /// # Errors
    /// [`CifarError::IndexOutOfRange`].
    pub fn fill_batch(
        &self,
        indices: &[usize],
        options: &BatchOptions,
        batch: &mut HostBatch,
    ) -> Result<()> {
        self.check_indices(indices)?;
        let n = indices.len();
        batch.images.clear();
        batch.images.resize(n * IMAGE_BYTES, 0.0);
        batch.labels.clear();
        batch
            .labels
            .extend(indices.iter().map(|&i| u32::from(self.labels()[i])));
        let (scale, shift) = match &options.normalization {
            // (p / 255 - mean) / std = p * (1 / (255 std)) - mean / std
            Some(norm) => (
                [0, 1, 2].map(|c| 1.0 / (255.0 * norm.std[c])),
                [0, 1, 2].map(|c| -norm.mean[c] / norm.std[c]),
            ),
            None => ([1.0 / 255.0; 3], [0.0; 3]),
        };
        let mut rng = options
            .augmentation
            .map(|(_, seed)| ChaCha8Rng::seed_from_u64(seed));
        let plane = SIDE * SIDE;
        for (slot, &index) in indices.iter().enumerate() {
            let src = &self.pixels()[index * IMAGE_BYTES..(index + 1) * IMAGE_BYTES];
            let dst = &mut batch.images[slot * IMAGE_BYTES..(slot + 1) * IMAGE_BYTES];
            let (dx, dy, flip) = match (&options.augmentation, rng.as_mut()) {
                (Some((aug, _)), Some(rng)) => {
                    let span = 2 * aug.pad as u64 + 1;
                    let dx = rng.random_range(0..span) as isize - aug.pad as isize;
                    let dy = rng.random_range(0..span) as isize - aug.pad as isize;
                    let flip = aug.flip && rng.random::<bool>();
                    (dx, dy, flip)
                }
                _ => (0, 0, false),
            };
            for c in 0..3 {
                let (sc, sh) = (scale[c], shift[c]);
                let padding_value = sh; // a zero pixel, normalized
                let src = &src[c * plane..(c + 1) * plane];
                let dst = &mut dst[c * plane..(c + 1) * plane];
                if dx == 0 && dy == 0 && !flip {
                    for (d, &p) in dst.iter_mut().zip(src) {
                        *d = f32::from(p) * sc + sh;
                    }
                    continue;
                }
                for y in 0..SIDE {
                    let sy = y as isize + dy;
                    let row = &mut dst[y * SIDE..(y + 1) * SIDE];
                    if !(0..SIDE as isize).contains(&sy) {
                        row.fill(padding_value);
                        continue;
                    }
                    let src_row = &src[sy as usize * SIDE..(sy as usize + 1) * SIDE];
                    for (x, d) in row.iter_mut().enumerate() {
                        // The crop window is taken first, then flipped.
                        let wx = if flip { SIDE - 1 - x } else { x };
                        let sx = wx as isize + dx;
                        *d = if (0..SIDE as isize).contains(&sx) {
                            f32::from(src_row[sx as usize]) * sc + sh
                        } else {
                            padding_value
                        };
                    }
                }
            }
        }
        Ok(())
    }

    /// The images at `indices` as tensors on `device` (see [`HostBatch::to_tensors`]).
    ///
    /// # Errors
    /// [`CifarError::IndexOutOfRange`] or [`CifarError::Candle`].
    pub fn batch(
        &self,
        indices: &[usize],
        options: &BatchOptions,
        device: &Device,
    ) -> Result<(Tensor, Tensor)> {
        let mut host = HostBatch {
            images: Vec::new(),
            labels: Vec::new(),
        };
        self.fill_batch(indices, options, &mut host)?;
        host.to_tensors(device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp_split() -> (Vec<u8>, Vec<u8>) {
        // One image whose pixel value encodes its position: R = x + 32 y (mod 256).
        let mut pixels = vec![0u8; IMAGE_BYTES];
        for y in 0..SIDE {
            for x in 0..SIDE {
                pixels[y * SIDE + x] = (x + 32 * y) as u8;
                pixels[1024 + y * SIDE + x] = 200;
                pixels[2048 + y * SIDE + x] = x as u8;
            }
        }
        (pixels, vec![3])
    }

    #[test]
    fn no_augmentation_scales_to_unit_range() {
        let (pixels, labels) = ramp_split();
        let split = SplitView::new(&pixels, &labels).unwrap();
        let mut b = HostBatch {
            images: vec![],
            labels: vec![],
        };
        split
            .fill_batch(&[0, 0], &BatchOptions::default(), &mut b)
            .unwrap();
        assert_eq!(b.labels, vec![3, 3]);
        assert!((b.images[1024] - 200.0 / 255.0).abs() < 1e-7);
        assert!((b.images[2048 + 31] - 31.0 / 255.0).abs() < 1e-7);
        let norm = BatchOptions {
            normalization: Some(Normalization::half()),
            ..Default::default()
        };
        split.fill_batch(&[0], &norm, &mut b).unwrap();
        assert!((b.images[1024] - (200.0 / 255.0 - 0.5) / 0.5).abs() < 1e-6);
    }

    #[test]
    fn crops_shift_and_pad_with_black() {
        let (pixels, labels) = ramp_split();
        let split = SplitView::new(&pixels, &labels).unwrap();
        let aug = Augmentation::new(4, true).unwrap();
        let mut b = HostBatch {
            images: vec![],
            labels: vec![],
        };
        let (mut padded, mut flipped, mut upright) = (0, 0, 0);
        let mut distinct = std::collections::BTreeSet::new();
        for seed in 0..50 {
            let options = BatchOptions {
                augmentation: Some((aug, seed)),
                normalization: None,
            };
            split.fill_batch(&[0], &options, &mut b).unwrap();
            distinct.insert(b.images.iter().map(|v| v.to_bits()).collect::<Vec<u32>>());
            // Blue encodes x: each row is a shifted (maybe reversed) run of x values or 0
            // where padding shows; every image value is a real pixel or black.
            let blue = &b.images[2048..3072];
            for y in 0..SIDE {
                let row: Vec<i32> = blue[y * SIDE..(y + 1) * SIDE]
                    .iter()
                    .map(|v| (v * 255.0).round() as i32)
                    .collect();
                let visible: Vec<i32> = row.iter().copied().filter(|&v| v != 0).collect();
                for w in visible.windows(2) {
                    assert_eq!((w[1] - w[0]).abs(), 1, "seed {seed} row {y}: {row:?}");
                }
                if y == SIDE / 2 && visible.len() >= 2 {
                    if visible[1] < visible[0] {
                        flipped += 1;
                    } else {
                        upright += 1;
                    }
                }
            }
            // Green is 200 everywhere inside and 0 in the padding.
            let green = &b.images[1024..2048];
            let inside = green
                .iter()
                .filter(|v| (**v * 255.0 - 200.0).abs() < 1e-3)
                .count();
            let black = green.iter().filter(|v| v.abs() < 1e-9).count();
            assert_eq!(inside + black, 1024);
            assert!(inside >= 28 * 28, "at most 4 pixels of padding per side");
            if black > 0 {
                padded += 1;
            }
        }
        // Augmentation must do something: most draws shift the image (showing padding),
        // both flipped and upright images occur, and the draws differ from one another.
        assert!(padded >= 30, "only {padded} of 50 crops were shifted");
        assert!(
            flipped >= 10 && upright >= 10,
            "flipped {flipped}, upright {upright}"
        );
        assert!(
            distinct.len() >= 25,
            "only {} distinct images in 50 draws",
            distinct.len()
        );
    }

    #[test]
    fn same_seed_same_batch_and_bad_input_errors() {
        let (pixels, labels) = ramp_split();
        let split = SplitView::new(&pixels, &labels).unwrap();
        let options = BatchOptions {
            augmentation: Some((Augmentation::default(), 7)),
            normalization: None,
        };
        let mut a = HostBatch {
            images: vec![],
            labels: vec![],
        };
        let mut b = a.clone();
        split.fill_batch(&[0, 0, 0], &options, &mut a).unwrap();
        split.fill_batch(&[0, 0, 0], &options, &mut b).unwrap();
        assert_eq!(a, b);
        assert!(matches!(
            split.fill_batch(&[1], &options, &mut a),
            Err(CifarError::IndexOutOfRange { index: 1, len: 1 })
        ));
        assert!(Augmentation::new(17, true).is_err());
        assert!(Normalization::new([0.5; 3], [0.5, 0.0, 0.5]).is_err());
    }
}
