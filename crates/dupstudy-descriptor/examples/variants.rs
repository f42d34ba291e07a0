//! Variants of the learned descriptor's similarity, measured on the development half of
//! ciFAIR's hand-labelled CIFAR-10 near-duplicates (the held-out half printed beside,
//! never used to choose): for each variant the weight rule of the audit
//! ([`labelled::chosen_weight`]) and the recall within budgets of flagged test images.
//!
//! ```sh
//! cargo run --release -p dupstudy-descriptor --example variants -- \
//!     ../shared/cifar-10-jpeg/cifar-10-batches-bin fixtures/cifair [CACHE_DIR]
//! ```
//!
//! The candidates are each test image's 30 training and 10 test neighbours by thumbnail
//! plus its 20 training and 10 test neighbours by the descriptor (plain and mirror-averaged),
//! each aligned exactly; with `CACHE_DIR` the trained network and the aligned candidates are
//! kept there and reused (about 20 minutes on 2 cores the first time, 3 after). The
//! self-supervised variant trains its own network for 20 epochs (about 35 minutes on 2
//! cores, cached too); `VARIANTS_SSL_ONLY=1` prints the audit's row and that variant alone.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use dupstudy_audit::labelled::{self, Candidate, Labelled, Scoring};
use dupstudy_audit::neighbours::dot;
use dupstudy_audit::progress::Silent;
use dupstudy_audit::{ImageSet, features, images, planted};
use dupstudy_cnn::{Cnn, ModelConfig, layers};
use dupstudy_descriptor::{DescriptorParams, Descriptors, embed, train};

/// The weights the audit's rule chooses among.
const WEIGHTS: [f32; 9] = [1.0, 0.5, 0.4, 0.3, 0.25, 0.2, 0.15, 0.1, 0.0];
const TRAIN: std::ops::Range<usize> = 0..50_000;
const TEST: std::ops::Range<usize> = 50_000..60_000;

fn main() -> anyhow::Result<()> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [data, labels_dir, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: variants CIFAR10_DIR CIFAIR_DIR [CACHE_DIR]");
    };
    let cache = rest.first();
    let set = images::load(data)?;
    anyhow::ensure!(set.len() == 60_000, "{}: not CIFAR-10", data.display());
    let labels = labelled::load(labels_dir)?;
    let model = network(&set, cache)?;
    let base = embed(&model, &set, &Silent)?;
    let mirror = embed(&model, &mirrored(&set), &Silent)?;
    let averaged = Descriptors::from_rows(
        base.dim(),
        (0..set.len())
            .flat_map(|i| base.row(i).iter().zip(mirror.row(i)).map(|(a, b)| a + b))
            .collect(),
    )?;
    let mut candidates = aligned_candidates(&set, &[&base, &averaged], cache)?;
    println!(
        "{} candidates; recall: test->train development | held out; within test development | held out; flagged test images (development, held out)",
        candidates.len()
    );
    let row =
        |name: &str, candidates: &mut [Candidate], s: &(dyn Fn(usize, usize) -> f32 + Sync)| {
            report(name, &labels, candidates, s);
        };
    let only_ssl = std::env::var_os("VARIANTS_SSL_ONLY").is_some();
    row("hidden layer (the audit's)", &mut candidates, &|a, b| {
        base.similarity(a, b)
    });
    if !only_ssl {
        row("hidden, mirror-averaged", &mut candidates, &|a, b| {
            averaged.similarity(a, b)
        });
        row(
            "hidden, best of image and mirror",
            &mut candidates,
            &|a, b| base.similarity(a, b).max(dot(mirror.row(a), base.row(b))),
        );
        for (name, d) in [("hidden", &base), ("mirror-averaged", &averaged)] {
            // Hubness correction (cross-domain similarity local scaling): an image whose ten
            // nearest training images are all close (a plane in the sky) gets less credit.
            let all: Vec<usize> = (0..set.len()).collect();
            let train: Vec<usize> = TRAIN.collect();
            let local: Vec<f32> = d
                .nearest(&all, &train, 10)
                .iter()
                .map(|ns| ns.iter().map(|n| n.similarity).sum::<f32>() / ns.len() as f32)
                .collect();
            let mean = local.iter().sum::<f32>() / local.len() as f32;
            for beta in [0.5f32, 1.0] {
                row(
                    &format!("{name}, local scaling {beta}"),
                    &mut candidates,
                    &|a, b| d.similarity(a, b) - beta * (0.5 * (local[a] + local[b]) - mean),
                );
            }
        }
        for pool in [1usize, 2, 4] {
            let conv = conv_features(&model, &set, pool)?;
            let name = format!(
                "second conv layer, {0}x{0} cells of {1} numbers",
                8 / pool,
                conv.dim()
            );
            row(&name, &mut candidates, &|a, b| conv.similarity(a, b));
            for mix in [0.25f32, 0.5] {
                row(
                    &format!("hidden + {mix} x {name}"),
                    &mut candidates,
                    &|a, b| (1.0 - mix) * base.similarity(a, b) + mix * conv.similarity(a, b),
                );
            }
        }
        // ciFAIR labelled each test image's nearest training image only: keep a test image's
        // training candidates among its k nearest by the descriptor (or aligned at 0.86).
        let test: Vec<usize> = TEST.collect();
        let train: Vec<usize> = TRAIN.collect();
        let top = base.nearest(&test, &train, 5);
        for k in [1usize, 2, 3, 5] {
            let keep: std::collections::HashSet<(usize, usize)> = top
                .iter()
                .zip(&test)
                .flat_map(|(ns, &q)| ns.iter().take(k).map(move |n| (q, n.index)))
                .collect();
            let mut kept: Vec<Candidate> = candidates
                .iter()
                .filter(|c| {
                    TEST.contains(&c.other)
                        || keep.contains(&(c.test, c.other))
                        || c.aligned >= 0.86
                })
                .copied()
                .collect();
            row(
                &format!("hidden, training partners among the {k} nearest"),
                &mut kept,
                &|a, b| base.similarity(a, b),
            );
        }
    }
    // A self-supervised copy descriptor (after Pizzi et al., 2022): the same network
    // trained without labels to tell each image's two augmented views from every other
    // image's (InfoNCE), on all 60,000 images.
    let f = features::compute(&set);
    for epochs in [20u64, 10] {
        let ssl = contrastive(&set, epochs, cache)?;
        let d = embed(&ssl, &set, &Silent)?;
        let wanted = descriptor_neighbours(&d);
        let mut with = candidates.clone();
        labelled::add_candidates(&set, &f, &mut with, &wanted);
        row(
            &format!("self-supervised, {epochs} epochs"),
            &mut with,
            &|a, b| d.similarity(a, b),
        );
        for mix in [0.25f32, 0.5] {
            row(
                &format!("hidden + {mix} x self-supervised, {epochs} epochs"),
                &mut with,
                &|a, b| (1.0 - mix) * base.similarity(a, b) + mix * d.similarity(a, b),
            );
        }
    }
    Ok(())
}

