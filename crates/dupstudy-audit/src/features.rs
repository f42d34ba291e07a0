//! What the audit compares: per image its three colour planes at a fixed working size, each
//! standardized on its own (so the comparison is invariant to brightness, contrast and a
//! colour cast: a gain and offset per channel), a half-size blurred grayscale version for
//! the coarse alignment search, and a 64-number thumbnail (8 x 8 of a strongly blurred
//! grayscale, unit length) for the candidate search, of the image and of its mirror.

use rayon::prelude::*;

use crate::images::ImageSet;

/// Side of the working grayscale image.
pub const WORK: usize = 32;
/// Side of the coarse image.
pub(crate) const COARSE: usize = WORK / 2;
/// Side of the thumbnail.
pub(crate) const THUMB: usize = 8;
/// Numbers per thumbnail.
pub(crate) const THUMB_DIM: usize = THUMB * THUMB;
/// Query thumbnails per image: the image, its mirror, and the image moved by 2 working
/// pixels in each of the 8 directions.
pub(crate) const QUERIES: usize = 10;
/// The moves (in working pixels) of the query thumbnails after the first two.
pub(crate) const QUERY_SHIFTS: [(isize, isize); 8] = [
    (-2, -2),
    (0, -2),
    (2, -2),
    (-2, 0),
    (2, 0),
    (-2, 2),
    (0, 2),
    (2, 2),
];

/// The prepared views of every image of a set.
#[derive(Debug, Clone)]
pub struct Features {
    /// `n x 3 x WORK x WORK`: the colour planes, each with zero mean and unit length (all
    /// zero for a flat plane).
    pub work: Vec<f32>,
    /// `n x COARSE x COARSE`: 2 x 2 means of `work`, zero mean, unit length.
    pub coarse: Vec<f32>,
    /// `n x THUMB_DIM`: the thumbnail of each image (zero mean, unit length), what the
    /// candidate search indexes.
    pub thumbs: Vec<f32>,
    /// `n x QUERIES x THUMB_DIM`: per image the thumbnails it is looked up with (itself, its
    /// mirror, and 8 moved copies), so that mirrored and shifted copies meet their source.
    pub queries: Vec<f32>,
}

impl Features {
    /// Images described.
    pub fn len(&self) -> usize {
        self.work.len() / (3 * WORK * WORK)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.work.is_empty()
    }

    /// The working image of `i`.
    pub fn work(&self, i: usize) -> &[f32] {
        &self.work[i * 3 * WORK * WORK..(i + 1) * 3 * WORK * WORK]
    }

    /// The coarse image of `i`.
    pub fn coarse(&self, i: usize) -> &[f32] {
        &self.coarse[i * COARSE * COARSE..(i + 1) * COARSE * COARSE]
    }

    /// The thumbnail of image `i`.
    pub fn thumb(&self, i: usize) -> &[f32] {
        &self.thumbs[i * THUMB_DIM..(i + 1) * THUMB_DIM]
    }
}

/// Computes the features of every image (in parallel; deterministic).
pub fn compute(set: &ImageSet) -> Features {
    let per: Vec<Views> = (0..set.len())
        .into_par_iter()
        .map(|i| describe(set.image(i), set.width, set.height))
        .collect();
    let mut f = Features {
        work: Vec::with_capacity(set.len() * 3 * WORK * WORK),
        coarse: Vec::with_capacity(set.len() * COARSE * COARSE),
        thumbs: Vec::with_capacity(set.len() * THUMB_DIM),
        queries: Vec::with_capacity(set.len() * QUERIES * THUMB_DIM),
    };
    for v in per {
        f.work.extend(v.work);
        f.coarse.extend(v.coarse);
        f.thumbs.extend(v.thumb);
        f.queries.extend(v.queries);
    }
    f
}

/// One image's views, each standardized.
#[derive(Debug, Clone, PartialEq)]
pub struct Views {
    /// The colour planes at the working size (`3 x WORK x WORK`), for the alignment.
    pub work: Vec<f32>,
    /// The blurred grayscale at the coarse size (`COARSE x COARSE`), for the alignment's
    /// first pass.
    pub coarse: Vec<f32>,
    /// The smoothed 8 x 8 thumbnail the candidate index holds.
    pub thumb: Vec<f32>,
    /// The thumbnails it is queried with: itself, its mirror and eight shifted copies.
    pub queries: Vec<f32>,
}

