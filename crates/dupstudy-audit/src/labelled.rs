//! The audit's recall on hand-labelled duplicates: ciFAIR's lists of CIFAR-10's
//! near-duplicates (test -> training and test -> test pairs, `fixtures/cifair/`), split
//! into a development half (every test image of the pair has an index below 5,000: the
//! only pairs thresholds may be chosen on) and a held-out half (the rest, reported, never
//! tuned on).

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::audit::{Pair, group_pairs};
use crate::error::{AuditError, Result};

/// Test images below this index form the development half.
pub const DEVELOPMENT_BELOW: usize = 5_000;
/// Training images in CIFAR-10 (positions of test images in an audited set start here).
pub const TRAIN_IMAGES: usize = 50_000;

/// One labelled pair.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Labelled {
    /// The test image.
    pub test: usize,
    /// The other image: a training image, or a test image when `within_test`.
    pub other: usize,
    /// Whether both are test images.
    pub within_test: bool,
    /// ciFAIR's judgment: 0 exact, 1 near-duplicate, 2 very similar.
    pub judgment: u8,
    /// The list's `Distance` column: how far apart the two images lie in the feature space
    /// of the network ciFAIR searched with (0.076-0.245 in its CIFAR-10 lists).
    #[serde(default)]
    pub distance: f32,
}

impl Labelled {
    /// Whether ciFAIR judged the two images one camera shot (an exact or a near-duplicate,
    /// judgment 0 or 1), not two different photos that are "very similar" (judgment 2).
    pub fn same_shot(&self) -> bool {
        self.judgment <= 1
    }

    /// Whether it belongs to the development half.
    pub fn development(&self) -> bool {
        self.test < DEVELOPMENT_BELOW && (!self.within_test || self.other < DEVELOPMENT_BELOW)
    }

    /// The two images' positions in a CIFAR-10 audit of all 60,000 images (training first).
    pub fn positions(&self) -> (usize, usize) {
        let other = if self.within_test {
            TRAIN_IMAGES + self.other
        } else {
            self.other
        };
        (TRAIN_IMAGES + self.test, other)
    }
}

/// Parses a ciFAIR list (`TestID,TrainID,Distance,Judgment`); `within_test` for the
/// test -> test list.
///
/// # Errors
/// A header or row that does not match, naming the file and line.
pub fn parse(text: &str, within_test: bool, file: &Path) -> Result<Vec<Labelled>> {
    let bad = |line: usize, message: String| layout_error(file, line, message);
    let limit = |within: bool| if within { 10_000 } else { TRAIN_IMAGES };
    let mut out = Vec::new();
    for (n, line, fields) in csv_rows(text, "TestID,TrainID,Distance,Judgment", file)? {
        let number = |i: usize, what: &str, below: usize| -> Result<usize> {
            fields
                .get(i)
                .and_then(|f| f.parse::<usize>().ok())
                .filter(|&v| v < below)
                .ok_or_else(|| {
                    bad(
                        n,
                        format!("{what} must be an index below {below}: `{line}`"),
                    )
                })
        };
        let test = number(0, "TestID", 10_000)?;
        let other = number(1, "TrainID", limit(within_test))?;
        let judgment = number(3, "Judgment", 3)? as u8;
        let distance = fields
            .get(2)
            .and_then(|f| f.parse::<f32>().ok())
            .filter(|d| d.is_finite() && *d >= 0.0)
            .ok_or_else(|| {
                bad(
                    n,
                    format!("Distance must be a finite number >= 0: `{line}`"),
                )
            })?;
        out.push(Labelled {
            test,
            other,
            within_test,
            judgment,
            distance,
        });
    }
    Ok(out)
}

/// Reads both lists from `dir` (`duplicates_cifar10.csv`, `duplicates_cifar10_test.csv`).
///
/// # Errors
/// Missing or malformed files, naming them.
pub fn load(dir: &Path) -> Result<Vec<Labelled>> {
    let mut all = Vec::new();
    for (name, within) in [
        ("duplicates_cifar10.csv", false),
        ("duplicates_cifar10_test.csv", true),
    ] {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).map_err(AuditError::io(&path))?;
        all.extend(parse(&text, within, &path)?);
    }
    Ok(all)
}

/// Recall of one half and kind of pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Count {
    /// Labelled pairs.
    pub labelled: usize,
    /// Of them, pairs whose two images the audit put in one group.
    pub found: usize,
}

impl Count {
    /// Counts one more labelled pair, found or not.
    fn add(&mut self, found: bool) {
        self.labelled += 1;
        self.found += usize::from(found);
    }

    /// `found / labelled` in `[0, 1]` (0 for no pair).
    pub fn recall(&self) -> f64 {
        if self.labelled == 0 {
            0.0
        } else {
            self.found as f64 / self.labelled as f64
        }
    }
}

/// `found/labelled (recall %)`, as the recall tables print it.
impl std::fmt::Display for Count {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{} ({:.1} %)",
            self.found,
            self.labelled,
            100.0 * self.recall()
        )
    }
}

/// The audit's recall at one threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// The threshold on the aligned similarity.
    pub threshold: f32,
    /// Test -> training pairs: development, held out.
    pub test_train: [Count; 2],
    /// Test -> test pairs: development, held out.
    pub within_test: [Count; 2],
    /// Test images in a group with a training image (what a user would have to look at).
    pub flagged_test_images: usize,
    /// Of them, in the development half (index below [`DEVELOPMENT_BELOW`]) and held out.
    #[serde(default)]
    pub flagged_by_half: [usize; 2],
    /// Of the test -> training pairs, those ciFAIR judged one camera shot
    /// ([`Labelled::same_shot`]): development, held out.
    #[serde(default)]
    pub same_shot_test_train: [Count; 2],
    /// Of the test -> test pairs, those judged one camera shot: development, held out.
    #[serde(default)]
    pub same_shot_within_test: [Count; 2],
}

/// Recall of `labelled` when the pairs at or above `threshold` among `pairs` (positions in
/// a 60,000-image CIFAR-10 audit) are grouped.
pub fn at_threshold(labelled: &[Labelled], pairs: &[Pair], threshold: f32) -> Point {
    let (groups, group_of) = grouped(pairs, threshold);
    let mut point = Point {
        threshold,
        test_train: [Count::default(); 2],
        within_test: [Count::default(); 2],
        flagged_test_images: 0,
        flagged_by_half: [0; 2],
        same_shot_test_train: [Count::default(); 2],
        same_shot_within_test: [Count::default(); 2],
    };
    for l in labelled {
        let found = found(&group_of, l);
        let half = usize::from(!l.development());
        let (all, same_shot) = if l.within_test {
            (
                &mut point.within_test[half],
                &mut point.same_shot_within_test[half],
            )
        } else {
            (
                &mut point.test_train[half],
                &mut point.same_shot_test_train[half],
            )
        };
        all.add(found);
        if l.same_shot() {
            same_shot.add(found);
        }
    }
    let with_train: HashSet<usize> = groups
        .iter()
        .filter(|g| g.iter().any(|&i| i < TRAIN_IMAGES))
        .flat_map(|g| g.iter().copied().filter(|&i| i >= TRAIN_IMAGES))
        .collect();
    point.flagged_test_images = with_train.len();
    let development = with_train
        .iter()
        .filter(|&&i| i - TRAIN_IMAGES < DEVELOPMENT_BELOW)
        .count();
    point.flagged_by_half = [development, with_train.len() - development];
    point
}

