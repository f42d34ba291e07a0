//! Command-line flags of `cargo xtask`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use dupstudy_study::studies::StudyFlags;
use dupstudy_study::{Overrides, Profile};

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
    /// Re-renders REPORT.md, the summaries and the figures from the cells under --out.
    Report(ReportArgs),
    /// Lists the work units of a profile (one id per line) and writes `<out>/plan.json`.
    Plan(ReproduceArgs),
    /// Runs one work unit of `<out>/plan.json` (for clusters: see README).
    RunCell(RunCellArgs),
    /// Submits the study to Slurm: one array task per work unit, then a job that renders
    /// the report when the array has ended.
    Submit(SubmitArgs),
    /// Downloads the official CIFAR-10 binary archive, verifies its MD5 and unpacks it.
    FetchCifar(FetchCifarArgs),
    /// Prints CIFAR-10 counts per class and split, and writes an image grid to look at.
    CifarInfo(CifarInfoArgs),
    /// Audits a data set for its own exact and near-duplicates (within and across splits).
    Audit(AuditArgs),
    /// Recall of a CIFAR-10 audit's pairs.csv on ciFAIR's hand-labelled near-duplicates,
    /// per half (development: test indices below 5,000; held out: the rest), by threshold.
    AuditRecall(AuditRecallArgs),
}

/// Flags of `cargo xtask audit-recall`.
#[derive(Debug, Args)]
pub struct AuditRecallArgs {
    /// The audit's pairs.csv (CIFAR-10, both splits whole).
    #[arg(long, default_value = "docs/audit-cifar10/pairs.csv")]
    pub pairs: PathBuf,
    /// The folder holding ciFAIR's lists.
    #[arg(long, default_value = "fixtures/cifair")]
    pub labels: PathBuf,
    /// Thresholds to judge at (default: from the lowest score in pairs.csv to 1 in steps
    /// of 0.02).
    #[arg(long, value_delimiter = ',')]
    pub thresholds: Vec<f32>,
    /// Write a contact sheet (PNG) of the test images the audit pairs with a training image
    /// at the lowest threshold (with --exact-candidates: the fused score's threshold at a
    /// budget of 450) although the list names no training partner for them (each beside its
    /// best partner); needs --data-dir.
    #[arg(long, requires = "data_dir")]
    pub unlisted_sheet: Option<PathBuf>,
    /// A file of judged unlisted pairs (`test,train,score,source,rank,judgment`, as
    /// docs/audit-cifar10/unlisted-judged.csv): how the unlisted test images at each threshold
    /// were judged, and how many test images have a listed or same-photo training partner.
    #[arg(long)]
    pub judged: Option<PathBuf>,
    /// With --judged: the natural-duplicates study's cell records (as
    /// docs/paper-natural/cifar-natural/cells), whose model (a) is recounted with every known
    /// twin: the partition's, the list's and those judged the same photo.
    #[arg(long, requires = "judged")]
    pub natural_cells: Option<PathBuf>,
    /// The CIFAR-10 folder or archive the audit read (for --unlisted-sheet and
    /// --exact-candidates).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Instead of pairs.csv: each test image's nearest training and test images by 16x16
    /// thumbnail (exact search), aligned without a coarse gate, and the recall at budgets of
    /// flagged test images under the aligned and the fused score; needs --data-dir.
    #[arg(long, requires = "data_dir")]
    pub exact_candidates: bool,
    /// Nearest training images per test image (--exact-candidates).
    #[arg(long, default_value_t = 30)]
    pub k_train: usize,
    /// Nearest other test images per test image (--exact-candidates).
    #[arg(long, default_value_t = 10)]
    pub k_test: usize,
    /// With --exact-candidates: also learn a descriptor (the 32/64/256 CNN trained for this
    /// many epochs on the training labels and 1,800 planted copies, seed 0), add each test
    /// image's 20 nearest training and 10 nearest test images by it to the candidates,
    /// choose the weight of the aligned similarity in the learned score on the development
    /// half only, and report it beside the others with the planted copies it finds and its
    /// false pairs in 200,000 random same-class pairs.
    #[arg(long, requires = "exact_candidates", value_parser = clap::value_parser!(u64).range(1..))]
    pub learned_epochs: Option<u64>,
}

/// The compute device of the CNN studies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceArg {
    /// CUDA when built with it and a GPU is present, else the CPU.
    Auto,
    /// The CPU.
    Cpu,
    /// GPU 0 (needs the `cuda` feature).
    Cuda,
}

impl DeviceArg {
    /// The name `dupstudy_cnn::device::device` takes.
    pub fn name(self) -> &'static str {
        match self {
            DeviceArg::Auto => "auto",
            DeviceArg::Cpu => "cpu",
            DeviceArg::Cuda => "cuda",
        }
    }
}

