//! Finding and reading the images of a collection: the sets (named folders, or one set),
//! every file under them, decoded one at a time and reduced at once to the audit's working
//! size, so memory grows with the number of images and not with their size.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use dupstudy_audit::features::{WORK, area_weights};
use dupstudy_audit::images::interleaved_to_planes;
use dupstudy_audit::{ImageInfo, ImageSet, SplitName};
use image::{ImageFormat, ImageReader, Limits};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Top-level folder names that make a folder's children sets of their own (case ignored).
pub const SET_NAMES: [&str; 8] = [
    "train",
    "training",
    "val",
    "valid",
    "validation",
    "dev",
    "test",
    "testing",
];

/// Side of the reduced images the audit compares.
pub const SIDE: usize = WORK;

/// Default largest image decoded, in pixels (width x height).
pub const MAX_PIXELS: u64 = 100_000_000;

/// A set of images: a name and the folder it was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetSource {
    /// The set's name (`train`, `test`, a `--set` name, ...).
    pub name: String,
    /// Its folder (absent for the CIFAR-10 binaries).
    pub root: Option<PathBuf>,
}

/// Where one image of a collection came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Its set (position in [`Collection::sets`]).
    pub set: usize,
    /// Whether it has a file (then [`Collection::file`] names it); not for the CIFAR-10
    /// binaries.
    pub has_file: bool,
    /// Its original width and height in pixels.
    pub size: (u32, u32),
}

/// A file that was not audited, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// The file or folder.
    pub path: PathBuf,
    /// Why, in words (starting with a short kind: `empty file`, `not an image`, ...).
    pub reason: String,
}

/// Every image of the sets, reduced to [`SIDE`] x [`SIDE`], with where it came from.
#[derive(Debug, Clone)]
pub struct Collection {
    /// The sets, in the order given or found.
    pub sets: Vec<SetSource>,
    /// The reduced images; `info[i].path` is the file's path as displayed, `info[i].index`
    /// its position within its set, `info[i].class` its folder under the set's root.
    pub images: ImageSet,
    /// Per image, its set and file.
    pub members: Vec<Member>,
    /// Files and folders not audited.
    pub skipped: Vec<Skipped>,
}

impl Collection {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether it holds no image.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The name of image `i`'s set.
    pub fn set_name(&self, i: usize) -> &str {
        &self.sets[self.members[i].set].name
    }

    /// The file of image `i`, as found under its set's folder.
    pub fn file(&self, i: usize) -> Option<&Path> {
        self.members[i]
            .has_file
            .then(|| Path::new(&self.images.info[i].path))
    }

    /// Images of set `s`.
    pub fn count(&self, s: usize) -> usize {
        self.members.iter().filter(|m| m.set == s).count()
    }

    /// CIFAR-10 from its binary files: sets `train` and `test` in the official order.
    pub fn from_cifar(images: ImageSet) -> Self {
        let members = images
            .info
            .iter()
            .map(|info| Member {
                set: usize::from(info.split == SplitName::Test),
                has_file: false,
                size: (images.width as u32, images.height as u32),
            })
            .collect();
        Self {
            sets: ["train", "test"]
                .map(|name| SetSource {
                    name: name.into(),
                    root: None,
                })
                .to_vec(),
            images,
            members,
            skipped: Vec::new(),
        }
    }
}

/// How files are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    /// Stop at the first file that cannot be read instead of listing it as skipped.
    pub strict: bool,
    /// Largest image decoded, in pixels; larger ones are skipped (or stop a strict run).
    pub max_pixels: u64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            strict: false,
            max_pixels: MAX_PIXELS,
        }
    }
}

