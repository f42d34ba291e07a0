//! Planted near-duplicates for validating the audit: copies of chosen images under every
//! transformation the audit should see through, at strengths a person would still call the
//! same photo, and the measurement of recall and of false pairs.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{AuditError, Result};
use crate::features;
use crate::images::{ImageInfo, ImageSet, SplitName, interleaved_to_planes, planes_to_interleaved};

/// A transformation of a planted copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    /// Re-encoded as JPEG at quality 40-90.
    Jpeg,
    /// Moved by 1-3 pixels in x and/or y (edges repeated).
    Shift,
    /// A 88-96 % crop, scaled back to full size.
    CropRescale,
    /// Scaled down to 70-85 % and back up.
    Rescale,
    /// Mirrored left to right.
    Mirror,
    /// Brightness moved by 20-50 grey levels up or down.
    Brightness,
    /// Contrast scaled by 0.6-0.8 or 1.25-1.5 around the mean.
    Contrast,
    /// Each colour channel scaled by 0.75-1.25 (a colour cast).
    Colour,
    /// Shifted by 1-3 pixels and brightened by 20-40 levels.
    ShiftBrighten,
}

impl Transform {
    /// Every transformation.
    pub const ALL: [Transform; 9] = [
        Transform::Jpeg,
        Transform::Shift,
        Transform::CropRescale,
        Transform::Rescale,
        Transform::Mirror,
        Transform::Brightness,
        Transform::Contrast,
        Transform::Colour,
        Transform::ShiftBrighten,
    ];

    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            Transform::Jpeg => "jpeg",
            Transform::Shift => "shift",
            Transform::CropRescale => "crop_rescale",
            Transform::Rescale => "rescale",
            Transform::Mirror => "mirror",
            Transform::Brightness => "brightness",
            Transform::Contrast => "contrast",
            Transform::Colour => "colour",
            Transform::ShiftBrighten => "shift_brighten",
        }
    }
}

