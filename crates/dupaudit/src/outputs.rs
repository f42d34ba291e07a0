//! The files an audit writes: `pairs.csv`, `groups.csv`, `drop.txt`, `skipped.csv`,
//! `summary.json`, `REPORT.md` and `gallery.html`. All are computed before the first is
//! written; then the folder is created and each file written under a temporary name and
//! renamed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use dupstudy_audit::images::planes_to_interleaved;
use dupstudy_audit::output::{PAIRS_HEADER, csv_field, write_atomic};
use image::{ImageFormat, ImageReader, RgbImage};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::collect::SIDE;
use crate::error::{Error, Result};
use crate::scan::{Group, Scan};

/// The header of `groups.csv` (as the study's audit writes it).
pub const GROUPS_HEADER: &str = "group,split,index,path,class";
/// The header of `skipped.csv`.
pub const SKIPPED_HEADER: &str = "path,reason";
/// Groups shown in `gallery.html` (all are in `groups.csv`).
pub const GALLERY_GROUPS: usize = 500;
/// Largest side of a gallery thumbnail, in pixels.
pub const THUMB_SIDE: u32 = 128;

/// One set's counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetCounts {
    /// Its name.
    pub name: String,
    /// Its folder.
    pub root: Option<PathBuf>,
    /// Images audited.
    pub images: usize,
    /// Images in a duplicate group.
    pub in_groups: usize,
    /// Images in a group with an image of another set (leakage).
    pub with_twin_in_other_set: usize,
    /// Images in `drop.txt`.
    pub to_drop: usize,
}

/// `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// `dupaudit` and its version.
    pub tool: String,
    /// Per set.
    pub sets: Vec<SetCounts>,
    /// Images audited.
    pub images: usize,
    /// Files skipped, by the kind of reason (the text before the first colon).
    pub skipped: BTreeMap<String, usize>,
    /// Pairs: exact copies, near-duplicates.
    pub pairs: BTreeMap<String, usize>,
    /// Pairs by the sets of their two images (`train/test`, ...).
    pub pairs_by_sets: BTreeMap<String, usize>,
    /// Duplicate groups.
    pub groups: usize,
    /// Groups with images of more than one set.
    pub cross_set_groups: usize,
    /// Lines of `drop.txt`.
    pub to_drop: usize,
    /// The threshold on the aligned similarity.
    pub threshold: f32,
    /// Candidate pairs aligned.
    pub candidates: usize,
    /// Seconds per phase.
    pub seconds: Vec<(String, f64)>,
}

/// Counts what `scan` found.
pub fn summarize(scan: &Scan, groups: &[Group], seconds: &[(String, f64)]) -> Summary {
    let c = &scan.collection;
    let mut sets: Vec<SetCounts> = c
        .sets
        .iter()
        .enumerate()
        .map(|(s, set)| SetCounts {
            name: set.name.clone(),
            root: set.root.clone(),
            images: c.count(s),
            in_groups: 0,
            with_twin_in_other_set: 0,
            to_drop: 0,
        })
        .collect();
    let mut cross = 0;
    for g in groups {
        let spans = g
            .members
            .iter()
            .any(|&i| c.members[i].set != c.members[g.members[0]].set);
        cross += usize::from(spans);
        for &i in &g.members {
            let s = &mut sets[c.members[i].set];
            s.in_groups += 1;
            s.to_drop += usize::from(i != g.keep);
            let other = g
                .members
                .iter()
                .any(|&j| c.members[j].set != c.members[i].set);
            s.with_twin_in_other_set += usize::from(other);
        }
    }
    let mut skipped = BTreeMap::new();
    for s in &c.skipped {
        let kind = s.reason.split(':').next().unwrap_or_default().to_string();
        *skipped.entry(kind).or_insert(0) += 1;
    }
    let mut pairs = BTreeMap::new();
    let mut pairs_by_sets = BTreeMap::new();
    for p in &scan.audit.pairs {
        *pairs.entry(p.kind.name().to_string()).or_insert(0) += 1;
        let key = format!("{}/{}", c.set_name(p.a), c.set_name(p.b));
        *pairs_by_sets.entry(key).or_insert(0) += 1;
    }
    Summary {
        tool: format!("dupaudit {}", env!("CARGO_PKG_VERSION")),
        to_drop: sets.iter().map(|s| s.to_drop).sum(),
        sets,
        images: c.len(),
        skipped,
        pairs,
        pairs_by_sets,
        groups: groups.len(),
        cross_set_groups: cross,
        threshold: scan.audit.params.threshold,
        candidates: scan.audit.candidates,
        seconds: seconds.to_vec(),
    }
}

