//! Command-line flags of `cargo xtask`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The dupstudy orchestrator.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    version,
    about = "Runs the duplicates study and its tools"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the study (resumable) and writes results, figures and REPORT.md.
    Reproduce(ReproduceArgs),
    /// Downloads the official CIFAR-10 binary archive, verifies its MD5 and unpacks it.
    FetchCifar(FetchCifarArgs),
    /// Prints CIFAR-10 counts per class and split, and writes an image grid to look at.
    CifarInfo(CifarInfoArgs),
    /// Lists the work units of a profile (one id per line) and writes `<out>/plan.json`.
    Plan(ReproduceArgs),
    /// Runs one work unit of `<out>/plan.json` (for clusters: see README).
    RunCell(RunCellArgs),
}

/// Flags of `cargo xtask run-cell`.
#[derive(Debug, Args)]
pub struct RunCellArgs {
    /// The unit's id, as `cargo xtask plan` printed it.
    pub id: String,
    /// The results folder holding `plan.json`.
    #[arg(long)]
    pub out: PathBuf,
    /// CIFAR-10 folder or archive.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// cpu, cuda or auto.
    #[arg(long, default_value = "auto")]
    pub device: String,
}

/// Flags of `cargo xtask fetch-cifar`.
#[derive(Debug, Args)]
pub struct FetchCifarArgs {
    /// Folder to download and unpack into (default `data/` in the workspace).
    #[arg(long)]
    pub dest: Option<PathBuf>,
    /// Download attempts before giving up.
    #[arg(long, default_value_t = 3)]
    pub attempts: usize,
}

/// Flags of `cargo xtask cifar-info`.
#[derive(Debug, Args)]
pub struct CifarInfoArgs {
    /// CIFAR-10 folder or archive (default: `$CIFAR10_DIR`, then `data/cifar-10-batches-bin`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Where to write the image grid (default `results/cifar-info`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Images per class in the grid.
    #[arg(long, default_value_t = 10)]
    pub per_class: usize,
}

/// A named set of defaults for every study.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Profile {
    /// Everything on tiny data, for CI (a few seconds for the Gaussian study).
    Smoke,
    /// The default: every study reduced to fit about an hour on 2 cores.
    Quick,
    /// The paper's protocol at full size.
    Paper,
    /// The paper's protocol with more seeds and every control.
    Full,
}

impl Profile {
    /// The name used in paths and the report.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Smoke => "smoke",
            Profile::Quick => "quick",
            Profile::Paper => "paper",
            Profile::Full => "full",
        }
    }
}

/// A study of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum StudyName {
    /// 2-D Gaussian data and an RBF SVM (paper Figures 1 and 2).
    Gaussian,
    /// CIFAR-10 with the standard network (paper Figure 3) and controls.
    CifarStandard,
    /// CIFAR-10 with PGD adversarial training (paper Figure 4).
    CifarAdversarial,
}

impl StudyName {
    /// Every study, in report order.
    pub const ALL: [StudyName; 3] = [
        StudyName::Gaussian,
        StudyName::CifarStandard,
        StudyName::CifarAdversarial,
    ];
}

/// Duplication policies of the Gaussian study.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyName {
    /// Every point equally likely.
    Uniform,
    /// Class +1 favoured, with each probability of `--weighted-p-plus`.
    Weighted,
}

/// Drawing duplicates with or without replacement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReplacementName {
    /// A point can be duplicated several times.
    With,
    /// Each point at most once.
    Without,
}

/// Flags of `cargo xtask reproduce`. Every study flag overrides the profile's value.
#[derive(Debug, Args)]
pub struct ReproduceArgs {
    /// Defaults for every study.
    #[arg(long, value_enum, default_value_t = Profile::Quick)]
    pub profile: Profile,
    /// Run only these studies (comma-separated); default: all.
    #[arg(long, alias = "only", value_enum, value_delimiter = ',')]
    pub study: Vec<StudyName>,
    /// Results folder; default `results/<profile>`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Number of seeds (0..N) per cell.
    #[arg(long)]
    pub seeds: Option<u64>,
    /// D-rates in percent, comma-separated (e.g. 0,10,20).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    pub d_rates: Option<Vec<f64>>,
    /// Gaussian study: duplication policies (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub policy: Option<Vec<PolicyName>>,
    /// Gaussian study: probability of drawing class +1 under the weighted policy; one
    /// weighted setting per value (paper text 0.7, published code 0.8).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    pub weighted_p_plus: Option<Vec<f64>>,
    /// Gaussian study: held-out test points per class.
    #[arg(long)]
    pub test_per_class: Option<usize>,
    /// Gaussian study: original training points per class.
    #[arg(long)]
    pub train_per_class: Option<usize>,
    /// Gaussian study: draw duplicates with or without replacement.
    #[arg(long, value_enum)]
    pub replacement: Option<ReplacementName>,
    /// Gaussian study: SVM box constraint C (> 0).
    #[arg(long, allow_hyphen_values = true)]
    pub c: Option<f64>,
    /// Gaussian study: RBF width, `auto` (1/d, the paper's code), `scale`, or a number > 0.
    #[arg(long, allow_hyphen_values = true)]
    pub gamma: Option<String>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// CIFAR studies: epochs per training run.
    #[arg(long)]
    pub epochs: Option<u64>,
    /// CIFAR studies: training images in the base set (a seeded random subset).
    #[arg(long)]
    pub train_subset: Option<usize>,
    /// CIFAR-10 folder or archive (default: $CIFAR10_DIR, then data/cifar-10-batches-bin).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// CIFAR studies: cpu, cuda or auto (cuda when built with it and a GPU is present).
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Never download CIFAR-10; skip the CIFAR studies if it is missing.
    #[arg(long)]
    pub offline: bool,
}
