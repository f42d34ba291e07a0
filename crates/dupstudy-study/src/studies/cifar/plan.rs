//! Planning: each profile's defaults, the cells of a plan, and the checks that run before
//! any work.

use dupstudy_cifar::N_CLASSES;
use dupstudy_cnn::{ModelConfig, PgdConfig, TrainConfig};
use dupstudy_dup::{Duplication, DuplicationParams, Replacement};

use super::seeds;
use super::{CELL_VERSION, CellSpec, FAVOURED_CLASSES, Network, Plan, Setting, Variant};
use crate::error::{Result, StudyError};
use crate::profile::{Profile, Request};
use crate::store::cell_id;
use crate::studies::cnn::check_training;

/// A profile's defaults for one CIFAR study.
pub(super) struct Defaults {
    base: usize,
    test: usize,
    robust: usize,
    epochs: u64,
    batch: usize,
    seeds: u64,
    d_rates: Vec<f64>,
    extra: Vec<(Variant, Vec<f64>, u64)>,
    attack_steps: usize,
}

impl Defaults {
    /// The paper's scale: every training and test image, 30 epochs, batch 128.
    fn paper_scale(
        seeds: u64,
        d_rates: Vec<f64>,
        extra: Vec<(Variant, Vec<f64>, u64)>,
        robust: usize,
        attack_steps: usize,
    ) -> Self {
        Self {
            base: 50_000,
            test: 10_000,
            robust,
            epochs: 30,
            batch: 128,
            seeds,
            d_rates,
            extra,
            attack_steps,
        }
    }
}

/// A profile's defaults for `network`.
pub(super) fn defaults(profile: Profile, network: Network) -> Defaults {
    match network {
        Network::Standard => standard_defaults(profile),
        Network::Adversarial => adversarial_defaults(profile),
    }
}

/// Every D-rate of the paper's figures: 0, 10, ..., 90.
fn all_d_rates() -> Vec<f64> {
    (0..10).map(|k| 10.0 * f64::from(k)).collect()
}

/// The class-weighted variant the profiles run (the Gaussian study's 0.7).
const WEIGHTED: Variant = Variant::ClassWeighted {
    favoured_share: 0.7,
};

fn standard_defaults(profile: Profile) -> Defaults {
    let all = all_d_rates();
    match profile {
        Profile::Smoke => Defaults {
            base: 256,
            test: 256,
            robust: 0,
            epochs: 2,
            batch: 64,
            seeds: 1,
            d_rates: vec![0.0, 50.0],
            extra: vec![
                (Variant::NotebookCopies, vec![30.0], 1),
                (Variant::EqualSteps, vec![50.0], 1),
                (Variant::FreshData, vec![50.0], 1),
                (WEIGHTED, vec![50.0], 1),
            ],
            attack_steps: 0,
        },
        Profile::Quick => Defaults {
            base: 12_000,
            test: 10_000,
            robust: 0,
            epochs: 8,
            batch: 128,
            seeds: 3,
            d_rates: vec![0.0, 30.0, 60.0, 90.0],
            extra: vec![
                (Variant::NotebookCopies, vec![30.0, 60.0], 1),
                (Variant::EqualSteps, vec![30.0, 60.0, 90.0], 3),
                (Variant::FreshData, vec![30.0, 60.0, 90.0], 3),
                (WEIGHTED, vec![30.0, 60.0, 90.0], 3),
            ],
            attack_steps: 0,
        },
        // 7 seeds: at the spread the first 3 showed, S-30 needs about 7 for an 80 % chance
        // of a decisive verdict, S-plateau 5-7 and S-steps within its margin about 7.
        Profile::PaperStandard => Defaults::paper_scale(
            7,
            vec![0.0, 30.0, 60.0, 90.0],
            vec![
                (Variant::EqualSteps, vec![90.0], 7),
                (Variant::NotebookCopies, vec![30.0], 1),
                (WEIGHTED, vec![60.0], 7),
            ],
            0,
            0,
        ),
        // The paper's protocol at every D-rate.
        Profile::Paper | Profile::PaperAdversarial => Defaults::paper_scale(
            1,
            all,
            vec![(Variant::NotebookCopies, vec![10.0, 30.0, 60.0], 1)],
            0,
            0,
        ),
        Profile::Full => Defaults {
            base: 25_000,
            test: 10_000,
            robust: 0,
            epochs: 30,
            batch: 128,
            seeds: 3,
            d_rates: all.clone(),
            extra: vec![
                (Variant::NotebookCopies, vec![10.0, 30.0, 60.0], 3),
                (Variant::EqualSteps, all[1..].to_vec(), 3),
                (Variant::FreshData, all[1..].to_vec(), 3),
                (WEIGHTED, all[1..].to_vec(), 3),
            ],
            attack_steps: 0,
        },
    }
}

