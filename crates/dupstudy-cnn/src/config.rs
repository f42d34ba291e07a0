//! Model and training configurations, with the paper's presets.

use serde::{Deserialize, Serialize};

use crate::error::{CnnError, Result};

/// Which of the paper's two networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModelKind {
    /// The standard-training network (Figure 3).
    Standard,
    /// The adversarial-training network (Figure 4).
    Adversarial,
}

/// A two-block CNN: `conv(3 -> c1, 3x3, pad 1) -> ReLU -> max-pool 2 -> conv(c1 -> c2) ->
/// ReLU -> max-pool 2 -> linear(c2 * 8 * 8 -> hidden) -> ReLU [-> dropout] -> linear(hidden
/// -> 10)`, with the input normalization as its first layer (so attacks see pixels in
/// `[0, 1]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Output channels of the two convolutions.
    pub channels: [usize; 2],
    /// Width of the hidden linear layer.
    pub hidden: usize,
    /// Dropout probability after the hidden layer (`None`: no dropout).
    pub dropout: Option<f32>,
    /// Per-channel mean of the input normalization.
    pub norm_mean: [f32; 3],
    /// Per-channel standard deviation of the input normalization.
    pub norm_std: [f32; 3],
}

impl ModelConfig {
    /// The paper's standard network: 16 and 32 channels, 128 hidden units, dropout 0.5,
    /// inputs normalized with mean 0.5 and std 0.5.
    pub fn standard() -> Self {
        Self {
            channels: [16, 32],
            hidden: 128,
            dropout: Some(0.5),
            norm_mean: [0.5; 3],
            norm_std: [0.5; 3],
        }
    }

    /// The paper's adversarial-training network: 32 and 64 channels, 256 hidden units, no
    /// dropout, the same normalization.
    pub fn adversarial() -> Self {
        Self {
            channels: [32, 64],
            hidden: 256,
            dropout: None,
            norm_mean: [0.5; 3],
            norm_std: [0.5; 3],
        }
    }

    /// The preset of `kind`.
    pub fn of(kind: ModelKind) -> Self {
        match kind {
            ModelKind::Standard => Self::standard(),
            ModelKind::Adversarial => Self::adversarial(),
        }
    }

    /// Checks every field.
    ///
    /// # Errors
    /// [`CnnError::InvalidParameter`] naming the field.
    pub fn validate(&self) -> Result<()> {
        if self.channels.contains(&0) || self.hidden == 0 {
            return Err(CnnError::InvalidParameter {
                name: "model widths",
                message: format!(
                    "channels {:?} and hidden {} must all be >= 1",
                    self.channels, self.hidden
                ),
            });
        }
        if let Some(p) = self.dropout
            && !(0.0..1.0).contains(&p)
        {
            return Err(CnnError::InvalidParameter {
                name: "dropout",
                message: format!("{p}; must lie in [0, 1)"),
            });
        }
        for c in 0..3 {
            if !(self.norm_mean[c].is_finite()
                && self.norm_std[c].is_finite()
                && self.norm_std[c] > 0.0)
            {
                return Err(CnnError::InvalidParameter {
                    name: "normalization",
                    message: format!(
                        "channel {c}: mean {} std {}; std must be > 0",
                        self.norm_mean[c], self.norm_std[c]
                    ),
                });
            }
        }
        Ok(())
    }

    /// Features entering the first linear layer.
    pub fn flat_features(&self) -> usize {
        self.channels[1] * 8 * 8
    }

    /// Floating-point operations per image of each layer's forward pass (2 per
    /// multiply-add, from the layer shapes; bias, ReLU and pooling not counted): the two
    /// 3x3 convolutions on 32x32 and 16x16 inputs, then the two linear layers.
    pub fn layer_flops(&self) -> [f64; 4] {
        let [c1, c2] = self.channels.map(|c| c as f64);
        [
            2.0 * 9.0 * 3.0 * c1 * 32.0 * 32.0,
            2.0 * 9.0 * c1 * c2 * 16.0 * 16.0,
            2.0 * self.flat_features() as f64 * self.hidden as f64,
            2.0 * self.hidden as f64 * 10.0,
        ]
    }

