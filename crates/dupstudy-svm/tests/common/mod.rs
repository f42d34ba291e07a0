//! Helpers shared by the integration tests: exact KKT checks from first principles.

use dupstudy_svm::SvmModel;
use dupstudy_svm::kernel::rbf;
use ndarray::ArrayView2;

/// The full `alpha` vector of a fitted model, in training order.
pub fn full_alpha(model: &SvmModel, labels: &[i32]) -> Vec<f64> {
    let mut alpha = vec![0.0; labels.len()];
    for (&i, &coef) in model
        .support_indices()
        .iter()
        .zip(model.dual_coefficients())
    {
        alpha[i] = coef * f64::from(labels[i]);
    }
    alpha
}

/// Checks `0 <= alpha <= C`, `y^T alpha = 0` and the maximal KKT violation `m - M` of the
/// dual, with the gradient recomputed in `f64` from the kernel. Returns `m - M`.
pub fn kkt_gap(model: &SvmModel, x: ArrayView2<'_, f64>, labels: &[i32]) -> f64 {
    let alpha = full_alpha(model, labels);
    let c = model.c();
    for (i, &a) in alpha.iter().enumerate() {
        assert!((0.0..=c).contains(&a), "alpha[{i}] = {a} outside [0, {c}]");
    }
    let balance: f64 = alpha
        .iter()
        .zip(labels)
        .map(|(a, &y)| a * f64::from(y))
        .sum();
    assert!(
        balance.abs() < 1e-9 * c * labels.len() as f64,
        "y^T alpha = {balance}"
    );
    let n = labels.len();
    let rows: Vec<Vec<f64>> = x.rows().into_iter().map(|r| r.to_vec()).collect();
    let mut m_up = f64::NEG_INFINITY;
    let mut m_low = f64::INFINITY;
    for i in 0..n {
        let yi = f64::from(labels[i]);
        let grad: f64 = (0..n)
            .filter(|&j| alpha[j] > 0.0)
            .map(|j| yi * f64::from(labels[j]) * rbf(&rows[i], &rows[j], model.gamma()) * alpha[j])
            .sum::<f64>()
            - 1.0;
        let v = -yi * grad;
        let in_up = (yi > 0.0 && alpha[i] < c) || (yi < 0.0 && alpha[i] > 0.0);
        let in_low = (yi > 0.0 && alpha[i] > 0.0) || (yi < 0.0 && alpha[i] < c);
        if in_up {
            m_up = m_up.max(v);
        }
        if in_low {
            m_low = m_low.min(v);
        }
    }
    m_up - m_low
}