/// One image's [`Views`] (`planes`: its colour planes, `width x height` each).
pub fn describe(planes: &[u8], width: usize, height: usize) -> Views {
    let n = width * height;
    let gray: Vec<f32> = (0..n)
        .map(|p| {
            0.299 * f32::from(planes[p])
                + 0.587 * f32::from(planes[n + p])
                + 0.114 * f32::from(planes[2 * n + p])
        })
        .collect();
    let gray = area_resize(&gray, width, height, WORK, WORK);
    let mut work = Vec::with_capacity(3 * WORK * WORK);
    for c in 0..3 {
        let plane: Vec<f32> = planes[c * n..(c + 1) * n]
            .iter()
            .map(|&v| f32::from(v))
            .collect();
        let mut plane = area_resize(&plane, width, height, WORK, WORK);
        standardize(&mut plane);
        work.extend(plane);
    }
    let blurred = box_blur3(&gray, WORK);
    let mut coarse = area_resize(&blurred, WORK, WORK, COARSE, COARSE);
    standardize(&mut coarse);
    // Three box blurs (about a Gaussian of 1.7 pixels) before the 4 x 4 means, so that a
    // shift of a few pixels moves the thumbnail little.
    let smooth = box_blur3(&box_blur3(&blurred, WORK), WORK);
    let thumb_of = |img: &[f32]| {
        let mut t = area_resize(img, WORK, WORK, THUMB, THUMB);
        standardize(&mut t);
        t
    };
    let thumb = thumb_of(&smooth);
    let mut queries = Vec::with_capacity(QUERIES * THUMB_DIM);
    queries.extend_from_slice(&thumb);
    let mut mirrored = thumb.clone();
    for row in mirrored.chunks_mut(THUMB) {
        row.reverse();
    }
    queries.extend(mirrored);
    for (dx, dy) in QUERY_SHIFTS {
        queries.extend(thumb_of(&shifted(&smooth, WORK, dx, dy)));
    }
    Views {
        work,
        coarse,
        thumb,
        queries,
    }
}

/// `img` (`side x side`) moved by `(dx, dy)`, edges repeated.
fn shifted(img: &[f32], side: usize, dx: isize, dy: isize) -> Vec<f32> {
    let s = side as isize;
    let mut out = vec![0.0f32; side * side];
    for y in 0..s {
        for x in 0..s {
            let sy = (y - dy).clamp(0, s - 1);
            let sx = (x - dx).clamp(0, s - 1);
            out[(y * s + x) as usize] = img[(sy * s + sx) as usize];
        }
    }
    out
}

/// The weights of an area resampling of `s` source pixels to `d` target pixels along one
/// axis: per target pixel, the source pixels it covers and the share of each (summing to 1).
pub fn area_weights(s: usize, d: usize) -> Vec<Vec<(usize, f32)>> {
    let scale = s as f64 / d as f64;
    (0..d)
        .map(|t| {
            let (lo, hi) = (t as f64 * scale, (t + 1) as f64 * scale);
            let mut w = Vec::new();
            let mut k = lo.floor() as usize;
            while (k as f64) < hi && k < s {
                let overlap = (hi.min(k as f64 + 1.0) - lo.max(k as f64)).max(0.0);
                if overlap > 0.0 {
                    w.push((k, (overlap / scale) as f32));
                }
                k += 1;
            }
            w
        })
        .collect()
}

/// Resamples `src` (`sw x sh`) to `dw x dh` by averaging the source area each target pixel
/// covers (fractional overlaps weighted).
pub fn area_resize(src: &[f32], sw: usize, sh: usize, dw: usize, dh: usize) -> Vec<f32> {
    if (sw, sh) == (dw, dh) {
        return src.to_vec();
    }
    let (wx, wy) = (area_weights(sw, dw), area_weights(sh, dh));
    let mut out = vec![0.0f32; dw * dh];
    for (ty, ys) in wy.iter().enumerate() {
        for (tx, xs) in wx.iter().enumerate() {
            let mut v = 0.0;
            for &(y, a) in ys {
                for &(x, b) in xs {
                    v += a * b * src[y * sw + x];
                }
            }
            out[ty * dw + tx] = v;
        }
    }
    out
}

/// 3 x 3 box blur of a square `side x side` image, edges clamped.
fn box_blur3(src: &[f32], side: usize) -> Vec<f32> {
    box_blur3_rect(src, side, side)
}

/// 3 x 3 box blur of a `w x h` image, edges clamped.
fn box_blur3_rect(src: &[f32], w: usize, h: usize) -> Vec<f32> {
    let at = |y: isize, x: isize| {
        src[(y.clamp(0, h as isize - 1) as usize) * w + x.clamp(0, w as isize - 1) as usize]
    };
    let mut out = vec![0.0f32; w * h];
    for y in 0..h as isize {
        for x in 0..w as isize {
            let mut s = 0.0;
            for dy in -1..=1 {
                for dx in -1..=1 {
                    s += at(y + dy, x + dx);
                }
            }
            out[y as usize * w + x as usize] = s / 9.0;
        }
    }
    out
}

