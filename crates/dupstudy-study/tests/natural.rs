//! The natural-duplicates study on a generated CIFAR-format set with planted duplicates:
//! the audit's partition finds exactly what was planted, the three training lists have the
//! sizes and D-rates they should, a resumed run reuses the stored audit, records of two
//! different audits are refused, and every claim builder reaches its outcomes on records
//! made by hand.

// The values compared exactly are ones the test itself wrote (a sentinel, an exact zero).
#![allow(clippy::float_cmp)]

use std::f64::consts::PI;
use std::path::PathBuf;
use std::sync::Arc;

use candle_core::Device;
use dupstudy_cifar::synthetic::CLASS_NAMES;
use dupstudy_cifar::{Cifar10, IMAGE_BYTES};
use dupstudy_metrics::ConfusionMatrix;
use dupstudy_study::claims::Verdict;
use dupstudy_study::data::DataSet;
use dupstudy_study::progress::Silent;
use dupstudy_study::store::CellRecord;
use dupstudy_study::studies::StudyFlags;
use dupstudy_study::studies::natural::{
    self, Arm, CellResult, MIN_TWINS, NaturalStudy, Partition, Plan,
};
use dupstudy_study::{AnyStudy, Env, Overrides, Profile, Request, Study, StudyError, driver};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const TRAIN: usize = 600;
const TEST: usize = 200;

