//! The run manifest: what produced a results folder.

use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

/// Everything needed to tell how a results folder was made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Profile name.
    pub profile: String,
    /// The command line.
    pub command: Vec<String>,
    /// `git describe`-like revision of the workspace, with `-dirty` when it has changes.
    pub git_revision: String,
    /// Seconds since the Unix epoch when the run started.
    pub started_unix: u64,
    /// Seconds the run took (filled in at the end).
    #[serde(default)]
    pub wall_seconds: Option<f64>,
    /// Seconds the run was estimated to take at its start, for the work not yet done then.
    pub estimated_seconds: f64,
    /// Where it ran.
    pub device: Device,
    /// Versions of the crates that computed the results.
    pub crates: Vec<(String, String)>,
    /// The studies' configurations.
    pub configuration: serde_json::Value,
    /// Data sets used, with checksums.
    pub data: serde_json::Value,
}

/// The machine.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Device {
    /// CPU model.
    pub cpu: String,
    /// The CPU's vector extensions that the numeric kernels choose between at run time
    /// (the CNN's GEMMs can round differently on different ones, so bit-identical CNN
    /// results need the same list).
    pub vector_extensions: Vec<String>,
    /// Logical cores available.
    pub cores: usize,
    /// Worker threads used.
    pub threads: usize,
    /// The compute device of the CNN studies.
    pub compute: String,
}

/// The workspace's git revision, or `unknown` outside a checkout; `-dirty` when a tracked file
/// outside `docs/` and `results/` has uncommitted changes.
pub fn git_revision(root: &Path) -> String {
    let run = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "--short=12", "HEAD"]) {
        Some(rev) => {
            // Published results (docs/) and results folders are outputs, not code: a run
            // that rewrites them is still a run of the committed code.
            let dirty = run(&[
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ".",
                ":(exclude)docs",
                ":(exclude)results",
            ])
            .is_some_and(|s| !s.is_empty());
            if dirty { format!("{rev}-dirty") } else { rev }
        }
        None => "unknown".to_string(),
    }
}

/// The CPU model from `/proc/cpuinfo`, or `unknown`.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// The vector extensions of this CPU that matter for the numeric kernels, widest first.
pub fn vector_extensions() -> Vec<String> {
    let mut found = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        let checks: [(&str, bool); 5] = [
            ("avx512f", std::arch::is_x86_feature_detected!("avx512f")),
            ("avx2", std::arch::is_x86_feature_detected!("avx2")),
            ("fma", std::arch::is_x86_feature_detected!("fma")),
            ("avx", std::arch::is_x86_feature_detected!("avx")),
            ("sse4.1", std::arch::is_x86_feature_detected!("sse4.1")),
        ];
        found.extend(
            checks
                .iter()
                .filter(|(_, has)| *has)
                .map(|(name, _)| name.to_string()),
        );
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            found.push("neon".to_string());
        }
    }
    found
}

/// Versions of the workspace crates and of the external crates that matter for results,
/// read from `Cargo.lock`.
pub fn crate_versions(root: &Path) -> Vec<(String, String)> {
    let mut out = vec![(
        "dupstudy".to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    )];
    if let Ok(lock) = std::fs::read_to_string(root.join("Cargo.lock")) {
        let mut name: Option<String> = None;
        for line in lock.lines() {
            if let Some(n) = line.strip_prefix("name = ") {
                name = Some(n.trim_matches('"').to_string());
            } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), name.take())
                && [
                    "candle-core",
                    "candle-nn",
                    "rand",
                    "rand_chacha",
                    "rand_distr",
                    "gemm",
                ]
                .contains(&n.as_str())
            {
                out.push((n, v.trim_matches('"').to_string()));
            }
        }
    }
    out
}