/// Zero mean and unit length in place (all zero if the values are constant).
pub fn standardize(v: &mut [f32]) {
    let mean = v.iter().sum::<f32>() / v.len() as f32;
    v.iter_mut().for_each(|x| *x -= mean);
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 1e-6 {
        v.iter_mut().for_each(|x| *x /= norm);
    } else {
        v.fill(0.0);
    }
}

/// The overlap of two `side x side` planes when the second is moved by `(dx, dy)`:
/// `(x0, x1, y0, y1)` in the first's coordinates, or `None` when it keeps less than half
/// the image in either direction.
fn overlap(side: usize, dx: isize, dy: isize) -> Option<(isize, isize, isize, isize)> {
    let s = side as isize;
    let (x0, x1) = (0.max(-dx), s.min(s - dx));
    let (y0, y1) = (0.max(-dy), s.min(s - dy));
    (x1 - x0 >= s / 2 && y1 - y0 >= s / 2).then_some((x0, x1, y0, y1))
}

/// Covariance and the two variances (unnormalized) of plane `a` against plane `b` moved by
/// `(dx, dy)` (mirrored first, with `mirror`) over `area` (see [`overlap`]).
fn comoments(
    a: &[f32],
    b: &[f32],
    side: usize,
    (dx, dy, mirror): (isize, isize, bool),
    (x0, x1, y0, y1): (isize, isize, isize, isize),
) -> (f32, f32, f32) {
    let s = side as isize;
    let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (0.0f32, 0.0f32, 0.0f32, 0.0f32, 0.0f32);
    for y in y0..y1 {
        let ra = &a[(y * s) as usize..((y + 1) * s) as usize];
        let rb = &b[((y + dy) * s) as usize..((y + dy + 1) * s) as usize];
        for x in x0..x1 {
            let va = ra[x as usize];
            let bx = x + dx;
            let vb = if mirror {
                rb[(s - 1 - bx) as usize]
            } else {
                rb[bx as usize]
            };
            sa += va;
            sb += vb;
            saa += va * va;
            sbb += vb * vb;
            sab += va * vb;
        }
    }
    let n = ((x1 - x0) * (y1 - y0)) as f32;
    (sab - sa * sb / n, saa - sa * sa / n, sbb - sb * sb / n)
}

/// Normalized cross-correlation of `a` and `b` (both `side x side`) over their overlap when
/// `b` is moved by `(dx, dy)` (and mirrored first, with `mirror`): compares `a[y][x]` with
/// `b'[y + dy][x + dx]`. The overlap must keep at least half the image in each direction.
pub fn ncc(a: &[f32], b: &[f32], side: usize, dx: isize, dy: isize, mirror: bool) -> f32 {
    let Some(area) = overlap(side, dx, dy) else {
        return 0.0;
    };
    let (cov, var_a, var_b) = comoments(a, b, side, (dx, dy, mirror), area);
    let var = var_a * var_b;
    if var <= 1e-12 { 0.0 } else { cov / var.sqrt() }
}

/// Normalized cross-correlation of two colour images (`3 x side x side`, planes as in
/// [`Features::work`]) over their overlap when `b` is moved by `(dx, dy)` (and mirrored
/// first): each channel's mean is removed over the overlap, and the covariances and
/// variances of the three channels are pooled.
pub fn ncc_colour(a: &[f32], b: &[f32], side: usize, dx: isize, dy: isize, mirror: bool) -> f32 {
    let Some(area) = overlap(side, dx, dy) else {
        return 0.0;
    };
    let plane = side * side;
    let (mut cov, mut var_a, mut var_b) = (0.0f32, 0.0f32, 0.0f32);
    for c in 0..3 {
        let (pa, pb) = (
            &a[c * plane..(c + 1) * plane],
            &b[c * plane..(c + 1) * plane],
        );
        let (cv, va, vb) = comoments(pa, pb, side, (dx, dy, mirror), area);
        cov += cv;
        var_a += va;
        var_b += vb;
    }
    let var = var_a * var_b;
    if var <= 1e-12 { 0.0 } else { cov / var.sqrt() }
}

/// How `b` was best aligned to `a`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Alignment {
    /// The similarity in `[-1, 1]`: the geometric mean of `colour` and `detail` (0 if
    /// either is negative), or the coarse grayscale correlation when the coarse search
    /// already stayed below the gate.
    pub score: f32,
    /// The pooled normalized cross-correlation of the colour planes ([`ncc_colour`]) at
    /// the alignment.
    pub colour: f32,
    /// The normalized cross-correlation of the fine detail (the grayscale minus its 3x3
    /// blur) at the alignment: different photos of similar scenes (two seascapes) share
    /// their large shapes but not their detail.
    pub detail: f32,
    /// Whether `b` was mirrored.
    pub mirror: bool,
    /// Horizontal shift in working pixels.
    pub dx: isize,
    /// Vertical shift in working pixels.
    pub dy: isize,
}

