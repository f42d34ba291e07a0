//! `cargo xtask reproduce`, `plan` and `run-cell`: plan the study matrix, run it (resumably,
//! by any number of workers sharing one results folder) and report.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use candle_core::Device;
use dupstudy_cifar::{Cifar10, CifarError};
use dupstudy_cnn::PgdConfig;
use dupstudy_dup::Replacement;
use dupstudy_svm::Gamma;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cifar_study::{self, Network, PlanRequest, Variant};
use crate::flags::{PolicyName, Profile, ReplacementName, ReproduceArgs, RunCellArgs, StudyName};
use crate::gaussian;
use crate::manifest::{self, Device as DeviceInfo, Manifest};
use crate::report::{Report, human_duration};
use crate::results::{CellStore, config_hash, write_atomic, write_json_atomic};

/// Content SHA-256 (labels then pixels, training then test) of the JPEG-derived stand-in in
/// `../shared/cifar-10-jpeg`, to say in reports which data a run used.
const STAND_IN_CONTENT_SHA256: &str =
    "b9669b2b6cbc111eefa445c166c002bfd6cea10b31e001840dc1e7be22fc41f1";

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

/// A profile's defaults for one CIFAR study.
struct CifarProfile {
    /// Training images in the base.
    base: usize,
    /// Test images for clean accuracy.
    test: usize,
    /// Test images attacked for robust accuracy.
    robust: usize,
    /// Epochs.
    epochs: u64,
    /// Batch size.
    batch: usize,
    /// Seeds of the main series.
    seeds: u64,
    /// D-rates of the main series.
    d_rates: Vec<f64>,
    /// Other series: variant, D-rates, seeds.
    extra: Vec<(Variant, Vec<f64>, u64)>,
    /// PGD steps of adversarial training.
    attack_steps: usize,
}

