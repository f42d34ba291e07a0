//! Labelled data from CSV: no header, the label (`-1` or `1`) in the first column, the
//! features in the others.

use std::path::Path;

use ndarray::Array2;

use crate::error::{Result, SvmError};

/// Reads a labelled CSV file.
///
/// Blank lines are skipped; every other line must have the same number of columns (at
/// least two), every field must be a finite number, and every label `-1` or `1`.
///
/// # Errors
/// [`SvmError::Csv`] naming the file and line: a wrong column count, a non-number, a label
/// other than -1/1, or fewer than two classes (line 0); an unreadable file.
pub fn read_csv(path: &Path) -> Result<(Array2<f64>, Vec<i32>)> {
    let fail = |line: usize, message: String| SvmError::Csv {
        path: path.to_path_buf(),
        line,
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(0, e.to_string()))?;
    let mut values = Vec::new();
    let mut labels = Vec::new();
    let mut width: Option<usize> = None;
    for (k, line) in text.lines().enumerate() {
        let number = k + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        match width {
            None if fields.len() < 2 => {
                return Err(fail(
                    number,
                    format!(
                        "{} column(s); a label and at least one feature are needed",
                        fields.len()
                    ),
                ));
            }
            None => width = Some(fields.len()),
            Some(w) if w != fields.len() => {
                return Err(fail(
                    number,
                    format!("{} columns, but the first data line has {w}", fields.len()),
                ));
            }
            Some(_) => {}
        }
        let label: f64 = fields[0]
            .parse()
            .map_err(|_| fail(number, format!("label `{}` is not a number", fields[0])))?;
        // A float compare on purpose: the label must be exactly -1 or 1.
        #[allow(clippy::float_cmp)]
        let label = if label == 1.0 {
            1
        } else if label == -1.0 {
            -1
        } else {
            return Err(fail(
                number,
                format!("label `{}` must be -1 or 1", fields[0]),
            ));
        };
        labels.push(label);
        for (column, field) in fields[1..].iter().enumerate() {
            let value: f64 = field
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite())
                .ok_or_else(|| {
                    fail(
                        number,
                        format!("column {}: `{field}` is not a finite number", column + 2),
                    )
                })?;
            values.push(value);
        }
    }
    let Some(width) = width else {
        return Err(fail(0, "no data lines".into()));
    };
    if !labels.contains(&1) || !labels.contains(&-1) {
        return Err(fail(
            0,
            format!(
                "all {} labels are {}; both -1 and 1 are needed",
                labels.len(),
                labels[0]
            ),
        ));
    }
    let rows = labels.len();
    let features =
        Array2::from_shape_vec((rows, width - 1), values).map_err(|e| fail(0, e.to_string()))?;
    Ok((features, labels))
}
