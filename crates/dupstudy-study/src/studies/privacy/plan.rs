//! Planning: each profile's defaults and the checks that run before any work.

use dupstudy_audit::AuditParams;

use super::{NAME, Plan, Setting};
use crate::error::{Result, StudyError};
use crate::profile::{Profile, Request};
use crate::studies::cnn::check_training;

/// `(pool, test pool, targets per k, models, epochs, batch)` of one experiment.
struct Scale {
    pool: usize,
    test_pool: usize,
    targets_per_k: usize,
    models: u64,
    epochs: u64,
    batch: usize,
}

/// E1's and E2's scale under `profile`, with E2's PGD steps.
fn defaults(profile: Profile) -> (Scale, Scale, usize) {
    match profile {
        Profile::Smoke => (
            Scale {
                pool: 1_200,
                test_pool: 300,
                targets_per_k: 10,
                models: 4,
                epochs: 1,
                batch: 64,
            },
            Scale {
                pool: 600,
                test_pool: 300,
                targets_per_k: 10,
                models: 4,
                epochs: 1,
                batch: 64,
            },
            2,
        ),
        Profile::Quick => (
            Scale {
                pool: 20_000,
                test_pool: 10_000,
                targets_per_k: 100,
                models: 8,
                epochs: 10,
                batch: 128,
            },
            Scale {
                pool: 4_000,
                test_pool: 10_000,
                targets_per_k: 100,
                models: 4,
                epochs: 5,
                batch: 128,
            },
            10,
        ),
        Profile::Paper | Profile::Full | Profile::PaperStandard | Profile::PaperAdversarial => (
            Scale {
                pool: 50_000,
                test_pool: 10_000,
                targets_per_k: 250,
                models: 16,
                epochs: 30,
                batch: 128,
            },
            Scale {
                pool: 10_000,
                test_pool: 10_000,
                targets_per_k: 250,
                models: 8,
                epochs: 15,
                batch: 128,
            },
            10,
        ),
    }
}

impl Plan {
    /// The plan of a profile with the flags' overrides (`--seeds` is the number of models
    /// of E1 and of E2's pairs, `--epochs` both experiments' epochs, `--train-subset` E1's
    /// pool; `--d-rates` does not apply: the copy counts are the study's own), validated
    /// against the data's split sizes.
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
                "--d-rates does not apply to {NAME}: it plants k copies, k in 1, 2, 4, 8"
            );
        }
        let (e1, e2, steps) = defaults(request.profile);
        let setting = |s: Scale, copies: Vec<u32>, attack_steps, pool| Setting {
            pool,
            test_pool: s.test_pool.min(test_size),
            targets_per_k: s.targets_per_k,
            copies,
            models: o.seeds.unwrap_or(s.models),
            epochs: o.study.cnn.epochs.unwrap_or(s.epochs),
            batch_size: s.batch,
            attack_steps,
            // Fixed at the first published audit's parameters: the published privacy cells
            // (docs/paper-privacy, docs/quick) were drawn from partitions made with them.
            audit: AuditParams::with_threshold(AuditParams::FIRST_THRESHOLD),
            data_sha256: data_sha256.to_string(),
        };
        let e1_pool = o.study.cnn.train_subset.unwrap_or(e1.pool);
        let e2_pool = e2.pool.min(e1_pool);
        let plan = Plan {
            e1: Some(setting(e1, vec![1, 2, 4, 8], 0, e1_pool)),
            e2: Some(setting(e2, vec![1, 2, 8], steps, e2_pool)),
        };
        for s in plan.e1.iter().chain(plan.e2.iter()) {
            s.check(train_size)?;
        }
        Ok(plan)
    }
}

impl Setting {
    /// Checks the setting against the training split's size, naming the flag at fault.
    ///
    /// # Errors
    /// [`StudyError::InvalidParameter`].
    pub fn check(&self, train_size: usize) -> Result<()> {
        check_training(self.epochs, self.batch_size)?;
        if self.pool == 0 || self.pool > train_size {
            return Err(StudyError::invalid(
                "--train-subset",
                format!("must lie in 1..={train_size}, got {}", self.pool),
            ));
        }
        if self.models < 4 || self.models % 2 == 1 {
            return Err(StudyError::invalid(
                "--seeds",
                format!(
                    "the number of models must be even and at least 4 (each target is in half of them, and offline LiRA needs models it is out of besides the one attacked), got {}",
                    self.models
                ),
            ));
        }
        if self.targets_per_k == 0 || !self.targets_per_k.is_multiple_of(10) {
            return Err(StudyError::invalid(
                "targets per k",
                format!(
                    "must be a positive multiple of 10 (one per class in turn), got {}",
                    self.targets_per_k
                ),
            ));
        }
        if 2 * self.targets_per_k * self.copies.len() > self.pool {
            return Err(StudyError::invalid(
                "--train-subset",
                format!(
                    "a pool of {} images is too small for {} targets",
                    self.pool,
                    self.targets_per_k * self.copies.len()
                ),
            ));
        }
        self.audit
            .check()
            .map_err(|e| StudyError::invalid("audit parameters", e.to_string()))
    }
}
