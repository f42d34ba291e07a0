//! Reading the official binary format, from a folder or straight from the archive.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::dataset::{
    Cifar10, IMAGE_BYTES, META_FILE, N_CLASSES, RECORD_BYTES, TEST_FILE, TRAIN_FILES,
};
use crate::error::{CifarError, Result, io_error};

/// The archive's file name.
pub const ARCHIVE_NAME: &str = "cifar-10-binary.tar.gz";
/// The folder the archive unpacks to.
pub const FOLDER_NAME: &str = "cifar-10-batches-bin";

/// Appends the records in `bytes` (read from `path`) to `pixels` and `labels`, checking the
/// length and every label. Returns the number of records.
///
/// # Errors
/// [`CifarError::Truncated`] or [`CifarError::BadLabel`], naming `path`.
pub fn parse_records(
    path: &Path,
    bytes: &[u8],
    pixels: &mut Vec<u8>,
    labels: &mut Vec<u8>,
) -> Result<usize> {
    let len = bytes.len() as u64;
    let record = RECORD_BYTES as u64;
    if !len.is_multiple_of(record) {
        return Err(CifarError::Truncated {
            path: path.to_path_buf(),
            len,
            records: len / record,
            remainder: len % record,
        });
    }
    let n = bytes.len() / RECORD_BYTES;
    pixels.reserve(n * IMAGE_BYTES);
    labels.reserve(n);
    for (i, rec) in bytes.chunks_exact(RECORD_BYTES).enumerate() {
        let label = rec[0];
        if usize::from(label) >= N_CLASSES {
            return Err(CifarError::BadLabel {
                path: path.to_path_buf(),
                record: i,
                label,
            });
        }
        labels.push(label);
        pixels.extend_from_slice(&rec[1..]);
    }
    Ok(n)
}

/// Parses the meta file: exactly ten non-empty lines.
///
/// # Errors
/// [`CifarError::MetaClassCount`].
pub fn parse_meta(path: &Path, text: &str) -> Result<Vec<String>> {
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if names.len() != N_CLASSES {
        return Err(CifarError::MetaClassCount {
            path: path.to_path_buf(),
            found: names.len(),
        });
    }
    Ok(names)
}

/// Opens `path`, reporting a missing file as [`CifarError::MissingFile`].
fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => CifarError::MissingFile {
            path: path.to_path_buf(),
        },
        _ => CifarError::Io {
            path: path.to_path_buf(),
            source: e,
        },
    })
}

fn read_file(path: &Path, buf: &mut Vec<u8>) -> Result<()> {
    buf.clear();
    let mut file = open(path)?;
    let len = file.metadata().map_err(io_error(path))?.len();
    buf.reserve(len as usize);
    file.read_to_end(buf).map_err(io_error(path))?;
    Ok(())
}

/// Reads a `cifar-10-batches-bin` folder.
///
/// # Errors
/// [`CifarError::MissingFile`], [`CifarError::Truncated`], [`CifarError::BadLabel`],
/// [`CifarError::MetaClassCount`] or [`CifarError::Io`], each naming the file.
pub fn load_folder(dir: &Path) -> Result<Cifar10> {
    let meta_path = dir.join(META_FILE);
    let mut buf = Vec::new();
    read_file(&meta_path, &mut buf)?;
    let class_names = parse_meta(&meta_path, &String::from_utf8_lossy(&buf))?;
    let mut pixels = Vec::with_capacity(60_000 * IMAGE_BYTES);
    let mut labels = Vec::with_capacity(60_000);
    let mut n_train = 0;
    for name in TRAIN_FILES {
        let path = dir.join(name);
        read_file(&path, &mut buf)?;
        n_train += parse_records(&path, &buf, &mut pixels, &mut labels)?;
    }
    let path = dir.join(TEST_FILE);
    read_file(&path, &mut buf)?;
    parse_records(&path, &buf, &mut pixels, &mut labels)?;
    tracing::debug!(dir = %dir.display(), n_train, n = labels.len(), "loaded CIFAR-10 folder");
    Ok(Cifar10::from_parts(
        pixels,
        labels,
        n_train,
        class_names,
        dir.to_path_buf(),
    ))
}

