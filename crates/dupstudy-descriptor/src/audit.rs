//! The duplicate audit with the learned descriptor fused into its score.

use dupstudy_audit::audit::{Audit, Fusion};
use dupstudy_audit::features::{self, Features};
use dupstudy_audit::planted::{self, Validation};
use dupstudy_audit::progress::Progress;
use dupstudy_audit::{AuditParams, ImageSet};
use dupstudy_cnn::Cnn;
use serde::{Deserialize, Serialize};

use crate::{DescriptorError, DescriptorParams, Descriptors, Result, embed};

/// How the learned audit ([`audit`]) runs: the audit's own candidates and alignment, plus
/// each image's nearest images by the learned descriptor as candidates, every pair scored
/// by [`dupstudy_audit::audit::fused_score`] of its aligned and descriptor similarities.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LearnedAudit {
    /// The descriptor.
    pub descriptor: DescriptorParams,
    /// The aligned similarity's weight in the fused score, in `[0, 1]`.
    pub weight: f32,
    /// Each image's nearest images by the descriptor added to the candidates (those that
    /// can reach the threshold at all).
    pub neighbours: usize,
}

impl Default for LearnedAudit {
    /// The descriptor's defaults, [`LearnedAudit::WEIGHT`], 20 neighbours.
    fn default() -> Self {
        Self {
            descriptor: DescriptorParams::default(),
            weight: Self::WEIGHT,
            neighbours: 20,
        }
    }
}

impl LearnedAudit {
    /// The aligned similarity's weight, chosen by
    /// [`dupstudy_audit::labelled::chosen_weight`] on the development half of ciFAIR's
    /// labelled CIFAR-10 pairs only (`docs/audit.md`).
    pub const WEIGHT: f32 = 0.25;

    /// The learned audit's default threshold on the fused score, chosen by
    /// [`dupstudy_audit::labelled::chosen_on_development`] on the development half of
    /// ciFAIR's labelled CIFAR-10 pairs only, on a learned audit of the CIFAR-10 stand-in
    /// (`docs/audit.md`).
    pub const THRESHOLD: f32 = 0.86;

    /// Checks every field.
    ///
    /// # Errors
    /// [`DescriptorError::InvalidParameter`] naming it.
    pub fn check(&self) -> Result<()> {
        self.descriptor.check()?;
        if !(0.0..=1.0).contains(&self.weight) {
            return Err(DescriptorError::InvalidParameter {
                name: "weight",
                message: format!("{}; must lie in [0, 1]", self.weight),
            });
        }
        if self.neighbours == 0 {
            return Err(DescriptorError::InvalidParameter {
                name: "neighbours",
                message: "0; must be at least 1".into(),
            });
        }
        Ok(())
    }

    /// The least descriptor similarity with which a pair can reach `threshold` (its
    /// aligned similarity at most 1); `+inf` when the weight leaves the descriptor no say.
    pub fn floor(&self, threshold: f32) -> f32 {
        if self.weight >= 1.0 {
            f32::INFINITY
        } else {
            (threshold - self.weight) / (1.0 - self.weight)
        }
    }
}

/// Audits `set` (its `features` from [`features::compute`]) with `model`'s descriptors
/// fused in ([`LearnedAudit`]); returns the audit and the descriptors.
///
/// # Errors
/// Bad parameters, images the model does not take, audit errors.
pub fn audit(
    set: &ImageSet,
    features: &Features,
    model: &Cnn,
    params: &AuditParams,
    learned: &LearnedAudit,
    progress: &dyn Progress,
) -> Result<(Audit, Descriptors)> {
    learned.check()?;
    let descriptors = embed(model, set, progress)?;
    let clock = std::time::Instant::now();
    let candidates = descriptors.candidates(learned.neighbours, learned.floor(params.threshold));
    let search_s = clock.elapsed().as_secs_f64();
    tracing::info!(
        candidates = candidates.len(),
        seconds = search_s,
        "descriptor neighbours"
    );
    let similarity = |a: usize, b: usize| descriptors.similarity(a, b);
    let fusion = Fusion {
        name: "learned descriptor",
        weight: learned.weight,
        similarity: &similarity,
        candidates: &candidates,
    };
    let mut found = dupstudy_audit::audit::run_fused(set, features, params, &fusion, progress)?;
    found
        .seconds
        .insert(0, ("descriptor neighbours".to_string(), search_s));
    Ok((found, descriptors))
}

/// Trains the descriptor on `set` ([`crate::train`]) and audits with it ([`audit`]); the
/// audit's seconds start with the training's. Returns the audit and the network (for
/// [`validate`]).
///
/// # Errors
/// As [`crate::train`] and [`audit`].
pub fn train_and_audit(
    set: &ImageSet,
    features: &Features,
    params: &AuditParams,
    learned: &LearnedAudit,
    progress: &dyn Progress,
) -> Result<(Audit, Cnn)> {
    learned.check()?;
    let clock = std::time::Instant::now();
    let model = crate::train(set, &learned.descriptor, progress)?;
    let train_s = clock.elapsed().as_secs_f64();
    tracing::info!(
        epochs = learned.descriptor.epochs,
        seconds = train_s,
        "descriptor trained"
    );
    let (mut found, _) = audit(set, features, &model, params, learned, progress)?;
    found
        .seconds
        .insert(0, ("descriptor training".to_string(), train_s));
    Ok((found, model))
}

/// The audit's validation under the learned score: `per_transform` copies per planted
/// transformation (seeded by `seeds.0`) join `set`, the copies are described by the same
/// `model` (it never saw them) and audited with the set; a copy counts as found when the
/// audit pairs it with its source. `random_pairs` random same-class pairs of originals
/// (seeded by `seeds.1`) are scored by the same fused score for the false-pair rate.
///
/// # Errors
/// As [`audit`]; planting failures.
#[allow(clippy::too_many_arguments)]
pub fn validate(
    set: &ImageSet,
    model: &Cnn,
    params: &AuditParams,
    learned: &LearnedAudit,
    per_transform: usize,
    random_pairs: usize,
    seeds: (u64, u64),
    progress: &dyn Progress,
) -> Result<Validation> {
    let mut planted_set = set.clone();
    let copies = planted::plant(&mut planted_set, per_transform, seeds.0)?;
    let pf = features::compute(&planted_set);
    let (found, d) = audit(&planted_set, &pf, model, params, learned, progress)?;
    let similarity = |a: usize, b: usize| d.similarity(a, b);
    Ok(planted::validate_fused(
        &planted_set,
        &pf,
        &copies,
        &found,
        set.len(),
        random_pairs,
        seeds.1,
        (learned.weight, &similarity),
    ))
}
