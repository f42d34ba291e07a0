//! Sequential minimal optimization for the C-SVM dual, after LIBSVM's `Solver`
//! (Chang and Lin, *LIBSVM: a library for support vector machines*, 2011):
//!
//! `min_a 1/2 a^T Q a - e^T a` subject to `0 <= a_i <= C` and `y^T a = 0`, with
//! `Q_ij = y_i y_j K(x_i, x_j)`.
//!
//! - Working set selection with second-order information (Fan, Chen and Lin, JMLR 2005),
//!   with LIBSVM's `tau` for pairs of zero curvature (exact duplicates give `Q_ii + Q_jj -
//!   2 Q_ij = 0`).
//! - LIBSVM's stopping rule: the maximal violating pair's gap `m(a) - M(a)` below `eps`.
//! - Shrinking with gradient reconstruction (`do_shrinking`, `reconstruct_gradient`):
//!   points that sit at a bound and are unlikely to move leave the active set; before the
//!   final check the full gradient is rebuilt from `G_bar` and every point comes back.
//! - Kernel rows from an LRU cache under a memory budget (see [`crate::cache`]).

use rayon::prelude::*;

use crate::cache::RowCache;
use crate::kernel::ColumnPoints;

/// LIBSVM's replacement for a non-positive curvature.
const TAU: f64 = 1e-12;
// Work inside one SMO iteration (a kernel row, a working-set scan, a gradient update) is
// split across threads only above these sizes. Measured on 2 cores (n = 20,000 and 100,000
// of the paper's problem): splitting at 16k-32k points made fits 5-20 % slower, serial and
// split were even at 100k, so the split is kept for larger problems and more cores only.
// Prediction, whose work per call is large, is parallel at any size.
// Rows at least `parallel_from` long are computed in parallel (when threads are allowed),
// working-set scans over at least that many points too, gradient updates from four times it.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Bound {
    Lower,
    Upper,
    Free,
}

/// What the solver hands back, in the caller's order of points.
#[derive(Debug, Clone)]
pub(crate) struct Solution {
    pub(crate) alpha: Vec<f64>,
    pub(crate) rho: f64,
    pub(crate) objective: f64,
    pub(crate) iterations: u64,
    pub(crate) converged: bool,
    pub(crate) cache_evictions: u64,
}

/// Settings of one solve.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SolverSettings {
    pub(crate) c: f64,
    pub(crate) gamma: f64,
    pub(crate) eps: f64,
    pub(crate) max_iterations: u64,
    pub(crate) cache_bytes: usize,
    pub(crate) shrinking: bool,
    pub(crate) parallel: bool,
    pub(crate) parallel_from: usize,
}

pub(crate) struct Solver {
    l: usize,
    active_size: usize,
    points: ColumnPoints,
    /// `y_i` as `f32`, to sign the kernel rows.
    sign: Vec<f32>,
    y: Vec<f64>,
    alpha: Vec<f64>,
    status: Vec<Bound>,
    g: Vec<f64>,
    g_bar: Vec<f64>,
    active_set: Vec<usize>,
    cache: RowCache,
    settings: SolverSettings,
    unshrink: bool,
}

impl Solver {
    /// A solver for the points `points` (column-major) with labels `y` in `{-1, +1}`.
    pub(crate) fn new(points: ColumnPoints, y: Vec<f64>, settings: SolverSettings) -> Self {
        let l = y.len();
        Self {
            l,
            active_size: l,
            points,
            sign: y.iter().map(|&v| v as f32).collect(),
            y,
            alpha: vec![0.0; l],
            status: vec![Bound::Lower; l],
            // With a = 0 the gradient Q a - e is -e, and no point is at the upper bound.
            g: vec![-1.0; l],
            g_bar: vec![0.0; l],
            active_set: (0..l).collect(),
            cache: RowCache::new(l, settings.cache_bytes),
            settings,
            unshrink: false,
        }
    }

