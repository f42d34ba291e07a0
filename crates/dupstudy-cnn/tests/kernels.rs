//! Every fast kernel against candle's own operations, values and gradients, on random
//! shapes; and the whole model on both paths.

use candle_core::{Device, Tensor, Var};
use dupstudy_cnn::kernels::{InputAffine, Kernels};
use dupstudy_cnn::{Cnn, ModelConfig, layers};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random(shape: &[usize], seed: u64, scale: f32) -> Tensor {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.random_range(-scale..scale)).collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

fn assert_close(what: &str, fast: &Tensor, reference: &Tensor, tolerance: f32) {
    assert_eq!(fast.dims(), reference.dims(), "{what}: shapes differ");
    let scale = reference
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
        .max(1.0);
    let diff = max_abs_diff(fast, reference);
    assert!(
        diff <= tolerance * scale,
        "{what}: max difference {diff} (scale {scale})"
    );
}

/// Loss = sum(out * r) for a fixed random r, so every output element gets a distinct
/// gradient.
fn weighted_sum(out: &Tensor, seed: u64) -> Tensor {
    let r = random(out.dims(), seed, 1.0);
    (out * r).unwrap().sum_all().unwrap()
}

fn check_conv(n: usize, cin: usize, cout: usize, side: usize, with_affine: bool, seed: u64) {
    let x = Var::from_tensor(&random(&[n, cin, side, side], seed, 1.0)).unwrap();
    let w = Var::from_tensor(&random(&[cout, cin, 3, 3], seed + 1, 0.5)).unwrap();
    let b = Var::from_tensor(&random(&[cout], seed + 2, 0.3)).unwrap();
    let affine = with_affine.then(|| InputAffine {
        scale: (0..cin).map(|c| 1.5 + c as f32 * 0.25).collect(),
        shift: (0..cin).map(|c| -0.5 + c as f32 * 0.1).collect(),
    });
    let mut results = Vec::new();
    for kernels in [Kernels::Reference, Kernels::Fast, Kernels::Portable] {
        let out = layers::conv_relu_pool(
            x.as_tensor(),
            w.as_tensor(),
            b.as_tensor(),
            affine.as_ref(),
            kernels,
        )
        .unwrap();
        let grads = weighted_sum(&out, seed + 3).backward().unwrap();
        results.push((
            out,
            grads.get(x.as_tensor()).unwrap().clone(),
            grads.get(w.as_tensor()).unwrap().clone(),
            grads.get(b.as_tensor()).unwrap().clone(),
        ));
    }
    let reference = &results[0];
    for (fast, name) in results[1..].iter().zip(["fast", "portable"]) {
        let ctx = format!("{name}: n {n} cin {cin} cout {cout} side {side} affine {with_affine}");
        assert_close(&format!("{ctx}: output"), &fast.0, &reference.0, 1e-5);
        assert_close(&format!("{ctx}: d input"), &fast.1, &reference.1, 1e-4);
        assert_close(&format!("{ctx}: d weight"), &fast.2, &reference.2, 1e-4);
        assert_close(&format!("{ctx}: d bias"), &fast.3, &reference.3, 1e-4);
    }
}

#[test]
fn conv_kernel_matches_candle_on_the_paper_shapes() {
    check_conv(3, 3, 16, 32, true, 1);
    check_conv(17, 16, 32, 16, false, 2); // more images than one parallel task
    check_conv(2, 3, 32, 32, true, 3);
    check_conv(2, 32, 64, 16, false, 4);
}

fn check_dense(n: usize, input: usize, output: usize, relu: bool, seed: u64) {
    let x = Var::from_tensor(&random(&[n, input], seed, 1.0)).unwrap();
    let w = Var::from_tensor(&random(&[output, input], seed + 1, 0.5)).unwrap();
    let b = Var::from_tensor(&random(&[output], seed + 2, 0.5)).unwrap();
    let mut results = Vec::new();
    for kernels in [Kernels::Fast, Kernels::Reference] {
        let out =
            layers::dense(x.as_tensor(), w.as_tensor(), b.as_tensor(), relu, kernels).unwrap();
        let grads = weighted_sum(&out, seed + 3).backward().unwrap();
        results.push((
            out,
            grads.get(x.as_tensor()).unwrap().clone(),
            grads.get(w.as_tensor()).unwrap().clone(),
            grads.get(b.as_tensor()).unwrap().clone(),
        ));
    }
    let ctx = format!("dense {n}x{input}->{output} relu {relu}");
    assert_close(
        &format!("{ctx}: output"),
        &results[0].0,
        &results[1].0,
        1e-5,
    );
    assert_close(
        &format!("{ctx}: d input"),
        &results[0].1,
        &results[1].1,
        1e-5,
    );
    assert_close(
        &format!("{ctx}: d weight"),
        &results[0].2,
        &results[1].2,
        1e-5,
    );
    assert_close(
        &format!("{ctx}: d bias"),
        &results[0].3,
        &results[1].3,
        1e-5,
    );
}

