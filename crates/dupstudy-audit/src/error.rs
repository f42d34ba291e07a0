//! The audit's error type.

use std::path::PathBuf;

/// What can go wrong while loading or auditing a data set.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An image file could not be decoded.
    #[error("{path}: not a readable PNG or JPEG image ({message})")]
    Decode {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        message: String,
    },
    /// An image whose size differs from the first image's.
    #[error(
        "{path}: image is {got_w}x{got_h}, but {first} is {want_w}x{want_h}; every image of a data set must have the same size"
    )]
    MixedSizes {
        /// The file.
        path: PathBuf,
        /// Its width.
        got_w: u32,
        /// Its height.
        got_h: u32,
        /// The first image read.
        first: PathBuf,
        /// The first image's width.
        want_w: u32,
        /// The first image's height.
        want_h: u32,
    },
    /// A folder that should hold images or class folders holds none.
    #[error("{path}: {message}")]
    Layout {
        /// The folder.
        path: PathBuf,
        /// What is wrong and what is expected.
        message: String,
    },
    /// CIFAR-10 could not be read.
    #[error(transparent)]
    Cifar(#[from] dupstudy_cifar::CifarError),
    /// A parameter outside its range.
    #[error("invalid {name}: {message}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// The bad value and what is allowed.
        message: String,
    },
    /// A result could not be serialized.
    #[error("serializing {what}: {source}")]
    Serialize {
        /// What.
        what: &'static str,
        /// The error.
        source: serde_json::Error,
    },
    /// A PNG could not be encoded.
    #[error("{path}: writing PNG: {message}")]
    Encode {
        /// The file.
        path: PathBuf,
        /// The encoder's message.
        message: String,
    },
}

impl AuditError {
    /// A closure wrapping an I/O error with its path.
    pub fn io(path: &std::path::Path) -> impl Fn(std::io::Error) -> AuditError + '_ {
        move |source| AuditError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The audit's result type.
pub type Result<T> = std::result::Result<T, AuditError>;