/// `pairs.csv`: one row per pair, sorted by the two images' positions.
pub fn pairs_csv(scan: &Scan) -> String {
    let c = &scan.collection;
    let mut out = format!("{PAIRS_HEADER}\n");
    for p in &scan.audit.pairs {
        let (a, b) = (&c.images.info[p.a], &c.images.info[p.b]);
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{:.4},{}",
            csv_field(c.set_name(p.a)),
            a.index,
            csv_field(&a.path),
            csv_field(c.set_name(p.b)),
            b.index,
            csv_field(&b.path),
            p.score,
            p.kind.name()
        );
    }
    out
}

/// `groups.csv`: one row per member, groups numbered by their first member.
pub fn groups_csv(scan: &Scan) -> String {
    let c = &scan.collection;
    let mut out = format!("{GROUPS_HEADER}\n");
    for (g, members) in scan.audit.groups.iter().enumerate() {
        for &i in members {
            let info = &c.images.info[i];
            let _ = writeln!(
                out,
                "{g},{},{},{},{}",
                csv_field(c.set_name(i)),
                info.index,
                csv_field(&info.path),
                csv_field(&c.images.class_names[info.class])
            );
        }
    }
    out
}

/// `drop.txt`: the path of every image to remove, one a line (`<set>/<index>` for images
/// without a file, the CIFAR-10 binaries); `groups` as [`Scan::groups`] gives them.
pub fn drop_txt(scan: &Scan, groups: &[Group]) -> String {
    let c = &scan.collection;
    let mut out = String::new();
    for i in crate::scan::surplus(groups) {
        let info = &c.images.info[i];
        if info.path.is_empty() {
            let _ = writeln!(out, "{}/{}", c.set_name(i), info.index);
        } else {
            let _ = writeln!(out, "{}", info.path);
        }
    }
    out
}

/// `skipped.csv`.
pub fn skipped_csv(scan: &Scan) -> String {
    let mut out = format!("{SKIPPED_HEADER}\n");
    for s in &scan.collection.skipped {
        let _ = writeln!(
            out,
            "{},{}",
            csv_field(&s.path.to_string_lossy()),
            csv_field(&s.reason)
        );
    }
    out
}

fn label(scan: &Scan, i: usize) -> String {
    let c = &scan.collection;
    let info = &c.images.info[i];
    if info.path.is_empty() {
        format!("{} {}", c.set_name(i), info.index)
    } else {
        format!("{} `{}`", c.set_name(i), info.path)
    }
}

