//! Loading a data set into one array of images: CIFAR-10 (folder or archive, official order)
//! or an image folder (`train/<class>/*`, `test/<class>/*`, or class folders at the root).

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{AuditError, Result};

pub use dupstudy_cifar::SplitName;

/// Where one image came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// Its split.
    pub split: SplitName,
    /// Its position in the split: the record's position in the official order for CIFAR-10
    /// (train 0..49999 across `data_batch_1..5`), the file's position in sorted order of
    /// its path for an image folder.
    pub index: usize,
    /// The path relative to the split's folder (empty for CIFAR-10).
    pub path: String,
    /// Class index into [`ImageSet::class_names`].
    pub class: usize,
}

/// Every image of a data set, same size, RGB stored as three planes per image.
#[derive(Debug, Clone)]
pub struct ImageSet {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `len() * 3 * width * height` bytes: per image the R, G and B planes, row-major.
    pub pixels: Vec<u8>,
    /// One entry per image, in the same order.
    pub info: Vec<ImageInfo>,
    /// Class names, sorted for image folders, the meta file's order for CIFAR-10.
    pub class_names: Vec<String>,
    /// What was read, for reports.
    pub source: String,
}

impl ImageSet {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.info.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.info.is_empty()
    }

    /// Bytes per image.
    pub fn image_bytes(&self) -> usize {
        3 * self.width * self.height
    }

    /// The planes of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.image_bytes();
        &self.pixels[i * n..(i + 1) * n]
    }

    /// Images of `split`.
    pub fn count(&self, split: SplitName) -> usize {
        self.info.iter().filter(|i| i.split == split).count()
    }

    /// Appends an image (planes as [`ImageSet::image`]).
    ///
    /// # Errors
    /// [`AuditError::InvalidParameter`] if its size is not this set's.
    pub fn push(&mut self, planes: &[u8], info: ImageInfo) -> Result<()> {
        if planes.len() != self.image_bytes() || info.class >= self.class_names.len() {
            return Err(AuditError::InvalidParameter {
                name: "image",
                message: format!(
                    "{} bytes of class {}; this set holds {} bytes per image and {} classes",
                    planes.len(),
                    info.class,
                    self.image_bytes(),
                    self.class_names.len()
                ),
            });
        }
        self.pixels.extend_from_slice(planes);
        self.info.push(info);
        Ok(())
    }

    /// CIFAR-10 in the official order: the training split, then the test split.
    pub fn from_cifar(data: &dupstudy_cifar::Cifar10) -> Self {
        Self::from_cifar_prefix(data, data.train().len(), data.test().len())
    }

    /// The first `train_images` training and the first `test_images` test images of
    /// CIFAR-10 in the official order (each count capped at its split's size), training
    /// images first; indices are the images' positions in their split.
    pub fn from_cifar_prefix(
        data: &dupstudy_cifar::Cifar10,
        train_images: usize,
        test_images: usize,
    ) -> Self {
        let parts = [
            (SplitName::Train, data.train(), train_images),
            (SplitName::Test, data.test(), test_images),
        ];
        let total: usize = parts.iter().map(|(_, part, n)| (*n).min(part.len())).sum();
        let bytes = dupstudy_cifar::IMAGE_BYTES;
        let mut info = Vec::with_capacity(total);
        let mut pixels = Vec::with_capacity(total * bytes);
        for (split, part, n) in parts {
            let n = n.min(part.len());
            pixels.extend_from_slice(&part.pixels()[..n * bytes]);
            for (index, &label) in part.labels()[..n].iter().enumerate() {
                info.push(ImageInfo {
                    split,
                    index,
                    path: String::new(),
                    class: usize::from(label),
                });
            }
        }
        Self {
            width: 32,
            height: 32,
            pixels,
            info,
            class_names: data.class_names().to_vec(),
            source: format!("CIFAR-10 binary files at {}", data.source().display()),
        }
    }
}

/// Whether `path` looks like CIFAR-10 (the archive, or a folder with its binary files).
pub fn is_cifar(path: &Path) -> bool {
    path.is_file()
        || path.join("data_batch_1.bin").is_file()
        || path.join("batches.meta.txt").is_file()
}

/// Loads `path`: CIFAR-10 (see [`is_cifar`]) or an image folder.
///
/// # Errors
/// Unreadable files, a folder without images, an empty class folder, images of different
/// sizes or undecodable images, each naming the file or folder.
pub fn load(path: &Path) -> Result<ImageSet> {
    if !path.exists() {
        return Err(AuditError::Layout {
            path: path.to_path_buf(),
            message: "does not exist; expected a CIFAR-10 folder or archive, or an image folder"
                .into(),
        });
    }
    if is_cifar(path) {
        return Ok(ImageSet::from_cifar(&dupstudy_cifar::load(path)?));
    }
    load_folder(path)
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(AuditError::io(dir))?
        .map(|e| e.map(|e| e.path()).map_err(AuditError::io(dir)))
        .collect::<Result<_>>()?;
    entries.sort();
    Ok(entries)
}

