//! Reading: the fixture, the archive, the real data set, and every malformed input.

use std::fs;
use std::path::{Path, PathBuf};

use dupstudy_cifar::dataset::{META_FILE, TEST_FILE, TRAIN_FILES};
use dupstudy_cifar::read::{load_archive, load_folder};
use dupstudy_cifar::{CifarError, IMAGE_BYTES, RECORD_BYTES, synthetic};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/cifar")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dupstudy-cifar-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// A copy of the fixture folder that a test may break.
fn fixture_copy(name: &str) -> PathBuf {
    let dir = scratch(name);
    for entry in fs::read_dir(fixture_dir()).unwrap() {
        let path = entry.unwrap().path();
        fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    dir
}

/// A `.tar.gz` of `files` under `cifar-10-batches-bin/`.
fn make_archive(path: &Path, files: &[(&str, Vec<u8>)]) {
    let gz =
        flate2::write::GzEncoder::new(fs::File::create(path).unwrap(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (name, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(
            &mut header,
            format!("cifar-10-batches-bin/{name}"),
            bytes.as_slice(),
        )
        .unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap();
}

fn fixture_files() -> Vec<(&'static str, Vec<u8>)> {
    TRAIN_FILES
        .iter()
        .chain([&TEST_FILE, &META_FILE])
        .map(|name| (*name, fs::read(fixture_dir().join(name)).unwrap()))
        .collect()
}

#[test]
fn fixture_matches_its_generator() {
    for (k, name) in TRAIN_FILES.iter().chain([&TEST_FILE]).enumerate() {
        let bytes = fs::read(fixture_dir().join(name)).unwrap();
        assert_eq!(
            bytes,
            synthetic::records(k * 4, 4),
            "{name} differs from its generator"
        );
    }
    assert_eq!(
        fs::read_to_string(fixture_dir().join(META_FILE)).unwrap(),
        synthetic::meta()
    );
}

#[test]
fn fixture_reads_in_order() {
    let data = dupstudy_cifar::load(&fixture_dir()).unwrap();
    assert_eq!(data.train().len(), 20);
    assert_eq!(data.test().len(), 4);
    assert_eq!(data.class_names()[9], "truck");
    let labels: Vec<u8> = data.train().labels().to_vec();
    assert_eq!(labels, (0..20).map(|i| (i % 10) as u8).collect::<Vec<_>>());
    // Record 21 (test record 1), channel 2, y 3, x 4.
    let image = data.test().image(1).unwrap();
    assert_eq!(
        image[2 * 1024 + 3 * 32 + 4],
        ((17 * 21 + 61 * 2 + 3 * 3 + 5 * 4) % 256) as u8
    );
    assert!(matches!(
        data.test().image(4),
        Err(CifarError::IndexOutOfRange { index: 4, len: 4 })
    ));
}

#[test]
fn archive_reads_like_the_folder() {
    let dir = scratch("archive");
    let archive = dir.join("cifar-10-binary.tar.gz");
    make_archive(&archive, &fixture_files());
    let from_archive = load_archive(&archive).unwrap();
    let from_folder = load_folder(&fixture_dir()).unwrap();
    assert_eq!(from_archive.pixels(), from_folder.pixels());
    assert_eq!(from_archive.labels(), from_folder.labels());
    // `load` finds the archive inside a folder too.
    assert_eq!(
        dupstudy_cifar::load(&dir).unwrap().labels(),
        from_folder.labels()
    );
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn missing_file_is_named() {
    let dir = fixture_copy("missing");
    fs::remove_file(dir.join("data_batch_3.bin")).unwrap();
    let err = dupstudy_cifar::load(&dir).unwrap_err();
    assert!(
        matches!(&err, CifarError::MissingFile { path } if path.ends_with("data_batch_3.bin")),
        "{err}"
    );
    assert!(err.to_string().contains("data_batch_3.bin"));
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn partial_record_is_named() {
    let dir = fixture_copy("truncated");
    let path = dir.join("data_batch_2.bin");
    let bytes = fs::read(&path).unwrap();
    fs::write(&path, &bytes[..bytes.len() - 100]).unwrap();
    let err = dupstudy_cifar::load(&dir).unwrap_err();
    match &err {
        CifarError::Truncated {
            path,
            records,
            remainder,
            ..
        } => {
            assert!(path.ends_with("data_batch_2.bin"));
            assert_eq!((*records, *remainder), (3, (RECORD_BYTES - 100) as u64));
        }
        other => panic!("unexpected {other}"),
    }
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn label_above_nine_is_named_with_its_record() {
    let dir = fixture_copy("label");
    let path = dir.join("test_batch.bin");
    let mut bytes = fs::read(&path).unwrap();
    bytes[2 * RECORD_BYTES] = 10;
    fs::write(&path, &bytes).unwrap();
    let err = dupstudy_cifar::load(&dir).unwrap_err();
    assert!(
        matches!(&err, CifarError::BadLabel { path, record: 2, label: 10 } if path.ends_with("test_batch.bin")),
        "{err}"
    );
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn meta_with_wrong_class_count_is_named() {
    let dir = fixture_copy("meta");
    fs::write(dir.join(META_FILE), "airplane\nautomobile\n\nbird\n").unwrap();
    let err = dupstudy_cifar::load(&dir).unwrap_err();
    assert!(
        matches!(&err, CifarError::MetaClassCount { found: 3, path } if path.ends_with(META_FILE)),
        "{err}"
    );
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn corrupt_truncated_or_incomplete_archives_are_named() {
    let dir = scratch("bad-archives");
    // Not gzip at all.
    let garbage = dir.join("garbage.tar.gz");
    fs::write(&garbage, b"this is not an archive").unwrap();
    let err = load_archive(&garbage).unwrap_err();
    assert!(
        matches!(&err, CifarError::Archive { path, .. } if path == &garbage),
        "{err}"
    );
    // A valid archive cut in half.
    let good = dir.join("good.tar.gz");
    make_archive(&good, &fixture_files());
    let bytes = fs::read(&good).unwrap();
    let cut = dir.join("cut.tar.gz");
    fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = load_archive(&cut).unwrap_err();
    assert!(
        matches!(&err, CifarError::Archive { path, .. } if path == &cut),
        "{err}"
    );
    // A member missing.
    let incomplete = dir.join("incomplete.tar.gz");
    let mut files = fixture_files();
    files.retain(|(name, _)| *name != "data_batch_4.bin");
    make_archive(&incomplete, &files);
    let err = load_archive(&incomplete).unwrap_err();
    assert!(err.to_string().contains("data_batch_4.bin"), "{err}");
    // A bad record inside the archive names archive and member.
    let mut files = fixture_files();
    files[0].1[0] = 200;
    let bad_label = dir.join("bad-label.tar.gz");
    make_archive(&bad_label, &files);
    let err = load_archive(&bad_label).unwrap_err();
    assert!(
        err.to_string().contains("bad-label.tar.gz")
            && err.to_string().contains("data_batch_1.bin"),
        "{err}"
    );
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn locate_prefers_the_explicit_path_and_names_a_missing_one() {
    let root = scratch("locate");
    let explicit = fixture_dir();
    assert_eq!(
        dupstudy_cifar::locate(Some(&explicit), &root).unwrap(),
        explicit
    );
    let missing = root.join("nowhere");
    assert!(matches!(
        dupstudy_cifar::locate(Some(&missing), &root),
        Err(CifarError::MissingFile { path }) if path == missing
    ));
    // With nothing given (and CIFAR10_DIR unset) the workspace's data/ folder is used.
    if std::env::var_os("CIFAR10_DIR").is_none() {
        assert!(matches!(
            dupstudy_cifar::locate(None, &root),
            Err(CifarError::NotFound { .. })
        ));
        fs::create_dir_all(root.join("data/cifar-10-batches-bin")).unwrap();
        assert_eq!(
            dupstudy_cifar::locate(None, &root).unwrap(),
            root.join("data/cifar-10-batches-bin")
        );
    }
    fs::remove_dir_all(root).unwrap();
}

/// The shared stand-in (or the original data) where available; skipped without it, except
/// under CI, which always provides it.
fn real_data_dir() -> Option<PathBuf> {
    let dir =
        dupstudy_cifar::real_data_for_tests(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
            .expect("CI must provide CIFAR-10 (CIFAR10_DIR or ../shared/cifar-10-jpeg)");
    if dir.is_none() {
        eprintln!("skipping: no CIFAR-10 beside the workspace and CIFAR10_DIR unset");
    }
    dir
}

#[test]
fn real_data_set_has_the_official_shape() {
    let Some(dir) = real_data_dir() else { return };
    let data = dupstudy_cifar::load(&dir).unwrap();
    assert_eq!(data.train().len(), 50_000);
    assert_eq!(data.test().len(), 10_000);
    assert_eq!(data.train().class_counts(), [5_000; 10]);
    assert_eq!(data.test().class_counts(), [1_000; 10]);
    assert_eq!(data.train().labels()[..10], [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]);
    assert_eq!(data.test().labels()[..10], [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]);
    assert_eq!(data.pixels().len(), 60_000 * IMAGE_BYTES);
    assert_eq!(data.class_names()[0], "airplane");
}
