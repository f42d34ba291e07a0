//! Properties of the metrics on random inputs.

use dupstudy_metrics::{BiasVariance, ConfusionMatrix, Summary};
use proptest::prelude::*;

proptest! {
    /// Domingos' decomposition is exact: mean loss against the reference equals
    /// bias + unbiased variance - biased variance, for any number of classes.
    #[test]
    fn decomposition_matches_direct_loss(
        (n_classes, models, reference) in (2usize..5, 1usize..12, 1usize..40).prop_flat_map(|(k, m, n)| (
            Just(k),
            proptest::collection::vec(proptest::collection::vec(0..k, n), m),
            proptest::collection::vec(0..k, n),
        ))
    ) {
        let s = BiasVariance::decompose(&models, &reference, n_classes).unwrap().summary();
        let wrong = models.iter().flat_map(|m| m.iter().zip(&reference)).filter(|(p, r)| p != r).count();
        let direct = wrong as f64 / (models.len() * reference.len()) as f64;
        prop_assert!((s.loss - direct).abs() < 1e-12, "{} vs {}", s.loss, direct);
        prop_assert!((s.loss - (s.bias + s.unbiased_variance - s.biased_variance)).abs() < 1e-12);
        prop_assert!((0.0..=1.0).contains(&s.bias));
        prop_assert!(s.variance >= 0.0 && s.variance <= 1.0);
    }

    /// Accuracy from the confusion matrix equals the share of equal pairs.
    #[test]
    fn accuracy_is_share_correct(pairs in proptest::collection::vec((0usize..3, 0usize..3), 1..100)) {
        let (t, p): (Vec<usize>, Vec<usize>) = pairs.iter().copied().unzip();
        let m = ConfusionMatrix::from_predictions(&t, &p, 3).unwrap();
        let direct = pairs.iter().filter(|(a, b)| a == b).count() as f64 / pairs.len() as f64;
        prop_assert!((m.accuracy().unwrap() - direct).abs() < 1e-15);
        prop_assert_eq!(m.total(), pairs.len() as u64);
    }

    /// The interval contains the mean and narrows as the level falls.
    #[test]
    fn interval_is_ordered(values in proptest::collection::vec(-10.0f64..10.0, 2..50)) {
        let wide = Summary::with_level(&values, 0.99).unwrap();
        let narrow = Summary::with_level(&values, 0.5).unwrap();
        prop_assert!(wide.ci_low() <= narrow.ci_low() + 1e-12);
        prop_assert!(narrow.ci_low() <= wide.mean && wide.mean <= narrow.ci_high());
    }
}
