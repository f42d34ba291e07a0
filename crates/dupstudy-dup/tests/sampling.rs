//! Public-API tests of the duplication sampler.

use dupstudy_dup::{DupError, Duplication, DuplicationParams, Replacement, whole_set_copies};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn paper_labels() -> Vec<usize> {
    (0..200).map(|i| i / 100).collect()
}

fn sampler(
    d_rate: f64,
    policy: Duplication,
    replacement: Replacement,
) -> dupstudy_dup::DuplicationSampler {
    DuplicationParams::default()
        .d_rate(d_rate)
        .policy(policy)
        .replacement(replacement)
        .check()
        .unwrap()
}

#[test]
fn d_rate_gives_exact_counts() {
    let labels = paper_labels();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    for d_rate in [0.0, 10.0, 30.0, 50.0, 90.0, 100.0] {
        for replacement in [Replacement::With, Replacement::Without] {
            let draw = sampler(d_rate, Duplication::Uniform, replacement)
                .draw(&labels, &mut rng)
                .unwrap();
            assert_eq!(draw.len(), (2.0 * d_rate) as usize);
            assert_eq!(draw.per_class.iter().sum::<usize>(), draw.len());
        }
    }
    // CIFAR-10 sized: D-rate 10 of 50,000 is 5,000.
    let cifar: Vec<u8> = (0..50_000).map(|i| (i % 10) as u8).collect();
    let draw = sampler(10.0, Duplication::Uniform, Replacement::Without)
        .draw(&cifar, &mut rng)
        .unwrap();
    assert_eq!(draw.len(), 5_000);
}

#[test]
fn without_replacement_never_repeats() {
    let labels = paper_labels();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for policy in [
        Duplication::Uniform,
        Duplication::ClassWeighted(vec![0.5, 0.5]),
    ] {
        let draw = sampler(60.0, policy, Replacement::Without)
            .draw(&labels, &mut rng)
            .unwrap();
        let mut sorted = draw.indices.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 120);
    }
}

#[test]
fn class_shares_follow_weights() {
    let labels = paper_labels();
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for p_plus in [0.5, 0.7, 0.8] {
        let s = sampler(
            90.0,
            Duplication::ClassWeighted(vec![1.0 - p_plus, p_plus]),
            Replacement::With,
        );
        let draws = 2_000;
        let plus: usize = (0..draws)
            .map(|_| s.draw(&labels, &mut rng).unwrap().per_class[1])
            .sum();
        let share = plus as f64 / (draws * 180) as f64;
        // Binomial standard error over 360,000 draws is below 0.001.
        assert!(
            (share - p_plus).abs() < 0.005,
            "p = {p_plus}: share {share}"
        );
    }
    // Uniform over a 30/70 set gives shares near 0.3/0.7.
    let skewed: Vec<usize> = (0..1000).map(|i| usize::from(i >= 300)).collect();
    let s = sampler(50.0, Duplication::Uniform, Replacement::With);
    let plus: usize = (0..200)
        .map(|_| s.draw(&skewed, &mut rng).unwrap().per_class[1])
        .sum();
    let share = plus as f64 / (200 * 500) as f64;
    assert!((share - 0.7).abs() < 0.01, "share {share}");
}

