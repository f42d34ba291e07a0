//! The building blocks of the networks, each one function, so that a faster kernel can
//! replace candle's composition of primitive ops without touching the model.

use candle_core::{D, Tensor};

use crate::error::Result;
use crate::kernels::{self, InputAffine, Kernels};

/// `(x - mean) / std` per channel, as `x * scale + shift` with `scale` and `shift` of shape
/// `(1, 3, 1, 1)`.
pub fn normalize(x: &Tensor, scale: &Tensor, shift: &Tensor) -> Result<Tensor> {
    Ok(x.broadcast_mul(scale)?.broadcast_add(shift)?)
}

/// `max_pool_2x2(relu(conv3x3_pad1(a(x), weight) + bias))`, where `a` is the optional
/// per-channel affine map (the input normalization, which the fast kernel folds into the
/// convolution).
pub fn conv_relu_pool(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    affine: Option<&InputAffine>,
    kernels: Kernels,
) -> Result<Tensor> {
    if kernels.fast_on(x.device()) {
        return Ok(kernels::conv::conv_relu_pool(
            &x.contiguous()?,
            weight,
            bias,
            affine.cloned(),
            false,
            kernels.direct_convolutions(),
        )?);
    }
    let x = match affine {
        Some(a) => {
            let c = a.scale.len();
            let scale = Tensor::from_slice(&a.scale, (1, c, 1, 1), x.device())?;
            let shift = Tensor::from_slice(&a.shift, (1, c, 1, 1), x.device())?;
            normalize(x, &scale, &shift)?
        }
        None => x.clone(),
    };
    let channels = weight.dim(0)?;
    let y = x
        .conv2d(weight, 1, 1, 1, 1)?
        .broadcast_add(&bias.reshape((1, channels, 1, 1))?)?
        .relu()?;
    max_pool_2x2(&y)
}

/// [`conv_relu_pool`] with its output flattened to `(n, channels * h/2 * w/2)`, ready for a
/// linear layer (the fast kernel emits that shape directly: no reshape in the graph).
pub fn conv_relu_pool_flat(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    kernels: Kernels,
) -> Result<Tensor> {
    if kernels.fast_on(x.device()) {
        return Ok(kernels::conv::conv_relu_pool(
            &x.contiguous()?,
            weight,
            bias,
            None,
            true,
            kernels.direct_convolutions(),
        )?);
    }
    Ok(conv_relu_pool(x, weight, bias, None, kernels)?.flatten_from(1)?)
}

/// 2 x 2 max-pooling with stride 2, built from a reshape and two `max` reductions.
///
/// candle 0.11.1's `max_pool2d` has a wrong backward pass: it scales the gradient by the
/// share of maxima in each window (1/4 for a unique maximum) instead of dividing by their
/// count, so every gradient through it is 4 times too small. The `max` reduction's backward
/// is right (the test `input_gradient_matches_finite_differences` checks the whole model).
pub fn max_pool_2x2(x: &Tensor) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    Ok(x.reshape((n, c, h / 2, 2, w / 2, 2))?.max(5)?.max(3)?)
}

/// `x W^T + b`, optionally followed by ReLU. `weight` is `(out, in)` as in PyTorch.
pub fn dense(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    relu: bool,
    kernels: Kernels,
) -> Result<Tensor> {
    if kernels.fast_on(x.device()) {
        return Ok(kernels::dense::dense(&x.contiguous()?, weight, bias, relu)?);
    }
    let y = x.matmul(&weight.t()?)?.broadcast_add(bias)?;
    Ok(if relu { y.relu()? } else { y })
}

/// Mean cross-entropy of `logits` `(n, k)` against class indices `labels` `(n,)` (u32).
pub fn cross_entropy(logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    Ok(candle_nn::loss::cross_entropy(logits, labels)?)
}

/// The predicted class of each row.
pub fn argmax(logits: &Tensor) -> Result<Vec<u32>> {
    Ok(logits.argmax(D::Minus1)?.to_vec1::<u32>()?)
}
