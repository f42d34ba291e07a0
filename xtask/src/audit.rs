//! `cargo xtask audit`: the duplicate audit of a data set, with progress bars.

use std::time::Instant;

use anyhow::{Context, Result};
use dupstudy_audit::{AuditParams, audit, features, images, output, planted, summary};
use indicatif::{ProgressBar, ProgressStyle};

use crate::flags::AuditArgs;

/// The audit's phases drawn as one bar each (hidden when stderr is not a terminal).
struct Bars {
    bar: std::sync::Mutex<Option<ProgressBar>>,
}

impl dupstudy_audit::progress::Progress for Bars {
    fn start(&self, phase: &str, total: u64) {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("{prefix:>28} [{bar:36}] {percent:>3}% ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(phase.to_string());
        *self.bar.lock().unwrap_or_else(|p| p.into_inner()) = Some(bar);
    }
    fn advance(&self, n: u64) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            bar.inc(n);
        }
    }
    fn finish(&self) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|p| p.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}

/// Runs `cargo xtask audit`.
pub fn run(args: &AuditArgs, root: &std::path::Path) -> Result<()> {
    let started = Instant::now();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| root.join("results").join("audit"));
    let params = AuditParams {
        threshold: args.threshold,
        seed: args.seed,
        ..AuditParams::default()
    };
    params.check().context("audit parameters")?;
    let bars = Bars {
        bar: std::sync::Mutex::new(None),
    };
    eprintln!("reading {}", args.data_dir.display());
    let set = images::load(&args.data_dir)
        .with_context(|| format!("reading the data set at {}", args.data_dir.display()))?;
    eprintln!(
        "{} training and {} test images, {}x{}, {} classes",
        set.count(images::Split::Train),
        set.count(images::Split::Test),
        set.width,
        set.height,
        set.class_names.len()
    );
    let f = features::compute(&set);
    let found = audit::run(&set, &f, &params, &bars)?;
    let summary = summary::summarize(&set, &found);
    let validation = if args.validate > 0 {
        eprintln!(
            "validation: {} planted copies per transformation, audited with the data set",
            args.validate
        );
        let mut planted_set = set.clone();
        let copies = planted::plant(&mut planted_set, args.validate, args.seed ^ 0x5EED)?;
        let pf = features::compute(&planted_set);
        let planted_audit = audit::run(&planted_set, &pf, &params, &bars)?;
        Some(planted::validate(
            &planted_set,
            &pf,
            &copies,
            &planted_audit,
            set.len(),
            args.random_pairs,
            args.seed,
        ))
    } else {
        None
    };
    output::write_all(&out, &set, &found, &summary, validation.as_ref())
        .with_context(|| format!("writing the audit to {}", out.display()))?;
    println!(
        "audit of {}: {} duplicate groups; train {} and test {} images in groups; {} test images with a training twin ({} exact); D-rate train {:.3} %, test {:.3} %",
        summary.source,
        summary.groups[0],
        summary.images_in_groups[0],
        summary.images_in_groups[1],
        summary.test_with_train_twin[0],
        summary.test_with_train_twin[1],
        100.0 * summary.d_rate[0],
        100.0 * summary.d_rate[1]
    );
    if let Some(v) = &validation {
        println!(
            "planted copies found: {} of {} ({:.1} %); random same-class pairs above the threshold: {} of {} ({} of them natural duplicates the audit groups)",
            v.total.1,
            v.total.0,
            100.0 * v.total.1 as f64 / v.total.0.max(1) as f64,
            v.random_pairs_above,
            v.random_pairs,
            v.false_pairs_found_by_audit
        );
    }
    println!(
        "wrote {} in {:.1} s",
        out.join("REPORT.md").display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
