//! Planning: each profile's defaults and the checks that run before any work.

use dupstudy_audit::AuditParams;
use dupstudy_descriptor::LearnedAudit;

use super::partition::PartitionKey;
use super::{Arm, CELL_VERSION, CellSpec, NAME, Plan, Setting};
use crate::error::{Result, StudyError};
use crate::profile::{Profile, Request};
use crate::studies::cnn::check_training;

/// A profile's defaults for the study.
pub(super) struct Defaults {
    train_pool: usize,
    test_pool: usize,
    epochs: u64,
    batch: usize,
    seeds: u64,
}

/// The defaults of `profile`.
pub(super) fn defaults(profile: Profile) -> Defaults {
    let paper = |seeds| Defaults {
        train_pool: 50_000,
        test_pool: 10_000,
        epochs: 30,
        batch: 128,
        seeds,
    };
    match profile {
        Profile::Smoke => Defaults {
            train_pool: 3_000,
            test_pool: 1_000,
            epochs: 1,
            batch: 64,
            seeds: 2,
        },
        Profile::Quick => Defaults {
            epochs: 8,
            ..paper(8)
        },
        Profile::Paper | Profile::PaperStandard | Profile::PaperAdversarial => paper(5),
        Profile::Full => paper(8),
    }
}

impl Plan {
    /// The plan of a profile with the flags' overrides (`--seeds`, `--epochs`,
    /// `--train-subset` for the training pool; `--d-rates` does not apply and is reported
    /// as such), validated against the data's split sizes.
    ///
    /// # Errors
    /// A value the plan cannot use, naming its flag.
    pub fn from_request(
        request: &Request,
        (train_size, test_size): (usize, usize),
        data_sha256: &str,
    ) -> Result<Self> {
        let o = &request.overrides;
        if o.d_rates.is_some() {
            tracing::warn!(
                "--d-rates does not apply to {NAME}: its D-rates are the data set's own (see its report)"
            );
        }
        let d = defaults(request.profile);
        let plan = Plan {
            setting: Setting {
                train_pool: o.study.cnn.train_subset.unwrap_or(d.train_pool),
                test_pool: d.test_pool.min(test_size),
                epochs: o.study.cnn.epochs.unwrap_or(d.epochs),
                batch_size: d.batch,
                audit: AuditParams::with_threshold(LearnedAudit::THRESHOLD),
                learned: Some(LearnedAudit::default()),
                min_last_batch: d.batch / 2,
                data_sha256: data_sha256.to_string(),
            },
            seeds: o.seeds.unwrap_or(d.seeds),
        };
        plan.check(train_size, test_size)?;
        Ok(plan)
    }

    /// Checks every parameter against the split sizes.
    ///
    /// # Errors
    /// The first bad one, naming its flag.
    pub fn check(&self, train_size: usize, test_size: usize) -> Result<()> {
        let s = &self.setting;
        if s.train_pool < 2 || s.train_pool > train_size {
            return Err(StudyError::invalid(
                "--train-subset",
                format!(
                    "the natural-duplicates study's training pool must lie in 2..={train_size}, got {}",
                    s.train_pool
                ),
            ));
        }
        if s.test_pool == 0 || s.test_pool > test_size {
            return Err(StudyError::invalid(
                "test pool",
                format!("must lie in 1..={test_size}, got {}", s.test_pool),
            ));
        }
        check_training(s.epochs, s.batch_size)?;
        s.audit
            .check()
            .map_err(|e| StudyError::invalid("audit parameters", e.to_string()))
    }

    /// Every cell: seed by seed, the three arms of each.
    pub fn cells(&self) -> Vec<CellSpec> {
        (0..self.seeds)
            .flat_map(|seed| {
                Arm::ALL.map(|arm| CellSpec {
                    arm,
                    seed,
                    setting: self.setting.clone(),
                    version: CELL_VERSION,
                })
            })
            .collect()
    }

    /// What the plan's partition depends on: the pools, audit parameters and data.
    pub fn key(&self) -> PartitionKey {
        let s = &self.setting;
        PartitionKey {
            train_pool: s.train_pool,
            test_pool: s.test_pool,
            audit: s.audit,
            learned: s.learned,
            data_sha256: s.data_sha256.clone(),
        }
    }
}
