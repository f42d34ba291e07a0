//! SGD with momentum and weight decay, and Adam, with PyTorch's update rules. candle-nn's SGD
//! has neither momentum nor weight decay, and its AdamW decays weights by default; the
//! state here can also be saved and restored, which checkpoints need.

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};
use candle_nn::VarMap;

use crate::config::OptimizerConfig;
use crate::error::{CnnError, Result};
use crate::model::parameter_shapes;

/// An optimizer over named parameters.
#[derive(Debug)]
pub struct Optimizer {
    config: OptimizerConfig,
    vars: Vec<(String, Var)>,
    /// SGD momentum buffers, or Adam first moments.
    first: Vec<Option<Tensor>>,
    /// Adam second moments.
    second: Vec<Option<Tensor>>,
    steps: u64,
}

impl Optimizer {
    /// An optimizer for the variables of `varmap` named by the model's
    /// [`parameter_shapes`], with fresh state.
    ///
    /// # Errors
    /// [`CnnError::InvalidParameter`] for bad hyper-parameters or a missing variable.
    pub fn for_model(
        config: OptimizerConfig,
        varmap: &VarMap,
        model: &crate::config::ModelConfig,
    ) -> Result<Self> {
        let data = varmap.data().lock().unwrap_or_else(|p| p.into_inner());
        let vars = parameter_shapes(model)
            .into_iter()
            .map(|(name, _)| {
                data.get(name)
                    .map(|v| (name.to_string(), v.clone()))
                    .ok_or_else(|| CnnError::InvalidParameter {
                        name: "optimizer variables",
                        message: format!("{name} is missing"),
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        Self::new(config, vars)
    }

    /// An optimizer over `vars` with fresh state.
    ///
    /// # Errors
    /// [`CnnError::InvalidParameter`] for bad hyper-parameters.
    pub fn new(config: OptimizerConfig, vars: Vec<(String, Var)>) -> Result<Self> {
        config.validate()?;
        let n = vars.len();
        Ok(Self {
            config,
            vars,
            first: vec![None; n],
            second: vec![None; n],
            steps: 0,
        })
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Computes the gradients of `loss` and takes one step.
    ///
    /// # Errors
    /// On tensor failures.
    pub fn backward_step(&mut self, loss: &Tensor) -> Result<()> {
        let grads = loss.backward()?;
        self.step(&grads)
    }

    /// One update from `grads`; variables without a gradient are left alone.
    ///
    /// # Errors
    /// On tensor failures.
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.steps += 1;
        let t = self.steps as i32;
        for (k, (_, var)) in self.vars.iter().enumerate() {
            let Some(grad) = grads.get(var.as_tensor()) else {
                continue;
            };
            match self.config {
                OptimizerConfig::Sgd {
                    lr,
                    momentum,
                    weight_decay,
                } => {
                    let mut d_p = if weight_decay != 0.0 {
                        (grad + (var.as_tensor() * weight_decay)?)?
                    } else {
                        grad.clone()
                    };
                    if momentum != 0.0 {
                        let buf = match self.first[k].take() {
                            None => d_p,
                            Some(buf) => ((buf * momentum)? + d_p)?,
                        };
                        d_p = buf.clone();
                        self.first[k] = Some(buf);
                    }
                    var.set(&(var.as_tensor() - (d_p * lr)?)?)?;
                }
                OptimizerConfig::Adam {
                    lr,
                    beta1,
                    beta2,
                    eps,
                } => {
                    let m = match self.first[k].take() {
                        None => (grad * (1.0 - beta1))?,
                        Some(m) => ((m * beta1)? + (grad * (1.0 - beta1))?)?,
                    };
                    let v = match self.second[k].take() {
                        None => (grad.sqr()? * (1.0 - beta2))?,
                        Some(v) => ((v * beta2)? + (grad.sqr()? * (1.0 - beta2))?)?,
                    };
                    let bias1 = 1.0 - beta1.powi(t);
                    let bias2 = 1.0 - beta2.powi(t);
                    let denom = ((v.sqrt()? / bias2.sqrt())? + eps)?;
                    let update = (m.div(&denom)? * (lr / bias1))?;
                    var.set(&(var.as_tensor() - update)?)?;
                    self.first[k] = Some(m);
                    self.second[k] = Some(v);
                }
            }
        }
        Ok(())
    }

    /// The state as named tensors (`<param>.first`, `<param>.second`) and the step count,
    /// for checkpoints.
    pub fn state(&self) -> (u64, Vec<(String, Tensor)>) {
        let mut out = Vec::new();
        for (k, (name, _)) in self.vars.iter().enumerate() {
            if let Some(t) = &self.first[k] {
                out.push((format!("{name}.first"), t.clone()));
            }
            if let Some(t) = &self.second[k] {
                out.push((format!("{name}.second"), t.clone()));
            }
        }
        (self.steps, out)
    }

    /// Restores a state saved by [`Optimizer::state`].
    ///
    /// # Errors
    /// [`CnnError::InvalidParameter`] if a tensor's shape does not match its parameter.
    pub fn load_state(
        &mut self,
        steps: u64,
        tensors: &std::collections::HashMap<String, Tensor>,
    ) -> Result<()> {
        for (k, (name, var)) in self.vars.iter().enumerate() {
            for (suffix, slot) in [
                ("first", &mut self.first[k]),
                ("second", &mut self.second[k]),
            ] {
                *slot = match tensors.get(&format!("{name}.{suffix}")) {
                    Some(t) if t.dims() == var.dims() => Some(t.to_device(var.device())?),
                    Some(t) => {
                        return Err(CnnError::InvalidParameter {
                            name: "optimizer state",
                            message: format!(
                                "{name}.{suffix} has shape {:?}, expected {:?}",
                                t.dims(),
                                var.dims()
                            ),
                        });
                    }
                    None => None,
                };
            }
        }
        self.steps = steps;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn scalar_problem() -> (Var, Vec<(String, Var)>) {
        let var = Var::from_vec(vec![1.0f32, -2.0], 2, &Device::Cpu).unwrap();
        (var.clone(), vec![("p".into(), var)])
    }

    /// loss = sum(p^2) / 2, so grad = p.
    fn loss(var: &Var) -> Tensor {
        (var.as_tensor().sqr().unwrap().sum_all().unwrap() * 0.5).unwrap()
    }

    #[test]
    fn sgd_matches_hand_computed_steps() {
        // lr 0.1, momentum 0.9, wd 0.01, p0 = 1:
        // step 1: d = 1 + 0.01 = 1.01; buf = 1.01; p1 = 1 - 0.101 = 0.899
        // step 2: d = 0.899 + 0.00899 = 0.90799; buf = 0.9 * 1.01 + 0.90799 = 1.81699;
        //         p2 = 0.899 - 0.181699 = 0.717301
        let (var, vars) = scalar_problem();
        let mut opt = Optimizer::new(
            OptimizerConfig::Sgd {
                lr: 0.1,
                momentum: 0.9,
                weight_decay: 0.01,
            },
            vars,
        )
        .unwrap();
        opt.backward_step(&loss(&var)).unwrap();
        let p = var.as_tensor().to_vec1::<f32>().unwrap();
        assert!(
            (p[0] - 0.899).abs() < 1e-6 && (p[1] + 1.798).abs() < 1e-6,
            "{p:?}"
        );
        opt.backward_step(&loss(&var)).unwrap();
        let p = var.as_tensor().to_vec1::<f32>().unwrap();
        assert!((p[0] - 0.717_301).abs() < 1e-6, "{p:?}");
        assert!((p[1] + 1.434_602).abs() < 1e-6, "{p:?}");
    }

    #[test]
    fn adam_matches_hand_computed_steps() {
        // lr 0.1, betas (0.9, 0.999), eps 1e-8, p0 = 1, grad = p:
        // step 1: m = 0.1, v = 0.001; m^ = 1, v^ = 1; p1 = 1 - 0.1 * 1 / (1 + 1e-8) = 0.9
        // step 2: g = 0.9; m = 0.09 + 0.09 = 0.18; v = 0.000999 + 0.00081 = 0.001809;
        //         m^ = 0.18 / 0.19 = 0.947368; v^ = 0.001809 / 0.001999 = 0.904952;
        //         p2 = 0.9 - 0.1 * 0.947368 / 0.951290 = 0.800412
        let (var, vars) = scalar_problem();
        let mut opt = Optimizer::new(
            OptimizerConfig::Adam {
                lr: 0.1,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
            },
            vars,
        )
        .unwrap();
        opt.backward_step(&loss(&var)).unwrap();
        let p = var.as_tensor().to_vec1::<f32>().unwrap();
        assert!(
            (p[0] - 0.9).abs() < 1e-6 && (p[1] + 1.9).abs() < 1e-6,
            "{p:?}"
        );
        opt.backward_step(&loss(&var)).unwrap();
        let p = var.as_tensor().to_vec1::<f32>().unwrap();
        assert!((p[0] - 0.800_412).abs() < 2e-6, "{p:?}");
    }

    #[test]
    fn state_round_trips() {
        let (var, vars) = scalar_problem();
        let config = OptimizerConfig::Sgd {
            lr: 0.1,
            momentum: 0.9,
            weight_decay: 0.0,
        };
        let mut a = Optimizer::new(config, vars.clone()).unwrap();
        a.backward_step(&loss(&var)).unwrap();
        let (steps, state) = a.state();
        let map = state.into_iter().collect();
        let mut b = Optimizer::new(config, vars).unwrap();
        b.load_state(steps, &map).unwrap();
        assert_eq!(b.steps(), 1);
        assert_eq!(
            b.state().1[0].1.to_vec1::<f32>().unwrap(),
            a.state().1[0].1.to_vec1::<f32>().unwrap()
        );
    }
}
