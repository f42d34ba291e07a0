//! Choosing the compute device.

use candle_core::Device;

use crate::error::{CnnError, Result};

/// `cpu`, `cuda` (GPU 0; needs the `cuda` feature) or `auto` (CUDA when built with it and
/// a GPU is present, else the CPU).
///
/// # Errors
/// [`CnnError::Device`] for `cuda` without the feature or a GPU, or an unknown name.
pub fn device(name: &str) -> Result<Device> {
    match name {
        "cpu" => Ok(Device::Cpu),
        "auto" => Ok(Device::cuda_if_available(0).unwrap_or(Device::Cpu)),
        "cuda" => {
            if cfg!(feature = "cuda") {
                Device::new_cuda(0).map_err(|e| CnnError::Device(format!("cuda ({e})")))
            } else {
                Err(CnnError::Device(
                    "cuda (rebuild with --features cuda)".into(),
                ))
            }
        }
        other => Err(CnnError::Device(format!(
            "`{other}` (use cpu, cuda or auto)"
        ))),
    }
}

/// A short description of a device for reports.
pub fn describe(device: &Device) -> String {
    match device {
        Device::Cpu => "cpu".into(),
        Device::Cuda(_) => "cuda:0".into(),
        Device::Metal(_) => "metal".into(),
    }
}
