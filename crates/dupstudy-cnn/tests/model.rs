//! Models, gradients and attacks on tiny inputs.

use candle_core::{Device, Tensor, Var};
use dupstudy_cnn::{AttackSpace, Cnn, CnnError, ModelConfig, PgdConfig, layers, pgd};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn tiny_config() -> ModelConfig {
    ModelConfig {
        channels: [3, 4],
        hidden: 8,
        dropout: None,
        norm_mean: [0.5; 3],
        norm_std: [0.5; 3],
    }
}

fn random_batch(n: usize, seed: u64) -> (Tensor, Tensor) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x: Vec<f32> = (0..n * 3072).map(|_| rng.random::<f32>()).collect();
    let y: Vec<u32> = (0..n).map(|_| rng.random_range(0..10)).collect();
    (
        Tensor::from_vec(x, (n, 3, 32, 32), &Device::Cpu).unwrap(),
        Tensor::from_vec(y, n, &Device::Cpu).unwrap(),
    )
}

#[test]
fn shapes_names_and_seeded_init() {
    for config in [ModelConfig::standard(), ModelConfig::adversarial()] {
        let (varmap, model) = Cnn::init(&config, 7, &Device::Cpu).unwrap();
        assert_eq!(varmap.all_vars().len(), 8);
        let (x, _) = random_batch(2, 1);
        assert_eq!(model.logits(&x, false).unwrap().dims(), &[2, 10]);
        // PyTorch's default bound 1/sqrt(fan_in).
        let bound = 1.0 / ((3 * 9) as f32).sqrt();
        let w = model.parameters()[0]
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert!(w.iter().all(|v| v.abs() <= bound));
        assert!(w.iter().any(|v| v.abs() > 0.5 * bound));
    }
    let (_, a) = Cnn::init(&tiny_config(), 3, &Device::Cpu).unwrap();
    let (_, b) = Cnn::init(&tiny_config(), 3, &Device::Cpu).unwrap();
    let (_, c) = Cnn::init(&tiny_config(), 4, &Device::Cpu).unwrap();
    let first = |m: &Cnn| {
        m.parameters()[0]
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    };
    assert_eq!(first(&a), first(&b));
    assert_ne!(first(&a), first(&c));
}

#[test]
fn the_embedding_is_the_hidden_layer_the_logits_are_read_from() {
    for config in [tiny_config(), ModelConfig::adversarial()] {
        let (_, model) = Cnn::init(&config, 5, &Device::Cpu).unwrap();
        let (x, _) = random_batch(3, 2);
        let h = model.embedding(&x).unwrap();
        assert_eq!(h.dims(), &[3, config.hidden]);
        assert!(
            h.flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
                .iter()
                .all(|&v| v >= 0.0)
        );
        let p = model.parameters();
        let from_h = layers::dense(&h, &p[6], &p[7], false, model.kernels()).unwrap();
        let logits = model.logits(&x, false).unwrap();
        let values = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let (from_h, logits) = (values(&from_h), values(&logits));
        let diff = from_h
            .iter()
            .zip(&logits)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(diff < 1e-5, "{diff}");
    }
    let (_, model) = Cnn::init(&tiny_config(), 5, &Device::Cpu).unwrap();
    let wrong = Tensor::zeros((1, 3, 16, 16), candle_core::DType::F32, &Device::Cpu).unwrap();
    assert!(matches!(
        model.embedding(&wrong),
        Err(CnnError::InputShape { .. })
    ));
}

#[test]
fn wrong_input_shape_is_an_error() {
    let (_, model) = Cnn::init(&tiny_config(), 0, &Device::Cpu).unwrap();
    let x = Tensor::zeros((2, 3, 28, 28), candle_core::DType::F32, &Device::Cpu).unwrap();
    assert!(matches!(
        model.logits(&x, false),
        Err(CnnError::InputShape { .. })
    ));
}

