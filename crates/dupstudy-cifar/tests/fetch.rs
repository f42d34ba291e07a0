//! Downloading against a server on 127.0.0.1 run by the test: a good archive, a truncated
//! transfer, and a wrong checksum.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use dupstudy_cifar::dataset::{META_FILE, TEST_FILE, TRAIN_FILES};
use dupstudy_cifar::fetch::{ArchiveSource, fetch, md5_file};
use dupstudy_cifar::read::ARCHIVE_NAME;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dupstudy-fetch-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A small, valid archive built from the fixture.
fn small_archive(path: &Path) -> Vec<u8> {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/cifar");
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::fast(),
    );
    let mut tar = tar::Builder::new(gz);
    for name in TRAIN_FILES.iter().chain([&TEST_FILE, &META_FILE]) {
        tar.append_path_with_name(fixture.join(name), format!("cifar-10-batches-bin/{name}"))
            .unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap();
    std::fs::read(path).unwrap()
}

/// Serves `body` to one request per entry of `sends`, announcing `announced` bytes and
/// sending only that entry's count before closing; counts the requests it answered.
fn serve(body: Vec<u8>, announced: usize, sends: Vec<usize>) -> (String, Arc<AtomicUsize>) {
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/cifar-10-binary.tar.gz",
        listener.local_addr().unwrap()
    );
    std::thread::spawn(move || {
        for (stream, send) in listener.incoming().zip(sends) {
            let mut stream = stream.unwrap();
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                request.push(byte[0]);
            }
            let header = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/x-gzip\r\nContent-Length: {announced}\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.write_all(header.as_bytes());
            let _ = stream.write_all(&body[..send]);
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    (url, requests)
}

#[test]
fn good_archive_is_downloaded_verified_and_unpacked() {
    let dir = scratch("good");
    let body = small_archive(&dir.join("source.tar.gz"));
    let md5 = md5_file(&dir.join("source.tar.gz")).unwrap();
    let (url, requests) = serve(body.clone(), body.len(), vec![body.len()]);
    let dest = dir.join("data");
    let source = ArchiveSource {
        url,
        md5,
        size: body.len() as u64,
    };
    let folder = fetch(&source, &dest, 1).unwrap();
    assert_eq!(requests.load(Ordering::SeqCst), 1);
    assert!(folder.ends_with("cifar-10-batches-bin"));
    let data = dupstudy_cifar::load(&folder).unwrap();
    assert_eq!(data.train().len(), 20);
    // A second fetch finds the verified archive and does not download.
    assert!(fetch(&source, &dest, 1).is_ok());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn truncated_transfer_is_retried_then_reported_and_never_kept() {
    let dir = scratch("truncated");
    let body = small_archive(&dir.join("source.tar.gz"));
    let md5 = md5_file(&dir.join("source.tar.gz")).unwrap();
    let (url, requests) = serve(body.clone(), body.len(), vec![body.len() / 2; 2]);
    let dest = dir.join("data");
    let source = ArchiveSource {
        url: url.clone(),
        md5: md5.clone(),
        size: body.len() as u64,
    };
    let err = fetch(&source, &dest, 2).unwrap_err();
    assert!(err.to_string().contains(&url), "{err}");
    assert_eq!(
        requests.load(Ordering::SeqCst),
        2,
        "the second attempt was made"
    );
    assert!(!dest.join(ARCHIVE_NAME).exists());
    assert!(!dest.join("cifar-10-binary.tar.gz.part").exists());
    assert!(!dest.join("cifar-10-batches-bin").exists());
    // A truncated first transfer followed by a whole one: the retry succeeds.
    let (url, requests) = serve(body.clone(), body.len(), vec![body.len() / 3, body.len()]);
    let source = ArchiveSource {
        url,
        md5,
        size: body.len() as u64,
    };
    let folder = fetch(&source, &dest, 2).unwrap();
    assert_eq!(requests.load(Ordering::SeqCst), 2);
    assert_eq!(dupstudy_cifar::load(&folder).unwrap().train().len(), 20);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn wrong_checksum_is_reported_and_never_kept() {
    let dir = scratch("checksum");
    let body = small_archive(&dir.join("source.tar.gz"));
    let (url, _) = serve(body.clone(), body.len(), vec![body.len(); 2]);
    let dest = dir.join("data");
    let source = ArchiveSource {
        url,
        md5: "0".repeat(32),
        size: body.len() as u64,
    };
    let err = fetch(&source, &dest, 2).unwrap_err();
    assert!(err.to_string().contains("MD5"), "{err}");
    assert!(!dest.join(ARCHIVE_NAME).exists());
    assert!(std::fs::read_dir(&dest).map(|d| d.count()).unwrap_or(0) == 0);
    std::fs::remove_dir_all(dir).unwrap();
}
