//! `cargo xtask`: the dupstudy command layer (matklad's cargo-xtask pattern). One binary,
//! one module per command, over the `dupstudy-study` library; `.cargo/config.toml` aliases
//! it so it always runs optimized.
//!
//! - `cargo xtask reproduce [--profile smoke|quick|paper|full] [--study ...]`: the study.
//! - `cargo xtask report --out DIR`: re-render a results folder's report from its cells.
//! - `cargo xtask plan [...]` and `cargo xtask run-cell ID --out DIR`: the matrix as
//!   independent units, for clusters; `cargo xtask submit --slurm [...]` submits them.
//! - `cargo xtask fetch-cifar [--dest DIR]`, `cargo xtask cifar-info [--data-dir DIR]`.

mod audit;
mod bars;
mod cifar_tools;
mod flags;
mod plot;
mod reproduce;
mod submit;

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Result;
use clap::Parser;

use crate::flags::{Cli, Command};

fn main() -> Result<()> {
    // Training steps reuse their large buffers instead of faulting in fresh pages, and
    // candle's idle workers sleep instead of taking a core from the kernels' threads.
    dupstudy_cnn::alloc::keep_freed_memory();
    // SAFETY: the first thing `main` does: no other thread runs yet.
    #[allow(unsafe_code)]
    unsafe {
        dupstudy_cnn::alloc::park_idle_candle_workers();
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let root = workspace_root();
    match cli.command {
        Command::Reproduce(args) => reproduce::run(&args, &root),
        Command::Report(args) => reproduce::report(&args, &root),
        Command::Plan(args) => reproduce::plan(&args, &root),
        Command::RunCell(args) => reproduce::run_cell(&args, &root),
        Command::Submit(args) => submit::run(&args, &root),
        Command::FetchCifar(args) => cifar_tools::fetch(&args, &root),
        Command::CifarInfo(args) => cifar_tools::info(&args, &root),
        Command::Audit(args) => audit::run(&args, &root),
        Command::AuditRecall(args) => audit::recall(&args, &root),
    }
}

/// The workspace root: the parent of this crate's folder at build time, or the current
/// folder if that no longer exists (a copied binary).
fn workspace_root() -> PathBuf {
    let built = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    match built.parent() {
        Some(root) if root.join("Cargo.toml").is_file() => root.to_path_buf(),
        _ => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
    }
}
