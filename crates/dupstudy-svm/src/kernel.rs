//! The RBF kernel: exact scalar form, and the fast row and batch forms the solver and the
//! predictor use (column-major points, an `exp` written so that the compiler vectorizes it).

/// `K(x, z) = exp(-gamma |x - z|^2)`, computed with the standard library's `exp`.
///
/// # Panics
/// Never; if `x` and `z` differ in length the extra coordinates are ignored.
pub fn rbf(x: &[f64], z: &[f64], gamma: f64) -> f64 {
    let d2: f64 = x.iter().zip(z).map(|(a, b)| (a - b) * (a - b)).sum();
    (-gamma * d2).exp()
}

/// `1 / k!` for `k = 0..=12`.
const EXP_TAYLOR_F64: [f64; 13] = [
    1.0,
    1.0,
    1.0 / 2.0,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5_040.0,
    1.0 / 40_320.0,
    1.0 / 362_880.0,
    1.0 / 3_628_800.0,
    1.0 / 39_916_800.0,
    1.0 / 479_001_600.0,
];

/// `1 / k!` for `k = 0..=7`.
const EXP_TAYLOR_F32: [f32; 8] = [
    1.0,
    1.0,
    1.0 / 2.0,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5_040.0,
];

/// `e^x` for `x <= 0` with a relative error below `5e-16` (about 2 ulp), and `0` below
/// `-708`.
///
/// Branch-free (range reduction by `ln 2` with a rounding constant, a degree-12 polynomial,
/// and the exponent built from integer bits) so that loops over it vectorize with plain
/// SSE2.
#[inline(always)]
pub fn exp_nonpositive(x: f64) -> f64 {
    const MAGIC: f64 = 6_755_399_441_055_744.0; // 1.5 * 2^52: adding it rounds to an integer.
    const LN2_HI: f64 = 6.931_457_519_531_25e-1;
    const LN2_LO: f64 = 1.428_606_820_309_417_2e-6;
    let clamped = x.max(-708.0);
    let shifted = clamped * std::f64::consts::LOG2_E + MAGIC;
    let k = shifted - MAGIC;
    let k_bits = shifted.to_bits().wrapping_sub(MAGIC.to_bits());
    let r = (clamped - k * LN2_HI) - k * LN2_LO;
    // e^r by its Taylor series to r^12 (Horner); |r| <= ln(2)/2 keeps the error < 2e-16.
    // Estrin's scheme: the same polynomial as Horner's rule, with a dependency chain of
    // depth 5 instead of 12, so vectorized loops are not latency-bound.
    let c = &EXP_TAYLOR_F64;
    let r2 = r * r;
    let r4 = r2 * r2;
    let r8 = r4 * r4;
    let a0 = c[0] + c[1] * r;
    let a1 = c[2] + c[3] * r;
    let a2 = c[4] + c[5] * r;
    let a3 = c[6] + c[7] * r;
    let a4 = c[8] + c[9] * r;
    let a5 = c[10] + c[11] * r;
    let b0 = a0 + a1 * r2;
    let b1 = a2 + a3 * r2;
    let b2 = a4 + a5 * r2 + c[12] * r4;
    let p = (b0 + b1 * r4) + b2 * r8;
    let scale = f64::from_bits(k_bits.wrapping_add(1023) << 52);
    if x < -708.0 { 0.0 } else { p * scale }
}

/// `e^x` in single precision for `x <= 0` (relative error about `2e-7`), `0` below `-87`.
/// Same construction as [`exp_nonpositive`]; used for the `f32` kernel rows of the cache.
#[inline(always)]
pub fn exp_nonpositive_f32(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23
    const LN2_HI: f32 = 0.693_359_4; // 0.693359375, exact in f32
    const LN2_LO: f32 = -2.121_944_4e-4;
    let clamped = x.max(-87.0);
    let shifted = clamped * std::f32::consts::LOG2_E + MAGIC;
    let k = shifted - MAGIC;
    let k_bits = shifted.to_bits().wrapping_sub(MAGIC.to_bits());
    let r = (clamped - k * LN2_HI) - k * LN2_LO;
    let c = &EXP_TAYLOR_F32;
    let r2 = r * r;
    let r4 = r2 * r2;
    let b0 = (c[0] + c[1] * r) + (c[2] + c[3] * r) * r2;
    let b1 = (c[4] + c[5] * r) + (c[6] + c[7] * r) * r2;
    let p = b0 + b1 * r4;
    let scale = f32::from_bits(k_bits.wrapping_add(127) << 23);
    if x < -87.0 { 0.0 } else { p * scale }
}

