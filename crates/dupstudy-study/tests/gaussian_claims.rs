//! The Gaussian study's claims on synthetic cell records (no SVM is fitted): every claim
//! builder reaches its outcomes, G4 fails on a large effect, the no-gain claim G5 is judged
//! against its margin, and Proposition 1 is checked on controlled predictions.

// D-rates here are exact values the test itself chose.
#![allow(clippy::float_cmp)]

use dupstudy_dup::Replacement;
use dupstudy_metrics::ConfusionMatrix;
use dupstudy_study::Study;
use dupstudy_study::claims::Verdict;
use dupstudy_study::store::CellRecord;
use dupstudy_study::studies::gaussian::{
    CellResult, CellSpec, GaussianStudy, Plan, Policy, Setting, pack_bits,
};
use dupstudy_svm::Gamma;

fn plan(seeds: u64) -> Plan {
    Plan {
        setting: Setting {
            train_per_class: 20,
            test_per_class: 100,
            test_seed: 0,
            replacement: Replacement::With,
            c: 1.0,
            gamma: Gamma::Auto,
        },
        seeds,
        d_rates: vec![0.0, 30.0, 60.0, 90.0],
        policies: vec![Policy::Uniform, Policy::Weighted { p_plus: 0.7 }],
    }
}

/// A two-class confusion matrix, 100 points per class, with these class accuracies.
fn matrix(minus: f64, plus: f64) -> ConfusionMatrix {
    let (a, b) = (
        (minus * 100.0).round() as u64,
        (plus * 100.0).round() as u64,
    );
    ConfusionMatrix::from_counts(2, vec![a, 100 - a, 100 - b, b]).unwrap()
}

/// What a synthetic cell predicts on each test point, from the point's true and Bayes class.
type Predict<'a> = &'a dyn Fn(&CellSpec, usize, usize, usize) -> usize;

/// Records for every cell, with class accuracies `acc(cell)` (test and training data alike)
/// and test predictions from `predict(cell, point, true class, Bayes class)`.
fn records(
    plan: &Plan,
    acc: &dyn Fn(&CellSpec) -> (f64, f64),
    predict: Predict<'_>,
) -> Vec<CellRecord<CellSpec, CellResult>> {
    let (truth, bayes) = plan.context().unwrap().test_reference().unwrap();
    plan.cells()
        .into_iter()
        .map(|cell| {
            let (minus, plus) = acc(&cell);
            let predictions: Vec<usize> = (0..truth.len())
                .map(|i| predict(&cell, i, truth[i], bayes[i]))
                .collect();
            CellRecord {
                id: cell.id().unwrap(),
                result: CellResult {
                    duplicates_per_class: vec![0, 0],
                    d_ratio_plus: cell.policy.map(|p| match p {
                        Policy::Uniform => 0.5 + 0.01 * (cell.seed % 3) as f64 - 0.01,
                        Policy::Weighted { p_plus } => p_plus,
                    }),
                    test: matrix(minus, plus),
                    train_original: matrix(minus, plus),
                    train_fitted: matrix(minus, plus),
                    n_support: 10,
                    iterations: 10,
                    dual_objective: -1.0,
                    converged: true,
                    test_predictions: pack_bits(&predictions),
                },
                spec: cell,
                seconds: 0.001,
                device: None,
                revision: None,
                machine: None,
            }
        })
        .collect()
}

fn bayes_predictions(_: &CellSpec, _: usize, _: usize, bayes: usize) -> usize {
    bayes
}

fn verdicts(
    plan: &Plan,
    records: &[CellRecord<CellSpec, CellResult>],
    id: &str,
) -> (Verdict, Verdict) {
    let summary = GaussianStudy.summarize(plan, records).unwrap();
    let check = summary
        .claims
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| {
            panic!(
                "no claim {id}: {:?}",
                summary.claims.iter().map(|c| &c.id).collect::<Vec<_>>()
            )
        });
    (
        check.verdict.clone(),
        check
            .ours_paper_way
            .as_ref()
            .map_or(Verdict::NotTested("-".into()), |p| p.1.clone()),
    )
}