/// Bilinear resampling of the window `[x0, x0 + size) x [y0, y0 + size)` of the square
/// plane `src` (`side x side`) to `out x out` (pixel centres aligned, edges clamped).
fn resample_window(src: &[f32], side: usize, x0: f32, y0: f32, size: f32, out: usize) -> Vec<f32> {
    let mut dst = vec![0.0f32; out * out];
    for ty in 0..out {
        let (yi, yj, fy) = source_coord(y0, ty, size, out, side);
        for tx in 0..out {
            let (xi, xj, fx) = source_coord(x0, tx, size, out, side);
            let p = |y: usize, x: usize| src[y * side + x];
            dst[ty * out + tx] = (1.0 - fy) * ((1.0 - fx) * p(yi, xi) + fx * p(yi, xj))
                + fy * ((1.0 - fx) * p(yj, xi) + fx * p(yj, xj));
        }
    }
    dst
}

/// Where output pixel `t` of a window starting at `origin` and `size` source pixels long,
/// resampled to `out` pixels, reads a plane of `side`: the two source pixels and the
/// second's weight (pixel centres aligned, edges clamped).
#[inline]
fn source_coord(origin: f32, t: usize, size: f32, out: usize, side: usize) -> (usize, usize, f32) {
    let last = (side - 1) as f32;
    let s = (origin + (t as f32 + 0.5) * size / out as f32 - 0.5).clamp(0.0, last);
    let (i, f) = (s.floor() as usize, s - s.floor());
    (i, (i + 1).min(side - 1), f)
}

/// Numbers in a coarse image.
const COARSE_LEN: usize = COARSE * COARSE;

/// The coarse crop windows of one zoom: the window's side in source pixels and, per offset
/// of half a coarse pixel, the source coordinates of its rows (or columns), as
/// [`source_coord`] gives them.
struct ZoomGrid {
    zoom: f32,
    offsets: Vec<[(usize, usize, f32); COARSE]>,
}

/// The grids of [`ZOOMS`], computed once.
fn zoom_grids() -> &'static [ZoomGrid] {
    static GRIDS: std::sync::OnceLock<Vec<ZoomGrid>> = std::sync::OnceLock::new();
    GRIDS.get_or_init(|| {
        ZOOMS
            .iter()
            .map(|&zoom| {
                let size = COARSE as f32 * zoom;
                let room = COARSE as f32 - size;
                let steps = (room / 0.5).floor() as usize;
                let offsets = (0..=steps)
                    .map(|k| {
                        std::array::from_fn(|t| {
                            source_coord(k as f32 * 0.5, t, size, COARSE, COARSE)
                        })
                    })
                    .collect();
                ZoomGrid { zoom, offsets }
            })
            .collect()
    })
}

/// The best coarse crop, `(score, b_is_big, zoom, x0, y0)`: of either image (`ca`, or
/// `cb` already mirrored as the alignment found) against a window of the other (88, 92 and
/// 96 %, offsets of half a coarse pixel) resampled to full size and standardized, the
/// normalized cross-correlation ([`ncc`] at no shift). The same numbers, window for window,
/// as resampling each window with [`resample_window`], [`standardize`] and [`ncc`], and the
/// same winner (the first best in the order image b big then a big, zoom, row offset,
/// column offset): the rows are blended from columns blended once per column offset, the
/// small image's sums are taken once, and four windows' sums run side by side (each sum
/// still one chain in pixel order).
fn best_coarse_crop(ca: &[f32], cb: &[f32]) -> Option<(f32, bool, f32, f32, f32)> {
    let mut best: Option<(f32, bool, f32, f32, f32)> = None;
    let mut across = [0.0f32; COARSE_LEN];
    let mut windows = Vec::new();
    for b_is_big in [true, false] {
        let (big, small) = if b_is_big { (cb, ca) } else { (ca, cb) };
        let (mut sa, mut saa) = (0.0f32, 0.0f32);
        for &va in small {
            sa += va;
            saa += va * va;
        }
        for grid in zoom_grids() {
            let n = grid.offsets.len();
            windows.clear();
            windows.resize(n * n, [0.0f32; COARSE_LEN]);
            for (sx, xs) in grid.offsets.iter().enumerate() {
                for (y, row) in across.chunks_exact_mut(COARSE).enumerate() {
                    let src = &big[y * COARSE..(y + 1) * COARSE];
                    for (a, &(xi, xj, fx)) in row.iter_mut().zip(xs) {
                        *a = (1.0 - fx) * src[xi] + fx * src[xj];
                    }
                }
                for (sy, ys) in grid.offsets.iter().enumerate() {
                    let window = &mut windows[sy * n + sx];
                    for (out, &(yi, yj, fy)) in window.chunks_exact_mut(COARSE).zip(ys) {
                        let (ri, rj) = (
                            &across[yi * COARSE..(yi + 1) * COARSE],
                            &across[yj * COARSE..(yj + 1) * COARSE],
                        );
                        for ((o, &a), &b) in out.iter_mut().zip(ri).zip(rj) {
                            *o = (1.0 - fy) * a + fy * b;
                        }
                    }
                }
            }
            standardize_windows(&mut windows);
            let scores = window_nccs(small, (sa, saa), &windows);
            for (k, &s) in scores.iter().enumerate() {
                let (sy, sx) = (k / n, k % n);
                if best.is_none_or(|z| s > z.0) {
                    best = Some((s, b_is_big, grid.zoom, sx as f32 * 0.5, sy as f32 * 0.5));
                }
            }
        }
    }
    best
}

