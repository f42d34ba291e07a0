//! The networks: parameters in a [`VarMap`] under PyTorch's names, seeded PyTorch-default
//! initialization, a forward pass from pixels in `[0, 1]`, safetensors I/O.

use std::path::Path;
use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, ModuleT, Tensor, Var};
use candle_nn::VarMap;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::ModelConfig;
use crate::error::{CnnError, Result};
use crate::kernels::dense::{PackedDense, dense_packed};
use crate::kernels::tape::Tape;
use crate::kernels::{InputAffine, Kernels};
use crate::layers;

/// Names and shapes of a model's parameters, in a fixed order.
pub fn parameter_shapes(config: &ModelConfig) -> Vec<(&'static str, Vec<usize>)> {
    let [c1, c2] = config.channels;
    vec![
        ("conv1.weight", vec![c1, 3, 3, 3]),
        ("conv1.bias", vec![c1]),
        ("conv2.weight", vec![c2, c1, 3, 3]),
        ("conv2.bias", vec![c2]),
        ("fc1.weight", vec![config.hidden, config.flat_features()]),
        ("fc1.bias", vec![config.hidden]),
        ("fc2.weight", vec![10, config.hidden]),
        ("fc2.bias", vec![10]),
    ]
}

/// One of the paper's CNNs. Its parameters live in the [`VarMap`] it was built from, so an
/// optimizer updates them in place; cloning a `Cnn` shares them.
#[derive(Debug)]
pub struct Cnn {
    config: ModelConfig,
    params: Vec<Tensor>,
    norm_scale: Tensor,
    norm_shift: Tensor,
    affine: InputAffine,
    kernels: Kernels,
    dropout_rng: Mutex<ChaCha8Rng>,
    /// A frozen model's two dense layers' weights, packed once (see [`Cnn::frozen`]).
    packed_dense: Option<[Arc<PackedDense>; 2]>,
}

impl Clone for Cnn {
    fn clone(&self) -> Self {
        let rng = self
            .dropout_rng
            .lock()
            .map(|r| r.clone())
            .unwrap_or_else(|p| p.into_inner().clone());
        Self {
            config: self.config.clone(),
            params: self.params.clone(),
            norm_scale: self.norm_scale.clone(),
            norm_shift: self.norm_shift.clone(),
            affine: self.affine.clone(),
            kernels: self.kernels,
            dropout_rng: Mutex::new(rng),
            packed_dense: self.packed_dense.clone(),
        }
    }
}

impl Cnn {
    /// A freshly initialized model and the [`VarMap`] holding its parameters.
    ///
    /// Initialization is PyTorch's default for `Conv2d` and `Linear` (weights and biases
    /// uniform in `+-1/sqrt(fan_in)`), drawn from a ChaCha8 generator seeded with `seed`:
    /// the same seed gives the same weights on every machine.
    ///
    /// # Errors
    /// [`CnnError::InvalidParameter`] for a bad configuration.
    pub fn init(config: &ModelConfig, seed: u64, device: &Device) -> Result<(VarMap, Self)> {
        config.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let varmap = VarMap::new();
        {
            let mut data = varmap.data().lock().unwrap_or_else(|p| p.into_inner());
            let shapes = parameter_shapes(config);
            for pair in shapes.chunks(2) {
                let (w_name, w_shape) = &pair[0];
                let (b_name, b_shape) = &pair[1];
                let fan_in: usize = w_shape[1..].iter().product();
                let bound = 1.0 / (fan_in as f32).sqrt();
                for (name, shape) in [(w_name, w_shape), (b_name, b_shape)] {
                    let n: usize = shape.iter().product();
                    let values: Vec<f32> =
                        (0..n).map(|_| rng.random_range(-bound..bound)).collect();
                    let tensor = Tensor::from_vec(values, shape.as_slice(), device)?;
                    data.insert((*name).to_string(), Var::from_tensor(&tensor)?);
                }
            }
        }
        let model = Self::from_varmap(config, &varmap, device)?;
        Ok((varmap, model))
    }

