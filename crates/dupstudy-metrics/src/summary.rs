//! Mean, standard deviation and confidence intervals of a statistic over seeds.

use crate::error::{MetricsError, Result};

/// Mean, sample standard deviation and a Student-t confidence interval of repeated
/// measurements (e.g. one accuracy per seed).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// Number of values.
    pub n: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (divisor `n - 1`); `None` for a single value.
    pub std: Option<f64>,
    /// Half the width of the confidence interval, `t_{(1+level)/2, n-1} * std / sqrt(n)`;
    /// `None` for a single value.
    pub ci_half_width: Option<f64>,
    /// The confidence level of the interval, e.g. `0.95`.
    pub level: f64,
}

impl Summary {
    /// Summarizes `values` with a 95 % confidence interval for the mean.
    ///
    /// # Errors
    /// [`MetricsError::Empty`] or [`MetricsError::NonFinite`].
    pub fn of(values: &[f64]) -> Result<Self> {
        Self::with_level(values, 0.95)
    }

    /// Summarizes `values` with a confidence interval at `level` (strictly between 0 and 1).
    ///
    /// # Errors
    /// [`MetricsError::Empty`], [`MetricsError::NonFinite`] or
    /// [`MetricsError::InvalidProbability`].
    pub fn with_level(values: &[f64], level: f64) -> Result<Self> {
        if !(level > 0.0 && level < 1.0) {
            return Err(MetricsError::InvalidProbability {
                what: "confidence level",
                value: level,
            });
        }
        if values.is_empty() {
            return Err(MetricsError::Empty("summary values"));
        }
        if let Some((index, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(MetricsError::NonFinite {
                what: "summary values",
                index,
                value,
            });
        }
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n as f64;
        if n == 1 {
            return Ok(Self {
                n,
                mean,
                std: None,
                ci_half_width: None,
                level,
            });
        }
        let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let std = variance.sqrt();
        let t = student_t_quantile(0.5 + level / 2.0, (n - 1) as f64)?;
        Ok(Self {
            n,
            mean,
            std: Some(std),
            ci_half_width: Some(t * std / (n as f64).sqrt()),
            level,
        })
    }

    /// Lower end of the confidence interval (the mean itself for a single value).
    pub fn ci_low(&self) -> f64 {
        self.mean - self.ci_half_width.unwrap_or(0.0)
    }

    /// Upper end of the confidence interval (the mean itself for a single value).
    pub fn ci_high(&self) -> f64 {
        self.mean + self.ci_half_width.unwrap_or(0.0)
    }
}

/// The `p`-quantile of Student's t distribution with `df` degrees of freedom.
///
/// Computed by bisection on the distribution function, itself the regularized incomplete
/// beta function evaluated by its continued fraction; accurate to about `1e-10`.
///
/// # Errors
/// [`MetricsError::InvalidProbability`] unless `0 < p < 1`;
/// [`MetricsError::InvalidDegreesOfFreedom`] unless `df > 0`.
pub fn student_t_quantile(p: f64, df: f64) -> Result<f64> {
    if !(p > 0.0 && p < 1.0) {
        return Err(MetricsError::InvalidProbability {
            what: "quantile probability",
            value: p,
        });
    }
    if !(df > 0.0 && df.is_finite()) {
        return Err(MetricsError::InvalidDegreesOfFreedom(df));
    }
    if p < 0.5 {
        return Ok(-student_t_quantile(1.0 - p, df)?);
    }
    let mut high = 1.0;
    while student_t_cdf(high, df) < p {
        high *= 2.0;
        if high > 1e12 {
            break;
        }
    }
    let mut low = 0.0;
    for _ in 0..200 {
        let mid = 0.5 * (low + high);
        if student_t_cdf(mid, df) < p {
            low = mid;
        } else {
            high = mid;
        }
        if high - low <= 1e-13 * high.max(1.0) {
            break;
        }
    }
    Ok(0.5 * (low + high))
}

/// Distribution function of Student's t with `df` degrees of freedom.
pub fn student_t_cdf(t: f64, df: f64) -> f64 {
    let x = df / (df + t * t);
    let tail = 0.5 * regularized_incomplete_beta(0.5 * df, 0.5, x);
    if t >= 0.0 { 1.0 - tail } else { tail }
}

/// `I_x(a, b)`, the regularized incomplete beta function, for `a, b > 0` and `0 <= x <= 1`.
fn regularized_incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    let front = ln_front.exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_continued_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_continued_fraction(b, a, 1.0 - x) / b
    }
}

/// The continued fraction of the incomplete beta function (modified Lentz's method).
fn beta_continued_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let qab = a + b;
    let qap = a + 1.0;
    let qam = a - 1.0;
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..1000 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let step = d * c;
        h *= step;
        if (step - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// `ln Gamma(x)` for `x > 0` (Lanczos approximation, g = 7, n = 9; relative error ~1e-15).
fn ln_gamma(x: f64) -> f64 {
    const COEFFICIENTS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Gamma(x) Gamma(1 - x) = pi / sin(pi x).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = COEFFICIENTS[0];
    for (i, &c) in COEFFICIENTS.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + 7.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_tables() {
        // Two-sided 95 % critical values from standard tables.
        for (df, want) in [
            (1.0, 12.706_204_736),
            (2.0, 4.302_652_730),
            (9.0, 2.262_157_163),
            (29.0, 2.045_229_642),
            (99.0, 1.984_216_952),
            (1e6, 1.959_966_0),
        ] {
            let got = student_t_quantile(0.975, df).unwrap();
            assert!((got - want).abs() < 1e-6, "df {df}: {got} vs {want}");
        }
        assert!((student_t_quantile(0.025, 9.0).unwrap() + 2.262_157_163).abs() < 1e-6);
    }

    #[test]
    fn ln_gamma_known_values() {
        assert!(ln_gamma(1.0).abs() < 1e-14);
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-13);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-13);
    }

    #[test]
    fn summary_by_hand() {
        let s = Summary::of(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert!((s.mean - 2.5).abs() < 1e-15);
        let std = (5.0f64 / 3.0).sqrt();
        assert!((s.std.unwrap() - std).abs() < 1e-12);
        let half = 3.182_446_305 * std / 2.0;
        assert!((s.ci_half_width.unwrap() - half).abs() < 1e-8);
    }

    #[test]
    fn single_value_has_no_interval() {
        let s = Summary::of(&[0.7]).unwrap();
        assert_eq!(s.std, None);
        assert!((s.ci_low() - 0.7).abs() < 1e-15);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(Summary::of(&[]), Err(MetricsError::Empty(_))));
        assert!(matches!(
            Summary::of(&[1.0, f64::NAN]),
            Err(MetricsError::NonFinite { index: 1, .. })
        ));
        assert!(Summary::with_level(&[1.0, 2.0], 1.0).is_err());
    }
}
