//! A forward pass through the fast kernels that keeps what its input gradient needs, and
//! that gradient computed by the layers' own backward functions, without candle's graph.
//!
//! An attack wants one gradient, of the loss with respect to the input, ten times a batch.
//! candle's backward pass gives it, but for every gradient an op returns it first allocates
//! a zero tensor and adds the gradient to it (`or_insert` + `add` in `candle_core::backprop`):
//! about 7.6 MiB a pass zeroed, read twice and written, with a thread barrier, for the
//! adversarial network. Here each layer's backward function takes the gradient as it is.
//! The bits are candle's: `0 + g` differs from `g` only for `g = -0`, and every gradient
//! here is either read by chains of fused multiply-adds that start from `+0` (where `-0`
//! and `+0` give the same sums) or is the input gradient, a sum of such chains that is
//! never `-0` (the golden test pins the bits of adversarial training steps).

use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp3, Device, Storage, Tensor};

use super::conv::{ConvReluPool, InputAffine};
use super::dense::{Dense, PackedDense};

/// One layer of the tape: its op (a convolution keeps its winner codes), its arguments and
/// its output.
enum Layer {
    Conv(ConvReluPool, [Tensor; 3]),
    Dense(Dense, [Tensor; 3], Tensor),
}

/// The layers run so far, in order.
#[derive(Default)]
pub(crate) struct Tape {
    layers: Vec<Layer>,
}

/// Runs `op` on CPU tensors as candle's `apply_op3` would, without recording it.
fn forward(op: &impl CustomOp3, x: &Tensor, w: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
    let (xs, xl) = x.storage_and_layout();
    let (ws, wl) = w.storage_and_layout();
    let (bs, bl) = b.storage_and_layout();
    let (Storage::Cpu(xs), Storage::Cpu(ws), Storage::Cpu(bs)) = (&*xs, &*ws, &*bs) else {
        candle_core::bail!("{}: the tape runs on the CPU only", op.name());
    };
    let (out, shape) = op.cpu_fwd(xs, xl, ws, wl, bs, bl)?;
    match out {
        CpuStorage::F32(values) => Tensor::from_vec(values, shape, &Device::Cpu),
        _ => candle_core::bail!("{}: expected f32 output", op.name()),
    }
}

impl Tape {
    /// [`super::conv::conv_relu_pool`], recorded.
    pub(crate) fn conv(
        &mut self,
        x: &Tensor,
        weight: &Tensor,
        bias: &Tensor,
        affine: Option<InputAffine>,
        flatten: bool,
        direct: bool,
    ) -> candle_core::Result<Tensor> {
        let x = x.contiguous()?;
        let op = ConvReluPool::new(affine, flatten, direct);
        let y = forward(&op, &x, weight, bias)?;
        self.layers
            .push(Layer::Conv(op, [x, weight.clone(), bias.clone()]));
        Ok(y)
    }

    /// [`super::dense::dense_packed`] (or [`super::dense::dense`] without `packed`), recorded.
    pub(crate) fn dense(
        &mut self,
        x: &Tensor,
        weight: &Tensor,
        bias: &Tensor,
        relu: bool,
        packed: Option<Arc<PackedDense>>,
    ) -> candle_core::Result<Tensor> {
        let x = x.contiguous()?;
        let op = Dense::new(relu, packed);
        let y = forward(&op, &x, weight, bias)?;
        self.layers.push(Layer::Dense(
            op,
            [x, weight.clone(), bias.clone()],
            y.clone(),
        ));
        Ok(y)
    }

    /// The gradient with respect to the first layer's input, given `grad`, the gradient
    /// with respect to the last layer's output.
    pub(crate) fn input_gradient(self, grad: Tensor) -> candle_core::Result<Tensor> {
        let only_x = [true, false, false];
        let mut grad = grad;
        for layer in self.layers.iter().rev() {
            let (gx, _, _) = match layer {
                Layer::Conv(op, [x, w, b]) => op.backward(x, w, b, &grad, only_x)?,
                Layer::Dense(op, [x, w, b], y) => op.backward(x, w, b, y, &grad, only_x)?,
            };
            grad =
                gx.ok_or_else(|| candle_core::Error::Msg("a layer gave no input gradient".into()))?;
        }
        Ok(grad)
    }
}
