//! Properties of every fit: bounds, balance, KKT at exit, duplicates, bad input.

mod common;

use dupstudy_svm::{Gamma, SvmError, SvmParams};
use ndarray::{Array2, array};
use proptest::prelude::*;

fn problem() -> impl Strategy<Value = (Array2<f64>, Vec<i32>, f64, f64)> {
    (4usize..40, 1usize..4).prop_flat_map(|(n, d)| {
        (
            proptest::collection::vec(-3.0f64..3.0, n * d),
            proptest::collection::vec(any::<bool>(), n),
            proptest::collection::vec(0usize..n, 0..3 * n),
            0.05f64..20.0,
            0.05f64..5.0,
        )
            .prop_filter_map(
                "needs both classes",
                move |(values, signs, dups, c, gamma)| {
                    let base = Array2::from_shape_vec((n, d), values).ok()?;
                    let mut labels: Vec<i32> =
                        signs.iter().map(|&s| if s { 1 } else { -1 }).collect();
                    if labels.iter().all(|&l| l == labels[0]) {
                        return None;
                    }
                    // Append exact duplicates.
                    let extra = base.select(ndarray::Axis(0), &dups);
                    let x = ndarray::concatenate(ndarray::Axis(0), &[base.view(), extra.view()])
                        .ok()?;
                    let extra_labels: Vec<i32> = dups.iter().map(|&i| labels[i]).collect();
                    labels.extend(extra_labels);
                    Some((x, labels, c, gamma))
                },
            )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn kkt_holds_at_exit((x, y, c, gamma) in problem(), shrinking in any::<bool>()) {
        let model = SvmParams::default()
            .c(c)
            .gamma(Gamma::Value(gamma))
            .shrinking(shrinking)
            .threads(1)
            .check()
            .unwrap()
            .fit(x.view(), &y)
            .unwrap();
        prop_assert!(model.converged());
        let gap = common::kkt_gap(&model, x.view(), &y);
        prop_assert!(gap <= 1e-3 * 1.01, "KKT gap {}", gap);
        // The objective equals 1/2 a^T Q a - e^T a recomputed from the coefficients.
        let alpha = common::full_alpha(&model, &y);
        let sv = model.support_vectors();
        let coef = model.dual_coefficients();
        let mut quad = 0.0;
        for a in 0..sv.nrows() {
            for b in 0..sv.nrows() {
                quad += coef[a] * coef[b] * dupstudy_svm::kernel::rbf(
                    sv.row(a).as_slice().unwrap(), sv.row(b).as_slice().unwrap(), model.gamma());
            }
        }
        let objective = 0.5 * quad - alpha.iter().sum::<f64>();
        prop_assert!((objective - model.dual_objective()).abs() <= 1e-5 * (1.0 + objective.abs()));
    }
}

#[test]
fn identical_points_with_one_label_each_side() {
    // 50 copies of two points: every pair inside a class has zero curvature.
    let mut rows = Vec::new();
    let mut y = Vec::new();
    for _ in 0..50 {
        rows.extend([0.0, 0.0, 1.0, 1.0]);
        y.extend([-1, 1]);
    }
    let x = Array2::from_shape_vec((100, 2), rows).unwrap();
    let model = SvmParams::default()
        .c(1.0)
        .gamma(Gamma::Auto)
        .check()
        .unwrap()
        .fit(x.view(), &y)
        .unwrap();
    assert!(model.converged());
    assert_eq!(model.predict(x.view()).unwrap(), y);
    assert!(common::kkt_gap(&model, x.view(), &y) <= 1e-3);
}

#[test]
fn gamma_settings_resolve_like_scikit_learn() {
    let x = array![[0.0, 2.0], [2.0, 0.0], [1.0, 1.0], [3.0, 3.0]];
    let y = [-1, -1, 1, 1];
    let auto = SvmParams::default()
        .gamma(Gamma::Auto)
        .check()
        .unwrap()
        .fit(x.view(), &y)
        .unwrap();
    assert!((auto.gamma() - 0.5).abs() < 1e-15);
    // Var over all 8 entries: mean 1.5, squared deviations sum to 10 -> 1.25.
    let scale = SvmParams::default()
        .gamma(Gamma::Scale)
        .check()
        .unwrap()
        .fit(x.view(), &y)
        .unwrap();
    assert!((scale.gamma() - 1.0 / (2.0 * 1.25)).abs() < 1e-15);
}

#[test]
fn bad_parameters_are_errors() {
    assert_eq!(
        SvmParams::default().c(0.0).check().unwrap_err(),
        SvmError::InvalidC(0.0)
    );
    assert!(matches!(
        SvmParams::default().c(f64::NAN).check(),
        Err(SvmError::InvalidC(_))
    ));
    assert_eq!(
        SvmParams::default()
            .gamma(Gamma::Value(-1.0))
            .check()
            .unwrap_err(),
        SvmError::InvalidGamma(-1.0)
    );
    assert_eq!(
        SvmParams::default().tolerance(0.0).check().unwrap_err(),
        SvmError::InvalidTolerance(0.0)
    );
    assert_eq!(
        SvmParams::default()
            .max_iterations(Some(0))
            .check()
            .unwrap_err(),
        SvmError::InvalidMaxIterations
    );
    assert!(matches!(
        SvmParams::default().cache_bytes(10).check(),
        Err(SvmError::InvalidCacheSize { got: 10, .. })
    ));
}

#[test]
fn bad_data_are_errors() {
    let svm = SvmParams::default().check().unwrap();
    let x = array![[0.0, 1.0], [1.0, 0.0]];
    assert_eq!(
        svm.fit(x.view(), &[1, 1]).unwrap_err(),
        SvmError::SingleClass { label: 1, n: 2 }
    );
    assert_eq!(
        svm.fit(x.view(), &[1, 0]).unwrap_err(),
        SvmError::InvalidLabel { index: 1, value: 0 }
    );
    assert_eq!(
        svm.fit(x.view(), &[1]).unwrap_err(),
        SvmError::LengthMismatch {
            features: 2,
            labels: 1
        }
    );
    let bad = array![[0.0, f64::INFINITY], [1.0, 0.0]];
    assert!(matches!(
        svm.fit(bad.view(), &[1, -1]),
        Err(SvmError::NonFiniteFeature { row: 0, col: 1, .. })
    ));
    let empty = Array2::<f64>::zeros((0, 2));
    assert!(matches!(
        svm.fit(empty.view(), &[]),
        Err(SvmError::EmptyTrainingSet { .. })
    ));
    let model = svm.fit(x.view(), &[1, -1]).unwrap();
    let wrong = array![[0.0, 1.0, 2.0]];
    assert_eq!(
        model.predict(wrong.view()).unwrap_err(),
        SvmError::FeatureCountMismatch {
            expected: 2,
            got: 3
        }
    );
}

#[test]
fn iteration_cap_is_reported() {
    let x = array![
        [0.0, 0.0],
        [0.1, 0.0],
        [1.0, 1.0],
        [0.9, 1.1],
        [0.5, 0.5],
        [0.4, 0.6]
    ];
    let y = [-1, -1, 1, 1, -1, 1];
    let model = SvmParams::default()
        .c(100.0)
        .max_iterations(Some(1))
        .check()
        .unwrap()
        .fit(x.view(), &y)
        .unwrap();
    assert!(!model.converged());
    assert_eq!(model.iterations(), 1);
}

/// 1,500 points of the paper's two Gaussian classes plus 30 % duplicates: a kernel of about
/// 9 MB of `f32` rows, which the minimum cache (1 MiB) cannot hold.
fn large_problem() -> (Array2<f64>, Vec<i32>) {
    use rand::SeedableRng;
    let classes = dupstudy_gauss::GaussianParams::default()
        .count_per_class(750)
        .check()
        .unwrap();
    let points = classes.sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(3));
    let dups: Vec<usize> = (0..450).map(|k| (k * 7) % points.len()).collect();
    let all = points.with_appended(&dups).unwrap();
    (all.features().to_owned(), all.labels())
}

#[test]
fn tiny_cache_and_split_iterations_give_the_same_fit() {
    let (x, y) = large_problem();
    let base = SvmParams::default().c(1.0).gamma(Gamma::Auto).threads(1);
    let fit = |p: SvmParams| p.check().unwrap().fit(x.view(), &y).unwrap();
    let reference = fit(base.clone());
    assert_eq!(
        reference.cache_evictions(),
        0,
        "the default cache holds the kernel"
    );
    let tiny = fit(base.clone().cache_bytes(dupstudy_svm::MIN_CACHE_BYTES));
    assert!(
        tiny.cache_evictions() > 1_000,
        "the tiny cache must evict rows all the time, evicted {}",
        tiny.cache_evictions()
    );
    // Every piece of work inside an iteration split across 2 threads.
    let split = fit(base.clone().threads(2).parallel_from(1));
    let grid = Array2::from_shape_fn((400, 2), |(i, j)| {
        -3.0 + 7.0 * ((i * (j + 3)) % 400) as f64 / 400.0
    });
    let decisions = |m: &dupstudy_svm::SvmModel| -> Vec<u64> {
        m.decision_function(grid.view())
            .unwrap()
            .iter()
            .map(|v| v.to_bits())
            .collect()
    };
    for (name, model) in [("tiny cache", &tiny), ("split across threads", &split)] {
        assert!(model.converged(), "{name}");
        assert_eq!(
            model.iterations(),
            reference.iterations(),
            "{name}: iterations"
        );
        assert_eq!(
            model.dual_objective().to_bits(),
            reference.dual_objective().to_bits(),
            "{name}: objective {} vs {}",
            model.dual_objective(),
            reference.dual_objective()
        );
        assert_eq!(
            model.support_indices(),
            reference.support_indices(),
            "{name}"
        );
        assert_eq!(
            decisions(model),
            decisions(&reference),
            "{name}: decision values"
        );
    }
}
