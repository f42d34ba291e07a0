//! Results on disk: atomic writes, one file per finished cell, cell ids derived from their
//! configuration, and claims so that several workers can share one results folder.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::error::{Result, StudyError};

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a
/// reader (or a rerun after `kill -9`) sees either the old file or the whole new one.
///
/// # Errors
/// [`StudyError::Io`] naming the file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(StudyError::io(dir))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| -> Result<()> {
        let mut file = File::create(&tmp).map_err(StudyError::io(&tmp))?;
        file.write_all(bytes).map_err(StudyError::io(&tmp))?;
        file.sync_all().map_err(StudyError::io(&tmp))?;
        fs::rename(&tmp, path).map_err(StudyError::io(path))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Serializes `value` as pretty JSON and writes it atomically.
///
/// # Errors
/// [`StudyError::Io`] naming the file.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|source| StudyError::Serialize {
        what: "a results file",
        source,
    })?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// Reads and parses a JSON file that holds `what`.
///
/// # Errors
/// [`StudyError::Io`] or [`StudyError::Corrupt`] naming the file.
pub fn read_json<T: DeserializeOwned>(path: &Path, what: &'static str) -> Result<T> {
    let bytes = fs::read(path).map_err(StudyError::io(path))?;
    serde_json::from_slice(&bytes).map_err(|source| StudyError::Corrupt {
        path: path.to_path_buf(),
        what,
        source,
    })
}

/// The JSON a cell id is hashed from: `{"study": <name>, ...the cell's fields}` (a cell's
/// fields include its study's version, bumped when a change alters what a cell computes).
#[derive(Serialize)]
struct Tagged<'a, C> {
    study: &'a str,
    #[serde(flatten)]
    spec: &'a C,
}

/// A cell's id: `<study>-<label>-<12 hex digits of the SHA-256 of {"study": study, ...cell}>`,
/// readable and unique to the whole configuration.
///
/// # Errors
/// Serialization of the cell.
pub fn cell_id<C: Serialize>(study: &str, label: &str, cell: &C) -> Result<String> {
    let hash = config_hash(&Tagged { study, spec: cell })?;
    Ok(format!("{study}-{label}-{hash}"))
}

/// A short, stable id for a configuration: the first 12 hex digits of the SHA-256 of its
/// JSON form. Any change to the configuration gives a new id, so a rerun never mixes
/// results of different settings.
///
/// # Errors
/// [`StudyError::Serialize`] if the value cannot be serialized.
pub fn config_hash<T: Serialize>(config: &T) -> Result<String> {
    let json = serde_json::to_vec(config).map_err(|source| StudyError::Serialize {
        what: "a cell configuration",
        source,
    })?;
    let digest = Sha256::digest(&json);
    Ok(digest[..6].iter().map(|b| format!("{b:02x}")).collect())
}

/// A finished cell as stored in `cells/<id>.json`: the id, the cell's configuration, the
/// study's result fields (flattened, so records written before this type existed stay
/// readable), the compute time and where and by which code revision it ran.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct CellRecord<C, R> {
    /// The cell id.
    pub id: String,
    /// Its configuration.
    pub spec: C,
    /// What the cell computed.
    #[serde(flatten)]
    pub result: R,
    /// Wall time of the cell in seconds (including any earlier run it resumed).
    pub seconds: f64,
    /// The compute device, when the study records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The code revision that computed it (absent in records from before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// The CPU that computed it (absent in records from before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<crate::manifest::Machine>,
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
    ///
    /// # Errors
    /// [`StudyError::Io`] if it cannot be created.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(StudyError::io(&dir))?;
        Ok(Self { dir })
    }

    /// The folder, without creating it (for reading a results folder that may lack it).
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
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
    /// A cell file that exists but cannot be read or parsed ([`StudyError::Corrupt`] names
    /// the file and says to delete it to recompute that cell).
    pub fn load<T: DeserializeOwned>(&self, id: &str) -> Result<Option<T>> {
        let path = self.path(id);
        if !path.is_file() {
            return Ok(None);
        }
        read_json(&path, "cell record").map(Some)
    }

    /// Loads finished cell `id`, which must be there.
    ///
    /// # Errors
    /// [`StudyError::MissingCell`], or as [`CellStore::load`].
    pub fn require<T: DeserializeOwned>(&self, id: &str) -> Result<T> {
        self.load(id)?.ok_or_else(|| StudyError::MissingCell {
            id: id.to_string(),
            dir: self.dir.clone(),
        })
    }

    /// Stores finished cell `id` atomically.
    ///
    /// # Errors
    /// [`StudyError::Io`].
    pub fn save<T: Serialize>(&self, id: &str, value: &T) -> Result<()> {
        write_json_atomic(&self.path(id), value)
    }

    /// Claims cell `id` for this process, or returns `None` if another live worker holds it.
    /// A claim whose process (same host) no longer runs is taken over.
    ///
    /// # Errors
    /// [`StudyError::Io`] other than the claim existing.
    pub fn try_claim(&self, id: &str) -> Result<Option<Claim>> {
        let path = self.dir.join(format!("{id}.claim"));
        for _ in 0..2 {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut file) => {
                    writeln!(file, "{} {}", hostname(), std::process::id())
                        .map_err(StudyError::io(&path))?;
                    return Ok(Some(Claim { path }));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if claim_is_stale(&path) {
                        let _ = fs::remove_file(&path);
                        continue;
                    }
                    return Ok(None);
                }
                Err(e) => return Err(StudyError::io(&path)(e)),
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

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("dupstudy-store-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = scratch("atomic");
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
        let dir = scratch("claim");
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
        // A live process's claim (this one's) is not.
        fs::write(
            dir.join("live.claim"),
            format!("{} {}\n", hostname(), std::process::id()),
        )
        .unwrap();
        assert!(store.try_claim("live").unwrap().is_none());
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

    #[test]
    fn records_round_trip_and_corrupt_ones_are_named() {
        #[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
        struct Out {
            accuracy: f64,
        }
        let dir = scratch("records");
        let store = CellStore::open(&dir).unwrap();
        let record = CellRecord {
            id: "c".to_string(),
            spec: 7u32,
            result: Out { accuracy: 0.5 },
            seconds: 1.5,
            device: None,
            revision: Some("abc".into()),
            machine: None,
        };
        store.save("c", &record).unwrap();
        let text = fs::read_to_string(store.path("c")).unwrap();
        assert!(
            text.contains("\"accuracy\": 0.5"),
            "result fields are flattened: {text}"
        );
        assert_eq!(store.require::<CellRecord<u32, Out>>("c").unwrap(), record);
        assert!(matches!(
            store.require::<CellRecord<u32, Out>>("absent"),
            Err(StudyError::MissingCell { .. })
        ));
        fs::write(store.path("bad"), b"{ not json").unwrap();
        let err = store.load::<CellRecord<u32, Out>>("bad").unwrap_err();
        assert!(err.to_string().contains("bad.json"), "{err}");
        fs::remove_dir_all(dir).unwrap();
    }
}
