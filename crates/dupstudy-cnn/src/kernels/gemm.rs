//! A matrix product whose every bit is fixed by the shapes and the inputs: the same on any
//! x86-64 or other CPU, with any number of threads and any vector width.
//!
//! Each element of the product is one chain of fused multiply-adds over the inner dimension
//! in ascending order, starting from the destination's value (`accumulate`) or zero:
//! `acc = fma(a[i][p], b[p][j], acc)` for `p = 0, 1, ..`. Vector code computes several such
//! chains side by side, one per lane, so the width of the vectors (AVX-512, AVX2, or none)
//! changes how many chains run at once, never a chain's arithmetic. Work is split into tasks
//! of fixed shape (row blocks x column panels), never by cache size or thread count.
//!
//! This replaces the `gemm` crate, whose kernels and inner-dimension blocking are chosen at
//! run time from the CPU's vector extensions and cache sizes: the same seed gave different
//! CNN results on two models of the same AMD EPYC.

use rayon::prelude::*;

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

    fn at(&self, i: usize, j: usize) -> f32 {
        self.data[i * self.row_stride + j * self.col_stride]
    }
}

/// Columns of one panel of the right operand: two 16-lane vectors.
const PANEL: usize = 32;
/// Rows of the widest register tile (AVX-512's; see [`Isa::tile_rows`]).
const TILE_ROWS: usize = 8;
/// Rows of the destination per task (a task's last tile may be shorter than a full one).
const TASK_ROWS: usize = 64;
/// Length of a block of the inner dimension (a panel block of 32 KiB).
const K_BLOCK: usize = 256;

/// The instruction sets the product can run on; every one gives the same bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Isa {
    /// AVX-512F with FMA.
    Avx512,
    /// AVX2 with FMA.
    Avx2,
    /// Whatever the build's baseline is (`f32::mul_add`, in software where the CPU lacks FMA).
    Baseline,
}

impl Isa {
    /// The instruction set the kernels run on: the widest this CPU has, or a narrower one
    /// named by the environment variable `DUPSTUDY_ISA` (`avx512f`, `avx2` or `scalar`; to
    /// compare speeds or check the paths against each other, since all give the same bits).
    /// A value this CPU cannot run, or an unknown one, is reported once and ignored.
    pub(crate) fn detect() -> Self {
        static CHOSEN: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
        *CHOSEN.get_or_init(|| {
            let widest = Self::widest();
            let Ok(name) = std::env::var("DUPSTUDY_ISA") else {
                return widest;
            };
            let asked = match name.as_str() {
                "avx512f" => Some(Isa::Avx512),
                "avx2" => Some(Isa::Avx2),
                "scalar" => Some(Isa::Baseline),
                _ => None,
            };
            match asked {
                Some(isa) if Self::supported(widest).contains(&isa) => isa,
                _ => {
                    tracing::warn!(
                        value = %name,
                        using = ?widest,
                        "DUPSTUDY_ISA must be avx512f, avx2 or scalar, and one this CPU has; ignored"
                    );
                    widest
                }
            }
        })
    }

    /// The instruction sets a CPU whose widest is `widest` can run.
    fn supported(widest: Isa) -> Vec<Self> {
        match widest {
            Isa::Avx512 => vec![Isa::Avx512, Isa::Avx2, Isa::Baseline],
            Isa::Avx2 => vec![Isa::Avx2, Isa::Baseline],
            Isa::Baseline => vec![Isa::Baseline],
        }
    }

    /// Rows of the register tile: enough independent chains (rows x two vectors) to cover
    /// the fused multiply-add's latency on both of a core's FMA units, while the
    /// accumulators, two panel vectors and a broadcast still fit the registers (AVX-512: 16
    /// of 32; AVX2: 12 of 16). The tile changes which chains run side by side, never a
    /// chain's order, so every tile gives the same bits.
    fn tile_rows(self) -> usize {
        match self {
            Isa::Avx512 => 8,
            Isa::Avx2 => 6,
            Isa::Baseline => 4,
        }
    }

    /// The widest instruction set this CPU has.
    fn widest() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Isa::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Isa::Avx2;
            }
        }
        Isa::Baseline
    }

    /// Every instruction set this CPU can run (to test that they agree).
    #[cfg(test)]
    pub(crate) fn available() -> Vec<Self> {
        Self::supported(Self::widest())
    }
}