/// The sets of `dir`: its top-level folders named as in [`SET_NAMES`] when it has any (each
/// a set; anything else at the top level is listed as skipped), otherwise `dir` as one set
/// named `images`.
///
/// # Errors
/// `dir` is not a readable folder.
pub fn sets_of(dir: &Path) -> Result<(Vec<SetSource>, Vec<Skipped>)> {
    let entries = sorted_entries(dir).map_err(|source| Error::Folder {
        path: dir.to_path_buf(),
        source,
    })?;
    let is_set = |p: &Path| {
        p.is_dir()
            && p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| SET_NAMES.contains(&n.to_ascii_lowercase().as_str()))
    };
    let sets: Vec<SetSource> = entries
        .iter()
        .filter(|p| is_set(p))
        .map(|p| SetSource {
            name: p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string(),
            root: Some(p.clone()),
        })
        .collect();
    if sets.is_empty() {
        return Ok((
            vec![SetSource {
                name: "images".into(),
                root: Some(dir.to_path_buf()),
            }],
            Vec::new(),
        ));
    }
    let outside = entries
        .into_iter()
        .filter(|p| !is_set(p))
        .map(|path| Skipped {
            path,
            reason: format!(
                "outside the set folders: {} are sets here (name others with --set NAME=DIR)",
                sets.iter()
                    .map(|s| format!("{}/", s.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
        .collect();
    Ok((sets, outside))
}

fn sorted_entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut entries = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()?;
    entries.sort();
    Ok(entries)
}

/// Every file under `root`, recursively, in sorted path order. Unreadable folders and
/// links to folders (not followed, to stay out of cycles) are listed as skipped.
fn walk(
    root: &Path,
    strict: bool,
    files: &mut Vec<PathBuf>,
    skipped: &mut Vec<Skipped>,
) -> Result<()> {
    let entries = match sorted_entries(root) {
        Ok(entries) => entries,
        Err(source) if strict => {
            return Err(Error::Folder {
                path: root.to_path_buf(),
                source,
            });
        }
        Err(e) => {
            skipped.push(Skipped {
                path: root.to_path_buf(),
                reason: format!("unreadable folder: {e}"),
            });
            return Ok(());
        }
    };
    for path in entries {
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) => {
                skipped.push(Skipped {
                    path,
                    reason: format!("unreadable: {e}"),
                });
                continue;
            }
        };
        if meta.is_dir() {
            walk(&path, strict, files, skipped)?;
        } else if meta.file_type().is_symlink() && path.is_dir() {
            skipped.push(Skipped {
                path,
                reason: "link to a folder: not followed".into(),
            });
        } else {
            files.push(path);
        }
    }
    Ok(())
}

/// Reads every image of `sets` (see [`read_file`]), `progress` called once per file.
///
/// # Errors
/// With `strict`, the first file or folder that cannot be read, naming it; an empty
/// result (no image in any set) always.
pub fn read_sets(
    sets: Vec<SetSource>,
    mut skipped: Vec<Skipped>,
    options: &ReadOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Collection> {
    let mut files: Vec<(usize, PathBuf)> = Vec::new();
    for (s, set) in sets.iter().enumerate() {
        let root = set.root.as_deref().ok_or_else(|| Error::Parameter {
            name: "--set",
            message: format!("set {} has no folder", set.name),
        })?;
        let mut found = Vec::new();
        walk(root, options.strict, &mut found, &mut skipped)?;
        files.extend(found.into_iter().map(|f| (s, f)));
    }
    if options.strict
        && let Some(first) = skipped.first()
    {
        return Err(Error::Unreadable {
            path: first.path.clone(),
            reason: first.reason.clone(),
        });
    }
    let total = files.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let class_of = |s: usize, path: &Path| -> String {
        let root = sets[s].root.as_deref().unwrap_or(Path::new(""));
        let parent = path.parent().unwrap_or(root);
        match parent.strip_prefix(root) {
            Ok(rel) if !rel.as_os_str().is_empty() => rel.to_string_lossy().into_owned(),
            _ => ".".into(),
        }
    };
    let mut images = ImageSet {
        width: SIDE,
        height: SIDE,
        pixels: Vec::new(),
        info: Vec::new(),
        class_names: Vec::new(),
        source: sets
            .iter()
            .map(|s| match &s.root {
                Some(root) => format!("{} ({})", s.name, root.display()),
                None => s.name.clone(),
            })
            .collect::<Vec<_>>()
            .join(", "),
    };
    let mut class_ids: std::collections::HashMap<String, usize> = Default::default();
    // Exact capacities: a growing vector would hold its old and new buffers at once.
    images.pixels.reserve_exact(total * 3 * SIDE * SIDE);
    images.info.reserve_exact(total);
    let mut members = Vec::with_capacity(total);
    let mut next_index = vec![0usize; sets.len()];
    // Decoded a chunk at a time: in memory, the reduced images so far and one chunk's.
    for chunk in files.chunks(4096) {
        let read: Vec<std::result::Result<Reduced, String>> = chunk
            .par_iter()
            .map(|(_, path)| {
                let r = read_file(path, options.max_pixels);
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                progress(n, total);
                r
            })
            .collect();
        for ((s, path), r) in chunk.iter().zip(read) {
            match r {
                Ok(reduced) => {
                    let class = class_of(*s, path);
                    let next = class_ids.len();
                    let class = *class_ids.entry(class).or_insert(next);
                    images.class_names.resize(class_ids.len(), String::new());
                    images
                        .push(
                            &reduced.planes,
                            ImageInfo {
                                split: SplitName::Train,
                                index: next_index[*s],
                                path: path.to_string_lossy().into_owned(),
                                class,
                            },
                        )
                        .map_err(Error::Audit)?;
                    next_index[*s] += 1;
                    members.push(Member {
                        set: *s,
                        has_file: true,
                        size: reduced.size,
                    });
                }
                Err(reason) if options.strict => {
                    return Err(Error::Unreadable {
                        path: path.clone(),
                        reason,
                    });
                }
                Err(reason) => skipped.push(Skipped {
                    path: path.clone(),
                    reason,
                }),
            }
        }
    }
    // Class names sorted, and the images' class numbers with them.
    let mut names: Vec<(String, usize)> = class_ids.into_iter().collect();
    names.sort();
    let mut renumber = vec![0usize; names.len()];
    for (sorted, (_, first_seen)) in names.iter().enumerate() {
        renumber[*first_seen] = sorted;
    }
    for info in &mut images.info {
        info.class = renumber[info.class];
    }
    images.class_names = names.into_iter().map(|(name, _)| name).collect();
    if members.is_empty() {
        return Err(Error::NoImages {
            folders: sets.iter().filter_map(|s| s.root.clone()).collect(),
            skipped: skipped.len(),
        });
    }
    Ok(Collection {
        sets,
        images,
        members,
        skipped,
    })
}

/// One decoded image, reduced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reduced {
    /// Original width and height.
    pub size: (u32, u32),
    /// `3 x SIDE x SIDE` planes.
    pub planes: Vec<u8>,
}

/// The formats read.
fn supported(format: ImageFormat) -> bool {
    matches!(
        format,
        ImageFormat::Png
            | ImageFormat::Jpeg
            | ImageFormat::WebP
            | ImageFormat::Bmp
            | ImageFormat::Tiff
            | ImageFormat::Gif
    )
}

/// Reads, decodes (the first frame of an animation; grayscale, 16-bit, alpha and CMYK
/// converted to 8-bit RGB, alpha dropped) and reduces one file. The error is the reason it
/// is skipped, starting with its kind.
pub fn read_file(path: &Path, max_pixels: u64) -> std::result::Result<Reduced, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("unreadable: {e}"))?;
    decode_bytes(&bytes, max_pixels)
}