fn verdict(plan: &Plan, records: &[CellRecord<CellSpec, CellResult>], id: &str) -> Verdict {
    verdicts(plan, records, id).0
}

/// Seed-dependent base accuracies (so intervals have width): 0.70, 0.72, 0.74, ...
fn base(seed: u64) -> f64 {
    0.70 + 0.02 * (seed % 3) as f64
}

/// A uniform-policy effect `delta(d_rate, seed)` on both classes; weighted cells unchanged.
fn uniform_effect(delta: impl Fn(f64, u64) -> f64 + 'static) -> impl Fn(&CellSpec) -> (f64, f64) {
    move |c: &CellSpec| {
        let b = base(c.seed);
        match c.policy {
            Some(Policy::Uniform) => (b + delta(c.d_rate, c.seed), b + delta(c.d_rate, c.seed)),
            _ => (b, b),
        }
    }
}

fn jitter(seed: u64) -> f64 {
    [0.0, 0.01, -0.01][seed as usize % 3]
}

#[test]
fn g1_reaches_every_outcome() {
    let p = plan(3);
    let holds = records(
        &p,
        &uniform_effect(|_, s| 0.05 + jitter(s)),
        &bayes_predictions,
    );
    assert_eq!(verdicts(&p, &holds, "G1"), (Verdict::Holds, Verdict::Holds));
    let fails = records(
        &p,
        &uniform_effect(|_, s| -0.05 + jitter(s)),
        &bayes_predictions,
    );
    assert_eq!(verdict(&p, &fails, "G1"), Verdict::DoesNotHold);
    let noise = records(
        &p,
        &uniform_effect(|_, s| [0.02, -0.02, 0.01][s as usize]),
        &bayes_predictions,
    );
    assert_eq!(verdict(&p, &noise, "G1"), Verdict::NotDistinguishable);
    let one = plan(1);
    let single = records(&one, &uniform_effect(|_, _| 0.05), &bayes_predictions);
    assert!(matches!(
        verdict(&one, &single, "G1"),
        Verdict::NotTested(_)
    ));
}

#[test]
fn g4_fails_on_a_large_effect() {
    let p = plan(3);
    let small = records(
        &p,
        &uniform_effect(|_, s| -0.02 + jitter(s)),
        &bayes_predictions,
    );
    assert_eq!(verdict(&p, &small, "G4"), Verdict::Holds);
    // A 40-point effect at one D-rate: the old rule read "not distinguishable from noise".
    let large = records(
        &p,
        &uniform_effect(|d, s| {
            if d == 60.0 {
                -0.40 + jitter(s)
            } else {
                0.0 + jitter(s) / 2.0
            }
        }),
        &bayes_predictions,
    );
    assert_eq!(verdict(&p, &large, "G4"), Verdict::DoesNotHold);
    let edge = records(
        &p,
        &uniform_effect(|_, s| -0.09 + 2.0 * jitter(s)),
        &bayes_predictions,
    );
    assert_eq!(verdict(&p, &edge, "G4"), Verdict::Inconclusive);
}

#[test]
fn g5_is_judged_against_its_margin() {
    let p = plan(3);
    // Flat: Δ independent of the D-rate.
    let flat = records(
        &p,
        &uniform_effect(|_, s| -0.005 + jitter(s) / 10.0),
        &bayes_predictions,
    );
    assert_eq!(verdict(&p, &flat, "G5"), Verdict::Holds);
    // Δ grows 2 points per 10 D-rate: generalization does improve with duplication.
    let rising = records(
        &p,
        &uniform_effect(|d, s| 0.002 * d + jitter(s) / 10.0),
        &bayes_predictions,
    );
    assert_eq!(verdict(&p, &rising, "G5"), Verdict::DoesNotHold);
    // Noisy around a flat line: the slope's interval reaches past 0.1 pts per 10 D-rate.
    let noisy = records(
        &p,
        &uniform_effect(|d, s| [0.03, -0.03, 0.0][s as usize] * (d / 30.0 - 1.5).signum()),
        &bayes_predictions,
    );
    assert_eq!(verdict(&p, &noisy, "G5"), Verdict::Inconclusive);
}

