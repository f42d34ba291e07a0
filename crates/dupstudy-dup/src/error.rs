//! The error type of this crate.

/// Everything that can go wrong when configuring or drawing duplicates.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DupError {
    /// The D-rate is negative or not finite.
    #[error("D-rate must be a finite percentage >= 0, got {0}")]
    InvalidDRate(f64),
    /// Without replacement a D-rate above 100 % cannot be drawn.
    #[error(
        "D-rate {0} % asks for more duplicates than points; without replacement it must be <= 100"
    )]
    DRateAboveSetWithoutReplacement(f64),
    /// A class weight is negative or not finite.
    #[error("class weight {index} must be finite and >= 0, got {value}")]
    InvalidWeight {
        /// Index of the class whose weight is bad.
        index: usize,
        /// The weight.
        value: f64,
    },
    /// The class weights sum to zero.
    #[error("class weights sum to 0; at least one class needs a positive weight")]
    ZeroWeights,
    /// The label set is empty.
    #[error("the labelled set is empty; there is nothing to duplicate")]
    EmptySet,
    /// A label is not a class the weights cover.
    #[error(
        "label {label} at index {index} has no weight: {n_weights} class weights were given (classes 0..{n_weights})"
    )]
    LabelWithoutWeight {
        /// Position of the label in the set.
        index: usize,
        /// The label.
        label: usize,
        /// Number of weights given.
        n_weights: usize,
    },
    /// A class with positive weight has no points, so it cannot be drawn from.
    #[error("class {class} has weight {weight} but no points in the set")]
    EmptyWeightedClass {
        /// The class.
        class: usize,
        /// Its weight.
        weight: f64,
    },
    /// Without replacement, more duplicates were asked of the set than it holds.
    #[error(
        "{requested} duplicates requested without replacement, but the set holds only {available} points"
    )]
    SetExhausted {
        /// Duplicates asked for.
        requested: usize,
        /// Points in the set.
        available: usize,
    },
    /// Without replacement, more duplicates were drawn for a class than it holds.
    #[error(
        "{requested} duplicates fell to class {class} without replacement, but it holds only {available} points"
    )]
    ClassExhausted {
        /// The class.
        class: usize,
        /// Duplicates that fell to it.
        requested: usize,
        /// Points of that class.
        available: usize,
    },
}

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, DupError>;