/// [`read_file`] on bytes already read.
pub fn decode_bytes(bytes: &[u8], max_pixels: u64) -> std::result::Result<Reduced, String> {
    if bytes.is_empty() {
        return Err("empty file: 0 bytes".into());
    }
    let format = image::guess_format(bytes)
        .map_err(|_| "not an image: no PNG, JPEG, WebP, BMP, TIFF or GIF signature".to_string())?;
    if !supported(format) {
        return Err(format!(
            "unsupported format: {format:?} (read: PNG, JPEG, WebP, BMP, TIFF, GIF)"
        ));
    }
    let (w, h) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|e| format!("cannot decode: {format:?} header: {e}"))?;
    let pixels = u64::from(w) * u64::from(h);
    if pixels > max_pixels {
        return Err(format!(
            "too large: {w}x{h} = {pixels} pixels, above the limit of {max_pixels} (--max-pixels)"
        ));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    // Room for the decoded image at 16 bits per channel with alpha, plus the decoder's own.
    limits.max_alloc = Some(pixels.saturating_mul(8).saturating_add(64 << 20));
    reader.limits(limits);
    let image = reader
        .decode()
        .map_err(|e| format!("cannot decode: {format:?}: {e}"))?;
    let rgb = image.to_rgb8();
    let (w, h) = rgb.dimensions();
    if w == 0 || h == 0 {
        return Err(format!("cannot decode: {format:?}: the image is {w}x{h}"));
    }
    Ok(Reduced {
        size: (w, h),
        planes: reduce(rgb.as_raw(), w as usize, h as usize),
    })
}

