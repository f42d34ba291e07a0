//! Fast CPU kernels for the networks' layers, as candle custom ops with their own backward
//! passes: a fused 3x3 convolution + bias + ReLU + 2 x 2 max-pooling (with the input
//! normalization folded in for the first layer), and a fused linear layer (+ ReLU). On
//! other devices the layers fall back to candle's own operations (see [`crate::layers`]).
//!
//! Every kernel is checked against candle's composition of primitive ops, values and
//! gradients, on random shapes (`tests/kernels.rs`).

pub(crate) mod conv;
pub(crate) mod dense;
pub(crate) mod direct;
pub(crate) mod gemm;

use candle_core::{CpuStorage, Device, Layout, Shape, Storage, Tensor};

pub use conv::InputAffine;

/// Which implementation the layers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Kernels {
    /// The fused kernels of this module on the CPU (candle's ops elsewhere), with the
    /// convolutions computed directly (AVX-512, AVX2 or scalar code, the same bits on every
    /// CPU).
    #[default]
    Fast,
    /// The fused kernels with the convolutions as im2col + the fixed-order product (other
    /// bits than `Fast`, the same on every CPU; selectable to compare or test both).
    Portable,
    /// candle's own operations everywhere (the reference the kernels are tested against).
    Reference,
}

impl Kernels {
    /// Whether the fast kernels run for tensors on `device`.
    pub fn fast_on(self, device: &Device) -> bool {
        self != Kernels::Reference && device.is_cpu()
    }

    /// Whether the convolutions run the direct kernels (`Fast`; on every CPU).
    pub fn direct_convolutions(self) -> bool {
        self == Kernels::Fast
    }

    /// The instruction set the direct convolutions and the matrix products run on here
    /// (`"avx512f"`, `"avx2+fma"` or `"scalar"`): a speed fact, not a numerics one.
    pub fn vector_isa() -> &'static str {
        match direct::isa() {
            gemm::Isa::Avx512 => "avx512f",
            gemm::Isa::Avx2 => "avx2+fma",
            gemm::Isa::Baseline => "scalar",
        }
    }
}

/// Threads for the large single products (candle's setting: `RAYON_NUM_THREADS` or all
/// cores).
pub(crate) fn threads() -> usize {
    candle_core::utils::get_num_threads()
}

/// The `f32` slice a CPU layout addresses; it must be contiguous.
pub(crate) fn cpu_slice<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
) -> candle_core::Result<&'a [f32]> {
    let data = storage.as_slice::<f32>()?;
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => candle_core::bail!(
            "fast kernels need contiguous inputs, got strides {:?}",
            layout.stride()
        ),
    }
}

/// As [`cpu_slice`], from a tensor's storage guard.
pub(crate) fn storage_slice<'a>(
    storage: &'a Storage,
    layout: &Layout,
) -> candle_core::Result<&'a [f32]> {
    match storage {
        Storage::Cpu(cpu) => cpu_slice(cpu, layout),
        _ => candle_core::bail!("fast kernels run on the CPU only"),
    }
}

pub(crate) fn tensor_from_vec(
    data: Vec<f32>,
    shape: &Shape,
    device: &Device,
) -> candle_core::Result<Tensor> {
    Tensor::from_vec(data, shape, device)
}
