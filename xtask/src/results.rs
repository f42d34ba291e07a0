//! Results on disk: atomic writes, one file per finished cell, cell ids derived from their
//! configuration, and claims so that several workers can share one results folder.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a
/// reader (or a rerun after `kill -9`) sees either the old file or the whole new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path
        .parent()
        .with_context(|| format!("{} has no parent folder", path.display()))?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{} has no file name", path.display()))?;
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| -> Result<()> {
        let mut file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        file.write_all(bytes)
            .with_context(|| format!("writing {}", tmp.display()))?;
        file.sync_all()
            .with_context(|| format!("syncing {}", tmp.display()))?;
        fs::rename(&tmp, path)
            .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Serializes `value` as pretty JSON and writes it atomically.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value)?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// A short, stable id for a configuration: the first 12 hex digits of the SHA-256 of its
/// JSON form. Any change to the configuration gives a new id, so a rerun never mixes
/// results of different settings.
pub fn config_hash<T: Serialize>(config: &T) -> Result<String> {
    let json = serde_json::to_vec(config)?;
    let digest = Sha256::digest(&json);
    Ok(digest[..6].iter().map(|b| format!("{b:02x}")).collect())
}

/// One folder of finished cells, each `<id>.json`.
#[derive(Debug, Clone)]
pub struct CellStore {
    dir: PathBuf,
}

/// A claim on a cell by this process: `<id>.claim` created with `create_new`, removed when
/// the guard drops (also after an error). A claim left by a killed process is stale; see
/// [`CellStore::try_claim`].
#[derive(Debug)]
pub struct Claim {
    path: PathBuf,
}

impl Drop for Claim {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

impl CellStore {
    /// Opens (creating) the folder.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self { dir })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where cell `id` is stored.
    pub fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Whether cell `id` is finished.
    pub fn is_done(&self, id: &str) -> bool {
        self.path(id).is_file()
    }

    /// Loads finished cell `id`; `None` if it is not finished.
    ///
    /// # Errors
    /// A cell file that exists but cannot be read or parsed; the message names the file and
    /// says to delete it to recompute that cell.
    pub fn load<T: DeserializeOwned>(&self, id: &str) -> Result<Option<T>> {
        let path = self.path(id);
        if !path.is_file() {
            return Ok(None);
        }
        let bytes = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let value = serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "cell file {} is not a valid result; delete it to recompute that cell",
                path.display()
            )
        })?;
        Ok(Some(value))
    }

    /// Stores finished cell `id` atomically.
    pub fn save<T: Serialize>(&self, id: &str, value: &T) -> Result<()> {
        write_json_atomic(&self.path(id), value)
    }

    /// Claims cell `id` for this process, or returns `None` if another live worker holds it.
    /// A claim whose process (same host) no longer runs is taken over.
    pub fn try_claim(&self, id: &str) -> Result<Option<Claim>> {
        let path = self.dir.join(format!("{id}.claim"));
        for _ in 0..2 {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut file) => {
                    writeln!(file, "{} {}", hostname(), std::process::id())?;
                    return Ok(Some(Claim { path }));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if claim_is_stale(&path) {
                        let _ = fs::remove_file(&path);
                        continue;
                    }
                    return Ok(None);
                }
                Err(e) => return Err(e).with_context(|| format!("claiming {}", path.display())),
            }
        }
        Ok(None)
    }
}

/// This machine's name (for claims), or `unknown`.
pub fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string())
}

/// A claim is stale when it was made on this host by a process that is gone. Claims from
/// other hosts are trusted (a cluster job that died leaves its claim; delete it by hand).
fn claim_is_stale(path: &Path) -> bool {
    let Ok(text) = fs::read_to_string(path) else {
        return false;
    };
    let mut parts = text.split_whitespace();
    let (Some(host), Some(pid)) = (parts.next(), parts.next()) else {
        // Being written right now, or garbage: give the writer the benefit of the doubt.
        return false;
    };
    host == hostname() && !Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir =
            std::env::temp_dir().join(format!("dupstudy-xtask-atomic-{}", std::process::id()));
        let path = dir.join("a.json");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        let leftovers = fs::read_dir(&dir).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary files stay behind");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn claims_exclude_each_other_and_expire_with_their_process() {
        let dir = std::env::temp_dir().join(format!("dupstudy-xtask-claim-{}", std::process::id()));
        let store = CellStore::open(&dir).unwrap();
        let first = store.try_claim("cell").unwrap();
        assert!(first.is_some());
        assert!(store.try_claim("cell").unwrap().is_none());
        drop(first);
        assert!(store.try_claim("cell").unwrap().is_some());
        // A claim by a process that no longer exists is taken over.
        fs::write(
            dir.join("dead.claim"),
            format!("{} 4294967295\n", hostname()),
        )
        .unwrap();
        assert!(store.try_claim("dead").unwrap().is_some());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn config_hash_depends_on_every_field() {
        let a = config_hash(&("gaussian", 1, 0.5)).unwrap();
        let b = config_hash(&("gaussian", 1, 0.6)).unwrap();
        assert_eq!(a.len(), 12);
        assert_ne!(a, b);
        assert_eq!(a, config_hash(&("gaussian", 1, 0.5)).unwrap());
    }
}