    /// A model over the parameters already in `varmap` (names as [`parameter_shapes`]).
    ///
    /// # Errors
    /// [`CnnError::InvalidParameter`] if a parameter is missing or has the wrong shape.
    pub fn from_varmap(config: &ModelConfig, varmap: &VarMap, device: &Device) -> Result<Self> {
        config.validate()?;
        let data = varmap.data().lock().unwrap_or_else(|p| p.into_inner());
        let mut params = Vec::new();
        for (name, shape) in parameter_shapes(config) {
            let var = data.get(name).ok_or_else(|| CnnError::InvalidParameter {
                name: "parameters",
                message: format!("{name} is missing"),
            })?;
            if var.dims() != shape.as_slice() {
                return Err(CnnError::InvalidParameter {
                    name: "parameters",
                    message: format!("{name} has shape {:?}, expected {shape:?}", var.dims()),
                });
            }
            params.push(var.as_tensor().clone());
        }
        let scale: Vec<f32> = config.norm_std.iter().map(|s| 1.0 / s).collect();
        let shift: Vec<f32> = config
            .norm_mean
            .iter()
            .zip(&config.norm_std)
            .map(|(m, s)| -m / s)
            .collect();
        Ok(Self {
            config: config.clone(),
            params,
            norm_scale: Tensor::from_vec(scale.clone(), (1, 3, 1, 1), device)?,
            norm_shift: Tensor::from_vec(shift.clone(), (1, 3, 1, 1), device)?,
            affine: InputAffine { scale, shift },
            kernels: Kernels::default(),
            dropout_rng: Mutex::new(ChaCha8Rng::seed_from_u64(0)),
            packed_dense: None,
        })
    }

    /// Chooses the layer implementation (fast kernels by default).
    pub fn set_kernels(&mut self, kernels: Kernels) {
        self.kernels = kernels;
        if !kernels.fast_on(self.params[4].device()) {
            self.packed_dense = None;
        }
    }

    /// The layer implementation in use.
    pub fn kernels(&self) -> Kernels {
        self.kernels
    }

    /// The configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The parameters, in the order of [`parameter_shapes`].
    pub fn parameters(&self) -> &[Tensor] {
        &self.params
    }

    /// A snapshot whose parameters are constants: no gradient is computed for them, and
    /// later updates of this model's parameters do not reach it. Attacks use it so that a
    /// backward pass computes only the input gradient; on the CPU's fast kernels its dense
    /// layers' weights are packed once for the fixed-order product instead of at every pass
    /// (an attack makes ten; the same bits).
    ///
    /// # Errors
    /// On tensor failures (copying the parameters).
    pub fn frozen(&self) -> Result<Self> {
        let mut copy = self.clone();
        copy.params = self
            .params
            .iter()
            .map(|p| p.detach().copy())
            .collect::<candle_core::Result<_>>()?;
        copy.packed_dense = if self.kernels.fast_on(self.params[4].device()) {
            Some([
                Arc::new(PackedDense::new(&copy.params[4])?),
                Arc::new(PackedDense::new(&copy.params[6])?),
            ])
        } else {
            None
        };
        Ok(copy)
    }

    /// Reseeds the dropout masks (the trainer does this before every batch, so that masks
    /// depend only on the seed, epoch and batch).
    pub fn seed_dropout(&self, seed: u64) {
        let mut rng = self.dropout_rng.lock().unwrap_or_else(|p| p.into_inner());
        *rng = ChaCha8Rng::seed_from_u64(seed);
    }

    /// Logits for pixels `x` in `[0, 1]`, shape `(n, 3, 32, 32)`.
    ///
    /// # Errors
    /// [`CnnError::InputShape`] for another shape.
    pub fn logits(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        check_input(x)?;
        self.head(x, Some(&self.affine), train)
    }

    /// Logits for inputs already normalized (what the paper's attack code perturbs).
    ///
    /// # Errors
    /// [`CnnError::InputShape`] for another shape.
    pub fn logits_normalized(&self, z: &Tensor, train: bool) -> Result<Tensor> {
        check_input(z)?;
        self.head(z, None, train)
    }