/// `dst = lhs * rhs` (or `dst += lhs * rhs` with `accumulate`), `dst` row-major
/// `lhs.rows x rhs.cols`, on up to `threads` threads (1: this thread only; the result does
/// not depend on it).
///
/// # Panics
/// If the shapes do not agree or a view reaches outside its slice: these are programming
/// errors inside this crate, checked before any work.
pub(crate) fn matmul(
    dst: &mut [f32],
    lhs: MatRef<'_>,
    rhs: MatRef<'_>,
    accumulate: bool,
    threads: usize,
) {
    product(dst, lhs, rhs, accumulate, threads, Isa::detect());
}

/// As [`matmul`], with `dst` column-major (`dst[i + j * rows]`), i.e. the row-major
/// `rhs^T lhs^T`: the same chains, in the same order.
pub(crate) fn matmul_transposed_dst(
    dst: &mut [f32],
    lhs: MatRef<'_>,
    rhs: MatRef<'_>,
    accumulate: bool,
    threads: usize,
) {
    product(dst, rhs.t(), lhs.t(), accumulate, threads, Isa::detect());
}

/// A right operand packed once into the product's panels, for many products with the same
/// matrix (a frozen layer's weights: an attack's ten passes). Packing copies, so a product
/// with it gives the bits of [`matmul`] with the matrix it was packed from.
#[derive(Debug, Clone)]
pub(crate) struct PackedRhs {
    panels: Vec<f32>,
    rows: usize,
    cols: usize,
}

impl PackedRhs {
    /// Packs `rhs` (on up to `threads` threads).
    ///
    /// # Panics
    /// If the view reaches outside its slice (a programming error inside this crate).
    pub(crate) fn new(rhs: MatRef<'_>, threads: usize) -> Self {
        assert!(rhs.in_bounds(), "matrix view out of bounds");
        let mut panels = vec![0.0; rhs.cols.div_ceil(PANEL) * rhs.rows * PANEL];
        pack_panels(rhs, &mut panels, threads);
        Self {
            panels,
            rows: rhs.rows,
            cols: rhs.cols,
        }
    }

    /// Whether this is a packed `rows x cols` matrix.
    pub(crate) fn has_shape(&self, rows: usize, cols: usize) -> bool {
        (self.rows, self.cols) == (rows, cols)
    }
}

/// As [`matmul`], with the right operand packed beforehand: the same chains, the same bits.
///
/// # Panics
/// As [`matmul`].
pub(crate) fn matmul_packed(
    dst: &mut [f32],
    lhs: MatRef<'_>,
    rhs: &PackedRhs,
    accumulate: bool,
    threads: usize,
) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(rhs.rows, k, "inner dimensions differ");
    assert_eq!(dst.len(), m * n, "destination has the wrong size");
    assert!(lhs.in_bounds(), "matrix view out of bounds");
    if !nothing_to_multiply(dst, m, k, n, accumulate) {
        on_panels(dst, lhs, &rhs.panels, n, accumulate, threads, Isa::detect());
    }
}

/// Handles the products without arithmetic (an empty side, or an empty inner dimension:
/// zeros, or `dst` unchanged with `accumulate`); `true` if it was one.
fn nothing_to_multiply(dst: &mut [f32], m: usize, k: usize, n: usize, accumulate: bool) -> bool {
    if m == 0 || n == 0 {
        return true;
    }
    if k == 0 {
        if !accumulate {
            dst.fill(0.0);
        }
        return true;
    }
    false
}

/// Copies `rhs` into zero-padded panels of [`PANEL`] columns, each `k x PANEL` row-major,
/// in parallel (one panel a task). Copies do no arithmetic.
fn pack_panels(rhs: MatRef<'_>, b: &mut [f32], threads: usize) {
    let (k, panels) = (rhs.rows, rhs.cols.div_ceil(PANEL));
    let pack = |(q, panel): (usize, &mut [f32])| pack_panel(rhs, q * PANEL, panel);
    let chunks = b.chunks_mut(k * PANEL).enumerate();
    if threads > 1 && panels > 1 {
        chunks.collect::<Vec<_>>().into_par_iter().for_each(pack);
    } else {
        chunks.for_each(pack);
    }
}

