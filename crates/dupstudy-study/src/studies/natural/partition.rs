//! The audit's partition of the pools into duplicate groups and twins, cached once per run.

use std::path::{Path, PathBuf};
use std::time::Instant;

use dupstudy_audit::{AuditParams, ImageSet};
use dupstudy_cifar::Cifar10;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::seeds;
use super::{AUDIT_DIR, Arm, NAME};
use crate::error::Result;
use crate::progress::Progress;
use crate::store::{read_json, write_json_atomic};

/// What the audit of the pools decided, in the indices the cells use; cached as
/// `<out>/cifar-natural/audit/partition.json` so that a resumed run audits once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Partition {
    /// The pools, audit parameters and data it was computed for.
    pub key: PartitionKey,
    /// Duplicate groups restricted to the training pool (training indices, ascending, two
    /// or more per group).
    pub train_groups: Vec<Vec<usize>>,
    /// Training indices the deduplicated arm drops (every group member after its first),
    /// ascending.
    pub cut: Vec<usize>,
    /// Test indices whose duplicate group holds a training image, ascending.
    pub twins: Vec<usize>,
    /// The audit group of each twin, in the order of `twins` (twins of one group share a
    /// number); empty in partitions stored before it was kept.
    #[serde(default)]
    pub twin_groups: Vec<usize>,
    /// The training images of each twin's duplicate group, in the order of `twins`
    /// (ascending; empty in partitions stored before it was kept).
    #[serde(default)]
    pub twin_partners: Vec<Vec<usize>>,
    /// Test images in groups of test images only (duplicates within the test pool).
    pub test_in_test_groups: usize,
    /// Seconds the audit took.
    pub seconds: f64,
}

/// What a partition depends on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartitionKey {
    /// Training pool size.
    pub train_pool: usize,
    /// Test pool size.
    pub test_pool: usize,
    /// Audit parameters.
    pub audit: AuditParams,
    /// The learned descriptor fused into the audit's score, if one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learned: Option<dupstudy_descriptor::LearnedAudit>,
    /// Data checksum.
    pub data_sha256: String,
}

impl Partition {
    /// From an audit of `set` (the pools, as [`ImageSet::from_cifar_prefix`] builds them).
    pub fn from_audit(
        key: PartitionKey,
        set: &ImageSet,
        audit: &dupstudy_audit::Audit,
        seconds: f64,
    ) -> Self {
        use dupstudy_audit::SplitName as S;
        let index = |i: usize| set.info[i].index;
        let mut train_groups: Vec<Vec<usize>> = audit
            .groups
            .iter()
            .map(|g| {
                let mut m: Vec<usize> = g
                    .iter()
                    .filter(|&&i| set.info[i].split == S::Train)
                    .map(|&i| index(i))
                    .collect();
                m.sort_unstable();
                m
            })
            .filter(|m| m.len() > 1)
            .collect();
        train_groups.sort();
        let kept: std::collections::HashSet<usize> =
            dupstudy_audit::summary::deduplicated_train(set, audit)
                .into_iter()
                .map(index)
                .collect();
        let cut: Vec<usize> = (0..key.train_pool).filter(|i| !kept.contains(i)).collect();
        let twins: Vec<usize> = dupstudy_audit::summary::test_with_train_twin(set, audit)
            .into_iter()
            .map(index)
            .collect();
        let mut grouped: Vec<(usize, usize)> = audit
            .groups
            .iter()
            .enumerate()
            .filter(|(_, g)| g.iter().any(|&i| set.info[i].split == S::Train))
            .flat_map(|(gi, g)| {
                g.iter()
                    .filter(|&&i| set.info[i].split == S::Test)
                    .map(move |&i| (index(i), gi))
            })
            .collect();
        grouped.sort_unstable();
        let twin_groups: Vec<usize> = grouped.into_iter().map(|(_, g)| g).collect();
        let twin_partners: Vec<Vec<usize>> = twin_groups
            .iter()
            .map(|&g| {
                let mut p: Vec<usize> = audit.groups[g]
                    .iter()
                    .filter(|&&i| set.info[i].split == S::Train)
                    .map(|&i| index(i))
                    .collect();
                p.sort_unstable();
                p
            })
            .collect();
        let test_in_test_groups = audit
            .groups
            .iter()
            .filter(|g| g.iter().all(|&i| set.info[i].split == S::Test))
            .map(Vec::len)
            .sum();
        Self {
            key,
            train_groups,
            cut,
            twins,
            twin_groups,
            twin_partners,
            test_in_test_groups,
            seconds,
        }
    }

