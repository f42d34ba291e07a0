//! Direct 3x3 convolution kernels in AVX-512: no im2col matrix is ever built.
//!
//! Images are kept per channel as zero-padded planes (`(h + 2) x (w + 2)`), so every tap of
//! the 3x3 window is an unaligned vector load at a fixed offset. The register tile is two
//! output rows x up to two 16-wide vectors of columns x a block of output channels (up to 24
//! accumulators), and each tap of each input channel costs a few loads and a broadcast
//! weight per output channel against 2 to 4 fused multiply-adds per broadcast, so the
//! kernels run from L1 and L2 at close to the FMA units' rate. The same kernel computes the
//! forward convolution and, with the weights flipped and transposed, the input gradient; a
//! second kernel accumulates the weight gradient over a group of images in 9 x 2 registers
//! per (output channel pair, input channel). Pooling and its inverse (routing the pooled
//! gradient to the recorded winners) are vectorized as well.
//!
//! Every function here is deterministic: the summation order depends only on the shapes.
//! The safe functions check the lengths of every slice before the unchecked vector code
//! runs; masked loads and stores never touch lanes beyond a row's end.

#![allow(unsafe_code)]

/// Whether the CPU running this process has the instructions these kernels need.
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Side of a zero-padded plane for an `h x w` image.
pub(crate) fn padded_len(h: usize, w: usize) -> usize {
    (h + 2) * (w + 2)
}

/// Weights `(out, in, 3, 3)` packed for the kernels: element `(i, tap, o)` at
/// `(i * 9 + tap) * out + o`, so that a block of output channels reads consecutive floats.
/// With `flip`, packs the weights of the input-gradient convolution instead: its output
/// channels are the layer's inputs, its inputs the layer's outputs, and the taps reversed.
pub(crate) fn pack_weights(w: &[f32], out: usize, inp: usize, flip: bool) -> Vec<f32> {
    let mut packed = vec![0.0f32; out * inp * 9];
    for o in 0..out {
        for i in 0..inp {
            for t in 0..9 {
                let v = w[(o * inp + i) * 9 + t];
                if flip {
                    // Output channel i, input channel o, tap 8 - t.
                    packed[(o * 9 + (8 - t)) * inp + i] = v;
                } else {
                    packed[(i * 9 + t) * out + o] = v;
                }
            }
        }
    }
    packed
}

/// Copies `x` (`channels x h x w`) into zero-bordered planes `dst` (`channels x (h+2) x
/// (w+2)`), applying `x * scale[c] + shift[c]` if given. Every element of the planes is
/// written (borders included), so `dst` may hold anything before.
pub(crate) fn pad_into(
    x: &[f32],
    channels: usize,
    h: usize,
    w: usize,
    affine: Option<(&[f32], &[f32])>,
    dst: &mut [f32],
) {
    let (plane, row) = (padded_len(h, w), w + 2);
    for (c, dst) in dst.chunks_mut(plane).take(channels).enumerate() {
        let (scale, shift) = affine.map_or((1.0, 0.0), |(s, b)| (s[c], b[c]));
        dst[..row].fill(0.0);
        dst[(h + 1) * row..].fill(0.0);
        for y in 0..h {
            let src = &x[(c * h + y) * w..(c * h + y + 1) * w];
            let padded = &mut dst[(y + 1) * row..(y + 2) * row];
            padded[0] = 0.0;
            padded[w + 1] = 0.0;
            let interior = &mut padded[1..=w];
            if affine.is_some() {
                for (d, &v) in interior.iter_mut().zip(src) {
                    *d = v * scale + shift;
                }
            } else {
                interior.copy_from_slice(src);
            }
        }
    }
}

/// Zeroes the border of each of `channels` padded `h x w` planes in `dst`.
pub(crate) fn zero_borders(dst: &mut [f32], channels: usize, h: usize, w: usize) {
    let (plane, row) = (padded_len(h, w), w + 2);
    for dst in dst.chunks_mut(plane).take(channels) {
        dst[..row].fill(0.0);
        dst[(h + 1) * row..].fill(0.0);
        for y in 1..=h {
            dst[y * row] = 0.0;
            dst[y * row + w + 1] = 0.0;
        }
    }
}

