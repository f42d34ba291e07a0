//! L-infinity projected gradient descent (Madry et al., 2018).

use candle_core::Tensor;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{CnnError, Result};
use crate::model::Cnn;

/// Which space the attack perturbs and clamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttackSpace {
    /// Pixels in `[0, 1]`: the iterate is projected onto the epsilon-ball around the clean
    /// image and onto `[0, 1]` at every step. The correct setting.
    Pixels,
    /// What the paper's published code does: perturb the *normalized* input (in `[-1, 1]`
    /// for mean and std 0.5) and clamp it to `[0, 1]`, which also erases every pixel below
    /// mid-grey. Kept to show what that choice does to the paper's Figure 4.
    PaperNormalizedClamp,
}

/// An L-infinity PGD attack.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PgdConfig {
    /// Radius of the L-infinity ball (in the units of `space`).
    pub epsilon: f32,
    /// Step size of each signed-gradient step.
    pub step_size: f32,
    /// Number of steps.
    pub steps: usize,
    /// Start from a uniform random point of the ball (else from the clean input).
    pub random_start: bool,
    /// The space of the perturbation.
    pub space: AttackSpace,
}

impl PgdConfig {
    /// Madry et al.'s CIFAR-10 setting: epsilon 8/255, step 2/255, 10 steps, random start.
    pub fn madry() -> Self {
        Self {
            epsilon: 8.0 / 255.0,
            step_size: 2.0 / 255.0,
            steps: 10,
            random_start: true,
            space: AttackSpace::Pixels,
        }
    }

    /// [`PgdConfig::madry`] with 20 steps, for evaluation.
    pub fn madry_eval20() -> Self {
        Self {
            steps: 20,
            ..Self::madry()
        }
    }

    /// The attack of the paper's published code, exactly: epsilon 0.5 and step 0.01 on the
    /// normalized input, 10 steps, no random start, and a clamp to `[0, 1]` of the
    /// normalized input.
    pub fn paper_code() -> Self {
        Self {
            epsilon: 0.5,
            step_size: 0.01,
            steps: 10,
            random_start: false,
            space: AttackSpace::PaperNormalizedClamp,
        }
    }

    /// Checks the parameters.
    ///
    /// # Errors
    /// [`CnnError::InvalidParameter`] naming the bad one.
    pub fn validate(&self) -> Result<()> {
        if !(self.epsilon.is_finite() && self.epsilon >= 0.0) {
            return Err(CnnError::InvalidParameter {
                name: "PGD epsilon",
                message: format!("{}; must be finite and >= 0", self.epsilon),
            });
        }
        if !(self.step_size.is_finite() && self.step_size > 0.0) {
            return Err(CnnError::InvalidParameter {
                name: "PGD step size",
                message: format!("{}; must be finite and > 0", self.step_size),
            });
        }
        if self.steps == 0 {
            return Err(CnnError::InvalidParameter {
                name: "PGD steps",
                message: "must be at least 1".into(),
            });
        }
        Ok(())
    }
}

/// An adversarial batch, in the space the model must read it from.
#[derive(Debug, Clone)]
pub enum Adversarial {
    /// Pixels in `[0, 1]`: feed to [`Cnn::logits`].
    Pixels(Tensor),
    /// Normalized inputs: feed to [`Cnn::logits_normalized`].
    Normalized(Tensor),
}

impl Adversarial {
    /// The model's logits on this batch.
    ///
    /// # Errors
    /// On tensor failures.
    pub fn logits(&self, model: &Cnn, train: bool) -> Result<Tensor> {
        match self {
            Adversarial::Pixels(x) => model.logits(x, train),
            Adversarial::Normalized(z) => model.logits_normalized(z, train),
        }
    }
}

/// Attacks `model` on pixels `x` (`(n, 3, 32, 32)` in `[0, 1]`) with labels `labels`
/// (`(n,)` u32), maximizing the cross-entropy. The random start is drawn from a ChaCha8
/// generator seeded with `seed`. The model is used in evaluation mode and its parameters
/// receive no gradient.
///
/// # Errors
/// [`CnnError::InvalidParameter`] for a bad configuration; tensor failures.
pub fn attack(
    model: &Cnn,
    x: &Tensor,
    labels: &Tensor,
    config: &PgdConfig,
    seed: u64,
) -> Result<Adversarial> {
    config.validate()?;
    let frozen = model.frozen()?;
    let normalized = config.space == AttackSpace::PaperNormalizedClamp;
    let (start, low, high) = match config.space {
        AttackSpace::Pixels => {
            let eps = f64::from(config.epsilon);
            let low = (x - eps)?.clamp(0f32, 1f32)?;
            let high = (x + eps)?.clamp(0f32, 1f32)?;
            (x.clone(), low, high)
        }
        AttackSpace::PaperNormalizedClamp => {
            let z = model.normalize(x)?;
            let eps = f64::from(config.epsilon);
            // clamp(z0 + clamp(z - z0, -eps, eps), 0, 1) == clamp(z, max(z0 - eps, 0), min(z0 + eps, 1))
            let low = (&z - eps)?.clamp(0f32, 1f32)?;
            let high = (&z + eps)?.clamp(0f32, 1f32)?;
            (z, low, high)
        }
    };
    let mut current = if config.random_start {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let eps = config.epsilon;
        let noise: Vec<f32> = (0..start.elem_count())
            .map(|_| rng.random_range(-eps..=eps))
            .collect();
        let noise = Tensor::from_vec(noise, start.shape(), start.device())?;
        (&start + noise)?.maximum(&low)?.minimum(&high)?
    } else {
        start.clone()
    };
    for _ in 0..config.steps {
        let grad = frozen.input_gradient(&current, labels, normalized)?;
        current = match signed_step_cpu(&current, &grad, config.step_size, &low, &high)? {
            Some(next) => next,
            None => {
                let stepped = (&current + (grad.sign()? * f64::from(config.step_size))?)?;
                stepped.maximum(&low)?.minimum(&high)?.detach()
            }
        };
    }
    Ok(match config.space {
        AttackSpace::Pixels => Adversarial::Pixels(current),
        AttackSpace::PaperNormalizedClamp => Adversarial::Normalized(current),
    })
}