fn is_image(path: &Path) -> bool {
    path.is_file()
        && path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
}

/// An image folder: `train/` and/or `test/` holding one folder per class, or class folders
/// at the root (one split, `train`).
///
/// # Errors
/// As [`load`].
pub fn load_folder(root: &Path) -> Result<ImageSet> {
    let splits: Vec<(SplitName, PathBuf)> =
        [(SplitName::Train, "train"), (SplitName::Test, "test")]
            .into_iter()
            .map(|(s, name)| (s, root.join(name)))
            .filter(|(_, p)| p.is_dir())
            .collect();
    let splits = if splits.is_empty() {
        vec![(SplitName::Train, root.to_path_buf())]
    } else {
        splits
    };
    // Files per split, with their class folder's name, in sorted path order.
    let mut files: Vec<(SplitName, PathBuf, String, String)> = Vec::new();
    let mut class_names: Vec<String> = Vec::new();
    for (split, dir) in &splits {
        let mut found = 0;
        for class_dir in sorted_entries(dir)? {
            if !class_dir.is_dir() {
                continue;
            }
            let class = class_dir
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| AuditError::Layout {
                    path: class_dir.clone(),
                    message: "class folder name is not valid UTF-8".into(),
                })?
                .to_string();
            let images: Vec<PathBuf> = sorted_entries(&class_dir)?
                .into_iter()
                .filter(|p| is_image(p))
                .collect();
            if images.is_empty() {
                return Err(AuditError::Layout {
                    path: class_dir,
                    message: "class folder holds no .png or .jpg images".into(),
                });
            }
            for file in images {
                let name = file
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default()
                    .to_string();
                files.push((*split, file, class.clone(), format!("{class}/{name}")));
                found += 1;
            }
            if !class_names.contains(&class) {
                class_names.push(class);
            }
        }
        if found == 0 {
            return Err(AuditError::Layout {
                path: dir.clone(),
                message: "holds no class folders with images (expected <class>/<image>.png|jpg, under train/ and test/ or at the root)".into(),
            });
        }
    }
    class_names.sort();
    let decoded: Vec<(u32, u32, Vec<u8>)> = files
        .par_iter()
        .map(|(_, path, _, _)| decode(path))
        .collect::<Result<_>>()?;
    let (want_w, want_h) = (decoded[0].0, decoded[0].1);
    let mut set = ImageSet {
        width: want_w as usize,
        height: want_h as usize,
        pixels: Vec::with_capacity(decoded.len() * 3 * (want_w * want_h) as usize),
        info: Vec::with_capacity(decoded.len()),
        class_names,
        source: format!("image folder {}", root.display()),
    };
    let mut next_index = [0usize; 2];
    for ((split, path, class, rel), (w, h, planes)) in files.iter().zip(decoded) {
        if (w, h) != (want_w, want_h) {
            return Err(AuditError::MixedSizes {
                path: path.clone(),
                got_w: w,
                got_h: h,
                first: files[0].1.clone(),
                want_w,
                want_h,
            });
        }
        let slot = &mut next_index[*split as usize];
        let class = set
            .class_names
            .iter()
            .position(|c| c == class)
            .unwrap_or_default();
        set.push(
            &planes,
            ImageInfo {
                split: *split,
                index: *slot,
                path: rel.clone(),
                class,
            },
        )?;
        *slot += 1;
    }
    Ok(set)
}

/// Decodes one image to its size and RGB planes.
fn decode(path: &Path) -> Result<(u32, u32, Vec<u8>)> {
    let bytes = std::fs::read(path).map_err(AuditError::io(path))?;
    let image = image::load_from_memory(&bytes).map_err(|e| AuditError::Decode {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let rgb = image.to_rgb8();
    let (w, h) = rgb.dimensions();
    Ok((w, h, interleaved_to_planes(rgb.as_raw())))
}

/// `RGBRGB...` to three planes.
pub fn interleaved_to_planes(rgb: &[u8]) -> Vec<u8> {
    let n = rgb.len() / 3;
    let mut planes = vec![0u8; 3 * n];
    for (p, px) in rgb.chunks_exact(3).enumerate() {
        for c in 0..3 {
            planes[c * n + p] = px[c];
        }
    }
    planes
}

/// Three planes to `RGBRGB...`.
pub fn planes_to_interleaved(planes: &[u8]) -> Vec<u8> {
    let n = planes.len() / 3;
    let mut rgb = vec![0u8; 3 * n];
    for p in 0..n {
        for c in 0..3 {
            rgb[3 * p + c] = planes[c * n + p];
        }
    }
    rgb
}
