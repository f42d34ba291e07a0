//! Training and evaluation throughput of the paper's networks, for comparison with PyTorch
//! (`scripts/torch_throughput.py` measures the same models, modes and settings).
//!
//! ```sh
//! cargo run --release -p dupstudy-cnn --example throughput -- \
//!     --model standard|adversarial --mode train|pgd|eval [--batch 128] [--steps N] \
//!     [--warmup N] [--threads N] [--device cpu|cuda] [--kernels fast|reference]
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
    /// The fused CPU kernels (the default).
    Fast,
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
    let args = Args::parse();
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
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let threads = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
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
        "images_per_s": n as f64 / median,
        "total_s": total,
        "total_images_per_s": (n * args.steps) as f64 / total,
    });
    println!("{report}");
    Ok(())
}
