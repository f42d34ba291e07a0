//! The candidate search on a million synthetic feature vectors (64 numbers, unit length,
//! with 1 % planted close pairs): time of `candidate_pairs`. Its memory is reported by the
//! `index_scale` example (peak RSS), which runs the same search once.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use dupstudy_audit::index::{ForestParams, candidate_pairs};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("candidate_search");
    group.sample_size(10);
    for n in [100_000usize, 1_000_000] {
        let vectors = dupstudy_audit::index::synthetic(n, 64, 0.01, 1);
        let owner: Vec<u32> = (0..n as u32).collect();
        group.bench_function(format!("{n}"), |b| {
            b.iter(|| {
                candidate_pairs(&vectors, 64, &owner, 0.9, &ForestParams::default(), &|| {})
                    .unwrap()
                    .len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