/// The descriptor's network as the audit trains it (planted copies joined), or the cached one.
fn network(set: &ImageSet, cache: Option<&PathBuf>) -> anyhow::Result<Cnn> {
    let params = DescriptorParams::default();
    let config = ModelConfig::adversarial();
    let device = Device::Cpu;
    let path = cache.map(|c| {
        c.join(format!(
            "descriptor-e{}-s{}.safetensors",
            params.epochs, params.seed
        ))
    });
    if let Some(p) = path.as_ref().filter(|p| p.exists()) {
        let (varmap, _) = Cnn::init(&config, 0, &device)?;
        Cnn::load_into(&varmap, &config, p, &device)?;
        return Ok(Cnn::from_varmap(&config, &varmap, &device)?);
    }
    let mut with_copies = set.clone();
    planted::plant(&mut with_copies, 200, 0)?;
    let model = train(&with_copies, &params, &Silent)?;
    if let Some(p) = path {
        std::fs::create_dir_all(p.parent().unwrap_or(Path::new(".")))?;
        model.save(&p)?;
    }
    Ok(model)
}

/// Every image mirrored left to right.
fn mirrored(set: &ImageSet) -> ImageSet {
    let mut m = set.clone();
    let (w, n) = (set.width, set.image_bytes());
    for (i, out) in m.pixels.chunks_mut(n).enumerate() {
        let image = set.image(i);
        for (row_out, row_in) in out.chunks_mut(w).zip(image.chunks(w)) {
            row_out
                .iter_mut()
                .zip(row_in.iter().rev())
                .for_each(|(o, v)| *o = *v);
        }
    }
    m
}

/// Test images' thumbnail neighbours and each descriptor's neighbours, aligned exactly.
fn aligned_candidates(
    set: &ImageSet,
    descriptors: &[&Descriptors],
    cache: Option<&PathBuf>,
) -> anyhow::Result<Vec<Candidate>> {
    let path = cache.map(|c| c.join("candidates.json"));
    if let Some(p) = path.as_ref().filter(|p| p.exists()) {
        return Ok(serde_json::from_str(&std::fs::read_to_string(p)?)?);
    }
    let f = features::compute(set);
    let mut candidates = labelled::test_candidates(set, &f, 30, 10);
    for d in descriptors {
        let wanted = descriptor_neighbours(d);
        labelled::add_candidates(set, &f, &mut candidates, &wanted);
    }
    if let Some(p) = path {
        std::fs::write(p, serde_json::to_string(&candidates)?)?;
    }
    Ok(candidates)
}

