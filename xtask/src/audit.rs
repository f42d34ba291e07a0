//! `cargo xtask audit`: the duplicate audit of a data set, with progress bars.

use std::time::Instant;

use anyhow::{Context, Result};
use dupstudy_audit::{AuditParams, audit, features, images, output, planted, summary};
use indicatif::{ProgressBar, ProgressStyle};

use crate::flags::{AuditArgs, AuditRecallArgs};

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
    let bars = Bars {
        bar: std::sync::Mutex::new(None),
    };
    eprintln!("reading {}", args.data_dir.display());
    let set = images::load(&args.data_dir)
        .with_context(|| format!("reading the data set at {}", args.data_dir.display()))?;
    eprintln!(
        "{} training and {} test images, {}x{}, {} classes",
        set.count(images::SplitName::Train),
        set.count(images::SplitName::Test),
        set.width,
        set.height,
        set.class_names.len()
    );
    let learned = if args.no_learned {
        None
    } else if let Some(why) = learned_unsupported(&set) {
        eprintln!(
            "the learned descriptor {why}: pairs are scored by the aligned similarity alone (as with --no-learned)"
        );
        None
    } else {
        let learned = dupstudy_descriptor::LearnedAudit {
            descriptor: dupstudy_descriptor::DescriptorParams {
                epochs: args.descriptor_epochs,
                seed: args.seed,
            },
            ..Default::default()
        };
        learned.check().context("--descriptor-epochs")?;
        Some(learned)
    };
    let threshold = args.threshold.unwrap_or(if learned.is_some() {
        dupstudy_descriptor::LearnedAudit::THRESHOLD
    } else {
        AuditParams::DEFAULT_THRESHOLD
    });
    let params = AuditParams {
        seed: args.seed,
        ..AuditParams::with_threshold(threshold)
    };
    params.check().context("audit parameters")?;
    let f = features::compute(&set);
    let (found, model) = match &learned {
        Some(learned) => {
            let (found, model) =
                dupstudy_descriptor::train_and_audit(&set, &f, &params, learned, &bars)?;
            eprintln!(
                "learned descriptor: {} epochs in {:.1} s",
                learned.descriptor.epochs, found.seconds[0].1
            );
            (found, Some(model))
        }
        None => (audit::run(&set, &f, &params, &bars)?, None),
    };
    let summary = summary::summarize(&set, &found);
    let validation = if args.validate > 0 {
        eprintln!(
            "validation: {} planted copies per transformation, audited with the data set",
            args.validate
        );
        match (&learned, &model) {
            (Some(learned), Some(model)) => Some(dupstudy_descriptor::validate(
                &set,
                model,
                &params,
                learned,
                args.validate,
                args.random_pairs,
                (args.seed ^ 0x5EED, args.seed),
                &bars,
            )?),
            _ => {
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
            }
        }
    } else {
        None
    };
    let recall = labelled_recall(&set, &found, &args.labels, root)?;
    output::write_all(
        &out,
        &set,
        &found,
        &summary,
        validation.as_ref(),
        recall.as_ref(),
    )
    .with_context(|| format!("writing the audit to {}", out.display()))?;
    if let Some(curve) = &recall {
        crate::plot::draw(&out.join(output::RECALL_FIGURE), &recall_figure(curve))?;
        if let Some(p) = curve
            .points
            .iter()
            .find(|p| (p.threshold - params.threshold).abs() < 1e-4)
        {
            println!(
                "recall on ciFAIR's labelled pairs at {:.3}: test->train {:.1} % (development) / {:.1} % (held out), within test {:.1} % / {:.1} %; {} test images flagged",
                p.threshold,
                100.0 * p.test_train[0].recall(),
                100.0 * p.test_train[1].recall(),
                100.0 * p.within_test[0].recall(),
                100.0 * p.within_test[1].recall(),
                p.flagged_test_images
            );
        }
    }
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