#[test]
fn same_seed_same_draw() {
    let labels = paper_labels();
    let s = sampler(
        30.0,
        Duplication::ClassWeighted(vec![0.3, 0.7]),
        Replacement::With,
    );
    let a = s.draw(&labels, &mut ChaCha8Rng::seed_from_u64(9)).unwrap();
    let b = s.draw(&labels, &mut ChaCha8Rng::seed_from_u64(9)).unwrap();
    let c = s.draw(&labels, &mut ChaCha8Rng::seed_from_u64(10)).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

/// Fixed seed, fixed indices: a change here changes every study result.
#[test]
fn value_stability() {
    let labels = paper_labels();
    let uniform = sampler(5.0, Duplication::Uniform, Replacement::Without)
        .draw(&labels, &mut ChaCha8Rng::seed_from_u64(42))
        .unwrap();
    let weighted = sampler(
        5.0,
        Duplication::ClassWeighted(vec![0.3, 0.7]),
        Replacement::With,
    )
    .draw(&labels, &mut ChaCha8Rng::seed_from_u64(42))
    .unwrap();
    assert_eq!(
        uniform.indices, GOLDEN_UNIFORM,
        "uniform: {:?}",
        uniform.indices
    );
    assert_eq!(
        weighted.indices, GOLDEN_WEIGHTED,
        "weighted: {:?}",
        weighted.indices
    );
}

const GOLDEN_UNIFORM: [usize; 10] = [136, 190, 86, 126, 60, 34, 65, 162, 156, 54];
const GOLDEN_WEIGHTED: [usize; 10] = [150, 190, 195, 159, 72, 17, 157, 117, 144, 7];

#[test]
fn d_ratio_is_share_of_duplicates() {
    let labels = paper_labels();
    let draw = sampler(
        50.0,
        Duplication::ClassWeighted(vec![0.0, 1.0]),
        Replacement::With,
    )
    .draw(&labels, &mut ChaCha8Rng::seed_from_u64(3))
    .unwrap();
    assert_eq!(draw.d_ratio(1), Some(1.0));
    assert_eq!(draw.d_ratio(0), Some(0.0));
    assert!(draw.indices.iter().all(|&i| i >= 100));
    let none = sampler(0.0, Duplication::Uniform, Replacement::With)
        .draw(&labels, &mut ChaCha8Rng::seed_from_u64(3))
        .unwrap();
    assert_eq!(none.d_ratio(1), None);
}

#[test]
fn invalid_requests_are_errors() {
    let labels = paper_labels();
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let check = |p: DuplicationParams| p.check().unwrap_err();
    assert_eq!(
        check(DuplicationParams::default().d_rate(-1.0)),
        DupError::InvalidDRate(-1.0)
    );
    assert!(matches!(
        check(DuplicationParams::default().d_rate(f64::NAN)),
        DupError::InvalidDRate(_)
    ));
    assert_eq!(
        check(DuplicationParams::default().d_rate(150.0)),
        DupError::DRateAboveSetWithoutReplacement(150.0)
    );
    assert_eq!(
        check(DuplicationParams::default().policy(Duplication::ClassWeighted(vec![0.5, -0.1]))),
        DupError::InvalidWeight {
            index: 1,
            value: -0.1
        }
    );
    assert_eq!(
        check(DuplicationParams::default().policy(Duplication::ClassWeighted(vec![0.0, 0.0]))),
        DupError::ZeroWeights
    );
    // Class +1 holds 100 points; 0.7 of 180 duplicates is ~126 of them.
    let err = sampler(
        90.0,
        Duplication::ClassWeighted(vec![0.3, 0.7]),
        Replacement::Without,
    )
    .draw(&labels, &mut rng)
    .unwrap_err();
    assert!(
        matches!(
            err,
            DupError::ClassExhausted {
                class: 1,
                available: 100,
                ..
            }
        ),
        "{err}"
    );
    let err = sampler(
        90.0,
        Duplication::ClassWeighted(vec![0.0, 1.0]),
        Replacement::Without,
    )
    .draw(&labels, &mut rng)
    .unwrap_err();
    assert_eq!(
        err,
        DupError::SetExhausted {
            requested: 180,
            available: 100
        }
    );
    let err = sampler(
        10.0,
        Duplication::ClassWeighted(vec![1.0]),
        Replacement::With,
    )
    .draw(&labels, &mut rng)
    .unwrap_err();
    assert_eq!(
        err,
        DupError::LabelWithoutWeight {
            index: 100,
            label: 1,
            n_weights: 1
        }
    );
    let err = sampler(
        10.0,
        Duplication::ClassWeighted(vec![1.0, 1.0, 1.0]),
        Replacement::With,
    )
    .draw(&labels, &mut rng)
    .unwrap_err();
    assert_eq!(
        err,
        DupError::EmptyWeightedClass {
            class: 2,
            weight: 1.0
        }
    );
    let empty: [usize; 0] = [];
    assert_eq!(
        sampler(10.0, Duplication::Uniform, Replacement::With)
            .draw(&empty, &mut rng)
            .unwrap_err(),
        DupError::EmptySet
    );
}

#[test]
fn whole_copies_repeat_the_set() {
    assert_eq!(whole_set_copies(3, 2), vec![0, 1, 2, 0, 1, 2]);
    assert!(whole_set_copies(5, 0).is_empty());
}

proptest! {
    #[test]
    fn indices_in_range_and_counts_exact(
        labels in proptest::collection::vec(0usize..4, 1..300),
        d_rate in 0.0f64..100.0,
        weights in proptest::collection::vec(0.0f64..1.0, 4),
        with in any::<bool>(),
        uniform in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let policy = if uniform { Duplication::Uniform } else { Duplication::ClassWeighted(weights.clone()) };
        let replacement = if with { Replacement::With } else { Replacement::Without };
        let Ok(s) = DuplicationParams::default().d_rate(d_rate).policy(policy).replacement(replacement).check() else {
            // Only all-zero weights are rejected here.
            prop_assert!(weights.iter().sum::<f64>() <= 0.0);
            return Ok(());
        };
        match s.draw(&labels, &mut ChaCha8Rng::seed_from_u64(seed)) {
            Ok(draw) => {
                prop_assert_eq!(draw.len(), s.count_for(labels.len()));
                prop_assert!(draw.indices.iter().all(|&i| i < labels.len()));
                if !uniform {
                    prop_assert!(draw.indices.iter().all(|&i| weights[labels[i]] > 0.0));
                }
                if !with {
                    let mut sorted = draw.indices.clone();
                    sorted.sort_unstable();
                    sorted.dedup();
                    prop_assert_eq!(sorted.len(), draw.len());
                }
            }
            Err(e) => prop_assert!(
                matches!(e, DupError::EmptyWeightedClass { .. } | DupError::ClassExhausted { .. } | DupError::SetExhausted { .. }),
                "unexpected error {e}"
            ),
        }
    }
}
