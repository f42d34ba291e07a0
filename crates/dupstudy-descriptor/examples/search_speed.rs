//! Times the exact descriptor search the learned audit runs (every image against every
//! other, each keeping its 20 nearest): `cargo run --release -p dupstudy-descriptor
//! --example search_speed -- [N] [DIM]` (defaults 20,000 and 256, the audit's width).
//! Prints the seconds and the multiply-adds per second.

use dupstudy_descriptor::Descriptors;
use rand::{Rng, SeedableRng};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(Ok(20_000), |a| a.parse())?;
    let dim: usize = args.next().map_or(Ok(256), |a| a.parse())?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    // Non-negative rows, as a ReLU layer gives: similarities crowd near the floor.
    let rows: Vec<f32> = (0..n * dim).map(|_| rng.random_range(0.0..1.0)).collect();
    let d = Descriptors::from_rows(dim, rows)?;
    let clock = std::time::Instant::now();
    let pairs = d.candidates(20, 0.0);
    let seconds = clock.elapsed().as_secs_f64();
    let madds = (n * n * dim) as f64;
    println!(
        "{n} descriptors of {dim}: {} candidate pairs in {seconds:.2} s ({:.1} G multiply-adds/s, {:.1} GFLOP/s) on {} threads",
        pairs.len(),
        madds / seconds / 1e9,
        2.0 * madds / seconds / 1e9,
        rayon::current_num_threads()
    );
    Ok(())
}