fn product(
    dst: &mut [f32],
    lhs: MatRef<'_>,
    rhs: MatRef<'_>,
    accumulate: bool,
    threads: usize,
    isa: Isa,
) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(rhs.rows, k, "inner dimensions differ");
    assert_eq!(dst.len(), m * n, "destination has the wrong size");
    assert!(
        lhs.in_bounds() && rhs.in_bounds(),
        "matrix view out of bounds"
    );
    if nothing_to_multiply(dst, m, k, n, accumulate) {
        return;
    }
    let mut b = PackBuffer::take(n.div_ceil(PANEL) * k * PANEL);
    pack_panels(rhs, &mut b.0, threads);
    on_panels(dst, lhs, &b.0, n, accumulate, threads, isa);
}

/// The product of `lhs` (`m x k`) and the packed `k x n` right operand `b` into `dst`.
fn on_panels(
    dst: &mut [f32],
    lhs: MatRef<'_>,
    b: &[f32],
    n: usize,
    accumulate: bool,
    threads: usize,
    isa: Isa,
) {
    let (m, k) = (lhs.rows, lhs.cols);
    if !accumulate {
        dst.fill(0.0);
    }
    // The left operand row-major (m x k), read in place when it is.
    let packed_lhs;
    let a: &[f32] = if lhs.col_stride == 1 && lhs.row_stride == k {
        &lhs.data[..m * k]
    } else {
        packed_lhs = pack_row_major(lhs, threads);
        &packed_lhs
    };
    let panels = n.div_ceil(PANEL);
    let tile_rows = isa.tile_rows();
    let work = |(block, rows): (usize, &mut [f32])| {
        let first = block * TASK_ROWS;
        let count = rows.len() / n;
        // Blocks of the inner dimension outermost: a block of the task's rows of the left
        // operand stays in cache while every panel's block passes by; a chain continues
        // exactly across blocks (its value is stored and reloaded as is).
        for p0 in (0..k).step_by(K_BLOCK) {
            let kb = K_BLOCK.min(k - p0);
            for q in 0..panels {
                let cols = PANEL.min(n - q * PANEL);
                let panel = &b[q * k * PANEL..(q + 1) * k * PANEL];
                let mut r = 0;
                while r < count {
                    let tile = tile_rows.min(count - r);
                    let tile_panel = Panel {
                        data: &panel[p0 * PANEL..(p0 + kb) * PANEL],
                        a: &a[(first + r) * k + p0..],
                        lda: k,
                        k: kb,
                    };
                    let out = &mut rows[r * n..(r + tile) * n];
                    run_tile(isa, tile, tile_panel, out, n, q * PANEL, cols);
                    r += tile;
                }
            }
        }
    };
    let tasks = dst.chunks_mut(TASK_ROWS * n).enumerate();
    if threads > 1 && m > TASK_ROWS {
        tasks.collect::<Vec<_>>().into_par_iter().for_each(work);
    } else {
        tasks.for_each(work);
    }
}

/// The packed right operand's buffer, reused by the next product on the same thread: a
/// dense layer's panels are megabytes, and a fresh zeroed allocation each call costs page
/// faults and a memset. Taken out of the thread's slot (a product that runs inside another
/// on the same thread, by work stealing, simply allocates its own) and put back on drop.
struct PackBuffer(Vec<f32>);

thread_local! {
    static PACK_BUFFER: std::cell::Cell<Vec<f32>> = const { std::cell::Cell::new(Vec::new()) };
}

impl PackBuffer {
    /// A buffer of `len` floats; what it holds is unspecified (every panel is written in
    /// full by [`pack_panel`], zero padding included).
    fn take(len: usize) -> Self {
        let mut buffer = PACK_BUFFER.with(std::cell::Cell::take);
        buffer.resize(len, 0.0);
        Self(buffer)
    }
}

impl Drop for PackBuffer {
    fn drop(&mut self) {
        let buffer = std::mem::take(&mut self.0);
        PACK_BUFFER.with(|slot| slot.set(buffer));
    }
}

