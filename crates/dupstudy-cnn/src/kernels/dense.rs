//! `y = x W^T + b`, optionally followed by ReLU, as one candle custom op with its own
//! backward pass (gradients only for arguments that need them).

use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp3, Layout, Shape, Tensor};

use super::gemm::{MatRef, PackedRhs, matmul, matmul_packed};
use super::{cpu_slice, storage_slice, tensor_from_vec, threads};

#[derive(Debug, Clone)]
pub(crate) struct Dense {
    relu: bool,
    /// The weights packed beforehand (a frozen model's), else packed by every product.
    packed: Option<Arc<PackedDense>>,
}

/// A layer's weights `(out, in)` packed once for both of its products: `W^T` for the
/// forward pass and `W` for the input gradient. A frozen model's dense layers keep one, so
/// an attack's ten forward and backward passes do not pack four megabytes each (the same
/// copies, so the same bits).
#[derive(Debug)]
pub(crate) struct PackedDense {
    forward: PackedRhs,
    backward: PackedRhs,
}

impl PackedDense {
    /// Packs `weight` `(out, in)`.
    ///
    /// # Errors
    /// A weight that is not a contiguous 2-D `f32` tensor on the CPU.
    pub(crate) fn new(weight: &Tensor) -> candle_core::Result<Self> {
        let (output, input) = weight.dims2()?;
        let weight = weight.contiguous()?;
        let (store, layout) = weight.storage_and_layout();
        let w = storage_slice(&store, layout)?;
        let w = MatRef::row_major(w, output, input);
        Ok(Self {
            forward: PackedRhs::new(w.t(), threads()),
            backward: PackedRhs::new(w, threads()),
        })
    }
}

/// Applies the op: `x` `(n, in)`, `weight` `(out, in)` (PyTorch's layout), `bias` `(out,)`.
pub(crate) fn dense(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    relu: bool,
) -> candle_core::Result<Tensor> {
    x.apply_op3(weight, bias, Dense { relu, packed: None })
}

/// [`dense`] with `weight` packed beforehand: `packed` must hold `weight`'s values (it is
/// used when its shape fits, and `weight` itself otherwise).
pub(crate) fn dense_packed(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    relu: bool,
    packed: Arc<PackedDense>,
) -> candle_core::Result<Tensor> {
    x.apply_op3(
        weight,
        bias,
        Dense {
            relu,
            packed: Some(packed),
        },
    )
}

fn dims(x: &Layout, w: &Layout, b: &Layout) -> candle_core::Result<(usize, usize, usize)> {
    let (n, input) = x.shape().dims2()?;
    let (output, input_w) = w.shape().dims2()?;
    if input_w != input || b.shape().dims1()? != output {
        candle_core::bail!(
            "dense: input {:?}, weight {:?}, bias {:?} do not fit",
            x.dims(),
            w.dims(),
            b.dims()
        );
    }
    Ok((n, input, output))
}

impl CustomOp3 for Dense {
    fn name(&self) -> &'static str {
        if self.relu { "dense-relu" } else { "dense" }
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
        let (n, input, output) = dims(l1, l2, l3)?;
        let (x, w, b) = (cpu_slice(s1, l1)?, cpu_slice(s2, l2)?, cpu_slice(s3, l3)?);
        // Each row starts as the bias (no zeroing first), and the product adds onto it.
        let mut y = Vec::with_capacity(n * output);
        for _ in 0..n {
            y.extend_from_slice(b);
        }
        let x = MatRef::row_major(x, n, input);
        match self.packed.as_deref() {
            Some(p) if p.forward.has_shape(input, output) => {
                matmul_packed(&mut y, x, &p.forward, true, threads());
            }
            _ => matmul(
                &mut y,
                x,
                MatRef::row_major(w, output, input).t(),
                true,
                threads(),
            ),
        }
        if self.relu {
            y.iter_mut().for_each(|v| *v = v.max(0.0));
        }
        Ok((CpuStorage::F32(y), Shape::from_dims(&[n, output])))
    }

    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        bias: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let need = [x.track_op(), weight.track_op(), bias.track_op()];
        self.backward(x, weight, bias, res, grad_res, need)
    }
}

impl Dense {
    /// The op itself, for a caller that runs its passes without candle's graph.
    pub(crate) fn new(relu: bool, packed: Option<Arc<PackedDense>>) -> Self {
        Self { relu, packed }
    }

    /// The gradients of the input, the weights and the bias that `need` asks for, given the
    /// op's output `res` and its gradient.
    pub(crate) fn backward(
        &self,
        x: &Tensor,
        weight: &Tensor,
        bias: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
        [need_x, need_w, need_b]: [bool; 3],
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        if !(need_x || need_w || need_b) {
            return Ok((None, None, None));
        }
        let (n, input, output) = dims(x.layout(), weight.layout(), bias.layout())?;
        let mut g = grad_res.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        if self.relu {
            let y = res.contiguous()?;
            let (y_store, y_layout) = y.storage_and_layout();
            let y_data = storage_slice(&y_store, y_layout)?;
            for (gv, &yv) in g.iter_mut().zip(y_data) {
                if yv <= 0.0 {
                    *gv = 0.0;
                }
            }
        }
        let device = x.device();
        let grad_b = if need_b {
            let mut gb = vec![0.0f32; output];
            for row in g.chunks(output) {
                gb.iter_mut().zip(row).for_each(|(t, v)| *t += v);
            }
            Some(tensor_from_vec(gb, bias.shape(), device)?)
        } else {
            None
        };
        let grad_w = if need_w {
            let x = x.contiguous()?;
            let (x_store, x_layout) = x.storage_and_layout();
            let x_data = storage_slice(&x_store, x_layout)?;
            // Zeroed by the allocation, so the product adds onto it instead of zeroing it
            // again (its chains start from the same zeros either way).
            let mut gw = vec![0.0f32; output * input];
            matmul(
                &mut gw,
                MatRef::row_major(&g, n, output).t(),
                MatRef::row_major(x_data, n, input),
                true,
                threads(),
            );
            Some(tensor_from_vec(gw, weight.shape(), device)?)
        } else {
            None
        };
        let grad_x = if need_x {
            // As for `gw`: zeroed once, by the allocation.
            let mut gx = vec![0.0f32; n * input];
            let g = MatRef::row_major(&g, n, output);
            match self.packed.as_deref() {
                Some(p) if p.backward.has_shape(output, input) => {
                    matmul_packed(&mut gx, g, &p.backward, true, threads());
                }
                _ => {
                    let w = weight.contiguous()?;
                    let (w_store, w_layout) = w.storage_and_layout();
                    let w_data = storage_slice(&w_store, w_layout)?;
                    matmul(
                        &mut gx,
                        g,
                        MatRef::row_major(w_data, output, input),
                        true,
                        threads(),
                    );
                }
            }
            Some(tensor_from_vec(gx, x.shape(), device)?)
        } else {
            None
        };
        Ok((grad_x, grad_w, grad_b))
    }
}
