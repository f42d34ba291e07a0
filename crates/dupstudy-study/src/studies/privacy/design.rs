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
        let grouped: std::collections::BTreeSet<usize> =
            partition.train_groups.iter().flatten().copied().collect();
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
        };
        for j in 0..total {
            let class = j % N_CLASSES;
            let target = candidates[class][j / N_CLASSES];
            design.targets.push(target);
            design.labels.push(class as u8);
            design
                .copies
                .push(setting.copies[(j / N_CLASSES) % setting.copies.len()]);
            let mut models: Vec<u64> = (0..setting.models).collect();
            models.shuffle(&mut seeds::inclusion(setting.pool, setting.models, target));
            let mut row = vec![false; setting.models as usize];
            for &m in &models[..(setting.models / 2) as usize] {
                row[m as usize] = true;
            }
            design.inclusion.push(row);
        }
        Ok(design)
    }

    /// Whether each target is in model `model`.
    pub fn included(&self, model: u64) -> Vec<bool> {
        self.inclusion
            .iter()
            .map(|row| row[model as usize])
            .collect()
    }

    /// The training list of model `model`: every pool image that is not a target, once,
    /// then each target it includes, `k` times.
    pub fn training_list(&self, pool: usize, model: u64) -> Vec<usize> {
        let targets: std::collections::BTreeSet<usize> = self.targets.iter().copied().collect();
        let mut list: Vec<usize> = (0..pool).filter(|i| !targets.contains(i)).collect();
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
                data_sha256: "x".into(),
            },
            train_groups: vec![(0..40).collect()],
            cut: Vec::new(),
            twins: Vec::new(),
            twin_groups: Vec::new(),
            test_in_test_groups: 0,
            seconds: 0.0,
        };
        let s = setting();
        let d = Design::new(&s, &labels, &partition).unwrap();
        assert_eq!(d.targets.len(), 30);
        assert!(
            d.targets.iter().all(|&t| (40..400).contains(&t)),
            "outside the group and the pool's end"
        );
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
        assert_eq!(list.len(), 400 - 30 + extra as usize);
        assert_eq!(d, Design::new(&s, &labels, &partition).unwrap(), "seeded");
        // Too few candidates in a class is an error naming the parameter.
        let mut big = setting();
        big.targets_per_k = 200;
        assert!(Design::new(&big, &labels, &partition).is_err());
    }
}