/// [`standardize`] on each window, four at a time: the same bits.
// Pixel `p` of four windows at once: the index is the pixel's, not one slice's.
#[allow(clippy::needless_range_loop)]
fn standardize_windows(windows: &mut [[f32; COARSE_LEN]]) {
    let n = windows.len();
    for start in (0..n).step_by(4) {
        let lanes: [usize; 4] = std::array::from_fn(|l| (start + l).min(n - 1));
        let mut sums = [0.0f32; 4];
        for p in 0..COARSE_LEN {
            for (sum, &w) in sums.iter_mut().zip(&lanes) {
                *sum += windows[w][p];
            }
        }
        let end = (start + 4).min(n);
        for (w, sum) in (start..end).zip(sums) {
            let mean = sum / COARSE_LEN as f32;
            windows[w].iter_mut().for_each(|x| *x -= mean);
        }
        let mut norms = [0.0f32; 4];
        for p in 0..COARSE_LEN {
            for (norm, &w) in norms.iter_mut().zip(&lanes) {
                let x = windows[w][p];
                *norm += x * x;
            }
        }
        for (w, norm) in (start..end).zip(norms) {
            let norm = norm.sqrt();
            if norm > 1e-6 {
                windows[w].iter_mut().for_each(|x| *x /= norm);
            } else {
                windows[w].fill(0.0);
            }
        }
    }
}

/// [`ncc`] at no shift of `small` (whose sum and sum of squares are `sa`, `saa`) against
/// each window, four at a time: the same bits.
fn window_nccs(small: &[f32], (sa, saa): (f32, f32), windows: &[[f32; COARSE_LEN]]) -> Vec<f32> {
    let n = windows.len();
    let count = COARSE_LEN as f32;
    let var_a = saa - sa * sa / count;
    let mut out = Vec::with_capacity(n);
    for start in (0..n).step_by(4) {
        let lanes: [usize; 4] = std::array::from_fn(|l| (start + l).min(n - 1));
        let (mut sb, mut sbb, mut sab) = ([0.0f32; 4], [0.0f32; 4], [0.0f32; 4]);
        for (p, &va) in small.iter().enumerate() {
            for (l, &w) in lanes.iter().enumerate() {
                let vb = windows[w][p];
                sb[l] += vb;
                sbb[l] += vb * vb;
                sab[l] += va * vb;
            }
        }
        for l in 0..(start + 4).min(n) - start {
            let (cov, var_b) = (sab[l] - sa * sb[l] / count, sbb[l] - sb[l] * sb[l] / count);
            let var = var_a * var_b;
            out.push(if var <= 1e-12 { 0.0 } else { cov / var.sqrt() });
        }
    }
    out
}

/// Mirrors every row of `planes` (rows of `side`).
fn mirrored(planes: &[f32], side: usize) -> Vec<f32> {
    let mut m = planes.to_vec();
    for row in m.chunks_mut(side) {
        row.reverse();
    }
    m
}

/// Crop scales tried when a shift alone does not align two images: one image may be a
/// crop of 88 to 96 % of the other, scaled back up.
pub(crate) const ZOOMS: [f32; 3] = [0.88, 0.92, 0.96];
/// Crops are tried when the best shift's colour correlation stays below this.
pub(crate) const CROP_BELOW: f32 = 0.97;

