//! The design: which pool images are targets, their copy counts, and which models each is in.

use dupstudy_cifar::N_CLASSES;
use rand::seq::SliceRandom;

use super::{Setting, seeds};
use crate::error::{Result, StudyError};
use crate::studies::natural::Partition;

/// Targets, their classes and copy counts, and the inclusion matrix of one experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct Design {
    /// Target images (training indices), one class after another in turn.
    pub targets: Vec<usize>,
    /// Each target's class.
    pub labels: Vec<u8>,
    /// Each target's copy count when in.
    pub copies: Vec<u32>,
    /// `inclusion[t][m]`: whether target `t` is in model `m`.
    pub inclusion: Vec<Vec<bool>>,
    /// The natural arm: the training images of each duplicate group that holds a test
    /// twin (inside the pool), which enter or leave a model whole.
    pub partner_sets: Vec<Vec<usize>>,
    /// `partner_inclusion[g][m]`: whether partner set `g` is in model `m`.
    pub partner_inclusion: Vec<Vec<bool>>,
    /// Test twins inside the test pool, and the partner set of each.
    pub twins: Vec<(usize, usize)>,
}

/// A seeded half of `models` models, as a membership row.
fn half(pool: usize, models: u64, key: usize) -> Vec<bool> {
    let mut order: Vec<u64> = (0..models).collect();
    order.shuffle(&mut seeds::inclusion(pool, models, key));
    let mut row = vec![false; models as usize];
    for &m in &order[..(models / 2) as usize] {
        row[m as usize] = true;
    }
    row
}

impl Design {
    /// The design of `setting` over the training labels, avoiding every training image in a
    /// duplicate group of `partition`: candidates per class in a seeded order, taken one
    /// class after another; the j-th block of ten targets gets copy count
    /// `copies[j % copies.len()]`, so each count gets the same class mix; each target is in
    /// a seeded half of the models.
    ///
    /// # Errors
    /// Too few candidates in a class for the number of targets asked for.
    pub fn new(setting: &Setting, labels: &[u8], partition: &Partition) -> Result<Self> {
        let grouped: std::collections::BTreeSet<usize> = partition
            .train_groups
            .iter()
            .chain(&partition.twin_partners)
            .flatten()
            .copied()
            .collect();
        let total = setting.targets_per_k * setting.copies.len();
        let per_class = total.div_ceil(N_CLASSES);
        let mut candidates: Vec<Vec<usize>> = vec![Vec::new(); N_CLASSES];
        for (i, &l) in labels.iter().enumerate().take(setting.pool) {
            if !grouped.contains(&i) {
                candidates[usize::from(l)].push(i);
            }
        }
        for (class, c) in candidates.iter_mut().enumerate() {
            if c.len() < per_class {
                return Err(StudyError::invalid(
                    "targets per k",
                    format!(
                        "class {class} has {} images outside duplicate groups in the first {} training images, {per_class} needed",
                        c.len(),
                        setting.pool
                    ),
                ));
            }
            c.shuffle(&mut seeds::targets(setting.pool, class));
        }
        let mut design = Design {
            targets: Vec::with_capacity(total),
            labels: Vec::with_capacity(total),
            copies: Vec::with_capacity(total),
            inclusion: Vec::with_capacity(total),
            partner_sets: Vec::new(),
            partner_inclusion: Vec::new(),
            twins: Vec::new(),
        };
        for j in 0..total {
            let class = j % N_CLASSES;
            let target = candidates[class][j / N_CLASSES];
            design.targets.push(target);
            design.labels.push(class as u8);
            design
                .copies
                .push(setting.copies[(j / N_CLASSES) % setting.copies.len()]);
            design
                .inclusion
                .push(half(setting.pool, setting.models, target));
        }
        design.add_partners(setting, partition);
        Ok(design)
    }

    /// The natural arm: every distinct partner set of the test twins inside the pools, each
    /// in a seeded half of the models (keyed past the training indices, so that its draw
    /// never repeats a target's).
    fn add_partners(&mut self, setting: &Setting, partition: &Partition) {
        for (&twin, partners) in partition.twins.iter().zip(&partition.twin_partners) {
            let inside: Vec<usize> = partners
                .iter()
                .copied()
                .filter(|&i| i < setting.pool)
                .collect();
            if twin >= setting.test_pool || inside.is_empty() {
                continue;
            }
            let set = match self.partner_sets.iter().position(|s| *s == inside) {
                Some(g) => g,
                None => {
                    let key = 1_000_000 + inside[0];
                    self.partner_inclusion
                        .push(half(setting.pool, setting.models, key));
                    self.partner_sets.push(inside);
                    self.partner_sets.len() - 1
                }
            };
            self.twins.push((twin, set));
        }
    }