    pub(crate) fn solve(mut self) -> Solution {
        let l = self.l;
        let max_iterations = self.settings.max_iterations;
        let mut iterations = 0u64;
        let mut counter = l.min(1000) + 1;
        let mut converged = false;
        while iterations < max_iterations {
            counter -= 1;
            if counter == 0 {
                counter = l.min(1000);
                if self.settings.shrinking {
                    self.do_shrinking();
                }
            }
            let (i, j) = match self.select_working_set() {
                Some(pair) => pair,
                None => {
                    self.reconstruct_gradient();
                    self.active_size = l;
                    match self.select_working_set() {
                        Some(pair) => {
                            counter = 1;
                            pair
                        }
                        None => {
                            converged = true;
                            break;
                        }
                    }
                }
            };
            iterations += 1;
            self.update_pair(i, j);
        }
        if !converged {
            if self.active_size < l {
                self.reconstruct_gradient();
                self.active_size = l;
            }
            tracing::warn!(
                iterations,
                "SMO reached its iteration cap before converging"
            );
        }
        let rho = self.calculate_rho();
        let objective = 0.5
            * self
                .alpha
                .iter()
                .zip(&self.g)
                .map(|(a, g)| a * (g - 1.0))
                .sum::<f64>();
        let mut alpha = vec![0.0; l];
        for (position, &original) in self.active_set.iter().enumerate() {
            alpha[original] = self.alpha[position];
        }
        tracing::debug!(iterations, objective, rho, converged, "SMO finished");
        Solution {
            alpha,
            rho,
            objective,
            iterations,
            converged,
            cache_evictions: self.cache.evictions(),
        }
    }

    /// Makes row `i` of `Q` available for positions `0..len`.
    fn ensure_row(&mut self, i: usize, len: usize, pinned: Option<usize>) {
        let start = self.cache.prepare(i, len, pinned);
        if start < len {
            let out = &mut self.cache.row_mut(i)[start..len];
            let (points, sign, gamma) = (&self.points, &self.sign, self.settings.gamma);
            if self.settings.parallel && out.len() >= self.settings.parallel_from {
                const PIECE: usize = 4096;
                out.par_chunks_mut(PIECE)
                    .enumerate()
                    .for_each(|(p, piece)| {
                        points.q_row_f32(i, gamma, sign, start + p * PIECE, piece);
                    });
            } else {
                points.q_row_f32(i, gamma, sign, start, out);
            }
        }
    }

    fn update_pair(&mut self, i: usize, j: usize) {
        let active = self.active_size;
        let c = self.settings.c;
        self.ensure_row(i, active, None);
        self.ensure_row(j, active, Some(i));
        let q_ij = f64::from(self.cache.row(i)[j]);
        let (old_ai, old_aj) = (self.alpha[i], self.alpha[j]);
        let (mut ai, mut aj) = (old_ai, old_aj);
        // Q_ii = Q_jj = K(x, x) = 1 for the RBF kernel.
        if (self.y[i] > 0.0) != (self.y[j] > 0.0) {
            let quad = positive_or_tau(2.0 + 2.0 * q_ij);
            let delta = (-self.g[i] - self.g[j]) / quad;
            let diff = ai - aj;
            ai += delta;
            aj += delta;
            if diff > 0.0 {
                if aj < 0.0 {
                    aj = 0.0;
                    ai = diff;
                }
            } else if ai < 0.0 {
                ai = 0.0;
                aj = -diff;
            }
            if diff > 0.0 {
                if ai > c {
                    ai = c;
                    aj = c - diff;
                }
            } else if aj > c {
                aj = c;
                ai = c + diff;
            }
        } else {
            let quad = positive_or_tau(2.0 - 2.0 * q_ij);
            let delta = (self.g[i] - self.g[j]) / quad;
            let sum = ai + aj;
            ai -= delta;
            aj += delta;
            if sum > c {
                if ai > c {
                    ai = c;
                    aj = sum - c;
                }
            } else if aj < 0.0 {
                aj = 0.0;
                ai = sum;
            }
            if sum > c {
                if aj > c {
                    aj = c;
                    ai = sum - c;
                }
            } else if ai < 0.0 {
                ai = 0.0;
                aj = sum;
            }
        }
        self.alpha[i] = ai;
        self.alpha[j] = aj;
        let (dai, daj) = (ai - old_ai, aj - old_aj);
        {
            let q_i = &self.cache.row(i)[..active];
            let q_j = &self.cache.row(j)[..active];
            let g = &mut self.g[..active];
            if self.settings.parallel && active >= 4 * self.settings.parallel_from {
                const PIECE: usize = 8192;
                g.par_chunks_mut(PIECE).enumerate().for_each(|(p, piece)| {
                    let s = p * PIECE;
                    update_gradient(
                        piece,
                        &q_i[s..s + piece.len()],
                        &q_j[s..s + piece.len()],
                        dai,
                        daj,
                    );
                });
            } else {
                update_gradient(g, q_i, q_j, dai, daj);
            }
        }
        let was_upper_i = self.status[i] == Bound::Upper;
        let was_upper_j = self.status[j] == Bound::Upper;
        self.status[i] = bound_of(ai, c);
        self.status[j] = bound_of(aj, c);
        for (k, was_upper, pinned) in [(i, was_upper_i, Some(j)), (j, was_upper_j, Some(i))] {
            let is_upper = self.status[k] == Bound::Upper;
            if was_upper != is_upper {
                let l = self.l;
                self.ensure_row(k, l, pinned);
                let q_k = self.cache.row(k);
                let step = if is_upper { c } else { -c };
                for (gb, &q) in self.g_bar.iter_mut().zip(q_k) {
                    *gb += step * f64::from(q);
                }
            }
        }
    }

