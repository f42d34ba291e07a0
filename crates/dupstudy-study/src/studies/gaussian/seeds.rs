//! The Gaussian study's random streams (keys are results: a changed key changes every
//! number drawn from it).

use rand_chacha::ChaCha8Rng;

use crate::seeding::stream;

/// The Gaussian study's held-out test set (`per_class` points per class).
pub(crate) fn test(per_class: usize, test_seed: u64) -> ChaCha8Rng {
    stream(&format!("gaussian/test/n={per_class}/seed={test_seed}"))
}

/// The original training draw of a Gaussian seed.
pub(crate) fn train(per_class: usize, seed: u64) -> ChaCha8Rng {
    stream(&format!("gaussian/train/n={per_class}/seed={seed}"))
}

/// The duplicates of a Gaussian cell (`policy` is the policy's label).
pub(crate) fn duplicates(policy: &str, d_rate: f64, per_class: usize, seed: u64) -> ChaCha8Rng {
    stream(&format!(
        "gaussian/duplicates/{policy}/d_rate={d_rate}/n={per_class}/seed={seed}"
    ))
}

/// Resample `b` of the bootstrap over seeds of one Gaussian policy.
pub(crate) fn bootstrap(policy: &str, resample: usize) -> ChaCha8Rng {
    stream(&format!("gaussian/bootstrap/{policy}/resample={resample}"))
}
