//! SGD with momentum and weight decay, and Adam, with PyTorch's update rules. candle-nn's SGD
//! has neither momentum nor weight decay, and its AdamW decays weights by default; the
//! state here can also be saved and restored, which checkpoints need.

use std::sync::Mutex;

use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, InplaceOp2, Layout, Tensor, Var};
use candle_nn::VarMap;

use crate::config::OptimizerConfig;
use crate::error::{CnnError, Result};
use crate::model::parameter_shapes;

/// An optimizer over named parameters.
///
/// On the CPU the update of each parameter is one fused in-place pass over the parameter,
/// its gradient and host-side moment buffers; on other devices it is composed of candle
/// operations. Both follow PyTorch's formulas in `f32`.
#[derive(Debug)]
pub struct Optimizer {
    config: OptimizerConfig,
    vars: Vec<(String, Var)>,
    /// SGD momentum buffers, or Adam first moments (device tensors).
    first: Vec<Option<Tensor>>,
    /// Adam second moments (device tensors).
    second: Vec<Option<Tensor>>,
    /// The same state, for parameters on the CPU.
    host: Vec<Mutex<HostState>>,
    steps: u64,
}

/// Moment buffers of one CPU parameter (empty until its first step).
#[derive(Debug, Default, Clone)]
struct HostState {
    first: Vec<f32>,
    second: Vec<f32>,
}

/// The fused update of one CPU parameter from its gradient.
struct FusedUpdate<'a> {
    config: OptimizerConfig,
    step: i32,
    state: &'a Mutex<HostState>,
}

impl InplaceOp2 for FusedUpdate<'_> {
    fn name(&self) -> &'static str {
        "optimizer-update"
    }

    fn cpu_fwd(
        &self,
        dst: &mut CpuStorage,
        dst_l: &Layout,
        grad: &CpuStorage,
        grad_l: &Layout,
    ) -> candle_core::Result<()> {
        let grad = crate::kernels::cpu_slice(grad, grad_l)?;
        let (start, end) = match dst_l.contiguous_offsets() {
            Some(range) => range,
            None => candle_core::bail!("optimizer-update: the parameter is not contiguous"),
        };
        let CpuStorage::F32(data) = dst else {
            candle_core::bail!("optimizer-update: parameters must be f32");
        };
        let p = &mut data[start..end];
        if p.len() != grad.len() {
            candle_core::bail!(
                "optimizer-update: {} parameters but {} gradients",
                p.len(),
                grad.len()
            );
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match self.config {
            OptimizerConfig::Sgd {
                lr,
                momentum,
                weight_decay,
            } => {
                let (lr, momentum, wd) = (lr as f32, momentum as f32, weight_decay as f32);
                let fresh = state.first.is_empty();
                if momentum != 0.0 && fresh {
                    state.first = vec![0.0; p.len()];
                }
                let buf = &mut state.first;
                for (k, (pk, &gk)) in p.iter_mut().zip(grad).enumerate() {
                    let d = if wd != 0.0 { gk + *pk * wd } else { gk };
                    let step = if momentum != 0.0 {
                        let b = if fresh { d } else { buf[k] * momentum + d };
                        buf[k] = b;
                        b
                    } else {
                        d
                    };
                    *pk -= step * lr;
                }
            }
            OptimizerConfig::Adam {
                lr,
                beta1,
                beta2,
                eps,
            } => {
                if state.first.is_empty() {
                    state.first = vec![0.0; p.len()];
                    state.second = vec![0.0; p.len()];
                }
                let bias1 = 1.0 - beta1.powi(self.step);
                let bias2 = 1.0 - beta2.powi(self.step);
                let (b1, b2, c1, c2) = (
                    beta1 as f32,
                    beta2 as f32,
                    (1.0 - beta1) as f32,
                    (1.0 - beta2) as f32,
                );
                let (sqrt_bias2, eps, scale) =
                    (bias2.sqrt() as f32, eps as f32, (lr / bias1) as f32);
                let HostState { first, second } = &mut *state;
                for (((pk, &gk), m), v) in p
                    .iter_mut()
                    .zip(grad)
                    .zip(first.iter_mut())
                    .zip(second.iter_mut())
                {
                    *m = *m * b1 + gk * c1;
                    *v = *v * b2 + gk * gk * c2;
                    let denom = v.sqrt() / sqrt_bias2 + eps;
                    *pk -= (*m / denom) * scale;
                }
            }
        }
        Ok(())
    }
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
            host: (0..n).map(|_| Mutex::new(HostState::default())).collect(),
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
            if var.device().is_cpu() {
                let grad = grad.contiguous()?;
                var.as_tensor().inplace_op2(
                    &grad,
                    &FusedUpdate {
                        config: self.config,
                        step: t,
                        state: &self.host[k],
                    },
                )?;
                continue;
            }
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
        for (k, (name, var)) in self.vars.iter().enumerate() {
            let host = self.host[k]
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            let on_host = |values: Vec<f32>| {
                (!values.is_empty())
                    .then(|| Tensor::from_vec(values, var.shape(), var.device()).ok())
                    .flatten()
            };
            let first = self.first[k].clone().or_else(|| on_host(host.first));
            let second = self.second[k].clone().or_else(|| on_host(host.second));
            if let Some(t) = first {
                out.push((format!("{name}.first"), t));
            }
            if let Some(t) = second {
                out.push((format!("{name}.second"), t));
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
            let mut loaded = [None, None];
            for (slot, suffix) in loaded.iter_mut().zip(["first", "second"]) {
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
            let [first, second] = loaded;
            if var.device().is_cpu() {
                // CPU parameters keep their state on the host (see `FusedUpdate`).
                let values = |t: Option<Tensor>| -> Result<Vec<f32>> {
                    Ok(t.map(|t| t.flatten_all().and_then(|t| t.to_vec1::<f32>()))
                        .transpose()?
                        .unwrap_or_default())
                };
                let host = HostState {
                    first: values(first)?,
                    second: values(second)?,
                };
                *self.host[k].lock().unwrap_or_else(|e| e.into_inner()) = host;
                self.first[k] = None;
                self.second[k] = None;
            } else {
                self.first[k] = first;
                self.second[k] = second;
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