/// Per-thread scratch buffers reused across calls, so that a training step does not
/// allocate (and fault in) fresh pages for every layer's work. Contents are stale: users
/// write every element they read.
#[derive(Default)]
pub(crate) struct Scratch {
    buffers: [Vec<f32>; 2],
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// Runs `f` with two of this thread's scratch buffers, of at least `lens` elements each.
/// `f` must not call `with_scratch` again (the kernels never nest).
pub(crate) fn with_scratch<R>(lens: [usize; 2], f: impl FnOnce(&mut [f32], &mut [f32]) -> R) -> R {
    SCRATCH.with(|cell| {
        let mut scratch = cell.borrow_mut();
        let [a, b] = &mut scratch.buffers;
        for (buffer, &len) in [&mut *a, &mut *b].into_iter().zip(&lens) {
            if buffer.len() < len {
                buffer.resize(len, 0.0);
            }
        }
        f(&mut a[..lens[0]], &mut b[..lens[1]])
    })
}

/// `dst[o][y][x] = sum over i, ky, kx of packed(i, ky*3+kx, o) * src[i][y+ky][x+kx]` for
/// `out` output planes `h x w` (contiguous in `dst`) from `inp` zero-padded planes `src`.
/// `h` must be even.
pub(crate) fn conv_planes(
    src: &[f32],
    inp: usize,
    h: usize,
    w: usize,
    packed: &[f32],
    out: usize,
    dst: &mut [f32],
) {
    assert!(h.is_multiple_of(2), "conv_planes needs an even height");
    assert!(
        src.len() >= inp * padded_len(h, w),
        "padded input too short"
    );
    assert!(packed.len() >= inp * 9 * out, "packed weights too short");
    assert!(dst.len() >= out * h * w, "output too short");
    #[cfg(target_arch = "x86_64")]
    {
        assert!(available(), "direct kernels need AVX-512");
        // SAFETY: AVX-512F is present (checked above), and every slice is long enough for
        // the planes the kernel addresses (checked above).
        unsafe { avx512::conv_planes(src, inp, h, w, packed, out, dst) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        unreachable!("direct kernels are only selected on x86_64 with AVX-512")
    }
}

/// Adds to `gw` (`out x inp x 9`) the weight gradient of `images` images:
/// `gw[o][i][ky*3+kx] += sum over images, y, x of g[o][y+1][x+1] * x[i][y+ky][x+kx]`, where
/// `g` (`images x out` padded planes) is the gradient of the convolution's output and `x`
/// (`images x inp` padded planes) its padded input.
#[allow(clippy::too_many_arguments)]
pub(crate) fn weight_grad(
    g: &[f32],
    x: &[f32],
    images: usize,
    inp: usize,
    out: usize,
    h: usize,
    w: usize,
    gw: &mut [f32],
) {
    let plane = padded_len(h, w);
    assert!(g.len() >= images * out * plane, "gradient planes too short");
    assert!(x.len() >= images * inp * plane, "input planes too short");
    assert!(gw.len() >= out * inp * 9, "weight gradient too short");
    #[cfg(target_arch = "x86_64")]
    {
        assert!(available(), "direct kernels need AVX-512");
        // SAFETY: AVX-512F is present and every slice holds the planes addressed (checked
        // above).
        unsafe { avx512::weight_grad(g, x, images, inp, out, h, w, gw) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        unreachable!("direct kernels are only selected on x86_64 with AVX-512")
    }
}

/// Bias, ReLU and 2 x 2 max-pooling of `channels` planes `h x w` in `conv`, into `out`
/// (`channels x h/2 x w/2`) and the winner codes (0..=3 in row-major window order, the first
/// maximum winning; `dead` where the result was not positive).
#[allow(clippy::too_many_arguments)]
pub(crate) fn bias_relu_pool(
    conv: &[f32],
    bias: &[f32],
    channels: usize,
    h: usize,
    w: usize,
    dead: u8,
    out: &mut [f32],
    codes: &mut [u8],
) {
    let pooled = channels * (h / 2) * (w / 2);
    assert!(conv.len() >= channels * h * w && bias.len() >= channels);
    assert!(out.len() >= pooled && codes.len() >= pooled);
    #[cfg(target_arch = "x86_64")]
    {
        assert!(available(), "direct kernels need AVX-512");
        // SAFETY: AVX-512F is present and the slices are long enough (checked above).
        unsafe { avx512::bias_relu_pool(conv, bias, channels, h, w, dead, out, codes) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        unreachable!("direct kernels are only selected on x86_64 with AVX-512")
    }
}

/// The inverse of [`bias_relu_pool`] for gradients: writes each pooled gradient of `g` to
/// its window's winner in the padded planes `gpad` (`channels` planes, every element
/// written: the borders zero) and adds the gradient of the bias to `gb`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn unpool(
    g: &[f32],
    codes: &[u8],
    channels: usize,
    h: usize,
    w: usize,
    dead: u8,
    gpad: &mut [f32],
    gb: &mut [f32],
) {
    let pooled = channels * (h / 2) * (w / 2);
    assert!(g.len() >= pooled && codes.len() >= pooled);
    assert!(gpad.len() >= channels * padded_len(h, w) && gb.len() >= channels);
    #[cfg(target_arch = "x86_64")]
    {
        assert!(available(), "direct kernels need AVX-512");
        // SAFETY: AVX-512F is present and the slices are long enough (checked above).
        unsafe { avx512::unpool(g, codes, channels, h, w, dead, gpad, gb) }
        zero_borders(gpad, channels, h, w);
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        unreachable!("direct kernels are only selected on x86_64 with AVX-512")
    }
}

#[cfg(target_arch = "x86_64")]
// Register tiles are indexed by their lane, row and channel numbers.
#[allow(clippy::needless_range_loop)]
mod avx512 {
    use std::arch::x86_64::*;

    use super::padded_len;

    /// The lanes of a vector that hold the first `n` of 16 elements (`n` may exceed 16).
    fn mask(n: usize) -> __mmask16 {
        if n >= 16 {
            0xFFFF
        } else {
            ((1u32 << n) - 1) as __mmask16
        }
    }

    /// `RB` output rows x `NV` vectors of 16 columns x `CB` output channels.
    ///
    /// `src` points at input plane 0, padded row `y`, padded column `x0`; `wp` at the packed
    /// weight of output channel `c0` (stride `w_stride` between `(i, tap)` rows); `dst` at
    /// output `(c0, y, x0)`.
    ///
    /// # Safety
    /// AVX-512F; every lane selected by `masks` at every address formed must be inside its
    /// allocation.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn tile<const RB: usize, const NV: usize, const CB: usize>(
        src: *const f32,
        src_plane: usize,
        src_row: usize,
        inp: usize,
        wp: *const f32,
        w_stride: usize,
        dst: *mut f32,
        dst_plane: usize,
        dst_row: usize,
        masks: [__mmask16; NV],
    ) {
        let mut acc = [[[_mm512_setzero_ps(); CB]; NV]; RB];
        for i in 0..inp {
            // SAFETY (whole loop): the caller guarantees the planes, rows and masked lanes
            // addressed here are in bounds.
            unsafe {
                let s = src.add(i * src_plane);
                let wi = wp.add(i * 9 * w_stride);
                for ky in 0..3 {
                    for kx in 0..3 {
                        let mut a = [[_mm512_setzero_ps(); NV]; RB];
                        for r in 0..RB {
                            for v in 0..NV {
                                a[r][v] = _mm512_maskz_loadu_ps(
                                    masks[v],
                                    s.add((r + ky) * src_row + v * 16 + kx),
                                );
                            }
                        }
                        let wt = wi.add((ky * 3 + kx) * w_stride);
                        for c in 0..CB {
                            let wv = _mm512_set1_ps(*wt.add(c));
                            for r in 0..RB {
                                for v in 0..NV {
                                    acc[r][v][c] = _mm512_fmadd_ps(a[r][v], wv, acc[r][v][c]);
                                }
                            }
                        }
                    }
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            for (v, vector) in row.iter().enumerate() {
                for (c, value) in vector.iter().enumerate() {
                    // SAFETY: the caller guarantees the masked lanes of these outputs are in
                    // bounds.
                    unsafe {
                        _mm512_mask_storeu_ps(
                            dst.add(c * dst_plane + r * dst_row + v * 16),
                            masks[v],
                            *value,
                        );
                    }
                }
            }
        }
    }

    /// Channel block sizes (up to 24 accumulators in every tile shape used).
    const BLOCKS: [usize; 5] = [6, 4, 3, 2, 1];

    macro_rules! dispatch_tile {
        ($rb:expr, $nv:expr, $cb:expr, $masks:expr, ($($arg:expr),*)) => {
            match ($rb, $nv, $cb) {
                (2, 2, 6) => tile::<2, 2, 6>($($arg),*, [$masks[0], $masks[1]]),
                (2, 2, 4) => tile::<2, 2, 4>($($arg),*, [$masks[0], $masks[1]]),
                (2, 2, 3) => tile::<2, 2, 3>($($arg),*, [$masks[0], $masks[1]]),
                (2, 2, 2) => tile::<2, 2, 2>($($arg),*, [$masks[0], $masks[1]]),
                (2, 2, 1) => tile::<2, 2, 1>($($arg),*, [$masks[0], $masks[1]]),
                (4, 1, 6) => tile::<4, 1, 6>($($arg),*, [$masks[0]]),
                (4, 1, 4) => tile::<4, 1, 4>($($arg),*, [$masks[0]]),
                (4, 1, 3) => tile::<4, 1, 3>($($arg),*, [$masks[0]]),
                (4, 1, 2) => tile::<4, 1, 2>($($arg),*, [$masks[0]]),
                (4, 1, 1) => tile::<4, 1, 1>($($arg),*, [$masks[0]]),
                (2, 1, 6) => tile::<2, 1, 6>($($arg),*, [$masks[0]]),
                (2, 1, 4) => tile::<2, 1, 4>($($arg),*, [$masks[0]]),
                (2, 1, 3) => tile::<2, 1, 3>($($arg),*, [$masks[0]]),
                (2, 1, 2) => tile::<2, 1, 2>($($arg),*, [$masks[0]]),
                (2, 1, 1) => tile::<2, 1, 1>($($arg),*, [$masks[0]]),
                _ => unreachable!("no tile of {} rows x {} vectors x {} channels", $rb, $nv, $cb),
            }
        };
    }

    /// See [`super::conv_planes`].
    ///
    /// # Safety
    /// AVX-512F; the slices' lengths as checked by the safe wrapper.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn conv_planes(
        src: &[f32],
        inp: usize,
        h: usize,
        w: usize,
        packed: &[f32],
        out: usize,
        dst: &mut [f32],
    ) {
        let (src_plane, src_row) = (padded_len(h, w), w + 2);
        let mut x0 = 0;
        while x0 < w {
            let cols = (w - x0).min(32);
            let nv = if cols > 16 { 2 } else { 1 };
            let masks = [mask(cols), mask(cols.saturating_sub(16))];
            let mut c0 = 0;
            while c0 < out {
                let left = out - c0;
                let cb = *BLOCKS.iter().find(|&&s| s <= left).unwrap_or(&1);
                let mut y = 0;
                while y < h {
                    // Four rows at a time for one-vector rows, else two.
                    let rb = if nv == 1 && y + 4 <= h { 4 } else { 2 };
                    // SAFETY: rows y..y+rb+2 of every padded input plane and columns
                    // x0..x0+cols+2 exist (padded planes are (h+2) x (w+2)); weights
                    // (i, tap, c0..c0+cb) lie inside `packed`; outputs (c0..c0+cb, y..y+rb,
                    // x0..x0+cols) inside `dst`.
                    unsafe {
                        dispatch_tile!(
                            rb,
                            nv,
                            cb,
                            masks,
                            (
                                src.as_ptr().add(y * src_row + x0),
                                src_plane,
                                src_row,
                                inp,
                                packed.as_ptr().add(c0),
                                out,
                                dst.as_mut_ptr().add(c0 * h * w + y * w + x0),
                                h * w,
                                w
                            )
                        );
                    }
                    y += rb;
                }
                c0 += cb;
            }
            x0 += cols;
        }
    }

    /// Defines `$name`: `sum over images, y, x of g[c][y+1][x+1] * x[y+ky][x+kx]` for `$cob`
    /// output channels and one input plane, as `9 * $cob` vectors (tap-major within a
    /// channel; summed across lanes by the caller). Every accumulator index is a literal, so
    /// the accumulators stay in registers.
    ///
    /// Safety of the defined function: AVX-512F; `g` points at padded plane `c0` of the first
    /// image's gradient (`$cob` planes of `plane` floats follow, the next image `g_image`
    /// floats further), `x` at the first image's padded input plane (the next image
    /// `x_image` floats further).
    macro_rules! dw_tile {
        ($name:ident, $cob:literal, [$($c:literal),*]) => {
            #[allow(clippy::too_many_arguments)]
            #[inline]
            #[target_feature(enable = "avx512f")]
            unsafe fn $name(
                g: *const f32,
                g_image: usize,
                x: *const f32,
                x_image: usize,
                images: usize,
                plane: usize,
                h: usize,
                w: usize,
            ) -> [__m512; 9 * $cob] {
                let row = w + 2;
                let mut acc = [_mm512_setzero_ps(); 9 * $cob];
                for image in 0..images {
                    for y in 0..h {
                        let mut x0 = 0;
                        while x0 < w {
                            let m = mask(w - x0);
                            // SAFETY (block): rows y+1 of the gradient planes and y..y+2 of the
                            // input plane exist; masked lanes stay inside columns x0..w+1.
                            unsafe {
                                let gi = g.add(image * g_image + (y + 1) * row + x0 + 1);
                                let xi = x.add(image * x_image + y * row + x0);
                                let gv = [$(_mm512_maskz_loadu_ps(m, gi.add($c * plane))),*];
                                macro_rules! tap {
                                    ($t:literal, $ky:literal, $kx:literal) => {
                                        let xv = _mm512_maskz_loadu_ps(m, xi.add($ky * row + $kx));
                                        $(acc[$c * 9 + $t] = _mm512_fmadd_ps(gv[$c], xv, acc[$c * 9 + $t]);)*
                                    };
                                }
                                tap!(0, 0, 0);
                                tap!(1, 0, 1);
                                tap!(2, 0, 2);
                                tap!(3, 1, 0);
                                tap!(4, 1, 1);
                                tap!(5, 1, 2);
                                tap!(6, 2, 0);
                                tap!(7, 2, 1);
                                tap!(8, 2, 2);
                            }
                            x0 += 16;
                        }
                    }
                }
                acc
            }
        };
    }
    dw_tile!(dw_tile1, 1, [0]);
    dw_tile!(dw_tile2, 2, [0, 1]);

    /// See [`super::weight_grad`].
    ///
    /// # Safety
    /// AVX-512F; the slices' lengths as checked by the safe wrapper.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn weight_grad(
        g: &[f32],
        x: &[f32],
        images: usize,
        inp: usize,
        out: usize,
        h: usize,
        w: usize,
        gw: &mut [f32],
    ) {
        let plane = padded_len(h, w);
        let mut o = 0;
        while o < out {
            let cob = if out - o >= 2 { 2 } else { 1 };
            for i in 0..inp {
                let gp = g[o * plane..].as_ptr();
                let xp = x[i * plane..].as_ptr();
                let (g_image, x_image) = (out * plane, inp * plane);
                // SAFETY: planes o..o+cob of every image's gradient and plane i of every
                // image's input lie inside the slices (lengths checked by the wrapper).
                let sums: [[f32; 9]; 2] = unsafe {
                    let mut sums = [[0.0; 9]; 2];
                    if cob == 2 {
                        let acc = dw_tile2(gp, g_image, xp, x_image, images, plane, h, w);
                        for (k, v) in acc.iter().enumerate() {
                            sums[k / 9][k % 9] = _mm512_reduce_add_ps(*v);
                        }
                    } else {
                        let acc = dw_tile1(gp, g_image, xp, x_image, images, plane, h, w);
                        for (k, v) in acc.iter().enumerate() {
                            sums[0][k] = _mm512_reduce_add_ps(*v);
                        }
                    }
                    sums
                };
                for (c, sum) in sums.iter().enumerate().take(cob) {
                    for (t, v) in sum.iter().enumerate() {
                        gw[((o + c) * inp + i) * 9 + t] += v;
                    }
                }
            }
            o += cob;
        }
    }

    const EVEN: [i32; 16] = [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30];
    const ODD: [i32; 16] = [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31];
    const INTERLEAVE_LO: [i32; 16] = [0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23];
    const INTERLEAVE_HI: [i32; 16] = [8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31];

    fn index(lanes: [i32; 16]) -> __m512i {
        // SAFETY: a 16 x i32 array and a 512-bit vector have the same size and any bit
        // pattern is a valid vector.
        unsafe { std::mem::transmute::<[i32; 16], __m512i>(lanes) }
    }

    /// See [`super::bias_relu_pool`].
    ///
    /// # Safety
    /// AVX-512F; the slices' lengths as checked by the safe wrapper.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn bias_relu_pool(
        conv: &[f32],
        bias: &[f32],
        channels: usize,
        h: usize,
        w: usize,
        dead: u8,
        out: &mut [f32],
        codes: &mut [u8],
    ) {
        let (ph, pw) = (h / 2, w / 2);
        let (even, odd) = (index(EVEN), index(ODD));
        let dead_code = _mm512_set1_epi32(i32::from(dead));
        let zero = _mm512_setzero_ps();
        for c in 0..channels {
            let b = _mm512_set1_ps(bias[c]);
            for py in 0..ph {
                let r0 = conv[(c * h + 2 * py) * w..].as_ptr();
                let r1 = conv[(c * h + 2 * py + 1) * w..].as_ptr();
                let mut p0 = 0;
                while p0 < pw {
                    let m = pw - p0;
                    let (lo, hi) = (mask(2 * m), mask((2 * m).saturating_sub(16)));
                    let at = (c * ph + py) * pw + p0;
                    // SAFETY: columns 2*p0 .. 2*(p0+m) of rows 2py and 2py+1 are inside `conv`
                    // (masked), pooled outputs at..at+m inside `out` and `codes`.
                    unsafe {
                        let a0 = _mm512_maskz_loadu_ps(lo, r0.add(2 * p0));
                        let b0 = _mm512_maskz_loadu_ps(hi, r0.wrapping_add(2 * p0 + 16));
                        let a1 = _mm512_maskz_loadu_ps(lo, r1.add(2 * p0));
                        let b1 = _mm512_maskz_loadu_ps(hi, r1.wrapping_add(2 * p0 + 16));
                        let candidates = [
                            _mm512_permutex2var_ps(a0, even, b0),
                            _mm512_permutex2var_ps(a0, odd, b0),
                            _mm512_permutex2var_ps(a1, even, b1),
                            _mm512_permutex2var_ps(a1, odd, b1),
                        ];
                        let mut best = candidates[0];
                        let mut code = _mm512_setzero_si512();
                        for (k, &cand) in candidates.iter().enumerate().skip(1) {
                            let gt = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(cand, best);
                            best = _mm512_mask_blend_ps(gt, best, cand);
                            code = _mm512_mask_blend_epi32(gt, code, _mm512_set1_epi32(k as i32));
                        }
                        let value = _mm512_add_ps(best, b);
                        let alive = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(value, zero);
                        let keep = mask(m);
                        _mm512_mask_storeu_ps(
                            out.as_mut_ptr().add(at),
                            keep,
                            _mm512_maskz_mov_ps(alive, value),
                        );
                        let code = _mm512_mask_blend_epi32(alive, dead_code, code);
                        _mm512_mask_cvtepi32_storeu_epi8(
                            codes.as_mut_ptr().add(at).cast::<i8>(),
                            keep,
                            code,
                        );
                    }
                    p0 += 16;
                }
            }
        }
    }

    /// See [`super::unpool`].
    ///
    /// # Safety
    /// AVX-512F; the slices' lengths as checked by the safe wrapper.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn unpool(
        g: &[f32],
        codes: &[u8],
        channels: usize,
        h: usize,
        w: usize,
        dead: u8,
        gpad: &mut [f32],
        gb: &mut [f32],
    ) {
        let (ph, pw) = (h / 2, w / 2);
        let (plane, row) = (padded_len(h, w), w + 2);
        let (lo_idx, hi_idx) = (index(INTERLEAVE_LO), index(INTERLEAVE_HI));
        let dead_code = _mm512_set1_epi32(i32::from(dead));
        for c in 0..channels {
            let mut bias = _mm512_setzero_ps();
            for py in 0..ph {
                let mut p0 = 0;
                while p0 < pw {
                    let m = pw - p0;
                    let keep = mask(m);
                    let at = (c * ph + py) * pw + p0;
                    let mut code_bytes = [dead; 16];
                    let n = m.min(16);
                    code_bytes[..n].copy_from_slice(&codes[at..at + n]);
                    // SAFETY: pooled gradients at..at+m are inside `g` (masked); padded rows
                    // 2py+1 and 2py+2, columns 1+2*p0 .. 1+2*(p0+m), inside plane c of `gpad`
                    // (masked).
                    unsafe {
                        let code = _mm512_cvtepu8_epi32(_mm_loadu_si128(
                            code_bytes.as_ptr().cast::<__m128i>(),
                        ));
                        let gv = _mm512_maskz_loadu_ps(keep, g.as_ptr().add(at));
                        let mut s = [_mm512_setzero_ps(); 4];
                        for (k, sk) in s.iter_mut().enumerate() {
                            let is_k = _mm512_cmpeq_epi32_mask(code, _mm512_set1_epi32(k as i32));
                            *sk = _mm512_maskz_mov_ps(is_k, gv);
                        }
                        let [s0, s1, s2, s3] = s;
                        let alive = _mm512_cmpneq_epi32_mask(code, dead_code) & keep;
                        bias = _mm512_mask_add_ps(bias, alive, bias, gv);
                        let (lo, hi) = (mask(2 * m), mask((2 * m).saturating_sub(16)));
                        let top = gpad
                            .as_mut_ptr()
                            .add(c * plane + (2 * py + 1) * row + 1 + 2 * p0);
                        let bottom = top.add(row);
                        _mm512_mask_storeu_ps(top, lo, _mm512_permutex2var_ps(s0, lo_idx, s1));
                        _mm512_mask_storeu_ps(
                            top.wrapping_add(16),
                            hi,
                            _mm512_permutex2var_ps(s0, hi_idx, s1),
                        );
                        _mm512_mask_storeu_ps(bottom, lo, _mm512_permutex2var_ps(s2, lo_idx, s3));
                        _mm512_mask_storeu_ps(
                            bottom.wrapping_add(16),
                            hi,
                            _mm512_permutex2var_ps(s2, hi_idx, s3),
                        );
                    }
                    p0 += 16;
                }
            }
            gb[c] += _mm512_reduce_add_ps(bias);
        }
    }
}