/// The groups of the pairs at or above `threshold` among `pairs` (positions in a
/// 60,000-image CIFAR-10 audit), and each image's group (`usize::MAX` for none).
fn grouped(pairs: &[Pair], threshold: f32) -> (Vec<Vec<usize>>, Vec<usize>) {
    let kept: Vec<Pair> = pairs
        .iter()
        .copied()
        .filter(|p| p.score >= threshold)
        .collect();
    let groups = group_pairs(TRAIN_IMAGES + 10_000, &kept);
    let mut group_of = vec![usize::MAX; TRAIN_IMAGES + 10_000];
    for (g, members) in groups.iter().enumerate() {
        for &i in members {
            group_of[i] = g;
        }
    }
    (groups, group_of)
}

/// Whether the audit put both images of `l` in one group.
fn found(group_of: &[usize], l: &Labelled) -> bool {
    let (a, b) = l.positions();
    group_of[a] != usize::MAX && group_of[a] == group_of[b]
}

/// The upper edges of the bands of ciFAIR's own distance that [`by_distance`] counts
/// recall in (the lists run from 0.076 to 0.245; the last band is open above).
pub const DISTANCE_EDGES: [f32; 4] = [0.15, 0.18, 0.20, 0.22];

/// Recall of the labelled pairs whose ciFAIR distance lies in one band.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DistanceBand {
    /// The band's lower edge (inclusive; 0 for the first band).
    pub from: f32,
    /// Its upper edge (exclusive; infinite for the last band).
    pub below: f32,
    /// Test -> training pairs in it: development, held out.
    pub test_train: [Count; 2],
    /// Test -> test pairs in it: development, held out.
    pub within_test: [Count; 2],
}

/// Recall at `threshold` split by the bands of [`DISTANCE_EDGES`] of the list's own
/// distance: whether the pairs the audit misses are those ciFAIR's network also held far
/// apart.
pub fn by_distance(labelled: &[Labelled], pairs: &[Pair], threshold: f32) -> Vec<DistanceBand> {
    let (_, group_of) = grouped(pairs, threshold);
    let mut edges = vec![0.0];
    edges.extend(DISTANCE_EDGES);
    edges.push(f32::INFINITY);
    let mut bands: Vec<DistanceBand> = edges
        .windows(2)
        .map(|w| DistanceBand {
            from: w[0],
            below: w[1],
            test_train: [Count::default(); 2],
            within_test: [Count::default(); 2],
        })
        .collect();
    for l in labelled {
        let band = DISTANCE_EDGES
            .iter()
            .take_while(|&&e| l.distance >= e)
            .count();
        let half = usize::from(!l.development());
        let count = if l.within_test {
            &mut bands[band].within_test[half]
        } else {
            &mut bands[band].test_train[half]
        };
        count.add(found(&group_of, l));
    }
    bands
}

/// [`by_distance`] at each of `thresholds`, as a markdown table (a band's rows grouped by
/// threshold).
pub fn by_distance_markdown(labelled: &[Labelled], pairs: &[Pair], thresholds: &[f32]) -> String {
    use std::fmt::Write;
    let mut r = String::from(
        "\nRecall by the list's own distance (how far apart ciFAIR's network held the two images; its lists stop at 0.245):\n\n| threshold | ciFAIR distance | test->train, development | test->train, held out | within test, development | within test, held out |\n|---:|---|---:|---:|---:|---:|\n",
    );
    for &t in thresholds {
        for band in by_distance(labelled, pairs, t) {
            let range = if band.below.is_infinite() {
                format!(">= {:.2}", band.from)
            } else {
                format!("{:.2}-{:.2}", band.from, band.below)
            };
            let _ = writeln!(
                r,
                "| {t:.3} | {range} | {} | {} | {} | {} |",
                band.test_train[0], band.test_train[1], band.within_test[0], band.within_test[1],
            );
        }
    }
    r
}

/// A test image the audit pairs with a training image although the labelled list names no
/// training partner for it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Unlisted {
    /// The test image (index in the test split).
    pub test: usize,
    /// Its best-scoring training partner (index in the training split).
    pub train: usize,
    /// The audit's score of that pair.
    pub score: f32,
}

/// The test images that have a direct pair with a training image at or above `threshold`
/// among `pairs` (positions in a 60,000-image CIFAR-10 audit) but no test -> training entry
/// in `labelled`, each with its best training partner, highest score first (ties by test
/// index). What the audit finds beyond the list: either duplicates the list lacks or the
/// audit's false pairs, which only a look tells apart.
pub fn unlisted(labelled: &[Labelled], pairs: &[Pair], threshold: f32) -> Vec<Unlisted> {
    let listed: HashSet<usize> = labelled
        .iter()
        .filter(|l| !l.within_test)
        .map(|l| l.test)
        .collect();
    let mut best: std::collections::BTreeMap<usize, Unlisted> = std::collections::BTreeMap::new();
    for p in pairs.iter().filter(|p| p.score >= threshold) {
        let (test, train) = match (p.a >= TRAIN_IMAGES, p.b >= TRAIN_IMAGES) {
            (true, false) => (p.a - TRAIN_IMAGES, p.b),
            (false, true) => (p.b - TRAIN_IMAGES, p.a),
            _ => continue,
        };
        if listed.contains(&test) {
            continue;
        }
        let entry = best.entry(test).or_insert(Unlisted {
            test,
            train,
            score: p.score,
        });
        if p.score > entry.score {
            *entry = Unlisted {
                test,
                train,
                score: p.score,
            };
        }
    }
    let mut out: Vec<Unlisted> = best.into_values().collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.test.cmp(&b.test)));
    out
}

/// What a person saw in an unlisted pair, looked at beside each other
/// (`docs/audit-cifar10/unlisted-judged.csv`): a look, not a second labelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Judgment {
    /// Clearly one photo (re-coloured, re-cropped, mirrored, re-encoded).
    SamePhoto,
    /// Too close to call at the size looked at.
    Unsure,
    /// Two different photos.
    Different,
}

impl Judgment {
    /// The name the judged file spells it with.
    pub fn name(self) -> &'static str {
        match self {
            Judgment::SamePhoto => "same photo",
            Judgment::Unsure => "unsure",
            Judgment::Different => "different",
        }
    }
}

/// One judged test -> training pair.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Judged {
    /// The test image (index in the test split).
    pub test: usize,
    /// The training image it was looked at beside (index in the training split).
    pub train: usize,
    /// What was seen.
    pub judgment: Judgment,
}

/// The header of a judged file; `source` and `rank` say where a pair was drawn from.
pub const JUDGED_HEADER: &str = "test,train,score,source,rank,judgment";