/// Points stored column by column (`cols[k][i]` is feature `k` of point `i`), so that the
/// distance from one point to a run of others is a set of contiguous, vectorizable loops.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ColumnPoints {
    pub(crate) cols: Vec<Vec<f64>>,
}

/// Length of the blocks the row kernels work in (fits in L1 with its scratch).
const BLOCK: usize = 256;

impl ColumnPoints {
    /// From a row-major `n x d` slice.
    pub(crate) fn from_rows(rows: ndarray::ArrayView2<'_, f64>) -> Self {
        let cols = rows.columns().into_iter().map(|c| c.to_vec()).collect();
        Self { cols }
    }

    pub(crate) fn len(&self) -> usize {
        self.cols.first().map_or(0, Vec::len)
    }

    pub(crate) fn swap(&mut self, i: usize, j: usize) {
        for col in &mut self.cols {
            col.swap(i, j);
        }
    }

    /// Writes `sign_i * sign[j] * K(x_i, x_j)` for `j` in `start..start + out.len()`, in
    /// single precision.
    pub(crate) fn q_row_f32(
        &self,
        i: usize,
        gamma: f64,
        sign: &[f32],
        start: usize,
        out: &mut [f32],
    ) {
        crate::simd::dispatch!(self.q_row_f32_body(i, gamma, sign, start, out))
    }

    #[inline(always)]
    fn q_row_f32_body(&self, i: usize, gamma: f64, sign: &[f32], start: usize, out: &mut [f32]) {
        let mut d2 = [0.0f64; BLOCK];
        let sign_i = sign[i];
        for (b, out_block) in out.chunks_mut(BLOCK).enumerate() {
            let s = start + b * BLOCK;
            let m = out_block.len();
            let d2 = &mut d2[..m];
            self.squared_distances(|k| self.cols[k][i], s, d2);
            for ((o, &d), &sj) in out_block.iter_mut().zip(d2.iter()).zip(&sign[s..s + m]) {
                *o = sign_i * sj * exp_nonpositive_f32((-gamma * d) as f32);
            }
        }
    }

    /// `sum_j coef[j] K(x_j, z)` over all points `j`, in double precision.
    ///
    /// Kernel values are computed a block at a time into a buffer (a vectorizable map), then
    /// summed with four interleaved accumulators in a fixed order, so the result is
    /// deterministic and the sum vectorizes.
    pub(crate) fn weighted_kernel_sum(&self, z: &[f64], gamma: f64, coef: &[f64]) -> f64 {
        crate::simd::dispatch!(self.weighted_kernel_sum_body(z, gamma, coef))
    }

    #[inline(always)]
    fn weighted_kernel_sum_body(&self, z: &[f64], gamma: f64, coef: &[f64]) -> f64 {
        debug_assert_eq!(coef.len(), self.len(), "one coefficient per point");
        let mut values = [0.0f64; BLOCK];
        let mut acc = [0.0f64; 4];
        let n = self.len();
        let mut s = 0;
        while s < n {
            let m = BLOCK.min(n - s);
            let values = &mut values[..m];
            self.squared_distances(|k| z[k], s, values);
            for v in values.iter_mut() {
                *v = exp_nonpositive(-gamma * *v);
            }
            let coef = &coef[s..s + m];
            let mut value_quads = values.chunks_exact(4);
            let mut coef_quads = coef.chunks_exact(4);
            for (v, c) in (&mut value_quads).zip(&mut coef_quads) {
                for t in 0..4 {
                    acc[t] += v[t] * c[t];
                }
            }
            for (t, (v, c)) in value_quads
                .remainder()
                .iter()
                .zip(coef_quads.remainder())
                .enumerate()
            {
                acc[t] += v * c;
            }
            s += m;
        }
        (acc[0] + acc[1]) + (acc[2] + acc[3])
    }