/// A random image: a colour per channel, eight random waves and pixel noise (different
/// images share no structure the audit could align).
fn image(rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut out = vec![0u8; IMAGE_BYTES];
    let waves: Vec<(f64, f64, f64, f64)> = (0..8)
        .map(|_| {
            (
                rng.random_range(-6.0..6.0),
                rng.random_range(-6.0..6.0),
                rng.random_range(0.0..2.0 * PI),
                rng.random_range(10.0..30.0),
            )
        })
        .collect();
    for c in 0..3 {
        let base: f64 = rng.random_range(60.0..190.0);
        for y in 0..32 {
            for x in 0..32 {
                let (fy, fx) = (y as f64 / 32.0, x as f64 / 32.0);
                let v: f64 = waves
                    .iter()
                    .enumerate()
                    .map(|(k, &(a, b, phase, amp))| {
                        let sign = if (k + c) % 2 == 0 { 1.0 } else { -0.7 };
                        sign * amp * (2.0 * PI * (a * fx + b * fy) + phase).sin()
                    })
                    .sum();
                let noise: f64 = rng.random_range(-25.0..25.0);
                out[c * 1024 + y * 32 + x] = (base + v + noise).clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

/// The planted duplicates: `(training copy, its original)` within the training split and
/// `(test image, its training original)` across the splits.
struct Planted {
    within_train: Vec<(usize, usize)>,
    twins: Vec<(usize, usize)>,
}

fn planted() -> Planted {
    Planted {
        // Ten pairs and one group of three (images 40, 560 and 561).
        within_train: (0..10)
            .map(|k| (550 + k, k))
            .chain([(560, 40), (561, 40)])
            .collect(),
        // Forty test images whose twin is a training image.
        twins: (0..40).map(|k| (k, 100 + k)).collect(),
    }
}

fn data() -> Arc<DataSet> {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let n = TRAIN + TEST;
    let mut pixels: Vec<u8> = (0..n).flat_map(|_| image(&mut rng)).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    let mut labels = labels;
    let p = planted();
    let mut copy = |to: usize, from: usize| {
        let src = pixels[from * IMAGE_BYTES..(from + 1) * IMAGE_BYTES].to_vec();
        pixels[to * IMAGE_BYTES..(to + 1) * IMAGE_BYTES].copy_from_slice(&src);
        labels[to] = labels[from];
    };
    for &(to, from) in &p.within_train {
        copy(to, from);
    }
    for &(test, from) in &p.twins {
        copy(TRAIN + test, from);
    }
    let names = CLASS_NAMES.iter().map(|s| s.to_string()).collect();
    let data = Cifar10::from_memory(pixels, labels, TRAIN, names).unwrap();
    Arc::new(DataSet::new(data))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dupstudy-natural-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn request(seeds: u64) -> Request {
    Request {
        profile: Profile::Smoke,
        overrides: Overrides {
            seeds: Some(seeds),
            study: StudyFlags {
                cnn: dupstudy_study::studies::cnn::flags::Flags {
                    epochs: Some(1),
                    train_subset: Some(TRAIN),
                },
                ..StudyFlags::default()
            },
            ..Overrides::default()
        },
    }
}

fn env(set: &Arc<DataSet>, out: PathBuf) -> Env {
    Env {
        data: Some(set.clone()),
        device: Device::Cpu,
        revision: "test".into(),
        out,
        progress: Arc::new(Silent),
    }
}

#[test]
fn the_partition_finds_what_was_planted_and_the_lists_follow_it() {
    let set = data();
    let plan = Study::plan(&NaturalStudy, &request(2), Some(&set)).unwrap();
    assert_eq!(
        plan.setting.test_pool, TEST,
        "the test pool is capped at the split"
    );
    let out = scratch("partition");
    let ctx = NaturalStudy
        .context(&plan, &env(&set, out.clone()))
        .unwrap();
    let p = ctx.partition();
    let mut groups: Vec<Vec<usize>> = (0..10).map(|k| vec![k, 550 + k]).collect();
    groups.push(vec![40, 560, 561]);
    groups.sort();
    assert_eq!(p.train_groups, groups);
    let mut cut: Vec<usize> = (550..562).collect();
    cut.sort_unstable();
    assert_eq!(p.cut, cut, "every member after the first of each group");
    assert_eq!(p.twins, (0..40).collect::<Vec<_>>());

    let full = p.training_list(Arm::Full, 0);
    let dedup = p.training_list(Arm::Deduplicated, 0);
    let random = p.training_list(Arm::RandomRemoval, 0);
    assert_eq!(full.len(), TRAIN);
    assert_eq!(dedup.len(), TRAIN - 12);
    assert_eq!(random.len(), TRAIN - 12);
    assert_ne!(random, dedup);
    assert_eq!(random, p.training_list(Arm::RandomRemoval, 0), "seeded");
    assert_ne!(random, p.training_list(Arm::RandomRemoval, 1));
    assert!((p.d_rate_of(&full) - 12.0 / TRAIN as f64).abs() < 1e-12);
    assert_eq!(p.d_rate_of(&dedup), 0.0);

    // The audit's own files are there, and a second context reads the stored partition.
    let dir = natural::audit_dir(&out);
    for file in [
        "pairs.csv",
        "groups.csv",
        "summary.json",
        "REPORT.md",
        "partition.json",
    ] {
        assert!(dir.join(file).is_file(), "{file}");
    }
    let path = dir.join("partition.json");
    let mut stored: Partition = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    stored.seconds = 12345.0;
    std::fs::write(&path, serde_json::to_vec(&stored).unwrap()).unwrap();
    let again = NaturalStudy
        .context(&plan, &env(&set, out.clone()))
        .unwrap();
    assert_eq!(
        again.partition().seconds,
        12345.0,
        "read, not audited again"
    );
    // Another pool is audited again.
    let mut smaller = plan.clone();
    smaller.setting.train_pool = 500;
    let other = NaturalStudy
        .context(&smaller, &env(&set, out.clone()))
        .unwrap();
    assert_eq!(other.partition().key.train_pool, 500);
    assert_eq!(other.partition().cut, Vec::<usize>::new());
    // A damaged partition file is an error naming it.
    std::fs::write(&path, b"{").unwrap();
    match Study::context(&NaturalStudy, &plan, &env(&set, out.clone())) {
        Err(StudyError::Corrupt { path: named, .. }) => assert_eq!(named, path),
        other => panic!("{:?}", other.map(|_| ())),
    }
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn the_study_runs_end_to_end_and_refuses_mixed_audits() {
    let set = data();
    let request = request(2);
    let json = AnyStudy::plan(&NaturalStudy, &request, Some(&set)).unwrap();
    let out = scratch("run");
    let computed = AnyStudy::run(&NaturalStudy, &json, &env(&set, out.clone()), None, &Silent)
        .unwrap()
        .unwrap();
    assert_eq!(computed.len(), 6, "3 arms x 2 seeds");
    let summarized = AnyStudy::summarize(&NaturalStudy, &json, &out).unwrap();
    let ids: Vec<&str> = summarized
        .summary
        .claims
        .iter()
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(ids, ["N-dups", "N-leak", "N-twins"]);
    let twins = &summarized.summary.claims[2];
    assert!(
        twins.ours.contains("bootstrap over 2 seeds") && twins.ours.contains("twin groups"),
        "cells keep per-image results, so N-twins resamples groups: {}",
        twins.ours
    );
    assert!(
        twins.corrected.is_some(),
        "N-twins is primary: Holm applies"
    );
    for c in &summarized.summary.claims {
        assert!(
            !matches!(c.verdict, Verdict::NotTested(_)),
            "{} judged: {:?}",
            c.id,
            c.verdict
        );
    }
    let table = &summarized.summary.table;
    let value = |series: &str, evaluation: &str, metric: &str, arm: &str| {
        table
            .rows
            .iter()
            .find(|r| {
                r.series == series
                    && r.evaluation == evaluation
                    && r.metric == metric
                    && r.arm == arm
            })
            .map(|r| r.estimate.mean)
            .unwrap()
    };
    // Whole-test accuracy is the weighted mean of its two parts.
    let (whole, without, twins) = (
        value("full", "test", "accuracy", "value"),
        value("full", "test_without_twins", "accuracy", "value"),
        value("full", "test_twins", "accuracy", "value"),
    );
    let expected = (without * (TEST - 40) as f64 + twins * 40.0) / TEST as f64;
    assert!((whole - expected).abs() < 1e-9, "{whole} vs {expected}");
    assert!(
        (value("full", "test", "leakage_inflation", "value") - (whole - without)).abs() < 1e-12
    );
    let text = summarized.summary.section.render();
    assert!(
        text.contains("12 training images beyond one per duplicate group"),
        "{text}"
    );
    assert!(text.contains("40 test images"), "{text}");

    // A cell computed from another audit is refused by name.
    let study = NaturalStudy;
    let plan: Plan = serde_json::from_value(json.clone()).unwrap();
    let cell = &study.cells(&plan)[1];
    let id = study.cell_id(cell).unwrap();
    let path = out.join("cifar-natural/cells").join(format!("{id}.json"));
    let mut record: CellRecord<natural::CellSpec, CellResult> =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    record.result.partition = "0000000000000000".into();
    std::fs::write(&path, serde_json::to_vec(&record).unwrap()).unwrap();
    match driver::summarize(&study, &plan, &out) {
        Err(StudyError::Cell { id: named, message }) => {
            assert_eq!(named, id);
            assert!(message.contains("audit partition"), "{message}");
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn bad_plans_name_their_flag() {
    let set = data();
    // `--seeds 0` is refused by the driver for every study (tests/driver.rs).
    let mut r = request(1);
    r.overrides.study.cnn.train_subset = Some(TRAIN + 1);
    match Study::plan(&NaturalStudy, &r, Some(&set)) {
        Err(StudyError::InvalidParameter { flag, message }) => {
            assert_eq!(flag, "--train-subset");
            assert!(message.contains("2..=600"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    r.overrides.study.cnn.train_subset = Some(TRAIN);
    r.overrides.study.cnn.epochs = Some(0);
    match Study::plan(&NaturalStudy, &r, Some(&set)) {
        Err(StudyError::InvalidParameter { flag, .. }) => assert_eq!(flag, "--epochs"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Study::plan(&NaturalStudy, &request(1), None),
        Err(StudyError::DataUnavailable(_))
    ));
}

/// A matrix of `n` images of which `right` are classified correctly (class 0 truth).
fn matrix(n: u64, right: u64) -> ConfusionMatrix {
    let mut counts = vec![0u64; 100];
    counts[0] = right;
    counts[1] = n - right;
    ConfusionMatrix::from_counts(10, counts).unwrap()
}

/// Records of every cell of a plan with `seeds` seeds: accuracy without twins from
/// `acc(arm, seed)`, twins (`n_twins` of 1,000 test images) at `twin_acc`.
fn records(
    seeds: u64,
    n_twins: u64,
    twin_acc: f64,
    acc: impl Fn(Arm, u64) -> f64,
) -> (Plan, Vec<CellRecord<natural::CellSpec, CellResult>>) {
    let set = data();
    let plan = Study::plan(&NaturalStudy, &request(seeds), Some(&set)).unwrap();
    let records = plan
        .cells()
        .into_iter()
        .map(|cell| {
            let others = 1000 - n_twins;
            let without = matrix(
                others,
                (acc(cell.arm, cell.seed) * others as f64).round() as u64,
            );
            let twins = matrix(n_twins, (twin_acc * n_twins as f64).round() as u64);
            let mut whole = without.counts().to_vec();
            for (w, t) in whole.iter_mut().zip(twins.counts()) {
                *w += t;
            }
            CellRecord {
                id: cell.id().unwrap(),
                spec: cell.clone(),
                result: CellResult {
                    train_list: 100,
                    removed: if cell.arm == Arm::Full { 0 } else { 5 },
                    natural_d_rate: 0.0,
                    steps: 1,
                    epochs: Vec::new(),
                    test: ConfusionMatrix::from_counts(10, whole).unwrap(),
                    test_without_twins: without,
                    test_twins: twins,
                    partition: "p".into(),
                    per_image: None,
                },
                seconds: 1.0,
                device: None,
                revision: None,
                machine: None,
            }
        })
        .collect();
    (plan, records)
}

fn verdicts(plan: &Plan, records: &[CellRecord<natural::CellSpec, CellResult>]) -> Vec<Verdict> {
    Study::summarize(&NaturalStudy, plan, records)
        .unwrap()
        .claims
        .into_iter()
        .map(|c| c.verdict)
        .collect()
}

#[test]
fn every_claim_reaches_its_outcomes() {
    let jitter = |seed: u64| [0.0, 0.002, -0.002, 0.001][seed as usize];
    // Duplicates change nothing; twins are classified far better.
    let (plan, recs) = records(4, 100, 0.95, |_, s| 0.70 + jitter(s));
    assert_eq!(
        verdicts(&plan, &recs),
        [Verdict::Holds, Verdict::Holds, Verdict::Holds]
    );
    // Deduplicating costs 5 points; twins are classified worse.
    let (plan, recs) = records(4, 100, 0.40, |arm, s| {
        0.70 + jitter(s) - if arm == Arm::Deduplicated { 0.05 } else { 0.0 }
    });
    assert_eq!(
        verdicts(&plan, &recs),
        [
            Verdict::DoesNotHold,
            Verdict::DoesNotHold,
            Verdict::DoesNotHold
        ]
    );
    // Wide seed-to-seed swings: no verdict on the bounded change.
    let (plan, recs) = records(4, 100, 0.70, |arm, s| {
        let swing = [0.0, 0.06, -0.05, 0.03][s as usize];
        0.70 + if arm == Arm::Deduplicated { swing } else { 0.0 }
    });
    let v = verdicts(&plan, &recs);
    assert_eq!(v[0], Verdict::Inconclusive);
    // Too few twins to judge the twin advantage; one seed judges nothing.
    let (plan, recs) = records(4, (MIN_TWINS - 1) as u64, 0.95, |_, s| 0.70 + jitter(s));
    assert!(matches!(verdicts(&plan, &recs)[2], Verdict::NotTested(_)));
    let (plan, recs) = records(1, 100, 0.95, |_, _| 0.70);
    assert!(
        verdicts(&plan, &recs)
            .iter()
            .all(|v| matches!(v, Verdict::NotTested(_)))
    );
}
