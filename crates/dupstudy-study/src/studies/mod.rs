//! The studies, one folder each, and what they share: the CNN cell code ([`cnn`]) and the
//! flags of every study ([`StudyFlags`]).

pub mod cifar;
pub mod cnn;
pub mod gaussian;
pub mod natural;
pub mod privacy;

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

/// Every study's own flags, flattened into one command line by a command layer (feature
/// `cli`); the flags every study reads (`--seeds`, `--d-rates`) are in
/// [`crate::Overrides`].
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct StudyFlags {
    /// The Gaussian study's.
    #[cfg_attr(feature = "cli", command(flatten))]
    pub gaussian: gaussian::flags::Flags,
    /// The CNN studies'.
    #[cfg_attr(feature = "cli", command(flatten))]
    pub cnn: cnn::flags::Flags,
}

impl StudyFlags {
    /// The flags as command-line arguments.
    pub fn to_args(&self) -> Vec<String> {
        let mut out = self.gaussian.to_args();
        out.extend(self.cnn.to_args());
        out
    }
}
