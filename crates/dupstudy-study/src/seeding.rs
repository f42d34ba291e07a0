//! Independent, reproducible random streams: one named function per purpose.
//!
//! Every random choice of the study draws from a stream keyed by what it is for and by
//! every setting it depends on (e.g. `gaussian/train/n=100/seed=7`), hashed with SHA-256,
//! so streams never overlap, a cell's randomness does not depend on which other cells run
//! or in what order, and a seed fixes every CPU result. The keys are part of the results:
//! changing one changes every number drawn from it.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

/// A generator seeded by the SHA-256 of `key`.
pub fn stream(key: &str) -> ChaCha8Rng {
    let digest = Sha256::digest(key.as_bytes());
    let mut seed = [0u8; 32];
    seed.copy_from_slice(&digest);
    ChaCha8Rng::from_seed(seed)
}

/// A `u64` seed derived from `key` (for libraries that take one).
pub fn seed_u64(key: &str) -> u64 {
    let digest = Sha256::digest(key.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(bytes)
}

/// The Gaussian study's held-out test set (`per_class` points per class).
pub fn gaussian_test(per_class: usize, test_seed: u64) -> ChaCha8Rng {
    stream(&format!("gaussian/test/n={per_class}/seed={test_seed}"))
}

/// The original training draw of a Gaussian seed.
pub fn gaussian_train(per_class: usize, seed: u64) -> ChaCha8Rng {
    stream(&format!("gaussian/train/n={per_class}/seed={seed}"))
}

/// The duplicates of a Gaussian cell (`policy` is the policy's label).
pub fn gaussian_duplicates(policy: &str, d_rate: f64, per_class: usize, seed: u64) -> ChaCha8Rng {
    stream(&format!(
        "gaussian/duplicates/{policy}/d_rate={d_rate}/n={per_class}/seed={seed}"
    ))
}

/// Resample `b` of the bootstrap over seeds of one Gaussian policy.
pub fn gaussian_bootstrap(policy: &str, resample: usize) -> ChaCha8Rng {
    stream(&format!("gaussian/bootstrap/{policy}/resample={resample}"))
}

/// The order of the training split from which a CIFAR seed's base is the first part (and
/// the fresh-data control's unseen images the next).
pub fn cifar_base(seed: u64) -> ChaCha8Rng {
    stream(&format!("cifar/base/seed={seed}"))
}

/// The duplicates of a CIFAR cell (`variant` is the variant's label).
pub fn cifar_duplicates(variant: &str, d_rate: f64, base_len: usize, seed: u64) -> ChaCha8Rng {
    stream(&format!(
        "cifar/duplicates/{variant}/d_rate={d_rate}/n={base_len}/seed={seed}"
    ))
}

/// The trainer's seed of a CIFAR seed (initialization, batch order, augmentation, attack).
pub fn cifar_training(seed: u64) -> u64 {
    seed_u64(&format!("cifar/train/seed={seed}"))
}

/// The seed of the attack that measures a CIFAR cell's robust accuracy.
pub fn cifar_eval_attack(seed: u64) -> u64 {
    seed_u64(&format!("cifar/eval-attack/seed={seed}"))
}

/// The random images the natural-duplicates study's control removes from a training pool
/// of `pool` images (`removed` of them) for a seed.
pub fn natural_removal(pool: usize, removed: usize, seed: u64) -> ChaCha8Rng {
    stream(&format!(
        "natural/removal/pool={pool}/removed={removed}/seed={seed}"
    ))
}

/// The trainer's seed of a natural-duplicates seed (shared by the seed's three arms).
pub fn natural_training(seed: u64) -> u64 {
    seed_u64(&format!("natural/train/seed={seed}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: u64 = gaussian_train(100, 1).random();
        assert_eq!(a, gaussian_train(100, 1).random::<u64>());
        assert_ne!(a, gaussian_train(100, 2).random::<u64>());
        assert_ne!(a, gaussian_test(100, 1).random::<u64>());
        assert_ne!(cifar_training(0), cifar_eval_attack(0));
    }

    /// The keys are results: a changed key changes every number drawn from it.
    #[test]
    fn golden_values() {
        assert_eq!(seed_u64("cifar/train/seed=0"), cifar_training(0));
        let first: u64 = stream("gaussian/train/n=100/seed=0").random();
        assert_eq!(first, gaussian_train(100, 0).random::<u64>());
        assert_eq!(
            stream("gaussian/duplicates/uniform/d_rate=50/n=100/seed=3").random::<u64>(),
            gaussian_duplicates("uniform", 50.0, 100, 3).random::<u64>()
        );
    }
}