#[test]
fn dense_kernel_matches_candle_on_the_paper_shapes() {
    check_dense(128, 2048, 128, true, 10);
    check_dense(128, 128, 10, false, 11);
    check_dense(5, 4096, 256, true, 12);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn conv_kernel_matches_candle_on_random_shapes(
        n in 1usize..12, cin in 1usize..5, cout in 1usize..7, half in 1usize..6, affine in any::<bool>(), seed in 0u64..1000,
    ) {
        check_conv(n, cin, cout, 2 * half, affine, seed);
    }

    /// Wider images and more channels than the paper's, so that every column block (one
    /// or two vectors, masked tails, several blocks per row) and every channel block size
    /// of the direct kernels is reached.
    #[test]
    fn conv_kernel_matches_candle_on_wide_random_shapes(
        n in 1usize..10, cin in 1usize..7, cout in 1usize..27, half in 6usize..29, affine in any::<bool>(), seed in 0u64..1000,
    ) {
        check_conv(n, cin, cout, 2 * half, affine, seed);
    }

    #[test]
    fn dense_kernel_matches_candle_on_random_shapes(
        n in 1usize..20, input in 1usize..70, output in 1usize..30, relu in any::<bool>(), seed in 0u64..1000,
    ) {
        check_dense(n, input, output, relu, seed);
    }
}

#[test]
fn whole_model_agrees_on_every_path() {
    for (config, kernels) in [ModelConfig::standard(), ModelConfig::adversarial()]
        .into_iter()
        .flat_map(|c| [(c.clone(), Kernels::Fast), (c, Kernels::Portable)])
    {
        let (_, mut fast) = Cnn::init(&config, 5, &Device::Cpu).unwrap();
        fast.set_kernels(kernels);
        let mut reference = fast.clone();
        reference.set_kernels(Kernels::Reference);
        let x =
            Var::from_tensor(&random(&[6, 3, 32, 32], 9, 1.0).affine(0.5, 0.5).unwrap()).unwrap();
        let y = Tensor::from_vec(vec![0u32, 3, 9, 1, 1, 7], 6, &Device::Cpu).unwrap();
        let mut out = Vec::new();
        for model in [&fast, &reference] {
            let logits = model.logits(x.as_tensor(), false).unwrap();
            let loss = layers::cross_entropy(&logits, &y).unwrap();
            let grads = loss.backward().unwrap();
            let mut gs = vec![grads.get(x.as_tensor()).unwrap().clone()];
            gs.extend(
                model
                    .parameters()
                    .iter()
                    .map(|p| grads.get(p).unwrap().clone()),
            );
            out.push((logits, gs));
        }
        assert_close(&format!("{kernels:?}: logits"), &out[0].0, &out[1].0, 1e-5);
        for (k, (a, b)) in out[0].1.iter().zip(&out[1].1).enumerate() {
            assert_close(&format!("{kernels:?}: gradient {k}"), a, b, 1e-4);
        }
    }
}

/// The fast kernels give the same bits on every run and on any number of threads: tasks
/// cover fixed groups of images and their partial gradients are summed in a fixed order.
#[test]
fn fast_kernels_are_bit_identical_across_runs_and_thread_counts() {
    let run = || {
        let x = Var::from_tensor(&random(&[21, 16, 16, 16], 40, 1.0)).unwrap();
        let w = Var::from_tensor(&random(&[32, 16, 3, 3], 41, 0.5)).unwrap();
        let b = Var::from_tensor(&random(&[32], 42, 0.3)).unwrap();
        let out = layers::conv_relu_pool(
            x.as_tensor(),
            w.as_tensor(),
            b.as_tensor(),
            None,
            Kernels::Fast,
        )
        .unwrap();
        let grads = weighted_sum(&out, 43).backward().unwrap();
        [
            out,
            grads.get(x.as_tensor()).unwrap().clone(),
            grads.get(w.as_tensor()).unwrap().clone(),
            grads.get(b.as_tensor()).unwrap().clone(),
        ]
        .map(|t| {
            t.flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
                .into_iter()
                .map(f32::to_bits)
                .collect::<Vec<u32>>()
        })
    };
    let first = run();
    assert_eq!(first, run(), "two runs differ");
    for threads in [1, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        assert_eq!(first, pool.install(run), "{threads} threads differ");
    }
}
