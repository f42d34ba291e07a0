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
pub(crate) mod tape;

use std::mem::MaybeUninit;

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

/// A vector of `len` values that `write` initializes, without zeroing them first: a
/// convolution's outputs and input gradients are megabytes a pass, and zeroing memory the
/// kernels then overwrite cost about 3 % of an attack's step (measured on a Zen 4).
///
/// # Safety
/// `write` must initialize every one of the `len` elements it is given.
#[allow(unsafe_code)]
pub(crate) unsafe fn written<T, R>(
    len: usize,
    write: impl FnOnce(&mut [MaybeUninit<T>]) -> R,
) -> (Vec<T>, R) {
    let mut values = Vec::with_capacity(len);
    let result = write(&mut values.spare_capacity_mut()[..len]);
    // SAFETY: the caller guarantees that `write` initialized the first `len` elements, and
    // the capacity is at least `len`.
    unsafe { values.set_len(len) };
    (values, result)
}

/// Initializes every element of `slots` to `value` and returns them as values (for code
/// that accumulates into its output instead of writing every element once).
#[allow(unsafe_code)]
pub(crate) fn filled<T: Copy>(slots: &mut [MaybeUninit<T>], value: T) -> &mut [T] {
    for slot in slots.iter_mut() {
        slot.write(value);
    }
    // SAFETY: every element was just initialized, and `MaybeUninit<T>` has `T`'s layout.
    unsafe { &mut *(std::ptr::from_mut(slots) as *mut [T]) }
}

/// Views values as slots a kernel writes through.
///
/// # Safety
/// Nothing written through the result may be uninitialized (`MaybeUninit::uninit()`): the
/// slice's values must stay values.
#[allow(unsafe_code)]
pub(crate) unsafe fn write_only<T>(values: &mut [T]) -> &mut [MaybeUninit<T>] {
    // SAFETY: `MaybeUninit<T>` has `T`'s layout; the caller writes only values.
    unsafe { &mut *(std::ptr::from_mut(values) as *mut [MaybeUninit<T>]) }
}
