//! The error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while planning, running or summarizing a study.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StudyError {
    /// A parameter of the plan (a command-line flag) is out of range.
    #[error("{flag}: {message}")]
    InvalidParameter {
        /// The flag or parameter, e.g. `--d-rates`.
        flag: &'static str,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A stored file (cell record, plan, checkpoint state) cannot be parsed.
    #[error("{path} is not a valid {what} ({source}); delete it to recompute it")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What it should hold.
        what: &'static str,
        /// The parse error.
        source: serde_json::Error,
    },
    /// A value could not be turned into JSON (a bug, not bad input).
    #[error("serializing {what}: {source}")]
    Serialize {
        /// What was being serialized.
        what: &'static str,
        /// The error.
        source: serde_json::Error,
    },
    /// A finished cell the summary needs is not in the store.
    #[error("cell {id} is missing from {dir} (run the study to compute it)")]
    MissingCell {
        /// The cell id.
        id: String,
        /// The folder looked in.
        dir: PathBuf,
    },
    /// A study name that is not in the registry.
    #[error("unknown study `{name}`; the studies are: {known}")]
    UnknownStudy {
        /// The name asked for.
        name: String,
        /// The registry's names, comma-separated.
        known: String,
    },
    /// The data a study needs is not available.
    #[error("{0}")]
    DataUnavailable(String),
    /// The data found differs from the data the plan was made with.
    #[error(
        "the CIFAR-10 data found ({found}) is not the data this plan was made with (content SHA-256 {found_sha256} vs {planned_sha256})"
    )]
    DataMismatch {
        /// The data found.
        found: String,
        /// Its checksum.
        found_sha256: String,
        /// The planned checksum.
        planned_sha256: String,
    },
    /// A cell's computation produced something inconsistent (named).
    #[error("cell {id}: {message}")]
    Cell {
        /// The cell id.
        id: String,
        /// What went wrong.
        message: String,
    },
    /// A cell stopped on purpose (an epoch budget ran out); its checkpoint is kept and a
    /// rerun resumes from it.
    #[error(
        "cell {id} stopped after {epochs_done} epochs; run again to resume from its checkpoint"
    )]
    Interrupted {
        /// The cell id.
        id: String,
        /// Epochs finished (and checkpointed) so far.
        epochs_done: u64,
    },
    /// From the duplicate audit.
    #[error(transparent)]
    Audit(#[from] dupstudy_audit::AuditError),
    /// From the CIFAR-10 reader.
    #[error(transparent)]
    Cifar(#[from] dupstudy_cifar::CifarError),
    /// From the CNN.
    #[error(transparent)]
    Cnn(#[from] dupstudy_cnn::CnnError),
    /// The learned descriptor failed.
    #[error(transparent)]
    Descriptor(#[from] dupstudy_descriptor::DescriptorError),
    /// From the duplicate sampler.
    #[error(transparent)]
    Dup(#[from] dupstudy_dup::DupError),
    /// From the Gaussian generator.
    #[error(transparent)]
    Gauss(#[from] dupstudy_gauss::GaussError),
    /// From the metrics.
    #[error(transparent)]
    Metrics(#[from] dupstudy_metrics::MetricsError),
    /// From the SVM.
    #[error(transparent)]
    Svm(#[from] dupstudy_svm::SvmError),
}

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, StudyError>;

impl StudyError {
    /// An [`StudyError::InvalidParameter`].
    pub fn invalid(flag: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidParameter {
            flag,
            message: message.into(),
        }
    }

    /// A closure turning an I/O error on `path` into [`StudyError::Io`].
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}
