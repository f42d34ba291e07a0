//! Direct 3x3 convolution kernels: no im2col matrix is ever built.
//!
//! Images are kept per channel as zero-padded planes (`(h + 2) x (w + 2)`), so every tap of
//! the 3x3 window is an unaligned vector load at a fixed offset. In AVX-512, the register
//! tile is two output rows x up to two 16-wide vectors of columns x a block of output
//! channels (up to 24 accumulators), and each tap of each input channel costs a few loads
//! and a broadcast weight per output channel against 2 to 4 fused multiply-adds per
//! broadcast, so the kernels run from L1 and L2 at close to the FMA units' rate. The same
//! kernel computes the forward convolution and, with the weights flipped and transposed,
//! the input gradient; a second kernel accumulates the weight gradient over a group of
//! images in 9 x 2 registers per (output channel pair, input channel). Pooling and its
//! inverse (routing the pooled gradient to the recorded winners) are vectorized as well.
//!
//! The arithmetic is defined by the portable module [`scalar`]: every output of the
//! convolution is one chain of fused multiply-adds over (input channel, tap) in ascending
//! order; every weight-gradient sum is 16 such chains (lane `l` takes the columns `x` with
//! `x % 16 == l`, over images, rows and column blocks in ascending order) added in a fixed
//! halving tree; the bias gradient likewise. The AVX-512 and AVX2 versions compute exactly
//! these chains with other register tiles, so every CPU gives the same bits (tests below
//! compare each path this CPU can run with `scalar`, and `tests/golden.rs` pins a few
//! training steps).
//!
//! The safe functions check the lengths of every slice before the unchecked vector code
//! runs; masked loads and stores never touch lanes beyond a row's end.

#![allow(unsafe_code)]

use std::mem::MaybeUninit;

use super::gemm::Isa;
use super::write_only;

/// The instruction set the kernels run on here (the widest this CPU has); every one gives
/// the same bits.
pub(crate) fn isa() -> Isa {
    Isa::detect()
}

/// Side of a zero-padded plane for an `h x w` image.
pub(crate) fn padded_len(h: usize, w: usize) -> usize {
    (h + 2) * (w + 2)
}

/// The output-channel blocks of the packed weights and of the vector tiles, largest first:
/// blocks of 6 while 6 or more channels are left, then 4, 3, 2, 1.
const CHANNEL_BLOCKS: [usize; 5] = [6, 4, 3, 2, 1];

/// The size of the block of output channels that starts at channel `c0` (of `out`).
pub(crate) fn block_len(c0: usize, out: usize) -> usize {
    let left = out - c0;
    *CHANNEL_BLOCKS.iter().find(|&&s| s <= left).unwrap_or(&1)
}

/// The blocks `(c0, cb)` of `out` output channels, in order.
fn channel_blocks(out: usize) -> impl Iterator<Item = (usize, usize)> {
    let mut c0 = 0;
    std::iter::from_fn(move || {
        (c0 < out).then(|| {
            let cb = block_len(c0, out);
            c0 += cb;
            (c0 - cb, cb)
        })
    })
}