/// The judged pairs of a CSV file with [`JUDGED_HEADER`], one row per test image.
///
/// # Errors
/// A header or row that does not match, an index out of CIFAR-10's range, an unknown
/// judgment or a test image judged twice, naming the file and line.
pub fn judged_from_csv(text: &str, file: &Path) -> Result<Vec<Judged>> {
    let bad = |line: usize, message: String| layout_error(file, line, message);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (n, line, f) in csv_rows(text, JUDGED_HEADER, file)? {
        let parsed = (f.len() == 6)
            .then(|| {
                Some(Judged {
                    test: f[0].parse().ok().filter(|&t: &usize| t < 10_000)?,
                    train: f[1].parse().ok().filter(|&t: &usize| t < TRAIN_IMAGES)?,
                    judgment: match f[5] {
                        "same photo" => Judgment::SamePhoto,
                        "unsure" => Judgment::Unsure,
                        "different" => Judgment::Different,
                        _ => return None,
                    },
                })
            })
            .flatten()
            .ok_or_else(|| {
                bad(
                    n,
                    format!(
                        "expected a test index below 10000, a training index below 50000, score, source, rank and `same photo`, `unsure` or `different`: `{line}`"
                    ),
                )
            })?;
        if !seen.insert(parsed.test) {
            return Err(bad(n, format!("test image {} judged twice", parsed.test)));
        }
        out.push(parsed);
    }
    Ok(out)
}

/// How the unlisted test images at one threshold ([`unlisted`]) were judged.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct JudgedCount {
    /// The threshold.
    pub threshold: f32,
    /// Unlisted test images flagged at it.
    pub unlisted: usize,
    /// Of them, judged the same photo as the training partner the audit gives them.
    pub same_photo: usize,
    /// Judged too close to call.
    pub unsure: usize,
    /// Judged two different photos.
    pub different: usize,
    /// Not in the judged file with that partner.
    pub not_judged: usize,
}

/// Counts the judgments of the unlisted test images at `threshold`; a judgment counts only
/// for the pair it was made on (the same test image and best training partner).
pub fn judged_at(
    labelled: &[Labelled],
    pairs: &[Pair],
    judged: &[Judged],
    threshold: f32,
) -> JudgedCount {
    let by_test: std::collections::HashMap<usize, &Judged> =
        judged.iter().map(|j| (j.test, j)).collect();
    let mut c = JudgedCount {
        threshold,
        ..JudgedCount::default()
    };
    for u in unlisted(labelled, pairs, threshold) {
        c.unlisted += 1;
        match by_test.get(&u.test).filter(|j| j.train == u.train) {
            Some(j) => match j.judgment {
                Judgment::SamePhoto => c.same_photo += 1,
                Judgment::Unsure => c.unsure += 1,
                Judgment::Different => c.different += 1,
            },
            None => c.not_judged += 1,
        }
    }
    c
}

/// Test images the list names a training partner for.
pub fn listed_test_images(labelled: &[Labelled]) -> usize {
    labelled
        .iter()
        .filter(|l| !l.within_test)
        .map(|l| l.test)
        .collect::<HashSet<_>>()
        .len()
}

/// How the labelled-recall study scores a candidate pair.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scoring {
    /// The audit's aligned similarity ([`crate::features::Alignment::score`]).
    Aligned,
    /// The mean of the aligned similarity and the thumbnails' correlation
    /// ([`crate::neighbours`]): the alignment sees the detail, the thumbnail the whole.
    Fused,
    /// The higher of the aligned similarity and `weight` times it plus `1 - weight` times
    /// the learned descriptors' similarity ([`Candidate::learned`]; 0 where none was set):
    /// the descriptor can raise a pair whose pixels moved, never lower one the alignment
    /// recognizes (a mirror or a colour cast moves a classifier's features).
    Learned(f32),
}

impl Scoring {
    /// Every scoring, in report order.
    pub const ALL: [Scoring; 2] = [Scoring::Aligned, Scoring::Fused];

    /// `aligned`, `fused` or `learned`.
    pub fn name(self) -> &'static str {
        match self {
            Scoring::Aligned => "aligned",
            Scoring::Fused => "fused",
            Scoring::Learned(_) => "learned",
        }
    }
}

/// A candidate pair of the labelled-recall study: a test image and one of its nearest
/// images by thumbnail.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// The test image's position in the audited set.
    pub test: usize,
    /// The other image's position.
    pub other: usize,
    /// The thumbnails' correlation (image or mirror).
    pub thumbnail: f32,
    /// The aligned similarity (full search, no coarse gate).
    pub aligned: f32,
    /// The learned descriptors' similarity, once [`set_learned`] gave it.
    #[serde(default)]
    pub learned: Option<f32>,
}

impl Candidate {
    /// The pair's score under `scoring`.
    pub fn score(&self, scoring: Scoring) -> f32 {
        match scoring {
            Scoring::Aligned => self.aligned,
            Scoring::Fused => 0.5 * (self.aligned + self.thumbnail),
            Scoring::Learned(weight) => {
                crate::audit::fused_score(self.aligned, self.learned.unwrap_or(0.0), weight)
            }
        }
    }

    /// As an audit pair scored under `scoring`.
    pub fn pair(&self, scoring: Scoring) -> Pair {
        Pair {
            a: self.test.min(self.other),
            b: self.test.max(self.other),
            score: self.score(scoring),
            kind: crate::audit::PairKind::Near,
            mirror: false,
        }
    }
}

/// The candidates of every test image of `set`: its `k_train` nearest training images and
/// `k_test` nearest other test images by thumbnail (exact search, [`crate::neighbours`]),
/// each aligned with the full search (no coarse gate), so every candidate has an exact
/// score down to any threshold. A test pair met from both sides is kept once.
pub fn test_candidates(
    set: &crate::ImageSet,
    features: &crate::features::Features,
    k_train: usize,
    k_test: usize,
) -> Vec<Candidate> {
    use crate::neighbours::{mirror, nearest, thumbnail};
    use rayon::prelude::*;
    let of = |split: crate::SplitName| -> Vec<usize> {
        (0..set.len())
            .filter(|&i| set.info[i].split == split)
            .collect()
    };
    let (train, test) = (of(crate::SplitName::Train), of(crate::SplitName::Test));
    let thumbs = |members: &[usize]| -> Vec<f32> {
        members
            .par_iter()
            .flat_map_iter(|&i| thumbnail(set.image(i), set.width, set.height))
            .collect()
    };
    let (train_t, test_t) = (thumbs(&train), thumbs(&test));
    let test_m: Vec<f32> = test_t
        .chunks(crate::neighbours::DIM)
        .flat_map(mirror)
        .collect();
    let to_train = nearest(&test_t, &test_m, &train_t, k_train, &|_, _| false);
    let to_test = nearest(&test_t, &test_m, &test_t, k_test, &|q, b| q == b);
    let mut wanted: Vec<(usize, usize, f32)> = Vec::new();
    let mut seen = HashSet::new();
    for (q, (a, b)) in to_train.iter().zip(&to_test).enumerate() {
        for n in a {
            wanted.push((test[q], train[n.index], n.similarity));
        }
        for n in b {
            let key = (q.min(n.index), q.max(n.index));
            if seen.insert(key) {
                wanted.push((test[q], test[n.index], n.similarity));
            }
        }
    }
    wanted
        .par_iter()
        .map(|&(t, o, thumb)| Candidate {
            test: t,
            other: o,
            thumbnail: thumb,
            aligned: crate::features::align(features, t, o, -1.0).score,
            learned: None,
        })
        .collect()
}

