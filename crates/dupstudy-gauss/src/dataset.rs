//! A labelled point set: features by row, a class index per row.

use ndarray::{Array2, ArrayView1, ArrayView2, Axis};

/// Points with a class index each, and the label that each class index stands for.
///
/// Features are an `n x d` row-major matrix. `classes[i]` is the class index (`0..k`) of
/// row `i`; `class_labels[c]` is the label of class `c` (for the paper: `-1` and `+1`).
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledPoints {
    features: Array2<f64>,
    classes: Vec<usize>,
    class_labels: Vec<i32>,
}

impl LabelledPoints {
    pub(crate) fn new(features: Array2<f64>, classes: Vec<usize>, class_labels: Vec<i32>) -> Self {
        Self {
            features,
            classes,
            class_labels,
        }
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.classes.len()
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }

    /// The `n x d` feature matrix.
    pub fn features(&self) -> ArrayView2<'_, f64> {
        self.features.view()
    }

    /// Row `i` of the feature matrix.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn point(&self, i: usize) -> ArrayView1<'_, f64> {
        self.features.row(i)
    }

    /// The class index of every point.
    pub fn classes(&self) -> &[usize] {
        &self.classes
    }

    /// The label of every class index.
    pub fn class_labels(&self) -> &[i32] {
        &self.class_labels
    }

    /// The label of every point (`class_labels[classes[i]]`).
    pub fn labels(&self) -> Vec<i32> {
        self.classes.iter().map(|&c| self.class_labels[c]).collect()
    }

    /// A new set made of these points followed by the rows named in `extra`, in order
    /// (e.g. the duplicates chosen by a sampler). Indices must be `< self.len()`.
    ///
    /// Returns `None` if an index is out of range.
    pub fn with_appended(&self, extra: &[usize]) -> Option<Self> {
        if extra.iter().any(|&i| i >= self.len()) {
            return None;
        }
        let appended = self.features.select(Axis(0), extra);
        let features = ndarray::concatenate(Axis(0), &[self.features.view(), appended.view()])
            .expect("same number of columns");
        let mut classes = self.classes.clone();
        classes.extend(extra.iter().map(|&i| self.classes[i]));
        Some(Self::new(features, classes, self.class_labels.clone()))
    }
}