/// Aligns image `j` to image `i`: a coarse search over mirrors and shifts of up to
/// `2 x COARSE_SHIFT` working pixels on the half-size images, then a search of one pixel
/// around the best on the colour planes. If that stays below 0.97, a coarse
/// search over crops of either image (88, 92 and 96 %, offsets of half a coarse pixel) and the
/// best crop scored on the colour planes. The winner's detail correlation is added and the
/// two combined ([`Alignment::score`]). Pairs whose coarse score stays below `coarse_gate`
/// keep the coarse score (they are far from any useful threshold).
pub fn align(f: &Features, i: usize, j: usize, coarse_gate: f32) -> Alignment {
    align_from(f, i, j, None, coarse_gate)
}

/// A starting point for [`align_from`]: `j` looks like `i` mirrored (or not) and moved by
/// about `(dx, dy)` working pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hint {
    /// Mirrored.
    pub mirror: bool,
    /// Horizontal move.
    pub dx: isize,
    /// Vertical move.
    pub dy: isize,
}

impl Hint {
    /// The hint of candidate-search query `query` (0: the image, 1: its mirror, 2-9: shifted copies) of one image that met
    /// the other; `asked_by_i`: whether image `i` of the pair asked it.
    pub fn of_query(query: u8, asked_by_i: bool) -> Self {
        let (mirror, (dx, dy)) = match query {
            0 => (false, (0, 0)),
            1 => (true, (0, 0)),
            k => (false, QUERY_SHIFTS[usize::from(k) - 2]),
        };
        let sign = if asked_by_i { 1 } else { -1 };
        Self {
            mirror,
            dx: sign * dx,
            dy: sign * dy,
        }
    }
}

/// [`align`], with the coarse search limited to one coarse pixel around `hint` (the full
/// search without one).
pub fn align_from(
    f: &Features,
    i: usize,
    j: usize,
    hint: Option<Hint>,
    coarse_gate: f32,
) -> Alignment {
    align_views(
        View {
            work: f.work(i),
            coarse: f.coarse(i),
        },
        View {
            work: f.work(j),
            coarse: f.coarse(j),
        },
        hint,
        coarse_gate,
    )
}

/// What the alignment reads of one image: its working colour planes and its coarse image
/// (as [`Features::work`] and [`Features::coarse`]).
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// `3 x WORK x WORK`.
    pub work: &'a [f32],
    /// `COARSE x COARSE`.
    pub coarse: &'a [f32],
}

/// One image's views owned, computed from its planes when needed (see [`View`]).
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedView {
    /// `3 x WORK x WORK`.
    pub work: Vec<f32>,
    /// `COARSE x COARSE`.
    pub coarse: Vec<f32>,
}

impl OwnedView {
    /// The views of one image (`planes` of `width x height`), the same numbers as
    /// [`describe`]'s.
    pub fn of(planes: &[u8], width: usize, height: usize) -> Self {
        let Views { work, coarse, .. } = describe(planes, width, height);
        Self { work, coarse }
    }

    /// Borrowed.
    pub fn view(&self) -> View<'_> {
        View {
            work: &self.work,
            coarse: &self.coarse,
        }
    }
}

/// [`align_from`] on two images' views: `b` aligned to `a`.
pub fn align_views(a: View<'_>, b: View<'_>, hint: Option<Hint>, coarse_gate: f32) -> Alignment {
    const COARSE_SHIFT: isize = 2;
    let (ca, cb) = (a.coarse, b.coarse);
    let mut best = Alignment {
        score: f32::NEG_INFINITY,
        colour: f32::NEG_INFINITY,
        detail: f32::NEG_INFINITY,
        mirror: false,
        dx: 0,
        dy: 0,
    };
    let (mirrors, (cx, cy), reach): (&[bool], (isize, isize), isize) = match hint {
        Some(h) if h.mirror => (&[true], (0, 0), 1),
        Some(h) => (&[false], (h.dx / 2, h.dy / 2), 1),
        None => (&[false, true], (0, 0), COARSE_SHIFT),
    };
    for &mirror in mirrors {
        for dy in cy - reach..=cy + reach {
            for dx in cx - reach..=cx + reach {
                let s = ncc(ca, cb, COARSE, dx, dy, mirror);
                if s > best.score {
                    best = Alignment {
                        score: s,
                        colour: s,
                        detail: s,
                        mirror,
                        dx,
                        dy,
                    };
                }
            }
        }
    }
    if best.score < coarse_gate {
        return best;
    }
    let (wa, wb) = (a.work, b.work);
    let coarse = best;
    best.score = f32::NEG_INFINITY;
    for dy in 2 * coarse.dy - 1..=2 * coarse.dy + 1 {
        for dx in 2 * coarse.dx - 1..=2 * coarse.dx + 1 {
            let s = ncc_colour(wa, wb, WORK, dx, dy, coarse.mirror);
            if s > best.score {
                best = Alignment {
                    score: s,
                    colour: s,
                    detail: s,
                    mirror: coarse.mirror,
                    dx,
                    dy,
                };
            }
        }
    }
    let mut winner = Winner::Shift;
    if best.score >= CROP_BELOW {
        return with_detail(best, wa, wb, winner);
    }
    // Crops: `big` holds the whole scene, `small` a crop of it scaled up.
    let mirror = coarse.mirror;
    let cb_m = if mirror {
        mirrored(cb, COARSE)
    } else {
        cb.to_vec()
    };
    let zoom_best = best_coarse_crop(ca, &cb_m);
    if let Some((s, b_is_big, zoom, x0, y0)) = zoom_best
        && s >= coarse_gate
    {
        let wb_m = if mirror {
            (0..3)
                .flat_map(|c| mirrored(&wb[c * WORK * WORK..(c + 1) * WORK * WORK], WORK))
                .collect()
        } else {
            wb.to_vec()
        };
        let (big, small) = if b_is_big {
            (&wb_m[..], wa)
        } else {
            (wa, &wb_m[..])
        };
        let window: Vec<f32> = (0..3)
            .flat_map(|c| {
                resample_window(
                    &big[c * WORK * WORK..(c + 1) * WORK * WORK],
                    WORK,
                    2.0 * x0,
                    2.0 * y0,
                    WORK as f32 * zoom,
                    WORK,
                )
            })
            .collect();
        let score = ncc_colour(small, &window, WORK, 0, 0, false);
        if score > best.score {
            best = Alignment {
                score,
                colour: score,
                detail: score,
                mirror,
                dx: 0,
                dy: 0,
            };
            winner = Winner::Crop {
                small: small.to_vec(),
                window,
            };
        }
    }
    with_detail(best, wa, wb, winner)
}

