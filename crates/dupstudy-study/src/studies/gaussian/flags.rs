//! The Gaussian study's own flags.

use std::str::FromStr;

use dupstudy_dup::Replacement;
use dupstudy_svm::Gamma;

/// A Gaussian duplication policy as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyName {
    /// Every point equally likely.
    Uniform,
    /// Class +1 favoured, once per value of `--weighted-p-plus`.
    Weighted,
}

impl PolicyName {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            PolicyName::Uniform => "uniform",
            PolicyName::Weighted => "weighted",
        }
    }
}

impl FromStr for PolicyName {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "uniform" => Ok(PolicyName::Uniform),
            "weighted" => Ok(PolicyName::Weighted),
            other => Err(format!("expected uniform or weighted, got `{other}`")),
        }
    }
}

/// The Gaussian study's flags (`None`: the profile's value).
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct Flags {
    /// Gaussian study: duplication policies, uniform and/or weighted (comma-separated).
    #[cfg_attr(feature = "cli", arg(long, value_delimiter = ','))]
    pub policy: Option<Vec<PolicyName>>,
    /// Gaussian study: probability of drawing class +1 under the weighted policy; one
    /// weighted setting per value (paper text 0.7, published code 0.8).
    #[cfg_attr(
        feature = "cli",
        arg(long, value_delimiter = ',', allow_hyphen_values = true)
    )]
    pub weighted_p_plus: Option<Vec<f64>>,
    /// Gaussian study: held-out test points per class.
    #[cfg_attr(feature = "cli", arg(long))]
    pub test_per_class: Option<usize>,
    /// Gaussian study: original training points per class.
    #[cfg_attr(feature = "cli", arg(long))]
    pub train_per_class: Option<usize>,
    /// Gaussian study: draw duplicates `with` or `without` replacement.
    #[cfg_attr(feature = "cli", arg(long))]
    pub replacement: Option<Replacement>,
    /// Gaussian study: SVM box constraint C (> 0).
    #[cfg_attr(feature = "cli", arg(long, allow_hyphen_values = true))]
    pub c: Option<f64>,
    /// Gaussian study: RBF width, `auto` (1/d, the paper's code), `scale`, or a number > 0.
    #[cfg_attr(feature = "cli", arg(long, allow_hyphen_values = true))]
    pub gamma: Option<Gamma>,
}

impl Flags {
    /// The flags as command-line arguments (what a cluster job is given back).
    pub fn to_args(&self) -> Vec<String> {
        let list = |v: &[f64]| v.iter().map(f64::to_string).collect::<Vec<_>>().join(",");
        let mut out: Vec<String> = Vec::new();
        if let Some(p) = &self.policy {
            let names: Vec<&str> = p.iter().map(|p| p.name()).collect();
            out.extend(["--policy".into(), names.join(",")]);
        }
        if let Some(p) = &self.weighted_p_plus {
            out.extend(["--weighted-p-plus".into(), list(p)]);
        }
        if let Some(n) = self.test_per_class {
            out.extend(["--test-per-class".into(), n.to_string()]);
        }
        if let Some(n) = self.train_per_class {
            out.extend(["--train-per-class".into(), n.to_string()]);
        }
        if let Some(r) = self.replacement {
            let r = match r {
                Replacement::With => "with",
                Replacement::Without => "without",
            };
            out.extend(["--replacement".into(), r.to_string()]);
        }
        if let Some(c) = self.c {
            out.extend(["--c".into(), c.to_string()]);
        }
        if let Some(g) = self.gamma {
            let g = match g {
                Gamma::Auto => "auto".to_string(),
                Gamma::Scale => "scale".to_string(),
                Gamma::Value(v) => v.to_string(),
            };
            out.extend(["--gamma".into(), g]);
        }
        out
    }
}
