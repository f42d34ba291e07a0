//! Fit and predict timings on the paper's 2-D Gaussian problem.
//!
//! - `fit_paper/<n>`: 200 original points plus uniform duplicates (D-rate 0, 45, 90 → n =
//!   200, 290, 380), `C = 1`, `gamma = auto = 0.5`: the fits of the Gaussian study.
//! - `fit_scale/<n>`: balanced data at n = 2,000 and 20,000 (and 100,000 when
//!   `DUPSTUDY_BENCH_LARGE=1`), `C = 1`, `gamma = 0.5`, all cores, as compared with LIBSVM by
//!   `scripts/svm_vs_libsvm.py`.
//! - `predict/20000`: decision values of 20,000 test points from the n = 20,000 model.
//!
//! Inputs are seeded; run with `cargo bench -p dupstudy-svm --bench fit`.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use dupstudy_gauss::{GaussianParams, LabelledPoints};
use dupstudy_svm::{Gamma, SvmParams};
use ndarray::Array2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn paper_data(n_per_class: usize, seed: u64) -> (Array2<f64>, Vec<i32>) {
    let classes = GaussianParams::default()
        .count_per_class(n_per_class)
        .check()
        .unwrap();
    let data: LabelledPoints = classes.sample(&mut ChaCha8Rng::seed_from_u64(seed));
    (data.features().to_owned(), data.labels())
}

fn fit_paper(c: &mut Criterion) {
    let (x, y) = paper_data(100, 1);
    let svm = SvmParams::default()
        .c(1.0)
        .gamma(Gamma::Auto)
        .threads(1)
        .check()
        .unwrap();
    let mut group = c.benchmark_group("fit_paper");
    for extra in [0usize, 90, 180] {
        // Uniform duplicates: every k-th point again (a fixed, seed-free choice).
        let dup: Vec<usize> = (0..extra).map(|i| (i * 7919) % 200).collect();
        let all: Vec<usize> = (0..200).chain(dup).collect();
        let xd = x.select(ndarray::Axis(0), &all);
        let yd: Vec<i32> = all.iter().map(|&i| y[i]).collect();
        group.bench_with_input(
            BenchmarkId::from_parameter(all.len()),
            &(xd, yd),
            |b, (xd, yd)| {
                b.iter(|| svm.fit(xd.view(), yd).unwrap());
            },
        );
    }
    group.finish();
}

fn fit_scale(c: &mut Criterion) {
    let mut sizes = vec![2_000usize, 20_000];
    if std::env::var("DUPSTUDY_BENCH_LARGE").is_ok_and(|v| v == "1") {
        sizes.push(100_000);
    }
    let svm = SvmParams::default()
        .c(1.0)
        .gamma(Gamma::Value(0.5))
        .check()
        .unwrap();
    let mut group = c.benchmark_group("fit_scale");
    group.sample_size(10);
    for n in sizes {
        let (x, y) = paper_data(n / 2, 2);
        group.bench_with_input(BenchmarkId::from_parameter(n), &(x, y), |b, (x, y)| {
            b.iter(|| svm.fit(x.view(), y).unwrap());
        });
    }
    group.finish();
}

fn predict(c: &mut Criterion) {
    let (x, y) = paper_data(10_000, 2);
    let (test, _) = paper_data(10_000, 3);
    let model = SvmParams::default()
        .c(1.0)
        .gamma(Gamma::Value(0.5))
        .check()
        .unwrap()
        .fit(x.view(), &y)
        .unwrap();
    let mut group = c.benchmark_group("predict");
    group.sample_size(10);
    group.bench_function(BenchmarkId::from_parameter(20_000), |b| {
        b.iter(|| model.predict(test.view()).unwrap());
    });
    group.finish();
}

criterion_group!(benches, fit_paper, fit_scale, predict);
criterion_main!(benches);
