//! The audit's files: `pairs.csv`, `groups.csv`, `summary.json`, `REPORT.md` and PNG
//! contact sheets. Everything is computed before the first file is written, and each file
//! is written to a temporary name and renamed, so a failure never leaves a half-written file.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::audit::{Audit, Pair, PairKind};
use crate::error::{AuditError, Result};
use crate::images::{ImageSet, planes_to_interleaved};
use crate::planted::Validation;
use crate::summary::Summary;

/// The exact header of `pairs.csv`.
pub const PAIRS_HEADER: &str = "split_a,index_a,path_a,split_b,index_b,path_b,score,kind";
/// The header of `groups.csv`.
pub const GROUPS_HEADER: &str = "group,split,index,path,class";

/// Quotes a CSV field when it needs it (a comma, a quote or a line break).
pub fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// `pairs.csv`.
pub fn pairs_csv(set: &ImageSet, pairs: &[Pair]) -> String {
    let mut out = String::from(PAIRS_HEADER);
    out.push('\n');
    for p in pairs {
        let (a, b) = (&set.info[p.a], &set.info[p.b]);
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{:.4},{}",
            a.split.name(),
            a.index,
            csv_field(&a.path),
            b.split.name(),
            b.index,
            csv_field(&b.path),
            p.score,
            p.kind.name()
        );
    }
    out
}

/// `groups.csv`: one row per image in a group.
pub fn groups_csv(set: &ImageSet, groups: &[Vec<usize>]) -> String {
    let mut out = String::from(GROUPS_HEADER);
    out.push('\n');
    for (g, members) in groups.iter().enumerate() {
        for &i in members {
            let info = &set.info[i];
            let _ = writeln!(
                out,
                "{g},{},{},{},{}",
                info.split.name(),
                info.index,
                csv_field(&info.path),
                csv_field(&set.class_names[info.class])
            );
        }
    }
    out
}

/// A PNG contact sheet: one row per pair, the two images side by side, each scaled up
/// `scale` times, pairs separated by a grey gap.
///
/// # Errors
/// Encoding failures.
pub fn contact_sheet(set: &ImageSet, pairs: &[(usize, usize)], scale: usize) -> Result<Vec<u8>> {
    let (w, h) = (set.width * scale, set.height * scale);
    let gap = 4 * scale.max(1);
    let columns = 2;
    let rows = pairs.len().div_ceil(columns).max(1);
    let cell_w = 2 * w + gap;
    let width = columns * cell_w + (columns + 1) * 3 * gap;
    let height = rows * (h + 2 * gap) + gap;
    let mut canvas = vec![255u8; width * height * 3];
    let mut blit = |img: usize, x0: usize, y0: usize| {
        let rgb = planes_to_interleaved(set.image(img));
        for y in 0..h {
            for x in 0..w {
                let src = ((y / scale) * set.width + x / scale) * 3;
                let dst = ((y0 + y) * width + x0 + x) * 3;
                canvas[dst..dst + 3].copy_from_slice(&rgb[src..src + 3]);
            }
        }
    };
    for (k, &(a, b)) in pairs.iter().enumerate() {
        let (row, col) = (k / columns, k % columns);
        let x0 = 3 * gap + col * (cell_w + 3 * gap);
        let y0 = gap + row * (h + 2 * gap);
        blit(a, x0, y0);
        blit(b, x0 + w + gap, y0);
    }
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, width as u32, height as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let fail = |e: png::EncodingError| AuditError::Encode {
            path: PathBuf::from("contact sheet"),
            message: e.to_string(),
        };
        let mut writer = encoder.write_header().map_err(fail)?;
        writer.write_image_data(&canvas).map_err(fail)?;
    }
    Ok(bytes)
}

/// Writes `bytes` to `path` through a temporary file and a rename.
///
/// # Errors
/// The file cannot be written or renamed, naming it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes).map_err(AuditError::io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(AuditError::io(path))
}

