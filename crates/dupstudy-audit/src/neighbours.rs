//! Exact nearest neighbours over small standardized colour thumbnails: every query image
//! against every base image, as itself and mirrored. The candidate search of the
//! labelled-recall study ([`crate::labelled`]), where the forest's approximate search is not
//! what is being measured.

use rayon::prelude::*;

use crate::features::{area_resize, standardize};

/// Side of the thumbnails, in pixels.
pub const SIDE: usize = 16;
/// Numbers per thumbnail (three colour planes).
pub const DIM: usize = 3 * SIDE * SIDE;

/// The image's three planes resampled to `SIDE x SIDE` by area, concatenated, then
/// standardized as one vector (zero mean, unit length), so the dot product of two
/// thumbnails is their correlation: brightness and contrast do not count, colour does.
pub fn thumbnail(planes: &[u8], width: usize, height: usize) -> Vec<f32> {
    let plane = width * height;
    let mut out = Vec::with_capacity(DIM);
    for c in 0..3 {
        let src: Vec<f32> = planes[c * plane..(c + 1) * plane]
            .iter()
            .map(|&v| f32::from(v))
            .collect();
        out.extend(area_resize(&src, width, height, SIDE, SIDE));
    }
    standardize(&mut out);
    out
}

/// The thumbnail of the mirrored image (columns reversed in each plane).
pub fn mirror(thumb: &[f32]) -> Vec<f32> {
    let mut out = thumb.to_vec();
    for row in out.chunks_mut(SIDE) {
        row.reverse();
    }
    out
}

/// One neighbour of a query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbour {
    /// Its index in the base.
    pub index: usize,
    /// The larger of the dot products of the query and of its mirror with it.
    pub similarity: f32,
    /// Whether the mirror gave it.
    pub mirror: bool,
}

/// Dot product with eight running sums (a fixed order: the same result on any CPU).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// The `k` most similar of `all`, most similar first, ties by index.
pub fn best(mut all: Vec<Neighbour>, k: usize) -> Vec<Neighbour> {
    let order = |a: &Neighbour, b: &Neighbour| {
        b.similarity
            .total_cmp(&a.similarity)
            .then(a.index.cmp(&b.index))
    };
    let keep = k.min(all.len());
    if keep < all.len() {
        all.select_nth_unstable_by(keep, order);
        all.truncate(keep);
    }
    all.sort_by(order);
    all
}

/// For each query `q` (rows of `queries`, `DIM` numbers each; `mirrored` the same rows
/// mirrored), its `k` most similar base rows (by the larger of the two dot products),
/// most similar first, ties by index; base rows for which `skip(q, b)` holds are left out
/// (the query itself, when the base is its own set).
pub fn nearest(
    queries: &[f32],
    mirrored: &[f32],
    base: &[f32],
    k: usize,
    skip: &(dyn Fn(usize, usize) -> bool + Sync),
) -> Vec<Vec<Neighbour>> {
    assert_eq!(
        queries.len(),
        mirrored.len(),
        "queries and mirrors differ in length"
    );
    let n_base = base.len() / DIM;
    queries
        .par_chunks(DIM)
        .zip(mirrored.par_chunks(DIM))
        .enumerate()
        .map(|(q, (query, query_m))| {
            let all: Vec<Neighbour> = (0..n_base)
                .filter(|&b| !skip(q, b))
                .map(|b| {
                    let row = &base[b * DIM..(b + 1) * DIM];
                    let (plain, flipped) = (dot(query, row), dot(query_m, row));
                    Neighbour {
                        index: b,
                        similarity: plain.max(flipped),
                        mirror: flipped > plain,
                    }
                })
                .collect();
            best(all, k)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A random image of 8 x 8 blocks of 4 x 4 pixels (structure a thumbnail keeps).
    fn image(seed: u64) -> Vec<u8> {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let blocks: Vec<u8> = (0..3 * 8 * 8).map(|_| rng.random()).collect();
        (0..3 * 32 * 32)
            .map(|i| {
                let (c, y, x) = (i / 1024, (i % 1024) / 32, i % 32);
                blocks[c * 64 + (y / 4) * 8 + x / 4]
            })
            .collect()
    }

    fn mirrored_image(planes: &[u8]) -> Vec<u8> {
        let mut out = planes.to_vec();
        for row in out.chunks_mut(32) {
            row.reverse();
        }
        out
    }

    #[test]
    fn a_mirrored_brighter_copy_is_the_nearest_neighbour() {
        let base: Vec<Vec<u8>> = (0..20).map(image).collect();
        let copy: Vec<u8> = mirrored_image(&base[7])
            .iter()
            .map(|&v| v / 2 + 60)
            .collect();
        let thumbs: Vec<f32> = base.iter().flat_map(|p| thumbnail(p, 32, 32)).collect();
        let q = thumbnail(&copy, 32, 32);
        let found = nearest(&q, &mirror(&q), &thumbs, 3, &|_, _| false);
        assert_eq!(found[0][0].index, 7);
        assert!(found[0][0].mirror);
        assert!(found[0][0].similarity > 0.999, "{:?}", found[0][0]);
        assert!(found[0][1].similarity < 0.9, "{:?}", found[0][1]);
        assert_eq!(found[0].len(), 3);
    }

    #[test]
    fn skip_leaves_the_query_out_and_ties_go_to_the_lower_index() {
        let one = image(3);
        let thumbs: Vec<f32> = [&one, &one, &one]
            .iter()
            .flat_map(|p| thumbnail(p, 32, 32))
            .collect();
        let found = nearest(
            &thumbs,
            &thumbs.chunks(DIM).flat_map(mirror).collect::<Vec<_>>(),
            &thumbs,
            5,
            &|q, b| q == b,
        );
        let indices: Vec<Vec<usize>> = found
            .iter()
            .map(|n| n.iter().map(|x| x.index).collect())
            .collect();
        assert_eq!(indices, vec![vec![1, 2], vec![0, 2], vec![0, 1]]);
    }
}