/// Adds each `(test, other)` pair of `wanted` that `candidates` lacks (in either order),
/// with its thumbnails' correlation (image or mirror) and its aligned similarity (full
/// search, no coarse gate), as [`test_candidates`] scores its own; `test` must be a test
/// image. Another search's neighbours join the thumbnail's this way.
pub fn add_candidates(
    set: &crate::ImageSet,
    features: &crate::features::Features,
    candidates: &mut Vec<Candidate>,
    wanted: &[(usize, usize)],
) {
    use crate::neighbours::{dot, mirror, thumbnail};
    use rayon::prelude::*;
    let mut have: HashSet<(usize, usize)> = candidates
        .iter()
        .map(|c| (c.test.min(c.other), c.test.max(c.other)))
        .collect();
    let new: Vec<(usize, usize)> = wanted
        .iter()
        .copied()
        .filter(|&(t, o)| t != o && have.insert((t.min(o), t.max(o))))
        .collect();
    let thumb = |i: usize| thumbnail(set.image(i), set.width, set.height);
    candidates.par_extend(new.par_iter().map(|&(t, o)| {
        let (a, b) = (thumb(t), thumb(o));
        Candidate {
            test: t,
            other: o,
            thumbnail: dot(&a, &b).max(dot(&mirror(&a), &b)),
            aligned: crate::features::align(features, t, o, -1.0).score,
            learned: None,
        }
    }));
}

/// Sets every candidate's [`Candidate::learned`] to `similarity(test, other)`.
pub fn set_learned(
    candidates: &mut [Candidate],
    similarity: &(dyn Fn(usize, usize) -> f32 + Sync),
) {
    use rayon::prelude::*;
    candidates
        .par_iter_mut()
        .for_each(|c| c.learned = Some(similarity(c.test, c.other)));
}

/// The rule that chooses the learned score's weight, on the development half only: for
/// each of `weights`, [`chosen_on_development`] at [`DEVELOPMENT_BUDGET`] under
/// [`Scoring::Learned`]; the weight whose point finds the most development test->train
/// pairs wins, ties to the larger weight (more of the exact alignment). Returns the weight
/// and its point; `None` when no weight has a point.
pub fn chosen_weight(
    labelled: &[Labelled],
    candidates: &[Candidate],
    weights: &[f32],
) -> Option<(f32, Point)> {
    let mut best: Option<(f32, Point)> = None;
    for &weight in weights {
        let pairs: Vec<Pair> = candidates
            .iter()
            .map(|c| c.pair(Scoring::Learned(weight)))
            .collect();
        let Some(point) = chosen_on_development(labelled, &pairs, DEVELOPMENT_BUDGET) else {
            continue;
        };
        let better = best.as_ref().is_none_or(|(w, b)| {
            let (found, best_found) = (point.test_train[0].found, b.test_train[0].found);
            found > best_found || (found == best_found && weight > *w)
        });
        if better {
            best = Some((weight, point));
        }
    }
    best
}

/// The labelled recall when at most `budget` test images may be flagged: the lowest
/// threshold on a grid of 0.005 whose flagged test images stay within the budget, and the
/// recall there (`None` when even a threshold of 1 flags more).
pub fn at_budget(labelled: &[Labelled], pairs: &[Pair], budget: usize) -> Option<Point> {
    let mut best = None;
    // Flagged images grow as the threshold falls: walk down until the budget is passed.
    for step in 0..=400 {
        let threshold = 1.0 - 0.005 * step as f32;
        let point = at_threshold(labelled, pairs, threshold);
        if point.flagged_test_images > budget {
            break;
        }
        best = Some(point);
    }
    best
}

/// Test images of the development half the default threshold may flag: the goal's 450 of
/// 10,000 test images, pro rata for the 5,000 of the development half.
pub const DEVELOPMENT_BUDGET: usize = 225;

/// The rule that chose the audit's default threshold ([`crate::AuditParams::DEFAULT_THRESHOLD`]),
/// on the development half only: the lowest threshold on a grid of 0.005 at which at most
/// `budget` development-half test images are flagged (flagged images only grow as the
/// threshold falls, so this is the development half's highest recall within the budget).
/// `pairs` must hold every pair down to the thresholds walked; `None` when even 1 flags more.
pub fn chosen_on_development(
    labelled: &[Labelled],
    pairs: &[Pair],
    budget: usize,
) -> Option<Point> {
    let lowest = pairs.iter().map(|p| p.score).fold(1.0f32, f32::min);
    let mut best = None;
    for step in 0..=200u16 {
        // k / 200 rounds to the nearest f32 of each grid value (0.6 is 0.6f32).
        let threshold = f32::from(200 - step) / 200.0;
        if threshold < lowest - 1e-6 {
            break;
        }
        let point = at_threshold(labelled, pairs, threshold);
        if point.flagged_by_half[0] > budget {
            break;
        }
        best = Some(point);
    }
    best
}

/// Recall on a labelled list along thresholds, as the audit report shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    /// One point per threshold, ascending.
    pub points: Vec<Point>,
    /// Per point, the flagged test images the list names no training partner for
    /// ([`unlisted`]).
    pub unlisted: Vec<usize>,
}

/// The curve at `thresholds` (ascending after sorting) of an audit's `pairs`.
pub fn curve(labelled: &[Labelled], pairs: &[Pair], thresholds: &[f32]) -> Curve {
    let mut thresholds = thresholds.to_vec();
    thresholds.sort_by(f32::total_cmp);
    thresholds.dedup();
    Curve {
        points: thresholds
            .iter()
            .map(|&t| at_threshold(labelled, pairs, t))
            .collect(),
        unlisted: thresholds
            .iter()
            .map(|&t| unlisted(labelled, pairs, t).len())
            .collect(),
    }
}

/// The thresholds the audit report's curve shows: from `threshold` up to 0.98 in steps of
/// 0.02, with `threshold` itself and the first published audit's 0.80.
pub fn report_thresholds(threshold: f32) -> Vec<f32> {
    let mut all = vec![threshold];
    let mut t = (threshold * 50.0).ceil() / 50.0;
    while t <= 0.98 + 1e-6 {
        if t > threshold + 1e-4 {
            all.push(t);
        }
        t += 0.02;
    }
    if crate::AuditParams::FIRST_THRESHOLD >= threshold {
        all.push(crate::AuditParams::FIRST_THRESHOLD);
    }
    all.sort_by(f32::total_cmp);
    all.dedup_by(|a, b| (*a - *b).abs() < 1e-4);
    all
}