    /// Second-order working set selection (WSS 2 of Fan, Chen and Lin). `None` when the
    /// maximal violation is below `eps` (optimal on the active set).
    ///
    /// Both scans (see [`Scans`]) compute their scores branch-free a block at a time (so
    /// that the division vectorizes), reduce each block, and keep the last position holding
    /// the extremum: LIBSVM's `>=` / `<=` tie rule, so the selection is LIBSVM's. Large
    /// active sets are scanned in parallel pieces combined by the same rule.
    fn select_working_set(&mut self) -> Option<(usize, usize)> {
        let active = self.active_size;
        let parallel = self.settings.parallel && active >= self.settings.parallel_from;
        let (g, status, sign) = (
            &self.g[..active],
            &self.status[..active],
            &self.sign[..active],
        );
        let up = chunked_scan(active, parallel, f64::max, |range| {
            let scans = Scans;
            let (g, status, sign) = (&g[range.clone()], &status[range.clone()], &sign[range]);
            let (value, index, _) = crate::simd::dispatch!(scans.up_side(g, status, sign));
            (value, index, f64::NEG_INFINITY)
        });
        // Without a candidate for i no pair can improve the objective: optimal.
        let (g_max, i, _) = (up.0, up.1?, ());
        self.ensure_row(i, active, None);
        let q_i = &self.cache.row(i)[..active];
        let sign_i = self.sign[i];
        let (g, status, sign) = (
            &self.g[..active],
            &self.status[..active],
            &self.sign[..active],
        );
        let (_, best_j, g_max2) = chunked_scan(active, parallel, f64::min, |range| {
            let scans = Scans;
            let (g, status, sign, q) = (
                &g[range.clone()],
                &status[range.clone()],
                &sign[range.clone()],
                &q_i[range],
            );
            crate::simd::dispatch!(scans.low_side(g, status, sign, q, sign_i, g_max))
        });
        if g_max + g_max2 < self.settings.eps {
            return None;
        }
        Some((i, best_j?))
    }

    fn be_shrunk(&self, i: usize, g_max1: f64, g_max2: f64) -> bool {
        match self.status[i] {
            Bound::Upper => {
                if self.y[i] > 0.0 {
                    -self.g[i] > g_max1
                } else {
                    -self.g[i] > g_max2
                }
            }
            Bound::Lower => {
                if self.y[i] > 0.0 {
                    self.g[i] > g_max2
                } else {
                    self.g[i] > g_max1
                }
            }
            Bound::Free => false,
        }
    }

