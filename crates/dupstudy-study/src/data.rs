//! Finding CIFAR-10 for the studies that need it, and naming it in reports.

use std::path::Path;
use std::sync::Arc;

use dupstudy_cifar::{Cifar10, CifarError};
use sha2::{Digest, Sha256};

use crate::error::{Result, StudyError};

/// Content SHA-256 (labels then pixels, training then test) of the JPEG-derived stand-in in
/// `../shared/cifar-10-jpeg`, to say in reports which data a run used.
pub const STAND_IN_CONTENT_SHA256: &str =
    "b9669b2b6cbc111eefa445c166c002bfd6cea10b31e001840dc1e7be22fc41f1";

/// The data set and how the report names it.
#[derive(Debug)]
pub struct DataSet {
    /// The data.
    pub data: Arc<Cifar10>,
    /// Content SHA-256.
    pub sha256: String,
    /// One line for the report.
    pub description: String,
}

impl DataSet {
    /// Wraps loaded data, naming it by its checksum.
    pub fn new(data: Cifar10) -> Self {
        let sha256 = content_sha256(&data);
        let description = if sha256 == STAND_IN_CONTENT_SHA256 {
            format!(
                "CIFAR-10 **JPEG-derived stand-in** from {} (official labels and order, pixels recompressed as JPEG, ~30 dB PSNR; see its SOURCE.md): numbers are close to, not the same as, results on the original data",
                data.source().display()
            )
        } else {
            format!(
                "CIFAR-10 from {} (not the JPEG stand-in; content SHA-256 {sha256})",
                data.source().display()
            )
        };
        Self {
            data: Arc::new(data),
            sha256,
            description,
        }
    }
}

/// SHA-256 of the labels then the pixels.
pub fn content_sha256(data: &Cifar10) -> String {
    let mut hasher = Sha256::new();
    hasher.update(data.labels());
    hasher.update(data.pixels());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Finds CIFAR-10 (fetching the official archive into `<root>/data` when it is simply absent
/// and downloads are allowed). `Ok(Err(reason))` when it is unavailable and the CIFAR studies
/// must be skipped; the reason says how to get it.
///
/// # Errors
/// Data that is there but malformed (the error names the file and record).
pub fn find(
    explicit: Option<&Path>,
    root: &Path,
    offline: bool,
) -> Result<std::result::Result<DataSet, String>> {
    let path = match dupstudy_cifar::locate(explicit, root) {
        Ok(path) => path,
        Err(CifarError::NotFound { tried }) => {
            let source = dupstudy_cifar::fetch::ArchiveSource::official();
            let how = format!(
                "CIFAR-10 is not available (looked in: {tried}). Get it with `cargo xtask fetch-cifar` (downloads {} and checks its MD5), or point --data-dir or CIFAR10_DIR at a cifar-10-batches-bin folder or the archive",
                source.url
            );
            if offline {
                return Ok(Err(format!(
                    "{how}; --offline was given, so no download was tried"
                )));
            }
            tracing::warn!(dest = %root.join("data").display(), "CIFAR-10 not found; downloading it");
            match dupstudy_cifar::fetch::fetch(&source, &root.join("data"), 3) {
                Ok(folder) => folder,
                Err(e) => return Ok(Err(format!("{how}. The automatic download failed: {e}"))),
            }
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Ok(DataSet::new(dupstudy_cifar::load(&path)?)))
}

/// The CIFAR-10 copy a study needs. The driver checks before planning and before any cell
/// runs that a study which [needs it](crate::Study::needs_cifar) has it, so this error is
/// only reached by code that calls a study directly.
///
/// # Errors
/// [`StudyError::DataUnavailable`] naming the study.
pub fn required<'a>(data: Option<&'a DataSet>, study: &str) -> Result<&'a DataSet> {
    data.ok_or_else(|| StudyError::DataUnavailable(format!("{study} needs CIFAR-10")))
}
