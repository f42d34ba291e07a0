//! The tool's error type.

use std::path::PathBuf;

/// What can stop an audit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A folder given (or found) could not be listed.
    #[error("{path}: cannot list the folder: {source}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file that could not be read or decoded, under `--strict`.
    #[error(
        "{path}: {reason} (--strict stops at the first such file; without it, it is listed in skipped.csv)"
    )]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Nothing to audit.
    #[error("no readable image under {}; {skipped} files skipped (see their reasons with --strict)", folders.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "))]
    NoImages {
        /// The folders searched.
        folders: Vec<PathBuf>,
        /// Files skipped.
        skipped: usize,
    },
    /// A parameter outside what is allowed.
    #[error("invalid {name}: {message}")]
    Parameter {
        /// The parameter.
        name: &'static str,
        /// The value and what is allowed.
        message: String,
    },
    /// A stored index that cannot be used.
    #[error("{path}: {message}")]
    Index {
        /// The index file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An output file that cannot be written.
    #[error("{path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The audit itself (CIFAR-10 files, parameters, encoding).
    #[error(transparent)]
    Audit(#[from] dupstudy_audit::AuditError),
}

/// The tool's result type.
pub type Result<T> = std::result::Result<T, Error>;
