//! The audit: exact duplicates by their pixels, near-duplicates by candidate search and
//! exact alignment, then groups.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{AuditError, Result};
use crate::features::{self, Features, Hint, OwnedView, QUERIES, THUMB_DIM, View};
use crate::images::ImageSet;
use crate::index::{self, ForestParams};
use crate::progress::Progress;

/// How an audit decides.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AuditParams {
    /// Two images are near-duplicates when their aligned similarity
    /// ([`features::Alignment::score`]: the geometric mean of the colour and the detail
    /// correlation at the best mirror, shift or crop) is at least this. In `(0, 1]`.
    pub threshold: f32,
    /// Candidates need thumbnails at least this similar (dot product of unit thumbnails,
    /// image or mirror). In `[-1, 1]`.
    pub candidate_min_dot: f32,
    /// Pairs scored within this distance below the threshold are kept as near misses (for
    /// the contact sheet at the threshold). In `[0, 1]`.
    pub near_miss_band: f32,
    /// Candidates whose coarse (half-size grayscale) alignment stays below this are not
    /// scored on the colour planes. In `[-1, 1]`, below the threshold.
    pub coarse_gate: f32,
    /// Candidate search trees.
    pub trees: usize,
    /// Candidate search leaf size.
    pub leaf: usize,
    /// Seed of the candidate search.
    pub seed: u64,
}

/// The coarse gate at thresholds at or above it; below, the gate is the threshold.
const COARSE_GATE: f32 = 0.80;

impl Default for AuditParams {
    fn default() -> Self {
        Self::with_threshold(Self::DEFAULT_THRESHOLD)
    }
}

impl AuditParams {
    /// The default threshold, chosen by [`crate::labelled::chosen_on_development`] on the
    /// development half of ciFAIR's labelled CIFAR-10 pairs only (the lowest threshold on a
    /// grid of 0.005 flagging at most 225 of its 5,000 test images), on an audit of the
    /// CIFAR-10 stand-in at 0.68 (`docs/audit.md`). It was 0.80 before
    /// ([`AuditParams::FIRST_THRESHOLD`]).
    pub const DEFAULT_THRESHOLD: f32 = 0.695;

    /// The threshold of the first published audit (`docs/audit-cifar10` before the
    /// threshold was chosen on labelled pairs). Studies whose published cells were made with
    /// it keep it: [`AuditParams::with_threshold`] of it gives those parameters bit for bit.
    pub const FIRST_THRESHOLD: f32 = 0.80;

    /// The defaults with another `threshold`: the coarse gate follows it down (a gate above
    /// the threshold would drop pairs the threshold accepts), and stays at 0.80 above it.
    pub fn with_threshold(threshold: f32) -> Self {
        Self {
            threshold,
            candidate_min_dot: 0.85,
            near_miss_band: 0.05,
            coarse_gate: COARSE_GATE.min(threshold),
            trees: 8,
            leaf: 32,
            seed: 0,
        }
    }

    /// Checks every field.
    ///
    /// # Errors
    /// [`AuditError::InvalidParameter`] naming it.
    pub fn check(&self) -> Result<()> {
        let bad = |name, message: String| Err(AuditError::InvalidParameter { name, message });
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return bad(
                "threshold",
                format!("{}; must lie in (0, 1]", self.threshold),
            );
        }
        if !(-1.0..=1.0).contains(&self.candidate_min_dot) {
            return bad(
                "candidate_min_dot",
                format!("{}; must lie in [-1, 1]", self.candidate_min_dot),
            );
        }
        if !(-1.0..=1.0).contains(&self.coarse_gate) || self.coarse_gate > self.threshold {
            return bad(
                "coarse_gate",
                format!("{}; must lie in [-1, threshold]", self.coarse_gate),
            );
        }
        if !(0.0..=1.0).contains(&self.near_miss_band) {
            return bad(
                "near_miss_band",
                format!("{}; must lie in [0, 1]", self.near_miss_band),
            );
        }
        self.forest().check()
    }

    fn forest(&self) -> ForestParams {
        ForestParams {
            trees: self.trees,
            leaf: self.leaf,
            seed: self.seed,
        }
    }
}

/// Exact copy or near-duplicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairKind {
    /// Identical pixels.
    Exact,
    /// Aligned similarity at or above the threshold.
    Near,
}

impl PairKind {
    /// `exact` or `near`.
    pub fn name(self) -> &'static str {
        match self {
            PairKind::Exact => "exact",
            PairKind::Near => "near",
        }
    }
}

