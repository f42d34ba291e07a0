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
    let (mut a0, mut a1, mut a2, mut a3) = ([0.0f32; 8], [0.0f32; 8], [0.0f32; 8], [0.0f32; 8]);
    let chunks = b
        .chunks_exact(8)
        .zip(q[0].chunks_exact(8))
        .zip(q[1].chunks_exact(8))
        .zip(q[2].chunks_exact(8))
        .zip(q[3].chunks_exact(8));
    for ((((y, x0), x1), x2), x3) in chunks {
        for k in 0..8 {
            a0[k] += x0[k] * y[k];
            a1[k] += x1[k] * y[k];
            a2[k] += x2[k] * y[k];
            a3[k] += x3[k] * y[k];
        }
    }
    let whole = b.len() / 8 * 8;
    let sum = |acc: [f32; 8], row: &[f32]| -> f32 {
        let tail: f32 = row[whole..]
            .iter()
            .zip(&b[whole..])
            .map(|(x, y)| x * y)
            .sum();
        acc.iter().sum::<f32>() + tail
    };
    [sum(a0, q[0]), sum(a1, q[1]), sum(a2, q[2]), sum(a3, q[3])]
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
        a.similarity
            .total_cmp(&b.similarity)
            .then(b.index.cmp(&a.index))
            .is_gt()
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

/// Tile kernel: every base row offered to the [`Best`] of each query of `queries`
/// (positions into `rows`) but itself, four queries at a time through `dots` (their
/// similarities with one base row). Inlined into each caller, so that the AVX2 caller's copy
/// is compiled for AVX2.
#[inline(always)]
fn tile_with(
    rows: &[f32],
    dim: usize,
    queries: &[usize],
    base: &[usize],
    best: &mut [Best],
    dots: impl Fn([&[f32]; LANES], &[f32]) -> [f32; LANES],
) {
    let row = |i: usize| &rows[i * dim..(i + 1) * dim];
    for start in (0..queries.len()).step_by(LANES) {
        let n = LANES.min(queries.len() - start);
        let mut q = [row(queries[start]); LANES];
        for (lane, slot) in q.iter_mut().enumerate().take(n) {
            *slot = row(queries[start + lane]);
        }
        for &b in base {
            let d = dots(q, row(b));
            for lane in 0..n {
                if queries[start + lane] != b {
                    best[start + lane].offer(b, d[lane]);
                }
            }
        }
    }
}

/// [`tile_with`] on the portable [`dots4`].
fn tile(rows: &[f32], dim: usize, queries: &[usize], base: &[usize], best: &mut [Best]) {
    tile_with(rows, dim, queries, base, best, dots4);
}

/// [`tile`] with AVX2 registers: the same products and sums in the same order (eight
/// running sums per pair, one per register lane, no fused multiply-add, added left to
/// right at the end), so the same numbers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(unsafe_code)]
fn tile_avx2(rows: &[f32], dim: usize, queries: &[usize], base: &[usize], best: &mut [Best]) {
    use std::arch::x86_64::{
        __m256, _mm256_add_ps, _mm256_loadu_ps, _mm256_mul_ps, _mm256_setzero_ps, _mm256_storeu_ps,
    };
    let whole = dim / 8;
    let finish = |acc: __m256, q: &[f32], b: &[f32]| -> f32 {
        let mut lanes = [0.0f32; 8];
        // SAFETY: `lanes` holds eight floats.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc) };
        let tail: f32 = q[whole * 8..]
            .iter()
            .zip(&b[whole * 8..])
            .map(|(x, y)| x * y)
            .sum();
        lanes.iter().sum::<f32>() + tail
    };
    let dots = |q: [&[f32]; LANES], y: &[f32]| -> [f32; LANES] {
        let mut acc = [_mm256_setzero_ps(); LANES];
        for c in 0..whole {
            // SAFETY: every row holds `dim >= 8 * whole` floats, so `c * 8 + 8 <= dim`.
            unsafe {
                let yv = _mm256_loadu_ps(y.as_ptr().add(c * 8));
                for lane in 0..LANES {
                    let xv = _mm256_loadu_ps(q[lane].as_ptr().add(c * 8));
                    acc[lane] = _mm256_add_ps(acc[lane], _mm256_mul_ps(xv, yv));
                }
            }
        }
        std::array::from_fn(|lane| finish(acc[lane], q[lane], y))
    };
    tile_with(rows, dim, queries, base, best, dots);
}

fn tile_dispatch(rows: &[f32], dim: usize, queries: &[usize], base: &[usize], best: &mut [Best]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, the one feature `tile_avx2` enables.
        #[allow(unsafe_code)]
        unsafe {
            tile_avx2(rows, dim, queries, base, best)
        };
        return;
    }
    tile(rows, dim, queries, base, best);
}

/// For each query, its `k` most similar base images at or above `floor` other than
/// itself, most similar first, ties by the lower index.
pub(crate) fn nearest(
    rows: &[f32],
    dim: usize,
    queries: &[usize],
    base: &[usize],
    k: usize,
    floor: f32,
) -> Vec<Vec<Neighbour>> {
    queries
        .par_chunks(QUERY_TILE)
        .flat_map_iter(|qs| {
            let mut best: Vec<Best> = qs.iter().map(|_| Best::new(k, floor)).collect();
            for bs in base.chunks(BASE_TILE) {
                tile_dispatch(rows, dim, qs, bs, &mut best);
            }
            best.into_iter().map(|b| b.kept)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn the_portable_and_the_wide_kernel_give_the_same_bits() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for dim in [256, 20, 5] {
            let n = 37;
            let rows: Vec<f32> = (0..n * dim).map(|_| rng.random_range(-1.0..1.0)).collect();
            let all: Vec<usize> = (0..n).collect();
            let run = |wide: bool| {
                let mut best: Vec<Best> = all.iter().map(|_| Best::new(9, -2.0)).collect();
                if wide {
                    #[cfg(target_arch = "x86_64")]
                    if std::arch::is_x86_feature_detected!("avx2") {
                        #[allow(unsafe_code)]
                        // SAFETY: the CPU has AVX2.
                        unsafe {
                            tile_avx2(&rows, dim, &all, &all, &mut best)
                        };
                    }
                } else {
                    tile(&rows, dim, &all, &all, &mut best);
                }
                best.into_iter()
                    .map(|b| {
                        b.kept
                            .iter()
                            .map(|n| (n.index, n.similarity.to_bits()))
                            .collect::<Vec<_>>()
                    })
                    .collect::<Vec<_>>()
            };
            let portable = run(false);
            let dot = |a: usize, b: usize| {
                dupstudy_audit::neighbours::dot(
                    &rows[a * dim..(a + 1) * dim],
                    &rows[b * dim..(b + 1) * dim],
                )
            };
            assert_eq!(portable[3][0].1, dot(3, portable[3][0].0).to_bits());
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                assert_eq!(run(true), portable, "dim {dim}");
            }
        }
    }
}