/// The audit's pairs as positions of a 60,000-image CIFAR-10 audit (training first), or
/// `None` when `set` is not CIFAR-10's 50,000 training and 10,000 test images.
pub fn cifar10_positions(set: &crate::images::ImageSet, pairs: &[Pair]) -> Option<Vec<Pair>> {
    use crate::images::SplitName;
    if set.count(SplitName::Train) != TRAIN_IMAGES || set.count(SplitName::Test) != 10_000 {
        return None;
    }
    let position = |i: usize| {
        let info = &set.info[i];
        match info.split {
            SplitName::Train => info.index,
            SplitName::Test => TRAIN_IMAGES + info.index,
        }
    };
    Some(
        pairs
            .iter()
            .map(|p| Pair {
                a: position(p.a),
                b: position(p.b),
                ..*p
            })
            .collect(),
    )
}

/// A table's threshold cell: `at` to three places, in bold when it is the audit's `threshold`.
fn threshold_cell(at: f32, threshold: f32) -> String {
    if (at - threshold).abs() < 1e-4 {
        format!("**{at:.3}**")
    } else {
        format!("{at:.3}")
    }
}

/// The audit report's section on the labelled list: the recall curve on both halves
/// against the test images flagged, at the audit's `threshold` in bold; `figure` is the
/// file name of its drawing, if any.
pub fn curve_markdown(curve: &Curve, threshold: f32, figure: Option<&str>) -> String {
    use std::fmt::Write;
    let labelled = curve.points.first().map_or([0; 4], |p| {
        [
            p.test_train[0].labelled,
            p.test_train[1].labelled,
            p.within_test[0].labelled,
            p.within_test[1].labelled,
        ]
    });
    let mut r = String::new();
    let _ = writeln!(
        r,
        "## Recall on hand-labelled near-duplicates
"
    );
    let _ = writeln!(
        r,
        "ciFAIR's hand-labelled lists of CIFAR-10's near-duplicates (Barz & Denzler, 2020): {} test -> training and {} within-test pairs. The **development** half (every test image of the pair below index {DEVELOPMENT_BELOW}: {} and {} pairs) is the only one thresholds were chosen on; the **held-out** half ({} and {} pairs) is reported, never tuned on. A pair counts as found when the audit puts both images in one group; a test image is flagged when its group holds a training image. The list is not complete: the last column counts flagged test images it names no training partner for (duplicates it lacks, or false pairs; only a look tells).\n",
        labelled[0] + labelled[1],
        labelled[2] + labelled[3],
        labelled[0],
        labelled[2],
        labelled[1],
        labelled[3],
    );
    let _ = writeln!(
        r,
        "| threshold | test->train, development | test->train, held out | within test, development | within test, held out | test images flagged (dev. / held out) | flagged, not in the list |"
    );
    let _ = writeln!(r, "|---:|---:|---:|---:|---:|---:|---:|");
    for (p, unlisted) in curve.points.iter().zip(&curve.unlisted) {
        let t = threshold_cell(p.threshold, threshold);
        let _ = writeln!(
            r,
            "| {t} | {} | {} | {} | {} | {} ({} / {}) | {unlisted} |",
            p.test_train[0],
            p.test_train[1],
            p.within_test[0],
            p.within_test[1],
            p.flagged_test_images,
            p.flagged_by_half[0],
            p.flagged_by_half[1],
        );
    }
    r.push_str(&same_shot_markdown(curve, threshold));
    if let Some(figure) = figure {
        let _ = writeln!(r, "\n![recall against test images flagged]({figure})");
    }
    r.push('\n');
    r
}

/// The curve's recall on the pairs ciFAIR judged one camera shot ([`Labelled::same_shot`])
/// beside its recall on the pairs it judged two different but very similar photos, as a
/// markdown paragraph and table (the audit's `threshold` in bold).
pub fn same_shot_markdown(curve: &Curve, threshold: f32) -> String {
    use std::fmt::Write;
    let mut r = String::new();
    let Some(first) = curve.points.first() else {
        return r;
    };
    let _ = writeln!(
        r,
        "\nciFAIR judged each pair: an exact or a *near-duplicate* (\"both originated from the same camera shot\", with colour shifts, translations or scaling) or *very similar* (\"the contents of the two images are different\"). The same curve on each kind ({} and {} test -> training pairs, development / held out; {} and {} within the test set):\n",
        first.same_shot_test_train[0].labelled + first.same_shot_test_train[1].labelled,
        first.test_train[0].labelled + first.test_train[1].labelled
            - first.same_shot_test_train[0].labelled
            - first.same_shot_test_train[1].labelled,
        first.same_shot_within_test[0].labelled + first.same_shot_within_test[1].labelled,
        first.within_test[0].labelled + first.within_test[1].labelled
            - first.same_shot_within_test[0].labelled
            - first.same_shot_within_test[1].labelled,
    );
    let _ = writeln!(
        r,
        "| threshold | same shot: test->train, development | same shot: test->train, held out | same shot: within test, dev. / held out | very similar: test->train, dev. / held out | very similar: within test, dev. / held out | test images flagged |"
    );
    let _ = writeln!(r, "|---:|---:|---:|---:|---:|---:|---:|");
    let other = |all: Count, same: Count| Count {
        labelled: all.labelled - same.labelled,
        found: all.found - same.found,
    };
    for p in &curve.points {
        let t = threshold_cell(p.threshold, threshold);
        let _ = writeln!(
            r,
            "| {t} | {} | {} | {} / {} | {} / {} | {} / {} | {} |",
            p.same_shot_test_train[0],
            p.same_shot_test_train[1],
            p.same_shot_within_test[0],
            p.same_shot_within_test[1],
            other(p.test_train[0], p.same_shot_test_train[0]),
            other(p.test_train[1], p.same_shot_test_train[1]),
            other(p.within_test[0], p.same_shot_within_test[0]),
            other(p.within_test[1], p.same_shot_within_test[1]),
            p.flagged_test_images,
        );
    }
    r
}

/// The pairs of a CIFAR-10 audit's `pairs.csv` (every image of both splits audited, as
/// `cargo xtask audit` and `dupaudit scan --cifar` write it), as positions of a 60,000-image
/// audit.
///
/// # Errors
/// A header or row that does not match, naming the file and line.
pub fn pairs_from_csv(text: &str, file: &Path) -> Result<Vec<Pair>> {
    let mut pairs = Vec::new();
    for (n, line, f) in csv_rows(text, crate::output::PAIRS_HEADER, file)? {
        let position = |split: &str, index: &str| -> Option<usize> {
            let i: usize = index.parse().ok()?;
            match split {
                "train" if i < TRAIN_IMAGES => Some(i),
                "test" if i < 10_000 => Some(TRAIN_IMAGES + i),
                _ => None,
            }
        };
        let parsed = (f.len() == 8)
            .then(|| {
                Some(Pair {
                    a: position(f[0], f[1])?,
                    b: position(f[3], f[4])?,
                    score: f[6].parse().ok()?,
                    kind: match f[7] {
                        "exact" => crate::audit::PairKind::Exact,
                        "near" => crate::audit::PairKind::Near,
                        _ => return None,
                    },
                    mirror: false,
                })
            })
            .flatten();
        pairs.push(parsed.ok_or_else(|| {
            layout_error(
                file,
                n,
                format!("expected train|test,index,,train|test,index,,score,exact|near of CIFAR-10: `{line}`"),
            )
        })?);
    }
    Ok(pairs)
}