#[test]
fn g8_and_g9_follow_the_weighted_effect() {
    let p = plan(3);
    let effect = |sign: f64| {
        move |c: &CellSpec| {
            let b = base(c.seed);
            match c.policy {
                Some(Policy::Weighted { .. }) => {
                    let d = sign * c.d_rate / 1000.0 + jitter(c.seed) / 10.0;
                    (b + 2.0 * d, b)
                }
                _ => (b, b),
            }
        }
    };
    let lowers = records(&p, &effect(-1.0), &bayes_predictions);
    assert_eq!(verdict(&p, &lowers, "G8 (p = 0.7)"), Verdict::Holds);
    assert_eq!(verdict(&p, &lowers, "G9 (p = 0.7)"), Verdict::Holds);
    let raises = records(&p, &effect(1.0), &bayes_predictions);
    assert_eq!(verdict(&p, &raises, "G8 (p = 0.7)"), Verdict::DoesNotHold);
    assert_eq!(verdict(&p, &raises, "G9 (p = 0.7)"), Verdict::DoesNotHold);
}

#[test]
fn proposition_1_on_controlled_predictions() {
    let p = plan(6);
    let flat = |c: &CellSpec| (base(c.seed), base(c.seed));
    // Originals: Bayes on class -1 points, seed-dependent flips on class +1 points (variance);
    // duplicated at p = 0.7: class +1 predicted on every class -1 point (bias) and Bayes on
    // class +1 points (no variance). That is Proposition 1.
    let holds = |c: &CellSpec, i: usize, truth: usize, bayes: usize| -> usize {
        let duplicated = matches!(c.policy, Some(Policy::Weighted { .. }));
        match (duplicated, truth) {
            (true, 0) => 1,
            (true, _) => bayes,
            (false, 0) => bayes,
            (false, _) if (i + c.seed as usize).is_multiple_of(3) => 1 - bayes,
            (false, _) => bayes,
        }
    };
    let recs = records(&p, &flat, &holds);
    assert_eq!(verdict(&p, &recs, "P1 (p = 0.7)"), Verdict::Holds);
    // The reverse: the originals are the biased ones.
    let reverse = |c: &CellSpec, i: usize, truth: usize, bayes: usize| -> usize {
        let original = !matches!(c.policy, Some(Policy::Weighted { .. }));
        holds(
            &CellSpec {
                policy: if original {
                    Some(Policy::Weighted { p_plus: 0.7 })
                } else {
                    None
                },
                ..c.clone()
            },
            i,
            truth,
            bayes,
        )
    };
    let recs = records(&p, &flat, &reverse);
    assert_eq!(verdict(&p, &recs, "P1 (p = 0.7)"), Verdict::DoesNotHold);
}

#[test]
fn summary_rows_match_the_records() {
    let p = plan(3);
    let recs = records(
        &p,
        &uniform_effect(|_, s| 0.05 + jitter(s)),
        &bayes_predictions,
    );
    let table = GaussianStudy.summarize(&p, &recs).unwrap().table;
    // Overall accuracy of the originals: 0.70, 0.72, 0.74 over seeds.
    let original = table
        .get("uniform", 30.0, "original", "test", "acc_overall")
        .unwrap()
        .estimate;
    assert!((original.mean - 0.72).abs() < 1e-12 && (original.std.unwrap() - 0.02).abs() < 1e-12);
    let delta = table
        .get("uniform", 30.0, "delta", "train", "acc_minus1")
        .unwrap()
        .estimate;
    assert!((delta.mean - 0.05).abs() < 1e-12);
    assert!((delta.std.unwrap() - 0.01).abs() < 1e-12);
    // Bayes predictions everywhere: no bias, no variance.
    let bias = table
        .get(
            "uniform",
            90.0,
            "duplicated",
            "test_vs_bayes",
            "bv_bias_all",
        )
        .unwrap()
        .estimate;
    assert_eq!((bias.n, bias.mean, bias.interval), (3, 0.0, None));
}
