//! The natural-duplicates study's random streams (keys are results: a changed key changes
//! every number drawn from it).

use rand_chacha::ChaCha8Rng;

use crate::seeding::{seed_u64, stream};

/// The random images the natural-duplicates study's control removes from a training pool
/// of `pool` images (`removed` of them) for a seed.
pub(crate) fn removal(pool: usize, removed: usize, seed: u64) -> ChaCha8Rng {
    stream(&format!(
        "natural/removal/pool={pool}/removed={removed}/seed={seed}"
    ))
}

/// The trainer's seed of a natural-duplicates seed (shared by the seed's three arms).
pub(crate) fn training(seed: u64) -> u64 {
    seed_u64(&format!("natural/train/seed={seed}"))
}
