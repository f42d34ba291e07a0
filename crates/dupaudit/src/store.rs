//! A stored collection (`dupaudit index`): the reduced images and where they came from, so
//! that new images are checked against it (`dupaudit query`) without reading the originals
//! again. A folder with `index.json` (sets, members, classes; a format version) and
//! `pixels.bin` (the reduced images, `3 x SIDE x SIDE` bytes each, in member order).

use std::path::{Path, PathBuf};

use dupstudy_audit::output::write_atomic;
use dupstudy_audit::{ImageInfo, ImageSet, SplitName};
use serde::{Deserialize, Serialize};

use crate::collect::{Collection, Member, SIDE, SetSource, Skipped};
use crate::error::{Error, Result};

/// The version of the stored format this build reads and writes.
pub const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Stored {
    format: u32,
    side: usize,
    sets: Vec<SetSource>,
    class_names: Vec<String>,
    /// Per image: member, index within its set, displayed path, class.
    images: Vec<(Member, usize, String, usize)>,
    skipped: Vec<Skipped>,
    source: String,
}

/// Writes `collection` into the folder `dir` (created).
///
/// # Errors
/// Files that cannot be written.
pub fn save(dir: &Path, collection: &Collection) -> Result<()> {
    let c = collection;
    let stored = Stored {
        format: FORMAT,
        side: SIDE,
        sets: c.sets.clone(),
        class_names: c.images.class_names.clone(),
        images: c
            .members
            .iter()
            .zip(&c.images.info)
            .map(|(m, info)| (m.clone(), info.index, info.path.clone(), info.class))
            .collect(),
        skipped: c.skipped.clone(),
        source: c.images.source.clone(),
    };
    let json =
        serde_json::to_vec(&stored).map_err(|source| dupstudy_audit::AuditError::Serialize {
            what: "index",
            source,
        })?;
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    write_atomic(&dir.join("pixels.bin"), &c.images.pixels)?;
    write_atomic(&dir.join("index.json"), &json)?;
    Ok(())
}

/// Reads an index written by [`save`].
///
/// # Errors
/// Missing or unreadable files, another format version, or files that disagree, naming
/// the file.
pub fn load(dir: &Path) -> Result<Collection> {
    let path = dir.join("index.json");
    let bad = |path: &PathBuf, message: String| Error::Index {
        path: path.clone(),
        message,
    };
    let text = std::fs::read(&path).map_err(|e| {
        bad(
            &path,
            format!("cannot read ({e}); write an index with `dupaudit index DIR --out INDEX`"),
        )
    })?;
    let stored: Stored = serde_json::from_slice(&text)
        .map_err(|e| bad(&path, format!("not a dupaudit index: {e}")))?;
    if stored.format != FORMAT || stored.side != SIDE {
        return Err(bad(
            &path,
            format!(
                "format {} at {} pixels; this dupaudit reads format {FORMAT} at {SIDE}: index again",
                stored.format, stored.side
            ),
        ));
    }
    let pixels_path = dir.join("pixels.bin");
    let pixels =
        std::fs::read(&pixels_path).map_err(|e| bad(&pixels_path, format!("cannot read: {e}")))?;
    let per = 3 * SIDE * SIDE;
    if pixels.len() != stored.images.len() * per {
        return Err(bad(
            &pixels_path,
            format!(
                "{} bytes; index.json lists {} images of {per} bytes",
                pixels.len(),
                stored.images.len()
            ),
        ));
    }
    let mut members = Vec::with_capacity(stored.images.len());
    let mut info = Vec::with_capacity(stored.images.len());
    for (m, index, shown, class) in stored.images {
        if m.set >= stored.sets.len() || class >= stored.class_names.len() {
            return Err(bad(
                &path,
                format!("image {shown} names a set or class not listed"),
            ));
        }
        info.push(ImageInfo {
            split: SplitName::Train,
            index,
            path: shown,
            class,
        });
        members.push(m);
    }
    Ok(Collection {
        sets: stored.sets,
        images: ImageSet {
            width: SIDE,
            height: SIDE,
            pixels,
            info,
            class_names: stored.class_names,
            source: stored.source,
        },
        members,
        skipped: stored.skipped,
    })
}
