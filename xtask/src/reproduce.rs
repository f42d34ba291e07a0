//! `cargo xtask reproduce`: plan, run (resumably) and report the study matrix.

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use dupstudy_dup::Replacement;
use dupstudy_svm::Gamma;
use indicatif::{ProgressBar, ProgressStyle};

use crate::flags::{PolicyName, Profile, ReplacementName, ReproduceArgs, StudyName};
use crate::gaussian;
use crate::manifest::{self, Device, Manifest};
use crate::report::{Report, human_duration};
use crate::results::{CellStore, write_atomic, write_json_atomic};

/// The Gaussian plan of a profile, with the flags' overrides.
pub fn gaussian_plan(profile: Profile, args: &ReproduceArgs) -> Result<gaussian::Plan> {
    let (seeds, test_per_class, d_rates) = match profile {
        Profile::Smoke => (5, 1_000, vec![0.0, 30.0, 60.0, 90.0]),
        Profile::Quick | Profile::Paper | Profile::Full => {
            (100, 10_000, (0..10).map(|k| 10.0 * f64::from(k)).collect())
        }
    };
    let p_plus = args
        .weighted_p_plus
        .clone()
        .unwrap_or_else(|| vec![0.7, 0.8]);
    let names = args
        .policy
        .clone()
        .unwrap_or_else(|| vec![PolicyName::Uniform, PolicyName::Weighted]);
    let mut policies = Vec::new();
    for name in names {
        match name {
            PolicyName::Uniform => policies.push(gaussian::Policy::Uniform),
            PolicyName::Weighted => policies.extend(
                p_plus
                    .iter()
                    .map(|&p| gaussian::Policy::Weighted { p_plus: p }),
            ),
        }
    }
    let gamma = match args.gamma.as_deref() {
        None | Some("auto") => Gamma::Auto,
        Some("scale") => Gamma::Scale,
        Some(text) => Gamma::Value(text.parse().with_context(|| {
            format!("--gamma must be `auto`, `scale` or a number > 0, got `{text}`")
        })?),
    };
    let mut d_rates = args.d_rates.clone().unwrap_or(d_rates);
    d_rates.sort_by(f64::total_cmp);
    d_rates.dedup();
    let plan = gaussian::Plan {
        setting: gaussian::Setting {
            train_per_class: args.train_per_class.unwrap_or(100),
            test_per_class: args.test_per_class.unwrap_or(test_per_class),
            test_seed: 0,
            replacement: match args.replacement.unwrap_or(ReplacementName::With) {
                ReplacementName::With => Replacement::With,
                ReplacementName::Without => Replacement::Without,
            },
            c: args.c.unwrap_or(1.0),
            gamma,
        },
        seeds: args.seeds.unwrap_or(seeds),
        d_rates,
        policies,
    };
    plan.validate()?;
    Ok(plan)
}

fn progress_bar(prefix: &str) -> ProgressBar {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>10} [{bar:40}] {pos}/{len} cells, {elapsed} elapsed, ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_prefix(prefix.to_string());
    bar
}

/// Runs `cargo xtask reproduce`.
pub fn run(args: ReproduceArgs, root: &Path) -> Result<()> {
    let started = Instant::now();
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let profile = args.profile;
    let out: PathBuf = args
        .out
        .clone()
        .unwrap_or_else(|| root.join("results").join(profile.name()));
    let studies: Vec<StudyName> = if args.study.is_empty() {
        vec![StudyName::Gaussian]
    } else {
        args.study.clone()
    };
    if let Some(jobs) = args.jobs {
        if jobs == 0 {
            bail!("--jobs must be at least 1");
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .build_global()
            .context("setting up the worker threads")?;
    }
    // Every plan is built and validated before any work starts.
    let gaussian_plan = if studies.contains(&StudyName::Gaussian) {
        Some(gaussian_plan(profile, &args)?)
    } else {
        None
    };

    println!(
        "dupstudy reproduce — profile `{}`, results in {}",
        profile.name(),
        out.display()
    );
    if let Some(plan) = &gaussian_plan {
        println!(
            "  gaussian: {} cells ({} seeds x [1 original + {} policies x {} D-rates > 0]), {} test points",
            plan.cells().len(),
            plan.seeds,
            plan.policies.len(),
            plan.d_rates.iter().filter(|&&d| d > 0.0).count(),
            2 * plan.setting.test_per_class
        );
    }

    let threads = rayon::current_num_threads();
    let revision = manifest::git_revision(root);
    let mut manifest = Manifest {
        profile: profile.name().to_string(),
        command: std::env::args().collect(),
        git_revision: revision.clone(),
        started_unix,
        wall_seconds: None,
        device: Device {
            cpu: manifest::cpu_model(),
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            threads,
            compute: "cpu".to_string(),
        },
        crates: manifest::crate_versions(root),
        configuration: serde_json::json!({ "gaussian": gaussian_plan }),
        data: serde_json::json!({ "gaussian": "synthetic, drawn from seeded streams" }),
    };
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    write_json_atomic(&out.join("manifest.json"), &manifest)?;

    let mut sections = Vec::new();
    let mut claims = Vec::new();
    let notes = Vec::new();
    if let Some(plan) = &gaussian_plan {
        let dir = gaussian::study_dir(&out);
        let store = CellStore::open(dir.join("cells"))?;
        let bar = progress_bar("gaussian");
        let computed = gaussian::run_cells(plan, &store, &bar)?;
        bar.finish();
        tracing::info!(computed, "gaussian cells done");
        let outcome = gaussian::aggregate(plan, &store, &dir, "gaussian/")?;
        claims.extend(outcome.claims);
        sections.push((
            "Gaussian data and an RBF SVM (paper Section 4.1, Figures 1–2)".to_string(),
            format!(
                "{}\nCompute: {} of cell time over {} cells.\n",
                outcome.report,
                human_duration(outcome.cell_seconds),
                plan.cells().len()
            ),
        ));
    }

    let wall = started.elapsed().as_secs_f64();
    let report = Report {
        profile: profile.name().to_string(),
        revision,
        device: format!("{} ({} threads), CPU", manifest.device.cpu, threads),
        wall_seconds: wall,
        data: vec!["Gaussian study: synthetic data from seeded streams".to_string()],
        notes,
        claims,
        sections,
    };
    let report_path = out.join("REPORT.md");
    write_atomic(&report_path, report.render().as_bytes())?;
    manifest.wall_seconds = Some(wall);
    write_json_atomic(&out.join("manifest.json"), &manifest)?;
    println!(
        "done in {}; report: {}",
        human_duration(wall),
        report_path.display()
    );
    Ok(())
}
