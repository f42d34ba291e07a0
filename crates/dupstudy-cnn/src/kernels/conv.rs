//! `max_pool_2x2(relu(conv3x3_pad1(a(x), W) + b))` as one candle custom op with its own
//! backward pass, where `a` is an optional per-channel affine map (the model's input
//! normalization, folded into the im2col copy).
//!
//! Forward, per image: im2col (`Cin*9 x H*W`), one GEMM (`Cout x Cin*9` by `Cin*9 x H*W`),
//! then bias, ReLU and 2 x 2 max-pooling in one pass that records which of the four
//! positions won (or that none was positive). Backward, per image: the pooled gradient is
//! routed to the winners, then `dW += G cols^T` and `dx = col2im(W^T G)`, each only if that
//! argument needs a gradient (the first layer's input never does during training; the
//! weights never do during an attack). Images are processed in fixed chunks in parallel and
//! the weight gradients of the chunks are summed in chunk order, so results do not depend on
//! the number of threads.

use std::mem::MaybeUninit;
use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp3, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::gemm::{MatRef, matmul, matmul_transposed_dst};
use super::{cpu_slice, direct, filled, tensor_from_vec, written};

/// Images per parallel task (fixed, so that reductions are deterministic).
const IMAGES_PER_TASK: usize = 8;
/// Marks a pooled output whose four inputs were all `<= 0` (ReLU passed no gradient).
const DEAD: u8 = u8::MAX;

/// Per-channel `x * scale + shift` applied to the input before the convolution.
#[derive(Debug, Clone, PartialEq)]
pub struct InputAffine {
    /// Multiplier per input channel.
    pub scale: Vec<f32>,
    /// Offset per input channel.
    pub shift: Vec<f32>,
}

#[derive(Debug)]
pub(crate) struct ConvReluPool {
    affine: Option<InputAffine>,
    /// Emit `(n, cout * h/2 * w/2)` instead of `(n, cout, h/2, w/2)` (same memory), so a
    /// following linear layer needs no reshape node in the graph.
    flatten: bool,
    /// Use the direct kernels ([`super::direct`]) instead of im2col + GEMM.
    direct: bool,
    /// Winner codes of the forward pass, kept for the backward pass.
    codes: Mutex<Vec<u8>>,
}

#[derive(Debug, Clone, Copy)]
struct Dims {
    n: usize,
    cin: usize,
    cout: usize,
    h: usize,
    w: usize,
}

impl Dims {
    fn k(&self) -> usize {
        self.cin * 9
    }
    fn hw(&self) -> usize {
        self.h * self.w
    }
    fn pooled(&self) -> usize {
        self.cout * (self.h / 2) * (self.w / 2)
    }
}

fn dims(x: &Layout, w: &Layout, b: &Layout) -> candle_core::Result<Dims> {
    let (n, cin, h, wd) = x.shape().dims4()?;
    let (cout, cin_w, kh, kw) = w.shape().dims4()?;
    let bias = b.shape().dims1()?;
    if cin_w != cin || kh != 3 || kw != 3 || bias != cout || h % 2 != 0 || wd % 2 != 0 {
        candle_core::bail!(
            "conv3x3-relu-maxpool2: input {:?}, weight {:?}, bias {:?} do not fit (3x3 kernels, even sides)",
            x.dims(),
            w.dims(),
            b.dims()
        );
    }
    Ok(Dims {
        n,
        cin,
        cout,
        h,
        w: wd,
    })
}

/// Applies the op: `x` `(n, cin, h, w)`, `weight` `(cout, cin, 3, 3)`, `bias` `(cout,)`;
/// the result is `(n, cout, h/2, w/2)`, or `(n, cout * h/2 * w/2)` with `flatten`.
pub(crate) fn conv_relu_pool(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    affine: Option<InputAffine>,
    flatten: bool,
    direct: bool,
) -> candle_core::Result<Tensor> {
    x.apply_op3(weight, bias, ConvReluPool::new(affine, flatten, direct))
}