/// Copies columns `first..first + PANEL` of `view` (zeros past its last column) into
/// `panel`, `k x PANEL` row-major.
fn pack_panel(view: MatRef<'_>, first: usize, panel: &mut [f32]) {
    let cols = PANEL.min(view.cols - first);
    if cols < PANEL {
        for row in panel.chunks_mut(PANEL) {
            row[cols..].fill(0.0);
        }
    }
    if view.col_stride == 1 {
        for (p, row) in panel.chunks_mut(PANEL).enumerate() {
            let start = p * view.row_stride + first;
            // Whole rows as fixed-size arrays (vector moves, not a `memcpy` call a row).
            if cols == PANEL {
                let row: &mut [f32; PANEL] = row.try_into().expect("a panel row has PANEL columns");
                *row = view.data[start..start + PANEL]
                    .try_into()
                    .expect("PANEL columns");
            } else {
                row[..cols].copy_from_slice(&view.data[start..start + cols]);
            }
        }
    } else {
        // Column by column within blocks of 16 rows: contiguous reads when the view is a
        // transpose, and the block's 16 panel rows (2 KiB) stay in cache while written.
        for p0 in (0..view.rows).step_by(16) {
            let end = (p0 + 16).min(view.rows);
            for c in 0..cols {
                for p in p0..end {
                    panel[p * PANEL + c] = view.at(p, first + c);
                }
            }
        }
    }
}

/// A copy of `view` in row-major order (rows in parallel blocks when `threads > 1`).
fn pack_row_major(view: MatRef<'_>, threads: usize) -> Vec<f32> {
    let (rows, cols) = (view.rows, view.cols);
    let mut out = vec![0.0f32; rows * cols];
    // Blocks of 16 rows read the source 16 rows at a time along each column, which is
    // contiguous when the view is a transpose.
    let fill = |(block, chunk): (usize, &mut [f32])| {
        let first = block * 16;
        let count = chunk.len() / cols;
        for j in 0..cols {
            for r in 0..count {
                chunk[r * cols + j] = view.at(first + r, j);
            }
        }
    };
    let blocks = out.chunks_mut(16 * cols).enumerate();
    if threads > 1 && rows > 16 {
        blocks.collect::<Vec<_>>().into_par_iter().for_each(fill);
    } else {
        blocks.for_each(fill);
    }
    out
}

/// One register tile's operands over a block of the inner dimension: row `r` of the left
/// operand at `a[r * lda..]`, row `p` of the right one's [`PANEL`] columns at
/// `data[p * PANEL..]`, for `p < k`.
#[derive(Clone, Copy)]
struct Panel<'a> {
    data: &'a [f32],
    a: &'a [f32],
    lda: usize,
    k: usize,
}

/// One register tile: `tile` rows of `out` (row stride `n`), columns `col..col + cols`.
#[allow(clippy::too_many_arguments)]
fn run_tile(
    isa: Isa,
    tile: usize,
    panel: Panel<'_>,
    out: &mut [f32],
    n: usize,
    col: usize,
    cols: usize,
) {
    let mut acc = [[0.0f32; PANEL]; TILE_ROWS];
    // A whole panel's row is copied as a fixed-size array (vector moves); a copy of
    // `cols` floats would call `memcpy`, twice per row and tile: about 3 % of a PGD step.
    for (r, acc) in acc.iter_mut().enumerate().take(tile) {
        let row = &out[r * n + col..];
        if cols == PANEL {
            *acc = row[..PANEL].try_into().expect("a whole panel's row");
        } else {
            acc[..cols].copy_from_slice(&row[..cols]);
        }
    }
    // One monomorphized kernel per tile height (up to the ISA's `tile_rows`).
    macro_rules! dispatch {
        ($kernel:ident: $($rows:literal)*) => {
            match tile {
                $($rows => $kernel::<$rows>(panel, &mut acc),)*
                _ => unreachable!("a tile has 1 to TILE_ROWS rows"),
            }
        };
    }
    if tile == 0 {
        return;
    }
    match isa {
        Isa::Avx512 => dispatch!(chains_avx512: 1 2 3 4 5 6 7 8),
        Isa::Avx2 => dispatch!(chains_avx2: 1 2 3 4 5 6 7 8),
        Isa::Baseline => dispatch!(chains: 1 2 3 4 5 6 7 8),
    }
    for (r, acc) in acc.iter().enumerate().take(tile) {
        let row = &mut out[r * n + col..];
        if cols == PANEL {
            let whole: &mut [f32; PANEL] = (&mut row[..PANEL]).try_into().expect("a whole row");
            *whole = *acc;
        } else {
            row[..cols].copy_from_slice(&acc[..cols]);
        }
    }
}