/// Weights `(out, in, 3, 3)` packed for the kernels, block by block of output channels
/// ([`block_len`]): the block `(c0, cb)` occupies `cb * in * 9` consecutive floats from
/// `c0 * in * 9`, element `(i, tap, c0 + c)` at `c0 * in * 9 + (i * 9 + tap) * cb + c`, so a
/// register tile's weights for one `(i, tap)` are consecutive and the whole block's are one
/// small stretch that stays in L1 while the tile sweeps the image.
/// With `flip`, packs the weights of the input-gradient convolution instead: its output
/// channels are the layer's inputs, its inputs the layer's outputs, and the taps reversed.
pub(crate) fn pack_weights(w: &[f32], out: usize, inp: usize, flip: bool) -> Vec<f32> {
    // The convolution the packed weights are for: `cout` outputs from `cin` inputs.
    let (cout, cin) = if flip { (inp, out) } else { (out, inp) };
    let mut packed = vec![0.0f32; out * inp * 9];
    for (c0, cb) in channel_blocks(cout) {
        let block = &mut packed[c0 * cin * 9..(c0 + cb) * cin * 9];
        for c in 0..cb {
            for i in 0..cin {
                for t in 0..9 {
                    block[(i * 9 + t) * cb + c] = if flip {
                        // Output channel c0 + c is the layer's input, input i its output.
                        w[(i * inp + c0 + c) * 9 + 8 - t]
                    } else {
                        w[((c0 + c) * inp + i) * 9 + t]
                    };
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

/// The `n` (at most 16) winner codes from `at`, then `dead` up to 16 bytes, for the vector
/// unpooling. A whole row of 16 or 8 codes is copied as a fixed-size array (vector moves):
/// a copy of `n` bytes would call `memcpy` once for every 8 or 16 pooled gradients.
#[inline(always)]
fn code_block(codes: &[u8], at: usize, n: usize, dead: u8) -> [u8; 16] {
    let mut block = [dead; 16];
    match n {
        16 => block = codes[at..at + 16].try_into().expect("16 codes"),
        8 => {
            let head: &mut [u8; 8] = (&mut block[..8]).try_into().expect("8 bytes");
            *head = codes[at..at + 8].try_into().expect("8 codes");
        }
        _ => block[..n].copy_from_slice(&codes[at..at + n]),
    }
    block
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
    // SAFETY: the kernels write only values (never an uninitialized one) through it.
    conv_planes_into(src, inp, h, w, packed, out, unsafe { write_only(dst) });
}

/// [`conv_planes`] into memory that need not be initialized: every element of
/// `dst[..out * h * w]` is written (the tests start from NaN and compare every element),
/// so a fresh output needs no zeroing first.
pub(crate) fn conv_planes_into(
    src: &[f32],
    inp: usize,
    h: usize,
    w: usize,
    packed: &[f32],
    out: usize,
    dst: &mut [MaybeUninit<f32>],
) {
    conv_planes_on(isa(), src, inp, h, w, packed, out, dst);
}

/// [`conv_planes_into`] on the instruction set `on` (which this CPU must have).
#[allow(clippy::too_many_arguments)]
pub(crate) fn conv_planes_on(
    on: Isa,
    src: &[f32],
    inp: usize,
    h: usize,
    w: usize,
    packed: &[f32],
    out: usize,
    dst: &mut [MaybeUninit<f32>],
) {
    assert!(h.is_multiple_of(2), "conv_planes needs an even height");
    assert!(
        src.len() >= inp * padded_len(h, w),
        "padded input too short"
    );
    assert!(packed.len() >= inp * 9 * out, "packed weights too short");
    assert!(dst.len() >= out * h * w, "output too short");
    match on {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU has AVX-512F (detected), and every slice is long enough for the
        // planes the kernel addresses (checked above).
        Isa::Avx512 => unsafe { avx512::conv_planes(src, inp, h, w, packed, out, dst) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU has AVX2 and FMA (detected); lengths checked above.
        Isa::Avx2 => unsafe { avx2::conv_planes(src, inp, h, w, packed, out, dst) },
        _ => scalar::conv_planes(src, inp, h, w, packed, out, dst),
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
    weight_grad_on(isa(), g, x, images, inp, out, h, w, gw);
}

/// [`weight_grad`] on the instruction set `on` (which this CPU must have).
#[allow(clippy::too_many_arguments)]
pub(crate) fn weight_grad_on(
    on: Isa,
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
    match on {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX-512F is present (detected) and every slice holds the planes addressed
        // (checked above).
        Isa::Avx512 => unsafe { avx512::weight_grad(g, x, images, inp, out, h, w, gw) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX2 and FMA are present (detected); lengths checked above.
        Isa::Avx2 => unsafe { avx2::weight_grad(g, x, images, inp, out, h, w, gw) },
        _ => scalar::weight_grad(g, x, images, inp, out, h, w, gw),
    }
}

/// Bias, ReLU and 2 x 2 max-pooling of `channels` planes `h x w` in `conv`, into `out`
/// (`channels x h/2 x w/2`) and the winner codes (0..=3 in row-major window order, the first
/// maximum winning; `dead` where the result was not positive). Every element of
/// `out[..pooled]` and `codes[..pooled]` is written, so they need not be initialized.
#[allow(clippy::too_many_arguments)]
pub(crate) fn bias_relu_pool(
    conv: &[f32],
    bias: &[f32],
    channels: usize,
    h: usize,
    w: usize,
    dead: u8,
    out: &mut [MaybeUninit<f32>],
    codes: &mut [MaybeUninit<u8>],
) {
    bias_relu_pool_on(isa(), conv, bias, channels, h, w, dead, out, codes);
}

/// [`bias_relu_pool`] on the instruction set `on` (which this CPU must have).
#[allow(clippy::too_many_arguments)]
pub(crate) fn bias_relu_pool_on(
    on: Isa,
    conv: &[f32],
    bias: &[f32],
    channels: usize,
    h: usize,
    w: usize,
    dead: u8,
    out: &mut [MaybeUninit<f32>],
    codes: &mut [MaybeUninit<u8>],
) {
    let pooled = channels * (h / 2) * (w / 2);
    assert!(conv.len() >= channels * h * w && bias.len() >= channels);
    assert!(out.len() >= pooled && codes.len() >= pooled);
    match on {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX-512F is present (detected) and the slices are long enough (checked
        // above).
        Isa::Avx512 => unsafe {
            avx512::bias_relu_pool(conv, bias, channels, h, w, dead, out, codes)
        },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX2 is present (detected); lengths checked above.
        Isa::Avx2 => unsafe { avx2::bias_relu_pool(conv, bias, channels, h, w, dead, out, codes) },
        _ => scalar::bias_relu_pool(conv, bias, channels, h, w, dead, out, codes),
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
    unpool_on(isa(), g, codes, channels, h, w, dead, gpad, gb);
}

/// [`unpool`] on the instruction set `on` (which this CPU must have).
#[allow(clippy::too_many_arguments)]
pub(crate) fn unpool_on(
    on: Isa,
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
    match on {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX-512F is present (detected) and the slices are long enough (checked
        // above).
        Isa::Avx512 => unsafe { avx512::unpool(g, codes, channels, h, w, dead, gpad, gb) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX2 is present (detected); lengths checked above.
        Isa::Avx2 => unsafe { avx2::unpool(g, codes, channels, h, w, dead, gpad, gb) },
        _ => scalar::unpool(g, codes, channels, h, w, dead, gpad, gb),
    }
    zero_borders(gpad, channels, h, w);
}

#[cfg(target_arch = "x86_64")]
// Register tiles are indexed by their lane, row and channel numbers.
#[allow(clippy::needless_range_loop)]
mod avx512 {
    use std::arch::x86_64::*;

    use std::mem::MaybeUninit;

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
        dst: &mut [MaybeUninit<f32>],
    ) {
        let (src_plane, src_row) = (padded_len(h, w), w + 2);
        let mut x0 = 0;
        while x0 < w {
            let cols = (w - x0).min(32);
            let nv = if cols > 16 { 2 } else { 1 };
            let masks = [mask(cols), mask(cols.saturating_sub(16))];
            for (c0, cb) in super::channel_blocks(out) {
                let mut y = 0;
                while y < h {
                    // Four rows at a time for one-vector rows, else two.
                    let rb = if nv == 1 && y + 4 <= h { 4 } else { 2 };
                    // SAFETY: rows y..y+rb+2 of every padded input plane and columns
                    // x0..x0+cols+2 exist (padded planes are (h+2) x (w+2)); the block
                    // of weights c0..c0+cb (from c0 * inp * 9) lies inside `packed`; outputs (c0..c0+cb, y..y+rb,
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
                                packed.as_ptr().add(c0 * inp * 9),
                                cb,
                                dst.as_mut_ptr().cast::<f32>().add(c0 * h * w + y * w + x0),
                                h * w,
                                w
                            )
                        );
                    }
                    y += rb;
                }
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
        out: &mut [MaybeUninit<f32>],
        codes: &mut [MaybeUninit<u8>],
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
                            out.as_mut_ptr().cast::<f32>().add(at),
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
                    let code_bytes = super::code_block(codes, at, m.min(16), dead);
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

/// The sum of 16 lanes in the order `_mm512_reduce_add_ps` adds them: lanes `l` and
/// `l + 8`, then `l` and `l + 4`, then `l` and `l + 2`, then the last two.
fn reduce16(a: &[f32; 16]) -> f32 {
    let mut s = [0.0f32; 8];
    for l in 0..8 {
        s[l] = a[l] + a[l + 8];
    }
    let t = [s[0] + s[4], s[1] + s[5], s[2] + s[6], s[3] + s[7]];
    let u = [t[0] + t[2], t[1] + t[3]];
    u[0] + u[1]
}

/// The definition of the kernels' arithmetic in portable Rust (`f32::mul_add`), run where
/// the CPU has neither AVX-512F nor AVX2 with FMA, and the reference the vector versions
/// are tested against.
// Lanes, taps and channels are indexed by their numbers.
#[allow(clippy::needless_range_loop)]
pub(crate) mod scalar {
    use std::mem::MaybeUninit;

    use super::{padded_len, reduce16};

    /// See [`super::conv_planes`].
    pub(crate) fn conv_planes(
        src: &[f32],
        inp: usize,
        h: usize,
        w: usize,
        packed: &[f32],
        out: usize,
        dst: &mut [MaybeUninit<f32>],
    ) {
        let (plane, row) = (padded_len(h, w), w + 2);
        for (c0, cb) in super::channel_blocks(out) {
            for o in c0..c0 + cb {
                let wo = &packed[c0 * inp * 9 + o - c0..];
                for y in 0..h {
                    for x in 0..w {
                        let mut acc = 0.0f32;
                        for i in 0..inp {
                            let s = &src[i * plane..];
                            let wt = &wo[i * 9 * cb..];
                            for ky in 0..3 {
                                for kx in 0..3 {
                                    acc = s[(y + ky) * row + x + kx]
                                        .mul_add(wt[(ky * 3 + kx) * cb], acc);
                                }
                            }
                        }
                        dst[(o * h + y) * w + x].write(acc);
                    }
                }
            }
        }
    }

    /// See [`super::weight_grad`].
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
        let (plane, row) = (padded_len(h, w), w + 2);
        for o in 0..out {
            for i in 0..inp {
                let mut acc = [[0.0f32; 16]; 9];
                for image in 0..images {
                    let gp = &g[(image * out + o) * plane..];
                    let xp = &x[(image * inp + i) * plane..];
                    for y in 0..h {
                        for x0 in (0..w).step_by(16) {
                            for l in 0..16 {
                                let col = x0 + l;
                                for ky in 0..3 {
                                    for kx in 0..3 {
                                        // Lanes past the row's end add 0 x 0, as the masked
                                        // vector loads do.
                                        let (gv, xv) = if col < w {
                                            (
                                                gp[(y + 1) * row + col + 1],
                                                xp[(y + ky) * row + col + kx],
                                            )
                                        } else {
                                            (0.0, 0.0)
                                        };
                                        let a = &mut acc[ky * 3 + kx][l];
                                        *a = gv.mul_add(xv, *a);
                                    }
                                }
                            }
                        }
                    }
                }
                for (t, lanes) in acc.iter().enumerate() {
                    gw[(o * inp + i) * 9 + t] += reduce16(lanes);
                }
            }
        }
    }

    /// See [`super::bias_relu_pool`].
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn bias_relu_pool(
        conv: &[f32],
        bias: &[f32],
        channels: usize,
        h: usize,
        w: usize,
        dead: u8,
        out: &mut [MaybeUninit<f32>],
        codes: &mut [MaybeUninit<u8>],
    ) {
        let (ph, pw) = (h / 2, w / 2);
        for c in 0..channels {
            for py in 0..ph {
                let r0 = &conv[(c * h + 2 * py) * w..];
                let r1 = &conv[(c * h + 2 * py + 1) * w..];
                for px in 0..pw {
                    let candidates = [r0[2 * px], r0[2 * px + 1], r1[2 * px], r1[2 * px + 1]];
                    let (mut best, mut code) = (candidates[0], 0u8);
                    for (k, &candidate) in candidates.iter().enumerate().skip(1) {
                        if candidate > best {
                            (best, code) = (candidate, k as u8);
                        }
                    }
                    let value = best + bias[c];
                    let at = (c * ph + py) * pw + px;
                    let (value, code) = if value > 0.0 {
                        (value, code)
                    } else {
                        (0.0, dead)
                    };
                    out[at].write(value);
                    codes[at].write(code);
                }
            }
        }
    }

    /// See [`super::unpool`] (without zeroing the borders, which the caller does).
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
        let (ph, pw) = (h / 2, w / 2);
        let (plane, row) = (padded_len(h, w), w + 2);
        for c in 0..channels {
            let mut lanes = [0.0f32; 16];
            for py in 0..ph {
                for px in 0..pw {
                    let at = (c * ph + py) * pw + px;
                    let (gv, code) = (g[at], codes[at]);
                    if code != dead {
                        lanes[px % 16] += gv;
                    }
                    let top = c * plane + (2 * py + 1) * row + 1 + 2 * px;
                    for (k, offset) in [0, 1, row, row + 1].into_iter().enumerate() {
                        gpad[top + offset] = if usize::from(code) == k { gv } else { 0.0 };
                    }
                }
            }
            gb[c] += reduce16(&lanes);
        }
    }
}

/// The convolution, its weight gradient, the pooling and its inverse in AVX2 with FMA: the
/// chains of [`scalar`] with 8-lane vectors and register tiles that fit 16 registers.
#[cfg(target_arch = "x86_64")]
// Register tiles are indexed by their lane, row and channel numbers.
#[allow(clippy::needless_range_loop)]
mod avx2 {
    use std::arch::x86_64::*;

    use std::mem::MaybeUninit;

    use super::{padded_len, reduce16};

    /// A load mask for the first `n` of 8 lanes (`n` may exceed 8).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn mask(n: usize) -> __m256i {
        let n = n.min(8) as i32;
        _mm256_cmpgt_epi32(
            _mm256_set1_epi32(n),
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        )
    }

    /// `RB` output rows x `NV` vectors of 8 columns x `CB` output channels, as the AVX-512
    /// tile: one chain per output over (input channel, tap) in ascending order. With `FULL`,
    /// every vector is whole (`masks` unused) and plain loads and stores replace the masked
    /// ones, which cost twice as much on AMD's cores. Per tap, the `CB` weights are broadcast
    /// first and each input vector is loaded once and used `CB` times, so that `RB x NV x CB`
    /// accumulators, `CB` weights and one input fit the 16 registers.
    ///
    /// # Safety
    /// AVX2 and FMA; every lane selected by `masks` (every lane, with `FULL`) at every
    /// address formed must be inside its allocation.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tile<const RB: usize, const NV: usize, const CB: usize, const FULL: bool>(
        src: *const f32,
        src_plane: usize,
        src_row: usize,
        inp: usize,
        wp: *const f32,
        w_stride: usize,
        dst: *mut f32,
        dst_plane: usize,
        dst_row: usize,
        masks: [__m256i; NV],
    ) {
        let mut acc = [[[_mm256_setzero_ps(); CB]; NV]; RB];
        for i in 0..inp {
            // SAFETY (whole loop): the caller guarantees the planes, rows and (masked) lanes
            // addressed here are in bounds.
            unsafe {
                let s = src.add(i * src_plane);
                let wi = wp.add(i * 9 * w_stride);
                for ky in 0..3 {
                    for kx in 0..3 {
                        let wt = wi.add((ky * 3 + kx) * w_stride);
                        let load = |r: usize, v: usize| {
                            let at = s.add((r + ky) * src_row + v * 8 + kx);
                            if FULL {
                                _mm256_loadu_ps(at)
                            } else {
                                _mm256_maskload_ps(at, masks[v])
                            }
                        };
                        if RB * NV < CB {
                            // Fewer inputs than weights: hold the inputs.
                            let mut a = [[_mm256_setzero_ps(); NV]; RB];
                            for r in 0..RB {
                                for v in 0..NV {
                                    a[r][v] = load(r, v);
                                }
                            }
                            for c in 0..CB {
                                let wv = _mm256_broadcast_ss(&*wt.add(c));
                                for r in 0..RB {
                                    for v in 0..NV {
                                        acc[r][v][c] = _mm256_fmadd_ps(a[r][v], wv, acc[r][v][c]);
                                    }
                                }
                            }
                        } else {
                            // Hold the weights.
                            let mut wv = [_mm256_setzero_ps(); CB];
                            for c in 0..CB {
                                wv[c] = _mm256_broadcast_ss(&*wt.add(c));
                            }
                            for r in 0..RB {
                                for v in 0..NV {
                                    let a = load(r, v);
                                    for c in 0..CB {
                                        acc[r][v][c] = _mm256_fmadd_ps(a, wv[c], acc[r][v][c]);
                                    }
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
                    // SAFETY: the caller guarantees the (masked) lanes of these outputs are
                    // in bounds.
                    unsafe {
                        let at = dst.add(c * dst_plane + r * dst_row + v * 8);
                        if FULL {
                            _mm256_storeu_ps(at, *value);
                        } else {
                            _mm256_maskstore_ps(at, masks[v], *value);
                        }
                    }
                }
            }
        }
    }

    /// See [`super::conv_planes`].
    ///
    /// # Safety
    /// AVX2 and FMA; the slices' lengths as checked by the safe wrapper.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn conv_planes(
        src: &[f32],
        inp: usize,
        h: usize,
        w: usize,
        packed: &[f32],
        out: usize,
        dst: &mut [MaybeUninit<f32>],
    ) {
        let (src_plane, src_row) = (padded_len(h, w), w + 2);
        // Blocks of 8 columns x 6 channels hold two input vectors, one weight and 12
        // accumulators (15 of the 16 registers); with 3 or fewer output channels, 16 columns
        // x 3 channels keep 12 accumulators busy instead.
        let width = if out > 3 { 8 } else { 16 };
        let mut x0 = 0;
        while x0 < w {
            let cols = (w - x0).min(width);
            let nv = if cols > 8 { 2 } else { 1 };
            // Whole vectors: 8 or 16 columns, whose loads at taps kx <= 2 end at column
            // x0 + cols + 2 <= w + 2, inside the padded row.
            let full = cols == 8 * nv;
            let masks = [mask(cols), mask(cols.saturating_sub(8))];
            for (c0, cb) in super::channel_blocks(out) {
                // Two vectors only with 3 or fewer channels (12 accumulators); one: up to 6.
                debug_assert!(nv == 1 || cb <= 3);
                let mut y = 0;
                while y < h {
                    let rb = 2;
                    // SAFETY: rows y..y+4 of every padded input plane and columns
                    // x0..x0+cols+2 exist (padded planes are (h+2) x (w+2), h even); the block
                    // of weights c0..c0+cb (from c0 * inp * 9) lies inside `packed`; outputs (c0..c0+cb, y..y+2,
                    // x0..x0+cols) inside `dst`.
                    unsafe {
                        let args = (
                            src.as_ptr().add(y * src_row + x0),
                            packed.as_ptr().add(c0 * inp * 9),
                            dst.as_mut_ptr().cast::<f32>().add(c0 * h * w + y * w + x0),
                        );
                        macro_rules! run {
                            ($nv:literal, $cb:literal, $masks:expr) => {
                                if full {
                                    tile::<2, $nv, $cb, true>(
                                        args.0,
                                        src_plane,
                                        src_row,
                                        inp,
                                        args.1,
                                        cb,
                                        args.2,
                                        h * w,
                                        w,
                                        $masks,
                                    )
                                } else {
                                    tile::<2, $nv, $cb, false>(
                                        args.0,
                                        src_plane,
                                        src_row,
                                        inp,
                                        args.1,
                                        cb,
                                        args.2,
                                        h * w,
                                        w,
                                        $masks,
                                    )
                                }
                            };
                        }
                        let (m0, m1) = (masks[0], masks[1]);
                        match (nv, cb) {
                            (2, 3) => run!(2, 3, [m0, m1]),
                            (2, 2) => run!(2, 2, [m0, m1]),
                            (2, 1) => run!(2, 1, [m0, m1]),
                            (1, 6) => run!(1, 6, [m0]),
                            (1, 4) => run!(1, 4, [m0]),
                            (1, 3) => run!(1, 3, [m0]),
                            (1, 2) => run!(1, 2, [m0]),
                            _ => run!(1, 1, [m0]),
                        }
                    }
                    y += rb;
                }
            }
            x0 += cols;
        }
    }

    /// See [`super::weight_grad`]: each half (lanes 0-7, then 8-15) of the 16 chains of a
    /// tap in 9 registers, then the halving tree of [`reduce16`].
    ///
    /// # Safety
    /// AVX2 and FMA; the slices' lengths as checked by the safe wrapper.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2,fma")]
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
        let (plane, row) = (padded_len(h, w), w + 2);
        let (g_image, x_image) = (out * plane, inp * plane);
        for o in 0..out {
            for i in 0..inp {
                let mut lanes = [[0.0f32; 16]; 9];
                for half in 0..2 {
                    let mut acc = [_mm256_setzero_ps(); 9];
                    for image in 0..images {
                        for y in 0..h {
                            let mut x0 = half * 8;
                            while x0 < w {
                                let m = mask(w - x0);
                                // SAFETY: row y+1 of gradient plane o and rows y..y+2 of input
                                // plane i of this image exist; masked lanes stay inside
                                // columns x0..w+1 (lengths checked by the wrapper).
                                unsafe {
                                    let gi = g
                                        .as_ptr()
                                        .add(image * g_image + o * plane + (y + 1) * row + x0 + 1);
                                    let xi =
                                        x.as_ptr().add(image * x_image + i * plane + y * row + x0);
                                    let gv = _mm256_maskload_ps(gi, m);
                                    for ky in 0..3 {
                                        for kx in 0..3 {
                                            let xv = _mm256_maskload_ps(xi.add(ky * row + kx), m);
                                            acc[ky * 3 + kx] =
                                                _mm256_fmadd_ps(gv, xv, acc[ky * 3 + kx]);
                                        }
                                    }
                                }
                                x0 += 16;
                            }
                            // Blocks past the row's end add 0 x 0 in the other paths.
                            if x0 < w.next_multiple_of(16) + half * 8 {
                                let zero = _mm256_setzero_ps();
                                for a in &mut acc {
                                    *a = _mm256_fmadd_ps(zero, zero, *a);
                                }
                            }
                        }
                    }
                    for (t, a) in acc.iter().enumerate() {
                        // SAFETY: 8 floats fit in the 8 lanes stored.
                        unsafe {
                            _mm256_storeu_ps(lanes[t][half * 8..].as_mut_ptr(), *a);
                        }
                    }
                }
                for (t, lanes) in lanes.iter().enumerate() {
                    gw[(o * inp + i) * 9 + t] += reduce16(lanes);
                }
            }
        }
    }

    /// Even lanes of `a` then of `b` (`[a0 a2 a4 a6 b0 b2 b4 b6]`), or the odd ones.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn deinterleave<const ODD: bool>(a: __m256, b: __m256) -> __m256 {
        let picked = if ODD {
            _mm256_shuffle_ps::<0xDD>(a, b)
        } else {
            _mm256_shuffle_ps::<0x88>(a, b)
        };
        _mm256_castpd_ps(_mm256_permute4x64_pd::<0xD8>(_mm256_castps_pd(picked)))
    }

    /// See [`super::bias_relu_pool`]: 8 pooled outputs at a time.
    ///
    /// # Safety
    /// AVX2; the slices' lengths as checked by the safe wrapper.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn bias_relu_pool(
        conv: &[f32],
        bias: &[f32],
        channels: usize,
        h: usize,
        w: usize,
        dead: u8,
        out: &mut [MaybeUninit<f32>],
        codes: &mut [MaybeUninit<u8>],
    ) {
        let (ph, pw) = (h / 2, w / 2);
        let dead_code = _mm256_set1_epi32(i32::from(dead));
        let zero = _mm256_setzero_ps();
        for c in 0..channels {
            let b = _mm256_set1_ps(bias[c]);
            for py in 0..ph {
                let r0 = conv[(c * h + 2 * py) * w..].as_ptr();
                let r1 = conv[(c * h + 2 * py + 1) * w..].as_ptr();
                let mut p0 = 0;
                while p0 < pw {
                    let m = (pw - p0).min(8);
                    let at = (c * ph + py) * pw + p0;
                    // SAFETY: columns 2*p0 .. 2*(p0+m) of rows 2py and 2py+1 are inside `conv`
                    // (masked when short), pooled outputs at..at+m inside `out` and `codes`.
                    unsafe {
                        let load = |row: *const f32, from: usize| {
                            let n = (2 * m).saturating_sub(from);
                            if n >= 8 {
                                _mm256_loadu_ps(row.add(2 * p0 + from))
                            } else {
                                _mm256_maskload_ps(row.wrapping_add(2 * p0 + from), mask(n))
                            }
                        };
                        let (a0, b0, a1, b1) = (load(r0, 0), load(r0, 8), load(r1, 0), load(r1, 8));
                        let candidates = [
                            deinterleave::<false>(a0, b0),
                            deinterleave::<true>(a0, b0),
                            deinterleave::<false>(a1, b1),
                            deinterleave::<true>(a1, b1),
                        ];
                        let mut best = candidates[0];
                        let mut code = _mm256_setzero_si256();
                        for (k, &cand) in candidates.iter().enumerate().skip(1) {
                            let gt = _mm256_cmp_ps::<_CMP_GT_OQ>(cand, best);
                            best = _mm256_blendv_ps(best, cand, gt);
                            code = _mm256_blendv_epi8(
                                code,
                                _mm256_set1_epi32(k as i32),
                                _mm256_castps_si256(gt),
                            );
                        }
                        let value = _mm256_add_ps(best, b);
                        let alive = _mm256_cmp_ps::<_CMP_GT_OQ>(value, zero);
                        let kept = _mm256_and_ps(alive, value);
                        let code = _mm256_blendv_epi8(dead_code, code, _mm256_castps_si256(alive));
                        let o = out.as_mut_ptr().cast::<f32>().add(at);
                        if m == 8 {
                            _mm256_storeu_ps(o, kept);
                        } else {
                            _mm256_maskstore_ps(o, mask(m), kept);
                        }
                        let mut lanes = [0i32; 8];
                        _mm256_storeu_si256(lanes.as_mut_ptr().cast::<__m256i>(), code);
                        for (dst, &lane) in codes[at..at + m].iter_mut().zip(&lanes) {
                            dst.write(lane as u8);
                        }
                    }
                    p0 += 8;
                }
            }
        }
    }

    /// See [`super::unpool`]: 8 pooled gradients at a time; the bias gradient's 16 lanes
    /// as two vectors (pooled columns `p0` with `p0 % 16` below 8, then the rest), summed in
    /// the halving tree of [`reduce16`].
    ///
    /// # Safety
    /// AVX2; the slices' lengths as checked by the safe wrapper.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2")]
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
        let dead_code = _mm256_set1_epi32(i32::from(dead));
        for c in 0..channels {
            let mut bias = [_mm256_setzero_ps(); 2];
            for py in 0..ph {
                let mut p0 = 0;
                while p0 < pw {
                    let m = (pw - p0).min(8);
                    let at = (c * ph + py) * pw + p0;
                    let code_bytes = super::code_block(codes, at, m, dead);
                    // SAFETY: pooled gradients at..at+m are inside `g` (masked when short);
                    // padded rows 2py+1 and 2py+2, columns 1+2*p0 .. 1+2*(p0+m), inside plane
                    // c of `gpad` (masked when short).
                    unsafe {
                        let code = _mm256_cvtepu8_epi32(_mm_loadl_epi64(
                            code_bytes.as_ptr().cast::<__m128i>(),
                        ));
                        let gv = if m == 8 {
                            _mm256_loadu_ps(g.as_ptr().add(at))
                        } else {
                            _mm256_maskload_ps(g.as_ptr().add(at), mask(m))
                        };
                        let mut s = [_mm256_setzero_ps(); 4];
                        for (k, sk) in s.iter_mut().enumerate() {
                            let is_k = _mm256_cmpeq_epi32(code, _mm256_set1_epi32(k as i32));
                            *sk = _mm256_and_ps(_mm256_castsi256_ps(is_k), gv);
                        }
                        let [s0, s1, s2, s3] = s;
                        // Dead windows (codes padded with `dead` past the row) add nothing.
                        let dead_lanes = _mm256_cmpeq_epi32(code, dead_code);
                        let half = &mut bias[(p0 / 8) % 2];
                        *half = _mm256_blendv_ps(
                            _mm256_add_ps(*half, gv),
                            *half,
                            _mm256_castsi256_ps(dead_lanes),
                        );
                        let top = gpad
                            .as_mut_ptr()
                            .add(c * plane + (2 * py + 1) * row + 1 + 2 * p0);
                        for (dst, (x, y)) in [(top, (s0, s1)), (top.add(row), (s2, s3))] {
                            let (lo, hi) = (_mm256_unpacklo_ps(x, y), _mm256_unpackhi_ps(x, y));
                            let first = _mm256_permute2f128_ps::<0x20>(lo, hi);
                            let second = _mm256_permute2f128_ps::<0x31>(lo, hi);
                            if m == 8 {
                                _mm256_storeu_ps(dst, first);
                                _mm256_storeu_ps(dst.add(8), second);
                            } else {
                                _mm256_maskstore_ps(dst, mask(2 * m), first);
                                _mm256_maskstore_ps(
                                    dst.wrapping_add(8),
                                    mask((2 * m).saturating_sub(8)),
                                    second,
                                );
                            }
                        }
                    }
                    p0 += 8;
                }
            }
            let mut lanes = [0.0f32; 16];
            // SAFETY: two vectors of 8 floats fill the 16 lanes.
            unsafe {
                _mm256_storeu_ps(lanes.as_mut_ptr(), bias[0]);
                _mm256_storeu_ps(lanes[8..].as_mut_ptr(), bias[1]);
            }
            gb[c] += reduce16(&lanes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in [-2, 2), some repeated exactly (ties for the pooling), some
    /// negative zeros.
    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len as u32)
            .map(|i| {
                let v = ((i.wrapping_mul(2_654_435_761) ^ seed.wrapping_mul(40_503)) % 4096) as f32;
                match i % 7 {
                    0 => 0.5,
                    1 => -0.0,
                    _ => v / 1024.0 - 2.0,
                }
            })
            .collect()
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// Every (height, width) the tests run: the networks' 32 x 32 and 16 x 16, and widths
    /// that leave partial vectors of 8 and 16 lanes.
    const SHAPES: [(usize, usize); 6] = [(32, 32), (16, 16), (8, 8), (6, 13), (4, 20), (2, 5)];

    #[test]
    fn every_path_gives_the_scalar_bits() {
        for &(h, w) in &SHAPES {
            for (inp, out) in [(3, 16), (5, 7), (1, 1), (16, 32)] {
                let src = {
                    let mut planes = values(inp * padded_len(h, w), (h * w + inp) as u32);
                    zero_borders(&mut planes, inp, h, w);
                    planes
                };
                let packed = values(inp * 9 * out, 7);
                let images = 2;
                let g = {
                    let mut planes = values(images * out * padded_len(h, w), 11);
                    zero_borders(&mut planes, images * out, h, w);
                    planes
                };
                let x = {
                    let mut planes = values(images * inp * padded_len(h, w), 13);
                    zero_borders(&mut planes, images * inp, h, w);
                    planes
                };
                let conv = values(out * h * w, 17);
                let bias = values(out, 19);
                let pooled = values(out * (h / 2) * (w / 2), 23);
                let codes_in: Vec<u8> = (0..pooled.len()).map(|i| [0, 1, 2, 3, 9][i % 5]).collect();
                let run = |on: Isa| {
                    // Outputs start as NaN (codes as 77), so an element a path leaves
                    // unwritten differs from the scalar definition's.
                    let mut dst = vec![f32::NAN; out * h * w];
                    // SAFETY (here and below): the kernels write only values.
                    let dst_w = unsafe { write_only(&mut dst) };
                    conv_planes_on(on, &src, inp, h, w, &packed, out, dst_w);
                    let mut gw = values(out * inp * 9, 29);
                    weight_grad_on(on, &g, &x, images, inp, out, h, w, &mut gw);
                    let mut pool = vec![f32::NAN; pooled.len()];
                    let mut codes = vec![77u8; pooled.len()];
                    let (pool_w, codes_w) =
                        unsafe { (write_only(&mut pool), write_only(&mut codes)) };
                    bias_relu_pool_on(on, &conv, &bias, out, h, w, 9, pool_w, codes_w);
                    let mut gpad = vec![f32::NAN; out * padded_len(h, w)];
                    let mut gb = values(out, 31);
                    unpool_on(on, &pooled, &codes_in, out, h, w, 9, &mut gpad, &mut gb);
                    (
                        bits(&dst),
                        bits(&gw),
                        bits(&pool),
                        codes,
                        bits(&gpad),
                        bits(&gb),
                    )
                };
                let want = run(Isa::Baseline);
                for on in Isa::available() {
                    let got = run(on);
                    let what = format!("{on:?}, {h} x {w}, {inp} -> {out} channels");
                    assert!(got.0 == want.0, "convolution differs: {what}");
                    assert!(got.1 == want.1, "weight gradient differs: {what}");
                    assert!(
                        got.2 == want.2 && got.3 == want.3,
                        "pooling differs: {what}"
                    );
                    assert!(
                        got.4 == want.4 && got.5 == want.5,
                        "unpooling differs: {what}"
                    );
                }
            }
        }
    }

    #[test]
    fn flipped_packing_is_the_packing_of_the_flipped_weights() {
        // 11 outputs make blocks of 6, 4 and 1; 7 (the flipped outputs) of 6 and 1.
        let (out, inp) = (11, 7);
        let w = values(out * inp * 9, 37);
        let mut flipped = vec![0.0; w.len()];
        for o in 0..out {
            for i in 0..inp {
                for t in 0..9 {
                    flipped[(i * out + o) * 9 + t] = w[(o * inp + i) * 9 + 8 - t];
                }
            }
        }
        assert_eq!(
            bits(&pack_weights(&w, out, inp, true)),
            bits(&pack_weights(&flipped, inp, out, false))
        );
        let blocks: Vec<_> = channel_blocks(out).collect();
        assert_eq!(blocks, [(0, 6), (6, 4), (10, 1)]);
    }

    #[test]
    fn scalar_convolution_is_the_sum_it_defines() {
        for (inp, out) in [(2, 3), (3, 11)] {
            convolution_is_the_sum_it_defines(inp, out);
        }
    }

    fn convolution_is_the_sum_it_defines(inp: usize, out: usize) {
        let (h, w) = (4, 6);
        let mut src = values(inp * padded_len(h, w), 3);
        zero_borders(&mut src, inp, h, w);
        let weights = values(out * inp * 9, 5);
        let packed = pack_weights(&weights, out, inp, false);
        let mut dst = vec![0.0; out * h * w];
        // SAFETY: the kernel writes only values.
        scalar::conv_planes(&src, inp, h, w, &packed, out, unsafe {
            write_only(&mut dst)
        });
        let row = w + 2;
        for o in 0..out {
            for y in 0..h {
                for x in 0..w {
                    let mut sum = 0.0f64;
                    for i in 0..inp {
                        for t in 0..9 {
                            let (ky, kx) = (t / 3, t % 3);
                            sum += f64::from(weights[(o * inp + i) * 9 + t])
                                * f64::from(src[i * padded_len(h, w) + (y + ky) * row + x + kx]);
                        }
                    }
                    let got = f64::from(dst[(o * h + y) * w + x]);
                    assert!((got - sum).abs() < 1e-4, "({o}, {y}, {x}): {got} vs {sum}");
                }
            }
        }
    }

    #[test]
    fn reduce16_adds_in_the_halving_order() {
        // 1e8 + 1 - 1e8 loses the 1 in f32 unless the halving tree pairs the two 1e8 first.
        let mut lanes = [0.0f32; 16];
        (lanes[0], lanes[8], lanes[1]) = (1e8, -1e8, 1.0);
        assert_eq!(reduce16(&lanes).to_bits(), 1.0f32.to_bits());
        (lanes[8], lanes[1]) = (1.0, -1e8);
        assert_eq!(reduce16(&lanes).to_bits(), 0.0f32.to_bits());
    }
}
