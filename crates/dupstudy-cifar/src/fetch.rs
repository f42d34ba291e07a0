//! Getting the data: download the official archive, verify it, unpack it.
//!
//! A download goes to `<archive>.part`, is checked for its exact size and MD5, and only
//! then renamed into place; a short, interrupted or corrupt download is retried and, if it
//! keeps failing, reported and deleted. It is never used.

use std::fs::{self, File};
use std::io::Read;
#[cfg(feature = "download")]
use std::io::Write;
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};

use crate::error::{CifarError, Result, io_error};
#[cfg(feature = "download")]
use crate::read::ARCHIVE_NAME;
use crate::read::FOLDER_NAME;

/// Where and what to download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveSource {
    /// The address.
    pub url: String,
    /// Expected MD5, lowercase hex.
    pub md5: String,
    /// Expected size in bytes.
    pub size: u64,
}

impl ArchiveSource {
    /// The official binary archive of CIFAR-10 (University of Toronto).
    pub fn official() -> Self {
        Self {
            url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz".into(),
            md5: "c32a1d4ab5d03f1284b67883e8d87530".into(),
            size: 170_052_171,
        }
    }
}

/// The MD5 of a file, lowercase hex.
///
/// # Errors
/// [`CifarError::Io`].
pub fn md5_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(io_error(path))?;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io_error(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks size and MD5 of `path` against `source`.
///
/// # Errors
/// [`CifarError::Download`] saying which check failed.
pub fn verify(path: &Path, source: &ArchiveSource) -> Result<()> {
    let len = fs::metadata(path).map_err(io_error(path))?.len();
    if len != source.size {
        return Err(CifarError::Download {
            url: source.url.clone(),
            message: format!(
                "{} has {len} bytes, expected {}",
                path.display(),
                source.size
            ),
        });
    }
    let md5 = md5_file(path)?;
    if md5 != source.md5 {
        return Err(CifarError::Download {
            url: source.url.clone(),
            message: format!("{} has MD5 {md5}, expected {}", path.display(), source.md5),
        });
    }
    Ok(())
}

/// Downloads `source` to `archive` unless a verified copy is already there, trying up to
/// `attempts` times. Returns `archive`.
///
/// # Errors
/// [`CifarError::Download`] after the last failed attempt (the partial file is deleted), or
/// [`CifarError::Io`].
#[cfg(feature = "download")]
pub fn download(source: &ArchiveSource, archive: &Path, attempts: usize) -> Result<PathBuf> {
    if archive.is_file() {
        match verify(archive, source) {
            Ok(()) => {
                tracing::info!(path = %archive.display(), "archive already present and verified");
                return Ok(archive.to_path_buf());
            }
            Err(e) => {
                tracing::warn!(%e, "existing archive does not verify; downloading again");
                fs::remove_file(archive).map_err(io_error(archive))?;
            }
        }
    }
    if let Some(dir) = archive.parent() {
        fs::create_dir_all(dir).map_err(io_error(dir))?;
    }
    let part = archive.with_extension("gz.part");
    let mut last = None;
    for attempt in 1..=attempts.max(1) {
        match download_once(source, &part).and_then(|()| verify(&part, source)) {
            Ok(()) => {
                fs::rename(&part, archive).map_err(io_error(archive))?;
                return Ok(archive.to_path_buf());
            }
            Err(e) => {
                tracing::warn!(attempt, %e, "download failed");
                let _ = fs::remove_file(&part);
                last = Some(e);
            }
        }
    }
    Err(last.unwrap_or_else(|| CifarError::Download {
        url: source.url.clone(),
        message: "no attempt was made".into(),
    }))
}

#[cfg(feature = "download")]
fn download_once(source: &ArchiveSource, part: &Path) -> Result<()> {
    let fail = |message: String| CifarError::Download {
        url: source.url.clone(),
        message,
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(std::time::Duration::from_secs(30)))
        .timeout_recv_body(Some(std::time::Duration::from_secs(1800)))
        .build()
        .into();
    let response = agent
        .get(&source.url)
        .call()
        .map_err(|e| fail(e.to_string()))?;
    let mut reader = response.into_body().into_reader();
    let mut file = File::create(part).map_err(io_error(part))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| fail(format!("interrupted after {total} bytes: {e}")))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > source.size {
            return Err(fail(format!(
                "more than the expected {} bytes",
                source.size
            )));
        }
        file.write_all(&buf[..n]).map_err(io_error(part))?;
    }
    file.sync_all().map_err(io_error(part))?;
    tracing::info!(bytes = total, "downloaded");
    Ok(())
}

/// Unpacks the archive's `cifar-10-batches-bin/` into `dest` and returns the folder. Only
/// regular files inside that folder are written (no absolute paths, no `..`).
///
/// # Errors
/// [`CifarError::Archive`] for a corrupt archive, [`CifarError::Io`].
pub fn unpack(archive: &Path, dest: &Path) -> Result<PathBuf> {
    let corrupt = |message: String| CifarError::Archive {
        path: archive.to_path_buf(),
        message,
    };
    let file = File::open(archive).map_err(io_error(archive))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)));
    let folder = dest.join(FOLDER_NAME);
    fs::create_dir_all(&folder).map_err(io_error(&folder))?;
    let mut written = 0;
    for entry in tar.entries().map_err(|e| corrupt(e.to_string()))? {
        let mut entry = entry.map_err(|e| corrupt(e.to_string()))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry
            .path()
            .map_err(|e| corrupt(e.to_string()))?
            .into_owned();
        let mut parts = path.components();
        let (
            Some(std::path::Component::Normal(top)),
            Some(std::path::Component::Normal(name)),
            None,
        ) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if top != FOLDER_NAME {
            continue;
        }
        let target = folder.join(name);
        let tmp = target.with_extension("tmp");
        let mut out = File::create(&tmp).map_err(io_error(&tmp))?;
        std::io::copy(&mut entry, &mut out)
            .map_err(|e| corrupt(format!("member {}: {e}", path.display())))?;
        out.sync_all().map_err(io_error(&tmp))?;
        fs::rename(&tmp, &target).map_err(io_error(&target))?;
        written += 1;
    }
    if written == 0 {
        return Err(corrupt(format!("no {FOLDER_NAME}/ member")));
    }
    Ok(folder)
}

/// Downloads (if needed), verifies and unpacks into `dest`; returns the data folder.
///
/// # Errors
/// As [`download`] and [`unpack`].
#[cfg(feature = "download")]
pub fn fetch(source: &ArchiveSource, dest: &Path, attempts: usize) -> Result<PathBuf> {
    let archive = download(source, &dest.join(ARCHIVE_NAME), attempts)?;
    unpack(&archive, dest)
}