/// `REPORT.md`.
pub fn report(scan: &Scan, groups: &[Group], summary: &Summary) -> String {
    let mut r = String::new();
    let _ = writeln!(r, "# Duplicate audit\n");
    let _ = writeln!(
        r,
        "{} images audited in {} set(s), {} files skipped (listed in `skipped.csv`). Two images \
         are near-duplicates when their aligned similarity (colour and detail correlation at the \
         best mirror, shift or crop) is at least **{:.2}**; identical pixels are exact copies. \
         Images were reduced to {SIDE} x {SIDE} pixels for the comparison.\n",
        summary.images,
        summary.sets.len(),
        scan.collection.skipped.len(),
        summary.threshold
    );
    let _ = writeln!(
        r,
        "| set | images | in a group | with a twin in another set | in drop.txt |\n|---|---:|---:|---:|---:|"
    );
    for s in &summary.sets {
        let _ = writeln!(
            r,
            "| {} | {} | {} | {} | {} |",
            s.name, s.images, s.in_groups, s.with_twin_in_other_set, s.to_drop
        );
    }
    let _ = writeln!(
        r,
        "\n{} groups ({} spanning sets), {} pairs ({} exact, {} near).\n",
        summary.groups,
        summary.cross_set_groups,
        scan.audit.pairs.len(),
        summary.pairs.get("exact").unwrap_or(&0),
        summary.pairs.get("near").unwrap_or(&0)
    );
    if !summary.pairs_by_sets.is_empty() {
        let _ = writeln!(r, "| pairs between | count |\n|---|---:|");
        for (k, v) in &summary.pairs_by_sets {
            let _ = writeln!(r, "| {k} | {v} |");
        }
        let _ = writeln!(r);
    }
    let _ = writeln!(
        r,
        "**What `drop.txt` removes:** every member of a group but one. The kept one is from the \
         first set in this order: a test set, a validation set, any other set, a training set, \
         new images checked against an index; then the largest original; then the first found. \
         So a group spanning train and test keeps its test image and drops the training copies.\n"
    );
    if !summary.skipped.is_empty() {
        let _ = writeln!(r, "| skipped because | files |\n|---|---:|");
        for (k, v) in &summary.skipped {
            let _ = writeln!(r, "| {k} | {v} |");
        }
        let _ = writeln!(r);
    }
    if let Some(v) = &scan.validation {
        let _ = writeln!(
            r,
            "## Validation on planted copies\n\n{} of {} planted copies found ({:.1} %); {} of {} \
             random same-class pairs scored at or above the threshold ({} of them grouped by the \
             audit as natural duplicates). {}\n",
            v.total.1,
            v.total.0,
            100.0 * v.total.1 as f64 / v.total.0.max(1) as f64,
            v.random_pairs_above,
            v.random_pairs,
            v.false_pairs_found_by_audit,
            if scan.collection.members.iter().all(|m| m.has_file) {
                "Each copy was made from the original file at its full size (the \
                 transformation there, then resized to 50-100 %), then reduced like every image."
            } else {
                "Copies were made from the images at their stored size."
            }
        );
        let _ = writeln!(r, "| transformation | planted | found |\n|---|---:|---:|");
        for (t, n, k) in &v.recall {
            let _ = writeln!(r, "| {} | {n} | {k} |", t.name());
        }
        let _ = writeln!(r);
    }
    let _ = writeln!(r, "## Strongest groups\n");
    for g in groups.iter().take(20) {
        let members: Vec<String> = g
            .members
            .iter()
            .map(|&i| {
                let mark = if i == g.keep { " (kept)" } else { "" };
                format!("{}{mark}", label(scan, i))
            })
            .collect();
        let _ = writeln!(r, "- {:.3}: {}", g.strength, members.join("; "));
    }
    if groups.len() > 20 {
        let _ = writeln!(
            r,
            "\n{} more in `groups.csv`; thumbnails of the first {} in `gallery.html`.",
            groups.len() - 20,
            GALLERY_GROUPS.min(groups.len())
        );
    }
    let _ = writeln!(r, "\n## Time\n");
    for (phase, s) in &summary.seconds {
        let _ = writeln!(r, "- {phase}: {s:.1} s");
    }
    r
}