    /// A short fingerprint of what the cells depend on (the cut and the twins).
    pub fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        for (tag, list) in [("cut", &self.cut), ("twins", &self.twins)] {
            hasher.update(tag.as_bytes());
            for &i in list {
                hasher.update((i as u64).to_le_bytes());
            }
        }
        hasher.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The training list of `arm` for `seed`, ascending.
    pub fn training_list(&self, arm: Arm, seed: u64) -> Vec<usize> {
        let pool = self.key.train_pool;
        match arm {
            Arm::Full => (0..pool).collect(),
            Arm::Deduplicated => {
                let mut drop = vec![false; pool];
                for &i in &self.cut {
                    drop[i] = true;
                }
                (0..pool).filter(|&i| !drop[i]).collect()
            }
            Arm::RandomRemoval => {
                let mut order: Vec<usize> = (0..pool).collect();
                order.shuffle(&mut seeds::removal(pool, self.cut.len(), seed));
                let mut list = order[self.cut.len()..].to_vec();
                list.sort_unstable();
                list
            }
        }
    }

    /// The D-rate of a training list (ascending indices): images beyond one per duplicate
    /// group, over the list's images.
    pub fn d_rate_of(&self, list: &[usize]) -> f64 {
        let surplus: usize = self
            .train_groups
            .iter()
            .map(|g| {
                g.iter()
                    .filter(|i| list.binary_search(i).is_ok())
                    .count()
                    .saturating_sub(1)
            })
            .sum();
        if list.is_empty() {
            0.0
        } else {
            surplus as f64 / list.len() as f64
        }
    }
}

/// The audit's phases on a study progress bar.
pub(super) struct AuditBar<'a>(&'a dyn Progress);

impl dupstudy_audit::progress::Progress for AuditBar<'_> {
    fn start(&self, phase: &str, total: u64) {
        self.0.set_length(total);
        self.0.set_position(0);
        self.0.message(&format!("audit: {phase}"));
    }
    fn advance(&self, n: u64) {
        self.0.inc(n);
    }
    fn finish(&self) {}
}

/// The partition of the pools `key` names: read from `dir/partition.json` when it was
/// computed for the same pools, parameters and data, else audited now (its outputs and the
/// partition written into `dir`, each file atomically). The privacy study uses it too.
///
/// # Errors
/// An unreadable cached partition (naming the file), audit and write errors.
pub fn partition(
    key: PartitionKey,
    data: &Cifar10,
    dir: &Path,
    progress: &dyn Progress,
) -> Result<Partition> {
    let path = dir.join("partition.json");
    if path.is_file() {
        let cached: Partition = read_json(&path, "natural-duplicates partition")?;
        if cached.key == key
            && cached.twin_groups.len() == cached.twins.len()
            && cached.twin_partners.len() == cached.twins.len()
        {
            return Ok(cached);
        }
        tracing::info!(path = %path.display(), "the cached partition is for other pools or parameters; auditing again");
    }
    let start = Instant::now();
    progress.message("audit: features");
    let set = ImageSet::from_cifar_prefix(data, key.train_pool, key.test_pool);
    let features = dupstudy_audit::features::compute(&set);
    let bar = AuditBar(progress);
    let audit = match &key.learned {
        Some(learned) => {
            dupstudy_descriptor::train_and_audit(&set, &features, &key.audit, learned, &bar)?.0
        }
        None => dupstudy_audit::audit::run(&set, &features, &key.audit, &bar)?,
    };
    let summary = dupstudy_audit::summary::summarize(&set, &audit);
    dupstudy_audit::output::write_all(dir, &set, &audit, &summary, None, None)?;
    let partition = Partition::from_audit(key, &set, &audit, start.elapsed().as_secs_f64());
    write_json_atomic(&path, &partition)?;
    tracing::info!(
        groups = partition.train_groups.len(),
        cut = partition.cut.len(),
        twins = partition.twins.len(),
        seconds = partition.seconds,
        "audited the pools"
    );
    Ok(partition)
}

/// The audit's folder of a results folder.
pub fn audit_dir(out: &Path) -> PathBuf {
    crate::driver::study_dir(out, NAME).join(AUDIT_DIR)
}