    /// `out[t] = |x_{start+t} - z|^2`, where `z[k]` is given by `coordinate(k)`.
    #[inline(always)]
    fn squared_distances(&self, coordinate: impl Fn(usize) -> f64, start: usize, out: &mut [f64]) {
        out.fill(0.0);
        let m = out.len();
        for (k, col) in self.cols.iter().enumerate() {
            let zk = coordinate(k);
            for (o, &v) in out.iter_mut().zip(&col[start..start + m]) {
                let t = v - zk;
                *o += t * t;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_matches_std() {
        let mut worst = 0.0f64;
        let mut x = -708.0f64;
        while x <= 0.0 {
            let want = x.exp();
            let got = exp_nonpositive(x);
            worst = worst.max(((got - want) / want).abs());
            x += 0.0137;
        }
        assert!(worst < 5e-16, "worst relative error {worst}");
        assert_eq!(exp_nonpositive(0.0).to_bits(), 1.0f64.to_bits());
        assert_eq!(exp_nonpositive(-800.0).to_bits(), 0.0f64.to_bits());
        assert_eq!(
            exp_nonpositive(f64::NEG_INFINITY).to_bits(),
            0.0f64.to_bits()
        );
    }

    #[test]
    fn fast_exp_f32_matches_std() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x <= 0.0 {
            let want = f64::from(x).exp();
            let got = f64::from(exp_nonpositive_f32(x));
            worst = worst.max(((got - want) / want).abs());
            x += 0.0013;
        }
        assert!(worst < 3e-7, "worst relative error {worst}");
        assert_eq!(exp_nonpositive_f32(0.0).to_bits(), 1.0f32.to_bits());
        assert_eq!(exp_nonpositive_f32(-100.0).to_bits(), 0.0f32.to_bits());
    }

    #[test]
    fn every_instruction_set_gives_identical_bits() {
        // The dispatched path (AVX2/AVX-512 where available) against the baseline body.
        let n = 1000;
        let rows = ndarray::Array2::from_shape_fn((n, 3), |(i, k)| {
            ((i * 7 + k * 13) % 29) as f64 * 0.17 - 2.0
        });
        let points = ColumnPoints::from_rows(rows.view());
        let sign: Vec<f32> = (0..n)
            .map(|i| if i % 3 == 0 { -1.0 } else { 1.0 })
            .collect();
        let coef: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
        let mut fast = vec![0.0f32; n - 5];
        let mut base = vec![0.0f32; n - 5];
        points.q_row_f32(4, 0.8, &sign, 5, &mut fast);
        points.q_row_f32_body(4, 0.8, &sign, 5, &mut base);
        assert!(
            fast.iter()
                .zip(&base)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
        let z = [0.3, -1.2, 0.9];
        let a = points.weighted_kernel_sum(&z, 0.8, &coef);
        let b = points.weighted_kernel_sum_body(&z, 0.8, &coef);
        assert_eq!(
            a.to_bits(),
            b.to_bits(),
            "{} uses different rounding",
            crate::instruction_set()
        );
    }

    #[test]
    fn row_and_sum_match_scalar_kernel() {
        let rows = ndarray::array![[0.0, 1.0], [0.5, -0.2], [2.0, 2.0], [0.0, 1.0]];
        let points = ColumnPoints::from_rows(rows.view());
        let sign = [1.0f32, -1.0, 1.0, -1.0];
        let mut out = [0.0f32; 3];
        points.q_row_f32(1, 0.7, &sign, 1, &mut out);
        for (t, &o) in out.iter().enumerate() {
            let j = t + 1;
            let want = f64::from(sign[1] * sign[j])
                * rbf(
                    rows.row(1).as_slice().unwrap(),
                    rows.row(j).as_slice().unwrap(),
                    0.7,
                );
            assert!((f64::from(o) - want).abs() < 1e-6);
        }
        let coef = [0.5, -1.0, 2.0, 0.25];
        let z = [0.3, 0.4];
        let want: f64 = (0..4)
            .map(|j| coef[j] * rbf(rows.row(j).as_slice().unwrap(), &z, 0.7))
            .sum();
        assert!((points.weighted_kernel_sum(&z, 0.7, &coef) - want).abs() < 1e-14);
    }
}
