//! Exact nearest neighbours among unit descriptors, blocked so that a tile of base rows
//! stays in cache while a tile of queries meets it. Every similarity is summed exactly as
//! [`dupstudy_audit::neighbours::dot`] sums it (eight running sums, then left to right), so
//! the search returns the numbers [`crate::Descriptors::similarity`] gives, on any CPU.

use dupstudy_audit::neighbours::Neighbour;
use rayon::prelude::*;

/// Queries per tile (their rows stay in the first-level cache).
const QUERY_TILE: usize = 32;
/// Base rows per tile (in the second-level cache).
const BASE_TILE: usize = 256;
/// Queries side by side in the innermost loop.
const LANES: usize = 4;

/// The dot products of four query rows with one base row, each with eight running sums
/// added left to right at the end: bit for bit [`dupstudy_audit::neighbours::dot`].
#[inline(always)]
fn dots4(q: [&[f32]; LANES], b: &[f32]) -> [f32; LANES] {
    let mut acc = [[0.0f32; 8]; LANES];
    let chunks = b.len() / 8;
    for c in 0..chunks {
        let y: &[f32; 8] = b[c * 8..c * 8 + 8].try_into().expect("eight numbers");
        for (lane, row) in q.iter().enumerate() {
            let x: &[f32; 8] = row[c * 8..c * 8 + 8].try_into().expect("eight numbers");
            for k in 0..8 {
                acc[lane][k] += x[k] * y[k];
            }
        }
    }
    let mut out = [0.0f32; LANES];
    for lane in 0..LANES {
        let tail: f32 = q[lane][chunks * 8..]
            .iter()
            .zip(&b[chunks * 8..])
            .map(|(x, y)| x * y)
            .sum();
        out[lane] = acc[lane].iter().sum::<f32>() + tail;
    }
    out
}

/// The `k` best so far of one query: most similar first, ties by the lower index.
struct Best {
    k: usize,
    floor: f32,
    kept: Vec<Neighbour>,
}

impl Best {
    fn new(k: usize, floor: f32) -> Self {
        Self {
            k,
            floor,
            kept: Vec::with_capacity(k + 1),
        }
    }

    fn before(a: &Neighbour, b: &Neighbour) -> bool {
        a.similarity > b.similarity || (a.similarity == b.similarity && a.index < b.index)
    }

    #[inline]
    fn offer(&mut self, index: usize, similarity: f32) {
        if similarity < self.floor || self.k == 0 {
            return;
        }
        let n = Neighbour {
            index,
            similarity,
            mirror: false,
        };
        if self.kept.len() == self.k {
            if !Self::before(&n, &self.kept[self.k - 1]) {
                return;
            }
            self.kept.pop();
        }
        let at = self.kept.partition_point(|m| Self::before(m, &n));
        self.kept.insert(at, n);
    }
}

/// Tile kernel: for each query of `queries` (positions into `rows`), the base rows
/// `base[from..to]` offered to its [`Best`].
fn tile(
    rows: &[f32],
    dim: usize,
    queries: &[usize],
    base: &[usize],
    best: &mut [Best],
    skip: &(dyn Fn(usize, usize) -> bool + Sync),
) {
    let row = |i: usize| &rows[i * dim..(i + 1) * dim];
    let mut start = 0;
    while start < queries.len() {
        let n = LANES.min(queries.len() - start);
        let mut q = [row(queries[start]); LANES];
        for (lane, slot) in q.iter_mut().enumerate().take(n) {
            *slot = row(queries[start + lane]);
        }
        for &b in base {
            let d = dots4(q, row(b));
            for lane in 0..n {
                let query = queries[start + lane];
                if !skip(query, b) {
                    best[start + lane].offer(b, d[lane]);
                }
            }
        }
        start += LANES;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn tile_avx2(
    rows: &[f32],
    dim: usize,
    queries: &[usize],
    base: &[usize],
    best: &mut [Best],
    skip: &(dyn Fn(usize, usize) -> bool + Sync),
) {
    // The same code in wider registers: each sum keeps its order (no fused multiply-add is
    // enabled), so the numbers equal the portable path's.
    tile(rows, dim, queries, base, best, skip);
}

fn tile_dispatch(
    rows: &[f32],
    dim: usize,
    queries: &[usize],
    base: &[usize],
    best: &mut [Best],
    skip: &(dyn Fn(usize, usize) -> bool + Sync),
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, the one feature `tile_avx2` enables.
        #[allow(unsafe_code)]
        unsafe {
            tile_avx2(rows, dim, queries, base, best, skip)
        };
        return;
    }
    tile(rows, dim, queries, base, best, skip);
}

/// For each query, its `k` most similar base images at or above `floor` (other than those
/// `skip(query, base)` names), most similar first, ties by the lower index.
pub(crate) fn nearest(
    rows: &[f32],
    dim: usize,
    queries: &[usize],
    base: &[usize],
    k: usize,
    floor: f32,
    skip: &(dyn Fn(usize, usize) -> bool + Sync),
) -> Vec<Vec<Neighbour>> {
    queries
        .par_chunks(QUERY_TILE)
        .flat_map_iter(|qs| {
            let mut best: Vec<Best> = qs.iter().map(|_| Best::new(k, floor)).collect();
            for bs in base.chunks(BASE_TILE) {
                tile_dispatch(rows, dim, qs, bs, &mut best, skip);
            }
            best.into_iter().map(|b| b.kept)
        })
        .collect()
}