    /// Whether each target is in model `model`.
    pub fn included(&self, model: u64) -> Vec<bool> {
        self.inclusion
            .iter()
            .map(|row| row[model as usize])
            .collect()
    }

    /// Whether each twin's partner set is in model `model`, in the order of `twins`.
    pub fn twins_in(&self, model: u64) -> Vec<bool> {
        self.twins
            .iter()
            .map(|&(_, g)| self.partner_inclusion[g][model as usize])
            .collect()
    }

    /// The training list of model `model`: every pool image that is neither a target nor in
    /// a partner set the model leaves out, once, then each target it includes, `k` times.
    pub fn training_list(&self, pool: usize, model: u64) -> Vec<usize> {
        let mut skip: std::collections::BTreeSet<usize> = self.targets.iter().copied().collect();
        for (g, set) in self.partner_sets.iter().enumerate() {
            if !self.partner_inclusion[g][model as usize] {
                skip.extend(set);
            }
        }
        let mut list: Vec<usize> = (0..pool).filter(|i| !skip.contains(i)).collect();
        for (t, inc) in self.included(model).into_iter().enumerate() {
            if inc {
                list.extend(std::iter::repeat_n(
                    self.targets[t],
                    self.copies[t] as usize,
                ));
            }
        }
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::studies::natural::PartitionKey;

    fn setting() -> Setting {
        Setting {
            pool: 400,
            test_pool: 100,
            targets_per_k: 10,
            copies: vec![1, 2, 8],
            models: 6,
            epochs: 1,
            batch_size: 32,
            attack_steps: 0,
            audit: dupstudy_audit::AuditParams::default(),
            data_sha256: "x".into(),
        }
    }

    #[test]
    fn targets_avoid_groups_and_each_is_in_half_the_models() {
        let labels: Vec<u8> = (0..1000).map(|i| (i % 10) as u8).collect();
        let partition = Partition {
            key: PartitionKey {
                train_pool: 400,
                test_pool: 100,
                audit: dupstudy_audit::AuditParams::default(),
                learned: None,
                data_sha256: "x".into(),
            },
            train_groups: vec![(0..40).collect()],
            cut: Vec::new(),
            twin_groups: vec![0, 1],
            twins: vec![5, 7],
            twin_partners: vec![vec![100, 101], vec![200]],
            test_in_test_groups: 0,
            seconds: 0.0,
        };
        let s = setting();
        let d = Design::new(&s, &labels, &partition).unwrap();
        assert_eq!(d.targets.len(), 30);
        assert!(
            d.targets
                .iter()
                .all(|&t| (40..400).contains(&t) && ![100, 101, 200].contains(&t)),
            "outside the groups, the twins' partners and the pool's end"
        );
        assert_eq!(d.twins, vec![(5, 0), (7, 1)]);
        assert_eq!(d.partner_sets, vec![vec![100, 101], vec![200]]);
        for (t, &target) in d.targets.iter().enumerate() {
            assert_eq!(d.labels[t], labels[target]);
            assert_eq!(
                d.inclusion[t].iter().filter(|&&b| b).count(),
                3,
                "in half of 6 models"
            );
        }
        for k in [1, 2, 8] {
            let of_k: Vec<usize> = (0..30).filter(|&t| d.copies[t] == k).collect();
            assert_eq!(of_k.len(), 10);
            let classes: std::collections::BTreeSet<u8> =
                of_k.iter().map(|&t| d.labels[t]).collect();
            assert_eq!(classes.len(), 10, "one target per class for each k");
        }
        let list = d.training_list(400, 0);
        let extra: u32 = (0..30)
            .filter(|&t| d.inclusion[t][0])
            .map(|t| d.copies[t])
            .sum();
        let partners_out: usize = (0..2)
            .filter(|&g| !d.partner_inclusion[g][0])
            .map(|g| d.partner_sets[g].len())
            .sum();
        assert_eq!(list.len(), 400 - 30 - partners_out + extra as usize);
        assert_eq!(d.partner_inclusion[0].iter().filter(|&&b| b).count(), 3);
        assert_eq!(d, Design::new(&s, &labels, &partition).unwrap(), "seeded");
        // Too few candidates in a class is an error naming the parameter.
        let mut big = setting();
        big.targets_per_k = 200;
        assert!(Design::new(&big, &labels, &partition).is_err());
    }
}