fn adversarial_defaults(profile: Profile) -> Defaults {
    let all = all_d_rates();
    let paper_attack = (Variant::PaperAttack, vec![0.0, 30.0, 60.0], 3);
    match profile {
        Profile::Smoke => Defaults {
            base: 128,
            test: 128,
            robust: 64,
            epochs: 2,
            batch: 64,
            seeds: 1,
            d_rates: vec![0.0, 50.0],
            extra: vec![(Variant::PaperAttack, vec![0.0, 50.0], 1)],
            attack_steps: 2,
        },
        Profile::Quick => Defaults {
            base: 4_000,
            test: 10_000,
            robust: 2_000,
            epochs: 5,
            batch: 128,
            seeds: 2,
            d_rates: vec![0.0, 30.0, 60.0],
            extra: vec![(Variant::PaperAttack, vec![0.0, 30.0, 60.0], 1)],
            attack_steps: 10,
        },
        // The paper's protocol; the seeds its paired changes need (one seed gives no
        // interval), robust accuracy on every test image.
        Profile::PaperAdversarial | Profile::Paper | Profile::PaperStandard => {
            Defaults::paper_scale(
                3,
                if profile == Profile::PaperAdversarial {
                    vec![0.0, 30.0, 60.0]
                } else {
                    all
                },
                vec![paper_attack],
                10_000,
                10,
            )
        }
        Profile::Full => Defaults {
            base: 25_000,
            test: 10_000,
            robust: 10_000,
            epochs: 30,
            batch: 128,
            seeds: 3,
            d_rates: all.clone(),
            extra: vec![
                paper_attack,
                (Variant::EqualSteps, all[1..].to_vec(), 3),
                (Variant::FreshData, all[1..].to_vec(), 3),
                (WEIGHTED, all[1..].to_vec(), 3),
            ],
            attack_steps: 10,
        },
    }
}

impl Plan {
    /// The plan of a profile for `network`, with the flags' overrides, validated against
    /// the training split's size.
    ///
    /// # Errors
    /// A value the plan cannot use, naming its flag.
    pub fn from_request(
        network: Network,
        request: &Request,
        train_size: usize,
        data_sha256: &str,
    ) -> Result<Self> {
        let o = &request.overrides;
        let d = defaults(request.profile, network);
        let seeds = o.seeds.unwrap_or(d.seeds);
        let attack = |steps: usize| PgdConfig {
            steps,
            ..PgdConfig::madry()
        };
        let setting = Setting {
            network,
            base_images: o.study.cnn.train_subset.unwrap_or(d.base),
            test_images: d.test,
            robust_test_images: d.robust,
            epochs: o.study.cnn.epochs.unwrap_or(d.epochs),
            batch_size: d.batch,
            train_attack: (network == Network::Adversarial).then(|| attack(d.attack_steps)),
            eval_attack: (network == Network::Adversarial).then(|| {
                attack(if request.profile == Profile::Smoke {
                    3
                } else {
                    10
                })
            }),
            data_sha256: data_sha256.to_string(),
        };
        let mut series = vec![(
            Variant::Uniform,
            o.d_rates.clone().unwrap_or(d.d_rates),
            seeds,
        )];
        for (variant, d_rates, s) in d.extra {
            let d_rates = match &o.d_rates {
                Some(given) => given
                    .iter()
                    .copied()
                    .filter(|&x| x > 0.0 || variant == Variant::PaperAttack)
                    .collect(),
                None => d_rates,
            };
            series.push((variant, d_rates, if o.seeds.is_some() { seeds } else { s }));
        }
        Self::from_series(setting, &series, train_size)
    }