    fn do_shrinking(&mut self) {
        let mut g_max1 = f64::NEG_INFINITY; // max { -y_i grad_i | i in I_up }
        let mut g_max2 = f64::NEG_INFINITY; // max { y_i grad_i | i in I_low }
        for i in 0..self.active_size {
            let g = self.g[i];
            if self.y[i] > 0.0 {
                if self.status[i] != Bound::Upper {
                    g_max1 = g_max1.max(-g);
                }
                if self.status[i] != Bound::Lower {
                    g_max2 = g_max2.max(g);
                }
            } else {
                if self.status[i] != Bound::Upper {
                    g_max2 = g_max2.max(-g);
                }
                if self.status[i] != Bound::Lower {
                    g_max1 = g_max1.max(g);
                }
            }
        }
        if !self.unshrink && g_max1 + g_max2 <= self.settings.eps * 10.0 {
            self.unshrink = true;
            self.reconstruct_gradient();
            self.active_size = self.l;
            tracing::trace!("unshrinking");
        }
        let mut swaps = Vec::new();
        let mut i = 0;
        while i < self.active_size {
            if self.be_shrunk(i, g_max1, g_max2) {
                self.active_size -= 1;
                while self.active_size > i {
                    if !self.be_shrunk(self.active_size, g_max1, g_max2) {
                        self.swap_arrays(i, self.active_size);
                        swaps.push((i, self.active_size));
                        break;
                    }
                    self.active_size -= 1;
                }
            }
            i += 1;
        }
        // The cache is not read while shrinking, so its swaps can be applied together.
        self.cache.swap_many(&swaps);
    }

    #[allow(clippy::needless_range_loop)] // Parallel arrays are read at the same index.
    fn reconstruct_gradient(&mut self) {
        let (active, l) = (self.active_size, self.l);
        if active == l {
            return;
        }
        for j in active..l {
            self.g[j] = self.g_bar[j] - 1.0;
        }
        let n_free = (0..active)
            .filter(|&j| self.status[j] == Bound::Free)
            .count();
        if 2 * n_free < active {
            tracing::trace!(n_free, active, "few free points; shrinking may not pay");
        }
        if n_free * l > 2 * active * (l - active) {
            for i in active..l {
                self.ensure_row(i, active, None);
                let q_i = self.cache.row(i);
                let mut sum = 0.0;
                for j in 0..active {
                    if self.status[j] == Bound::Free {
                        sum += self.alpha[j] * f64::from(q_i[j]);
                    }
                }
                self.g[i] += sum;
            }
        } else {
            for i in 0..active {
                if self.status[i] == Bound::Free {
                    self.ensure_row(i, l, None);
                    let q_i = self.cache.row(i);
                    let alpha_i = self.alpha[i];
                    for j in active..l {
                        self.g[j] += alpha_i * f64::from(q_i[j]);
                    }
                }
            }
        }
    }

    /// Swaps positions `i` and `j` in every per-point array (not the kernel cache: see
    /// [`RowCache::swap_many`]).
    fn swap_arrays(&mut self, i: usize, j: usize) {
        self.points.swap(i, j);
        self.sign.swap(i, j);
        self.y.swap(i, j);
        self.alpha.swap(i, j);
        self.status.swap(i, j);
        self.g.swap(i, j);
        self.g_bar.swap(i, j);
        self.active_set.swap(i, j);
    }

    /// The offset `rho` (decision = sum - rho): the mean of `y_i G_i` over free points, or
    /// the middle of the feasible interval when no point is free.
    fn calculate_rho(&self) -> f64 {
        let mut upper = f64::INFINITY;
        let mut lower = f64::NEG_INFINITY;
        let mut n_free = 0usize;
        let mut sum_free = 0.0;
        for i in 0..self.active_size {
            let y_g = self.y[i] * self.g[i];
            match self.status[i] {
                Bound::Upper => {
                    if self.y[i] < 0.0 {
                        upper = upper.min(y_g);
                    } else {
                        lower = lower.max(y_g);
                    }
                }
                Bound::Lower => {
                    if self.y[i] > 0.0 {
                        upper = upper.min(y_g);
                    } else {
                        lower = lower.max(y_g);
                    }
                }
                Bound::Free => {
                    n_free += 1;
                    sum_free += y_g;
                }
            }
        }
        if n_free > 0 {
            sum_free / n_free as f64
        } else {
            (upper + lower) / 2.0
        }
    }
}