/// Why the learned descriptor cannot audit `set`, if it cannot.
fn learned_unsupported(set: &images::ImageSet) -> Option<String> {
    let side = dupstudy_descriptor::SIDE;
    if (set.width, set.height) != (side, side) {
        return Some(format!(
            "takes {side}x{side} images and these are {}x{}",
            set.width, set.height
        ));
    }
    if set.class_names.len() > dupstudy_cifar::N_CLASSES {
        return Some(format!(
            "takes at most {} classes and this set has {}",
            dupstudy_cifar::N_CLASSES,
            set.class_names.len()
        ));
    }
    None
}

/// The recall curve on ciFAIR's labelled pairs when `set` is CIFAR-10 and the lists are
/// at `labels` (relative to the repository root unless it exists as given); `None`
/// otherwise (said on stderr).
fn labelled_recall(
    set: &images::ImageSet,
    found: &audit::Audit,
    labels: &std::path::Path,
    root: &std::path::Path,
) -> Result<Option<dupstudy_audit::labelled::Curve>> {
    use dupstudy_audit::labelled;
    let Some(pairs) = labelled::cifar10_positions(set, &found.pairs) else {
        return Ok(None);
    };
    let dir = if labels.is_relative() && !labels.exists() {
        root.join(labels)
    } else {
        labels.to_path_buf()
    };
    if !dir.is_dir() {
        eprintln!(
            "no labelled lists at {} (--labels): the report has no recall curve",
            dir.display()
        );
        return Ok(None);
    }
    let list = labelled::load(&dir)?;
    let thresholds = labelled::report_thresholds(found.params.threshold);
    Ok(Some(labelled::curve(&list, &pairs, &thresholds)))
}

/// The recall curve drawn: recall against test images flagged, one panel per kind of
/// pair, a line per half.
fn recall_figure(curve: &dupstudy_audit::labelled::Curve) -> dupstudy_study::figure::Figure {
    use dupstudy_study::figure::{BandPoint, Color, Figure, Panel, Series};
    let line = |name: &str,
                k: usize,
                dashed: bool,
                count: &dyn Fn(
        &dupstudy_audit::labelled::Point,
    ) -> dupstudy_audit::labelled::Count| {
        let mut points: Vec<BandPoint> = curve
            .points
            .iter()
            .map(|p| {
                let c = count(p);
                let (low, high) = dupstudy_metrics::wilson_95(c.found, c.labelled);
                BandPoint {
                    x: p.flagged_test_images as f64,
                    mean: 100.0 * c.recall(),
                    low: 100.0 * low,
                    high: 100.0 * high,
                }
            })
            .collect();
        points.sort_by(|a, b| a.x.total_cmp(&b.x));
        Series {
            name: name.to_string(),
            points,
            color: Color::Palette(k),
            dashed,
        }
    };
    let panel = |title: &str, kind: usize| Panel {
        title: title.to_string(),
        x_label: "test images flagged (of 10,000)".into(),
        y_label: "labelled pairs found (%)".into(),
        y_range: Some((0.0, 100.0)),
        series: vec![
            line("development", 0, false, &|p| {
                if kind == 0 {
                    p.test_train[0]
                } else {
                    p.within_test[0]
                }
            }),
            line("held out", 1, true, &|p| {
                if kind == 0 {
                    p.test_train[1]
                } else {
                    p.within_test[1]
                }
            }),
        ],
    };
    Figure::Lines {
        caption: "Recall on ciFAIR's labelled CIFAR-10 near-duplicates, threshold from 0.98 down (95 % Wilson bands)".into(),
        panels: vec![panel("test -> training pairs", 0), panel("within-test pairs", 1)],
    }
}

