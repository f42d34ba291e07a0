//! A safe, bounds-checked front to the `gemm` crate's matrix product (the same blocked,
//! run-time dispatched kernels candle itself uses).

/// A read-only strided view of a matrix: element `(i, j)` is
/// `data[i * row_stride + j * col_stride]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> MatRef<'a> {
    /// A row-major `rows x cols` matrix.
    pub(crate) fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose of this view (no copy).
    pub(crate) fn t(self) -> Self {
        Self {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }

    /// Whether every element the view names lies inside `data`.
    fn in_bounds(&self) -> bool {
        if self.rows == 0 || self.cols == 0 {
            return true;
        }
        let last = (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride;
        last < self.data.len()
    }
}

/// `dst = lhs * rhs` (or `dst += lhs * rhs` with `accumulate`), `dst` row-major
/// `lhs.rows x rhs.cols`, on `threads` threads (1: this thread only).
///
/// # Panics
/// If the shapes do not agree or a view reaches outside its slice: these are programming
/// errors inside this crate, checked before the unchecked product runs.
pub(crate) fn matmul(
    dst: &mut [f32],
    lhs: MatRef<'_>,
    rhs: MatRef<'_>,
    accumulate: bool,
    threads: usize,
) {
    product(dst, false, lhs, rhs, accumulate, threads);
}

/// As [`matmul`], with `dst` column-major (`dst[i + j * rows]`), i.e. `C^T` row-major:
/// `matmul_transposed_dst(c, b.t(), a.t(), ..)` writes `a * b` row-major while `gemm`
/// packs `b^T` as its left operand, which is much cheaper when `a` is small and `b` wide
/// (the convolutions' weights against their im2col matrices).
pub(crate) fn matmul_transposed_dst(
    dst: &mut [f32],
    lhs: MatRef<'_>,
    rhs: MatRef<'_>,
    accumulate: bool,
    threads: usize,
) {
    product(dst, true, lhs, rhs, accumulate, threads);
}

fn product(
    dst: &mut [f32],
    column_major: bool,
    lhs: MatRef<'_>,
    rhs: MatRef<'_>,
    accumulate: bool,
    threads: usize,
) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(rhs.rows, k, "inner dimensions differ");
    assert_eq!(dst.len(), m * n, "destination has the wrong size");
    assert!(
        lhs.in_bounds() && rhs.in_bounds(),
        "matrix view out of bounds"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst.fill(0.0);
        }
        return;
    }
    let parallelism = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    #[allow(unsafe_code)]
    // SAFETY: `dst` holds exactly m x n elements, written with row stride n and column
    // stride 1 (or row stride 1 and column stride m); every element of `lhs` (m x k) and `rhs` (k x n) addressed through its
    // strides lies inside its slice (checked by `in_bounds` above); the three slices are
    // distinct borrows (one mutable, two shared), so they do not alias.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            if column_major { m as isize } else { 1 },
            if column_major { 1 } else { n as isize },
            accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn matches_naive_product_with_transposes_and_accumulation() {
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        let want = naive(&a, &b, m, k, n);
        let mut c = vec![0.0; m * n];
        matmul(
            &mut c,
            MatRef::row_major(&a, m, k),
            MatRef::row_major(&b, k, n),
            false,
            1,
        );
        assert!(c.iter().zip(&want).all(|(x, y)| (x - y).abs() < 1e-5));
        // b^T stored row-major, viewed transposed.
        let bt: Vec<f32> = (0..n * k).map(|idx| b[(idx % k) * n + idx / k]).collect();
        let mut c2 = vec![1.0; m * n];
        matmul(
            &mut c2,
            MatRef::row_major(&a, m, k),
            MatRef::row_major(&bt, n, k).t(),
            true,
            2,
        );
        assert!(
            c2.iter()
                .zip(&want)
                .all(|(x, y)| (x - 1.0 - y).abs() < 1e-5)
        );
    }

    #[test]
    fn transposed_destination_holds_the_same_product() {
        let (m, k, n) = (4, 6, 9);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.21).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.13).cos()).collect();
        let want = naive(&a, &b, m, k, n);
        // (a b)^T = b^T a^T, written column-major: the row-major a b.
        let mut c = vec![0.0; m * n];
        matmul_transposed_dst(
            &mut c,
            MatRef::row_major(&b, k, n).t(),
            MatRef::row_major(&a, m, k).t(),
            false,
            1,
        );
        assert!(
            c.iter().zip(&want).all(|(x, y)| (x - y).abs() < 1e-5),
            "{c:?} vs {want:?}"
        );
    }

    #[test]
    #[should_panic(expected = "out of bounds")]
    fn refuses_views_outside_the_slice() {
        let a = vec![0.0; 4];
        let mut c = vec![0.0; 6];
        let bad = MatRef {
            data: &a,
            rows: 2,
            cols: 3,
            row_stride: 3,
            col_stride: 1,
        };
        matmul(&mut c, MatRef::row_major(&a, 2, 2), bad, false, 1);
    }
}