/// A PNG thumbnail of image `i`: the file decoded again at up to [`THUMB_SIDE`] pixels, or
/// the reduced image enlarged 3 times when there is no file (or it no longer decodes).
fn thumbnail(scan: &Scan, i: usize) -> Vec<u8> {
    let from_file = scan.collection.file(i).and_then(|path| {
        let image = ImageReader::open(path)
            .ok()?
            .with_guessed_format()
            .ok()?
            .decode()
            .ok()?;
        Some(image.thumbnail(THUMB_SIDE, THUMB_SIDE).to_rgb8())
    });
    let rgb = from_file.unwrap_or_else(|| {
        let small = RgbImage::from_raw(
            SIDE as u32,
            SIDE as u32,
            planes_to_interleaved(scan.collection.images.image(i)),
        )
        .expect("SIDE x SIDE x 3 bytes");
        image::imageops::resize(
            &small,
            3 * SIDE as u32,
            3 * SIDE as u32,
            image::imageops::FilterType::Nearest,
        )
    });
    let mut png = Vec::new();
    // Encoding an in-memory RGB image to PNG in memory cannot fail.
    let _ = rgb.write_to(&mut Cursor::new(&mut png), ImageFormat::Png);
    png
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `gallery.html`: the strongest [`GALLERY_GROUPS`] groups as thumbnails, one
/// self-contained file (images inlined) that a browser opens offline.
pub fn gallery(scan: &Scan, groups: &[Group]) -> String {
    let shown = &groups[..groups.len().min(GALLERY_GROUPS)];
    let blocks: Vec<String> = shown
        .par_iter()
        .enumerate()
        .map(|(k, g)| {
            let mut b = format!(
                "<section><h2>{} &middot; {} images &middot; score {:.3}</h2><div class=row>",
                k + 1,
                g.members.len(),
                g.strength
            );
            for &i in &g.members {
                let data = base64::engine::general_purpose::STANDARD.encode(thumbnail(scan, i));
                let (class, mark) = if i == g.keep {
                    ("keep", "kept")
                } else {
                    ("drop", "drop")
                };
                let m = &scan.collection.members[i];
                let _ = write!(
                    b,
                    "<figure class={class}><img src=\"data:image/png;base64,{data}\"><figcaption>\
                     <b>{mark}</b> {} &middot; {}x{}<br>{}</figcaption></figure>",
                    html_escape(scan.collection.set_name(i)),
                    m.size.0,
                    m.size.1,
                    html_escape(&label(scan, i))
                );
            }
            b.push_str("</div></section>\n");
            b
        })
        .collect();
    let mut html = String::from(
        "<!doctype html><html><head><meta charset=utf-8><title>dupaudit gallery</title><style>\
         body{font:14px sans-serif;margin:1em}section{border-top:1px solid #ccc;padding:.5em 0}\
         h2{font-size:15px;margin:.2em 0}.row{display:flex;flex-wrap:wrap;gap:8px}\
         figure{margin:0;width:150px}img{max-width:128px;max-height:128px;image-rendering:pixelated}\
         figcaption{font-size:11px;word-break:break-all}.keep img{outline:3px solid #2a2}\
         .drop img{outline:3px solid #c33}</style></head><body>\n",
    );
    let _ = writeln!(
        html,
        "<h1>Duplicate groups, strongest first</h1><p>{} of {} groups shown. Green: kept; red: \
         in drop.txt.</p>",
        shown.len(),
        groups.len()
    );
    for b in blocks {
        html.push_str(&b);
    }
    html.push_str("</body></html>\n");
    html
}

/// Writes every file into `out`, creating it, after computing them all.
///
/// # Errors
/// A file that cannot be written, naming it.
pub fn write_all(out: &Path, scan: &Scan, seconds: &[(String, f64)]) -> Result<Summary> {
    let groups = scan.groups();
    let summary = summarize(scan, &groups, seconds);
    let json = serde_json::to_vec_pretty(&serde_json::json!({
        "summary": summary,
        "params": scan.audit.params,
        "validation": scan.validation,
    }))
    .map_err(|source| dupstudy_audit::AuditError::Serialize {
        what: "summary",
        source,
    })?;
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("pairs.csv", pairs_csv(scan).into_bytes()),
        ("groups.csv", groups_csv(scan).into_bytes()),
        ("drop.txt", drop_txt(scan, &groups).into_bytes()),
        ("skipped.csv", skipped_csv(scan).into_bytes()),
        ("summary.json", json),
        ("REPORT.md", report(scan, &groups, &summary).into_bytes()),
        ("gallery.html", gallery(scan, &groups).into_bytes()),
    ];
    std::fs::create_dir_all(out).map_err(|source| Error::Write {
        path: out.to_path_buf(),
        source,
    })?;
    for (name, bytes) in files {
        write_atomic(&out.join(name), &bytes)?;
    }
    Ok(summary)
}
