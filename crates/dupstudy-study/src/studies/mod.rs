//! The studies, one module each.

pub mod cifar;
pub mod cnn;
pub mod gaussian;
pub mod natural;

/// Capitalizes the first letter.
pub(crate) fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_uppercase().collect::<String>() + chars.as_str()
    })
}

/// A band point from a summary, scaled by `k`.
pub(crate) fn band(s: &dupstudy_metrics::Summary, x: f64, k: f64) -> crate::figure::BandPoint {
    crate::figure::BandPoint {
        x,
        mean: k * s.mean,
        low: k * s.ci_low(),
        high: k * s.ci_high(),
    }
}
