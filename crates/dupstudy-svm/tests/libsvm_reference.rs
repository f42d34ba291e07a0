//! Agreement with LIBSVM on committed problems (`fixtures/svm/*.json`, written by
//! `scripts/libsvm_fixtures.py` through scikit-learn's SVC), under every solver setting.

mod common;

use dupstudy_svm::{Gamma, SvmParams};
use ndarray::Array2;

#[derive(serde::Deserialize)]
struct Fixture {
    name: String,
    c: f64,
    gamma: f64,
    tol: f64,
    train_x: Vec<Vec<f64>>,
    train_y: Vec<i32>,
    test_x: Vec<Vec<f64>>,
    libsvm: Reference,
}

#[derive(serde::Deserialize)]
struct Reference {
    dual_objective: f64,
    bias: f64,
    n_sv: usize,
    decision: Vec<f64>,
}

fn matrix(rows: &[Vec<f64>]) -> Array2<f64> {
    let d = rows[0].len();
    Array2::from_shape_vec((rows.len(), d), rows.iter().flatten().copied().collect()).unwrap()
}

fn fixtures() -> Vec<Fixture> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/svm");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 7,
        "expected the committed LIBSVM fixtures in {dir}"
    );
    paths
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

fn check_all(params: impl Fn(SvmParams) -> SvmParams, setting: &str) {
    for f in fixtures() {
        let x = matrix(&f.train_x);
        let test = matrix(&f.test_x);
        let svm = params(
            SvmParams::default()
                .c(f.c)
                .gamma(Gamma::Value(f.gamma))
                .tolerance(f.tol),
        )
        .check()
        .unwrap();
        let model = svm.fit(x.view(), &f.train_y).unwrap();
        let ctx = format!("{} ({setting})", f.name);
        assert!(model.converged(), "{ctx}: did not converge");

        let want = f.libsvm.dual_objective;
        let rel = (model.dual_objective() - want).abs() / want.abs();
        assert!(
            rel < 1e-3,
            "{ctx}: objective {} vs LIBSVM {want} (rel {rel:.2e})",
            model.dual_objective()
        );

        let sv_diff = model.n_support().abs_diff(f.libsvm.n_sv);
        assert!(
            sv_diff <= 2 + f.libsvm.n_sv / 50,
            "{ctx}: {} support vectors vs LIBSVM {}",
            model.n_support(),
            f.libsvm.n_sv
        );
        assert!(
            (model.bias() - f.libsvm.bias).abs() < 0.02 * (1.0 + f.libsvm.bias.abs()),
            "{ctx}: bias {} vs LIBSVM {}",
            model.bias(),
            f.libsvm.bias
        );

        let decision = model.decision_function(test.view()).unwrap();
        let agree = decision
            .iter()
            .zip(&f.libsvm.decision)
            .filter(|(a, b)| (**a > 0.0) == (**b > 0.0))
            .count();
        let share = agree as f64 / decision.len() as f64;
        assert!(
            share >= 0.995,
            "{ctx}: predictions agree on {:.2} % only",
            100.0 * share
        );
        let worst = decision
            .iter()
            .zip(&f.libsvm.decision)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(
            worst < 0.05,
            "{ctx}: decision values differ by up to {worst}"
        );

        let gap = common::kkt_gap(&model, x.view(), &f.train_y);
        assert!(gap <= f.tol * 1.01, "{ctx}: KKT gap {gap} above tolerance");
    }
}

#[test]
fn agrees_with_libsvm_default_settings() {
    check_all(|p| p, "defaults");
}

#[test]
fn agrees_with_libsvm_without_shrinking() {
    check_all(|p| p.shrinking(false), "no shrinking");
}

#[test]
fn agrees_with_libsvm_with_tiny_cache() {
    // These problems are small enough (at most 380 points) that even the minimum budget
    // holds their whole kernel; eviction is tested on a larger problem in invariants.rs.
    check_all(
        |p| p.cache_bytes(dupstudy_svm::MIN_CACHE_BYTES),
        "tiny cache",
    );
}

#[test]
fn agrees_with_libsvm_single_and_multi_threaded() {
    check_all(|p| p.threads(1), "1 thread");
    // Split every piece of work inside an iteration, not only problems of 262,144 points.
    check_all(|p| p.threads(2).parallel_from(1), "2 threads");
}