/// Two images of the set (positions in the [`ImageSet`], `a < b`) and how alike they are.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pair {
    /// First image.
    pub a: usize,
    /// Second image.
    pub b: usize,
    /// Aligned similarity (1 for exact copies).
    pub score: f32,
    /// Which kind.
    pub kind: PairKind,
    /// Whether `b` was mirrored to match `a`.
    pub mirror: bool,
}

/// A second similarity the audit fuses with its aligned one (a learned descriptor's, say),
/// and the candidate pairs it proposes. A pair then scores [`fused_score`]: the higher of
/// the aligned similarity and `weight` times it plus `1 - weight` times the other, so the
/// other similarity can raise a pair whose pixels moved and never lower one the alignment
/// recognizes.
#[derive(Clone, Copy)]
pub struct Fusion<'a> {
    /// What the report calls the other similarity (`learned descriptor`).
    pub name: &'a str,
    /// The aligned similarity's weight, in `[0, 1]`.
    pub weight: f32,
    /// The other similarity of two images (positions in the set), in `[-1, 1]`.
    pub similarity: &'a (dyn Fn(usize, usize) -> f32 + Sync),
    /// Candidate pairs it proposes (any order; pairs the thumbnail search also finds are
    /// aligned once).
    pub candidates: &'a [(usize, usize)],
}

/// How a fused audit scored its pairs, for its report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FusionInfo {
    /// [`Fusion::name`].
    pub name: String,
    /// [`Fusion::weight`].
    pub weight: f32,
    /// Candidate pairs the other similarity proposed that the thumbnail search had not.
    pub added_candidates: usize,
}

/// The fused score of a pair: `aligned.max(weight * aligned + (1 - weight) * other)`.
pub fn fused_score(aligned: f32, other: f32, weight: f32) -> f32 {
    aligned.max(weight * aligned + (1.0 - weight) * other)
}

/// The coarse gate of a fused pair whose other similarity is `other`: below it the aligned
/// similarity cannot lift the fused score to the threshold (the audit's own gate when the
/// aligned similarity alone decides).
pub fn fused_gate(params: &AuditParams, other: f32, weight: f32) -> f32 {
    let lifted = (1.0 - weight) * other;
    let need = if weight > 0.0 {
        (params.threshold - lifted) / weight
    } else if lifted >= params.threshold {
        f32::NEG_INFINITY
    } else {
        f32::INFINITY
    };
    need.min(params.coarse_gate).max(-1.0)
}

/// What an audit found.
#[derive(Debug, Clone)]
pub struct Audit {
    /// The parameters it ran with.
    pub params: AuditParams,
    /// Every duplicate pair: all pairs within each set of identical images, and every
    /// verified near pair; sorted by `(a, b)`.
    pub pairs: Vec<Pair>,
    /// Candidates scored below the threshold but within the near-miss band.
    pub near_misses: Vec<Pair>,
    /// Duplicate groups (connected by pairs), members ascending, groups by first member.
    pub groups: Vec<Vec<usize>>,
    /// Candidate pairs the search produced and that were aligned.
    pub candidates: usize,
    /// Seconds per phase.
    pub seconds: Vec<(String, f64)>,
    /// The fused similarity, when [`run_fused`] scored the pairs.
    pub fusion: Option<FusionInfo>,
}

/// Groups of identical images (at least two members each), members ascending.
pub fn exact_groups(set: &ImageSet) -> Vec<Vec<usize>> {
    let hashes: Vec<u64> = (0..set.len())
        .into_par_iter()
        .map(|i| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            set.image(i).hash(&mut h);
            h.finish()
        })
        .collect();
    let mut by_hash: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, h) in hashes.into_iter().enumerate() {
        by_hash.entry(h).or_default().push(i);
    }
    let mut groups = Vec::new();
    for (_, members) in by_hash {
        // Equal hashes: split by actual bytes (collisions are possible, just unlikely).
        let mut rest = members;
        while rest.len() > 1 {
            let first = rest[0];
            let (same, other): (Vec<usize>, Vec<usize>) = rest
                .into_iter()
                .partition(|&j| set.image(j) == set.image(first));
            if same.len() > 1 {
                groups.push(same);
            }
            rest = other;
        }
    }
    groups.sort();
    groups
}

/// Union-find over `n` items.
struct Groups {
    parent: Vec<usize>,
}

impl Groups {
    fn new(n: usize) -> Self {
        Self {
            parent: (0..n).collect(),
        }
    }

    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.parent[ra.max(rb)] = ra.min(rb);
        }
    }
}

