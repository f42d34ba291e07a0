//! The error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong between the files on disk and a batch of tensors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CifarError {
    /// A file the data set needs is not there.
    #[error(
        "{path}: file not found (a CIFAR-10 folder holds data_batch_1.bin ... data_batch_5.bin, test_batch.bin and batches.meta.txt)"
    )]
    MissingFile {
        /// The path looked for.
        path: PathBuf,
    },
    /// No data set was found where it was looked for.
    #[error(
        "no CIFAR-10 data found; looked in: {tried}. Get it with `cargo xtask fetch-cifar`, or point --data-dir or CIFAR10_DIR at a cifar-10-batches-bin folder or cifar-10-binary.tar.gz"
    )]
    NotFound {
        /// The places tried, in order.
        tried: String,
    },
    /// A batch file's length is not a whole number of 3,073-byte records.
    #[error(
        "{path}: {len} bytes is not a whole number of 3073-byte records ({records} records and {remainder} bytes left over)"
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Its length in bytes.
        len: u64,
        /// Whole records in it.
        records: u64,
        /// Bytes after the last whole record.
        remainder: u64,
    },
    /// A record's label byte is not a class (0..=9).
    #[error("{path}: record {record} has label {label}; CIFAR-10 labels are 0..=9")]
    BadLabel {
        /// The file.
        path: PathBuf,
        /// The record index within the file.
        record: usize,
        /// The label byte found.
        label: u8,
    },
    /// The meta file does not list ten class names.
    #[error("{path}: lists {found} class names; CIFAR-10 has 10 (one per line)")]
    MetaClassCount {
        /// The meta file.
        path: PathBuf,
        /// Non-empty lines found.
        found: usize,
    },
    /// The archive is corrupt, truncated or lacks a member.
    #[error("{path}: corrupt or incomplete archive: {message}")]
    Archive {
        /// The archive.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Reading a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An index into a split is out of range.
    #[error("index {index} is out of range for a split of {len} images")]
    IndexOutOfRange {
        /// The index.
        index: usize,
        /// The split's size.
        len: usize,
    },
    /// A parameter is outside its valid range.
    #[error("invalid {name}: {message}")]
    InvalidParameter {
        /// Which parameter.
        name: &'static str,
        /// What is allowed.
        message: String,
    },
    /// A download failed or did not verify.
    #[error("download from {url} failed: {message}")]
    Download {
        /// The address.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The background batch thread stopped unexpectedly.
    #[error("the batch preparation thread stopped: {0}")]
    Worker(String),
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, CifarError>;

pub(crate) fn io_error(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> CifarError {
    let path = path.into();
    move |source| CifarError::Io { path, source }
}