/// One projected signed-gradient step on the CPU, in one pass:
/// `min(max(x + (sign(g) * step + 0), low), high)` per element, the same `f32` operations in
/// the same order as candle's `sign`, `affine`, `add`, `maximum` and `minimum` (so the same
/// bits), without their five passes, allocations and thread barriers over the batch. `None`
/// off the CPU or for non-contiguous tensors (the caller then uses candle's ops).
fn signed_step_cpu(
    x: &Tensor,
    grad: &Tensor,
    step: f32,
    low: &Tensor,
    high: &Tensor,
) -> Result<Option<Tensor>> {
    if !x.device().is_cpu() || [x, grad, low, high].iter().any(|t| !t.is_contiguous()) {
        return Ok(None);
    }
    let (xs, xl) = x.storage_and_layout();
    let (gs, gl) = grad.storage_and_layout();
    let (ls, ll) = low.storage_and_layout();
    let (hs, hl) = high.storage_and_layout();
    let x_data = crate::kernels::storage_slice(&xs, xl)?;
    let g_data = crate::kernels::storage_slice(&gs, gl)?;
    let l_data = crate::kernels::storage_slice(&ls, ll)?;
    let h_data = crate::kernels::storage_slice(&hs, hl)?;
    let n = x_data.len();
    if g_data.len() != n || l_data.len() != n || h_data.len() != n {
        return Ok(None);
    }
    let next: Vec<f32> = (0..n)
        .map(|i| {
            let g = g_data[i];
            // candle's Sign, then affine(step, 0): v * mul + add.
            let sign = f32::from(g > 0.0) - f32::from(g < 0.0);
            let moved = x_data[i] + (sign * step + 0.0);
            // candle's maximum: if v1 < v2 { v2 } else { v1 }; minimum: if v1 > v2 { v2 } else { v1 }.
            let up = if moved < l_data[i] { l_data[i] } else { moved };
            if up > h_data[i] { h_data[i] } else { up }
        })
        .collect();
    Ok(Some(Tensor::from_vec(next, x.shape(), x.device())?))
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::signed_step_cpu;

    #[test]
    fn the_fused_step_gives_candles_bits() {
        let n = 4096;
        let wave = |k: f32| -> Vec<f32> { (0..n).map(|i| ((i as f32) * k).sin()).collect() };
        let x: Vec<f32> = wave(0.37).iter().map(|v| 0.5 + 0.5 * v).collect();
        // Gradients with exact zeros, and bounds the step crosses on both sides.
        let g: Vec<f32> = wave(1.3)
            .iter()
            .enumerate()
            .map(|(i, &v)| if i % 7 == 0 { 0.0 } else { v })
            .collect();
        let low: Vec<f32> = x.iter().map(|v| (v - 8.0 / 255.0).max(0.0)).collect();
        let high: Vec<f32> = x.iter().map(|v| (v + 1.0 / 255.0).min(1.0)).collect();
        let t = |v: &[f32]| Tensor::from_slice(v, (4, 1024), &Device::Cpu).unwrap();
        let (x, g, low, high) = (t(&x), t(&g), t(&low), t(&high));
        for step in [2.0f32 / 255.0, 0.01] {
            let fused = signed_step_cpu(&x, &g, step, &low, &high).unwrap().unwrap();
            let candle = (&x + (g.sign().unwrap() * f64::from(step)).unwrap())
                .unwrap()
                .maximum(&low)
                .unwrap()
                .minimum(&high)
                .unwrap();
            let bits = |t: &Tensor| -> Vec<u32> {
                t.flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap()
                    .into_iter()
                    .map(f32::to_bits)
                    .collect()
            };
            assert_eq!(bits(&fused), bits(&candle), "step {step}");
        }
    }
}