/// Connected groups of the pairs' images (at least two members), members ascending,
/// groups by their first member.
pub fn group_pairs(n: usize, pairs: &[Pair]) -> Vec<Vec<usize>> {
    let mut uf = Groups::new(n);
    for p in pairs {
        uf.union(p.a, p.b);
    }
    let mut members: HashMap<usize, Vec<usize>> = HashMap::new();
    for p in pairs {
        for x in [p.a, p.b] {
            let root = uf.find(x);
            members.entry(root).or_default().push(x);
        }
    }
    let mut groups: Vec<Vec<usize>> = members
        .into_values()
        .map(|mut g| {
            g.sort_unstable();
            g.dedup();
            g
        })
        .collect();
    groups.sort();
    groups
}

/// Audits `set` (with its `features`, see [`features::compute`]).
///
/// # Errors
/// Bad parameters.
pub fn run(
    set: &ImageSet,
    features: &Features,
    params: &AuditParams,
    progress: &dyn Progress,
) -> Result<Audit> {
    run_with(set, Views::Stored(features), params, None, progress)
}

/// [`run`] with a second similarity fused into every pair's score ([`Fusion`]): its
/// candidates join the thumbnail search's, every candidate is scored by [`fused_score`],
/// and the threshold applies to that score.
///
/// # Errors
/// Bad parameters: a weight outside `[0, 1]`, a candidate outside the set.
pub fn run_fused(
    set: &ImageSet,
    features: &Features,
    params: &AuditParams,
    fusion: &Fusion<'_>,
    progress: &dyn Progress,
) -> Result<Audit> {
    if !(0.0..=1.0).contains(&fusion.weight) {
        return Err(AuditError::InvalidParameter {
            name: "fusion weight",
            message: format!("{}; must lie in [0, 1]", fusion.weight),
        });
    }
    if let Some(&(a, b)) = fusion
        .candidates
        .iter()
        .find(|&&(a, b)| a.max(b) >= set.len())
    {
        return Err(AuditError::InvalidParameter {
            name: "fusion candidates",
            message: format!(
                "pair ({a}, {b}) names an image beyond the set's {}",
                set.len()
            ),
        });
    }
    run_with(set, Views::Stored(features), params, Some(fusion), progress)
}

/// [`run`] without stored [`Features`]: each image's views are computed from its pixels
/// when the search or an alignment needs them, so memory holds the pixels and one 64-number
/// thumbnail per image (about 3.3 KB at 32 x 32) instead of about 19 KB. The same pairs and
/// groups as [`run`], for more computing (about twice the feature work).
///
/// # Errors
/// Bad parameters.
pub fn run_compact(set: &ImageSet, params: &AuditParams, progress: &dyn Progress) -> Result<Audit> {
    run_with(set, Views::Computed, params, None, progress)
}

/// Where the audit reads each image's views.
enum Views<'a> {
    /// All computed beforehand.
    Stored(&'a Features),
    /// Computed from the pixels when needed.
    Computed,
}