    /// The cells of `(variant, D-rates, seeds)` series, with D-rate 0 of every variant but
    /// `paper_attack` mapped to the uniform baseline and every baseline added; duplicates
    /// removed.
    ///
    /// # Errors
    /// A D-rate that a variant cannot provide (checked by the duplicate sampler's own
    /// parameter check, or fresh images beyond the training split, or a notebook D-rate that
    /// is not a multiple of 10), naming the flag.
    pub fn from_series(
        setting: Setting,
        series: &[(Variant, Vec<f64>, u64)],
        train_size: usize,
    ) -> Result<Self> {
        check_series(&setting, series, train_size)?;
        let spec = |variant, d_rate, seed| CellSpec {
            variant,
            d_rate,
            seed,
            setting: setting.clone(),
            version: CELL_VERSION,
        };
        let mut cells: Vec<CellSpec> = Vec::new();
        let push = |cells: &mut Vec<CellSpec>, cell: CellSpec| {
            if !cells.contains(&cell) {
                cells.push(cell);
            }
        };
        for (variant, d_rates, seeds) in series {
            for seed in 0..*seeds {
                for &d in d_rates {
                    let v = if d == 0.0 {
                        variant.baseline()
                    } else {
                        *variant
                    };
                    push(&mut cells, spec(v, d, seed));
                }
            }
        }
        let baselines: Vec<CellSpec> = cells
            .iter()
            .map(|c| spec(c.variant.baseline(), 0.0, c.seed))
            .collect();
        for b in baselines {
            push(&mut cells, b);
        }
        // Seed by seed, each seed's baselines first (each seed's paired comparisons
        // complete before the next seed starts, so a run stopped early leaves whole seeds of
        // every arm), variants in report order.
        cells.sort_by(|a, b| {
            (
                a.seed,
                a.d_rate > 0.0,
                a.variant.rank(),
                a.variant.label(),
                a.d_rate.to_bits(),
            )
                .cmp(&(
                    b.seed,
                    b.d_rate > 0.0,
                    b.variant.rank(),
                    b.variant.label(),
                    b.d_rate.to_bits(),
                ))
        });
        Ok(Plan {
            network: setting.network,
            cells,
        })
    }
}

/// Checks a setting and its series before any work, naming the flag at fault.
fn check_series(s: &Setting, series: &[(Variant, Vec<f64>, u64)], train_size: usize) -> Result<()> {
    if s.base_images == 0 || s.base_images > train_size {
        return Err(StudyError::invalid(
            "--train-subset",
            format!("must lie in 1..={train_size}, got {}", s.base_images),
        ));
    }
    check_training(s.epochs, s.batch_size)?;
    for (variant, d_rates, _) in series {
        for &d in d_rates {
            check_d_rate(*variant, d, s, train_size)?;
        }
    }
    Ok(())
}

/// Whether `variant` can provide D-rate `d` on this setting.
pub(super) fn check_d_rate(variant: Variant, d: f64, s: &Setting, train_size: usize) -> Result<()> {
    let bad = |message: String| Err(StudyError::invalid("--d-rates", message));
    let (policy, replacement) = match variant {
        Variant::ClassWeighted { favoured_share } => (
            class_weights(favoured_share).map(Duplication::ClassWeighted),
            Replacement::With,
        ),
        _ => (Some(Duplication::Uniform), Replacement::Without),
    };
    let Some(policy) = policy else {
        return bad(format!(
            "class-weighted share must lie in [0, 1], got {variant:?}"
        ));
    };
    DuplicationParams::default()
        .d_rate(d)
        .policy(policy)
        .replacement(replacement)
        .check()
        .map_err(|e| {
            StudyError::invalid(
                "--d-rates",
                format!("{d} is not a valid D-rate for {}: {e}", variant.label()),
            )
        })?;
    match variant {
        Variant::NotebookCopies if d % 10.0 != 0.0 => bad(format!(
            "notebook D-rates must be multiples of 10 (D-rate p appends p/10 copies), got {d}"
        )),
        Variant::FreshData
            if s.base_images + (s.base_images as f64 * d / 100.0).round() as usize > train_size =>
        {
            bad(format!(
                "fresh-data control at D-rate {d}: a base of {} images leaves too few unseen images in {train_size}; use a smaller --train-subset",
                s.base_images
            ))
        }
        _ => Ok(()),
    }
}