/// Bilinear resampling of one `sw x sh` plane to `dw x dh`, sampling the source window
/// `[x0, x0 + cw) x [y0, y0 + ch)` (pixel centres aligned).
#[allow(clippy::too_many_arguments)]
fn bilinear(
    src: &[u8],
    sw: usize,
    sh: usize,
    (x0, y0, cw, ch): (f32, f32, f32, f32),
    dw: usize,
    dh: usize,
) -> Vec<u8> {
    let mut out = vec![0u8; dw * dh];
    for ty in 0..dh {
        let sy = (y0 + (ty as f32 + 0.5) * ch / dh as f32 - 0.5).clamp(0.0, (sh - 1) as f32);
        let (yi, fy) = (sy.floor() as usize, sy - sy.floor());
        let yj = (yi + 1).min(sh - 1);
        for tx in 0..dw {
            let sx = (x0 + (tx as f32 + 0.5) * cw / dw as f32 - 0.5).clamp(0.0, (sw - 1) as f32);
            let (xi, fx) = (sx.floor() as usize, sx - sx.floor());
            let xj = (xi + 1).min(sw - 1);
            let p = |y: usize, x: usize| f32::from(src[y * sw + x]);
            let v = (1.0 - fy) * ((1.0 - fx) * p(yi, xi) + fx * p(yi, xj))
                + fy * ((1.0 - fx) * p(yj, xi) + fx * p(yj, xj));
            out[ty * dw + tx] = v.round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

/// Applies `t` to `planes` (`w x h`, three planes) with strengths drawn from `rng`.
///
/// # Errors
/// JPEG encoding or decoding failures.
pub fn apply(
    planes: &[u8],
    w: usize,
    h: usize,
    t: Transform,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<u8>> {
    let n = w * h;
    let map = |f: &dyn Fn(usize, u8) -> f32| -> Vec<u8> {
        planes
            .iter()
            .enumerate()
            .map(|(k, &v)| f(k / n, v).round().clamp(0.0, 255.0) as u8)
            .collect()
    };
    let shift = |planes: &[u8], dx: isize, dy: isize| -> Vec<u8> {
        let mut out = vec![0u8; planes.len()];
        for c in 0..3 {
            for y in 0..h as isize {
                for x in 0..w as isize {
                    let sy = (y - dy).clamp(0, h as isize - 1) as usize;
                    let sx = (x - dx).clamp(0, w as isize - 1) as usize;
                    out[c * n + y as usize * w + x as usize] = planes[c * n + sy * w + sx];
                }
            }
        }
        out
    };
    let random_shift = |rng: &mut ChaCha8Rng| loop {
        let (dx, dy) = (
            rng.random_range(-3i64..=3) as isize,
            rng.random_range(-3i64..=3) as isize,
        );
        if (dx, dy) != (0, 0) {
            return (dx, dy);
        }
    };
    Ok(match t {
        Transform::Jpeg => {
            let quality = rng.random_range(40u8..=90);
            let rgb = planes_to_interleaved(planes);
            let mut bytes = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality)
                .encode(&rgb, w as u32, h as u32, image::ExtendedColorType::Rgb8)
                .map_err(|e| AuditError::InvalidParameter {
                    name: "planted JPEG",
                    message: e.to_string(),
                })?;
            let decoded = image::load_from_memory(&bytes)
                .map_err(|e| AuditError::InvalidParameter {
                    name: "planted JPEG",
                    message: e.to_string(),
                })?
                .to_rgb8();
            interleaved_to_planes(decoded.as_raw())
        }
        Transform::Shift => {
            let (dx, dy) = random_shift(rng);
            shift(planes, dx, dy)
        }
        Transform::CropRescale => {
            let s = rng.random_range(0.88f32..0.96);
            let (cw, ch) = (w as f32 * s, h as f32 * s);
            let x0 = rng.random_range(0.0..=(w as f32 - cw));
            let y0 = rng.random_range(0.0..=(h as f32 - ch));
            (0..3)
                .flat_map(|c| bilinear(&planes[c * n..(c + 1) * n], w, h, (x0, y0, cw, ch), w, h))
                .collect()
        }
        Transform::Rescale => {
            let s = rng.random_range(0.70f32..0.85);
            let (sw, sh) = (
                ((w as f32) * s).round() as usize,
                ((h as f32) * s).round() as usize,
            );
            (0..3)
                .flat_map(|c| {
                    let plane = &planes[c * n..(c + 1) * n];
                    let small = bilinear(plane, w, h, (0.0, 0.0, w as f32, h as f32), sw, sh);
                    bilinear(&small, sw, sh, (0.0, 0.0, sw as f32, sh as f32), w, h)
                })
                .collect()
        }
        Transform::Mirror => {
            let mut out = planes.to_vec();
            for row in out.chunks_mut(w) {
                row.reverse();
            }
            out
        }
        Transform::Brightness => {
            let delta =
                rng.random_range(20.0f32..50.0) * if rng.random_bool(0.5) { 1.0 } else { -1.0 };
            map(&|_, v| f32::from(v) + delta)
        }
        Transform::Contrast => {
            let factor = if rng.random_bool(0.5) {
                rng.random_range(0.6f32..0.8)
            } else {
                rng.random_range(1.25f32..1.5)
            };
            let mean = planes.iter().map(|&v| f32::from(v)).sum::<f32>() / planes.len() as f32;
            map(&|_, v| mean + (f32::from(v) - mean) * factor)
        }
        Transform::Colour => {
            let gains: Vec<f32> = (0..3).map(|_| rng.random_range(0.75f32..1.25)).collect();
            map(&|c, v| f32::from(v) * gains[c])
        }
        Transform::ShiftBrighten => {
            let (dx, dy) = random_shift(rng);
            let delta = rng.random_range(20.0f32..40.0);
            shift(planes, dx, dy)
                .into_iter()
                .map(|v| (f32::from(v) + delta).round().clamp(0.0, 255.0) as u8)
                .collect()
        }
    })
}

/// A planted copy: which image it copies and how.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Planted {
    /// The source image's position in the set.
    pub source: usize,
    /// The copy's position in the set (after the originals).
    pub copy: usize,
    /// The transformation.
    pub transform: Transform,
}

/// Appends, for `per_transform` images of the training split chosen with `seed`, one copy
/// per transformation; the copies get the source's class, split `train` and indices after
/// the last training image, and path `planted/<transform>/<source index>`.
///
/// # Errors
/// A set without training images, or encoding failures.
pub fn plant(set: &mut ImageSet, per_transform: usize, seed: u64) -> Result<Vec<Planted>> {
    let train: Vec<usize> = (0..set.len())
        .filter(|&i| set.info[i].split == SplitName::Train)
        .collect();
    if train.is_empty() {
        return Err(AuditError::InvalidParameter {
            name: "planted copies",
            message: "the data set has no training images to copy".into(),
        });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut next_index = set.count(SplitName::Train);
    let mut planted = Vec::new();
    for t in Transform::ALL {
        for _ in 0..per_transform {
            let source = train[rng.random_range(0..train.len())];
            let copy = apply(set.image(source), set.width, set.height, t, &mut rng)?;
            let info = ImageInfo {
                split: SplitName::Train,
                index: next_index,
                path: format!("planted/{}/{}", t.name(), set.info[source].index),
                class: set.info[source].class,
            };
            next_index += 1;
            set.push(&copy, info)?;
            planted.push(Planted {
                source,
                copy: set.len() - 1,
                transform: t,
            });
        }
    }
    Ok(planted)
}

/// Recall per transformation and the false-pair rate of a threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    /// The threshold judged.
    pub threshold: f32,
    /// Per transformation: copies, copies found (paired with their source at or above the
    /// threshold by the full audit).
    pub recall: Vec<(Transform, usize, usize)>,
    /// All planted copies and those found.
    pub total: (usize, usize),
    /// Random pairs of different original images of the same class that were aligned.
    pub random_pairs: usize,
    /// Of those, pairs scoring at or above the threshold (false pairs, unless the two images
    /// are natural duplicates; see `false_pairs_found_by_audit`).
    pub random_pairs_above: usize,
    /// Of the random pairs above the threshold, those the audit itself groups as duplicates
    /// of the originals (natural near-duplicates, not errors).
    pub false_pairs_found_by_audit: usize,
    /// The alignment scores of the planted copies that were missed, for the report.
    pub missed: Vec<(Planted, f32)>,
}

/// Measures recall (a planted copy counts as found when the audit's pairs contain
/// `(source, copy)`) and aligns `random_pairs` random same-class pairs of different
/// original images to estimate the false-pair rate.
pub fn validate(
    set: &ImageSet,
    features: &features::Features,
    planted: &[Planted],
    audit: &crate::audit::Audit,
    originals: usize,
    random_pairs: usize,
    seed: u64,
) -> Validation {
    let score = |a: usize, b: usize, gate: f32| features::align(features, a, b, gate).score;
    validate_with(set, &score, planted, audit, originals, random_pairs, seed)
}

/// [`validate`] of an audit by [`crate::audit::run_fused`]: the random pairs (and the
/// missed copies' scores) are scored by the same fused score, with `similarity` the fused
/// one and `weight` the aligned similarity's weight.
#[allow(clippy::too_many_arguments)]
pub fn validate_fused(
    set: &ImageSet,
    features: &features::Features,
    planted: &[Planted],
    audit: &crate::audit::Audit,
    originals: usize,
    random_pairs: usize,
    seed: u64,
    fusion: (f32, &(dyn Fn(usize, usize) -> f32 + Sync)),
) -> Validation {
    let (weight, similarity) = fusion;
    let params = audit.params;
    let score = |a: usize, b: usize, gate: f32| {
        let other = similarity(a, b);
        let gate = if gate <= -1.0 {
            -1.0
        } else {
            crate::audit::fused_gate(&params, other, weight)
        };
        let aligned = features::align(features, a, b, gate).score;
        crate::audit::fused_score(aligned, other, weight)
    };
    validate_with(set, &score, planted, audit, originals, random_pairs, seed)
}

/// [`validate`] with each image's views computed from its pixels when needed (for an audit
/// by [`crate::audit::run_compact`]): the same numbers.
pub fn validate_compact(
    set: &ImageSet,
    planted: &[Planted],
    audit: &crate::audit::Audit,
    originals: usize,
    random_pairs: usize,
    seed: u64,
) -> Validation {
    let score = |a: usize, b: usize, gate: f32| {
        let view = |i: usize| features::OwnedView::of(set.image(i), set.width, set.height);
        let (va, vb) = (view(a), view(b));
        features::align_views(va.view(), vb.view(), None, gate).score
    };
    validate_with(set, &score, planted, audit, originals, random_pairs, seed)
}

/// `n` random pairs `(a, b)`, `a < b`, of different images of the same class among the
/// first `among` images of `set` (a class drawn uniformly, then two of its images; pairs
/// of identical pixels are skipped), seeded; fewer when no class has two images.
pub fn random_same_class_pairs(
    set: &ImageSet,
    among: usize,
    n: usize,
    seed: u64,
) -> Vec<(usize, usize)> {
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); set.class_names.len()];
    for i in 0..among.min(set.len()) {
        by_class[set.info[i].class].push(i);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut pairs = Vec::with_capacity(n);
    while pairs.len() < n {
        let class = &by_class[rng.random_range(0..by_class.len())];
        if class.len() < 2 {
            if by_class.iter().all(|c| c.len() < 2) {
                break;
            }
            continue;
        }
        let (a, b) = (
            class[rng.random_range(0..class.len())],
            class[rng.random_range(0..class.len())],
        );
        if a != b && set.image(a) != set.image(b) {
            pairs.push((a.min(b), a.max(b)));
        }
    }
    pairs
}

fn validate_with(
    set: &ImageSet,
    score: &(dyn Fn(usize, usize, f32) -> f32 + Sync),
    planted: &[Planted],
    audit: &crate::audit::Audit,
    originals: usize,
    random_pairs: usize,
    seed: u64,
) -> Validation {
    let threshold = audit.params.threshold;
    let found: std::collections::HashSet<(usize, usize)> =
        audit.pairs.iter().map(|p| (p.a, p.b)).collect();
    let mut recall = Vec::new();
    let mut missed = Vec::new();
    for t in Transform::ALL {
        let of_t: Vec<&Planted> = planted.iter().filter(|p| p.transform == t).collect();
        let hit = of_t
            .iter()
            .filter(|p| found.contains(&(p.source.min(p.copy), p.source.max(p.copy))))
            .count();
        for p in of_t
            .iter()
            .filter(|p| !found.contains(&(p.source.min(p.copy), p.source.max(p.copy))))
        {
            missed.push((**p, score(p.source, p.copy, -1.0)));
        }
        recall.push((t, of_t.len(), hit));
    }
    let total = (
        recall.iter().map(|r| r.1).sum(),
        recall.iter().map(|r| r.2).sum(),
    );
    let pairs = random_same_class_pairs(set, originals, random_pairs, seed);
    let above: Vec<(usize, usize)> = pairs
        .par_iter()
        .filter(|&&(a, b)| score(a, b, audit.params.coarse_gate) >= threshold)
        .copied()
        .collect();
    let grouped = above.iter().filter(|p| found.contains(p)).count();
    Validation {
        threshold,
        recall,
        total,
        random_pairs: pairs.len(),
        random_pairs_above: above.len(),
        false_pairs_found_by_audit: grouped,
        missed,
    }
}
