//! The flags every CNN study reads.

/// The CNN studies' flags (`None`: the profile's value).
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct Flags {
    /// CIFAR studies: epochs per training run.
    #[cfg_attr(feature = "cli", arg(long))]
    pub epochs: Option<u64>,
    /// CIFAR studies: training images in the base set (a seeded random subset).
    #[cfg_attr(feature = "cli", arg(long))]
    pub train_subset: Option<usize>,
}

impl Flags {
    /// The flags as command-line arguments (what a cluster job is given back).
    pub fn to_args(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if let Some(e) = self.epochs {
            out.extend(["--epochs".into(), e.to_string()]);
        }
        if let Some(t) = self.train_subset {
            out.extend(["--train-subset".into(), t.to_string()]);
        }
        out
    }
}
