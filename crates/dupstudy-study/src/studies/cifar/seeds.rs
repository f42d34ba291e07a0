//! The CIFAR studies' random streams (keys are results: a changed key changes every number
//! drawn from it).

use rand_chacha::ChaCha8Rng;

use crate::seeding::{seed_u64, stream};

/// The order of the training split from which a CIFAR seed's base is the first part (and
/// the fresh-data control's unseen images the next).
pub(crate) fn base(seed: u64) -> ChaCha8Rng {
    stream(&format!("cifar/base/seed={seed}"))
}

/// The duplicates of a CIFAR cell (`variant` is the variant's label).
pub(crate) fn duplicates(variant: &str, d_rate: f64, base_len: usize, seed: u64) -> ChaCha8Rng {
    stream(&format!(
        "cifar/duplicates/{variant}/d_rate={d_rate}/n={base_len}/seed={seed}"
    ))
}

/// The trainer's seed of a CIFAR seed (initialization, batch order, augmentation, attack).
pub(crate) fn training(seed: u64) -> u64 {
    seed_u64(&format!("cifar/train/seed={seed}"))
}

/// The seed of the attack that measures a CIFAR cell's robust accuracy.
pub(crate) fn eval_attack(seed: u64) -> u64 {
    seed_u64(&format!("cifar/eval-attack/seed={seed}"))
}