/// Which stage produced the best colour correlation.
enum Winner {
    /// A shift (and mirror) of the working planes.
    Shift,
    /// A crop: the small image and the matching window of the other, both full size.
    Crop { small: Vec<f32>, window: Vec<f32> },
}

/// Grayscale (sum of the standardized planes) of the `w x h` overlap of `a` with `b`
/// moved by `(dx, dy)` (mirrored first with `mirror`).
fn overlap_gray(
    planes: &[f32],
    dx: isize,
    dy: isize,
    mirror: bool,
    moved: bool,
) -> (Vec<f32>, usize, usize) {
    let s = WORK as isize;
    let (x0, x1) = (0.max(-dx), s.min(s - dx));
    let (y0, y1) = (0.max(-dy), s.min(s - dy));
    let (w, h) = ((x1 - x0).max(0) as usize, (y1 - y0).max(0) as usize);
    let mut out = vec![0.0f32; w * h];
    for c in 0..3 {
        let p = &planes[c * WORK * WORK..(c + 1) * WORK * WORK];
        for y in y0..y1 {
            for x in x0..x1 {
                let (sx, sy) = if moved { (x + dx, y + dy) } else { (x, y) };
                let sx = if moved && mirror { s - 1 - sx } else { sx };
                out[((y - y0) as usize) * w + (x - x0) as usize] += p[(sy * s + sx) as usize];
            }
        }
    }
    (out, w, h)
}

/// `img - 3x3 blur(img)` over a `w x h` image, edges clamped.
fn detail(img: &[f32], w: usize, h: usize) -> Vec<f32> {
    let mut out = box_blur3_rect(img, w, h);
    for (o, &v) in out.iter_mut().zip(img) {
        *o = v - *o;
    }
    out
}

/// Plain normalized cross-correlation of two equal-length vectors.
fn ncc_flat(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len() as f32;
    let (sa, sb) = (a.iter().sum::<f32>(), b.iter().sum::<f32>());
    let (mut saa, mut sbb, mut sab) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        saa += x * x;
        sbb += y * y;
        sab += x * y;
    }
    let var = (saa - sa * sa / n) * (sbb - sb * sb / n);
    if var <= 1e-12 {
        0.0
    } else {
        (sab - sa * sb / n) / var.sqrt()
    }
}

