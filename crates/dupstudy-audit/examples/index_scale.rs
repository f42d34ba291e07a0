//! The candidate search at scale: `n` synthetic unit feature vectors (default a million,
//! 64 numbers, 1 % of them noisy copies of others), the forest built and every leaf's pairs
//! checked; prints the time, the candidate pairs, the share of planted copies found and the
//! process's peak memory (VmHWM, Linux) as one JSON object.
//!
//! ```sh
//! cargo run --release -p dupstudy-audit --example index_scale -- 1000000
//! ```

use std::time::Instant;

use dupstudy_audit::index::{ForestParams, candidate_pairs, synthetic};

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = match std::env::args().nth(1) {
        Some(text) => text
            .parse()
            .map_err(|_| format!("expected a vector count, got `{text}`"))?,
        None => 1_000_000,
    };
    let dim = 64;
    let vectors = synthetic(n, dim, 0.01, 1);
    let owner: Vec<u32> = (0..n as u32).collect();
    let params = ForestParams::default();
    let start = Instant::now();
    let pairs = candidate_pairs(&vectors, dim, &owner, 0.9, &params, &|| {})?;
    let seconds = start.elapsed().as_secs_f64();
    let copies = (n as f64 * 0.01) as usize;
    let found = (0..copies)
        .filter(|&k| {
            pairs
                .binary_search_by(|p| (p.0, p.1).cmp(&(k as u32, (n - 1 - k) as u32)))
                .is_ok()
        })
        .count();
    println!(
        "{}",
        serde_json::json!({
            "vectors": n, "dim": dim, "trees": params.trees, "leaf": params.leaf,
            "seconds": seconds, "candidate_pairs": pairs.len(),
            "planted_copies": copies, "planted_found": found,
            "peak_rss_mib": peak_rss_mib(),
            "threads": rayon::current_num_threads(),
        })
    );
    Ok(())
}
