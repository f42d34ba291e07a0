//! Time estimates of cells from their network's measured costs.

use super::{CellSpec, Variant};
use crate::studies::cnn::Costs;

/// Estimated seconds of one cell from its network's measured `costs` (no margin).
pub fn estimate_seconds(spec: &CellSpec, costs: &Costs) -> f64 {
    let s = &spec.setting;
    let train_steps = spec.train_config().adversarial.map_or(0, |a| a.steps);
    let eval_steps = spec.eval_attack().map_or(0, |a| a.steps);
    let train_per_image = match costs.adversarial_train {
        Some((timed_steps, cost)) if train_steps > 0 => {
            (cost + (train_steps as f64 - timed_steps as f64) * costs.attack_step).max(costs.train)
        }
        _ => costs.train + train_steps as f64 * costs.attack_step,
    };
    let fresh = if spec.variant == Variant::FreshData {
        s.base_images as f64 * spec.d_rate / 100.0
    } else {
        0.0
    };
    let eval = (s.test_images + s.base_images) as f64 + fresh;
    let attacked = if spec.eval_attack().is_some() {
        s.robust_test_images as f64
    } else {
        0.0
    };
    spec.trained_images() * train_per_image
        + eval * costs.eval
        + attacked * (costs.eval + eval_steps as f64 * costs.attack_step)
}