/// Runs `cargo xtask audit-recall`: a table of recall on ciFAIR's labelled pairs by
/// threshold, per half, with the test images flagged.
pub fn recall(args: &AuditRecallArgs, root: &std::path::Path) -> Result<()> {
    use dupstudy_audit::labelled;
    let at_root = |p: &std::path::Path| {
        if p.is_relative() && !p.exists() {
            root.join(p)
        } else {
            p.to_path_buf()
        }
    };
    if args.exact_candidates {
        return recall_of_exact_candidates(args, &at_root);
    }
    let (pairs_path, labels_dir) = (at_root(&args.pairs), at_root(&args.labels));
    let text = std::fs::read_to_string(&pairs_path)
        .with_context(|| format!("reading {}", pairs_path.display()))?;
    let pairs = labelled::pairs_from_csv(&text, &pairs_path)?;
    let labels = labelled::load(&labels_dir)?;
    let thresholds: Vec<f32> = if args.thresholds.is_empty() {
        let lowest = pairs.iter().map(|p| p.score).fold(1.0f32, f32::min);
        let mut t = (lowest * 50.0).ceil() / 50.0;
        let mut all = Vec::new();
        while t <= 1.0 + 1e-6 {
            all.push(t);
            t += 0.02;
        }
        all
    } else {
        args.thresholds.clone()
    };
    if let Some(bad) = thresholds.iter().find(|t| !(**t > 0.0 && **t <= 1.0)) {
        anyhow::bail!("--thresholds: {bad} is outside (0, 1]");
    }
    println!(
        "recall of {} on ciFAIR's labelled CIFAR-10 near-duplicates ({} pairs); development = test indices below {}",
        pairs_path.display(),
        labels.len(),
        labelled::DEVELOPMENT_BELOW
    );
    println!(
        "| threshold | test->train, development | test->train, held out | within test, development | within test, held out | test images flagged | flagged, not in the list |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    // One pass over the thresholds (ascending) for both tables.
    let curve = labelled::curve(&labels, &pairs, &thresholds);
    for (p, unlisted) in curve.points.iter().zip(&curve.unlisted) {
        println!(
            "| {:.3} | {} | {} | {} | {} | {} | {unlisted} |",
            p.threshold,
            p.test_train[0],
            p.test_train[1],
            p.within_test[0],
            p.within_test[1],
            p.flagged_test_images,
        );
    }
    // No threshold is the audit's here, so none is set in bold.
    print!("{}", labelled::same_shot_markdown(&curve, f32::NAN));
    // Split by ciFAIR's distance at the thresholds asked for (the grid's lowest otherwise).
    let banded: Vec<f32> = if args.thresholds.is_empty() {
        curve
            .points
            .first()
            .map(|p| p.threshold)
            .into_iter()
            .collect()
    } else {
        curve.points.iter().map(|p| p.threshold).collect()
    };
    print!(
        "{}",
        labelled::by_distance_markdown(&labels, &pairs, &banded)
    );
    match labelled::chosen_on_development(&labels, &pairs, labelled::DEVELOPMENT_BUDGET) {
        Some(p) => println!(
            "\nthe development-half rule (the lowest threshold on a grid of 0.005 with at most {} development test images flagged): {:.3}, {} development and {} held-out test images flagged; test->train recall {} (development), {} (held out); within test {}, {}",
            labelled::DEVELOPMENT_BUDGET,
            p.threshold,
            p.flagged_by_half[0],
            p.flagged_by_half[1],
            p.test_train[0],
            p.test_train[1],
            p.within_test[0],
            p.within_test[1],
        ),
        None => println!("\nthe development-half rule: even 1.0 flags too many"),
    }
    let lowest = thresholds.iter().copied().fold(1.0f32, f32::min);
    let unlisted = labelled::unlisted(&labels, &pairs, lowest);
    println!(
        "\nflagged, not in the list: test images with a direct pair to a training image at or above the threshold that the list names no training partner for ({} at {lowest:.3}; development half {}, held out {})",
        unlisted.len(),
        unlisted
            .iter()
            .filter(|u| u.test < labelled::DEVELOPMENT_BELOW)
            .count(),
        unlisted
            .iter()
            .filter(|u| u.test >= labelled::DEVELOPMENT_BELOW)
            .count(),
    );
    if let (Some(sheet), Some(dir)) = (&args.unlisted_sheet, &args.data_dir) {
        let set = load_cifar10(&at_root(dir), dir)?;
        write_unlisted_sheet(&set, &unlisted, sheet, "")?;
    }
    if let Some(judged_path) = &args.judged {
        let judged_path = at_root(judged_path);
        let text = std::fs::read_to_string(&judged_path)
            .with_context(|| format!("reading {}", judged_path.display()))?;
        let judged = labelled::judged_from_csv(&text, &judged_path)?;
        print_judged(&labels, &pairs, &judged, &thresholds, &judged_path);
        if let Some(cells) = &args.natural_cells {
            print_known_twins(&labels, &judged, &at_root(cells))?;
        }
    }
    Ok(())
}

/// `cargo xtask audit-recall --exact-candidates`: recall at budgets of flagged test images,
/// each test image's exact thumbnail neighbours aligned, under each scoring.
fn recall_of_exact_candidates(
    args: &AuditRecallArgs,
    at_root: &dyn Fn(&std::path::Path) -> std::path::PathBuf,
) -> Result<()> {
    use dupstudy_audit::labelled::{self, Scoring};
    let dir = args
        .data_dir
        .as_ref()
        .context("--exact-candidates needs --data-dir")?;
    anyhow::ensure!(
        args.k_train >= 1,
        "--k-train {}: must be at least 1",
        args.k_train
    );
    let started = Instant::now();
    let labels = labelled::load(&at_root(&args.labels))?;
    let set = load_cifar10(&at_root(dir), dir)?;
    let f = features::compute(&set);
    let mut candidates = labelled::test_candidates(&set, &f, args.k_train, args.k_test);
    println!(
        "exact candidates: {} training and {} test neighbours of each test image by 16x16 thumbnail, {} pairs aligned in {:.1} s",
        args.k_train,
        args.k_test,
        candidates.len(),
        started.elapsed().as_secs_f64()
    );
    let mut scorings = Scoring::ALL.to_vec();
    if let Some(epochs) = args.learned_epochs {
        scorings.push(learned_scoring(&set, &f, &labels, &mut candidates, epochs)?);
    }
    println!(
        "| score | budget | threshold | test->train, development | test->train, held out | within test, development | within test, held out | test images flagged | flagged, not in the list | of them across classes |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut sheet_of = None;
    for scoring in scorings {
        let pairs: Vec<_> = candidates.iter().map(|c| c.pair(scoring)).collect();
        for budget in [250, 350, 450, 600, 800] {
            let Some(p) = labelled::at_budget(&labels, &pairs, budget) else {
                continue;
            };
            let unlisted = labelled::unlisted(&labels, &pairs, p.threshold);
            let class = |i: usize| set.info[i].class;
            let across = unlisted
                .iter()
                .filter(|u| class(labelled::TRAIN_IMAGES + u.test) != class(u.train))
                .count();
            println!(
                "| {} | {budget} | {:.3} | {} | {} | {} | {} | {} | {} | {across} |",
                match scoring {
                    Scoring::Learned(weight) => format!("learned (weight {weight})"),
                    other => other.name().to_string(),
                },
                p.threshold,
                p.test_train[0],
                p.test_train[1],
                p.within_test[0],
                p.within_test[1],
                p.flagged_test_images,
                unlisted.len()
            );
            if (scoring, budget) == (Scoring::Fused, 450) {
                sheet_of = Some(unlisted);
            }
        }
    }
    if let (Some(sheet), Some(unlisted)) = (&args.unlisted_sheet, sheet_of) {
        write_unlisted_sheet(&set, &unlisted, sheet, "fused score, budget 450: ")?;
    }
    Ok(())
}

/// Weights of the aligned similarity the learned score's rule chooses among
/// ([`dupstudy_audit::labelled::chosen_weight`]).
const LEARNED_WEIGHTS: [f32; 9] = [1.0, 0.5, 0.4, 0.3, 0.25, 0.2, 0.15, 0.1, 0.0];
/// Nearest training and test images by the learned descriptor added to each test image's
/// candidates.
const LEARNED_NEIGHBOURS: (usize, usize) = (20, 10);
/// Planted copies per transformation the learned score's recall of copies is measured on.
const LEARNED_PLANTED: usize = 200;
/// Random same-class pairs the learned score's false-pair rate is measured on.
const LEARNED_RANDOM_PAIRS: usize = 200_000;

/// Learns the descriptor, adds its neighbours to `candidates`, sets every candidate's
/// learned similarity, chooses the weight on the development half and prints the choice
/// and its false pairs; returns the chosen scoring.
fn learned_scoring(
    set: &images::ImageSet,
    f: &features::Features,
    labels: &[dupstudy_audit::labelled::Labelled],
    candidates: &mut Vec<dupstudy_audit::labelled::Candidate>,
    epochs: u64,
) -> Result<dupstudy_audit::labelled::Scoring> {
    use dupstudy_audit::labelled::{self, Scoring};
    use rayon::prelude::*;
    let clock = Instant::now();
    let bars = Bars {
        bar: std::sync::Mutex::new(None),
    };
    let params = dupstudy_descriptor::DescriptorParams {
        epochs,
        ..Default::default()
    };
    // Planted copies join the training images the descriptor learns from, as in the
    // audit's validation; the candidates stay among the originals.
    let mut with_copies = set.clone();
    let copies = planted::plant(&mut with_copies, LEARNED_PLANTED, 0)?;
    let d = dupstudy_descriptor::learn(&with_copies, &params, &bars)?;
    let learned_s = clock.elapsed().as_secs_f64();
    let of = |split: images::SplitName| -> Vec<usize> {
        (0..set.len())
            .filter(|&i| set.info[i].split == split)
            .collect()
    };
    let (train, test) = (of(images::SplitName::Train), of(images::SplitName::Test));
    let (k_train, k_test) = LEARNED_NEIGHBOURS;
    let wanted: Vec<(usize, usize)> = d
        .nearest(&test, &train, k_train)
        .into_iter()
        .chain(d.nearest(&test, &test, k_test))
        .zip(test.iter().chain(&test))
        .flat_map(|(neighbours, &q)| neighbours.into_iter().map(move |n| (q, n.index)))
        .collect();
    let before = candidates.len();
    labelled::add_candidates(set, f, candidates, &wanted);
    labelled::set_learned(candidates, &|a, b| d.similarity(a, b));
    println!(
        "learned descriptor: {epochs} epochs trained and {} images embedded in {learned_s:.1} s; its {k_train} training and {k_test} test neighbours of each test image add {} candidates ({:.1} s in all)",
        set.len(),
        candidates.len() - before,
        clock.elapsed().as_secs_f64()
    );
    let (weight, point) = labelled::chosen_weight(labels, candidates, &LEARNED_WEIGHTS)
        .context("no weight of the learned score keeps the development half within its budget")?;
    let random = planted::random_same_class_pairs(set, set.len(), LEARNED_RANDOM_PAIRS, 0);
    let above = random
        .par_iter()
        .filter(|&&(a, b)| {
            let c = labelled::Candidate {
                test: a,
                other: b,
                thumbnail: 0.0,
                aligned: features::align(f, a, b, -1.0).score,
                learned: Some(d.similarity(a, b)),
            };
            c.score(Scoring::Learned(weight)) >= point.threshold
        })
        .count();
    let planted_found: Vec<(planted::Transform, bool)> = copies
        .par_iter()
        .map(|p| {
            let view =
                |i: usize| features::OwnedView::of(with_copies.image(i), set.width, set.height);
            let (a, b) = (view(p.source), view(p.copy));
            let c = labelled::Candidate {
                test: p.copy,
                other: p.source,
                thumbnail: 0.0,
                aligned: features::align_views(a.view(), b.view(), None, -1.0).score,
                learned: Some(d.similarity(p.source, p.copy)),
            };
            (
                p.transform,
                c.score(Scoring::Learned(weight)) >= point.threshold,
            )
        })
        .collect();
    let per_transform: Vec<String> = planted::Transform::ALL
        .iter()
        .map(|&t| {
            let found = planted_found.iter().filter(|&&(u, f)| u == t && f).count();
            format!("{} {found}", t.name())
        })
        .collect();
    println!(
        "planted copies at the learned score's threshold: {}/{} ({})",
        planted_found.iter().filter(|p| p.1).count(),
        copies.len(),
        per_transform.join(", ")
    );
    println!(
        "learned score: weight {weight} of the aligned similarity, threshold {:.3}, chosen on the development half ({} development test images flagged, test->train {} there); held out: test->train {}, within test {}; {above} of {} random same-class pairs at or above the threshold",
        point.threshold,
        point.flagged_by_half[0],
        point.test_train[0],
        point.test_train[1],
        point.within_test[1],
        random.len()
    );
    Ok(Scoring::Learned(weight))
}

/// CIFAR-10 read from `path` (`dir` as the user gave it, for messages), checked to hold its
/// 50,000 training and 10,000 test images (the labelled lists' indices).
fn load_cifar10(path: &std::path::Path, dir: &std::path::Path) -> Result<images::ImageSet> {
    use dupstudy_audit::labelled::TRAIN_IMAGES;
    let set =
        images::load(path).with_context(|| format!("reading the data set at {}", dir.display()))?;
    anyhow::ensure!(
        set.count(images::SplitName::Train) == TRAIN_IMAGES
            && set.count(images::SplitName::Test) == 10_000,
        "--data-dir {}: expected CIFAR-10's 50000 training and 10000 test images",
        dir.display()
    );
    Ok(set)
}

/// The judgments of the unlisted test images at each threshold, and how many test images
/// have a training partner in the list or one judged the same photo, against the goal's
/// budget of flagged test images.
fn print_judged(
    labels: &[dupstudy_audit::labelled::Labelled],
    pairs: &[dupstudy_audit::audit::Pair],
    judged: &[dupstudy_audit::labelled::Judged],
    thresholds: &[f32],
    file: &std::path::Path,
) {
    use dupstudy_audit::labelled;
    let listed = labelled::listed_test_images(labels);
    println!(
        "\nthe unlisted test images as judged in {} ({} judgments; a judgment counts for the pair it was made on): each threshold's unlisted flagged test images, and the test images with a listed training partner ({listed}) or one judged the same photo, against the budget of {}",
        file.display(),
        judged.len(),
        2 * labelled::DEVELOPMENT_BUDGET,
    );
    println!(
        "| threshold | unlisted test images flagged | same photo | unsure | different | not judged | listed + same photo |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let mut sorted = thresholds.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    for t in sorted {
        let c = labelled::judged_at(labels, pairs, judged, t);
        println!(
            "| {t:.3} | {} | {} | {} | {} | {} | {} |",
            c.unlisted,
            c.same_photo,
            c.unsure,
            c.different,
            c.not_judged,
            listed + c.same_photo
        );
    }
}

/// The natural-duplicates study's model (a) recounted with every known twin: the test
/// images its partition flags, those the list names a training partner for and those judged
/// the same photo as a training image. What the leakage (N-leak's measure: whole test minus
/// test without twins) becomes when the twins the partition missed leave the "without
/// twins" set too; a reading after the run, not a verdict.
fn print_known_twins(
    labels: &[dupstudy_audit::labelled::Labelled],
    judged: &[dupstudy_audit::labelled::Judged],
    cells: &std::path::Path,
) -> Result<()> {
    use dupstudy_audit::labelled::Judgment;
    use dupstudy_study::studies::natural::twins::PerImage;
    let mut known: std::collections::BTreeSet<usize> = labels
        .iter()
        .filter(|l| !l.within_test)
        .map(|l| l.test)
        .collect();
    known.extend(
        judged
            .iter()
            .filter(|j| j.judgment == Judgment::SamePhoto)
            .map(|j| j.test),
    );
    let mut rows = Vec::new();
    let entries =
        std::fs::read_dir(cells).with_context(|| format!("reading {}", cells.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let not_a_cell = || format!("{}: not a natural-duplicates cell record", path.display());
        let cell: serde_json::Value = serde_json::from_str(&text).with_context(not_a_cell)?;
        let (Some(arm), Some(seed)) = (cell["spec"]["arm"].as_str(), cell["spec"]["seed"].as_u64())
        else {
            anyhow::bail!("{} (no spec.arm and spec.seed)", not_a_cell());
        };
        if arm != "full" {
            continue;
        }
        if cell["per_image"].is_null() {
            anyhow::bail!("{}: the cell keeps no per-image results", path.display());
        }
        let per_image: PerImage =
            serde_json::from_value(cell["per_image"].clone()).with_context(not_a_cell)?;
        let n = per_image.correct.len() * 4;
        let correct: Vec<bool> = (0..n)
            .map(|i| per_image.is_correct(i))
            .collect::<Option<_>>()
            .with_context(|| format!("{}: per_image.correct is not hexadecimal", path.display()))?;
        let n = per_image.labels.len().min(n);
        let twins: std::collections::BTreeSet<usize> = per_image.twins.iter().copied().collect();
        let every: std::collections::BTreeSet<usize> = twins.union(&known).copied().collect();
        let accuracy = |keep: &dyn Fn(usize) -> bool| {
            let (hits, all) = (0..n)
                .filter(|&i| keep(i))
                .fold((0usize, 0usize), |(h, a), i| {
                    (h + usize::from(correct[i]), a + 1)
                });
            100.0 * hits as f64 / all.max(1) as f64
        };
        let whole = accuracy(&|_| true);
        rows.push((
            seed,
            [
                whole,
                whole - accuracy(&|i| !twins.contains(&i)),
                whole - accuracy(&|i| !every.contains(&i)),
                accuracy(&|i| twins.contains(&i)),
                accuracy(&|i| every.contains(&i) && !twins.contains(&i)),
                accuracy(&|i| !every.contains(&i)),
            ],
            twins.len(),
            every.len(),
        ));
    }
    if rows.is_empty() {
        anyhow::bail!("{}: no cell records of arm (a), full", cells.display());
    }
    rows.sort_by_key(|r| r.0);
    let (twins, every) = (rows[0].2, rows[0].3);
    println!(
        "\nthe natural-duplicates study's model (a) ({}), recounted with every known twin: the partition's {twins} twins, the test images the list names a training partner for and those judged the same photo, {every} in all ({} the partition does not flag); accuracy in %, leakage in points (whole test minus the test without those twins)",
        cells.display(),
        every - twins,
    );
    println!(
        "| seed | whole test | leakage, the partition's twins | leakage, every known twin | accuracy: the partition's twins | the known twins it does not flag | the rest |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for (seed, v, ..) in &rows {
        println!(
            "| {seed} | {:.2} | {:+.2} | {:+.2} | {:.2} | {:.2} | {:.2} |",
            v[0], v[1], v[2], v[3], v[4], v[5]
        );
    }
    let summary = |k: usize| -> Result<String> {
        let values: Vec<f64> = rows.iter().map(|r| r.1[k]).collect();
        let s = dupstudy_metrics::Summary::of(&values)?;
        Ok(format!(
            "{:.2} [{:.2}, {:.2}]",
            s.mean,
            s.ci_low(),
            s.ci_high()
        ))
    };
    println!(
        "| mean [95 % t interval over seeds] | {} | {} | {} | {} | {} | {} |",
        summary(0)?,
        summary(1)?,
        summary(2)?,
        summary(3)?,
        summary(4)?,
        summary(5)?
    );
    let gap: Vec<f64> = rows.iter().map(|r| r.1[2] - r.1[1]).collect();
    let s = dupstudy_metrics::Summary::of(&gap)?;
    println!(
        "leakage with every known twin minus with the partition's: {:+.2} [{:+.2}, {:+.2}] points",
        s.mean,
        s.ci_low(),
        s.ci_high()
    );
    Ok(())
}

/// Draws each unlisted test image beside its training partner into `sheet` and lists them.
fn write_unlisted_sheet(
    set: &images::ImageSet,
    unlisted: &[dupstudy_audit::labelled::Unlisted],
    sheet: &std::path::Path,
    what: &str,
) -> Result<()> {
    let shown: Vec<(usize, usize)> = unlisted
        .iter()
        .map(|u| (dupstudy_audit::labelled::TRAIN_IMAGES + u.test, u.train))
        .collect();
    let png = output::contact_sheet(set, &shown, 2)?;
    output::write_atomic(sheet, &png)?;
    println!(
        "wrote {} ({what}test image left, training partner right, highest score first):",
        sheet.display()
    );
    for (k, u) in unlisted.iter().enumerate() {
        println!(
            "{}. test {} — train {}: {:.3}",
            k + 1,
            u.test,
            u.train,
            u.score
        );
    }
    Ok(())
}
