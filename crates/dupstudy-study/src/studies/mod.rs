//! The studies, one module each.

pub mod cifar;
pub mod gaussian;
pub mod natural;
mod training;

/// The JSON a cell id is hashed from: `{"study": <name>, ...the cell's fields}`.
#[derive(serde::Serialize)]
pub(crate) struct Tagged<'a, C> {
    pub(crate) study: &'a str,
    #[serde(flatten)]
    pub(crate) spec: &'a C,
}

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

/// Added to every measured estimate, for what the calibration does not time (checkpoints,
/// figures) and for the machine's own drift. On the shared 2-core VM this was tuned on, the
/// calibration alone came out 1.19x to 1.26x short of three whole quick runs, yet matched a
/// single cell run right after it. The margin covers the drift seen so far, not a worst case.
pub const ESTIMATE_MARGIN: f64 = 1.30;
