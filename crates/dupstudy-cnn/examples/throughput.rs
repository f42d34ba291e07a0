//! Training and evaluation throughput of the paper's networks, for comparison with PyTorch
//! (`scripts/torch_throughput.py` measures the same models, modes and settings).
//!
//! ```sh
//! cargo run --release -p dupstudy-cnn --example throughput -- \
//!     --model standard|adversarial --mode train|pgd|eval [--batch 128] [--steps N] \
//!     [--warmup N] [--threads N] [--device cpu|cuda] [--kernels fast|portable|reference]
//! ```
//!
//! - `train`: one optimizer step (forward with dropout, backward, SGD or Adam as in the
//!   paper) per batch;
//! - `pgd`: one adversarial-training step: PGD-10 (Madry's setting) on the batch, then an
//!   optimizer step on the adversarial batch;
//! - `eval`: a forward pass without gradients.
//!
//! Inputs are seeded uniform pixels and labels (speed does not depend on the data). Prints
//! one JSON object: `images_per_s` is from the median step after warm-up, `total_s` the time
//! of all timed steps (with `--steps 391 --warmup 0`, one epoch of 50,048 images).
//! `flops_per_image` counts 2 FLOPs per multiply-add of the mode's work from the layer
//! shapes ([`ModelConfig::forward_flops`] and friends), `gflops` is what the median step
//! achieved, and `share_of_peak` divides it by `peak_gflops`, the FP32 FMA peak this
//! program measures on as many threads just before: 12 independent FMA chains per thread on
//! the widest vectors the CPU has (AVX-512, else AVX2 with FMA, else scalar `mul_add`).

// The peak microbenchmark calls FMA intrinsics after checking the CPU supports them.
#![allow(unsafe_code)]

use std::time::Instant;

