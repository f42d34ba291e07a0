//! Least-squares trend lines with a confidence interval on the slope, to test claims of the
//! form "more duplication lowers accuracy".

use crate::error::{MetricsError, Result};
use crate::summary::student_t_quantile;

/// An ordinary least-squares line `y = intercept + slope * x`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LinearFit {
    /// Number of points.
    pub n: usize,
    /// The slope.
    pub slope: f64,
    /// The intercept.
    pub intercept: f64,
    /// Standard error of the slope.
    pub slope_std_error: f64,
    /// Half-width of the slope's confidence interval at `level`.
    pub slope_ci_half_width: f64,
    /// Confidence level of the interval.
    pub level: f64,
}

impl LinearFit {
    /// Fits `y` on `x` with a 95 % interval on the slope (Student t, `n - 2` degrees of
    /// freedom).
    ///
    /// # Errors
    /// [`MetricsError::LengthMismatch`]; [`MetricsError::TooFewValues`] with fewer than 3 points;
    /// [`MetricsError::NoSpread`] when every `x` is the same; [`MetricsError::NonFinite`].
    pub fn fit(x: &[f64], y: &[f64]) -> Result<Self> {
        if x.len() != y.len() {
            return Err(MetricsError::LengthMismatch {
                what: "trend x and y",
                left: x.len(),
                right: y.len(),
            });
        }
        for (what, values) in [("trend x", x), ("trend y", y)] {
            if let Some((index, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(MetricsError::NonFinite { what, index, value });
            }
        }
        let n = x.len();
        if n < 3 {
            return Err(MetricsError::TooFewValues {
                what: "trend points",
                needed: 3,
                got: n,
            });
        }
        let nf = n as f64;
        let mean_x = x.iter().sum::<f64>() / nf;
        let mean_y = y.iter().sum::<f64>() / nf;
        let sxx: f64 = x.iter().map(|v| (v - mean_x).powi(2)).sum();
        if sxx <= 0.0 {
            return Err(MetricsError::NoSpread("trend x"));
        }
        let sxy: f64 = x
            .iter()
            .zip(y)
            .map(|(a, b)| (a - mean_x) * (b - mean_y))
            .sum();
        let slope = sxy / sxx;
        let intercept = mean_y - slope * mean_x;
        let sse: f64 = x
            .iter()
            .zip(y)
            .map(|(a, b)| (b - intercept - slope * a).powi(2))
            .sum();
        let slope_std_error = (sse / (nf - 2.0) / sxx).sqrt();
        let level = 0.95;
        let t = student_t_quantile(0.5 + level / 2.0, nf - 2.0)?;
        Ok(Self {
            n,
            slope,
            intercept,
            slope_std_error,
            slope_ci_half_width: t * slope_std_error,
            level,
        })
    }

    /// Lower end of the slope's interval.
    pub fn slope_low(&self) -> f64 {
        self.slope - self.slope_ci_half_width
    }

    /// Upper end of the slope's interval.
    pub fn slope_high(&self) -> f64 {
        self.slope + self.slope_ci_half_width
    }
}

/// The least-squares slope of `y` on `x` (at least 2 points with spread in `x`).
///
/// # Errors
/// As [`LinearFit::fit`], with 2 points enough.
pub fn slope(x: &[f64], y: &[f64]) -> Result<f64> {
    if x.len() != y.len() {
        return Err(MetricsError::LengthMismatch {
            what: "trend x and y",
            left: x.len(),
            right: y.len(),
        });
    }
    if x.len() < 2 {
        return Err(MetricsError::TooFewValues {
            what: "trend points",
            needed: 2,
            got: x.len(),
        });
    }
    for (what, values) in [("trend x", x), ("trend y", y)] {
        if let Some((index, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(MetricsError::NonFinite { what, index, value });
        }
    }
    let n = x.len() as f64;
    let mean_x = x.iter().sum::<f64>() / n;
    let mean_y = y.iter().sum::<f64>() / n;
    let sxx: f64 = x.iter().map(|v| (v - mean_x).powi(2)).sum();
    if sxx <= 0.0 {
        return Err(MetricsError::NoSpread("trend x"));
    }
    let sxy: f64 = x
        .iter()
        .zip(y)
        .map(|(a, b)| (a - mean_x) * (b - mean_y))
        .sum();
    Ok(sxy / sxx)
}

/// A trend over independent units (seeds, models): one least-squares slope per unit, then
/// the mean and Student-t interval of those slopes over the units. Points of one unit are not
/// independent of each other, so a line through every unit's points at once (with `n - 2`
/// degrees of freedom) overstates the evidence; this counts each unit once.
///
/// # Errors
/// [`MetricsError::Empty`] without units; a unit's [`slope`] error.
pub fn slopes_over_units(units: &[(Vec<f64>, Vec<f64>)]) -> Result<crate::Summary> {
    let slopes = units
        .iter()
        .map(|(x, y)| slope(x, y))
        .collect::<Result<Vec<_>>>()?;
    crate::Summary::of(&slopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_line_has_zero_error() {
        let fit = LinearFit::fit(&[0.0, 1.0, 2.0, 3.0], &[1.0, 3.0, 5.0, 7.0]).unwrap();
        assert!((fit.slope - 2.0).abs() < 1e-12);
        assert!((fit.intercept - 1.0).abs() < 1e-12);
        assert!(fit.slope_std_error < 1e-12);
    }

    #[test]
    fn slope_error_by_hand() {
        // x = 0..5, y = [0, 2, 1, 3, 5]: mean_x 2, mean_y 2.2, sxx 10, sxy 11 -> slope 1.1,
        // residuals -0.0, 0.9, -1.2, -0.3, 0.6 (intercept 0) -> sse 2.7, se = sqrt(0.9/10).
        let fit = LinearFit::fit(&[0.0, 1.0, 2.0, 3.0, 4.0], &[0.0, 2.0, 1.0, 3.0, 5.0]).unwrap();
        assert!((fit.slope - 1.1).abs() < 1e-12);
        assert!(fit.intercept.abs() < 1e-12);
        assert!((fit.slope_std_error - 0.09f64.sqrt()).abs() < 1e-12);
        assert!((fit.slope_ci_half_width - 3.182_446_305 * 0.3).abs() < 1e-7);
    }

    #[test]
    fn rejects_degenerate_input() {
        assert_eq!(
            LinearFit::fit(&[1.0, 1.0, 1.0], &[0.0, 1.0, 2.0]),
            Err(MetricsError::NoSpread("trend x"))
        );
        assert_eq!(
            LinearFit::fit(&[1.0, 2.0], &[0.0, 1.0]),
            Err(MetricsError::TooFewValues {
                what: "trend points",
                needed: 3,
                got: 2
            })
        );
        assert!(LinearFit::fit(&[1.0, 2.0, 3.0], &[0.0, 1.0]).is_err());
    }

    #[test]
    fn slopes_over_units_count_units_not_points() {
        // Three seeds whose own slopes differ (0.6, 0.6, 0.2 per unit of x), each with nine
        // points on its own line: the pooled line through 27 points finds a positive slope,
        // but over the three seeds the mean slope is not distinguishable from 0.
        let x: Vec<f64> = (1..=9).map(f64::from).collect();
        let units: Vec<(Vec<f64>, Vec<f64>)> = [0.6, 0.6, 0.2]
            .iter()
            .map(|&b| (x.clone(), x.iter().map(|v| b * v).collect()))
            .collect();
        let (px, py): (Vec<f64>, Vec<f64>) = units
            .iter()
            .flat_map(|(x, y)| x.iter().copied().zip(y.iter().copied()))
            .unzip();
        let pooled = LinearFit::fit(&px, &py).unwrap();
        assert!(pooled.slope_low() > 0.0, "points as units: {pooled:?}");
        let per_seed = slopes_over_units(&units).unwrap();
        assert!((per_seed.mean - 1.4 / 3.0).abs() < 1e-12);
        assert!(per_seed.ci_low() < 0.0, "seeds as units: {per_seed:?}");
        assert!(slope(&[1.0], &[2.0]).is_err());
        assert!(slope(&[1.0, 1.0], &[2.0, 3.0]).is_err());
    }
}