/// The chains of `R` rows x [`PANEL`] columns: `acc[r][c] = fma(a[r][p], panel[p][c],
/// acc[r][c])` for `p` ascending. Written once; the wrappers below only let the compiler use
/// wider vectors for the independent lanes (fused multiply-adds are exact-then-rounded on
/// every instruction set, so the bits do not change).
#[inline(always)]
fn chains<const R: usize>(panel: Panel<'_>, acc: &mut [[f32; PANEL]; TILE_ROWS]) {
    let k = panel.k;
    let mut regs = [[0.0f32; PANEL]; R];
    for (reg, acc) in regs.iter_mut().zip(acc.iter()) {
        *reg = *acc;
    }
    let rows: [&[f32]; R] = std::array::from_fn(|r| &panel.a[r * panel.lda..r * panel.lda + k]);
    for (p, b) in panel.data.chunks_exact(PANEL).take(k).enumerate() {
        let b: &[f32; PANEL] = b.try_into().expect("a panel row has PANEL columns");
        for r in 0..R {
            let x = rows[r][p];
            for c in 0..PANEL {
                regs[r][c] = x.mul_add(b[c], regs[r][c]);
            }
        }
    }
    for (reg, acc) in regs.iter().zip(acc.iter_mut()) {
        *acc = *reg;
    }
}

