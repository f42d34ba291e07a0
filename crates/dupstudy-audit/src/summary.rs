//! What an audit found, counted in images (not pairs): per split and class, the paper's own
//! quantities for natural duplicates (D-rate and D-ratio), and the test images with a twin
//! in the training split.

use serde::{Deserialize, Serialize};

use crate::audit::{Audit, PairKind};
use crate::images::{ImageSet, SplitName};

/// Counts of one class (or of all classes).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassCounts {
    /// Class name (`all` for the totals).
    pub class: String,
    /// Training images.
    pub train_images: usize,
    /// Test images.
    pub test_images: usize,
    /// Training images in a duplicate group with another training image.
    pub train_in_train_groups: usize,
    /// Test images in a duplicate group with another test image.
    pub test_in_test_groups: usize,
    /// Test images with a twin in the training split.
    pub test_with_train_twin: usize,
    /// Training images beyond one per group, restricted to the training split.
    pub train_surplus: usize,
    /// This class's share of the training surplus (the paper's D-ratio), in `[0, 1]`.
    pub d_ratio: f64,
}

/// The audit's summary (written as `summary.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// What was audited.
    pub source: String,
    /// Images per split: train, test.
    pub images: [usize; 2],
    /// Pairs by kind (exact, near) and split combination (train-train, test-test,
    /// train-test).
    pub pairs: [[usize; 3]; 2],
    /// Duplicate groups: all, within the training split only, within the test split only,
    /// spanning both.
    pub groups: [usize; 4],
    /// Images in a group with an identical image (exact copies): train, test.
    pub images_with_exact_copy: [usize; 2],
    /// Images in any duplicate group: train, test.
    pub images_in_groups: [usize; 2],
    /// Images beyond one per group over all images (the paper's D-rate, for natural
    /// duplicates), in `[0, 1]`: training split alone, test split alone, both together.
    pub d_rate: [f64; 3],
    /// Test images whose group holds a training image: all, through an identical image.
    pub test_with_train_twin: [usize; 2],
    /// Per class, then `all`.
    pub classes: Vec<ClassCounts>,
    /// Candidate pairs aligned.
    pub candidates: usize,
    /// The threshold on the aligned similarity (on the fused score when `fusion` is set).
    pub threshold: f32,
    /// Seconds per phase.
    pub seconds: Vec<(String, f64)>,
    /// The similarity fused with the aligned one, when one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fusion: Option<crate::audit::FusionInfo>,
}

fn split_slot(s: SplitName) -> usize {
    match s {
        SplitName::Train => 0,
        SplitName::Test => 1,
    }
}

/// The members of `group` in `split`, ascending.
fn members(set: &ImageSet, group: &[usize], split: SplitName) -> Vec<usize> {
    group
        .iter()
        .copied()
        .filter(|&i| set.info[i].split == split)
        .collect()
}

/// The images of the training split to keep when every training duplicate group (groups
/// restricted to the training split) is cut to its first member, as positions in `set`.
pub fn deduplicated_train(set: &ImageSet, audit: &Audit) -> Vec<usize> {
    let mut drop = vec![false; set.len()];
    for g in &audit.groups {
        let train = members(set, g, SplitName::Train);
        for &i in train.iter().skip(1) {
            drop[i] = true;
        }
    }
    (0..set.len())
        .filter(|&i| set.info[i].split == SplitName::Train && !drop[i])
        .collect()
}

/// Test images (positions in `set`) whose duplicate group holds a training image.
pub fn test_with_train_twin(set: &ImageSet, audit: &Audit) -> Vec<usize> {
    let mut out = Vec::new();
    for g in &audit.groups {
        if g.iter().any(|&i| set.info[i].split == SplitName::Train) {
            out.extend(members(set, g, SplitName::Test));
        }
    }
    out.sort_unstable();
    out
}

