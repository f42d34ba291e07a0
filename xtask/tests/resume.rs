//! The study survives `kill -9` and shares work between concurrent workers (smoke profile,
//! CIFAR studies on a generated set in the official binary format, so these run anywhere).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A learnable CIFAR-format folder big enough for the smoke profile (500 training and 300
/// test records), written once per test run.
fn data_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("dupstudy-resume-data-{}", std::process::id()));
        let data = dupstudy_cifar::synthetic::learnable(500, 300, 40, 11).unwrap();
        dupstudy_cifar::synthetic::write_folder(&data, &dir).unwrap();
        dir
    })
    .clone()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dupstudy-resume-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn reproduce(out: &Path, study: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.args([
        "reproduce",
        "--profile",
        "smoke",
        "--offline",
        "--study",
        study,
        "--out",
    ])
    .arg(out)
    .arg("--data-dir")
    .arg(data_dir());
    cmd
}

/// Every cell record of a results folder, without its timing, by file name.
fn cells(out: &Path, study: &str) -> Vec<(String, serde_json::Value)> {
    let dir = out.join(study).join("cells");
    let mut records: Vec<(String, serde_json::Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let mut v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            v.as_object_mut().unwrap().remove("seconds");
            for epoch in v["epochs"].as_array_mut().unwrap() {
                let e = epoch.as_object_mut().unwrap();
                e.remove("seconds");
                e.remove("images_per_s");
            }
            (p.file_name().unwrap().to_string_lossy().into_owned(), v)
        })
        .collect();
    records.sort_by(|a, b| a.0.cmp(&b.0));
    records
}

#[test]
fn kill_minus_nine_loses_nothing_and_changes_nothing() {
    let reference = scratch("reference");
    let status = reproduce(&reference, "cifar-standard")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());

    let killed = scratch("killed");
    let mut child = reproduce(&killed, "cifar-standard")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it as soon as a checkpoint exists: in the middle of a cell.
    let deadline = Instant::now() + Duration::from_secs(120);
    let checkpoints = killed.join("checkpoints");
    loop {
        let has_checkpoint = std::fs::read_dir(&checkpoints)
            .map(|d| d.flatten().any(|e| e.path().join("state.json").is_file()))
            .unwrap_or(false);
        if has_checkpoint || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let partial = cells(&killed, "cifar-standard").len();
    let status = reproduce(&killed, "cifar-standard")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let (a, b) = (
        cells(&reference, "cifar-standard"),
        cells(&killed, "cifar-standard"),
    );
    assert!(
        partial < a.len(),
        "the kill must land before the end ({partial} of {} cells)",
        a.len()
    );
    assert_eq!(a.len(), b.len());
    for ((name_a, va), (name_b, vb)) in a.iter().zip(&b) {
        assert_eq!(name_a, name_b);
        assert_eq!(va, vb, "cell {name_a} differs after kill and resume");
    }
    assert!(killed.join("REPORT.md").is_file());
    let leftovers: Vec<_> = std::fs::read_dir(killed.join("cifar-standard/cells"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".claim"))
        .collect();
    assert!(leftovers.is_empty(), "claims left behind: {leftovers:?}");
    let _ = std::fs::remove_dir_all(reference);
    let _ = std::fs::remove_dir_all(killed);
}

