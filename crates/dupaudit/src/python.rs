//! The Python module `dupaudit._dupaudit`: the audit of folders returning pairs, groups and
//! skipped files as Python values, and the command line (`dupaudit` console script). The
//! typed, documented front is `python/dupaudit/__init__.py`.

use std::path::PathBuf;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::collect::{self, ReadOptions, SetSource};
use crate::{Options, scan};

/// A pair: (set_a, index_a, path_a, set_b, index_b, path_b, score, kind).
type PyPair = (String, usize, String, String, usize, String, f32, String);
/// A group: (members as (set, index, path), strength, kept member's position in members).
type PyGroup = (Vec<(String, usize, String)>, f32, usize);

/// Audits `folder` (its train/val/test folders are sets) or the named `sets`; returns
/// (pairs, groups, skipped) as tuples, for the Python front to wrap. `threshold` and
/// `max_pixels` default to the command line's defaults.
#[pyfunction]
#[pyo3(signature = (folder=None, sets=None, threshold=None, seed=0, strict=false, max_pixels=None))]
#[allow(clippy::type_complexity)]
fn audit(
    py: Python<'_>,
    folder: Option<PathBuf>,
    sets: Option<Vec<(String, PathBuf)>>,
    threshold: Option<f32>,
    seed: u64,
    strict: bool,
    max_pixels: Option<u64>,
) -> PyResult<(Vec<PyPair>, Vec<PyGroup>, Vec<(String, String)>)> {
    let fail = |e: crate::Error| PyValueError::new_err(e.to_string());
    let defaults = Options::default();
    let options = Options {
        threshold: threshold.unwrap_or(defaults.threshold),
        seed,
        ..defaults
    };
    options.check().map_err(fail)?;
    let read = ReadOptions {
        strict,
        max_pixels: max_pixels.unwrap_or(collect::MAX_PIXELS),
    };
    py.allow_threads(|| {
        let (sources, outside) = match (folder, sets) {
            (Some(dir), None) => collect::sets_of(&dir).map_err(fail)?,
            (None, Some(sets)) if !sets.is_empty() => (
                sets.into_iter()
                    .map(|(name, root)| SetSource {
                        name,
                        root: Some(root),
                    })
                    .collect(),
                Vec::new(),
            ),
            _ => {
                return Err(PyValueError::new_err(
                    "give either folder or sets (a list of (name, folder)), not both or neither",
                ));
            }
        };
        let collection = collect::read_sets(sources, outside, &read, &|_, _| {}).map_err(fail)?;
        let found =
            scan::run(collection, &options, &dupstudy_audit::progress::Silent).map_err(fail)?;
        let c = &found.collection;
        let member = |i: usize| {
            let info = &c.images.info[i];
            (c.set_name(i).to_string(), info.index, info.path.clone())
        };
        let pairs = found
            .audit
            .pairs
            .iter()
            .map(|p| {
                let (sa, ia, pa) = member(p.a);
                let (sb, ib, pb) = member(p.b);
                (sa, ia, pa, sb, ib, pb, p.score, p.kind.name().to_string())
            })
            .collect();
        let groups = found
            .groups()
            .into_iter()
            .map(|g| {
                let keep = g.members.iter().position(|&i| i == g.keep).unwrap_or(0);
                (
                    g.members.iter().map(|&i| member(i)).collect(),
                    g.strength,
                    keep,
                )
            })
            .collect();
        let skipped = c
            .skipped
            .iter()
            .map(|s| (s.path.to_string_lossy().into_owned(), s.reason.clone()))
            .collect();
        Ok((pairs, groups, skipped))
    })
}

/// Runs the command line with `argv` (program name first); returns the exit status.
#[pyfunction]
fn main(py: Python<'_>, argv: Vec<String>) -> i32 {
    py.allow_threads(|| match crate::cli::run(argv) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("Error: {e:#}");
            1
        }
    })
}

#[pymodule]
fn _dupaudit(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(audit, m)?)?;
    m.add_function(wrap_pyfunction!(main, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