    /// The gradient of the mean cross-entropy against `labels` (`(n,)` u32) with respect to
    /// the input `x`: pixels in `[0, 1]`, or inputs already normalized with `normalized`
    /// (what [`Cnn::logits`] and [`Cnn::logits_normalized`] read), in evaluation mode. What
    /// an attack asks for at every step. On a frozen model ([`Cnn::frozen`]) on the CPU's
    /// fast kernels it runs the layers' own backward functions without candle's graph,
    /// whose backward pass zero-fills an accumulator for every gradient (about 5 % of a
    /// PGD step); the bits are candle's (the golden test pins them). Elsewhere it is
    /// candle's backward pass.
    ///
    /// # Errors
    /// [`CnnError::InputShape`] for another shape; tensor failures.
    pub fn input_gradient(&self, x: &Tensor, labels: &Tensor, normalized: bool) -> Result<Tensor> {
        check_input(x)?;
        if self.packed_dense.is_some() && x.device().is_cpu() {
            let affine = (!normalized).then_some(&self.affine);
            let mut tape = Tape::default();
            let h = self.trunk(&mut tape, x, affine)?;
            let logits = LayerRunner::dense(&mut tape, self, &h, 1, false)?;
            // The loss's gradient with respect to the logits from candle (a graph of
            // n x 10 tensors), then the layers' backward functions.
            let logits = Var::from_tensor(&logits)?;
            let loss = layers::cross_entropy(logits.as_tensor(), labels)?;
            let grad = loss.backward()?.remove(logits.as_tensor()).ok_or_else(|| {
                CnnError::InvalidParameter {
                    name: "labels",
                    message: "the loss does not depend on the logits".into(),
                }
            })?;
            return Ok(tape.input_gradient(grad)?);
        }
        let input = Var::from_tensor(x)?;
        let logits = if normalized {
            self.logits_normalized(input.as_tensor(), false)?
        } else {
            self.logits(input.as_tensor(), false)?
        };
        let loss = layers::cross_entropy(&logits, labels)?;
        loss.backward()?
            .remove(input.as_tensor())
            .ok_or_else(|| CnnError::InvalidParameter {
                name: "input",
                message: "the loss does not depend on the input".into(),
            })
    }

    /// The hidden layer's activations (after its ReLU, no dropout) for pixels `x` in
    /// `[0, 1]`, shape `(n, 3, 32, 32)`: `(n, hidden)`, the penultimate features a trained
    /// network's classes are read from (an image descriptor).
    ///
    /// # Errors
    /// [`CnnError::InputShape`] for another shape.
    pub fn embedding(&self, x: &Tensor) -> Result<Tensor> {
        check_input(x)?;
        self.trunk(&mut Graph, x, Some(&self.affine))
    }

    /// The network after the optional input normalization `affine`.
    fn head(&self, x: &Tensor, affine: Option<&InputAffine>, train: bool) -> Result<Tensor> {
        let mut h = self.trunk(&mut Graph, x, affine)?;
        if train && let Some(rate) = self.config.dropout.filter(|&r| r > 0.0) {
            h = self.dropout(&h, rate)?;
        }
        self.dense(1, &h, false)
    }

    /// The layers up to the hidden one's activations (after its ReLU, before dropout), run
    /// by `runner`: the one list of layers that [`Cnn::head`], [`Cnn::embedding`] and the
    /// attack's tape in [`Cnn::input_gradient`] all follow.
    fn trunk(
        &self,
        runner: &mut impl LayerRunner,
        x: &Tensor,
        affine: Option<&InputAffine>,
    ) -> Result<Tensor> {
        let h = runner.conv(self, x, 0, affine, false)?;
        let h = runner.conv(self, &h, 1, None, true)?;
        runner.dense(self, &h, 0, true)
    }

    /// Dense layer `layer` (0: the hidden one, 1: the output), with its packed weights when
    /// this is a frozen model.
    fn dense(&self, layer: usize, h: &Tensor, relu: bool) -> Result<Tensor> {
        let (w, b) = (&self.params[4 + 2 * layer], &self.params[5 + 2 * layer]);
        match &self.packed_dense {
            Some(packed) if self.kernels.fast_on(h.device()) => Ok(dense_packed(
                &h.contiguous()?,
                w,
                b,
                relu,
                Arc::clone(&packed[layer]),
            )?),
            _ => layers::dense(h, w, b, relu, self.kernels),
        }
    }

    /// Normalizes pixels as the model's first layer does.
    ///
    /// # Errors
    /// On tensor failures.
    pub fn normalize(&self, x: &Tensor) -> Result<Tensor> {
        layers::normalize(x, &self.norm_scale, &self.norm_shift)
    }

    /// Maps normalized inputs back to pixels.
    ///
    /// # Errors
    /// On tensor failures.
    pub fn denormalize(&self, z: &Tensor) -> Result<Tensor> {
        Ok(z.broadcast_sub(&self.norm_shift)?
            .broadcast_div(&self.norm_scale)?)
    }

    /// Inverted dropout with a mask drawn from the model's seeded generator.
    fn dropout(&self, h: &Tensor, rate: f32) -> Result<Tensor> {
        let n = h.elem_count();
        let keep = 1.0 / (1.0 - rate);
        let mask: Vec<f32> = {
            let mut rng = self.dropout_rng.lock().unwrap_or_else(|p| p.into_inner());
            (0..n)
                .map(|_| {
                    if rng.random::<f32>() < rate {
                        0.0
                    } else {
                        keep
                    }
                })
                .collect()
        };
        let mask = Tensor::from_vec(mask, h.shape(), h.device())?;
        Ok(h.mul(&mask)?)
    }