/// Counts what `audit` found in `set`.
pub fn summarize(set: &ImageSet, audit: &Audit) -> Summary {
    let n_classes = set.class_names.len();
    let mut classes: Vec<ClassCounts> = set
        .class_names
        .iter()
        .map(|c| ClassCounts {
            class: c.clone(),
            ..ClassCounts::default()
        })
        .collect();
    let mut images = [0usize; 2];
    for info in &set.info {
        images[split_slot(info.split)] += 1;
        match info.split {
            SplitName::Train => classes[info.class].train_images += 1,
            SplitName::Test => classes[info.class].test_images += 1,
        }
    }
    let mut pairs = [[0usize; 3]; 2];
    let mut exact_copy = vec![false; set.len()];
    let mut exact_cross = vec![false; set.len()];
    for p in &audit.pairs {
        let (sa, sb) = (set.info[p.a].split, set.info[p.b].split);
        let combo = match (sa, sb) {
            (SplitName::Train, SplitName::Train) => 0,
            (SplitName::Test, SplitName::Test) => 1,
            _ => 2,
        };
        let kind = usize::from(p.kind == PairKind::Near);
        pairs[kind][combo] += 1;
        if p.kind == PairKind::Exact {
            exact_copy[p.a] = true;
            exact_copy[p.b] = true;
            if combo == 2 {
                let test = if sa == SplitName::Test { p.a } else { p.b };
                exact_cross[test] = true;
            }
        }
    }
    let mut groups = [audit.groups.len(), 0, 0, 0];
    let mut in_groups = [0usize; 2];
    let mut surplus = [0usize; 3];
    let mut twin = [0usize; 2];
    for g in &audit.groups {
        let train = members(set, g, SplitName::Train);
        let test = members(set, g, SplitName::Test);
        match (train.is_empty(), test.is_empty()) {
            (false, true) => groups[1] += 1,
            (true, false) => groups[2] += 1,
            _ => groups[3] += 1,
        }
        // Every group has two or more members, so each member has a duplicate.
        in_groups[0] += train.len();
        in_groups[1] += test.len();
        surplus[0] += train.len().saturating_sub(1);
        surplus[1] += test.len().saturating_sub(1);
        surplus[2] += g.len() - 1;
        if train.len() > 1 {
            for &i in &train {
                classes[set.info[i].class].train_in_train_groups += 1;
            }
            // The first member is kept; the others are the class's surplus.
            for &i in &train[1..] {
                classes[set.info[i].class].train_surplus += 1;
            }
        }
        if test.len() > 1 {
            for &i in &test {
                classes[set.info[i].class].test_in_test_groups += 1;
            }
        }
        if !train.is_empty() {
            for &i in &test {
                classes[set.info[i].class].test_with_train_twin += 1;
                twin[0] += 1;
                twin[1] += usize::from(exact_cross[i]);
            }
        }
    }
    let total_surplus: usize = classes.iter().map(|c| c.train_surplus).sum();
    for c in &mut classes {
        c.d_ratio = if total_surplus > 0 {
            c.train_surplus as f64 / total_surplus as f64
        } else {
            0.0
        };
    }
    let mut all = ClassCounts {
        class: "all".into(),
        ..ClassCounts::default()
    };
    for c in &classes[..n_classes] {
        all.train_images += c.train_images;
        all.test_images += c.test_images;
        all.train_in_train_groups += c.train_in_train_groups;
        all.test_in_test_groups += c.test_in_test_groups;
        all.test_with_train_twin += c.test_with_train_twin;
        all.train_surplus += c.train_surplus;
    }
    all.d_ratio = if total_surplus > 0 { 1.0 } else { 0.0 };
    classes.push(all);
    let rate = |s: usize, n: usize| if n > 0 { s as f64 / n as f64 } else { 0.0 };
    let mut with_exact = [0usize; 2];
    for (i, info) in set.info.iter().enumerate() {
        if exact_copy[i] {
            with_exact[split_slot(info.split)] += 1;
        }
    }
    Summary {
        source: set.source.clone(),
        images,
        pairs,
        groups,
        images_with_exact_copy: with_exact,
        images_in_groups: in_groups,
        d_rate: [
            rate(surplus[0], images[0]),
            rate(surplus[1], images[1]),
            rate(surplus[2], images[0] + images[1]),
        ],
        test_with_train_twin: twin,
        classes,
        candidates: audit.candidates,
        threshold: audit.params.threshold,
        seconds: audit.seconds.clone(),
        fusion: audit.fusion.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AuditParams, Pair};
    use crate::images::ImageInfo;

    /// Six images: train 0,1,2 (0 and 1 identical, class 0 / 0 / 1), test 3,4,5 (3 near 2,
    /// 4 and 5 near each other, classes 1, 0, 0).
    fn toy() -> (ImageSet, Audit) {
        let mut set = ImageSet {
            width: 1,
            height: 1,
            pixels: Vec::new(),
            info: Vec::new(),
            class_names: vec!["a".into(), "b".into()],
            source: "toy".into(),
        };
        for (k, (split, class)) in [
            (SplitName::Train, 0),
            (SplitName::Train, 0),
            (SplitName::Train, 1),
            (SplitName::Test, 1),
            (SplitName::Test, 0),
            (SplitName::Test, 0),
        ]
        .into_iter()
        .enumerate()
        {
            set.push(
                &[k as u8; 3],
                ImageInfo {
                    split,
                    index: k % 3,
                    path: String::new(),
                    class,
                },
            )
            .unwrap();
        }
        let pair = |a, b, kind| Pair {
            a,
            b,
            score: 1.0,
            kind,
            mirror: false,
        };
        let pairs = vec![
            pair(0, 1, PairKind::Exact),
            pair(2, 3, PairKind::Near),
            pair(4, 5, PairKind::Near),
        ];
        let groups = crate::audit::group_pairs(6, &pairs);
        let audit = Audit {
            params: AuditParams::default(),
            pairs,
            near_misses: Vec::new(),
            groups,
            candidates: 3,
            seconds: Vec::new(),
            fusion: None,
        };
        (set, audit)
    }

    #[test]
    fn counts_images_groups_and_twins() {
        let (set, audit) = toy();
        let s = summarize(&set, &audit);
        assert_eq!(s.images, [3, 3]);
        assert_eq!(s.pairs, [[1, 0, 0], [0, 1, 1]]);
        assert_eq!(s.groups, [3, 1, 1, 1]);
        assert_eq!(s.images_with_exact_copy, [2, 0]);
        assert_eq!(s.images_in_groups, [3, 3]);
        assert_eq!(s.test_with_train_twin, [1, 0]);
        // Surplus: train 1 (of 3), test 1 (of 3), all 3 (of 6).
        assert!((s.d_rate[0] - 1.0 / 3.0).abs() < 1e-12);
        assert!((s.d_rate[2] - 0.5).abs() < 1e-12);
        assert_eq!(s.classes[0].train_surplus, 1);
        assert!((s.classes[0].d_ratio - 1.0).abs() < 1e-12);
        assert_eq!(s.classes[1].test_with_train_twin, 1);
        assert_eq!(deduplicated_train(&set, &audit), vec![0, 2]);
        assert_eq!(test_with_train_twin(&set, &audit), vec![3]);
    }
}
