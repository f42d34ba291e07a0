//! `cargo xtask cifar-info` on good and malformed data: exit status and messages.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/cifar")
}

fn broken_copy(name: &str, breaker: impl FnOnce(&Path)) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dupstudy-cli-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    for entry in fs::read_dir(fixture()).unwrap() {
        let path = entry.unwrap().path();
        fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    breaker(&dir);
    dir
}

/// A way to break a copy of the fixture.
type Breaker = Box<dyn FnOnce(&Path)>;

fn cifar_info(data_dir: &Path) -> (bool, String, String) {
    let out_dir = std::env::temp_dir().join(format!("dupstudy-cli-out-{}", std::process::id()));
    common::xtask([
        "cifar-info".as_ref(),
        "--data-dir".as_ref(),
        data_dir.as_os_str(),
        "--out".as_ref(),
        out_dir.as_os_str(),
    ])
}

#[test]
fn good_data_prints_counts() {
    let (ok, stdout, stderr) = cifar_info(&fixture());
    assert!(ok, "{stderr}");
    assert!(stdout.contains("truck"), "{stdout}");
    assert!(
        stdout.contains("first training labels: 0 1 2 3"),
        "{stdout}"
    );
}

#[test]
fn every_malformed_input_fails_naming_the_file() {
    let cases: Vec<(&str, Breaker, &str)> = vec![
        (
            "missing",
            Box::new(|d: &Path| fs::remove_file(d.join("data_batch_5.bin")).unwrap()),
            "data_batch_5.bin",
        ),
        (
            "truncated",
            Box::new(|d: &Path| {
                let p = d.join("data_batch_1.bin");
                let b = fs::read(&p).unwrap();
                fs::write(&p, &b[..b.len() - 1]).unwrap();
            }),
            "data_batch_1.bin",
        ),
        (
            "label",
            Box::new(|d: &Path| {
                let p = d.join("test_batch.bin");
                let mut b = fs::read(&p).unwrap();
                b[0] = 42;
                fs::write(&p, &b).unwrap();
            }),
            "test_batch.bin",
        ),
        (
            "meta",
            Box::new(|d: &Path| fs::write(d.join("batches.meta.txt"), "cat\ndog\n").unwrap()),
            "batches.meta.txt",
        ),
        (
            "archive",
            Box::new(|d: &Path| {
                for e in fs::read_dir(d).unwrap() {
                    fs::remove_file(e.unwrap().path()).unwrap();
                }
                fs::write(d.join("cifar-10-binary.tar.gz"), b"\x1f\x8b\x08garbage").unwrap();
            }),
            "cifar-10-binary.tar.gz",
        ),
    ];
    for (name, breaker, file) in cases {
        let dir = broken_copy(name, breaker);
        let (ok, _, stderr) = cifar_info(&dir);
        assert!(!ok, "{name}: expected failure");
        assert!(
            stderr.contains(file),
            "{name}: message does not name {file}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        fs::remove_dir_all(dir).unwrap();
    }
    let (ok, _, stderr) = cifar_info(Path::new("/nonexistent/cifar"));
    assert!(!ok && stderr.contains("/nonexistent/cifar"), "{stderr}");
}
