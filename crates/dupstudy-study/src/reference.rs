//! Runs of the same protocol in another framework (PyTorch), stored beside a study's cells
//! so that the report can put their accuracy next to ours.
//!
//! Each run is one JSON file in `<results>/<study>/reference/` (written by
//! `scripts/torch_paper_standard.py`); the report lists every run and compares their mean
//! with our D-rate-0 cells of the same protocol.

use std::path::Path;

use dupstudy_metrics::Summary;
use serde::{Deserialize, Serialize};

use crate::error::{Result, StudyError};
use crate::store::read_json;
use crate::table::Table;

/// One reference training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceRun {
    /// The framework and its version, e.g. `PyTorch 2.15.0 (CPU)`.
    pub framework: String,
    /// The script that made it.
    pub script: String,
    /// The run's seed.
    pub seed: u64,
    /// Training images per epoch.
    pub train_images: usize,
    /// Epochs.
    pub epochs: u64,
    /// Images per batch.
    pub batch_size: usize,
    /// Test images evaluated.
    pub test_images: usize,
    /// Clean test accuracy in `[0, 1]`.
    pub test_accuracy: f64,
    /// Wall time of training and evaluation, seconds.
    pub seconds: f64,
    /// The CPU it ran on.
    pub cpu: String,
    /// Content hash of the data files it read, as the cells record it (`Setting::data_sha256`).
    pub data_sha256: String,
}

/// Every reference run stored under `dir` (sorted by file name; none if `dir` is absent).
///
/// # Errors
/// A file that cannot be read or parsed, naming it.
pub fn load(dir: &Path) -> Result<Vec<ReferenceRun>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(StudyError::io(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| read_json(p, "reference run (scripts/torch_paper_standard.py)"))
        .collect()
}

/// The report's paragraph on `runs` beside our `study`'s D-rate-0 clean test accuracy (from
/// its summary `table`), or `None` without runs.
pub fn section_text(runs: &[ReferenceRun], table: &Table) -> Option<String> {
    let first = runs.first()?;
    let mut text = format!(
        "**Reference: the same protocol in {}** (`{}`; {} training images, {} epochs, batch {}, \
         the same data files; one run per seed):\n\n\
         | framework | seed | test accuracy | wall time | CPU |\n|---|---:|---:|---:|---|\n",
        first.framework, first.script, first.train_images, first.epochs, first.batch_size
    );
    for r in runs {
        text.push_str(&format!(
            "| {} | {} | {:.2} % | {} | {} |\n",
            r.framework,
            r.seed,
            100.0 * r.test_accuracy,
            crate::report::human_duration(r.seconds),
            r.cpu
        ));
    }
    let accuracies: Vec<f64> = runs.iter().map(|r| 100.0 * r.test_accuracy).collect();
    let theirs = Summary::of(&accuracies).ok()?;
    let ours = table.rows.iter().find(|row| {
        row.series == "uniform"
            && row.d_rate == 0.0
            && row.arm == "value"
            && row.metric == "test_accuracy"
    });
    let interval = |lo: f64, hi: f64, n: usize| {
        if n > 1 {
            format!(" [{lo:.2}, {hi:.2}]")
        } else {
            String::new()
        }
    };
    text.push_str(&format!(
        "\nMean over {} reference runs: {:.2} %{}.",
        theirs.n,
        theirs.mean,
        interval(theirs.ci_low(), theirs.ci_high(), theirs.n)
    ));
    match ours {
        Some(row) => {
            let e = &row.estimate;
            let (lo, hi) = e.interval.unwrap_or((e.mean, e.mean));
            text.push_str(&format!(
                " Ours at D-rate 0: {:.2} %{} over {} seeds; difference {:+.2} points.\n",
                100.0 * e.mean,
                interval(100.0 * lo, 100.0 * hi, e.n),
                e.n,
                100.0 * e.mean - theirs.mean
            ));
        }
        None => text.push_str(" No D-rate-0 cell of ours to compare with yet.\n"),
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{Row, Statistic};

    fn run(seed: u64, accuracy: f64) -> ReferenceRun {
        ReferenceRun {
            framework: "PyTorch 2.15.0 (CPU)".into(),
            script: "scripts/torch_paper_standard.py".into(),
            seed,
            train_images: 50_000,
            epochs: 30,
            batch_size: 128,
            test_images: 10_000,
            test_accuracy: accuracy,
            seconds: 600.0,
            cpu: "test CPU".into(),
            data_sha256: "abc".into(),
        }
    }

    #[test]
    fn reads_runs_and_refuses_a_broken_file() {
        let dir = std::env::temp_dir().join(format!("dupstudy-ref-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(load(&dir.join("absent")).unwrap().is_empty());
        for (name, r) in [("b.json", run(1, 0.7)), ("a.json", run(0, 0.72))] {
            std::fs::write(dir.join(name), serde_json::to_vec(&r).unwrap()).unwrap();
        }
        let runs = load(&dir).unwrap();
        assert_eq!(runs.iter().map(|r| r.seed).collect::<Vec<_>>(), [0, 1]);
        std::fs::write(dir.join("c.json"), b"{\"framework\": 1}").unwrap();
        let err = load(&dir).unwrap_err().to_string();
        assert!(err.contains("c.json"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn compares_the_mean_with_our_d_rate_zero_cells() {
        let runs = [run(0, 0.70), run(1, 0.72)];
        let mut table = Table::default();
        assert!(
            section_text(&runs, &table)
                .unwrap()
                .contains("No D-rate-0 cell")
        );
        table.push(Row {
            study: "cifar-standard",
            series: "uniform".into(),
            d_rate: 0.0,
            arm: "value",
            evaluation: "test",
            metric: "test_accuracy",
            estimate: Statistic {
                n: 3,
                mean: 0.7150,
                std: Some(0.01),
                interval: Some((0.69, 0.74)),
            },
        });
        let text = section_text(&runs, &table).unwrap();
        assert!(
            text.contains("Mean over 2 reference runs: 71.00 %"),
            "{text}"
        );
        assert!(
            text.contains("Ours at D-rate 0: 71.50 % [69.00, 74.00] over 3 seeds"),
            "{text}"
        );
        assert!(text.contains("difference +0.50 points"), "{text}");
        assert!(section_text(&[], &table).is_none());
    }
}