#[test]
fn concurrent_workers_share_the_cells() {
    let out = scratch("workers");
    let spawn = || {
        reproduce(&out, "cifar-standard")
            .args(["--jobs", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let computed = |child: std::process::Child| -> BTreeSet<String> {
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        stderr
            .lines()
            .filter_map(|l| l.strip_prefix("computed "))
            .map(str::to_string)
            .collect()
    };
    let (by_a, by_b) = (computed(a), computed(b));
    assert!(
        by_a.is_disjoint(&by_b),
        "cells computed twice: {:?}",
        by_a.intersection(&by_b).collect::<Vec<_>>()
    );
    let all: BTreeSet<String> = cells(&out, "cifar-standard")
        .into_iter()
        .map(|(name, _)| name.trim_end_matches(".json").to_string())
        .collect();
    let union: BTreeSet<String> = by_a.union(&by_b).cloned().collect();
    assert_eq!(union, all);
    assert!(out.join("REPORT.md").is_file());
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn plan_and_run_cell_run_one_unit() {
    let out = scratch("plan");
    let plan = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "plan",
            "--profile",
            "smoke",
            "--offline",
            "--study",
            "cifar-adversarial",
            "--out",
        ])
        .arg(&out)
        .arg("--data-dir")
        .arg(data_dir())
        .output()
        .unwrap();
    assert!(
        plan.status.success(),
        "{}",
        String::from_utf8_lossy(&plan.stderr)
    );
    let ids: Vec<String> = String::from_utf8_lossy(&plan.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert!(
        ids.len() >= 4 && ids.iter().all(|i| i.starts_with("cifar-adversarial-")),
        "{ids:?}"
    );
    let run = |id: &str| {
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["run-cell", id, "--device", "cpu", "--out"])
            .arg(&out)
            .arg("--data-dir")
            .arg(data_dir())
            .output()
            .unwrap()
    };
    let first = run(&ids[0]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        out.join("cifar-adversarial/cells")
            .join(format!("{}.json", ids[0]))
            .is_file()
    );
    let again = run(&ids[0]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("already done"));
    let unknown = run("no-such-cell");
    assert!(!unknown.status.success());
    let _ = std::fs::remove_dir_all(out);
}

/// The verdict rows of a report (the table under `## Verdicts`).
fn verdict_rows(report: &str) -> Vec<String> {
    report
        .split("## Verdicts")
        .nth(1)
        .unwrap_or("")
        .lines()
        .skip_while(|l| !l.starts_with("| |"))
        .take_while(|l| l.starts_with('|'))
        .map(str::to_string)
        .collect()
}

#[test]
fn report_rerenders_the_same_verdicts_and_piped_output_is_plain() {
    let out = scratch("report");
    let run = reproduce(&out, "gaussian,cifar-adversarial")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    for stream in [&run.stdout, &run.stderr] {
        assert!(
            !stream.contains(&0x1b),
            "escape codes in piped output: {}",
            String::from_utf8_lossy(stream)
        );
    }
    let original = std::fs::read_to_string(out.join("REPORT.md")).unwrap();
    let rows = verdict_rows(&original);
    assert!(rows.len() > 10, "{rows:?}");

    // A copy elsewhere, without its report: `report` renders the same verdicts again.
    let copy = scratch("report-copy");
    copy_dir(&out, &copy);
    std::fs::remove_file(copy.join("REPORT.md")).unwrap();
    let report = |dir: &Path| {
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["report", "--out"])
            .arg(dir)
            .output()
            .unwrap()
    };
    let rendered = report(&copy);
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let again = std::fs::read_to_string(copy.join("REPORT.md")).unwrap();
    assert_eq!(verdict_rows(&again), rows);
    assert!(again.contains("Re-rendered from stored cells"));
    // Every cell from this code: no list of revisions.
    assert!(!again.contains("Cells computed by"), "{again}");

    // One cell from other code: the list names both revisions, this one too.
    let cells = copy.join("cifar-adversarial/cells");
    let first = std::fs::read_dir(&cells)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap();
    let mut record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&first).unwrap()).unwrap();
    let ours = record["revision"].as_str().unwrap().to_string();
    record["revision"] = "0123456789ab".into();
    std::fs::write(&first, serde_json::to_string(&record).unwrap()).unwrap();
    assert!(report(&copy).status.success());
    let mixed = std::fs::read_to_string(copy.join("REPORT.md")).unwrap();
    let by = mixed
        .lines()
        .find_map(|l| l.strip_prefix("- Cells computed by: "))
        .unwrap_or_else(|| panic!("no revisions line: {mixed}"));
    assert!(
        by.contains("`0123456789ab`") && by.contains(&format!("`{ours}`")),
        "{by}"
    );
    assert_eq!(verdict_rows(&mixed), rows);
    // The cells' own machine, counted: here every cell of the run.
    let machines = again
        .lines()
        .find_map(|l| l.strip_prefix("- Cells computed on: "))
        .unwrap_or_else(|| panic!("no machines line: {again}"));
    assert!(machines.ends_with(" cells"), "{machines}");
    assert!(copy.join("gaussian/gaussian_uniform_test.svg").is_file());

    // A missing cell: a clear refusal naming it, and no report written.
    std::fs::remove_file(copy.join("REPORT.md")).unwrap();
    let victim = std::fs::read_dir(&cells)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    std::fs::remove_file(&victim).unwrap();
    let refused = report(&copy);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    let id = victim.file_stem().unwrap().to_string_lossy();
    assert!(
        stderr.contains("missing") && stderr.contains(id.as_ref()),
        "{stderr}"
    );
    assert!(!copy.join("REPORT.md").exists());
    let _ = std::fs::remove_dir_all(out);
    let _ = std::fs::remove_dir_all(copy);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