/// Area-averages an interleaved RGB image (`w x h`) to `3 x SIDE x SIDE` planes, one source
/// row at a time (no second full-size buffer). A `SIDE x SIDE` image is returned unchanged;
/// a side shorter than `SIDE` is first interpolated up to it.
pub fn reduce(rgb: &[u8], w: usize, h: usize) -> Vec<u8> {
    if (w, h) == (SIDE, SIDE) {
        return interleaved_to_planes(rgb);
    }
    if w < SIDE || h < SIDE {
        // Smaller than the working size: interpolated (bilinear), not repeated in blocks,
        // whose edges would read as detail that the original does not have.
        let small =
            image::RgbImage::from_raw(w as u32, h as u32, rgb.to_vec()).expect("w x h x 3 bytes");
        let (tw, th) = (w.max(SIDE), h.max(SIDE));
        let up = image::imageops::resize(
            &small,
            tw as u32,
            th as u32,
            image::imageops::FilterType::Triangle,
        );
        return reduce(up.as_raw(), tw, th);
    }
    let (wx, wy) = (area_weights(w, SIDE), area_weights(h, SIDE));
    // Per source column, the target columns it feeds and with what weight.
    let mut feeds: Vec<Vec<(usize, f32)>> = vec![Vec::new(); w];
    for (tx, xs) in wx.iter().enumerate() {
        for &(x, b) in xs {
            feeds[x].push((tx, b));
        }
    }
    let mut rows_of: Vec<Vec<(usize, f32)>> = vec![Vec::new(); h];
    for (ty, ys) in wy.iter().enumerate() {
        for &(y, a) in ys {
            rows_of[y].push((ty, a));
        }
    }
    let mut acc = vec![0.0f32; 3 * SIDE * SIDE];
    let mut row = vec![0.0f32; 3 * SIDE];
    for (y, targets) in rows_of.iter().enumerate() {
        row.iter_mut().for_each(|v| *v = 0.0);
        let src = &rgb[y * w * 3..(y + 1) * w * 3];
        for (x, px) in src.chunks_exact(3).enumerate() {
            for &(tx, b) in &feeds[x] {
                for c in 0..3 {
                    row[c * SIDE + tx] += b * f32::from(px[c]);
                }
            }
        }
        for &(ty, a) in targets {
            for c in 0..3 {
                let out = &mut acc[c * SIDE * SIDE + ty * SIDE..c * SIDE * SIDE + (ty + 1) * SIDE];
                for (o, v) in out.iter_mut().zip(&row[c * SIDE..(c + 1) * SIDE]) {
                    *o += a * v;
                }
            }
        }
    }
    acc.iter()
        .map(|v| (v + 0.5).floor().clamp(0.0, 255.0) as u8)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_working_size_image_is_unchanged_and_a_doubled_one_reduces_to_it() {
        let rgb: Vec<u8> = (0..SIDE * SIDE * 3).map(|i| (i * 7 % 251) as u8).collect();
        let planes = reduce(&rgb, SIDE, SIDE);
        assert_eq!(planes, interleaved_to_planes(&rgb));
        // Each pixel repeated 2 x 2: the area average gives the original back.
        let mut big = vec![0u8; 4 * rgb.len()];
        for y in 0..2 * SIDE {
            for x in 0..2 * SIDE {
                let s = ((y / 2) * SIDE + x / 2) * 3;
                big[(y * 2 * SIDE + x) * 3..][..3].copy_from_slice(&rgb[s..s + 3]);
            }
        }
        assert_eq!(reduce(&big, 2 * SIDE, 2 * SIDE), planes);
    }

    #[test]
    fn bad_bytes_are_reasons_not_panics() {
        assert!(
            decode_bytes(&[], MAX_PIXELS)
                .unwrap_err()
                .starts_with("empty file")
        );
        assert!(
            decode_bytes(b"hello, world", MAX_PIXELS)
                .unwrap_err()
                .starts_with("not an image")
        );
        let mut png = Vec::new();
        image::RgbImage::from_pixel(40, 30, image::Rgb([9, 99, 199]))
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        assert!(
            decode_bytes(&png[..png.len() / 2], MAX_PIXELS)
                .unwrap_err()
                .starts_with("cannot decode")
        );
        assert!(
            decode_bytes(&png, 1000)
                .unwrap_err()
                .starts_with("too large")
        );
        let ok = decode_bytes(&png, MAX_PIXELS).unwrap();
        assert_eq!(ok.size, (40, 30));
        assert!(ok.planes[..SIDE * SIDE].iter().all(|&v| v == 9));
        assert!(ok.planes[2 * SIDE * SIDE..].iter().all(|&v| v == 199));
    }
}