/// Runs `scan` over positions `0..n` in one piece, or in contiguous pieces on the rayon
/// pool when `parallel`, and combines the pieces' `(extremum, last position, side maximum)`:
/// the extremum with `pick` (max or min) so that the last position holding the overall
/// extremum wins, as in one sequential scan, and the side maxima with `max`.
fn chunked_scan<F>(
    n: usize,
    parallel: bool,
    pick: fn(f64, f64) -> f64,
    scan: F,
) -> (f64, Option<usize>, f64)
where
    F: Fn(std::ops::Range<usize>) -> (f64, Option<usize>, f64) + Sync,
{
    if !parallel {
        return scan(0..n);
    }
    let pieces = rayon::current_num_threads().max(1);
    let size = n.div_ceil(pieces);
    let parts: Vec<(f64, Option<usize>, f64)> = (0..pieces)
        .into_par_iter()
        .map(|c| {
            let range = (c * size).min(n)..((c + 1) * size).min(n);
            let start = range.start;
            let (value, index, side) = scan(range);
            (value, index.map(|k| k + start), side)
        })
        .collect();
    let mut best: (f64, Option<usize>, f64) = (f64::NAN, None, f64::NEG_INFINITY);
    for (value, index, side) in parts {
        best.2 = best.2.max(side);
        let Some(index) = index else { continue };
        #[allow(clippy::float_cmp)] // Extrema of the same arithmetic: exact comparison.
        let take = best.1.is_none() || pick(best.0, value) == value;
        if take {
            best.0 = value;
            best.1 = Some(index);
        }
    }
    best
}

/// Positions scanned per block: the block's scores stay in L1.
const SCAN_BLOCK: usize = 512;

/// The two scans of the working set selection, as methods so that [`crate::simd`] can
/// compile them for wider instruction sets. They read the labels as the `f32` signs (half
/// the bytes of `y`) and reduce each block of scores while it is in L1, so that a scan
/// moves as little memory as possible.
struct Scans;

impl Scans {
    /// `max { -y_t G_t | t in I_up }` and the last position holding it.
    #[inline(always)]
    fn up_side(&self, g: &[f64], status: &[Bound], sign: &[f32]) -> (f64, Option<usize>, ()) {
        let mut scores = [0.0f64; SCAN_BLOCK];
        let (mut best, mut best_at) = (f64::NEG_INFINITY, None);
        for (b, ((g, status), sign)) in g
            .chunks(SCAN_BLOCK)
            .zip(status.chunks(SCAN_BLOCK))
            .zip(sign.chunks(SCAN_BLOCK))
            .enumerate()
        {
            let scores = &mut scores[..g.len()];
            for (((v, &g), &st), &s) in scores.iter_mut().zip(g).zip(status).zip(sign) {
                let positive = s > 0.0;
                let in_up = if positive {
                    st != Bound::Upper
                } else {
                    st != Bound::Lower
                };
                *v = if in_up {
                    -f64::from(s) * g
                } else {
                    f64::NEG_INFINITY
                };
            }
            let block_max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if block_max >= best && block_max > f64::NEG_INFINITY {
                best = block_max;
                best_at = last_position_of(scores, block_max).map(|k| b * SCAN_BLOCK + k);
            }
        }
        (best, best_at, ())
    }