fn describe(set: &ImageSet, i: usize) -> String {
    let info = &set.info[i];
    if info.path.is_empty() {
        format!(
            "{} {} ({})",
            info.split.name(),
            info.index,
            set.class_names[info.class]
        )
    } else {
        format!("{} {} `{}`", info.split.name(), info.index, info.path)
    }
}

fn pct(x: usize, n: usize) -> String {
    if n == 0 {
        "–".into()
    } else {
        format!("{:.2} %", 100.0 * x as f64 / n as f64)
    }
}

/// The pairs shown on the contact sheets: the strongest near pairs, and those just above
/// and just below the threshold.
pub struct Sheets {
    /// Highest-scoring near pairs.
    pub strongest: Vec<Pair>,
    /// Lowest-scoring accepted pairs, then the highest-scoring rejected candidates.
    pub at_threshold: Vec<Pair>,
}

/// Chooses the pairs of the contact sheets (`per_sheet` each).
pub fn sheets(audit: &Audit, per_sheet: usize) -> Sheets {
    let mut near: Vec<Pair> = audit
        .pairs
        .iter()
        .copied()
        .filter(|p| p.kind == PairKind::Near)
        .collect();
    near.sort_by(|x, y| {
        y.score
            .total_cmp(&x.score)
            .then((x.a, x.b).cmp(&(y.a, y.b)))
    });
    let strongest = near.iter().take(per_sheet).copied().collect();
    let mut weakest: Vec<Pair> = near.iter().rev().take(per_sheet / 2).copied().collect();
    weakest.reverse();
    let mut misses = audit.near_misses.clone();
    misses.sort_by(|x, y| {
        y.score
            .total_cmp(&x.score)
            .then((x.a, x.b).cmp(&(y.a, y.b)))
    });
    let mut at_threshold = weakest;
    at_threshold.extend(
        misses
            .into_iter()
            .take(per_sheet - at_threshold.len().min(per_sheet)),
    );
    Sheets {
        strongest,
        at_threshold,
    }
}

