//! `cargo xtask reproduce`, `report`, `plan` and `run-cell`: flags in, the library's driver
//! does the work, progress bars and figures out.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use candle_core::Device;
use dupstudy_study::data::{self, DataSet};
use dupstudy_study::manifest::{self, Device as DeviceInfo, Manifest};
use dupstudy_study::report::{Report, Scale, StoredVerdict, human_duration};
use dupstudy_study::store::{read_json, write_atomic, write_json_atomic};
use dupstudy_study::{AnyStudy, Env, Plans, Profile, Request};
use indicatif::MultiProgress;

use crate::bars::Bar;
use crate::flags::{ReportArgs, ReproduceArgs, RunCellArgs};

/// The studies an invocation selects, in registry order: those `--study` names, else those
/// that run under the profile.
fn selected(names: &[String], profile: Profile) -> Vec<Box<dyn AnyStudy>> {
    dupstudy_study::registry()
        .into_iter()
        .filter(|s| {
            if names.is_empty() {
                s.in_profile(profile)
            } else {
                names.iter().any(|n| n == s.name())
            }
        })
        .collect()
}

/// Every plan of an invocation, validated before any work starts, and the data found.
fn build_plans(args: &ReproduceArgs, root: &Path) -> Result<(Plans, Option<Arc<DataSet>>)> {
    let request = Request {
        profile: args.profile,
        overrides: args.overrides(),
    };
    let studies = selected(&args.study, args.profile);
    let data = if studies.iter().any(|s| s.needs_cifar()) {
        data::find(args.data_dir.as_deref(), root, args.offline)?
    } else {
        Err(String::new())
    };
    let mut plans = Plans {
        profile: args.profile.name().to_string(),
        studies: Vec::new(),
        skipped: Vec::new(),
    };
    for study in &studies {
        if study.needs_cifar()
            && let Err(reason) = &data
        {
            plans
                .skipped
                .push(format!("{}: not run. {reason}", study.name()));
            continue;
        }
        let plan = study
            .plan(&request, data.as_ref().ok())
            .with_context(|| format!("planning {}", study.name()))?;
        plans.studies.push((study.name().to_string(), plan));
    }
    Ok((plans, data.ok().map(Arc::new)))
}

/// The revision of the code this binary was built from, which every cell, manifest and
/// report records. A binary copied out of the checkout (as long runs do, so that the
/// checkout can move on) keeps naming its own code; when the checkout at `root` has moved
/// since the build, that is said once, since reading it as the run's code would mislead.
fn revision(root: &Path) -> String {
    let built = env!("DUPSTUDY_BUILD_REVISION").to_string();
    let checkout = manifest::git_revision(root);
    if checkout == built || checkout == "unknown" {
        return built;
    }
    // Commits that touch only outputs (docs/, results/) leave the code as built.
    let same_code = !built.ends_with("-dirty")
        && manifest::git_output(
            root,
            &[&["diff", "--name-only", &built, "--"], manifest::CODE][..].concat(),
        )
        .is_some_and(|changed| changed.is_empty());
    if !same_code {
        tracing::warn!(
            "this binary was built at revision {built}; the checkout at {} is at {checkout}: \
             results record {built}",
            root.display()
        );
    }
    built
}