/// The CIFAR plan of a profile for one network, with the flags' overrides.
pub fn cifar_request(
    profile: Profile,
    network: Network,
    args: &ReproduceArgs,
    data_sha256: &str,
) -> PlanRequest {
    let all: Vec<f64> = (0..10).map(|k| 10.0 * f64::from(k)).collect();
    let weighted = Variant::ClassWeighted {
        favoured_share: 0.7,
    };
    let madry = PgdConfig::madry();
    let series = |d: &[f64]| d.to_vec();
    let p = match (profile, network) {
        (Profile::Smoke, Network::Standard) => CifarProfile {
            base: 256,
            test: 256,
            robust: 0,
            epochs: 2,
            batch: 64,
            seeds: 1,
            d_rates: series(&[0.0, 50.0]),
            extra: vec![
                (Variant::NotebookCopies, series(&[30.0]), 1),
                (Variant::EqualSteps, series(&[50.0]), 1),
                (Variant::FreshData, series(&[50.0]), 1),
                (weighted, series(&[50.0]), 1),
            ],
            attack_steps: 0,
        },
        (Profile::Smoke, Network::Adversarial) => CifarProfile {
            base: 128,
            test: 128,
            robust: 64,
            epochs: 2,
            batch: 64,
            seeds: 1,
            d_rates: series(&[0.0, 50.0]),
            extra: vec![(Variant::PaperAttack, series(&[0.0, 50.0]), 1)],
            attack_steps: 2,
        },
        (Profile::Quick, Network::Standard) => CifarProfile {
            base: 12_000,
            test: 10_000,
            robust: 0,
            epochs: 8,
            batch: 128,
            seeds: 3,
            d_rates: series(&[0.0, 30.0, 60.0, 90.0]),
            extra: vec![
                (Variant::NotebookCopies, series(&[30.0, 60.0]), 1),
                (Variant::EqualSteps, series(&[30.0, 60.0, 90.0]), 3),
                (Variant::FreshData, series(&[30.0, 60.0, 90.0]), 3),
                (weighted, series(&[30.0, 60.0, 90.0]), 3),
            ],
            attack_steps: 0,
        },
        (Profile::Quick, Network::Adversarial) => CifarProfile {
            base: 4_000,
            test: 10_000,
            robust: 2_000,
            epochs: 5,
            batch: 128,
            seeds: 2,
            d_rates: series(&[0.0, 30.0, 60.0]),
            extra: vec![(Variant::PaperAttack, series(&[0.0, 30.0, 60.0]), 1)],
            attack_steps: 10,
        },
        (Profile::Paper, Network::Standard) => CifarProfile {
            base: 50_000,
            test: 10_000,
            robust: 0,
            epochs: 30,
            batch: 128,
            seeds: 1,
            d_rates: all.clone(),
            extra: vec![(Variant::NotebookCopies, series(&[10.0, 30.0, 60.0]), 1)],
            attack_steps: 0,
        },
        (Profile::Paper, Network::Adversarial) => CifarProfile {
            base: 50_000,
            test: 10_000,
            robust: 10_000,
            epochs: 30,
            batch: 128,
            seeds: 1,
            d_rates: all.clone(),
            extra: vec![(Variant::PaperAttack, series(&[0.0, 30.0, 60.0]), 1)],
            attack_steps: 10,
        },
        (Profile::Full, network) => CifarProfile {
            base: 25_000,
            test: 10_000,
            robust: if network == Network::Adversarial {
                10_000
            } else {
                0
            },
            epochs: 30,
            batch: 128,
            seeds: 3,
            d_rates: all.clone(),
            extra: vec![
                if network == Network::Standard {
                    (Variant::NotebookCopies, series(&[10.0, 30.0, 60.0]), 3)
                } else {
                    (Variant::PaperAttack, series(&[0.0, 30.0, 60.0]), 3)
                },
                (Variant::EqualSteps, all[1..].to_vec(), 3),
                (Variant::FreshData, all[1..].to_vec(), 3),
                (weighted, all[1..].to_vec(), 3),
            ],
            attack_steps: if network == Network::Adversarial {
                10
            } else {
                0
            },
        },
    };
    let CifarProfile {
        base,
        test,
        robust,
        epochs,
        batch,
        seeds,
        d_rates,
        extra,
        attack_steps,
    } = p;
    let seeds = args.seeds.unwrap_or(seeds);
    let extra = extra
        .into_iter()
        .map(|(v, d, s)| {
            (
                v,
                args.d_rates
                    .clone()
                    .map(|d| {
                        d.into_iter()
                            .filter(|&x| x > 0.0 || v == Variant::PaperAttack)
                            .collect()
                    })
                    .unwrap_or(d),
                if args.seeds.is_some() { seeds } else { s },
            )
        })
        .collect();
    let attack = |steps: usize| PgdConfig { steps, ..madry };
    PlanRequest {
        setting: cifar_study::Setting {
            network,
            base_images: args.train_subset.unwrap_or(base),
            test_images: test,
            robust_test_images: robust,
            epochs: args.epochs.unwrap_or(epochs),
            batch_size: batch,
            train_attack: (network == Network::Adversarial).then(|| attack(attack_steps)),
            eval_attack: (network == Network::Adversarial)
                .then(|| attack(if profile == Profile::Smoke { 3 } else { 10 })),
            data_sha256: data_sha256.to_string(),
        },
        seeds,
        d_rates: args.d_rates.clone().unwrap_or(d_rates),
        extra,
    }
}

/// Every plan of one invocation; this is what `plan.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plans {
    /// Profile name.
    pub profile: String,
    /// The Gaussian study, if selected.
    pub gaussian: Option<gaussian::Plan>,
    /// The CIFAR studies selected.
    pub cifar: Vec<cifar_study::Plan>,
    /// What the CIFAR studies could not run, and why.
    pub skipped: Vec<String>,
}

impl Plans {
    /// The id of the Gaussian study as one schedulable unit (its cells take milliseconds).
    fn gaussian_unit(&self) -> Result<Option<String>> {
        self.gaussian
            .as_ref()
            .map(|p| Ok(format!("gaussian-study-{}", config_hash(p)?)))
            .transpose()
    }

