//! Fits the RBF SVM to a labelled CSV file and scores a test file, printing one JSON object.
//!
//! ```sh
//! cargo run --release -p dupstudy-svm --example fit_csv -- \
//!     --train TRAIN.csv --test TEST.csv --c 1 --gamma 0.5 [--tol 1e-3] [--threads N] \
//!     [--cache-mb 200] [--no-shrinking]
//! ```
//!
//! CSV: no header, the label (-1 or 1) first, then the features. Output fields:
//! `dual_objective`, `bias`, `n_sv`, `iterations`, `fit_seconds`, `test_accuracy`,
//! `predict_seconds` (and the settings).

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use dupstudy_svm::{Gamma, SvmParams};

/// Fit and score an RBF SVM on CSV files.
#[derive(Debug, Parser)]
struct Args {
    /// Training CSV.
    #[arg(long)]
    train: PathBuf,
    /// Test CSV.
    #[arg(long)]
    test: PathBuf,
    /// Box constraint C (> 0).
    #[arg(long, default_value_t = 1.0)]
    c: f64,
    /// Kernel width: a number > 0, `auto` or `scale`.
    #[arg(long, default_value = "scale")]
    gamma: String,
    /// Stopping tolerance.
    #[arg(long, default_value_t = 1e-3)]
    tol: f64,
    /// Threads: 0 for all cores, 1 for one.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Kernel cache budget, MB.
    #[arg(long, default_value_t = 200)]
    cache_mb: usize,
    /// Turn shrinking off.
    #[arg(long)]
    no_shrinking: bool,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let gamma =
        match args.gamma.as_str() {
            "auto" => Gamma::Auto,
            "scale" => Gamma::Scale,
            text => Gamma::Value(text.parse().map_err(|_| {
                format!("--gamma must be a number, `auto` or `scale`, got `{text}`")
            })?),
        };
    let svm = SvmParams::default()
        .c(args.c)
        .gamma(gamma)
        .tolerance(args.tol)
        .threads(args.threads)
        .cache_bytes(args.cache_mb * 1024 * 1024)
        .shrinking(!args.no_shrinking)
        .check()?;
    let (x, y) = dupstudy_svm::csv::read_csv(&args.train)?;
    let (tx, ty) = dupstudy_svm::csv::read_csv(&args.test)?;
    let start = Instant::now();
    let model = svm.fit(x.view(), &y)?;
    let fit_seconds = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let predicted = model.predict(tx.view())?;
    let predict_seconds = start.elapsed().as_secs_f64();
    let correct = predicted.iter().zip(&ty).filter(|(p, t)| p == t).count();
    let report = serde_json::json!({
        "dual_objective": model.dual_objective(),
        "bias": model.bias(),
        "n_sv": model.n_support(),
        "iterations": model.iterations(),
        "converged": model.converged(),
        "fit_seconds": fit_seconds,
        "test_accuracy": correct as f64 / ty.len() as f64,
        "predict_seconds": predict_seconds,
        "n_train": y.len(),
        "n_test": ty.len(),
        "gamma": model.gamma(),
        "c": args.c,
        "threads": args.threads,
        "instruction_set": dupstudy_svm::instruction_set(),
    });
    println!("{report}");
    Ok(())
}