fn threads(jobs: Option<usize>) -> Result<()> {
    if let Some(jobs) = jobs {
        if jobs == 0 {
            bail!("--jobs must be at least 1");
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .build_global()
            .context("setting up the worker threads")?;
    }
    Ok(())
}

fn device(name: &str, needed: bool) -> Result<Device> {
    if !needed {
        return Ok(Device::Cpu);
    }
    dupstudy_cnn::device::device(name).with_context(|| format!("--device {name}"))
}

pub(crate) fn out_dir(args: &ReproduceArgs, root: &Path) -> PathBuf {
    args.out
        .clone()
        .unwrap_or_else(|| root.join("results").join(args.profile.name()))
}

fn study_of(name: &str) -> Result<Box<dyn AnyStudy>> {
    Ok(dupstudy_study::find_study(name)?)
}

/// Runs `cargo xtask reproduce`.
pub fn run(args: &ReproduceArgs, root: &Path) -> Result<()> {
    let started = Instant::now();
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let out = out_dir(args, root);
    let (plans, data) = build_plans(args, root)?;
    threads(args.jobs)?;
    let mut needs_device = false;
    for (name, _) in &plans.studies {
        needs_device |= study_of(name)?.needs_cifar();
    }
    let multi = MultiProgress::new();
    let env = Env {
        data: data.clone(),
        device: device(args.device.name(), needs_device)?,
        revision: revision(root),
        out: out.clone(),
        progress: Arc::new(Bar::study(&multi, "preparing")),
    };
    write_json_atomic(&out.join("plan.json"), &plans)?;
    println!(
        "dupstudy reproduce — profile `{}`, results in {}",
        args.profile.name(),
        out.display()
    );
    if args.profile == Profile::Quick {
        println!(
            "  `quick` reduces the CIFAR studies (fewer images, epochs and seeds) to fit about an hour on 2 CPU cores; `--profile paper` runs the paper's protocol (meant for a GPU)."
        );
    }
    let mut estimated_seconds = 0.0;
    for (name, plan) in &plans.studies {
        let study = study_of(name)?;
        let estimate = study
            .estimate(plan, &env)
            .with_context(|| format!("timing {name}"))?;
        estimated_seconds += estimate.seconds;
        println!(
            "  {}; estimated {} {}",
            study.describe(plan, &out)?,
            human_duration(estimate.seconds),
            estimate.detail
        );
    }
    for line in &plans.skipped {
        println!("  {line}");
    }
    println!(
        "  estimated time for everything still to run: {} (measured speed + {:.0} %)",
        human_duration(estimated_seconds),
        (dupstudy_study::driver::ESTIMATE_MARGIN - 1.0) * 100.0
    );
    let mut manifest = Manifest {
        profile: args.profile.name().to_string(),
        command: std::env::args().collect(),
        git_revision: env.revision.clone(),
        started_unix,
        wall_seconds: None,
        estimated_seconds,
        device: DeviceInfo {
            cpu: manifest::cpu_model(),
            vector_extensions: manifest::vector_extensions(),
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            threads: rayon::current_num_threads(),
            compute: dupstudy_cnn::device::describe(&env.device),
            machine: Some(manifest::Machine::this()),
        },
        crates: manifest::crate_versions(root),
        configuration: serde_json::to_value(&plans)?,
        data: data_json(&plans, data.as_deref()),
    };
    write_json_atomic(&out.join("manifest.json"), &manifest)?;

    env.progress.finish();
    for (name, plan) in &plans.studies {
        let bar = Bar::study(&multi, name);
        study_of(name)?
            .run(plan, &env, None, &bar)
            .with_context(|| format!("running {name}"))?;
        dupstudy_study::Progress::finish(&bar);
    }
    let wall = started.elapsed().as_secs_f64();
    manifest.wall_seconds = Some(wall);
    write_json_atomic(&out.join("manifest.json"), &manifest)?;
    let path = render(&out, &plans, &manifest, &env.revision, None)?;
    println!(
        "done in {}; report: {}",
        human_duration(wall),
        path.display()
    );
    Ok(())
}

/// The data of a run: CIFAR-10's copy, and each planned study's note on its own data.
fn data_json(plans: &Plans, data: Option<&DataSet>) -> serde_json::Value {
    let mut json = serde_json::json!({
        "cifar10": data.map(|d| serde_json::json!({"description": d.description, "content_sha256": d.sha256})),
    });
    for (name, note) in data_notes(plans) {
        json[name] = note.into();
    }
    json
}

/// `(study, note)` of each planned study that says what data it uses.
fn data_notes(plans: &Plans) -> Vec<(&'static str, &'static str)> {
    dupstudy_study::registry()
        .into_iter()
        .filter(|s| plans.studies.iter().any(|(name, _)| name == s.name()))
        .filter_map(|s| s.data_note().map(|note| (s.name(), note)))
        .collect()
}

/// Summarizes every planned study from its stored cells, draws the figures and writes
/// REPORT.md; returns its path.
fn render(
    out: &Path,
    plans: &Plans,
    manifest: &Manifest,
    revision: &str,
    note: Option<String>,
) -> Result<PathBuf> {
    let mut report = Report {
        profile: plans.profile.clone(),
        revision: revision.to_string(),
        cell_revisions: Vec::new(),
        cell_machines: Vec::new(),
        device: format!(
            "{} ({} threads; {}); CNNs on {}",
            manifest.device.cpu,
            manifest.device.threads,
            manifest.device.vector_extensions.join(", "),
            manifest.device.compute
        ),
        wall_seconds: manifest.wall_seconds,
        estimated_seconds: manifest.wall_seconds.map(|_| manifest.estimated_seconds),
        data: data_notes(plans)
            .into_iter()
            .map(|(_, note)| note.to_string())
            .collect(),
        notes: note
            .into_iter()
            .chain(plans.skipped.iter().cloned())
            .collect(),
        claims: Vec::new(),
        scales: Vec::new(),
        sections: Vec::new(),
    };
    let mut stored = Vec::new();
    if let Some(d) = manifest.data["cifar10"]["description"].as_str() {
        report.data.push(d.to_string());
    }
    let mut revisions = std::collections::BTreeSet::new();
    let mut machines = std::collections::BTreeMap::<String, usize>::new();
    for (name, plan) in &plans.studies {
        let study = study_of(name)?;
        let dupstudy_study::driver::Summarized {
            mut summary,
            revisions: made_by,
            machines: made_on,
        } = study
            .summarize(plan, out)
            .with_context(|| format!("summarizing {name} from {}", out.display()))?;
        let reference_dir = out.join(&summary.section.dir).join("reference");
        let runs = dupstudy_study::reference::load(&reference_dir)?;
        if let Some(text) = dupstudy_study::reference::section_text(&runs, &summary.table) {
            summary.section.text(text);
        }
        for (file, figure) in summary.section.figures() {
            crate::plot::draw(&out.join(&summary.section.dir).join(file), figure)?;
        }
        revisions.extend(made_by);
        for (machine, n) in made_on {
            *machines.entry(machine).or_insert(0) += n;
        }
        let folder = dupstudy_study::report::paper_protocol_folder(name, &plans.profile);
        let differences = match folder {
            Some(f) => {
                let path = crate::workspace_root().join(f).join("verdicts.json");
                match std::fs::read(&path) {
                    Ok(bytes) => {
                        let theirs: Vec<StoredVerdict> = serde_json::from_slice(&bytes)
                            .with_context(|| format!("reading {}", path.display()))?;
                        dupstudy_study::report::differences(&summary.claims, &theirs)
                    }
                    Err(_) => Vec::new(),
                }
            }
            None => Vec::new(),
        };
        report.scales.push(Scale {
            study: summary.section.title.clone(),
            scale: summary.scale.clone(),
            paper_protocol: folder
                .filter(|f| {
                    crate::workspace_root()
                        .join(f)
                        .join("verdicts.json")
                        .is_file()
                })
                .map(str::to_string),
            differences,
        });
        stored.extend(StoredVerdict::of(name, &summary.claims));
        report.claims.extend(summary.claims);
        report.sections.push(summary.section);
    }
    if plans.profile == "quick" && manifest.data["cifar10"].is_object() {
        report.notes.push("profile `quick`: the CIFAR studies use reduced data, epochs and seeds (see each section) to fit about an hour on 2 CPU cores; run `--profile paper` on a GPU for the paper's protocol".into());
    }
    // Named only when some cell came from another revision; then all of them are, this
    // one included, so the list says which code computed every cell.
    if revisions.iter().all(|r| r == revision) {
        revisions.clear();
    }
    report.cell_revisions = revisions.into_iter().collect();
    report.cell_machines = machines.into_iter().collect();
    write_json_atomic(&out.join("verdicts.json"), &stored)?;
    let path = out.join("REPORT.md");
    write_atomic(&path, report.render().as_bytes())?;
    Ok(path)
}

/// Writes `<out>/PARTIAL.md`: per planned study, how many cells have finished and its
/// table over them; no verdicts. Returns its path.
fn render_partial(out: &Path, plans: &Plans, revision: &str) -> Result<PathBuf> {
    let mut md = format!(
        "# Partial summary (profile `{}`)\n\nThe cells finished so far under this folder, summarized by `cargo xtask report --partial` at revision `{revision}`. **No verdicts**: a claim is judged on the whole plan only, by `cargo xtask report` once every cell is in; an interval here is over the seeds present and may narrow or move as the others land. Values are in the units of the study's `summary.csv` (accuracies as fractions: 0.584 is 58.4 %); a value from one seed has no interval.\n",
        plans.profile
    );
    for (name, plan) in &plans.studies {
        let study = study_of(name)?;
        let finished = study.summarize_finished(plan, out).with_context(|| {
            format!(
                "summarizing the finished cells of {name} under {}",
                out.display()
            )
        })?;
        md.push_str(&format!(
            "\n## {} (`{name}`): {} of {} cells finished\n\n",
            study.title(),
            finished.finished,
            finished.total
        ));
        if finished.table.rows.is_empty() {
            md.push_str("Nothing to summarize yet.\n");
        } else {
            md.push_str(&finished.table.to_markdown());
        }
        md.push_str(&cells_table(&finished.cells));
    }
    let path = out.join("PARTIAL.md");
    write_atomic(&path, md.as_bytes())?;
    Ok(path)
}

/// The plan's cells in order, each finished one with its wall time, CPU and revision, the
/// others marked as still to run.
fn cells_table(cells: &[dupstudy_study::driver::CellProgress]) -> String {
    let left = cells.iter().filter(|c| c.ran.is_none()).count();
    let mut md = format!(
        "\nIts cells in plan order ({} finished, {left} to run; minutes of wall time, including any earlier run a cell resumed):\n\n| cell | minutes | machine | revision |\n|---|---:|---|---|\n",
        cells.len() - left
    );
    for cell in cells {
        match &cell.ran {
            Some(ran) => md.push_str(&format!(
                "| `{}` | {:.0} | {} | {} |\n",
                cell.id,
                ran.seconds / 60.0,
                ran.machine
                    .as_ref()
                    .map_or_else(|| "not recorded".to_string(), |m| m.describe()),
                ran.revision.as_deref().map_or("not recorded", |r| r)
            )),
            None => md.push_str(&format!("| `{}` | to run | | |\n", cell.id)),
        }
    }
    md
}

fn read_plans(out: &Path) -> Result<Plans> {
    read_json(
        &out.join("plan.json"),
        "plan (written by `cargo xtask reproduce` or `plan`)",
    )
    .with_context(|| format!("{} holds no readable plan", out.display()))
}

/// Runs `cargo xtask report --out DIR`: re-renders the report from stored cells, training
/// nothing; refuses when a cell is missing or unreadable.
pub fn report(args: &ReportArgs, root: &Path) -> Result<()> {
    let plans = read_plans(&args.out)?;
    if args.partial {
        let path = render_partial(&args.out, &plans, &revision(root))?;
        println!(
            "finished cells summarized (no verdicts): {}",
            path.display()
        );
        return Ok(());
    }
    let manifest: Manifest = read_json(&args.out.join("manifest.json"), "run manifest")
        .with_context(|| format!("{} has no manifest", args.out.display()))?;
    let revision = revision(root);
    let note = format!(
        "Re-rendered from stored cells by `cargo xtask report` (no training); the wall time is that of the run which wrote the manifest (profile `{}`, revision `{}`)",
        manifest.profile, manifest.git_revision
    );
    let path = render(&args.out, &plans, &manifest, &revision, Some(note))?;
    println!("report re-rendered from stored cells: {}", path.display());
    Ok(())
}

/// Runs `cargo xtask plan`: prints one unit id per line and writes `<out>/plan.json`.
pub fn plan(args: &ReproduceArgs, root: &Path) -> Result<()> {
    let out = out_dir(args, root);
    for id in write_plan(args, root, &out)? {
        println!("{id}");
    }
    eprintln!("plan written to {}", out.join("plan.json").display());
    Ok(())
}

/// Plans the study into `out/plan.json` and returns its work units (studies that cannot run
/// are named on stderr).
pub(crate) fn write_plan(args: &ReproduceArgs, root: &Path, out: &Path) -> Result<Vec<String>> {
    let (plans, _) = build_plans(args, root)?;
    write_json_atomic(&out.join("plan.json"), &plans)?;
    for line in &plans.skipped {
        eprintln!("{line}");
    }
    let mut units = Vec::new();
    for (name, plan) in &plans.studies {
        units.extend(study_of(name)?.units(plan)?);
    }
    Ok(units)
}

/// Runs `cargo xtask run-cell ID`: one unit of `<out>/plan.json`, claimed so that no other
/// worker runs it at the same time; a finished unit is not run again.
pub fn run_cell(args: &RunCellArgs, root: &Path) -> Result<()> {
    let plans = read_plans(&args.out)?;
    for (name, plan) in &plans.studies {
        let study = study_of(name)?;
        if !study.units(plan)?.contains(&args.id) {
            continue;
        }
        // A worker never downloads: many tasks would fetch at once, and cluster nodes
        // often have no internet. A missing folder fails the task, naming it.
        let data = if study.needs_cifar() {
            match data::find(args.data_dir.as_deref(), root, true)? {
                Ok(set) => Some(Arc::new(set)),
                Err(reason) => bail!("{reason}"),
            }
        } else {
            None
        };
        let multi = MultiProgress::new();
        let env = Env {
            data,
            device: device(args.device.name(), study.needs_cifar())?,
            revision: revision(root),
            out: args.out.clone(),
            progress: Arc::new(Bar::study(&multi, "preparing")),
        };
        let bar = Bar::study(&multi, name);
        let computed = study
            .run(plan, &env, Some(&args.id), &bar)?
            .unwrap_or_default();
        env.progress.finish();
        dupstudy_study::Progress::finish(&bar);
        if computed.is_empty() {
            println!("{} is already done", args.id);
        } else {
            println!("computed {}", args.id);
        }
        return Ok(());
    }
    bail!(
        "{} is not a unit of {}",
        args.id,
        args.out.join("plan.json").display()
    )
}