/// The second convolution's pooled output, average-pooled by `pool`.
fn conv_features(model: &Cnn, set: &ImageSet, pool: usize) -> anyhow::Result<Descriptors> {
    let (p, k) = (model.parameters(), model.kernels());
    let mut rows = Vec::new();
    for start in (0..set.len()).step_by(500) {
        let end = (start + 500).min(set.len());
        let pixels: Vec<f32> = (start..end)
            .flat_map(|i| set.image(i).iter().map(|&v| f32::from(v) / 255.0))
            .collect();
        let x = Tensor::from_vec(pixels, (end - start, 3, 32, 32), &Device::Cpu)?;
        let h = layers::conv_relu_pool(&model.normalize(&x)?, &p[0], &p[1], None, k)?;
        let h =
            layers::conv_relu_pool_flat(&h, &p[2], &p[3], k)?.reshape((end - start, 64, 8, 8))?;
        let h = if pool > 1 { h.avg_pool2d(pool)? } else { h };
        rows.extend(h.flatten_all()?.to_vec1::<f32>()?);
    }
    Ok(Descriptors::from_rows(rows.len() / set.len(), rows)?)
}

/// One variant: the weight the audit's rule picks on the development half, then the recall
/// at 450 and 600 flagged test images.
fn report(
    name: &str,
    labels: &[Labelled],
    candidates: &mut [Candidate],
    similarity: &(dyn Fn(usize, usize) -> f32 + Sync),
) {
    labelled::set_learned(candidates, similarity);
    let Some((weight, _)) = labelled::chosen_weight(labels, candidates, &WEIGHTS) else {
        println!("{name}: no weight keeps the development half within its budget");
        return;
    };
    let pairs: Vec<_> = candidates
        .iter()
        .map(|c| c.pair(Scoring::Learned(weight)))
        .collect();
    for budget in [450, 600] {
        if let Some(p) = labelled::at_budget(labels, &pairs, budget) {
            println!(
                "{name} (weight {weight}), budget {budget}: threshold {:.3}; {} | {}; {} | {}; flagged {} ({}, {})",
                p.threshold,
                p.test_train[0],
                p.test_train[1],
                p.within_test[0],
                p.within_test[1],
                p.flagged_test_images,
                p.flagged_by_half[0],
                p.flagged_by_half[1]
            );
        }
    }
}

/// One augmented view of image `i` as pixels in `[0, 1]`: a random crop of 50-100 % of the
/// area (aspect 3/4 to 4/3) scaled back bilinearly, a mirror half the time, brightness,
/// contrast and per-channel gains, grayscale one time in five. Drawn from `(seed, i)` alone.
fn view(set: &ImageSet, i: usize, seed: u64) -> Vec<f32> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(
        seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
    );
    let (w, h) = (set.width as f32, set.height as f32);
    let area = rng.random_range(0.5f32..1.0) * w * h;
    let aspect = rng.random_range((0.75f32).ln()..(4.0f32 / 3.0).ln()).exp();
    let cw = (area * aspect).sqrt().min(w);
    let ch = (area / aspect).sqrt().min(h);
    let x0 = rng.random_range(0.0..=(w - cw));
    let y0 = rng.random_range(0.0..=(h - ch));
    let mirror = rng.random_bool(0.5);
    let bright = rng.random_range(-0.25f32..0.25);
    let contrast = rng.random_range(0.6f32..1.4);
    let gains: [f32; 3] = std::array::from_fn(|_| rng.random_range(0.8f32..1.2));
    let gray = rng.random_bool(0.2);
    let image = set.image(i);
    let (sw, sh) = (set.width, set.height);
    let at = |c: usize, x: usize, y: usize| f32::from(image[c * sw * sh + y * sw + x]) / 255.0;
    let mut out = vec![0.0f32; 3 * sw * sh];
    for y in 0..sh {
        for x in 0..sw {
            let u = if mirror { sw - 1 - x } else { x };
            let fx = (x0 + (u as f32 + 0.5) * cw / w - 0.5).clamp(0.0, w - 1.0);
            let fy = (y0 + (y as f32 + 0.5) * ch / h - 0.5).clamp(0.0, h - 1.0);
            let (ix, iy) = (fx.floor() as usize, fy.floor() as usize);
            let (jx, jy) = ((ix + 1).min(sw - 1), (iy + 1).min(sh - 1));
            let (ax, ay) = (fx - ix as f32, fy - iy as f32);
            for c in 0..3 {
                let v = (1.0 - ay) * ((1.0 - ax) * at(c, ix, iy) + ax * at(c, jx, iy))
                    + ay * ((1.0 - ax) * at(c, ix, jy) + ax * at(c, jx, jy));
                out[c * sw * sh + y * sw + x] = v;
            }
        }
    }
    let plane = sw * sh;
    if gray {
        for p in 0..plane {
            let g = 0.299 * out[p] + 0.587 * out[plane + p] + 0.114 * out[2 * plane + p];
            for c in 0..3 {
                out[c * plane + p] = g;
            }
        }
    }
    let mean = out.iter().sum::<f32>() / out.len() as f32;
    for c in 0..3 {
        for v in &mut out[c * plane..(c + 1) * plane] {
            *v = ((*v - mean) * contrast + mean + bright)
                .mul_add(gains[c], 0.0)
                .clamp(0.0, 1.0);
        }
    }
    out
}