#[test]
fn input_gradient_matches_finite_differences() {
    let (_, model) = Cnn::init(&tiny_config(), 11, &Device::Cpu).unwrap();
    let (x, y) = random_batch(2, 2);
    let var = Var::from_tensor(&x).unwrap();
    let loss = layers::cross_entropy(&model.logits(var.as_tensor(), false).unwrap(), &y).unwrap();
    let grad = loss
        .backward()
        .unwrap()
        .get(var.as_tensor())
        .unwrap()
        .clone();
    // Sparse directions (16 pixels) keep ReLU and max-pool decisions from flipping within
    // the finite-difference step; each coordinate follows the gradient's sign so that the
    // derivative stands well above f32 round-off.
    let g = grad.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for _ in 0..6 {
        let mut v = vec![0.0f32; 2 * 3072];
        for _ in 0..16 {
            let k = rng.random_range(0..2 * 3072);
            v[k] = g[k].signum() * rng.random_range(0.5f32..1.0);
        }
        let v = Tensor::from_vec(v, (2, 3, 32, 32), &Device::Cpu).unwrap();
        let analytic = (&grad * &v)
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        let h = 1e-2;
        let at = |t: f64| {
            let xt = (&x + (&v * t).unwrap()).unwrap();
            layers::cross_entropy(&model.logits(&xt, false).unwrap(), &y)
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
        };
        let numeric = (at(h) - at(-h)) / (2.0 * h as f32);
        assert!(
            (analytic - numeric).abs() <= 0.03 * analytic.abs() + 1e-4,
            "directional derivative {analytic} vs finite difference {numeric}"
        );
    }
}

#[test]
fn pgd_iterates_stay_in_the_ball_and_the_pixel_range() {
    let (_, model) = Cnn::init(&tiny_config(), 13, &Device::Cpu).unwrap();
    let (x, y) = random_batch(4, 3);
    for steps in [1, 3, 10] {
        let config = PgdConfig {
            steps,
            ..PgdConfig::madry()
        };
        let pgd::Adversarial::Pixels(adv) = pgd::attack(&model, &x, &y, &config, 1).unwrap() else {
            panic!("pixel attack must return pixels");
        };
        let diff = (&adv - &x)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff <= config.epsilon + 1e-6, "left the ball: {diff}");
        let lo = adv.min_all().unwrap().to_scalar::<f32>().unwrap();
        let hi = adv.max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(
            (0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi),
            "[{lo}, {hi}]"
        );
        assert!(diff > 0.5 * config.epsilon, "the attack should move");
    }
    // The paper's variant works on normalized inputs and clamps them to [0, 1].
    let config = PgdConfig::paper_code();
    assert_eq!(config.space, AttackSpace::PaperNormalizedClamp);
    let pgd::Adversarial::Normalized(adv) = pgd::attack(&model, &x, &y, &config, 1).unwrap() else {
        panic!("paper attack must return normalized inputs");
    };
    // Each coordinate lies in clamp(z0 -+ eps, 0, 1): the clamp to [0, 1] can move a
    // coordinate further than eps from the clean input (a black pixel, z0 = -1, lands on 0),
    // which is the flaw of the paper's code this preset reproduces.
    let z0 = model.normalize(&x).unwrap();
    let low = (&z0 - 0.5).unwrap().clamp(0f32, 1f32).unwrap();
    let high = (&z0 + 0.5).unwrap().clamp(0f32, 1f32).unwrap();
    let below = adv
        .lt(&(&low - 1e-6).unwrap())
        .unwrap()
        .to_dtype(candle_core::DType::F32)
        .unwrap();
    let above = adv
        .gt(&(&high + 1e-6).unwrap())
        .unwrap()
        .to_dtype(candle_core::DType::F32)
        .unwrap();
    let outside = (below + above)
        .unwrap()
        .sum_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(
        outside < 0.5,
        "{outside} coordinates outside clamp(z0 -+ eps, 0, 1)"
    );
    assert!(adv.min_all().unwrap().to_scalar::<f32>().unwrap() >= 0.0);
    assert!(adv.max_all().unwrap().to_scalar::<f32>().unwrap() <= 1.0);
    let moved = (&adv - &z0)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(
        moved > 0.5,
        "the clamp moves dark pixels beyond eps: {moved}"
    );
}