/// [`chains`] in AVX-512: two 16-lane vectors a row, one `vfmadd` per lane and step.
#[allow(unsafe_code)]
fn chains_avx512<const R: usize>(panel: Panel<'_>, acc: &mut [[f32; PANEL]; TILE_ROWS]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        #[target_feature(enable = "avx512f,fma")]
        fn inner<const R: usize>(panel: Panel<'_>, acc: &mut [[f32; PANEL]; TILE_ROWS]) {
            let k = panel.k;
            assert!(panel.data.len() >= k * PANEL && R <= TILE_ROWS);
            assert!(R == 0 || panel.a.len() >= (R - 1) * panel.lda + k);
            // SAFETY: every load and store below stays inside `acc` (R <= TILE_ROWS rows
            // of PANEL floats), `panel.data` (k rows of PANEL floats) and `panel.a` (R rows
            // of k floats at stride lda), as asserted above; unaligned loads and stores.
            unsafe {
                let mut regs: [[__m512; 2]; R] = std::array::from_fn(|r| {
                    let row = acc[r].as_ptr();
                    [_mm512_loadu_ps(row), _mm512_loadu_ps(row.add(16))]
                });
                let b = panel.data.as_ptr();
                let a = panel.a.as_ptr();
                for p in 0..k {
                    let b0 = _mm512_loadu_ps(b.add(p * PANEL));
                    let b1 = _mm512_loadu_ps(b.add(p * PANEL + 16));
                    for (r, reg) in regs.iter_mut().enumerate() {
                        let x = _mm512_set1_ps(*a.add(r * panel.lda + p));
                        reg[0] = _mm512_fmadd_ps(x, b0, reg[0]);
                        reg[1] = _mm512_fmadd_ps(x, b1, reg[1]);
                    }
                }
                for (r, reg) in regs.iter().enumerate() {
                    let row = acc[r].as_mut_ptr();
                    _mm512_storeu_ps(row, reg[0]);
                    _mm512_storeu_ps(row.add(16), reg[1]);
                }
            }
        }
        // SAFETY: only called with Isa::Avx512, which `Isa::detect` returns (and the tests
        // use) only when the CPU has AVX-512F and FMA.
        unsafe { inner::<R>(panel, acc) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    chains::<R>(panel, acc);
}

/// [`chains`] in AVX2: two 8-lane vectors a row, over each half of the panel in turn.
#[allow(unsafe_code)]
fn chains_avx2<const R: usize>(panel: Panel<'_>, acc: &mut [[f32; PANEL]; TILE_ROWS]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        #[target_feature(enable = "avx2,fma")]
        fn inner<const R: usize>(panel: Panel<'_>, acc: &mut [[f32; PANEL]; TILE_ROWS]) {
            let k = panel.k;
            assert!(panel.data.len() >= k * PANEL && R <= TILE_ROWS);
            assert!(R == 0 || panel.a.len() >= (R - 1) * panel.lda + k);
            // SAFETY: as in `chains_avx512`, with 8-lane vectors.
            unsafe {
                let b = panel.data.as_ptr();
                let a = panel.a.as_ptr();
                // Two halves of 16 columns, one after the other: R x 2 accumulators, two
                // panel vectors and one broadcast fit the 16 registers (all four vectors
                // of a row at once would not, and would spill).
                for half in 0..2 {
                    let mut regs: [[__m256; 2]; R] = std::array::from_fn(|r| {
                        let row = acc[r].as_ptr().add(16 * half);
                        [_mm256_loadu_ps(row), _mm256_loadu_ps(row.add(8))]
                    });
                    let bh = b.add(16 * half);
                    for p in 0..k {
                        let b0 = _mm256_loadu_ps(bh.add(p * PANEL));
                        let b1 = _mm256_loadu_ps(bh.add(p * PANEL + 8));
                        for (r, reg) in regs.iter_mut().enumerate() {
                            let x = _mm256_set1_ps(*a.add(r * panel.lda + p));
                            reg[0] = _mm256_fmadd_ps(x, b0, reg[0]);
                            reg[1] = _mm256_fmadd_ps(x, b1, reg[1]);
                        }
                    }
                    for (r, reg) in regs.iter().enumerate() {
                        let row = acc[r].as_mut_ptr().add(16 * half);
                        _mm256_storeu_ps(row, reg[0]);
                        _mm256_storeu_ps(row.add(8), reg[1]);
                    }
                }
            }
        }
        // SAFETY: only called with Isa::Avx2, which `Isa::detect` returns only when the
        // CPU has AVX2 and FMA (or for tests on a CPU with AVX-512, which has both).
        unsafe { inner::<R>(panel, acc) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    chains::<R>(panel, acc);
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

    /// The defining order, one scalar chain per element.
    fn chain_order(a: &[f32], b: &[f32], init: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut c = init.to_vec();
        for i in 0..m {
            for j in 0..n {
                let mut acc = c[i * n + j];
                for p in 0..k {
                    acc = a[i * k + p].mul_add(b[p * n + j], acc);
                }
                c[i * n + j] = acc;
            }
        }
        c
    }

    fn values(len: usize, seed: f32) -> Vec<f32> {
        (0..len)
            .map(|i| ((i as f32 + seed) * 0.7311).sin() * 3.0)
            .collect()
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
    fn every_instruction_set_and_thread_count_gives_the_defining_chains_bit_for_bit() {
        // Shapes with row and column tails (not multiples of 4, 16 or 32) and the networks'
        // dense shapes.
        for &(m, k, n) in &[
            (1, 1, 1),
            (7, 13, 45),
            (37, 300, 70),
            (128, 4096, 256),
            (64, 256, 10),
        ] {
            let a = values(m * k, 1.0);
            let b = values(k * n, 2.0);
            let init = values(m * n, 3.0);
            let want = chain_order(&a, &b, &init, m, k, n);
            // The same operands as transposed views of transposed copies.
            let at: Vec<f32> = (0..k * m).map(|idx| a[(idx % m) * k + idx / m]).collect();
            let bt: Vec<f32> = (0..n * k).map(|idx| b[(idx % k) * n + idx / k]).collect();
            for isa in Isa::available() {
                for threads in [1, 2, 3] {
                    for transposed in [false, true] {
                        let (lhs, rhs) = if transposed {
                            (
                                MatRef::row_major(&at, k, m).t(),
                                MatRef::row_major(&bt, n, k).t(),
                            )
                        } else {
                            (MatRef::row_major(&a, m, k), MatRef::row_major(&b, k, n))
                        };
                        let mut c = init.clone();
                        product(&mut c, lhs, rhs, true, threads, isa);
                        let same = c.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits());
                        assert!(
                            same,
                            "{isa:?}, {threads} threads, transposed {transposed}, {m}x{k}x{n}"
                        );
                    }
                }
            }
        }
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
