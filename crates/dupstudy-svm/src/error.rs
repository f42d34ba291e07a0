//! The error type of this crate.

/// Everything that can go wrong when configuring, fitting or using an SVM.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SvmError {
    /// `C` must be finite and positive.
    #[error("C must be finite and > 0, got {0}")]
    InvalidC(f64),
    /// `gamma` must be finite and positive.
    #[error("gamma must be finite and > 0 (or `auto` / `scale`), got {0}")]
    InvalidGamma(f64),
    /// The stopping tolerance must be finite and positive.
    #[error("tolerance must be finite and > 0, got {0}")]
    InvalidTolerance(f64),
    /// The iteration cap must be at least 1.
    #[error("the iteration cap must be at least 1, got 0")]
    InvalidMaxIterations,
    /// The kernel cache budget is below the minimum.
    #[error("kernel cache budget must be at least {min} bytes, got {got}")]
    InvalidCacheSize {
        /// The minimum accepted.
        min: usize,
        /// The value given.
        got: usize,
    },
    /// The training set has no points or no features.
    #[error("the training set is empty ({rows} points, {cols} features)")]
    EmptyTrainingSet {
        /// Number of points.
        rows: usize,
        /// Number of features.
        cols: usize,
    },
    /// Features and labels have different lengths.
    #[error("{features} feature rows but {labels} labels")]
    LengthMismatch {
        /// Rows of the feature matrix.
        features: usize,
        /// Number of labels.
        labels: usize,
    },
    /// A label is neither -1 nor +1.
    #[error("label at index {index} is {value}; labels must be -1 or +1")]
    InvalidLabel {
        /// Position of the label.
        index: usize,
        /// The label.
        value: i32,
    },
    /// All labels are the same.
    #[error("all {n} labels are {label}; a binary SVM needs both -1 and +1")]
    SingleClass {
        /// The only label present.
        label: i32,
        /// Number of points.
        n: usize,
    },
    /// A feature is NaN or infinite.
    #[error("feature [{row}][{col}] is not finite: {value}")]
    NonFiniteFeature {
        /// Row.
        row: usize,
        /// Column.
        col: usize,
        /// The value.
        value: f64,
    },
    /// Points to predict have a different number of features than the training data.
    #[error("points have {got} features, the model was trained on {expected}")]
    FeatureCountMismatch {
        /// Features at training time.
        expected: usize,
        /// Features given.
        got: usize,
    },
    /// A labelled CSV file is malformed.
    #[error("{path}, line {line}: {message}")]
    Csv {
        /// The file.
        path: std::path::PathBuf,
        /// The 1-based line number (0 for the file as a whole).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The worker thread pool could not be built.
    #[error("could not build a thread pool of {threads} threads: {message}")]
    ThreadPool {
        /// Threads asked for.
        threads: usize,
        /// The reason given by rayon.
        message: String,
    },
}

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, SvmError>;
