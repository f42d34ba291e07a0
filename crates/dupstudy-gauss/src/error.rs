//! The error type of this crate.

/// Everything that can go wrong when building a [`crate::GaussianClasses`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum GaussError {
    /// No class was given.
    #[error("at least one class is needed, got none")]
    NoClasses,
    /// The dimension is zero.
    #[error("the data dimension must be at least 1, got 0")]
    ZeroDimension,
    /// The covariance is not a `d x d` matrix.
    #[error(
        "covariance must be {expected}x{expected}, got {rows} rows with row {bad_row} of length {bad_len}"
    )]
    CovarianceShape {
        /// The data dimension `d`.
        expected: usize,
        /// The number of rows given.
        rows: usize,
        /// The first row whose length is wrong (or `rows` if only the row count is wrong).
        bad_row: usize,
        /// That row's length.
        bad_len: usize,
    },
    /// A class mean does not have `d` entries.
    #[error("mean of class {class} has {got} entries, the covariance is {expected}x{expected}")]
    MeanLength {
        /// The class index.
        class: usize,
        /// The data dimension.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// A mean or covariance entry is NaN or infinite.
    #[error("{what} is not finite: {value}")]
    NonFinite {
        /// Which entry, e.g. `covariance[0][1]`.
        what: String,
        /// The value found.
        value: f64,
    },
    /// The covariance is not symmetric.
    #[error("covariance is not symmetric: [{row}][{col}] = {upper} but [{col}][{row}] = {lower}")]
    NotSymmetric {
        /// Row of the upper entry.
        row: usize,
        /// Column of the upper entry.
        col: usize,
        /// The upper entry.
        upper: f64,
        /// The mirrored entry.
        lower: f64,
    },
    /// The covariance is symmetric but not positive definite.
    #[error("covariance is not positive definite (Cholesky pivot {pivot} is {value}, must be > 0)")]
    NotPositiveDefinite {
        /// The index of the failing pivot.
        pivot: usize,
        /// The pivot value before the square root.
        value: f64,
    },
    /// A class has no points.
    #[error("class {class} has a count of 0; every class needs at least one point")]
    ZeroCount {
        /// The class index.
        class: usize,
    },
    /// The numbers of means, counts and labels differ.
    #[error("{means} means, {counts} counts and {labels} labels were given; they must be equal")]
    ClassCountMismatch {
        /// Number of means.
        means: usize,
        /// Number of counts.
        counts: usize,
        /// Number of labels.
        labels: usize,
    },
    /// Two classes share a label.
    #[error("label {label} is used by more than one class")]
    DuplicateLabel {
        /// The repeated label.
        label: i32,
    },
    /// A point to classify has the wrong dimension.
    #[error("point has {got} coordinates, the classes live in {expected} dimensions")]
    PointDimension {
        /// The data dimension.
        expected: usize,
        /// The length given.
        got: usize,
    },
}

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, GaussError>;