/// Reads the official `cifar-10-binary.tar.gz` without unpacking it to disk.
///
/// # Errors
/// [`CifarError::Archive`] for a corrupt or truncated archive or a missing member, and the
/// record errors of [`load_folder`] (naming `archive/member`).
pub fn load_archive(archive: &Path) -> Result<Cifar10> {
    let file = open(archive)?;
    let corrupt = |message: String| CifarError::Archive {
        path: archive.to_path_buf(),
        message,
    };
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)));
    let wanted: Vec<&str> = TRAIN_FILES
        .iter()
        .copied()
        .chain([TEST_FILE, META_FILE])
        .collect();
    let mut members: Vec<Option<Vec<u8>>> = vec![None; wanted.len()];
    let entries = tar.entries().map_err(|e| corrupt(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| corrupt(e.to_string()))?;
        let path = entry
            .path()
            .map_err(|e| corrupt(e.to_string()))?
            .into_owned();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if let Some(slot) = wanted.iter().position(|w| *w == name) {
            let mut bytes = Vec::with_capacity(entry.size() as usize);
            entry
                .read_to_end(&mut bytes)
                .map_err(|e| corrupt(format!("reading member {name}: {e}")))?;
            if bytes.len() as u64 != entry.size() {
                return Err(corrupt(format!(
                    "member {name} is cut short: {} of {} bytes",
                    bytes.len(),
                    entry.size()
                )));
            }
            members[slot] = Some(bytes);
        }
    }
    let mut take = |k: usize| -> Result<(PathBuf, Vec<u8>)> {
        let member = archive.join(FOLDER_NAME).join(wanted[k]);
        members[k]
            .take()
            .map(|bytes| (member, bytes))
            .ok_or_else(|| corrupt(format!("member {FOLDER_NAME}/{} is missing", wanted[k])))
    };
    let (meta_path, meta) = take(wanted.len() - 1)?;
    let class_names = parse_meta(&meta_path, &String::from_utf8_lossy(&meta))?;
    let mut pixels = Vec::with_capacity(60_000 * IMAGE_BYTES);
    let mut labels = Vec::with_capacity(60_000);
    let mut n_train = 0;
    for k in 0..TRAIN_FILES.len() {
        let (path, bytes) = take(k)?;
        n_train += parse_records(&path, &bytes, &mut pixels, &mut labels)?;
    }
    let (path, bytes) = take(TRAIN_FILES.len())?;
    parse_records(&path, &bytes, &mut pixels, &mut labels)?;
    Ok(Cifar10::from_parts(
        pixels,
        labels,
        n_train,
        class_names,
        archive.to_path_buf(),
    ))
}

/// Reads CIFAR-10 from `path`: a `cifar-10-batches-bin` folder, the archive, or a folder
/// holding either.
///
/// # Errors
/// [`CifarError::NotFound`] when `path` holds none of these; otherwise as
/// [`load_folder`] / [`load_archive`].
pub fn load(path: &Path) -> Result<Cifar10> {
    if path.is_file() {
        return load_archive(path);
    }
    if path.join(TRAIN_FILES[0]).is_file() || path.join(META_FILE).is_file() {
        return load_folder(path);
    }
    if path.join(FOLDER_NAME).is_dir() {
        return load_folder(&path.join(FOLDER_NAME));
    }
    if path.join(ARCHIVE_NAME).is_file() {
        return load_archive(&path.join(ARCHIVE_NAME));
    }
    if !path.exists() {
        return Err(CifarError::MissingFile {
            path: path.to_path_buf(),
        });
    }
    Err(CifarError::NotFound {
        tried: format!(
            "{} (no {}, {FOLDER_NAME}/ or {ARCHIVE_NAME} inside)",
            path.display(),
            TRAIN_FILES[0]
        ),
    })
}

/// Where the data is: `explicit` (a `--data-dir` flag) if given, else `$CIFAR10_DIR` if set,
/// else `data/cifar-10-batches-bin` (or `data/cifar-10-binary.tar.gz`) under
/// `workspace_root`. A path that is given but does not exist is an error, not a reason to
/// look elsewhere.
///
/// # Errors
/// [`CifarError::MissingFile`] for a given path that does not exist;
/// [`CifarError::NotFound`] when nothing is given and the default places are empty.
pub fn locate(explicit: Option<&Path>, workspace_root: &Path) -> Result<PathBuf> {
    if let Some(path) = explicit {
        return existing(path);
    }
    if let Some(env) = std::env::var_os("CIFAR10_DIR").filter(|v| !v.is_empty()) {
        return existing(Path::new(&env));
    }
    let data = workspace_root.join("data");
    let candidates = [data.join(FOLDER_NAME), data.join(ARCHIVE_NAME)];
    for candidate in &candidates {
        if candidate.exists() {
            return Ok(candidate.clone());
        }
    }
    Err(CifarError::NotFound {
        tried: format!(
            "--data-dir (not given), CIFAR10_DIR (not set), {}, {}",
            candidates[0].display(),
            candidates[1].display()
        ),
    })
}

fn existing(path: &Path) -> Result<PathBuf> {
    if path.exists() {
        Ok(path.to_path_buf())
    } else {
        Err(CifarError::MissingFile {
            path: path.to_path_buf(),
        })
    }
}

/// The real CIFAR-10 for tests that need it: `$CIFAR10_DIR` if set, else
/// `../shared/cifar-10-jpeg/cifar-10-batches-bin` beside the workspace at `workspace_root`.
/// `Ok(None)` when neither exists, so such tests skip on a machine without the data; but
/// when `$CI` is set (CI always provides the data) a missing data set is an error, so that
/// CI cannot pass by skipping them.
///
/// # Errors
/// [`CifarError::MissingFile`] for a `$CIFAR10_DIR` that does not exist, or for absent data
/// under CI.
#[cfg(feature = "test-support")]
pub fn real_data_for_tests(workspace_root: &Path) -> Result<Option<PathBuf>> {
    if let Some(dir) = std::env::var_os("CIFAR10_DIR").filter(|v| !v.is_empty()) {
        let dir = PathBuf::from(dir);
        if !dir.exists() {
            return Err(CifarError::MissingFile { path: dir });
        }
        return Ok(Some(dir));
    }
    let dir = workspace_root.join("../shared/cifar-10-jpeg/cifar-10-batches-bin");
    if dir.exists() {
        Ok(Some(dir))
    } else if std::env::var_os("CI").is_some() {
        Err(CifarError::MissingFile { path: dir })
    } else {
        Ok(None)
    }
}