/// The 32/64/256 network trained self-supervised on every image of `set` for `epochs`
/// (InfoNCE at temperature 0.1 over batches of 256 images, two views each; Adam 1e-3;
/// seed 0), or the cached one.
fn contrastive(set: &ImageSet, epochs: u64, cache: Option<&PathBuf>) -> anyhow::Result<Cnn> {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    use rayon::prelude::*;
    let config = ModelConfig::adversarial();
    let device = Device::Cpu;
    let path = cache.map(|c| c.join(format!("contrastive-e{epochs}.safetensors")));
    let (varmap, model) = Cnn::init(&config, 0, &device)?;
    if let Some(p) = path.as_ref().filter(|p| p.exists()) {
        Cnn::load_into(&varmap, &config, p, &device)?;
        return Ok(Cnn::from_varmap(&config, &varmap, &device)?);
    }
    let mut optimizer = dupstudy_cnn::Optimizer::for_model(
        dupstudy_cnn::OptimizerConfig::paper_adam(),
        &varmap,
        &config,
    )?;
    const BATCH: usize = 256;
    let n = set.len();
    let clock = std::time::Instant::now();
    for epoch in 0..epochs {
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(1000 + epoch));
        let mut total = 0.0f64;
        let mut steps = 0usize;
        for (b, batch) in order.chunks_exact(BATCH).enumerate() {
            let seed = (epoch << 32) ^ ((b as u64) << 1);
            let pixels: Vec<f32> = [seed, seed | 1]
                .iter()
                .flat_map(|&s| {
                    batch
                        .par_iter()
                        .flat_map_iter(move |&i| view(set, i, s))
                        .collect::<Vec<_>>()
                })
                .collect();
            let x = Tensor::from_vec(pixels, (2 * BATCH, 3, 32, 32), &device)?;
            let z = model.embedding(&x)?;
            let z = z.broadcast_div(&z.sqr()?.sum_keepdim(1)?.sqrt()?.affine(1.0, 1e-8)?)?;
            let s = (z.matmul(&z.t()?)? * 10.0)?;
            let eye = Tensor::eye(2 * BATCH, candle_core::DType::F32, &device)?;
            let s = (s - (eye * 1e4)?)?;
            let logp = candle_nn::ops::log_softmax(&s, 1)?;
            let partner: Vec<u32> = (0..2 * BATCH)
                .map(|i| ((i + BATCH) % (2 * BATCH)) as u32)
                .collect();
            let partner = Tensor::from_vec(partner, (2 * BATCH, 1), &device)?;
            let loss = logp.gather(&partner, 1)?.mean_all()?.neg()?;
            total += f64::from(loss.to_scalar::<f32>()?);
            steps += 1;
            optimizer.backward_step(&loss)?;
        }
        if epoch + 1 == 10
            && epochs > 10
            && let Some(c) = cache
        {
            model.save(&c.join("contrastive-e10.safetensors"))?;
        }
        eprintln!(
            "contrastive epoch {epoch}: loss {:.3} ({:.0} s)",
            total / steps as f64,
            clock.elapsed().as_secs_f64()
        );
    }
    if let Some(p) = path {
        model.save(&p)?;
    }
    Ok(model)
}

/// Each test image's 20 nearest training images and 10 nearest other test images by `d`,
/// as (test image, neighbour) pairs to align.
fn descriptor_neighbours(d: &Descriptors) -> Vec<(usize, usize)> {
    let (train, test): (Vec<usize>, Vec<usize>) = (TRAIN.collect(), TEST.collect());
    d.nearest(&test, &train, 20)
        .into_iter()
        .chain(d.nearest(&test, &test, 10))
        .zip(test.iter().chain(&test))
        .flat_map(|(ns, &q)| ns.into_iter().map(move |n| (q, n.index)))
        .collect()
}