/// The class weights of the class-weighted variant, or `None` for a share outside [0, 1].
pub(super) fn class_weights(favoured_share: f64) -> Option<Vec<f64>> {
    if !(0.0..=1.0).contains(&favoured_share) {
        return None;
    }
    Some(
        (0..N_CLASSES)
            .map(|c| {
                if c < FAVOURED_CLASSES {
                    favoured_share / FAVOURED_CLASSES as f64
                } else {
                    (1.0 - favoured_share) / (N_CLASSES - FAVOURED_CLASSES) as f64
                }
            })
            .collect(),
    )
}

impl CellSpec {
    /// `<study>-<variant>-d<rate>-s<seed>-<hash of everything>`.
    ///
    /// # Errors
    /// Serialization.
    pub fn id(&self) -> Result<String> {
        cell_id(self.setting.network.study(), &self.label(), self)
    }

    /// `<variant>-d<rate>-s<seed>`, the readable middle of the id.
    pub fn label(&self) -> String {
        format!("{}-d{}-s{}", self.variant.label(), self.d_rate, self.seed)
    }

    pub(super) fn model(&self) -> ModelConfig {
        match self.setting.network {
            Network::Standard => ModelConfig::standard(),
            Network::Adversarial => ModelConfig::adversarial(),
        }
    }

    pub(super) fn train_config(&self) -> TrainConfig {
        let seed = seeds::training(self.seed);
        let mut config = match self.setting.network {
            Network::Standard => TrainConfig::paper_standard(seed),
            Network::Adversarial => {
                let attack = if self.variant == Variant::PaperAttack {
                    PgdConfig::paper_code()
                } else {
                    self.setting.train_attack.unwrap_or_else(PgdConfig::madry)
                };
                TrainConfig::paper_adversarial(seed, attack)
            }
        };
        config.epochs = self.setting.epochs;
        config.batch_size = self.setting.batch_size;
        config
    }

    pub(super) fn eval_attack(&self) -> Option<PgdConfig> {
        match (self.setting.network, self.variant) {
            (Network::Standard, _) => None,
            (Network::Adversarial, Variant::PaperAttack) => Some(PgdConfig::paper_code()),
            (Network::Adversarial, _) => self.setting.eval_attack,
        }
    }

    /// The total optimizer steps: the uniform run's at this D-rate for the equal-steps
    /// control, else epochs over the list.
    pub(super) fn step_budget(&self, list_len: usize) -> u64 {
        let b = self.setting.batch_size;
        let per_epoch = |n: usize| n.div_ceil(b) as u64;
        match self.variant {
            Variant::EqualSteps if self.d_rate > 0.0 => {
                let base = self.setting.base_images;
                let uniform_len = base + (base as f64 * self.d_rate / 100.0).round() as usize;
                self.setting.epochs * per_epoch(uniform_len)
            }
            _ => self.setting.epochs * per_epoch(list_len),
        }
    }

    /// Images the cell trains on (epochs x list), for estimates and progress.
    pub(super) fn trained_images(&self) -> f64 {
        let s = &self.setting;
        let list = match self.variant {
            Variant::NotebookCopies => s.base_images as f64 * (1.0 + (self.d_rate / 10.0).floor()),
            _ => s.base_images as f64 * (1.0 + self.d_rate / 100.0),
        };
        s.epochs as f64 * list
    }
}
