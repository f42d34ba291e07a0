//! `cargo xtask audit-recall --judged` (and `--natural-cells`) on small hand-made files:
//! the judgments counted at each threshold and model (a) recounted with every known twin.

mod common;

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

/// A fresh folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dupstudy-recall-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// One listed pair (test 3 - train 9), two unlisted ones (test 5 - train 6, judged the
/// same photo; test 8 - train 7, judged different).
fn write_inputs(dir: &Path) {
    let labels = dir.join("labels");
    fs::create_dir_all(&labels).unwrap();
    fs::write(
        labels.join("duplicates_cifar10.csv"),
        "TestID,TrainID,Distance,Judgment\n3,9,0.1,1\n",
    )
    .unwrap();
    fs::write(
        labels.join("duplicates_cifar10_test.csv"),
        "TestID,TrainID,Distance,Judgment\n",
    )
    .unwrap();
    fs::write(
        dir.join("pairs.csv"),
        "split_a,index_a,path_a,split_b,index_b,path_b,score,kind\n\
         train,9,,test,3,,0.9000,near\n\
         train,6,,test,5,,0.8800,near\n\
         train,7,,test,8,,0.8500,near\n",
    )
    .unwrap();
    fs::write(
        dir.join("judged.csv"),
        "test,train,score,source,rank,judgment\n5,6,0.880,a,1,same photo\n8,7,0.850,a,2,different\n",
    )
    .unwrap();
}

/// A natural-duplicates cell record of 12 test images whose partition flags test 5.
fn cell(arm: &str, seed: u64, correct: &str) -> String {
    format!(
        r#"{{"id":"c-{arm}-{seed}","spec":{{"arm":"{arm}","seed":{seed}}},"per_image":{{"correct":"{correct}","labels":"000000000000","twins":[5],"twin_groups":[0]}}}}"#
    )
}

fn recall(dir: &Path, extra: &[&str]) -> (bool, String, String) {
    let mut args: Vec<OsString> = vec!["audit-recall".into(), "--pairs".into()];
    args.push(dir.join("pairs.csv").into());
    args.push("--labels".into());
    args.push(dir.join("labels").into());
    args.extend(["--thresholds", "0.80,0.86", "--judged"].map(OsString::from));
    args.push(dir.join("judged.csv").into());
    args.extend(extra.iter().map(OsString::from));
    common::xtask(args)
}

#[test]
fn judgments_are_counted_at_each_threshold_and_twins_recounted() {
    let dir = scratch("judged");
    write_inputs(&dir);
    let cells = dir.join("cells");
    fs::create_dir_all(&cells).unwrap();
    // Seed 0: images 0, 1, 3 and 5 correct ("b" = bits 0, 1, 3 of digit 0; "2" = image 5).
    fs::write(cells.join("a0.json"), cell("full", 0, "b20")).unwrap();
    // Seed 1: images 0, 3 and 5 correct.
    fs::write(cells.join("a1.json"), cell("full", 1, "920")).unwrap();
    // Another arm: left out.
    fs::write(cells.join("b0.json"), cell("deduplicated", 0, "000")).unwrap();
    fs::write(cells.join("notes.txt"), "not a cell").unwrap();
    let cells_arg = cells.to_str().unwrap();
    let (ok, stdout, stderr) = recall(&dir, &["--natural-cells", cells_arg]);
    assert!(ok, "{stderr}");
    // At 0.86 only test 5 is unlisted and flagged (same photo); at 0.80 test 8 too.
    assert!(
        stdout.contains("| 0.860 | 1 | 1 | 0 | 0 | 0 | 2 |"),
        "{stdout}"
    );
    assert!(
        stdout.contains("| 0.800 | 2 | 1 | 0 | 1 | 0 | 2 |"),
        "{stdout}"
    );
    // Every known twin: 5 (the partition's and judged) and 3 (listed).
    assert!(stdout.contains("the partition's 1 twins"), "{stdout}");
    assert!(
        stdout.contains("2 in all (1 the partition does not flag)"),
        "{stdout}"
    );
    // Seed 0: whole 4/12; without test 5 3/11; without 3 and 5 2/10.
    assert!(
        stdout.contains("| 0 | 33.33 | +6.06 | +13.33 | 100.00 | 100.00 | 20.00 |"),
        "{stdout}"
    );
    // Seed 1: whole 3/12; without test 5 2/11; without 3 and 5 1/10.
    assert!(
        stdout.contains("| 1 | 25.00 | +6.82 | +15.00 | 100.00 | 100.00 | 10.00 |"),
        "{stdout}"
    );
    // The gap, (13.33 - 6.06 + 15.00 - 6.82) / 2 = 7.73.
    assert!(stdout.contains("partition's: +7.73 ["), "{stdout}");
}

#[test]
fn a_cell_without_per_image_results_is_named() {
    let dir = scratch("no-per-image");
    write_inputs(&dir);
    let cells = dir.join("cells");
    fs::create_dir_all(&cells).unwrap();
    fs::write(
        cells.join("old.json"),
        r#"{"spec":{"arm":"full","seed":0}}"#,
    )
    .unwrap();
    let (ok, _, stderr) = recall(&dir, &["--natural-cells", cells.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        stderr.contains("old.json") && stderr.contains("per-image"),
        "{stderr}"
    );
}

#[test]
fn a_bad_judged_file_is_named_with_its_line() {
    let dir = scratch("bad-judged");
    write_inputs(&dir);
    fs::write(
        dir.join("judged.csv"),
        "test,train,score,source,rank,judgment\n5,6,0.880,a,1,probably\n",
    )
    .unwrap();
    let (ok, _, stderr) = recall(&dir, &[]);
    assert!(!ok);
    assert!(
        stderr.contains("judged.csv") && stderr.contains("line 2"),
        "{stderr}"
    );
}
