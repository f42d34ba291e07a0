//! The error type of this crate.

/// Everything that can go wrong when computing a metric.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// Two inputs that must have equal lengths do not.
    #[error("{what}: lengths differ ({left} vs {right})")]
    LengthMismatch {
        /// Which inputs.
        what: &'static str,
        /// First length.
        left: usize,
        /// Second length.
        right: usize,
    },
    /// A class index is not below the number of classes.
    #[error("class {class} at position {index} is out of range: there are {n_classes} classes")]
    ClassOutOfRange {
        /// Position of the bad value.
        index: usize,
        /// The value.
        class: usize,
        /// Number of classes.
        n_classes: usize,
    },
    /// A point index is not below the number of points.
    #[error("point {point} at position {index} is out of range: there are {n_points} points")]
    PointOutOfRange {
        /// Position of the bad value.
        index: usize,
        /// The value.
        point: usize,
        /// Number of points.
        n_points: usize,
    },
    /// An input has fewer values than the computation needs.
    #[error("{what}: {got} values given, at least {needed} needed")]
    TooFewValues {
        /// Which input.
        what: &'static str,
        /// The number needed.
        needed: usize,
        /// The number given.
        got: usize,
    },
    /// Every value of an input is the same, so no slope can be fitted.
    #[error("{0}: every value is the same, there is no spread to fit a slope on")]
    NoSpread(&'static str),
    /// There are no classes.
    #[error("the number of classes must be at least 1")]
    NoClasses,
    /// An input that needs values has none.
    #[error("{0}: no values given")]
    Empty(&'static str),
    /// A value is NaN or infinite.
    #[error("{what}: value {value} at position {index} is not finite")]
    NonFinite {
        /// Which input.
        what: &'static str,
        /// Position.
        index: usize,
        /// The value.
        value: f64,
    },
    /// A probability or confidence level is outside `(0, 1)`.
    #[error("{what} must lie strictly between 0 and 1, got {value}")]
    InvalidProbability {
        /// Which parameter.
        what: &'static str,
        /// The value.
        value: f64,
    },
    /// Degrees of freedom must be positive.
    #[error("degrees of freedom must be > 0, got {0}")]
    InvalidDegreesOfFreedom(f64),
}

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, MetricsError>;