/// `REPORT.md`.
pub fn report(
    set: &ImageSet,
    audit: &Audit,
    summary: &Summary,
    sheets: &Sheets,
    validation: Option<&Validation>,
    recall: Option<&crate::labelled::Curve>,
) -> String {
    let s = summary;
    let mut r = String::new();
    let _ = writeln!(r, "# Duplicate audit\n");
    let _ = writeln!(
        r,
        "Data: {}. {} training and {} test images of {}x{} pixels, {} classes.\n",
        s.source,
        s.images[0],
        s.images[1],
        set.width,
        set.height,
        set.class_names.len()
    );
    let _ = writeln!(
        r,
        "Exact duplicates: identical pixels. Near-duplicates: {} of at least **{:.3}**; the aligned similarity is the geometric mean of two normalized cross-correlations at the best mirror, shift (up to 5 pixels) or crop (88-96 %) of one image against the other: of the three colour planes, each standardized (so brightness, contrast and colour casts do not count), and of the fine detail (grayscale minus its 3x3 blur; two different seascapes share a horizon, not their detail). Candidates come from a random-projection forest over blurred 8x8 thumbnails of each image, its mirror and 8 shifted copies ({} candidate pairs aligned). Times: {}.\n",
        if s.fusion.is_some() {
            "a fused score (below)"
        } else {
            "an aligned similarity"
        },
        s.threshold,
        s.candidates,
        s.seconds
            .iter()
            .map(|(k, v)| format!("{k} {v:.1} s"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(f) = &s.fusion {
        let _ = writeln!(
            r,
            "Fused with a {name}: the threshold applies to the higher of the aligned similarity and {w} x it + {o} x the {name}'s cosine similarity, so the {name} can raise a pair whose pixels moved (the same object re-photographed or re-cropped) and never lowers one the alignment recognizes. The {name}'s nearest neighbours of every image added {added} candidate pairs to the thumbnail search's (each aligned too).\n",
            name = f.name,
            w = f.weight,
            o = 1.0 - f.weight,
            added = f.added_candidates,
        );
    }
    let _ = writeln!(r, "## Images with a duplicate\n");
    let _ = writeln!(
        r,
        "| split | images | in a duplicate group | with an identical copy | D-rate (images beyond one per group) |"
    );
    let _ = writeln!(r, "|---|---:|---:|---:|---:|");
    for (k, name) in ["train", "test"].iter().enumerate() {
        let _ = writeln!(
            r,
            "| {name} | {} | {} ({}) | {} | {:.3} % |",
            s.images[k],
            s.images_in_groups[k],
            pct(s.images_in_groups[k], s.images[k]),
            s.images_with_exact_copy[k],
            100.0 * s.d_rate[k]
        );
    }
    let _ = writeln!(
        r,
        "| both | {} | {} | {} | {:.3} % |\n",
        s.images[0] + s.images[1],
        s.images_in_groups[0] + s.images_in_groups[1],
        s.images_with_exact_copy[0] + s.images_with_exact_copy[1],
        100.0 * s.d_rate[2]
    );
    let _ = writeln!(
        r,
        "**Test images with a twin in the training split: {} of {} ({})**, {} of them through an identical image. A model evaluated on the test set has seen these images (or a near copy) in training.\n",
        s.test_with_train_twin[0],
        s.images[1],
        pct(s.test_with_train_twin[0], s.images[1]),
        s.test_with_train_twin[1]
    );
    let _ = writeln!(
        r,
        "Groups: {} ({} within the training split, {} within the test split, {} spanning both). Pairs (for reference; the counts above are images):\n",
        s.groups[0], s.groups[1], s.groups[2], s.groups[3]
    );
    let _ = writeln!(
        r,
        "| kind | train-train | test-test | train-test |\n|---|---:|---:|---:|"
    );
    for (k, kind) in ["exact", "near"].iter().enumerate() {
        let _ = writeln!(
            r,
            "| {kind} | {} | {} | {} |",
            s.pairs[k][0], s.pairs[k][1], s.pairs[k][2]
        );
    }
    let _ = writeln!(r, "\n## Per class\n");
    let _ = writeln!(
        r,
        "D-ratio: the class's share of the training split's surplus images (images beyond one per group), the paper's D-ratio for natural duplicates.\n"
    );
    let _ = writeln!(
        r,
        "| class | train | train with a training twin | train surplus | D-ratio | test | test with a test twin | test with a training twin |"
    );
    let _ = writeln!(r, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for c in &s.classes {
        let _ = writeln!(
            r,
            "| {} | {} | {} | {} | {:.1} % | {} | {} | {} ({}) |",
            c.class,
            c.train_images,
            c.train_in_train_groups,
            c.train_surplus,
            100.0 * c.d_ratio,
            c.test_images,
            c.test_in_test_groups,
            c.test_with_train_twin,
            pct(c.test_with_train_twin, c.test_images)
        );
    }
    if let Some(v) = validation {
        let _ = writeln!(r, "\n## Validation with planted near-duplicates\n");
        let _ = writeln!(
            r,
            "Planted copies of randomly chosen training images, audited together with the data set (this report's other numbers come from the audit without them). A copy counts as found when the audit pairs it with its source at or above the threshold.\n"
        );
        let _ = writeln!(
            r,
            "| transformation | copies | found | recall |\n|---|---:|---:|---:|"
        );
        for (t, n, hit) in &v.recall {
            let _ = writeln!(r, "| {} | {n} | {hit} | {} |", t.name(), pct(*hit, *n));
        }
        let _ = writeln!(
            r,
            "| **all** | {} | {} | **{}** |\n",
            v.total.0,
            v.total.1,
            pct(v.total.1, v.total.0)
        );
        let _ = writeln!(
            r,
            "False pairs: of {} random pairs of different images of the same class, {} scored at or above the threshold ({:.1e}); {} of those the audit itself groups as duplicates (natural near-duplicates), so {} ({:.1e} per pair).\n",
            v.random_pairs,
            v.random_pairs_above,
            v.random_pairs_above as f64 / v.random_pairs.max(1) as f64,
            v.false_pairs_found_by_audit,
            match v.random_pairs_above - v.false_pairs_found_by_audit {
                1 => "1 false pair remains".to_string(),
                n => format!("{n} false pairs remain"),
            },
            (v.random_pairs_above - v.false_pairs_found_by_audit) as f64
                / v.random_pairs.max(1) as f64
        );
    }
    if let Some(curve) = recall {
        r.push_str(&crate::labelled::curve_markdown(
            curve,
            audit.params.threshold,
            Some(RECALL_FIGURE),
        ));
    }
    let _ = writeln!(r, "## Contact sheets\n");
    let listing = |r: &mut String, pairs: &[Pair]| {
        for (k, p) in pairs.iter().enumerate() {
            let _ = writeln!(
                r,
                "{}. {} — {}: {:.3}{}{}",
                k + 1,
                describe(set, p.a),
                describe(set, p.b),
                p.score,
                if p.mirror { ", mirrored" } else { "" },
                if p.score < audit.params.threshold {
                    " (below the threshold)"
                } else {
                    ""
                }
            );
        }
    };
    let _ = writeln!(
        r,
        "`strongest.png`: the highest-scoring near pairs, left to right and top to bottom:\n\n![strongest](strongest.png)\n"
    );
    listing(&mut r, &sheets.strongest);
    let _ = writeln!(
        r,
        "\n`at_threshold.png`: the lowest-scoring accepted pairs, then the best-scoring rejected candidates:\n\n![at threshold](at_threshold.png)\n"
    );
    listing(&mut r, &sheets.at_threshold);
    r
}

/// The file the report's recall section shows: its caller draws it from the same curve.
pub const RECALL_FIGURE: &str = "recall.svg";

/// Writes every output file into `out` (created if needed); with `recall` (the curve on a
/// labelled list, CIFAR-10 only) the report gains its section, `summary.json` its points,
/// and the report shows [`RECALL_FIGURE`], which the caller draws.
///
/// # Errors
/// Files that cannot be written, naming them.
pub fn write_all(
    out: &Path,
    set: &ImageSet,
    audit: &Audit,
    summary: &Summary,
    validation: Option<&Validation>,
    recall: Option<&crate::labelled::Curve>,
) -> Result<()> {
    let sheets = sheets(audit, 20);
    let to_pairs = |ps: &[Pair]| ps.iter().map(|p| (p.a, p.b)).collect::<Vec<_>>();
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("pairs.csv", pairs_csv(set, &audit.pairs).into_bytes()),
        ("groups.csv", groups_csv(set, &audit.groups).into_bytes()),
        (
            "summary.json",
            serde_json::to_vec_pretty(&serde_json::json!({
                "summary": summary,
                "params": audit.params,
                "validation": validation,
                "labelled_recall": recall,
            }))
            .map_err(|source| AuditError::Serialize {
                what: "summary",
                source,
            })?,
        ),
        (
            "strongest.png",
            contact_sheet(set, &to_pairs(&sheets.strongest), 3)?,
        ),
        (
            "at_threshold.png",
            contact_sheet(set, &to_pairs(&sheets.at_threshold), 3)?,
        ),
        (
            "REPORT.md",
            report(set, audit, summary, &sheets, validation, recall).into_bytes(),
        ),
    ];
    std::fs::create_dir_all(out).map_err(AuditError::io(out))?;
    for (name, bytes) in files {
        write_atomic(&out.join(name), &bytes)?;
    }
    Ok(())
}
