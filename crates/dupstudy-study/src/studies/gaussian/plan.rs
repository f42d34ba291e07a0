//! Planning: each profile's defaults and the checks that run before any work; the shared
//! context and the cell ids.

use dupstudy_dup::{DuplicationParams, Replacement};
use dupstudy_gauss::GaussianParams;
use dupstudy_svm::{Gamma, Svm, SvmParams};

use super::flags::PolicyName;
use super::seeds;
use super::{CELL_VERSION, CellSpec, Context, NAME, Plan, Policy, Setting};
use crate::error::{Result, StudyError};
use crate::profile::{Profile, Request};
use crate::store::cell_id;

impl Plan {
    /// The plan of a profile, with the flags' overrides, validated.
    ///
    /// # Errors
    /// An invalid value, naming its flag.
    pub fn from_request(request: &Request) -> Result<Self> {
        let o = &request.overrides;
        let g = &o.study.gaussian;
        let (seeds, test_per_class, d_rates) = match request.profile {
            Profile::Smoke => (5, 1_000, vec![0.0, 30.0, 60.0, 90.0]),
            Profile::Quick
            | Profile::Paper
            | Profile::Full
            | Profile::PaperStandard
            | Profile::PaperAdversarial => {
                (100, 10_000, (0..10).map(|k| 10.0 * f64::from(k)).collect())
            }
        };
        let p_plus = g.weighted_p_plus.clone().unwrap_or_else(|| vec![0.7, 0.8]);
        let names = g
            .policy
            .clone()
            .unwrap_or_else(|| vec![PolicyName::Uniform, PolicyName::Weighted]);
        let mut policies = Vec::new();
        for name in names {
            match name {
                PolicyName::Uniform => policies.push(Policy::Uniform),
                PolicyName::Weighted => {
                    policies.extend(p_plus.iter().map(|&p| Policy::Weighted { p_plus: p }));
                }
            }
        }
        let mut d_rates = o.d_rates.clone().unwrap_or(d_rates);
        d_rates.sort_by(f64::total_cmp);
        d_rates.dedup();
        let plan = Plan {
            setting: Setting {
                train_per_class: g.train_per_class.unwrap_or(100),
                test_per_class: g.test_per_class.unwrap_or(test_per_class),
                test_seed: 0,
                replacement: g.replacement.unwrap_or(Replacement::With),
                c: g.c.unwrap_or(1.0),
                gamma: g.gamma.unwrap_or(Gamma::Auto),
            },
            seeds: o.seeds.unwrap_or(seeds),
            d_rates,
            policies,
        };
        plan.check()?;
        Ok(plan)
    }

    /// Checks the plan before any work starts; errors name the flag.
    ///
    /// # Errors
    /// [`StudyError::InvalidParameter`].
    pub fn check(&self) -> Result<()> {
        if self.d_rates.is_empty() {
            return Err(StudyError::invalid(
                "--d-rates",
                "must list at least one D-rate",
            ));
        }
        if self.policies.is_empty() {
            return Err(StudyError::invalid(
                "--policy",
                "must name at least one policy (uniform, weighted)",
            ));
        }
        for p in &self.policies {
            if let Policy::Weighted { p_plus } = p
                && !(0.0..=1.0).contains(p_plus)
            {
                return Err(StudyError::invalid(
                    "--weighted-p-plus",
                    format!("values must lie in [0, 1], got {p_plus}"),
                ));
            }
        }
        for &d in &self.d_rates {
            DuplicationParams::default()
                .d_rate(d)
                .replacement(self.setting.replacement)
                .check()
                .map_err(|e| {
                    StudyError::invalid("--d-rates", format!("{d} is not a valid D-rate: {e}"))
                })?;
        }
        if self.setting.test_per_class == 0 {
            return Err(StudyError::invalid(
                "--test-per-class",
                "must be at least 1",
            ));
        }
        GaussianParams::default()
            .count_per_class(self.setting.train_per_class)
            .check()
            .map_err(|e| {
                StudyError::invalid("--train-per-class", format!("must be at least 1 ({e})"))
            })?;
        self.svm()
            .map_err(|e| StudyError::invalid("--c, --gamma", e.to_string()))?;
        Ok(())
    }

    pub(super) fn svm(&self) -> Result<Svm> {
        Ok(SvmParams::default()
            .c(self.setting.c)
            .gamma(self.setting.gamma)
            .threads(1)
            .check()?)
    }

    /// Every cell of the plan, original cells first.
    pub fn cells(&self) -> Vec<CellSpec> {
        let spec = |policy, d_rate, seed| CellSpec {
            policy,
            d_rate,
            seed,
            setting: self.setting.clone(),
            version: CELL_VERSION,
        };
        let mut cells: Vec<CellSpec> = (0..self.seeds).map(|s| spec(None, 0.0, s)).collect();
        for &policy in &self.policies {
            for &d_rate in self.d_rates.iter().filter(|&&d| d > 0.0) {
                for seed in 0..self.seeds {
                    cells.push(spec(Some(policy), d_rate, seed));
                }
            }
        }
        cells
    }

    /// The shared context: the classes, the test set and the SVM.
    ///
    /// # Errors
    /// Invalid parameters.
    pub fn context(&self) -> Result<Context> {
        let classes = GaussianParams::default()
            .count_per_class(self.setting.train_per_class)
            .check()?;
        let n = self.setting.test_per_class;
        let test = classes.sample_counts(&[n, n], &mut seeds::test(n, self.setting.test_seed))?;
        Ok(Context {
            classes,
            test,
            svm: self.svm()?,
        })
    }
}

impl Context {
    /// The true class and the Bayes-optimal class of every held-out test point, in the
    /// order of the cells' packed test predictions.
    ///
    /// # Errors
    /// A point of the wrong dimension (not for points of this context).
    pub fn test_reference(&self) -> Result<(Vec<usize>, Vec<usize>)> {
        let bayes = (0..self.test.len())
            .map(|i| {
                let p = self.test.point(i);
                self.classes.bayes_class(&[p[0], p[1]])
            })
            .collect::<std::result::Result<_, _>>()?;
        Ok((self.test.classes().to_vec(), bayes))
    }
}

impl CellSpec {
    /// `gaussian-<policy|original>-d<rate>-s<seed>-<hash of everything>`.
    ///
    /// # Errors
    /// Serialization.
    pub fn id(&self) -> Result<String> {
        cell_id(NAME, &self.label(), self)
    }

    /// `<policy|original>-d<rate>-s<seed>`, the readable middle of the id.
    pub fn label(&self) -> String {
        let policy = self
            .policy
            .map_or_else(|| "original".to_string(), |p| p.label());
        format!("{policy}-d{}-s{}", self.d_rate, self.seed)
    }
}