use candle_core::Tensor;
use clap::{Parser, ValueEnum};
use dupstudy_cnn::{Cnn, Kernels, ModelConfig, Optimizer, OptimizerConfig, PgdConfig, layers, pgd};
use rand::{Rng, SeedableRng};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ModelArg {
    Standard,
    Adversarial,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum KernelsArg {
    /// The fused CPU kernels (the default): direct convolutions (AVX-512, AVX2 or scalar
    /// code by CPU, the same bits).
    Fast,
    /// The fused CPU kernels with im2col + GEMM convolutions (other bits).
    Portable,
    /// candle's own operations, for comparison.
    Reference,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ModeArg {
    Train,
    Pgd,
    Eval,
}

/// Throughput of the paper's CNNs.
#[derive(Debug, Parser)]
struct Args {
    /// Which network.
    #[arg(long, value_enum, default_value_t = ModelArg::Standard)]
    model: ModelArg,
    /// What to time.
    #[arg(long, value_enum, default_value_t = ModeArg::Train)]
    mode: ModeArg,
    /// Images per batch.
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// Timed steps.
    #[arg(long, default_value_t = 20)]
    steps: usize,
    /// Untimed warm-up steps.
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// CPU threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// cpu or cuda.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Layer implementation on the CPU.
    #[arg(long, value_enum, default_value_t = KernelsArg::Fast)]
    kernels: KernelsArg,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // SAFETY: the first thing `main` does: no other thread runs yet.
    #[allow(unsafe_code)]
    unsafe {
        dupstudy_cnn::alloc::park_idle_candle_workers();
    }
    let args = Args::parse();
    dupstudy_cnn::alloc::keep_freed_memory();
    // candle reads RAYON_NUM_THREADS on every operation; set it for a child process rather
    // than mutating this process's environment.
    if let Some(threads) = args.threads
        && std::env::var("RAYON_NUM_THREADS").ok() != Some(threads.to_string())
    {
        let status = std::process::Command::new(std::env::current_exe()?)
            .args(std::env::args().skip(1))
            .env("RAYON_NUM_THREADS", threads.to_string())
            .status()?;
        std::process::exit(status.code().unwrap_or(1));
    }
    if args.batch == 0 || args.steps == 0 {
        return Err("--batch and --steps must be at least 1".into());
    }
    let device = dupstudy_cnn::device::device(&args.device)?;
    let (config, optimizer) = match args.model {
        ModelArg::Standard => (ModelConfig::standard(), OptimizerConfig::paper_sgd()),
        ModelArg::Adversarial => (ModelConfig::adversarial(), OptimizerConfig::paper_adam()),
    };
    let (varmap, mut model) = Cnn::init(&config, 0, &device)?;
    model.set_kernels(match args.kernels {
        KernelsArg::Fast => Kernels::Fast,
        KernelsArg::Portable => Kernels::Portable,
        KernelsArg::Reference => Kernels::Reference,
    });
    let mut opt = Optimizer::for_model(optimizer, &varmap, &config)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let n = args.batch;
    let pixels: Vec<f32> = (0..n * 3 * 32 * 32).map(|_| rng.random::<f32>()).collect();
    let labels: Vec<u32> = (0..n).map(|_| rng.random_range(0..10)).collect();
    let x = Tensor::from_vec(pixels, (n, 3, 32, 32), &device)?;
    let y = Tensor::from_vec(labels, n, &device)?;
    let attack = PgdConfig::madry();
    let mut times = Vec::with_capacity(args.steps);
    for step in 0..args.warmup + args.steps {
        let start = Instant::now();
        match args.mode {
            ModeArg::Train => {
                model.seed_dropout(step as u64);
                let loss = layers::cross_entropy(&model.logits(&x, true)?, &y)?;
                opt.backward_step(&loss)?;
            }
            ModeArg::Pgd => {
                let adv = pgd::attack(&model, &x, &y, &attack, step as u64)?;
                model.seed_dropout(step as u64);
                let loss = layers::cross_entropy(&adv.logits(&model, true)?, &y)?;
                opt.backward_step(&loss)?;
            }
            ModeArg::Eval => {
                let logits = model.logits(&x, false)?;
                layers::argmax(&logits)?;
            }
        }
        // Make sure queued device work is done before stopping the clock.
        device.synchronize()?;
        if step >= args.warmup {
            times.push(start.elapsed().as_secs_f64());
        }
    }
    let total: f64 = times.iter().sum();
    let flops_per_image = match args.mode {
        ModeArg::Train => config.train_step_flops(),
        ModeArg::Pgd => config.pgd_step_flops(attack.steps),
        ModeArg::Eval => config.forward_flops(),
    };
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let threads = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let (peak_gflops, vectors) = fma_peak_gflops(threads);
    let images_per_s = n as f64 / median;
    let gflops = images_per_s * flops_per_image / 1e9;
    let report = serde_json::json!({
        "framework": "dupstudy-cnn (candle 0.11.1)",
        "model": format!("{:?}", args.model),
        "mode": format!("{:?}", args.mode),
        "batch": n,
        "steps": args.steps,
        "warmup": args.warmup,
        "threads": threads,
        "device": args.device,
        "kernels": format!("{:?}", args.kernels),
        "median_step_s": median,
        "images_per_s": images_per_s,
        "total_s": total,
        "total_images_per_s": (n * args.steps) as f64 / total,
        "flops_per_image": flops_per_image,
        "gflops": gflops,
        "peak_gflops": peak_gflops,
        "peak_vectors": vectors,
        "share_of_peak": gflops / peak_gflops,
    });
    println!("{report}");
    Ok(())
}

/// FP32 FMA peak in GFLOP/s on `threads` threads, and the vector extension it used: each
/// thread runs 12 independent chains of fused multiply-adds (enough to cover the FMA units'
/// latency) for a fixed number of rounds; the best of 3 timings counts.
fn fma_peak_gflops(threads: usize) -> (f64, &'static str) {
    const ROUNDS: u64 = 20_000_000;
    let (lanes, name): (u64, &'static str) = vector_width();
    let run = || {
        let start = Instant::now();
        std::thread::scope(|scope| {
            for t in 0..threads.max(1) {
                scope.spawn(move || std::hint::black_box(fma_chains(ROUNDS, t as f32)));
            }
        });
        start.elapsed().as_secs_f64()
    };
    let seconds = (0..3).map(|_| run()).fold(f64::INFINITY, f64::min);
    let flops = threads.max(1) as f64 * ROUNDS as f64 * 12.0 * lanes as f64 * 2.0;
    (flops / seconds / 1e9, name)
}

fn vector_width() -> (u64, &'static str) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return (16, "avx512f");
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return (8, "avx2+fma");
        }
    }
    (1, "scalar")
}

/// `rounds` rounds of 12 independent FMA chains on the widest vectors; returns a value that
/// depends on every chain, so that none is optimized away.
fn fma_chains(rounds: u64, seed: f32) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F (checked just above).
            return unsafe { fma_chains_avx512(rounds, seed) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            return unsafe { fma_chains_avx2(rounds, seed) };
        }
    }
    let mut acc = [seed; 12];
    for _ in 0..rounds {
        for a in &mut acc {
            *a = a.mul_add(0.999_999, 1e-7);
        }
    }
    acc.iter().sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn fma_chains_avx512(rounds: u64, seed: f32) -> f32 {
    use std::arch::x86_64::*;
    let m = _mm512_set1_ps(0.999_999);
    let c = _mm512_set1_ps(1e-7);
    // Distinct starting values, so the compiler cannot merge the chains into one (it may
    // when they are equal, and the peak would then count work never done).
    let mut acc: [__m512; 12] = std::array::from_fn(|i| _mm512_set1_ps(seed + i as f32 * 1e-3));
    for _ in 0..rounds {
        for a in &mut acc {
            *a = _mm512_fmadd_ps(*a, m, c);
        }
    }
    let mut sum = _mm512_setzero_ps();
    for a in acc {
        sum = _mm512_add_ps(sum, a);
    }
    _mm512_reduce_add_ps(sum)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn fma_chains_avx2(rounds: u64, seed: f32) -> f32 {
    use std::arch::x86_64::*;
    let m = _mm256_set1_ps(0.999_999);
    let c = _mm256_set1_ps(1e-7);
    let mut acc: [__m256; 12] = std::array::from_fn(|i| _mm256_set1_ps(seed + i as f32 * 1e-3));
    for _ in 0..rounds {
        for a in &mut acc {
            *a = _mm256_fmadd_ps(*a, m, c);
        }
    }
    let mut sum = _mm256_setzero_ps();
    for a in acc {
        sum = _mm256_add_ps(sum, a);
    }
    let mut lanes = [0f32; 8];
    // SAFETY: `lanes` holds 8 floats, the width of one AVX register.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sum) };
    lanes.iter().sum()
}