    /// Every work unit id: the Gaussian study, then each CIFAR cell.
    pub fn unit_ids(&self) -> Result<Vec<String>> {
        let mut ids: Vec<String> = self.gaussian_unit()?.into_iter().collect();
        for plan in &self.cifar {
            for cell in &plan.cells {
                ids.push(cell.id()?);
            }
        }
        Ok(ids)
    }
}

/// The data set and how the report names it.
pub struct DataSet {
    /// The data.
    pub data: Arc<Cifar10>,
    /// Content SHA-256.
    pub sha256: String,
    /// One line for the report.
    pub description: String,
}

fn content_sha256(data: &Cifar10) -> String {
    let mut hasher = Sha256::new();
    hasher.update(data.labels());
    hasher.update(data.pixels());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Finds CIFAR-10 (fetching it when it is simply absent and downloads are allowed).
/// `Ok(Err(reason))` when it is unavailable and the CIFAR studies must be skipped.
pub fn find_data(
    explicit: Option<&Path>,
    root: &Path,
    offline: bool,
) -> Result<std::result::Result<DataSet, String>> {
    let path = match dupstudy_cifar::locate(explicit, root) {
        Ok(path) => path,
        Err(CifarError::NotFound { tried }) => {
            let how = format!(
                "CIFAR-10 is not available (looked in: {tried}). Get it with `cargo xtask fetch-cifar` (downloads {} and checks its MD5), or point --data-dir or CIFAR10_DIR at a cifar-10-batches-bin folder or the archive",
                dupstudy_cifar::fetch::ArchiveSource::official().url
            );
            if offline {
                return Ok(Err(format!(
                    "{how}; --offline was given, so no download was tried"
                )));
            }
            println!(
                "CIFAR-10 not found; downloading it into {} ...",
                root.join("data").display()
            );
            match dupstudy_cifar::fetch::fetch(
                &dupstudy_cifar::fetch::ArchiveSource::official(),
                &root.join("data"),
                3,
            ) {
                Ok(folder) => folder,
                Err(e) => return Ok(Err(format!("{how}. The automatic download failed: {e}"))),
            }
        }
        Err(e) => return Err(e.into()),
    };
    let data = dupstudy_cifar::load(&path)
        .with_context(|| format!("reading CIFAR-10 from {}", path.display()))?;
    let sha256 = content_sha256(&data);
    let description = if sha256 == STAND_IN_CONTENT_SHA256 {
        format!(
            "CIFAR-10 **JPEG-derived stand-in** from {} (official labels and order, pixels recompressed as JPEG, ~30 dB PSNR; see its SOURCE.md): numbers are close to, not the same as, results on the original data",
            path.display()
        )
    } else {
        format!(
            "CIFAR-10 from {} (not the JPEG stand-in; content SHA-256 {sha256})",
            path.display()
        )
    };
    Ok(Ok(DataSet {
        data: Arc::new(data),
        sha256,
        description,
    }))
}

/// Builds and validates every plan of an invocation before any work starts.
pub fn build_plans(args: &ReproduceArgs, root: &Path) -> Result<(Plans, Option<DataSet>)> {
    let profile = args.profile;
    let studies: Vec<StudyName> = if args.study.is_empty() {
        StudyName::ALL.to_vec()
    } else {
        args.study.clone()
    };
    let gaussian = studies
        .contains(&StudyName::Gaussian)
        .then(|| gaussian_plan(profile, args))
        .transpose()?;
    let networks: Vec<Network> = studies
        .iter()
        .filter_map(|s| match s {
            StudyName::CifarStandard => Some(Network::Standard),
            StudyName::CifarAdversarial => Some(Network::Adversarial),
            StudyName::Gaussian => None,
        })
        .collect();
    let mut cifar = Vec::new();
    let mut skipped = Vec::new();
    let mut data_set = None;
    if !networks.is_empty() {
        match find_data(args.data_dir.as_deref(), root, args.offline)? {
            Ok(set) => {
                for &network in &networks {
                    let request = cifar_request(profile, network, args, &set.sha256);
                    cifar.push(
                        request
                            .plan(set.data.train().len())
                            .with_context(|| format!("planning {}", network.study()))?,
                    );
                }
                data_set = Some(set);
            }
            Err(reason) => {
                for &network in &networks {
                    skipped.push(format!("{}: not run. {reason}", network.study()));
                }
            }
        }
    }
    Ok((
        Plans {
            profile: profile.name().to_string(),
            gaussian,
            cifar,
            skipped,
        },
        data_set,
    ))
}

/// Measured costs of each network (index: [`Network`]), for time estimates.
type Rates = [cifar_study::Costs; 2];

/// Times each network through the code its cells run, on the real data.
fn calibrate(device: &Device, plans: &[cifar_study::Plan], data: &Arc<Cifar10>) -> Result<Rates> {
    let mut rates = Rates::default();
    for plan in plans {
        if let Some(cell) = plan.cells.first() {
            rates[plan.network as usize] = cifar_study::calibrate(cell, data, device)
                .with_context(|| format!("timing the {} network", plan.network.study()))?;
        }
    }
    Ok(rates)
}

/// The calibrated speeds in words.
fn describe_costs(costs: &cifar_study::Costs) -> String {
    let per_s = |seconds: f64| if seconds > 0.0 { 1.0 / seconds } else { 0.0 };
    let mut text = format!(
        "{:.0} training images/s, {:.0} predictions/s",
        per_s(costs.train),
        per_s(costs.eval)
    );
    if let Some((steps, cost)) = costs.adversarial_train {
        text.push_str(&format!(
            ", {:.0} PGD-{steps} training images/s",
            per_s(cost)
        ));
    }
    if costs.attack_step > 0.0 {
        text.push_str(&format!(
            ", {:.0} PGD image-steps/s",
            per_s(costs.attack_step)
        ));
    }
    text
}

/// Added to every measured estimate, for what the calibration does not time (checkpoints,
/// figures) and for the machine's own drift. On the shared 2-core VM this was tuned on, the
/// calibration alone came out 1.19x to 1.26x short of three whole quick runs, yet matched a
/// single cell run right after it: the first quick cell trained at 4,850 images/s inside a
/// full run and at 6,000 to 7,000 alone an hour later, both calibrated at about 6,850. The
/// margin covers the drift seen so far, not a worst case.
const ESTIMATE_MARGIN: f64 = 1.30;

/// Estimated seconds of one CIFAR cell, from the calibrated costs plus [`ESTIMATE_MARGIN`].
fn estimate(cell: &cifar_study::CellSpec, rates: &Rates) -> f64 {
    ESTIMATE_MARGIN * cifar_study::estimate_seconds(cell, &rates[cell.setting.network as usize])
}

fn bar_style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// Runs the pending cells of a CIFAR plan; with other workers on the same folder, each
/// takes the cells it can claim and then waits for the ones others hold. Returns the ids
/// this process computed.
fn run_cifar_cells(
    plan: &cifar_study::Plan,
    out: &Path,
    data: &Arc<Cifar10>,
    device: &Device,
    rates: &Rates,
    multi: &MultiProgress,
    overall: &ProgressBar,
) -> Result<Vec<String>> {
    let dir = cifar_study::study_dir(out, plan.network);
    let store = CellStore::open(dir.join("cells"))?;
    let checkpoints = out.join("checkpoints");
    let mut computed = Vec::new();
    loop {
        let mut pending = Vec::new();
        for cell in &plan.cells {
            let id = cell.id()?;
            if !store.is_done(&id) {
                pending.push((cell, id));
            }
        }
        if pending.is_empty() {
            return Ok(computed);
        }
        let mut progressed = false;
        for (cell, id) in pending {
            let Some(_claim) = store.try_claim(&id)? else {
                continue;
            };
            progressed = true;
            if store.is_done(&id) {
                continue;
            }
            let bar = multi.add(ProgressBar::new(0));
            bar.set_style(bar_style("{prefix:>10} [{bar:30}] {pos}/{len} steps {msg}"));
            bar.set_prefix(cell.variant.label());
            overall.set_message(format!(
                "{} d{} s{}",
                plan.network.study(),
                cell.d_rate,
                cell.seed
            ));
            let record = cifar_study::run_cell(cell, data, device, &checkpoints, &bar)?;
            store.save(&id, &record)?;
            let _ = std::fs::remove_dir_all(checkpoints.join(&id));
            bar.finish_and_clear();
            overall.inc(estimate(cell, rates).ceil() as u64);
            eprintln!("computed {id}");
            computed.push(id);
        }
        if !progressed {
            // Every remaining cell is held by another live worker.
            std::thread::sleep(Duration::from_secs(2));
        }
    }
}

/// Waits until every Gaussian cell is done (cells claimed by other workers).
fn wait_for_gaussian(plan: &gaussian::Plan, store: &CellStore, bar: &ProgressBar) -> Result<()> {
    loop {
        let missing = plan
            .cells()
            .iter()
            .map(gaussian::CellSpec::id)
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .filter(|id| !store.is_done(id))
            .count();
        if missing == 0 {
            return Ok(());
        }
        bar.set_message(format!("waiting for {missing} cells held by other workers"));
        gaussian::run_cells(plan, store, bar)?;
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn threads_and_device(args_jobs: Option<usize>, device: &str, need_device: bool) -> Result<Device> {
    if let Some(jobs) = args_jobs {
        if jobs == 0 {
            bail!("--jobs must be at least 1");
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .build_global()
            .context("setting up the worker threads")?;
    }
    if !need_device {
        return Ok(Device::Cpu);
    }
    dupstudy_cnn::device::device(device).with_context(|| format!("--device {device}"))
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
    let (plans, data_set) = build_plans(&args, root)?;
    let device = threads_and_device(args.jobs, &args.device, !plans.cifar.is_empty())?;
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    write_json_atomic(&out.join("plan.json"), &plans)?;

    println!(
        "dupstudy reproduce — profile `{}`, results in {}",
        profile.name(),
        out.display()
    );
    if profile == Profile::Quick {
        println!(
            "  `quick` reduces the CIFAR studies (fewer images, epochs and seeds) to fit about an hour on 2 CPU cores; `--profile paper` runs the paper's protocol (meant for a GPU)."
        );
    }
    if let Some(plan) = &plans.gaussian {
        println!(
            "  gaussian: {} cells ({} seeds x [1 original + {} policies x {} D-rates > 0]), {} test points",
            plan.cells().len(),
            plan.seeds,
            plan.policies.len(),
            plan.d_rates.iter().filter(|&&d| d > 0.0).count(),
            2 * plan.setting.test_per_class
        );
    }
    let rates = match &data_set {
        Some(set) if !plans.cifar.is_empty() => calibrate(&device, &plans.cifar, &set.data)?,
        _ => Rates::default(),
    };
    let mut pending_seconds = 0.0;
    for plan in &plans.cifar {
        let store = CellStore::open(cifar_study::study_dir(&out, plan.network).join("cells"))?;
        let mut pending = 0;
        let mut seconds = 0.0;
        for cell in &plan.cells {
            if !store.is_done(&cell.id()?) {
                pending += 1;
                seconds += estimate(cell, &rates);
            }
        }
        pending_seconds += seconds;
        println!(
            "  {}: {} cells, {} to run, estimated {} on {} (measured: {})",
            plan.network.study(),
            plan.cells.len(),
            pending,
            human_duration(seconds),
            dupstudy_cnn::device::describe(&device),
            describe_costs(&rates[plan.network as usize])
        );
    }
    for line in &plans.skipped {
        println!("  {line}");
    }
    if !plans.cifar.is_empty() {
        println!(
            "  estimated time for the CIFAR cells still to run: {} (measured speed + {:.0} %)",
            human_duration(pending_seconds),
            (ESTIMATE_MARGIN - 1.0) * 100.0
        );
    }
    let gaussian_seconds = match &plans.gaussian {
        Some(plan) => {
            let store = CellStore::open(gaussian::study_dir(&out).join("cells"))?;
            ESTIMATE_MARGIN
                * gaussian::estimate_seconds(plan, &store, rayon::current_num_threads())?
        }
        None => 0.0,
    };
    let estimated_seconds = pending_seconds + gaussian_seconds;
    println!(
        "  estimated time for everything still to run: {}",
        human_duration(estimated_seconds)
    );

    let threads = rayon::current_num_threads();
    let revision = manifest::git_revision(root);
    let mut manifest = Manifest {
        profile: profile.name().to_string(),
        command: std::env::args().collect(),
        git_revision: revision.clone(),
        started_unix,
        wall_seconds: None,
        estimated_seconds,
        device: DeviceInfo {
            cpu: manifest::cpu_model(),
            vector_extensions: manifest::vector_extensions(),
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            threads,
            compute: dupstudy_cnn::device::describe(&device),
        },
        crates: manifest::crate_versions(root),
        configuration: serde_json::to_value(&plans)?,
        data: serde_json::json!({
            "gaussian": "synthetic, drawn from seeded streams",
            "cifar10": data_set.as_ref().map(|d| serde_json::json!({"description": d.description, "content_sha256": d.sha256})),
        }),
    };
    write_json_atomic(&out.join("manifest.json"), &manifest)?;

    let multi = MultiProgress::new();
    let mut sections = Vec::new();
    let mut claims = Vec::new();
    let mut notes: Vec<String> = plans.skipped.clone();
    if let Some(plan) = &plans.gaussian {
        let dir = gaussian::study_dir(&out);
        let store = CellStore::open(dir.join("cells"))?;
        let bar = multi.add(ProgressBar::new(0));
        bar.set_style(bar_style(
            "{prefix:>10} [{bar:40}] {pos}/{len} cells, ETA {eta} {msg}",
        ));
        bar.set_prefix("gaussian");
        gaussian::run_cells(plan, &store, &bar)?;
        wait_for_gaussian(plan, &store, &bar)?;
        bar.finish_and_clear();
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
    if let Some(set) = &data_set {
        let overall = multi.add(ProgressBar::new(pending_seconds.ceil() as u64));
        overall.set_style(bar_style(
            "{prefix:>10} [{bar:40}] {percent}% of estimated work, ETA {eta} {msg}",
        ));
        overall.set_prefix("cifar");
        for plan in &plans.cifar {
            run_cifar_cells(plan, &out, &set.data, &device, &rates, &multi, &overall)?;
        }
        overall.finish_and_clear();
        for plan in &plans.cifar {
            let dir = cifar_study::study_dir(&out, plan.network);
            let store = CellStore::open(dir.join("cells"))?;
            let outcome =
                cifar_study::aggregate(plan, &store, &dir, &format!("{}/", plan.network.study()))?;
            claims.extend(outcome.claims);
            let title = match plan.network {
                Network::Standard => {
                    "CIFAR-10, standard training (paper Section 4.3, Figure 3) and controls"
                }
                Network::Adversarial => {
                    "CIFAR-10, adversarial training (paper Section 4.4, Figure 4)"
                }
            };
            sections.push((
                title.to_string(),
                format!(
                    "{}\nCompute: {} of cell time over {} cells.\n",
                    outcome.report,
                    human_duration(outcome.cell_seconds),
                    plan.cells.len()
                ),
            ));
        }
        if profile == Profile::Quick {
            notes.push("profile `quick`: the CIFAR studies use reduced data, epochs and seeds (see each section) to fit about an hour on 2 CPU cores; run `--profile paper` on a GPU for the paper's protocol".into());
        }
    }

    let wall = started.elapsed().as_secs_f64();
    let mut data_lines = vec!["Gaussian study: synthetic data from seeded streams".to_string()];
    if let Some(set) = &data_set {
        data_lines.push(set.description.clone());
    }
    let report = Report {
        profile: profile.name().to_string(),
        revision,
        device: format!(
            "{} ({} threads; {}); CNNs on {}",
            manifest.device.cpu,
            threads,
            manifest.device.vector_extensions.join(", "),
            manifest.device.compute
        ),
        wall_seconds: wall,
        estimated_seconds,
        data: data_lines,
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

/// Runs `cargo xtask plan`: prints one unit id per line and writes `<out>/plan.json`.
pub fn plan(args: ReproduceArgs, root: &Path) -> Result<()> {
    let out: PathBuf = args
        .out
        .clone()
        .unwrap_or_else(|| root.join("results").join(args.profile.name()));
    let (plans, _) = build_plans(&args, root)?;
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    write_json_atomic(&out.join("plan.json"), &plans)?;
    for line in &plans.skipped {
        eprintln!("{line}");
    }
    for id in plans.unit_ids()? {
        println!("{id}");
    }
    eprintln!("plan written to {}", out.join("plan.json").display());
    Ok(())
}

/// Runs `cargo xtask run-cell ID`: one unit of `<out>/plan.json`, claimed so that no other
/// worker runs it at the same time; a finished unit is not run again.
pub fn run_cell(args: RunCellArgs, root: &Path) -> Result<()> {
    let path = args.out.join("plan.json");
    let plans: Plans = serde_json::from_slice(&std::fs::read(&path).with_context(|| {
        format!(
            "reading {} (run `cargo xtask plan --out {}` first)",
            path.display(),
            args.out.display()
        )
    })?)
    .with_context(|| format!("{} is not a plan", path.display()))?;
    if plans.gaussian_unit()?.as_deref() == Some(args.id.as_str()) {
        let plan = plans
            .gaussian
            .as_ref()
            .context("plan has no Gaussian study")?;
        let dir = gaussian::study_dir(&args.out);
        let store = CellStore::open(dir.join("cells"))?;
        let bar = ProgressBar::new(0);
        bar.set_style(bar_style(
            "{prefix:>10} [{bar:40}] {pos}/{len} cells, ETA {eta}",
        ));
        bar.set_prefix("gaussian");
        gaussian::run_cells(plan, &store, &bar)?;
        bar.finish();
        return Ok(());
    }
    for plan in &plans.cifar {
        for cell in &plan.cells {
            if cell.id()? != args.id {
                continue;
            }
            let store =
                CellStore::open(cifar_study::study_dir(&args.out, plan.network).join("cells"))?;
            if store.is_done(&args.id) {
                println!("{} is already done", args.id);
                return Ok(());
            }
            let Some(_claim) = store.try_claim(&args.id)? else {
                println!("{} is being run by another worker", args.id);
                return Ok(());
            };
            let set = match find_data(args.data_dir.as_deref(), root, false)? {
                Ok(set) => set,
                Err(reason) => bail!("{reason}"),
            };
            if set.sha256 != cell.setting.data_sha256 {
                bail!(
                    "the CIFAR-10 data found ({}) is not the data this plan was made with (content SHA-256 {} vs {})",
                    set.description,
                    set.sha256,
                    cell.setting.data_sha256
                );
            }
            let device = dupstudy_cnn::device::device(&args.device)?;
            let bar = ProgressBar::new(0);
            bar.set_style(bar_style("{prefix:>10} [{bar:30}] {pos}/{len} steps {msg}"));
            bar.set_prefix(cell.variant.label());
            let checkpoints = args.out.join("checkpoints");
            let record = cifar_study::run_cell(cell, &set.data, &device, &checkpoints, &bar)?;
            store.save(&args.id, &record)?;
            let _ = std::fs::remove_dir_all(checkpoints.join(&args.id));
            bar.finish();
            println!("computed {}", args.id);
            return Ok(());
        }
    }
    bail!("{} is not a unit of {}", args.id, path.display())
}