/// An error at `line` (from 1) of `file`.
fn layout_error(file: &Path, line: usize, message: String) -> AuditError {
    AuditError::Layout {
        path: file.to_path_buf(),
        message: format!("line {line}: {message}"),
    }
}

/// The rows of a CSV `text` whose first line must be `header`: each non-empty line after it
/// with its line number (from 1) and its comma-separated fields.
///
/// # Errors
/// Another header, naming the file.
fn csv_rows<'a>(
    text: &'a str,
    header: &str,
    file: &Path,
) -> Result<Vec<(usize, &'a str, Vec<&'a str>)>> {
    let mut lines = text.lines();
    let found = lines.next().unwrap_or_default().trim();
    if found != header {
        return Err(layout_error(
            file,
            1,
            format!("header `{found}`; expected {header}"),
        ));
    }
    Ok(lines
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(k, l)| (k + 2, l, l.trim().split(',').collect()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::PairKind;

    /// A near pair of positions `a`, `b` at `score`, not mirrored.
    fn pair(a: usize, b: usize, score: f32) -> Pair {
        Pair {
            a,
            b,
            score,
            kind: PairKind::Near,
            mirror: false,
        }
    }

    /// A list of one test -> training pair: test 3, training image 9.
    fn one_listed_pair() -> Vec<Labelled> {
        parse(
            "TestID,TrainID,Distance,Judgment\n3,9,0.1,1\n",
            false,
            Path::new("t.csv"),
        )
        .unwrap()
    }

    #[test]
    fn unlisted_keeps_the_best_training_partner_of_test_images_the_list_lacks() {
        let labelled = one_listed_pair();
        let pairs = [
            pair(9, TRAIN_IMAGES + 3, 0.9),                 // listed: left out
            pair(4, TRAIN_IMAGES + 5, 0.82),                // unlisted
            pair(TRAIN_IMAGES + 5, 6, 0.88),                // the same test image, a better partner
            pair(7, TRAIN_IMAGES + 8, 0.79),                // below the threshold
            pair(TRAIN_IMAGES + 1, TRAIN_IMAGES + 2, 0.95), // within test: not a training twin
            pair(1, 2, 0.99),                               // within training
        ];
        let found = unlisted(&labelled, &pairs, 0.8);
        assert_eq!(
            found,
            vec![Unlisted {
                test: 5,
                train: 6,
                score: 0.88
            }]
        );
        assert_eq!(unlisted(&labelled, &pairs, 0.7).len(), 2);
    }

    #[test]
    fn judgments_count_only_for_the_pair_they_were_made_on() {
        let labelled = one_listed_pair();
        let judged = judged_from_csv(
            "test,train,score,source,rank,judgment\n5,6,0.88,a,1,same photo\n8,7,0.79,a,2,different\n1,2,0.9,a,3,unsure\n",
            Path::new("j.csv"),
        )
        .unwrap();
        let pairs = [
            pair(9, TRAIN_IMAGES + 3, 0.9),  // listed: not counted
            pair(6, TRAIN_IMAGES + 5, 0.88), // judged the same photo
            pair(7, TRAIN_IMAGES + 8, 0.79), // judged different, below 0.8
            pair(4, TRAIN_IMAGES + 1, 0.85), // judged beside another partner: not judged
        ];
        let at = judged_at(&labelled, &pairs, &judged, 0.8);
        assert_eq!(
            (
                at.unlisted,
                at.same_photo,
                at.unsure,
                at.different,
                at.not_judged
            ),
            (2, 1, 0, 0, 1)
        );
        let at = judged_at(&labelled, &pairs, &judged, 0.7);
        assert_eq!((at.unlisted, at.different, at.not_judged), (3, 1, 1));
        assert_eq!(listed_test_images(&labelled), 1);
    }

    #[test]
    fn a_bad_judged_file_names_its_line() {
        let f = Path::new("j.csv");
        let header = "test,train,score,source,rank,judgment\n";
        for (body, needle) in [
            ("5,6,0.9,a,1,maybe\n", "line 2"),
            ("10000,6,0.9,a,1,unsure\n", "line 2"),
            (
                "5,6,0.9,a,1,unsure\n5,7,0.8,a,2,different\n",
                "judged twice",
            ),
        ] {
            let e = judged_from_csv(&format!("{header}{body}"), f).unwrap_err();
            assert!(e.to_string().contains(needle), "{e}");
        }
        let e = judged_from_csv("test,train\n", f).unwrap_err();
        assert!(e.to_string().contains("header"), "{e}");
    }

    #[test]
    fn the_budget_picks_the_lowest_threshold_that_flags_no_more_test_images() {
        let labelled = parse(
            "TestID,TrainID,Distance,Judgment\n0,0,0.1,1\n1,1,0.1,1\n",
            false,
            Path::new("t.csv"),
        )
        .unwrap();
        let candidate = |test: usize, other: usize, aligned: f32, thumbnail: f32| Candidate {
            test: TRAIN_IMAGES + test,
            other,
            thumbnail,
            aligned,
            learned: None,
        };
        let candidates = [
            candidate(0, 0, 0.9, 0.9),
            candidate(1, 1, 0.5, 0.9),
            candidate(2, 5, 0.8, 0.2),
        ];
        assert!((candidates[1].score(Scoring::Fused) - 0.7).abs() < 1e-6);
        let pairs = |s: Scoring| candidates.iter().map(|c| c.pair(s)).collect::<Vec<_>>();
        // Aligned: test 0 (0.9), then test 2 (0.8), test 1 last (0.5).
        let p = at_budget(&labelled, &pairs(Scoring::Aligned), 2).unwrap();
        assert_eq!((p.flagged_test_images, p.test_train[0].found), (2, 1));
        // The lowest grid threshold that keeps test 1 (0.5) out.
        assert!((p.threshold - 0.505).abs() < 1e-4, "{}", p.threshold);
        // Fused: test 0 (0.9), test 1 (0.7), test 2 (0.5): both labelled pairs in 2.
        let p = at_budget(&labelled, &pairs(Scoring::Fused), 2).unwrap();
        assert_eq!((p.flagged_test_images, p.test_train[0].found), (2, 2));
        assert!(at_budget(&labelled, &[candidates[0].pair(Scoring::Aligned)], 0).is_some());
        let one = [Candidate {
            aligned: 1.0,
            ..candidates[0]
        }
        .pair(Scoring::Aligned)];
        assert!(at_budget(&labelled, &one, 0).is_none());
    }

    #[test]
    fn the_weight_rule_reads_the_development_half_only_and_prefers_more_alignment() {
        // Two development pairs (tests 0, 1) and one held-out pair (test 6000).
        let labelled = parse(
            "TestID,TrainID,Distance,Judgment\n0,0,0.1,1\n1,1,0.1,1\n6000,2,0.1,1\n",
            false,
            Path::new("t.csv"),
        )
        .unwrap();
        let candidate = |test: usize, other: usize, aligned: f32, learned: f32| Candidate {
            test: TRAIN_IMAGES + test,
            other,
            thumbnail: 0.0,
            aligned,
            learned: Some(learned),
        };
        // Test 1's pair is seen only by the descriptor; an unlisted test image (3) scores
        // high on alignment, which the descriptor never lowers. Held-out test 6000 is found
        // only by alignment.
        let mut candidates: Vec<Candidate> = (0..DEVELOPMENT_BUDGET)
            .map(|k| candidate(3000 + k, 100 + k, 0.0, 0.0))
            .collect();
        candidates.extend([
            candidate(0, 0, 0.9, 0.9),
            candidate(1, 1, 0.05, 0.95),
            candidate(3, 7, 0.85, 0.2),
            candidate(6000, 2, 0.9, 0.1),
        ]);
        assert!(
            (candidates[DEVELOPMENT_BUDGET + 1].score(Scoring::Learned(0.2)) - 0.77).abs() < 1e-6
        );
        // 223 unlisted development images at 0.5 under every weight: a threshold of 0.5
        // leaves room for two more, so weight 0.5 (test 1 at 0.5, test 3 at 0.85) stops
        // above 0.5 with one pair, while 0.2 and 0 rank test 1 above the crowd.
        assert!(
            (candidates[DEVELOPMENT_BUDGET + 2].score(Scoring::Learned(0.0)) - 0.85).abs() < 1e-6
        );
        for c in candidates.iter_mut().take(DEVELOPMENT_BUDGET - 2) {
            c.aligned = 0.5;
            c.learned = Some(0.5);
        }
        let (weight, point) = chosen_weight(&labelled, &candidates, &[1.0, 0.5, 0.2, 0.0]).unwrap();
        // Weights 0.2 and 0 rank both development pairs first; 0.2 keeps more alignment.
        assert!((weight - 0.2).abs() < 1e-6, "{weight}");
        assert_eq!(point.test_train[0].found, 2);
        // The held-out pair did not vote: at weight 0 it would be lost, at 1 found.
        let ties = [candidate(0, 0, 0.9, 0.9), candidate(6000, 2, 0.9, 0.1)];
        let (weight, _) = chosen_weight(&labelled, &ties, &[0.0, 1.0]).unwrap();
        assert!(
            (weight - 1.0).abs() < 1e-6,
            "ties go to the larger weight: {weight}"
        );
        let mut added = vec![candidate(0, 0, 0.9, 0.9)];
        set_learned(&mut added, &|t, o| {
            if (t, o) == (TRAIN_IMAGES, 0) {
                0.25
            } else {
                1.0
            }
        });
        assert_eq!(added[0].learned, Some(0.25));
    }

    #[test]
    fn the_development_rule_counts_only_development_flags_and_the_curve_reports_both_halves() {
        let labelled = parse(
            "TestID,TrainID,Distance,Judgment\n0,0,0.1,1\n6000,1,0.1,1\n",
            false,
            Path::new("t.csv"),
        )
        .unwrap();
        let pair = |test: usize, train: usize, score: f32| Pair {
            a: train,
            b: TRAIN_IMAGES + test,
            score,
            kind: PairKind::Near,
            mirror: false,
        };
        // Development: test 0 (labelled, 0.9), test 1 (unlisted, 0.7); held out: test 6000
        // (labelled, 0.6), test 6001 (unlisted, 0.95).
        let pairs = [
            pair(0, 0, 0.9),
            pair(1, 5, 0.7),
            pair(6000, 1, 0.6),
            pair(6001, 6, 0.95),
        ];
        // A budget of 1 development image: the lowest threshold keeping test 1 out is 0.705,
        // whatever the held-out half flags.
        let p = chosen_on_development(&labelled, &pairs, 1).unwrap();
        assert!((p.threshold - 0.705).abs() < 1e-4, "{}", p.threshold);
        assert_eq!(p.flagged_by_half, [1, 1]);
        assert_eq!(p.flagged_test_images, 2);
        // A budget of 2: down to the lowest score in the pairs, no further.
        let p = chosen_on_development(&labelled, &pairs, 2).unwrap();
        assert!((p.threshold - 0.6).abs() < 1e-4, "{}", p.threshold);
        assert_eq!(p.test_train[1].found, 1);
        assert!(chosen_on_development(&labelled, &[pair(2, 3, 1.0)], 0).is_none());

        let c = curve(&labelled, &pairs, &[0.8, 0.6]);
        assert_eq!(c.points.len(), 2);
        assert!(c.points[0].threshold < c.points[1].threshold);
        assert_eq!(c.unlisted, vec![2, 1]);
        let text = curve_markdown(&c, 0.6, Some("recall.svg"));
        assert!(
            text.contains("| **0.600** | 1/1 (100.0 %) | 1/1 (100.0 %) |"),
            "{text}"
        );
        assert!(
            text.contains("| 0.800 | 1/1 (100.0 %) | 0/1 (0.0 %) |"),
            "{text}"
        );
        assert!(text.contains("(recall.svg)"));
    }

    #[test]
    fn recall_is_split_by_the_lists_judgment() {
        // Test 0 -> train 0 is one camera shot (found), test 1 -> train 1 two similar photos
        // (not found); held out: test 6000 -> train 2 one shot (not found), test 6001 -> train 3
        // similar (found); within test: 2 -> 7000 one shot (found).
        let mut labelled = parse(
            "TestID,TrainID,Distance,Judgment\n0,0,0.1,1\n1,1,0.1,2\n6000,2,0.1,0\n6001,3,0.2,2\n",
            false,
            Path::new("t.csv"),
        )
        .unwrap();
        labelled.extend(
            parse(
                "TestID,TrainID,Distance,Judgment\n2,7000,0.1,1\n",
                true,
                Path::new("u.csv"),
            )
            .unwrap(),
        );
        assert!(labelled[0].same_shot() && !labelled[1].same_shot() && labelled[2].same_shot());
        let pair = |a: usize, b: usize| Pair {
            a,
            b,
            score: 0.9,
            kind: PairKind::Near,
            mirror: false,
        };
        let pairs = [
            pair(0, TRAIN_IMAGES),
            pair(3, TRAIN_IMAGES + 6001),
            pair(TRAIN_IMAGES + 2, TRAIN_IMAGES + 7000),
        ];
        let p = at_threshold(&labelled, &pairs, 0.85);
        let count = |found, labelled| Count { labelled, found };
        assert_eq!(p.test_train, [count(1, 2), count(1, 2)]);
        assert_eq!(p.same_shot_test_train, [count(1, 1), count(0, 1)]);
        assert_eq!(p.within_test, [count(0, 0), count(1, 1)]);
        assert_eq!(p.same_shot_within_test, [count(0, 0), count(1, 1)]);
        let text = same_shot_markdown(&curve(&labelled, &pairs, &[0.85]), 0.85);
        assert!(text.contains("(2 and 2 test -> training pairs"), "{text}");
        assert!(
            text.contains(
                "| **0.850** | 1/1 (100.0 %) | 0/1 (0.0 %) | 0/0 (0.0 %) / 1/1 (100.0 %) | 0/1 (0.0 %) / 1/1 (100.0 %) | 0/0 (0.0 %) / 0/0 (0.0 %) | 2 |"
            ),
            "{text}"
        );
    }

    #[test]
    fn recall_is_split_by_the_lists_distance() {
        // Development: test 0 -> train 0 at distance 0.1 (found), test 1 -> train 1 at 0.21
        // (not found); held out: test 6000 -> train 2 at 0.24 (found).
        let labelled = parse(
            "TestID,TrainID,Distance,Judgment\n0,0,0.1,1\n1,1,0.21,1\n6000,2,0.24,2\n",
            false,
            Path::new("t.csv"),
        )
        .unwrap();
        assert!((labelled[1].distance - 0.21).abs() < 1e-6);
        let pairs = [
            pair(0, TRAIN_IMAGES, 0.9),
            pair(2, TRAIN_IMAGES + 6000, 0.8),
        ];
        let bands = by_distance(&labelled, &pairs, 0.85);
        assert_eq!(bands.len(), DISTANCE_EDGES.len() + 1);
        let count = |found, labelled| Count { labelled, found };
        assert_eq!(bands[0].test_train, [count(1, 1), count(0, 0)]);
        assert_eq!(bands[3].test_train, [count(0, 1), count(0, 0)]);
        assert_eq!(bands[4].test_train, [count(0, 0), count(0, 1)]);
        assert!(bands[4].below.is_infinite());
        // Lower the threshold and the held-out pair joins.
        assert_eq!(
            by_distance(&labelled, &pairs, 0.8)[4].test_train[1],
            count(1, 1)
        );
        let text = by_distance_markdown(&labelled, &pairs, &[0.85]);
        assert!(
            text.contains("| 0.850 | 0.00-0.15 | 1/1 (100.0 %) | 0/0 (0.0 %) |"),
            "{text}"
        );
        assert!(text.contains("| 0.850 | >= 0.22 |"), "{text}");
        for bad in ["x", "-0.1", "NaN"] {
            let e = parse(
                &format!("TestID,TrainID,Distance,Judgment\n0,0,{bad},1\n"),
                false,
                Path::new("t.csv"),
            )
            .unwrap_err()
            .to_string();
            assert!(e.contains("line 2") && e.contains("Distance"), "{e}");
        }
    }

    #[test]
    fn report_thresholds_start_at_the_audits_and_keep_the_first_published_one() {
        let t = report_thresholds(0.705);
        assert!(
            (t[0] - 0.705).abs() < 1e-6 && (t[1] - 0.72).abs() < 1e-6,
            "{t:?}"
        );
        assert!(t.iter().any(|&x| (x - 0.80).abs() < 1e-6));
        assert!((t.last().unwrap() - 0.98).abs() < 1e-5);
        assert!(t.windows(2).all(|w| w[0] < w[1]));
        assert!((report_thresholds(0.9)[0] - 0.9).abs() < 1e-6);
    }

    #[test]
    fn exact_candidates_find_a_mirrored_training_image_in_the_test_split() {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/cifar");
        let mut set = crate::images::load(&fixture).unwrap();
        let test = (0..set.len())
            .find(|&i| set.info[i].split == crate::SplitName::Test)
            .unwrap();
        let bytes = set.image_bytes();
        let mut copy = set.image(5).to_vec();
        for row in copy.chunks_mut(set.width) {
            row.reverse();
        }
        set.pixels[test * bytes..(test + 1) * bytes].copy_from_slice(&copy);
        let features = crate::features::compute(&set);
        let candidates = test_candidates(&set, &features, 1, 1);
        let tests = set.count(crate::SplitName::Test);
        // One training and one test neighbour per test image, each test pair once.
        assert!(candidates.len() <= 2 * tests && candidates.len() > tests);
        let found = candidates
            .iter()
            .find(|c| c.test == test && c.other < set.count(crate::SplitName::Train))
            .unwrap();
        assert_eq!(found.other, 5);
        assert!(found.aligned > 0.99 && found.thumbnail > 0.99, "{found:?}");
        assert!(found.score(Scoring::Fused) > 0.99);
    }

    #[test]
    fn halves_recall_and_flags_follow_the_groups() {
        let text = "TestID,TrainID,Distance,Judgment\n10,7,0.1,1\n6000,8,0.2,2\n";
        let labelled = parse(text, false, Path::new("t.csv")).unwrap();
        assert!(labelled[0].development() && !labelled[1].development());
        let within = parse(
            "TestID,TrainID,Distance,Judgment\n1,6001,0.1,1\n",
            true,
            Path::new("u.csv"),
        )
        .unwrap();
        assert!(!within[0].development());
        let all: Vec<Labelled> = labelled.into_iter().chain(within).collect();
        // 10 -> 7 directly; 6000 -> 8 through a chain; test 1 and 6001 not paired.
        let pairs = [pair(7, 50_010, 0.9), pair(8, 9, 0.85), pair(9, 56_000, 0.7)];
        let p = at_threshold(&all, &pairs, 0.8);
        assert_eq!(
            p.test_train,
            [
                Count {
                    labelled: 1,
                    found: 1
                },
                Count {
                    labelled: 1,
                    found: 0
                }
            ]
        );
        assert_eq!(
            p.within_test[1],
            Count {
                labelled: 1,
                found: 0
            }
        );
        assert_eq!(p.flagged_test_images, 1);
        let p = at_threshold(&all, &pairs, 0.6);
        assert_eq!(p.test_train[1].found, 1);
        assert_eq!(p.flagged_test_images, 2);
        assert!(
            parse("a,b\n", false, Path::new("v.csv"))
                .unwrap_err()
                .to_string()
                .contains("v.csv")
        );
        assert!(
            parse(
                "TestID,TrainID,Distance,Judgment\n1,60000,0.1,1\n",
                false,
                Path::new("w.csv")
            )
            .unwrap_err()
            .to_string()
            .contains("line 2")
        );
    }

    #[test]
    fn pairs_csv_reads_back_as_positions() {
        let text = format!(
            "{}\ntrain,6,,train,24734,,0.8849,near\ntrain,41,,test,3,,1.0000,exact\n",
            crate::output::PAIRS_HEADER
        );
        let pairs = pairs_from_csv(&text, Path::new("p.csv")).unwrap();
        assert_eq!((pairs[0].a, pairs[0].b), (6, 24734));
        assert_eq!(
            (pairs[1].a, pairs[1].b, pairs[1].kind),
            (41, 50_003, PairKind::Exact)
        );
        let bad = format!(
            "{}\ntrain,6,,val,1,,0.9,near\n",
            crate::output::PAIRS_HEADER
        );
        let e = pairs_from_csv(&bad, Path::new("p.csv"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("p.csv") && e.contains("line 2"), "{e}");
    }
}
