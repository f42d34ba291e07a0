//! Public-API tests: value stability, statistics of the samples, validation.

use dupstudy_gauss::{GaussError, GaussianParams};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A fixed seed gives fixed points. A change to these numbers changes every study result:
/// make it on purpose and say so.
#[test]
fn value_stability() {
    let classes = GaussianParams::default().check().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let data = classes.sample(&mut rng);
    let got: Vec<[f64; 2]> = [0, 1, 2, 100, 199]
        .iter()
        .map(|&i| [data.point(i)[0], data.point(i)[1]])
        .collect();
    let want: [[f64; 2]; 5] = GOLDEN;
    for (g, w) in got.iter().zip(&want) {
        for k in 0..2 {
            assert!((g[k] - w[k]).abs() < 1e-12, "got {got:?}");
        }
    }
    assert_eq!(data.labels()[..3], [-1, -1, -1]);
    assert_eq!(data.labels()[100..103], [1, 1, 1]);
}

const GOLDEN: [[f64; 2]; 5] = [
    [0.477_981_238_351_021_74, 1.394_329_658_078_464_8],
    [-0.210_866_683_271_030_28, 0.307_095_195_397_494_5],
    [-0.512_090_622_056_163_4, -1.064_894_374_787_624_7],
    [0.303_812_367_592_890_43, 0.795_028_589_888_525],
    [0.731_787_733_305_529_4, 0.675_878_817_737_257_4],
];

#[test]
fn moments_converge_to_parameters() {
    let mean_a = vec![-1.0, 2.0, 0.5];
    let mean_b = vec![3.0, 0.0, -2.0];
    let cov = vec![
        vec![2.0, 0.6, -0.3],
        vec![0.6, 1.0, 0.2],
        vec![-0.3, 0.2, 0.5],
    ];
    let n = 200_000;
    let classes = GaussianParams::default()
        .means(vec![mean_a.clone(), mean_b.clone()])
        .covariance(cov.clone())
        .counts(vec![n, n])
        .check()
        .unwrap();
    let data = classes.sample(&mut ChaCha8Rng::seed_from_u64(3));
    for (class, mean) in [(0usize, &mean_a), (1, &mean_b)] {
        let rows: Vec<usize> = (0..data.len())
            .filter(|&i| data.classes()[i] == class)
            .collect();
        assert_eq!(rows.len(), n);
        let m: Vec<f64> = (0..3)
            .map(|k| rows.iter().map(|&i| data.point(i)[k]).sum::<f64>() / n as f64)
            .collect();
        for k in 0..3 {
            // Standard error of a mean is sqrt(var / n) <= 0.0032 here; allow 5 of them.
            assert!((m[k] - mean[k]).abs() < 0.016, "class {class} mean {m:?}");
        }
        for a in 0..3 {
            for b in 0..3 {
                let s = rows
                    .iter()
                    .map(|&i| (data.point(i)[a] - m[a]) * (data.point(i)[b] - m[b]))
                    .sum::<f64>()
                    / (n - 1) as f64;
                assert!(
                    (s - cov[a][b]).abs() < 0.03,
                    "class {class} cov[{a}][{b}] = {s}"
                );
            }
        }
    }
}

#[test]
fn bayes_rule_for_paper_setting_is_the_lda_line() {
    // Equal priors and shared covariance: +1 iff w.x + b > 0 with w = S^-1 (mu1 - mu0)
    // = [2/3, 2/3] and b = -w.(mu0 + mu1)/2 = -2/3, i.e. x1 + x2 > 1.
    let classes = GaussianParams::default().check().unwrap();
    for (x, want) in [
        ([0.6, 0.5], 1),
        ([0.4, 0.5], 0),
        ([5.0, -3.9], 1),
        ([-2.0, 2.9], 0),
    ] {
        assert_eq!(classes.bayes_class(&x).unwrap(), want, "{x:?}");
    }
    assert_eq!(
        classes.bayes_class(&[1.0]).unwrap_err(),
        GaussError::PointDimension {
            expected: 2,
            got: 1
        }
    );
}

#[test]
fn invalid_parameters_are_named() {
    let p = GaussianParams::default;
    assert!(matches!(
        p().covariance(vec![vec![1.0, 2.0], vec![2.0, 1.0]]).check(),
        Err(GaussError::NotPositiveDefinite { .. })
    ));
    assert!(matches!(
        p().covariance(vec![vec![1.0, 0.5], vec![0.4, 1.0]]).check(),
        Err(GaussError::NotSymmetric { row: 0, col: 1, .. })
    ));
    assert!(matches!(
        p().covariance(vec![vec![1.0, 0.5], vec![0.5]]).check(),
        Err(GaussError::CovarianceShape { bad_row: 1, .. })
    ));
    assert!(matches!(
        p().means(vec![vec![0.0, 0.0], vec![1.0]]).check(),
        Err(GaussError::MeanLength {
            class: 1,
            expected: 2,
            got: 1
        })
    ));
    assert!(matches!(
        p().means(vec![vec![0.0, f64::NAN], vec![1.0, 1.0]]).check(),
        Err(GaussError::NonFinite { .. })
    ));
    assert_eq!(
        p().counts(vec![100, 0]).check().unwrap_err(),
        GaussError::ZeroCount { class: 1 }
    );
    assert!(matches!(
        p().labels(vec![1, 1]).check(),
        Err(GaussError::DuplicateLabel { label: 1 })
    ));
    assert!(matches!(
        p().counts(vec![1]).check(),
        Err(GaussError::ClassCountMismatch { .. })
    ));
    assert_eq!(
        p().means(vec![])
            .counts(vec![])
            .labels(vec![])
            .check()
            .unwrap_err(),
        GaussError::NoClasses
    );
}

#[test]
fn appended_duplicates_copy_rows_and_classes() {
    let classes = GaussianParams::default()
        .count_per_class(3)
        .check()
        .unwrap();
    let data = classes.sample(&mut ChaCha8Rng::seed_from_u64(1));
    let dup = data.with_appended(&[4, 0, 4]).unwrap();
    assert_eq!(dup.len(), 9);
    assert_eq!(dup.point(6), data.point(4));
    assert_eq!(dup.point(8), data.point(4));
    assert_eq!(dup.classes()[6..], [1, 0, 1]);
    assert!(data.with_appended(&[6]).is_none());
}
