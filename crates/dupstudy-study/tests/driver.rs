//! The driver on a small synthetic CIFAR-format set: an interrupted cell resumes from its
//! checkpoint and trains only the epochs left, with the same result; two workers on one
//! results folder each compute cells and never the same one; a corrupt checkpoint is an
//! error naming its file.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};

use candle_core::Device;
use dupstudy_study::data::DataSet;
use dupstudy_study::progress::{Progress, Silent};
use dupstudy_study::studies::cifar::{self, CifarStudy, Context, Network, Plan, Setting, Variant};
use dupstudy_study::{CellIo, Env, Study, StudyError, driver};

fn data() -> Arc<DataSet> {
    let data = dupstudy_cifar::synthetic::learnable(400, 100, 30, 7).unwrap();
    Arc::new(DataSet::new(data))
}

fn setting(set: &DataSet, epochs: u64) -> Setting {
    Setting {
        network: Network::Standard,
        base_images: 96,
        test_images: 64,
        robust_test_images: 0,
        epochs,
        batch_size: 32,
        train_attack: None,
        eval_attack: None,
        data_sha256: set.sha256.clone(),
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dupstudy-driver-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn io<'a>(checkpoint: &'a std::path::Path, progress: &'a dyn Progress) -> CellIo<'a> {
    CellIo {
        checkpoint,
        progress,
    }
}

/// Counts the epochs a cell trains (the cell reports each finished one).
#[derive(Default)]
struct EpochCounter(AtomicUsize);

impl Progress for EpochCounter {
    fn set_length(&self, _: u64) {}
    fn set_position(&self, _: u64) {}
    fn inc(&self, _: u64) {}
    fn message(&self, _: &str) {}
    fn epoch_done(&self, _: u64, _: u64) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn an_interrupted_cell_resumes_and_trains_only_the_epochs_left() {
    let set = data();
    let plan =
        Plan::from_series(setting(&set, 3), &[(Variant::Uniform, vec![50.0], 1)], 400).unwrap();
    let cell = plan.cells.iter().find(|c| c.d_rate > 0.0).unwrap();
    let ctx = Context::new(set.data.clone(), Device::Cpu);
    let dir = scratch("resume");

    let full_counter = EpochCounter::default();
    let reference =
        cifar::run_cell(cell, &ctx, &io(&dir.join("reference"), &full_counter), None).unwrap();
    assert_eq!(full_counter.0.load(Ordering::SeqCst), 3);

    let checkpoint = dir.join("interrupted");
    let first = EpochCounter::default();
    match cifar::run_cell(cell, &ctx, &io(&checkpoint, &first), Some(1)) {
        Err(StudyError::Interrupted { epochs_done: 1, .. }) => {}
        other => panic!("expected an interruption after one epoch, got {other:?}"),
    }
    assert_eq!(first.0.load(Ordering::SeqCst), 1);
    assert!(
        checkpoint.join("state.json").is_file(),
        "the checkpoint stays"
    );

    let second = EpochCounter::default();
    let resumed = cifar::run_cell(cell, &ctx, &io(&checkpoint, &second), None).unwrap();
    assert_eq!(
        second.0.load(Ordering::SeqCst),
        2,
        "only the two epochs left are trained"
    );
    let strip = |r: &cifar::CellResult| {
        let mut r = r.clone();
        for e in &mut r.epochs {
            e.seconds = 0.0;
            e.images_per_s = 0.0;
        }
        r
    };
    assert_eq!(
        strip(&resumed.result),
        strip(&reference.result),
        "resuming changes no number"
    );
    assert_eq!(
        resumed.result.epochs.len(),
        3,
        "the history includes the epoch before the stop"
    );

    // A checkpoint whose history is garbage is an error naming it, not an empty history.
    let state = checkpoint.join("state.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    let bad = {
        let mut v = json.clone();
        v.as_object_mut()
            .unwrap()
            .iter_mut()
            .filter(|(k, _)| k.as_str() == "extra")
            .for_each(|(_, v)| *v = serde_json::json!({"epochs": "not a list", "seconds": 1.0}));
        v
    };
    assert_ne!(bad, json, "the checkpoint state has an `extra` field");
    json = bad;
    std::fs::write(&state, serde_json::to_vec(&json).unwrap()).unwrap();
    let err = cifar::run_cell(cell, &ctx, &io(&checkpoint, &Silent), None).unwrap_err();
    assert!(matches!(err, StudyError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("state.json"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

/// A worker's progress: at its first cell it waits until the other worker has started one
/// too, so that both hold a claim at the same time.
struct Rendezvous {
    barrier: Arc<Barrier>,
    met: Mutex<bool>,
}

impl Progress for Rendezvous {
    fn set_length(&self, _: u64) {}
    fn set_position(&self, _: u64) {}
    fn inc(&self, _: u64) {}
    fn message(&self, _: &str) {}
    fn child(&self, _: &str) -> Box<dyn Progress> {
        let mut met = self.met.lock().unwrap();
        if !*met {
            *met = true;
            self.barrier.wait();
        }
        Box::new(Silent)
    }
}

#[test]
fn two_workers_share_the_cells_and_each_computes_some() {
    let set = data();
    let plan = Plan::from_series(
        setting(&set, 1),
        &[
            (Variant::Uniform, vec![0.0, 25.0, 50.0], 1),
            (Variant::EqualSteps, vec![50.0], 1),
        ],
        400,
    )
    .unwrap();
    let study = CifarStudy::new(Network::Standard);
    let cells = study.cells(&plan);
    assert_eq!(cells.len(), 4);
    let out = scratch("workers");
    let barrier = Arc::new(Barrier::new(2));
    let worker = || {
        let (set, cells, out, barrier) = (set.clone(), cells.clone(), out.clone(), barrier.clone());
        std::thread::spawn(move || {
            let env = Env {
                data: Some(set.clone()),
                device: Device::Cpu,
                revision: "test".into(),
                out,
                progress: Arc::new(Silent),
            };
            let ctx = Context::new(set.data.clone(), Device::Cpu);
            let progress = Rendezvous {
                barrier,
                met: Mutex::new(false),
            };
            driver::run_cells(&study, &ctx, &cells, &env, &progress).unwrap()
        })
    };
    let (a, b) = (worker(), worker());
    let (a, b): (BTreeSet<String>, BTreeSet<String>) = (
        a.join().unwrap().into_iter().collect(),
        b.join().unwrap().into_iter().collect(),
    );
    assert!(
        !a.is_empty() && !b.is_empty(),
        "each worker computes a cell: {a:?} {b:?}"
    );
    assert!(a.is_disjoint(&b), "no cell computed twice");
    let all: BTreeSet<String> = cells.iter().map(|c| c.id().unwrap()).collect();
    assert_eq!(&a | &b, all);
    let summarized = driver::summarize(&study, &plan, &out).unwrap();
    assert!(!summarized.summary.claims.is_empty());
    // Every cell names the machine that computed it; a record from before machines were
    // kept counts apart.
    let here = dupstudy_study::manifest::Machine::this().describe();
    assert_eq!(summarized.machines, [(here.clone(), 4)].into());
    let first = out.join(format!(
        "cifar-standard/cells/{}.json",
        cells[0].id().unwrap()
    ));
    let stored = std::fs::read(&first).unwrap();
    let mut record: serde_json::Value = serde_json::from_slice(&stored).unwrap();
    record["machine"] = serde_json::Value::Null;
    std::fs::write(&first, serde_json::to_vec(&record).unwrap()).unwrap();
    let machines = driver::summarize(&study, &plan, &out).unwrap().machines;
    assert_eq!(
        machines,
        [(here, 3), ("machine not recorded".to_string(), 1)].into()
    );
    std::fs::write(&first, stored).unwrap();
    // With a cell gone, the full summary refuses and the partial one reads the other three.
    let gone = cells[1].id().unwrap();
    std::fs::remove_file(out.join(format!("cifar-standard/cells/{gone}.json"))).unwrap();
    assert!(driver::summarize(&study, &plan, &out).is_err());
    let partial = driver::summarize_finished(&study, &plan, &out).unwrap();
    assert_eq!((partial.finished, partial.total), (3, 4));
    let ids: Vec<String> = cells.iter().map(|c| c.id().unwrap()).collect();
    assert_eq!(
        partial
            .cells
            .iter()
            .map(|c| c.id.clone())
            .collect::<Vec<_>>(),
        ids,
        "every planned cell, in plan order"
    );
    for cell in &partial.cells {
        match &cell.ran {
            None => assert_eq!(cell.id, gone),
            Some(ran) => {
                assert_ne!(cell.id, gone);
                assert_eq!(ran.revision.as_deref(), Some("test"));
                assert!(ran.seconds > 0.0);
                assert!(ran.machine.is_some());
            }
        }
    }
    assert!(
        partial
            .table
            .rows
            .iter()
            .any(|r| (r.d_rate - 50.0).abs() < 1e-9)
    );
    assert!(
        partial
            .table
            .rows
            .iter()
            .all(|r| (r.d_rate - 25.0).abs() > 1e-9)
    );
    assert_eq!(
        partial.table.to_markdown().lines().count(),
        partial.table.rows.len() + 2
    );
    assert_eq!(
        summarized.revisions.into_iter().collect::<Vec<_>>(),
        ["test"]
    );
    // Nothing is left claimed.
    let claims = std::fs::read_dir(out.join("cifar-standard/cells"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".claim"))
        .count();
    assert_eq!(claims, 0);
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn summaries_refuse_missing_cells() {
    let set = data();
    let plan =
        Plan::from_series(setting(&set, 1), &[(Variant::Uniform, vec![0.0], 1)], 400).unwrap();
    let out = scratch("missing");
    let partial =
        driver::summarize_finished(&CifarStudy::new(Network::Standard), &plan, &out).unwrap();
    assert_eq!((partial.finished, partial.total), (0, 1));
    assert!(partial.table.rows.is_empty());
    match driver::summarize(&CifarStudy::new(Network::Standard), &plan, &out) {
        Err(StudyError::MissingCell { id, .. }) => {
            assert!(id.starts_with("cifar-standard-uniform-d0-s0-"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_registry_names_every_study() {
    let names: Vec<&str> = dupstudy_study::registry()
        .iter()
        .map(|s| s.name())
        .collect();
    assert_eq!(
        names,
        [
            "gaussian",
            "cifar-standard",
            "cifar-adversarial",
            "cifar-natural",
            "cifar-privacy"
        ]
    );
    match dupstudy_study::find_study("cifar") {
        Err(StudyError::UnknownStudy { known, .. }) => assert!(known.contains("cifar-standard")),
        other => panic!("{:?}", other.map(|s| s.name())),
    }
}

#[test]
fn the_driver_checks_what_every_study_shares() {
    use dupstudy_study::{Overrides, Profile, Request};
    let request = Request {
        profile: Profile::Smoke,
        overrides: Overrides {
            seeds: Some(0),
            ..Overrides::default()
        },
    };
    for study in dupstudy_study::registry() {
        match study.plan(&request, None) {
            Err(StudyError::InvalidParameter { flag, .. }) => assert_eq!(flag, "--seeds"),
            other => panic!("{}: {:?}", study.name(), other.map(|_| ())),
        }
    }
    let request = Request {
        profile: Profile::Smoke,
        overrides: Overrides::default(),
    };
    for study in dupstudy_study::registry() {
        let planned = study.plan(&request, None);
        if study.needs_cifar() {
            assert!(
                matches!(planned, Err(StudyError::DataUnavailable(ref what)) if what.contains(study.name())),
                "{}",
                study.name()
            );
        } else {
            assert!(planned.is_ok(), "{}", study.name());
        }
    }
}