    /// Writes the parameters to a safetensors file under PyTorch's names.
    ///
    /// # Errors
    /// [`CnnError::Candle`] on I/O failure.
    pub fn save(&self, path: &Path) -> Result<()> {
        let tensors: std::collections::HashMap<String, Tensor> = parameter_shapes(&self.config)
            .into_iter()
            .zip(&self.params)
            .map(|((name, _), t)| (name.to_string(), t.clone()))
            .collect();
        candle_core::safetensors::save(&tensors, path)?;
        Ok(())
    }

    /// Reads parameters saved by [`Cnn::save`] (or exported from PyTorch under the same
    /// names) into `varmap`.
    ///
    /// # Errors
    /// [`CnnError::Checkpoint`] naming the file and the missing or mismatched tensor.
    pub fn load_into(
        varmap: &VarMap,
        config: &ModelConfig,
        path: &Path,
        device: &Device,
    ) -> Result<()> {
        let fail = |message: String| CnnError::Checkpoint {
            path: path.to_path_buf(),
            message,
        };
        let tensors =
            candle_core::safetensors::load(path, device).map_err(|e| fail(e.to_string()))?;
        let data = varmap.data().lock().unwrap_or_else(|p| p.into_inner());
        for (name, shape) in parameter_shapes(config) {
            let tensor = tensors
                .get(name)
                .ok_or_else(|| fail(format!("tensor {name} is missing")))?;
            if tensor.dims() != shape.as_slice() {
                return Err(fail(format!(
                    "{name} has shape {:?}, the model needs {shape:?}",
                    tensor.dims()
                )));
            }
            let var = data
                .get(name)
                .ok_or_else(|| fail(format!("the model has no {name}")))?;
            var.set(&tensor.to_dtype(DType::F32)?)?;
        }
        Ok(())
    }
}

fn check_input(x: &Tensor) -> Result<()> {
    let dims = x.dims();
    if dims.len() != 4 || dims[1..] != [3, 32, 32] {
        return Err(CnnError::InputShape { got: dims.to_vec() });
    }
    Ok(())
}

impl ModuleT for Cnn {
    fn forward_t(&self, xs: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        self.logits(xs, train)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))
    }
}

/// How [`Cnn::trunk`] runs a layer: convolution `layer` (0 or 1; `flatten` emits the rows a
/// dense layer reads) and dense layer `layer` (0: the hidden one, 1: the output).
trait LayerRunner {
    fn conv(
        &mut self,
        model: &Cnn,
        x: &Tensor,
        layer: usize,
        affine: Option<&InputAffine>,
        flatten: bool,
    ) -> Result<Tensor>;
    fn dense(&mut self, model: &Cnn, x: &Tensor, layer: usize, relu: bool) -> Result<Tensor>;
}

/// candle's ops (a graph when an input or a parameter wants gradients).
struct Graph;

impl LayerRunner for Graph {
    fn conv(
        &mut self,
        model: &Cnn,
        x: &Tensor,
        layer: usize,
        affine: Option<&InputAffine>,
        flatten: bool,
    ) -> Result<Tensor> {
        let (w, b, k) = (
            &model.params[2 * layer],
            &model.params[2 * layer + 1],
            model.kernels,
        );
        if flatten {
            layers::conv_relu_pool_flat(x, w, b, k)
        } else {
            layers::conv_relu_pool(x, w, b, affine, k)
        }
    }

    fn dense(&mut self, model: &Cnn, x: &Tensor, layer: usize, relu: bool) -> Result<Tensor> {
        model.dense(layer, x, relu)
    }
}

/// The fast kernels, recorded for the layers' own backward functions (a frozen model's
/// attack; its dense layers with their packed weights).
impl LayerRunner for Tape {
    fn conv(
        &mut self,
        model: &Cnn,
        x: &Tensor,
        layer: usize,
        affine: Option<&InputAffine>,
        flatten: bool,
    ) -> Result<Tensor> {
        let (w, b) = (&model.params[2 * layer], &model.params[2 * layer + 1]);
        let direct = model.kernels.direct_convolutions();
        Ok(Tape::conv(self, x, w, b, affine.cloned(), flatten, direct)?)
    }

    fn dense(&mut self, model: &Cnn, x: &Tensor, layer: usize, relu: bool) -> Result<Tensor> {
        let (w, b) = (&model.params[4 + 2 * layer], &model.params[5 + 2 * layer]);
        let packed = model.packed_dense.as_ref().map(|p| Arc::clone(&p[layer]));
        Ok(Tape::dense(self, x, w, b, relu, packed)?)
    }
}