fn im2col(x: &[f32], d: Dims, affine: Option<&InputAffine>, cols: &mut [f32]) {
    let (h, w) = (d.h, d.w);
    for ci in 0..d.cin {
        let (scale, shift) = affine.map_or((1.0, 0.0), |a| (a.scale[ci], a.shift[ci]));
        let plane = &x[ci * h * w..(ci + 1) * h * w];
        for ky in 0..3 {
            for kx in 0..3 {
                let row = &mut cols[(ci * 9 + ky * 3 + kx) * h * w..][..h * w];
                for y in 0..h {
                    let out = &mut row[y * w..(y + 1) * w];
                    let sy = y + ky;
                    if sy == 0 || sy > h {
                        out.fill(0.0);
                        continue;
                    }
                    let src = &plane[(sy - 1) * w..sy * w];
                    match kx {
                        0 => {
                            out[0] = 0.0;
                            for (o, &v) in out[1..].iter_mut().zip(&src[..w - 1]) {
                                *o = v * scale + shift;
                            }
                        }
                        1 => {
                            for (o, &v) in out.iter_mut().zip(src) {
                                *o = v * scale + shift;
                            }
                        }
                        _ => {
                            for (o, &v) in out[..w - 1].iter_mut().zip(&src[1..]) {
                                *o = v * scale + shift;
                            }
                            out[w - 1] = 0.0;
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of [`im2col`] without the affine map: `gx = sum over taps of the shifted
/// rows of `gcols``.
fn col2im(gcols: &[f32], d: Dims, gx: &mut [f32]) {
    let (h, w) = (d.h, d.w);
    gx.fill(0.0);
    for ci in 0..d.cin {
        let plane = &mut gx[ci * h * w..(ci + 1) * h * w];
        for ky in 0..3 {
            for kx in 0..3 {
                let row = &gcols[(ci * 9 + ky * 3 + kx) * h * w..][..h * w];
                for y in 0..h {
                    let sy = y + ky;
                    if sy == 0 || sy > h {
                        continue;
                    }
                    let src = &row[y * w..(y + 1) * w];
                    let dst = &mut plane[(sy - 1) * w..sy * w];
                    match kx {
                        0 => {
                            for (o, &g) in dst[..w - 1].iter_mut().zip(&src[1..]) {
                                *o += g;
                            }
                        }
                        1 => {
                            for (o, &g) in dst.iter_mut().zip(src) {
                                *o += g;
                            }
                        }
                        _ => {
                            for (o, &g) in dst[1..].iter_mut().zip(&src[..w - 1]) {
                                *o += g;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Bias, ReLU and 2 x 2 max-pooling of one image's convolution output; the winner of each
/// window is the first maximum in row-major order, as in PyTorch.
fn bias_relu_pool(conv: &[f32], bias: &[f32], d: Dims, out: &mut [f32], codes: &mut [u8]) {
    let (h, w) = (d.h, d.w);
    let (ph, pw) = (h / 2, w / 2);
    for c in 0..d.cout {
        let plane = &conv[c * h * w..(c + 1) * h * w];
        let b = bias[c];
        for py in 0..ph {
            let r0 = &plane[2 * py * w..(2 * py + 1) * w];
            let r1 = &plane[(2 * py + 1) * w..(2 * py + 2) * w];
            let o = &mut out[(c * ph + py) * pw..(c * ph + py + 1) * pw];
            let k = &mut codes[(c * ph + py) * pw..(c * ph + py + 1) * pw];
            for px in 0..pw {
                let candidates = [r0[2 * px], r0[2 * px + 1], r1[2 * px], r1[2 * px + 1]];
                let mut best = 0;
                for (i, &v) in candidates.iter().enumerate().skip(1) {
                    if v > candidates[best] {
                        best = i;
                    }
                }
                // The bias is the same for the whole window, so it does not change the winner.
                let value = candidates[best] + b;
                if value > 0.0 {
                    o[px] = value;
                    k[px] = best as u8;
                } else {
                    o[px] = 0.0;
                    k[px] = DEAD;
                }
            }
        }
    }
}

/// The winner codes and the gradient flowing into one parallel task's images.
struct TaskInput<'a> {
    /// First image of the task.
    first: usize,
    /// Images in the task.
    images: usize,
    /// Winner codes of the whole batch.
    codes: &'a [u8],
    /// Gradient of the pooled output, whole batch.
    grad: &'a [f32],
    /// The op's input, whole batch.
    x: &'a [f32],
}

/// Runs `work(first image, outputs, codes)` on the fixed groups of [`IMAGES_PER_TASK`]
/// images, in parallel (`per_image` pooled outputs and codes per image).
fn for_each_task<O: Send, C: Send>(
    out: &mut [O],
    codes: &mut [C],
    per_image: usize,
    work: impl Fn(usize, &mut [O], &mut [C]) + Sync + Send,
) {
    out.par_chunks_mut(IMAGES_PER_TASK * per_image)
        .zip(codes.par_chunks_mut(IMAGES_PER_TASK * per_image))
        .enumerate()
        .for_each(|(task, (out, codes))| work(task * IMAGES_PER_TASK, out, codes));
}

impl ConvReluPool {
    /// The input affine map as `(scale, shift)` slices, for the direct kernels.
    fn affine_slices(&self) -> Option<(&[f32], &[f32])> {
        self.affine
            .as_ref()
            .map(|a| (a.scale.as_slice(), a.shift.as_slice()))
    }

    /// Forward pass through im2col and `gemm` (any CPU).
    fn forward_gemm(
        &self,
        x: &[f32],
        w: &[f32],
        b: &[f32],
        d: Dims,
        out: &mut [MaybeUninit<f32>],
        codes: &mut [MaybeUninit<u8>],
    ) {
        let per_image = d.pooled();
        let weights = MatRef::row_major(w, d.cout, d.k());
        for_each_task(out, codes, per_image, |first, out, codes| {
            let (out, codes) = (filled(out, 0.0), filled(codes, DEAD));
            let mut cols = vec![0.0f32; d.k() * d.hw()];
            let mut conv = vec![0.0f32; d.cout * d.hw()];
            let images = out.len() / per_image;
            for i in 0..images {
                let image = first + i;
                let xi = &x[image * d.cin * d.hw()..(image + 1) * d.cin * d.hw()];
                im2col(xi, d, self.affine.as_ref(), &mut cols);
                // conv = W cols, as cols^T W^T into a column-major destination.
                matmul_transposed_dst(
                    &mut conv,
                    MatRef::row_major(&cols, d.k(), d.hw()).t(),
                    weights.t(),
                    false,
                    1,
                );
                bias_relu_pool(
                    &conv,
                    b,
                    d,
                    &mut out[i * per_image..(i + 1) * per_image],
                    &mut codes[i * per_image..(i + 1) * per_image],
                );
            }
        });
    }

    /// Forward pass through the direct kernels.
    fn forward_direct(
        &self,
        x: &[f32],
        w: &[f32],
        b: &[f32],
        d: Dims,
        out: &mut [MaybeUninit<f32>],
        codes: &mut [MaybeUninit<u8>],
    ) {
        let per_image = d.pooled();
        let packed = direct::pack_weights(w, d.cout, d.cin, false);
        let affine = self.affine_slices();
        for_each_task(out, codes, per_image, |first, out, codes| {
            let lens = [d.cin * direct::padded_len(d.h, d.w), d.cout * d.hw()];
            direct::with_scratch(lens, |xpad, conv| {
                let images = out.len() / per_image;
                for i in 0..images {
                    let image = first + i;
                    let xi = &x[image * d.cin * d.hw()..(image + 1) * d.cin * d.hw()];
                    direct::pad_into(xi, d.cin, d.h, d.w, affine, xpad);
                    direct::conv_planes(xpad, d.cin, d.h, d.w, &packed, d.cout, conv);
                    direct::bias_relu_pool(
                        conv,
                        b,
                        d.cout,
                        d.h,
                        d.w,
                        DEAD,
                        &mut out[i * per_image..(i + 1) * per_image],
                        &mut codes[i * per_image..(i + 1) * per_image],
                    );
                }
            });
        });
    }

    /// One task's backward pass through im2col and `gemm`: returns its weight and bias
    /// gradients and writes its images' input gradients to `gx`.
    fn task_backward_gemm(
        &self,
        t: TaskInput<'_>,
        w_data: &[f32],
        d: Dims,
        need_w: bool,
        gx: Option<&mut [MaybeUninit<f32>]>,
    ) -> (Vec<f32>, Vec<f32>) {
        let mut gx = gx.map(|g| filled(g, 0.0));
        let weights = MatRef::row_major(w_data, d.cout, d.k());
        let (k, hw, per_image, image_in) = (d.k(), d.hw(), d.pooled(), d.cin * d.hw());
        let (ph, pw) = (d.h / 2, d.w / 2);
        let mut gw = if need_w {
            vec![0.0f32; d.cout * k]
        } else {
            Vec::new()
        };
        let mut gb = vec![0.0f32; d.cout];
        let mut g_conv = vec![0.0f32; d.cout * hw];
        let mut cols = vec![0.0f32; if need_w || gx.is_some() { k * hw } else { 0 }];
        for image in t.first..t.first + t.images {
            g_conv.fill(0.0);
            let code = &t.codes[image * per_image..(image + 1) * per_image];
            let g = &t.grad[image * per_image..(image + 1) * per_image];
            for c in 0..d.cout {
                for py in 0..ph {
                    for px in 0..pw {
                        let at = (c * ph + py) * pw + px;
                        let winner = code[at];
                        if winner == DEAD {
                            continue;
                        }
                        let (dy, dx) = (usize::from(winner / 2), usize::from(winner % 2));
                        g_conv[c * hw + (2 * py + dy) * d.w + 2 * px + dx] = g[at];
                        gb[c] += g[at];
                    }
                }
            }
            if need_w {
                im2col(
                    &t.x[image * image_in..(image + 1) * image_in],
                    d,
                    self.affine.as_ref(),
                    &mut cols,
                );
                matmul(
                    &mut gw,
                    MatRef::row_major(&g_conv, d.cout, hw),
                    MatRef::row_major(&cols, k, hw).t(),
                    true,
                    1,
                );
            }
            if let Some(chunk) = gx.as_deref_mut() {
                // gcols = W^T G, as G^T W into a column-major destination.
                matmul_transposed_dst(
                    &mut cols,
                    MatRef::row_major(&g_conv, d.cout, hw).t(),
                    weights,
                    false,
                    1,
                );
                let local = image - t.first;
                col2im(
                    &cols,
                    d,
                    &mut chunk[local * image_in..(local + 1) * image_in],
                );
            }
        }
        (gw, gb)
    }

    /// One task's backward pass through the direct kernels (`flipped`: the weights
    /// packed for the input-gradient convolution, when `gx` is wanted).
    fn task_backward_direct(
        &self,
        t: TaskInput<'_>,
        flipped: &[f32],
        d: Dims,
        need_w: bool,
        gx: Option<&mut [MaybeUninit<f32>]>,
    ) -> (Vec<f32>, Vec<f32>) {
        let plane = direct::padded_len(d.h, d.w);
        let (per_image, image_in) = (d.pooled(), d.cin * d.hw());
        let mut gb = vec![0.0f32; d.cout];
        // Routes image `image`'s pooled gradient into its padded planes `gp` (and its bias
        // gradient into `gb`).
        let route = |image: usize, gp: &mut [f32], gb: &mut [f32]| {
            let pooled = image * per_image..(image + 1) * per_image;
            let (grad, codes) = (&t.grad[pooled.clone()], &t.codes[pooled]);
            direct::unpool(grad, codes, d.cout, d.h, d.w, DEAD, gp, gb);
        };
        if !need_w {
            // Only the input gradient (an attack's pass): each image's routed gradient is
            // convolved as soon as it is written, while its planes are still in cache (the
            // task's eight would not fit in a 1 MiB L2). The same operations in the same
            // order as below, so the same bits.
            let mut gx = gx;
            direct::with_scratch([d.cout * plane, 0], |gp, _| {
                for local in 0..t.images {
                    route(t.first + local, gp, &mut gb);
                    if let Some(chunk) = gx.as_deref_mut() {
                        let gxi = &mut chunk[local * image_in..(local + 1) * image_in];
                        direct::conv_planes_into(gp, d.cout, d.h, d.w, flipped, d.cin, gxi);
                    }
                }
            });
            return (Vec::new(), gb);
        }
        let mut gw = vec![0.0f32; d.cout * d.cin * 9];
        let lens = [t.images * d.cout * plane, t.images * d.cin * plane];
        direct::with_scratch(lens, |gpad, xpad| {
            for (local, gp) in gpad.chunks_mut(d.cout * plane).enumerate() {
                route(t.first + local, gp, &mut gb);
            }
            let affine = self.affine_slices();
            for (local, xp) in xpad.chunks_mut(d.cin * plane).enumerate() {
                let image = t.first + local;
                let xi = &t.x[image * image_in..(image + 1) * image_in];
                direct::pad_into(xi, d.cin, d.h, d.w, affine, xp);
            }
            direct::weight_grad(gpad, xpad, t.images, d.cin, d.cout, d.h, d.w, &mut gw);
            if let Some(chunk) = gx {
                for (local, gp) in gpad.chunks(d.cout * plane).enumerate() {
                    let gxi = &mut chunk[local * image_in..(local + 1) * image_in];
                    direct::conv_planes_into(gp, d.cout, d.h, d.w, flipped, d.cin, gxi);
                }
            }
        });
        (gw, gb)
    }
}

impl CustomOp3 for ConvReluPool {
    fn name(&self) -> &'static str {
        "conv3x3-relu-maxpool2"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let d = dims(l1, l2, l3)?;
        let (x, w, b) = (cpu_slice(s1, l1)?, cpu_slice(s2, l2)?, cpu_slice(s3, l3)?);
        let per_image = d.pooled();
        let pooled = d.n * per_image;
        // SAFETY: either forward pass writes every pooled output and code: its tasks cover
        // the batch, and each image's outputs and codes are written in full (by
        // `direct::bias_relu_pool`, or filled first on the im2col path).
        #[allow(unsafe_code)]
        let (out, codes) = unsafe {
            written(pooled, |out| {
                written(pooled, |codes| {
                    if self.direct {
                        self.forward_direct(x, w, b, d, out, codes);
                    } else {
                        self.forward_gemm(x, w, b, d, out, codes);
                    }
                })
                .0
            })
        };
        *self.codes.lock().unwrap_or_else(|p| p.into_inner()) = codes;
        let shape = if self.flatten {
            Shape::from_dims(&[d.n, per_image])
        } else {
            Shape::from_dims(&[d.n, d.cout, d.h / 2, d.w / 2])
        };
        Ok((CpuStorage::F32(out), shape))
    }

    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        bias: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let need = [x.track_op(), weight.track_op(), bias.track_op()];
        self.backward(x, weight, bias, grad_res, need)
    }
}

impl ConvReluPool {
    /// The op itself, for a caller that keeps it (its winner codes) for [`Self::backward`].
    pub(crate) fn new(affine: Option<InputAffine>, flatten: bool, direct: bool) -> Self {
        Self {
            affine,
            flatten,
            direct,
            codes: Mutex::new(Vec::new()),
        }
    }

    /// The gradients of the input, the weights and the bias that `need` asks for, given the
    /// gradient of the output of the last forward pass.
    pub(crate) fn backward(
        &self,
        x: &Tensor,
        weight: &Tensor,
        bias: &Tensor,
        grad_res: &Tensor,
        [need_x, need_w, need_b]: [bool; 3],
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        if !(need_x || need_w || need_b) {
            return Ok((None, None, None));
        }
        let d = dims(x.layout(), weight.layout(), bias.layout())?;
        let codes = self.codes.lock().unwrap_or_else(|p| p.into_inner());
        let grad = grad_res.contiguous()?;
        let (x_store, x_layout) = x.storage_and_layout();
        let (w_store, w_layout) = weight.storage_and_layout();
        let (g_store, g_layout) = grad.storage_and_layout();
        let (x_data, w_data, g_data) = (
            super::storage_slice(&x_store, x_layout)?,
            super::storage_slice(&w_store, w_layout)?,
            super::storage_slice(&g_store, g_layout)?,
        );
        if codes.len() != d.n * d.pooled() || g_data.len() != codes.len() {
            candle_core::bail!("conv3x3-relu-maxpool2: backward without a matching forward pass");
        }
        let image_in = d.cin * d.hw();
        let n_tasks = d.n.div_ceil(IMAGES_PER_TASK);
        let flipped = if self.direct && need_x {
            direct::pack_weights(w_data, d.cout, d.cin, true)
        } else {
            Vec::new()
        };
        // The tasks, each with its images' share of the input gradient when it is wanted.
        let run = |gx: Option<&mut [MaybeUninit<f32>]>| -> Vec<(Vec<f32>, Vec<f32>)> {
            let mut gx_slots: Vec<Option<&mut [MaybeUninit<f32>]>> = gx
                .map(|gx| {
                    gx.chunks_mut(IMAGES_PER_TASK * image_in)
                        .map(Some)
                        .collect()
                })
                .unwrap_or_default();
            gx_slots.resize_with(n_tasks, || None);
            gx_slots
                .into_par_iter()
                .enumerate()
                .map(|(task, gx_chunk)| {
                    let first = task * IMAGES_PER_TASK;
                    let input = TaskInput {
                        first,
                        images: IMAGES_PER_TASK.min(d.n - first),
                        codes: &codes,
                        grad: g_data,
                        x: x_data,
                    };
                    if self.direct {
                        self.task_backward_direct(input, &flipped, d, need_w, gx_chunk)
                    } else {
                        self.task_backward_gemm(input, w_data, d, need_w, gx_chunk)
                    }
                })
                .collect()
        };
        let (mut gx, partials) = if need_x {
            // SAFETY: every task writes its images' input gradients in full (the direct
            // convolution writes every element of each image's share; the im2col path
            // fills its share first), and the tasks cover the batch.
            #[allow(unsafe_code)]
            unsafe {
                written(d.n * image_in, |gx| run(Some(gx)))
            }
        } else {
            (Vec::new(), run(None))
        };
        if let Some(affine) = self.affine.as_ref().filter(|_| need_x) {
            for image in gx.chunks_mut(image_in) {
                for (ci, plane) in image.chunks_mut(d.hw()).enumerate() {
                    let s = affine.scale[ci];
                    plane.iter_mut().for_each(|v| *v *= s);
                }
            }
        }
        let device = x.device();
        let grad_w = if need_w {
            let mut total = vec![0.0f32; d.cout * d.k()];
            for (gw, _) in &partials {
                total.iter_mut().zip(gw).for_each(|(t, v)| *t += v);
            }
            Some(tensor_from_vec(total, weight.shape(), device)?)
        } else {
            None
        };
        let grad_b = if need_b {
            let mut total = vec![0.0f32; d.cout];
            for (_, gb) in &partials {
                total.iter_mut().zip(gb).for_each(|(t, v)| *t += v);
            }
            Some(tensor_from_vec(total, bias.shape(), device)?)
        } else {
            None
        };
        let grad_x = if need_x {
            Some(tensor_from_vec(gx, x.shape(), device)?)
        } else {
            None
        };
        Ok((grad_x, grad_w, grad_b))
    }
}
