//! The error type of this crate.

/// Everything that can go wrong building, training, attacking or evaluating a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CnnError {
    /// A parameter is outside its valid range.
    #[error("invalid {name}: {message}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// The value and what is allowed.
        message: String,
    },
    /// The input does not have the shape the model takes.
    #[error("input of shape {got:?}; the model takes (batch, 3, 32, 32)")]
    InputShape {
        /// The shape given.
        got: Vec<usize>,
    },
    /// A checkpoint or weights file does not match the model.
    #[error("{path}: {message}")]
    Checkpoint {
        /// The file.
        path: std::path::PathBuf,
        /// What does not match.
        message: String,
    },
    /// The loss became NaN or infinite.
    #[error("training diverged: loss {loss} at epoch {epoch}, batch {batch}")]
    Diverged {
        /// The loss value.
        loss: f32,
        /// The epoch.
        epoch: u64,
        /// The batch within the epoch.
        batch: usize,
    },
    /// The requested device is not available.
    #[error("device {0} is not available in this build")]
    Device(String),
    /// A data-layer error.
    #[error(transparent)]
    Data(#[from] dupstudy_cifar::CifarError),
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, CnnError>;