    /// FLOPs per image of a forward pass (3.77 M for the standard network, 13.3 M for the
    /// adversarial one).
    pub fn forward_flops(&self) -> f64 {
        self.layer_flops().iter().sum()
    }

    /// FLOPs per image of a training step: the forward pass, every layer's weight
    /// gradients (as many FLOPs as its forward pass) and the input gradients of every layer
    /// but the first (10.4 M and 38.2 M).
    pub fn train_step_flops(&self) -> f64 {
        let forward = self.forward_flops();
        2.0 * forward + (forward - self.layer_flops()[0])
    }

    /// FLOPs per image of an adversarial-training step with a `steps`-step PGD: each PGD
    /// step is a forward pass and the input gradients of every layer, then one training
    /// step on the adversarial batch (85.8 M and 304 M for PGD-10).
    pub fn pgd_step_flops(&self, steps: usize) -> f64 {
        steps as f64 * 2.0 * self.forward_flops() + self.train_step_flops()
    }
}

/// The optimizer and its hyper-parameters (PyTorch semantics).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum OptimizerConfig {
    /// Stochastic gradient descent with momentum and weight decay (PyTorch's `SGD`,
    /// no dampening, no Nesterov).
    Sgd {
        /// Learning rate.
        lr: f64,
        /// Momentum.
        momentum: f64,
        /// L2 weight decay added to the gradient.
        weight_decay: f64,
    },
    /// Adam (PyTorch's `Adam`, no weight decay).
    Adam {
        /// Learning rate.
        lr: f64,
        /// First-moment decay.
        beta1: f64,
        /// Second-moment decay.
        beta2: f64,
        /// Added to the denominator.
        eps: f64,
    },
}

impl OptimizerConfig {
    /// SGD with lr 0.01, momentum 0.9, weight decay 5e-4 (the paper's standard training).
    pub fn paper_sgd() -> Self {
        OptimizerConfig::Sgd {
            lr: 0.01,
            momentum: 0.9,
            weight_decay: 5e-4,
        }
    }

    /// Adam with lr 1e-3 (the paper's adversarial training).
    pub fn paper_adam() -> Self {
        OptimizerConfig::Adam {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }

    /// Checks every hyper-parameter.
    ///
    /// # Errors
    /// [`CnnError::InvalidParameter`] naming it.
    pub fn validate(&self) -> Result<()> {
        let bad = |name, message: String| Err(CnnError::InvalidParameter { name, message });
        match *self {
            OptimizerConfig::Sgd {
                lr,
                momentum,
                weight_decay,
            } => {
                if !(lr.is_finite() && lr > 0.0) {
                    return bad("learning rate", format!("{lr}; must be > 0"));
                }
                if !(0.0..1.0).contains(&momentum) {
                    return bad("momentum", format!("{momentum}; must lie in [0, 1)"));
                }
                if !(weight_decay.is_finite() && weight_decay >= 0.0) {
                    return bad("weight decay", format!("{weight_decay}; must be >= 0"));
                }
            }
            OptimizerConfig::Adam {
                lr,
                beta1,
                beta2,
                eps,
            } => {
                if !(lr.is_finite() && lr > 0.0) {
                    return bad("learning rate", format!("{lr}; must be > 0"));
                }
                if !(0.0..1.0).contains(&beta1) || !(0.0..1.0).contains(&beta2) {
                    return bad(
                        "Adam betas",
                        format!("({beta1}, {beta2}); each must lie in [0, 1)"),
                    );
                }
                if !(eps.is_finite() && eps > 0.0) {
                    return bad("Adam eps", format!("{eps}; must be > 0"));
                }
            }
        }
        Ok(())
    }
}