fn run_with(
    set: &ImageSet,
    views: Views<'_>,
    params: &AuditParams,
    fusion: Option<&Fusion<'_>>,
    progress: &dyn Progress,
) -> Result<Audit> {
    params.check()?;
    let mut seconds = Vec::new();
    let clock = Instant::now();
    let exact = exact_groups(set);
    let mut pairs: Vec<Pair> = Vec::new();
    let mut exact_of = vec![usize::MAX; set.len()];
    for (g, members) in exact.iter().enumerate() {
        for (k, &a) in members.iter().enumerate() {
            exact_of[a] = g;
            for &b in &members[k + 1..] {
                pairs.push(Pair {
                    a,
                    b,
                    score: 1.0,
                    kind: PairKind::Exact,
                    mirror: false,
                });
            }
        }
    }
    seconds.push(("exact copies".to_string(), clock.elapsed().as_secs_f64()));

    let clock = Instant::now();
    progress.start("candidate search: index", params.trees as u64);
    let describe = |i: usize| features::describe(set.image(i), set.width, set.height);
    let computed_thumbs: Vec<f32>;
    let thumbs: &[f32] = match views {
        Views::Stored(f) => &f.thumbs,
        Views::Computed => {
            computed_thumbs = (0..set.len())
                .into_par_iter()
                .flat_map_iter(|i| describe(i).thumb)
                .collect();
            &computed_thumbs
        }
    };
    let forest =
        index::Forest::build(thumbs, THUMB_DIM, &params.forest(), &|| progress.advance(1))?;
    progress.finish();
    let owner: Vec<u32> = (0..set.len() as u32).collect();
    progress.start("candidate search: queries", (set.len() * QUERIES) as u64);
    let candidates = match views {
        Views::Stored(f) => index::query_pairs(
            &forest,
            thumbs,
            &owner,
            &f.queries,
            QUERIES,
            params.candidate_min_dot,
            &|n| progress.advance(n),
        )?,
        Views::Computed => index::query_pairs_with(
            &forest,
            thumbs,
            &owner,
            set.len(),
            QUERIES,
            params.candidate_min_dot,
            &|i| describe(i).queries,
            &|n| progress.advance(n),
        )?,
    };
    drop(forest);
    progress.finish();
    seconds.push((
        "candidate search".to_string(),
        clock.elapsed().as_secs_f64(),
    ));

    let clock = Instant::now();
    let not_exact = |a: usize, b: usize| exact_of[a] == usize::MAX || exact_of[a] != exact_of[b];
    let mut to_align: Vec<(usize, usize, Option<Hint>)> = candidates
        .iter()
        .map(|h| {
            (
                h.a as usize,
                h.b as usize,
                Some(Hint::of_query(h.query, h.asked_by_a)),
            )
        })
        .filter(|&(a, b, _)| not_exact(a, b))
        .collect();
    let mut fusion_info = None;
    if let Some(fusion) = fusion {
        // The other similarity's candidates join, without a hint (the full coarse search),
        // each pair once.
        let mut have: std::collections::HashSet<(usize, usize)> = to_align
            .iter()
            .map(|&(a, b, _)| (a.min(b), a.max(b)))
            .collect();
        let before = to_align.len();
        let mut extra: Vec<(usize, usize)> = fusion
            .candidates
            .iter()
            .map(|&(a, b)| (a.min(b), a.max(b)))
            .filter(|&(a, b)| a != b && not_exact(a, b))
            .collect();
        extra.sort_unstable();
        extra.dedup();
        to_align.extend(
            extra
                .into_iter()
                .filter(|p| have.insert(*p))
                .map(|(a, b)| (a, b, None)),
        );
        fusion_info = Some(FusionInfo {
            name: fusion.name.to_string(),
            weight: fusion.weight,
            added_candidates: to_align.len() - before,
        });
    }
    progress.start("aligning candidates", to_align.len() as u64);
    let floor = params.threshold - params.near_miss_band;
    let scored: Vec<Pair> = to_align
        .par_chunks(4096)
        .flat_map_iter(|chunk| {
            // Computed views of this chunk's images, each once.
            let mut owned: HashMap<usize, OwnedView> = HashMap::new();
            if let Views::Computed = views {
                for &(a, b, _) in chunk {
                    for i in [a, b] {
                        owned
                            .entry(i)
                            .or_insert_with(|| OwnedView::of(set.image(i), set.width, set.height));
                    }
                }
            }
            let view = |i: usize| match views {
                Views::Stored(f) => View {
                    work: f.work(i),
                    coarse: f.coarse(i),
                },
                Views::Computed => owned[&i].view(),
            };
            let out: Vec<Pair> = chunk
                .iter()
                .map(|&(a, b, hint)| {
                    let (gate, other) = match fusion {
                        Some(f) => {
                            let other = (f.similarity)(a, b);
                            (fused_gate(params, other, f.weight), Some((other, f.weight)))
                        }
                        None => (params.coarse_gate, None),
                    };
                    let al = features::align_views(view(a), view(b), hint, gate);
                    Pair {
                        a,
                        b,
                        score: match other {
                            Some((other, weight)) => fused_score(al.score, other, weight),
                            None => al.score,
                        },
                        kind: PairKind::Near,
                        mirror: al.mirror,
                    }
                })
                .filter(|p| p.score >= floor)
                .collect();
            progress.advance(chunk.len() as u64);
            out
        })
        .collect();
    progress.finish();
    seconds.push(("alignment".to_string(), clock.elapsed().as_secs_f64()));

    let (near, near_misses): (Vec<Pair>, Vec<Pair>) = scored
        .into_iter()
        .partition(|p| p.score >= params.threshold);
    pairs.extend(near);
    pairs.sort_by_key(|p| (p.a, p.b));
    let groups = group_pairs(set.len(), &pairs);
    tracing::info!(
        pairs = pairs.len(),
        groups = groups.len(),
        candidates = to_align.len(),
        "audit done"
    );
    Ok(Audit {
        params: *params,
        pairs,
        near_misses,
        groups,
        candidates: to_align.len(),
        seconds,
        fusion: fusion_info,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(a: usize, b: usize) -> Pair {
        Pair {
            a,
            b,
            score: 1.0,
            kind: PairKind::Near,
            mirror: false,
        }
    }

    #[test]
    fn the_compact_run_finds_what_the_stored_run_finds() {
        let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/cifar");
        let mut set = crate::images::load(&fixture).unwrap();
        crate::planted::plant(&mut set, 2, 3).unwrap();
        let params = AuditParams::default();
        let stored = run(
            &set,
            &features::compute(&set),
            &params,
            &crate::progress::Silent,
        )
        .unwrap();
        let compact = run_compact(&set, &params, &crate::progress::Silent).unwrap();
        assert!(stored.pairs.len() >= 9, "{} pairs", stored.pairs.len());
        assert_eq!(compact.pairs, stored.pairs);
        assert_eq!(compact.near_misses, stored.near_misses);
        assert_eq!(compact.groups, stored.groups);
        assert_eq!(compact.candidates, stored.candidates);
    }

    #[test]
    fn a_fusion_that_leaves_the_aligned_score_alone_changes_nothing() {
        let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/cifar");
        let mut set = crate::images::load(&fixture).unwrap();
        crate::planted::plant(&mut set, 2, 3).unwrap();
        let f = features::compute(&set);
        let params = AuditParams::default();
        let plain = run(&set, &f, &params, &crate::progress::Silent).unwrap();
        let zero = |_: usize, _: usize| 0.0f32;
        let fusion = Fusion {
            name: "nothing",
            weight: 1.0,
            similarity: &zero,
            candidates: &[],
        };
        let fused = run_fused(&set, &f, &params, &fusion, &crate::progress::Silent).unwrap();
        assert_eq!(fused.pairs, plain.pairs);
        assert_eq!(fused.near_misses, plain.near_misses);
        // A similarity of 1 with no weight on the alignment pairs every candidate it names.
        let one = |_: usize, _: usize| 1.0f32;
        let extra = [(0, set.len() - 1)];
        let lifted = Fusion {
            name: "everything",
            weight: 0.0,
            similarity: &one,
            candidates: &extra,
        };
        let fused = run_fused(&set, &f, &params, &lifted, &crate::progress::Silent).unwrap();
        assert!(fused.pairs.iter().any(|p| (p.a, p.b) == extra[0]));
        assert_eq!(fused.fusion.as_ref().unwrap().added_candidates, 1);
        let bad = Fusion {
            candidates: &[(0, set.len())],
            ..lifted
        };
        let err = run_fused(&set, &f, &params, &bad, &crate::progress::Silent).unwrap_err();
        assert!(err.to_string().contains("fusion candidates"), "{err}");
    }

    #[test]
    fn groups_are_connected_components() {
        let groups = group_pairs(10, &[pair(1, 4), pair(4, 7), pair(2, 3)]);
        assert_eq!(groups, vec![vec![1, 4, 7], vec![2, 3]]);
    }

    #[test]
    fn refuses_bad_parameters() {
        for p in [
            AuditParams {
                threshold: 0.0,
                ..AuditParams::default()
            },
            AuditParams {
                threshold: 1.5,
                ..AuditParams::default()
            },
            AuditParams {
                candidate_min_dot: 2.0,
                ..AuditParams::default()
            },
            AuditParams {
                trees: 0,
                ..AuditParams::default()
            },
        ] {
            assert!(p.check().is_err(), "{p:?}");
        }
    }

    #[test]
    fn a_lower_threshold_lowers_the_coarse_gate_with_it() {
        for t in [0.5, 0.7, 0.8, 0.95] {
            let p = AuditParams::with_threshold(t);
            assert!(p.check().is_ok(), "{p:?}");
            assert_eq!(p.coarse_gate.to_bits(), t.min(0.80).to_bits());
        }
        assert!(AuditParams::with_threshold(0.0).check().is_err());
    }

    #[test]
    fn the_first_threshold_gives_the_first_published_parameters() {
        // Cell keys of published studies hold these; a change here orphans their cells.
        let first = AuditParams {
            threshold: 0.80,
            candidate_min_dot: 0.85,
            near_miss_band: 0.05,
            coarse_gate: 0.80,
            trees: 8,
            leaf: 32,
            seed: 0,
        };
        assert_eq!(
            AuditParams::with_threshold(AuditParams::FIRST_THRESHOLD),
            first
        );
        assert!(AuditParams::default().check().is_ok());
    }
}
