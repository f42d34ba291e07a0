//! The tool on a generated folder tree: every planted pair found and nothing else, every
//! bad file skipped with its reason, `drop.txt` exactly the surplus, the command line equal
//! to the library, and `index` + `query` of two halves equal to one `scan`.

#[path = "support/tree.rs"]
mod tree;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use dupaudit::collect::{self, ReadOptions};
use dupaudit::{Options, scan, store};
use dupstudy_audit::progress::Silent;

fn fresh(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dupaudit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rel(root: &Path, shown: &str) -> String {
    Path::new(shown)
        .strip_prefix(root)
        .unwrap_or(Path::new(shown))
        .to_string_lossy()
        .into_owned()
}

/// The pairs as sets of two relative paths.
fn pair_set(found: &dupaudit::Scan, root: &Path) -> BTreeSet<(String, String)> {
    let info = &found.collection.images.info;
    found
        .audit
        .pairs
        .iter()
        .map(|p| {
            let (a, b) = (rel(root, &info[p.a].path), rel(root, &info[p.b].path));
            (a.clone().min(b.clone()), a.max(b))
        })
        .collect()
}

fn scan_dir(dir: &Path) -> dupaudit::Scan {
    let (sets, outside) = collect::sets_of(dir).unwrap();
    let images = collect::read_sets(sets, outside, &ReadOptions::default(), &|_, _| {}).unwrap();
    scan::run(images, &Options::default(), &Silent).unwrap()
}

#[test]
fn a_generated_tree_gives_every_planted_pair_and_nothing_else() {
    let root = fresh("tree");
    let tree = tree::write(&root, 24);
    let found = scan_dir(&root);
    let expected: BTreeSet<(String, String)> = tree
        .planted
        .iter()
        .map(|(a, b)| (a.clone().min(b.clone()), a.clone().max(b.clone())))
        .collect();
    assert_eq!(pair_set(&found, &root), expected);
    assert_eq!(found.collection.len(), tree.images.len());
    let skipped: BTreeSet<String> = found
        .collection
        .skipped
        .iter()
        .map(|s| rel(&root, &s.path.to_string_lossy()))
        .collect();
    assert_eq!(skipped, tree.bad.iter().cloned().collect());
    let dropped: BTreeSet<String> = found
        .to_drop()
        .into_iter()
        .map(|i| rel(&root, &found.collection.images.info[i].path))
        .collect();
    assert_eq!(dropped, tree.surplus.iter().cloned().collect());

    // The command line writes the same pairs, and every output file.
    let out = root.with_extension("out");
    let status = Command::new(env!("CARGO_BIN_EXE_dupaudit"))
        .args([
            "scan",
            root.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    for file in [
        "pairs.csv",
        "groups.csv",
        "drop.txt",
        "skipped.csv",
        "summary.json",
        "REPORT.md",
        "gallery.html",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    let csv = std::fs::read_to_string(out.join("pairs.csv")).unwrap();
    assert_eq!(csv, dupaudit::outputs::pairs_csv(&found));
    let drop_txt = std::fs::read_to_string(out.join("drop.txt")).unwrap();
    assert_eq!(drop_txt.lines().count(), tree.surplus.len());
    let skipped_csv = std::fs::read_to_string(out.join("skipped.csv")).unwrap();
    assert!(skipped_csv.contains("empty file") && skipped_csv.contains("not an image"));
    let gallery = std::fs::read_to_string(out.join("gallery.html")).unwrap();
    assert_eq!(gallery.matches("<section>").count(), tree.planted.len());

    // --strict stops at the first bad file, naming it, and writes nothing.
    let strict_out = root.with_extension("strict");
    let output = Command::new(env!("CARGO_BIN_EXE_dupaudit"))
        .args(["scan", root.to_str().unwrap(), "--strict", "--out"])
        .arg(&strict_out)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("README.md"), "{stderr}");
    assert!(!strict_out.exists());
    for dir in [&root, &out] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn index_then_query_of_two_halves_finds_the_cross_half_pairs_of_one_scan() {
    let root = fresh("halves");
    tree::write(&root, 12);
    // Halves: the train set indexed, the test set queried; one scan sees both.
    let whole = scan_dir(&root);
    let info = &whole.collection.images.info;
    let cross: BTreeSet<(String, String)> = whole
        .audit
        .pairs
        .iter()
        .filter(|p| whole.collection.set_name(p.a) != whole.collection.set_name(p.b))
        .map(|p| {
            let (a, b) = (rel(&root, &info[p.a].path), rel(&root, &info[p.b].path));
            (a.clone().min(b.clone()), a.max(b))
        })
        .collect();
    assert!(!cross.is_empty());
    let (train, _) = collect::sets_of(&root.join("train")).unwrap();
    let indexed =
        collect::read_sets(train, Vec::new(), &ReadOptions::default(), &|_, _| {}).unwrap();
    let index_dir = root.with_extension("index");
    store::save(&index_dir, &indexed).unwrap();
    let stored = store::load(&index_dir).unwrap();
    assert_eq!(stored.images.pixels, indexed.images.pixels);
    let (test, _) = collect::sets_of(&root.join("test")).unwrap();
    let new = collect::read_sets(test, Vec::new(), &ReadOptions::default(), &|_, _| {}).unwrap();
    let queried = scan::query(stored, new, &Options::default(), &Silent).unwrap();
    let q = &queried.collection;
    let cross_q: BTreeSet<(String, String)> = queried
        .audit
        .pairs
        .iter()
        .filter(|p| q.set_name(p.a) != q.set_name(p.b))
        .map(|p| {
            let (a, b) = (
                rel(&root, &q.images.info[p.a].path),
                rel(&root, &q.images.info[p.b].path),
            );
            (a.clone().min(b.clone()), a.max(b))
        })
        .collect();
    assert_eq!(cross_q, cross);
    for dir in [&root, &index_dir] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn bad_arguments_are_named() {
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_dupaudit"))
            .args(args)
            .output()
            .unwrap();
        assert!(!o.status.success());
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    assert!(run(&["scan", "--out", "/tmp/x", "--set", "train"]).contains("NAME=DIR"));
    assert!(run(&["scan", "/no/such/folder", "--out", "/tmp/x"]).contains("/no/such/folder"));
    assert!(run(&["scan", ".", "--out", "/tmp/x", "--threshold", "1.5"]).contains("threshold"));
    let missing = run(&["query", ".", "--index", "/no/such/index", "--out", "/tmp/x"]);
    assert!(missing.contains("index.json"), "{missing}");
}

#[test]
fn scan_of_cifar_binaries_writes_the_pairs_and_groups_of_the_study_audit() {
    // The 24-record CIFAR-10 fixture with planted copies, so that there are pairs to write.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/cifar");
    let mut images = dupstudy_audit::images::load(&fixture).unwrap();
    dupstudy_audit::planted::plant(&mut images, 1, 7).unwrap();
    let f = dupstudy_audit::features::compute(&images);
    let study = dupstudy_audit::audit::run(
        &images,
        &f,
        &dupstudy_audit::AuditParams::with_threshold(dupstudy_audit::AuditParams::FIRST_THRESHOLD),
        &Silent,
    )
    .unwrap();
    assert!(!study.pairs.is_empty());
    let found = scan::run(
        collect::Collection::from_cifar(images.clone()),
        &Options::default(),
        &Silent,
    )
    .unwrap();
    assert_eq!(
        dupaudit::outputs::pairs_csv(&found),
        dupstudy_audit::output::pairs_csv(&images, &study.pairs)
    );
    assert_eq!(
        dupaudit::outputs::groups_csv(&found),
        dupstudy_audit::output::groups_csv(&images, &study.groups)
    );
}