#[test]
fn bad_attack_parameters_are_errors() {
    let (_, model) = Cnn::init(&tiny_config(), 0, &Device::Cpu).unwrap();
    let (x, y) = random_batch(1, 0);
    for config in [
        PgdConfig {
            steps: 0,
            ..PgdConfig::madry()
        },
        PgdConfig {
            epsilon: -1.0,
            ..PgdConfig::madry()
        },
        PgdConfig {
            step_size: f32::NAN,
            ..PgdConfig::madry()
        },
    ] {
        assert!(matches!(
            pgd::attack(&model, &x, &y, &config, 0),
            Err(CnnError::InvalidParameter { .. })
        ));
    }
}

#[test]
fn weights_round_trip_through_safetensors() {
    let config = tiny_config();
    let (_, model) = Cnn::init(&config, 21, &Device::Cpu).unwrap();
    let dir = std::env::temp_dir().join(format!("dupstudy-cnn-weights-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors");
    model.save(&path).unwrap();
    let (varmap, other) = Cnn::init(&config, 22, &Device::Cpu).unwrap();
    Cnn::load_into(&varmap, &config, &path, &Device::Cpu).unwrap();
    let (x, _) = random_batch(2, 9);
    let a = model
        .logits(&x, false)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let b = other
        .logits(&x, false)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_eq!(a, b);
    // A file for another architecture is refused, naming the file and tensor.
    let err = Cnn::load_into(
        &varmap,
        &ModelConfig {
            hidden: 9,
            ..config.clone()
        },
        &path,
        &Device::Cpu,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("model.safetensors") && err.to_string().contains("fc1"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn flops_per_image_follow_the_layer_shapes() {
    let close = |a: f64, b: f64| (a / b - 1.0).abs() < 2e-3;
    let s = ModelConfig::standard();
    let a = ModelConfig::adversarial();
    assert!((s.forward_flops() - (884_736.0 + 2_359_296.0 + 524_288.0 + 2_560.0)).abs() < 0.5);
    assert!(close(s.forward_flops(), 3.77e6) && close(a.forward_flops(), 13.31e6));
    assert!(close(s.train_step_flops(), 10.43e6) && close(a.train_step_flops(), 38.16e6));
    assert!(close(s.pgd_step_flops(10), 85.85e6) && close(a.pgd_step_flops(10), 304.4e6));
}

#[test]
fn logits_agree_with_predict_and_mirror_flips_the_image() {
    use std::sync::Arc;
    let data = Arc::new(dupstudy_cifar::synthetic::learnable(40, 10, 40, 3).unwrap());
    let (_, model) = Cnn::init(&tiny_config(), 5, &Device::Cpu).unwrap();
    let idx = Arc::new((0..40).collect::<Vec<usize>>());
    let split = dupstudy_cifar::SplitName::Train;
    let dev = Device::Cpu;
    let plain =
        dupstudy_cnn::logits(&model, &data, split, idx.clone(), 16, &dev, None, false).unwrap();
    assert_eq!(plain.len(), 400);
    let predicted =
        dupstudy_cnn::predict(&model, &data, split, idx.clone(), 16, &dev, None).unwrap();
    for (i, row) in plain.chunks(10).enumerate() {
        let top = (0..10).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
        assert_eq!(top as u8, predicted[i], "image {i}");
    }
    let mirrored = dupstudy_cnn::logits(&model, &data, split, idx, 16, &dev, None, true).unwrap();
    // Image 3 flipped by hand: planar 3 x 32 x 32 bytes, each row reversed.
    let bytes = data.train().image(3).unwrap();
    let mut flipped = vec![0f32; 3072];
    for c in 0..3 {
        for y in 0..32 {
            for x in 0..32 {
                flipped[c * 1024 + y * 32 + x] =
                    f32::from(bytes[c * 1024 + y * 32 + 31 - x]) / 255.0;
            }
        }
    }
    let x = Tensor::from_vec(flipped, (1, 3, 32, 32), &dev).unwrap();
    let by_hand: Vec<f32> = model
        .logits(&x, false)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    for (a, b) in by_hand.iter().zip(&mirrored[30..40]) {
        assert!((a - b).abs() < 1e-4, "{a} vs {b}");
    }
    assert_ne!(
        &plain[30..40],
        &mirrored[30..40],
        "the mirror is another query"
    );
}

#[test]
fn a_frozen_model_is_a_snapshot_with_the_live_models_bits() {
    let (varmap, model) = Cnn::init(&ModelConfig::adversarial(), 5, &Device::Cpu).unwrap();
    let (x, labels) = random_batch(3, 9);
    let frozen = model.frozen().unwrap();
    // Logits and input gradient through the packed dense weights, bit for bit those of the
    // live model (whose products pack at every pass).
    let outputs = |m: &Cnn| {
        let input = Var::from_tensor(&x).unwrap();
        let logits = m.logits(input.as_tensor(), false).unwrap();
        let loss = layers::cross_entropy(&logits, &labels).unwrap();
        let grad = loss.backward().unwrap();
        let gx = grad.get(input.as_tensor()).unwrap();
        let bits = |t: &Tensor| -> Vec<u32> {
            let v = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            v.iter().map(|f| f.to_bits()).collect()
        };
        (bits(&logits), bits(gx))
    };
    assert_eq!(outputs(&frozen), outputs(&model));
    let embedding = |m: &Cnn| m.embedding(&x).unwrap().to_vec2::<f32>().unwrap();
    assert_eq!(embedding(&frozen), embedding(&model));
    // Updating the model's parameters in place does not reach the snapshot.
    let before = frozen.logits(&x, false).unwrap().to_vec2::<f32>().unwrap();
    for var in varmap.all_vars() {
        var.set(&var.as_tensor().affine(0.5, 0.01).unwrap())
            .unwrap();
    }
    let live = model.logits(&x, false).unwrap().to_vec2::<f32>().unwrap();
    assert_ne!(live, before, "the update changed the live model");
    assert_eq!(
        frozen.logits(&x, false).unwrap().to_vec2::<f32>().unwrap(),
        before
    );
}

#[test]
fn a_frozen_models_input_gradient_has_candles_bits() {
    // The frozen model runs the layers' backward functions without candle's graph; the live
    // model runs candle's backward pass. Both kernel sets, both input spaces, both networks.
    let bits = |t: &Tensor| -> Vec<u32> {
        let v = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        v.iter().map(|f| f.to_bits()).collect()
    };
    for config in [ModelConfig::adversarial(), ModelConfig::standard()] {
        for kernels in [dupstudy_cnn::Kernels::Fast, dupstudy_cnn::Kernels::Portable] {
            let (_, mut model) = Cnn::init(&config, 11, &Device::Cpu).unwrap();
            model.set_kernels(kernels);
            let frozen = model.frozen().unwrap();
            let (x, labels) = random_batch(9, 21);
            for normalized in [false, true] {
                let live = model.input_gradient(&x, &labels, normalized).unwrap();
                let taped = frozen.input_gradient(&x, &labels, normalized).unwrap();
                assert_eq!(live.dims(), x.dims());
                assert!(
                    bits(&live).iter().any(|&b| b != 0),
                    "a zero gradient proves nothing"
                );
                assert_eq!(
                    bits(&taped),
                    bits(&live),
                    "{kernels:?}, normalized {normalized}"
                );
            }
        }
    }
}