    /// The last `j` of `I_low` with a positive gradient difference that minimizes the
    /// second-order decrease `-(g_max + y_j G_j)^2 / (2 - 2 K_ij)`, that minimum, and
    /// `max { y_j G_j | j in I_low }`.
    #[inline(always)]
    fn low_side(
        &self,
        g: &[f64],
        status: &[Bound],
        sign: &[f32],
        q_i: &[f32],
        sign_i: f32,
        g_max: f64,
    ) -> (f64, Option<usize>, f64) {
        let mut scores = [0.0f64; SCAN_BLOCK];
        let (mut best, mut best_at) = (f64::INFINITY, None);
        let mut g_max2 = f64::NEG_INFINITY;
        for (b, (((g, status), sign), q)) in g
            .chunks(SCAN_BLOCK)
            .zip(status.chunks(SCAN_BLOCK))
            .zip(sign.chunks(SCAN_BLOCK))
            .zip(q_i.chunks(SCAN_BLOCK))
            .enumerate()
        {
            let scores = &mut scores[..g.len()];
            let mut block_max2 = f64::NEG_INFINITY;
            for ((((v, &g), &st), &s), &q) in scores.iter_mut().zip(g).zip(status).zip(sign).zip(q)
            {
                let in_low = if s > 0.0 {
                    st != Bound::Lower
                } else {
                    st != Bound::Upper
                };
                let y_g = f64::from(s) * g;
                block_max2 = block_max2.max(if in_low { y_g } else { f64::NEG_INFINITY });
                let grad_diff = g_max + y_g;
                // Q_ii + Q_jj - 2 y_i y_j Q_ij with Q_ij = y_i y_j K_ij: 2 - 2 K_ij.
                let quad = 2.0 - 2.0 * f64::from(sign_i * s * q);
                let quad = if quad > 0.0 { quad } else { TAU };
                let obj_diff = -(grad_diff * grad_diff) / quad;
                *v = if in_low && grad_diff > 0.0 {
                    obj_diff
                } else {
                    f64::INFINITY
                };
            }
            g_max2 = g_max2.max(block_max2);
            let block_min = scores.iter().copied().fold(f64::INFINITY, f64::min);
            if block_min <= best && block_min < f64::INFINITY {
                best = block_min;
                best_at = last_position_of(scores, block_min).map(|k| b * SCAN_BLOCK + k);
            }
        }
        (best, best_at, g_max2)
    }
}

/// The last position whose value equals `value` (`==`, so `-0.0` matches `0.0`).
#[allow(clippy::float_cmp)] // Exact equality with a value read from the same slice.
fn last_position_of(values: &[f64], value: f64) -> Option<usize> {
    values.iter().rposition(|&v| v == value)
}

fn positive_or_tau(quad: f64) -> f64 {
    if quad > 0.0 { quad } else { TAU }
}

fn bound_of(alpha: f64, c: f64) -> Bound {
    if alpha >= c {
        Bound::Upper
    } else if alpha <= 0.0 {
        Bound::Lower
    } else {
        Bound::Free
    }
}

#[inline]
fn update_gradient(g: &mut [f64], q_i: &[f32], q_j: &[f32], dai: f64, daj: f64) {
    for ((gk, &a), &b) in g.iter_mut().zip(q_i).zip(q_j) {
        *gk += f64::from(a) * dai + f64::from(b) * daj;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parallel combination of pieces picks the same extremum and position as one
    /// serial scan, ties included (the last position wins).
    #[test]
    fn parallel_scan_equals_serial_scan() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        for n in [1usize, 2, 7, 100, 1001] {
            // Values with many ties.
            let values: Vec<f64> = (0..n).map(|i| ((i * 37) % 11) as f64 - 5.0).collect();
            let scan = |range: std::ops::Range<usize>| -> (f64, Option<usize>, f64) {
                let piece = &values[range];
                let best = piece.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let side = piece.iter().copied().fold(f64::INFINITY, f64::min);
                (best, last_position_of(piece, best), side)
            };
            let serial = chunked_scan(n, false, f64::max, scan);
            let parallel = pool.install(|| chunked_scan(n, true, f64::max, scan));
            assert_eq!(serial.1, parallel.1, "n = {n}");
            assert_eq!(serial.0.to_bits(), parallel.0.to_bits());
        }
    }
}