/// A study name of the registry.
fn study_name(text: &str) -> Result<String, String> {
    dupstudy_study::find_study(text)
        .map(|s| s.name().to_string())
        .map_err(|e| e.to_string())
}

/// Flags of `cargo xtask reproduce` and `plan`. Every study flag overrides the profile's value.
#[derive(Debug, Args)]
pub struct ReproduceArgs {
    /// Defaults for every study: smoke, quick, paper or full.
    #[arg(long, default_value = "quick")]
    pub profile: Profile,
    /// Run only these studies (comma-separated names of the registry); default: all.
    #[arg(long, alias = "only", value_delimiter = ',', value_parser = study_name)]
    pub study: Vec<String>,
    /// Results folder; default `results/<profile>`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Number of seeds (0..N) per cell.
    #[arg(long)]
    pub seeds: Option<u64>,
    /// D-rates in percent, comma-separated (e.g. 0,10,20).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    pub d_rates: Option<Vec<f64>>,
    /// Each study's own flags.
    #[command(flatten)]
    pub study_flags: StudyFlags,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// CIFAR-10 folder or archive (default: $CIFAR10_DIR, then data/cifar-10-batches-bin).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// CIFAR studies: where the CNNs run (auto: CUDA when built with it and a GPU is
    /// present, else the CPU).
    #[arg(long, value_enum, default_value_t = DeviceArg::Auto)]
    pub device: DeviceArg,
    /// Never download CIFAR-10; skip the CIFAR studies if it is missing.
    #[arg(long)]
    pub offline: bool,
}

impl ReproduceArgs {
    /// The study flags as overrides of the profile.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            seeds: self.seeds,
            d_rates: self.d_rates.clone(),
            study: self.study_flags.clone(),
        }
    }
}

/// Flags of `cargo xtask submit`.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// Submit to Slurm (`sbatch`; the only scheduler supported).
    #[arg(long)]
    pub slurm: bool,
    /// The study, as for `reproduce` (the report job runs `reproduce` with these flags).
    #[command(flatten)]
    pub run: ReproduceArgs,
    /// CPUs per array task (each task's worker threads).
    #[arg(long, default_value_t = 1)]
    pub cpus_per_task: usize,
    /// GPUs per array task, requested as `--gres=gpu:N` (0: none, for CPU clusters).
    #[arg(long, default_value_t = 0)]
    pub gpus: usize,
    /// One more `sbatch` option for every job (repeatable), e.g. `--sbatch=--partition=long`.
    #[arg(long = "sbatch", allow_hyphen_values = true)]
    pub sbatch: Vec<String>,
    /// Print the `sbatch` commands instead of running them.
    #[arg(long)]
    pub dry_run: bool,
}

/// Flags of `cargo xtask report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The results folder (holding `plan.json` and the cells).
    #[arg(long)]
    pub out: PathBuf,
    /// Summarize only the cells finished so far into `<out>/PARTIAL.md` (each study's
    /// levels with intervals over the seeds present, no verdicts: the claims are judged on
    /// the whole plan only); REPORT.md, the summaries and the figures are left alone.
    #[arg(long)]
    pub partial: bool,
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
    /// Where the CNNs run.
    #[arg(long, value_enum, default_value_t = DeviceArg::Auto)]
    pub device: DeviceArg,
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

/// Flags of `cargo xtask audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// A CIFAR-10 folder or archive, or an image folder (`train/<class>/*.png|jpg` and
    /// `test/<class>/...`, or class folders at the root for one split).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Output folder (default `results/audit`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Near-duplicate threshold, in (0, 1]: on the learned score, or with --no-learned on
    /// the aligned similarity; both defaults were chosen on the development half of
    /// ciFAIR's labelled pairs (docs/audit.md).
    #[arg(long)]
    pub threshold: Option<f32>,
    /// Score pairs by the aligned similarity alone: no learned descriptor (the only way for
    /// images other than 32x32 or sets of more than 10 classes).
    #[arg(long)]
    pub no_learned: bool,
    /// Epochs of the learned descriptor's training (the 32/64/256 CNN on the set's
    /// training labels).
    #[arg(long, default_value_t = dupstudy_descriptor::DescriptorParams::default().epochs)]
    pub descriptor_epochs: u64,
    /// The folder holding ciFAIR's hand-labelled lists: when the data set is CIFAR-10 and
    /// the folder exists, the report gains the recall curve on both halves.
    #[arg(long, default_value = "fixtures/cifair")]
    pub labels: PathBuf,
    /// Planted copies per transformation for the validation (0: no validation).
    #[arg(long, default_value_t = 200)]
    pub validate: usize,
    /// Random same-class pairs aligned to estimate the false-pair rate.
    #[arg(long, default_value_t = 200_000)]
    pub random_pairs: usize,
    /// Seed of the candidate search, the planted copies and the random pairs.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}
