//! The privacy study's random streams (keys are results: a changed key changes every number
//! drawn from it).

use rand_chacha::ChaCha8Rng;

use crate::seeding::{seed_u64, stream};

/// The order in which a class's candidate images become targets.
pub(crate) fn targets(pool: usize, class: usize) -> ChaCha8Rng {
    stream(&format!("privacy/targets/pool={pool}/class={class}"))
}

/// Which half of the models a target is in.
pub(crate) fn inclusion(pool: usize, models: u64, target: usize) -> ChaCha8Rng {
    stream(&format!(
        "privacy/inclusion/pool={pool}/models={models}/target={target}"
    ))
}

/// The trainer's seed of a model number (shared by E2's clean and adversarial model).
pub(crate) fn training(model: u64) -> u64 {
    seed_u64(&format!("privacy/train/model={model}"))
}

/// The seed of the PGD examples a model's targets are queried with.
pub(crate) fn query_attack(model: u64) -> u64 {
    seed_u64(&format!("privacy/query-attack/model={model}"))
}

/// The resamples of the bootstrap check over models and targets.
pub(crate) fn bootstrap() -> ChaCha8Rng {
    stream("privacy/bootstrap")
}