/// Adds the detail correlation of the winning alignment and the combined score.
fn with_detail(mut best: Alignment, wa: &[f32], wb: &[f32], winner: Winner) -> Alignment {
    let (da, db) = match winner {
        Winner::Shift => {
            let (ga, w, h) = overlap_gray(wa, best.dx, best.dy, best.mirror, false);
            let (gb, _, _) = overlap_gray(wb, best.dx, best.dy, best.mirror, true);
            (detail(&ga, w, h), detail(&gb, w, h))
        }
        Winner::Crop { small, window } => {
            let gray = |p: &[f32]| -> Vec<f32> {
                (0..WORK * WORK)
                    .map(|k| p[k] + p[WORK * WORK + k] + p[2 * WORK * WORK + k])
                    .collect()
            };
            (
                detail(&gray(&small), WORK, WORK),
                detail(&gray(&window), WORK, WORK),
            )
        }
    };
    best.detail = ncc_flat(&da, &db);
    best.score = (best.colour.max(0.0) * best.detail.max(0.0)).sqrt();
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(seed: u32) -> Vec<u8> {
        let mut planes = vec![0u8; 3 * 1024];
        for c in 0..3 {
            for y in 0..32 {
                for x in 0..32 {
                    let v = ((x * 7 + y * 13 + c * 5) as u32 * (seed + 3)) % 251;
                    let blob = if (x as i32 - 10).pow(2) + (y as i32 - 14).pow(2) < 40 {
                        120
                    } else {
                        0
                    };
                    planes[c * 1024 + y * 32 + x] = ((v / 2 + blob) % 256) as u8;
                }
            }
        }
        planes
    }

    #[test]
    fn brightness_contrast_and_mirror_leave_the_score_near_one() {
        let a = pattern(1);
        let brighter: Vec<u8> = a
            .iter()
            .map(|&v| (f32::from(v) * 0.8 + 30.0) as u8)
            .collect();
        let mut mirrored = a.clone();
        for row in mirrored.chunks_mut(32) {
            row.reverse();
        }
        let mut set = crate::images::ImageSet {
            width: 32,
            height: 32,
            pixels: Vec::new(),
            info: Vec::new(),
            class_names: vec!["x".into()],
            source: "test".into(),
        };
        for p in [&a, &brighter, &mirrored, &pattern(2)] {
            set.push(
                p,
                crate::images::ImageInfo {
                    split: crate::images::SplitName::Train,
                    index: 0,
                    path: String::new(),
                    class: 0,
                },
            )
            .unwrap();
        }
        let f = compute(&set);
        assert!(align(&f, 0, 1, 0.5).score > 0.99);
        let m = align(&f, 0, 2, 0.5);
        assert!(m.mirror && m.score > 0.99, "{m:?}");
        assert!(align(&f, 0, 3, 0.5).score < 0.9);
    }

    /// The crop search as it was written first: each window resampled, standardized and
    /// correlated on its own.
    fn crop_search_one_window_at_a_time(
        ca: &[f32],
        cb: &[f32],
    ) -> Option<(f32, bool, f32, f32, f32)> {
        let mut best: Option<(f32, bool, f32, f32, f32)> = None;
        for b_is_big in [true, false] {
            let (big, small) = if b_is_big { (cb, ca) } else { (ca, cb) };
            for zoom in ZOOMS {
                let size = COARSE as f32 * zoom;
                let steps = ((COARSE as f32 - size) / 0.5).floor() as usize;
                for sy in 0..=steps {
                    for sx in 0..=steps {
                        let (x0, y0) = (sx as f32 * 0.5, sy as f32 * 0.5);
                        let mut window = resample_window(big, COARSE, x0, y0, size, COARSE);
                        standardize(&mut window);
                        let s = ncc(small, &window, COARSE, 0, 0, false);
                        if best.is_none_or(|z| s > z.0) {
                            best = Some((s, b_is_big, zoom, x0, y0));
                        }
                    }
                }
            }
        }
        best
    }

    #[test]
    fn the_crop_search_gives_the_bits_of_one_window_at_a_time() {
        let mut state = 12345u32;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state % 1000) as f32 / 1000.0
        };
        for case in 0..200 {
            let mut a: Vec<f32> = (0..COARSE_LEN).map(|_| next()).collect();
            // Some pairs share content (a crop of the other), some are flat or unrelated.
            let mut b: Vec<f32> = match case % 4 {
                0 => resample_window(&a, COARSE, 1.0, 0.5, COARSE as f32 * 0.9, COARSE),
                1 => vec![0.25; COARSE_LEN],
                _ => (0..COARSE_LEN).map(|_| next()).collect(),
            };
            standardize(&mut a);
            standardize(&mut b);
            let (fast, slow) = (
                best_coarse_crop(&a, &b),
                crop_search_one_window_at_a_time(&a, &b),
            );
            let bits = |z: Option<(f32, bool, f32, f32, f32)>| {
                z.map(|(s, big, zoom, x, y)| {
                    (s.to_bits(), big, zoom.to_bits(), x.to_bits(), y.to_bits())
                })
            };
            assert_eq!(bits(fast), bits(slow), "case {case}");
        }
    }

    #[test]
    fn area_resize_keeps_the_mean() {
        let src: Vec<f32> = (0..35 * 21).map(|v| (v % 17) as f32).collect();
        let out = area_resize(&src, 35, 21, 8, 8);
        let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
        assert!((mean(&src) - mean(&out)).abs() < 1e-3);
    }
}
