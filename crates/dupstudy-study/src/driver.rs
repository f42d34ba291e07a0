//! The one driver of every study: pending cells, claims, runs, atomic saves, resume, waiting
//! for cells other workers hold, and summaries from stored cells.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rayon::prelude::*;
use serde_json::Value;

use crate::data::DataSet;
use crate::error::{Result, StudyError};
use crate::profile::{Env, Profile, Request};
use crate::progress::Progress;
use crate::store::{CellRecord, CellStore, write_atomic};
use crate::study::{CellIo, Estimate, Study, StudySummary};
use crate::table::Table;

/// Added to every measured estimate, for what the calibration does not time (checkpoints,
/// figures) and for the machine's own drift. On the shared 2-core VM this was tuned on, the
/// calibration alone came out 1.19x to 1.26x short of three whole quick runs, yet matched a
/// single cell run right after it. The margin covers the drift seen so far, not a worst case.
pub const ESTIMATE_MARGIN: f64 = 1.30;

/// A study's results folder under the run's folder.
pub fn study_dir(out: &Path, name: &str) -> PathBuf {
    out.join(name)
}

/// The cell store of a study.
pub fn store_of(out: &Path, name: &str) -> CellStore {
    CellStore::at(study_dir(out, name).join("cells"))
}

/// Checkpoints of unfinished cells, shared by every study of a run.
pub fn checkpoints_dir(out: &Path) -> PathBuf {
    out.join("checkpoints")
}

/// The cells of `cells` not yet in `store`.
///
/// # Errors
/// Cell ids that cannot be formed.
pub fn pending<'a, S: Study>(
    study: &S,
    store: &CellStore,
    cells: &'a [S::Cell],
) -> Result<Vec<(&'a S::Cell, String)>> {
    let mut out = Vec::new();
    for cell in cells {
        let id = study.cell_id(cell)?;
        if !store.is_done(&id) {
            out.push((cell, id));
        }
    }
    Ok(out)
}

/// Runs every unfinished cell of `cells`, each saved as soon as it finishes; with other
/// workers on the same folder each runs the cells it can claim, then waits for the ones
/// others hold. Returns the ids this process computed.
///
/// # Errors
/// The first cell that fails (cells finished before it stay saved).
pub fn run_cells<S: Study>(
    study: &S,
    ctx: &S::Context,
    cells: &[S::Cell],
    env: &Env,
    progress: &dyn Progress,
) -> Result<Vec<String>> {
    let store = CellStore::open(study_dir(&env.out, study.name()).join("cells"))?;
    let checkpoints = checkpoints_dir(&env.out);
    let total: u64 = cells.iter().map(|c| study.cell_weight(c)).sum();
    progress.set_length(total);
    let run_one = |cell: &S::Cell, id: &String| -> Result<Option<String>> {
        let Some(_claim) = store.try_claim(id)? else {
            return Ok(None);
        };
        if store.is_done(id) {
            return Ok(Some(String::new()));
        }
        let checkpoint = checkpoints.join(id);
        let child: Box<dyn Progress> = if study.parallel_cells() {
            Box::new(crate::progress::Silent)
        } else {
            progress.child(id)
        };
        let computed = study.run_cell(
            ctx,
            cell,
            &CellIo {
                checkpoint: &checkpoint,
                progress: child.as_ref(),
            },
        )?;
        child.finish();
        let record = CellRecord {
            id: id.clone(),
            spec: cell.clone(),
            result: computed.result,
            seconds: computed.seconds,
            device: computed.device,
            revision: Some(env.revision.clone()),
            machine: Some(crate::manifest::Machine::this()),
        };
        store.save(id, &record)?;
        if checkpoint.exists() {
            let _ = std::fs::remove_dir_all(&checkpoint);
        }
        progress.inc(study.cell_weight(cell));
        if !study.parallel_cells() {
            progress.println(&format!("computed {id}"));
        }
        Ok(Some(id.clone()))
    };
    let mut computed = Vec::new();
    loop {
        let todo = pending(study, &store, cells)?;
        let done: u64 = total - todo.iter().map(|(c, _)| study.cell_weight(c)).sum::<u64>();
        progress.set_position(done);
        if todo.is_empty() {
            return Ok(computed);
        }
        let claimed: Vec<Option<String>> = if study.parallel_cells() {
            todo.par_iter()
                .map(|(cell, id)| run_one(cell, id))
                .collect::<Result<_>>()?
        } else {
            let mut out = Vec::new();
            for (cell, id) in &todo {
                out.push(run_one(cell, id)?);
            }
            out
        };
        let progressed = claimed.iter().any(Option::is_some);
        computed.extend(claimed.into_iter().flatten().filter(|id| !id.is_empty()));
        if !progressed {
            progress.message("waiting for cells held by other workers");
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// A study's summary and the code revisions that computed its cells.
#[derive(Debug, Clone)]
pub struct Summarized {
    /// Table, claims and report section.
    pub summary: StudySummary,
    /// Revisions recorded in the cells (`unrecorded` for cells from before they were kept).
    pub revisions: BTreeSet<String>,
    /// The machines recorded in the cells ([`Machine::describe`](crate::manifest::Machine::describe)),
    /// each with its number of cells; cells from before machines were kept count under
    /// `machine not recorded`.
    pub machines: BTreeMap<String, usize>,
}

/// Loads every cell of `plan` once and summarizes them; writes `summary.csv` into the
/// study's folder. Records from older revisions are read as they are.
///
/// # Errors
/// [`StudyError::MissingCell`] naming the first missing cell, or a corrupt record.
pub fn summarize<S: Study>(study: &S, plan: &S::Plan, out: &Path) -> Result<Summarized> {
    let store = store_of(out, study.name());
    let mut records: Vec<CellRecord<S::Cell, S::Result>> = Vec::new();
    for cell in study.cells(plan) {
        records.push(store.require(&study.cell_id(&cell)?)?);
    }
    let revisions = records
        .iter()
        .map(|r| r.revision.clone().unwrap_or_else(|| "unrecorded".into()))
        .collect();
    let mut machines = BTreeMap::new();
    for record in &records {
        let machine = record.machine.as_ref().map_or_else(
            || "machine not recorded".to_string(),
            crate::manifest::Machine::describe,
        );
        *machines.entry(machine).or_insert(0) += 1;
    }
    let mut summary = study.summarize(plan, &records)?;
    crate::claims::apply_holm(&mut summary.claims);
    write_atomic(
        &study_dir(out, study.name()).join("summary.csv"),
        summary.table.to_csv().as_bytes(),
    )?;
    Ok(Summarized {
        summary,
        revisions,
        machines,
    })
}

/// The cells of a plan finished so far, summarized without judging anything.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The study's table over the finished cells alone (intervals over the seeds present).
    pub table: Table,
    /// Cells finished.
    pub finished: usize,
    /// Cells in the plan.
    pub total: usize,
    /// Every cell of the plan in plan order, with where and how long it ran once finished.
    pub cells: Vec<CellProgress>,
}

/// One planned cell of a run in progress.
#[derive(Debug, Clone)]
pub struct CellProgress {
    /// The cell id.
    pub id: String,
    /// Where and how long it ran; `None` while it is still to run.
    pub ran: Option<Ran>,
}

/// The provenance of a finished cell, as its record keeps it.
#[derive(Debug, Clone)]
pub struct Ran {
    /// Wall time in seconds, including any earlier run it resumed.
    pub seconds: f64,
    /// The code revision that computed it, when the record keeps one.
    pub revision: Option<String>,
    /// The CPU that computed it, when the record keeps one.
    pub machine: Option<crate::manifest::Machine>,
}

/// Summarizes the cells of `plan` finished under `out` so far, for a look at a long run in
/// progress: the study's table over them, its claims dropped (a verdict is judged on the
/// whole plan only). Writes nothing.
///
/// # Errors
/// A corrupt record, or a study that cannot summarize the cells present.
pub fn summarize_finished<S: Study>(study: &S, plan: &S::Plan, out: &Path) -> Result<Finished> {
    let store = store_of(out, study.name());
    let cells = study.cells(plan);
    let total = cells.len();
    let mut records: Vec<CellRecord<S::Cell, S::Result>> = Vec::new();
    let mut progress = Vec::with_capacity(total);
    for cell in cells {
        let id = study.cell_id(&cell)?;
        let record: Option<CellRecord<S::Cell, S::Result>> = store.load(&id)?;
        let ran = record.as_ref().map(|r| Ran {
            seconds: r.seconds,
            revision: r.revision.clone(),
            machine: r.machine.clone(),
        });
        progress.push(CellProgress { id, ran });
        records.extend(record);
    }
    let finished = records.len();
    let table = if records.is_empty() {
        Table::default()
    } else {
        study.summarize(plan, &records)?.table
    };
    Ok(Finished {
        table,
        finished,
        total,
        cells: progress,
    })
}

/// A study behind a plan stored as JSON, so that the registry can hold every study.
pub trait AnyStudy: Sync {
    /// [`Study::name`].
    fn name(&self) -> &'static str;
    /// [`Study::title`].
    fn title(&self) -> &'static str;
    /// [`Study::in_profile`].
    fn in_profile(&self, profile: Profile) -> bool;
    /// [`Study::data_note`].
    fn data_note(&self) -> Option<&'static str>;
    /// [`Study::needs_cifar`].
    fn needs_cifar(&self) -> bool;
    /// The plan, as JSON.
    ///
    /// # Errors
    /// As [`Study::plan`].
    fn plan(&self, request: &Request, data: Option<&DataSet>) -> Result<Value>;
    /// [`Study::describe`] with the counts of cells and of cells still to run under `out`.
    ///
    /// # Errors
    /// A plan that is not this study's.
    fn describe(&self, plan: &Value, out: &Path) -> Result<String>;
    /// The work units of the plan.
    ///
    /// # Errors
    /// A plan that is not this study's.
    fn units(&self, plan: &Value) -> Result<Vec<String>>;
    /// Estimated time of the cells still to run under `env.out`.
    ///
    /// # Errors
    /// As [`Study::estimate`].
    fn estimate(&self, plan: &Value, env: &Env) -> Result<Estimate>;
    /// Runs the cells still to run (only those of unit `unit`, if given; `Ok(None)` when
    /// the plan has no such unit). Returns the ids computed here.
    ///
    /// # Errors
    /// As [`run_cells`].
    fn run(
        &self,
        plan: &Value,
        env: &Env,
        unit: Option<&str>,
        progress: &dyn Progress,
    ) -> Result<Option<Vec<String>>>;
    /// [`summarize`].
    ///
    /// # Errors
    /// As [`summarize`].
    fn summarize(&self, plan: &Value, out: &Path) -> Result<Summarized>;
    /// [`summarize_finished`].
    ///
    /// # Errors
    /// As [`summarize_finished`].
    fn summarize_finished(&self, plan: &Value, out: &Path) -> Result<Finished>;
}

/// The study's context, once the data it needs is checked: given, and the copy its plan was
/// made from.
fn context<S: Study>(study: &S, plan: &S::Plan, env: &Env) -> Result<S::Context> {
    if study.needs_cifar() {
        let set = crate::data::required(env.data.as_deref(), study.name())?;
        if let Some(planned) = study.planned_data(plan)
            && planned != set.sha256
        {
            return Err(StudyError::DataMismatch {
                found: set.description.clone(),
                found_sha256: set.sha256.clone(),
                planned_sha256: planned,
            });
        }
    }
    study.context(plan, env)
}

fn typed<S: Study>(study: &S, plan: &Value) -> Result<S::Plan> {
    serde_json::from_value(plan.clone()).map_err(|source| StudyError::Corrupt {
        path: PathBuf::from(format!("plan of {}", study.name())),
        what: "study plan",
        source,
    })
}

impl<S: Study> AnyStudy for S {
    fn name(&self) -> &'static str {
        Study::name(self)
    }
    fn title(&self) -> &'static str {
        Study::title(self)
    }
    fn in_profile(&self, profile: Profile) -> bool {
        Study::in_profile(self, profile)
    }
    fn data_note(&self) -> Option<&'static str> {
        Study::data_note(self)
    }
    fn needs_cifar(&self) -> bool {
        Study::needs_cifar(self)
    }
    fn plan(&self, request: &Request, data: Option<&DataSet>) -> Result<Value> {
        if request.overrides.seeds == Some(0) {
            return Err(StudyError::invalid("--seeds", "must be at least 1"));
        }
        if Study::needs_cifar(self) {
            crate::data::required(data, Study::name(self))?;
        }
        let plan = Study::plan(self, request, data)?;
        serde_json::to_value(&plan).map_err(|source| StudyError::Serialize {
            what: "a study plan",
            source,
        })
    }
    fn describe(&self, plan: &Value, out: &Path) -> Result<String> {
        let plan = typed(self, plan)?;
        let cells = self.cells(&plan);
        let todo = pending(self, &store_of(out, Study::name(self)), &cells)?.len();
        Ok(format!(
            "{}: {} cells, {todo} to run; {}",
            Study::name(self),
            cells.len(),
            Study::describe(self, &plan)
        ))
    }
    fn units(&self, plan: &Value) -> Result<Vec<String>> {
        let plan = typed(self, plan)?;
        match self.single_unit(&plan)? {
            Some(id) => Ok(vec![id]),
            None => self.cells(&plan).iter().map(|c| self.cell_id(c)).collect(),
        }
    }
    fn estimate(&self, plan: &Value, env: &Env) -> Result<Estimate> {
        let plan = typed(self, plan)?;
        let cells = self.cells(&plan);
        let todo = pending(self, &store_of(&env.out, Study::name(self)), &cells)?;
        if todo.is_empty() {
            return Ok(Estimate {
                seconds: 0.0,
                detail: "nothing to run".into(),
            });
        }
        let ctx = context(self, &plan, env)?;
        let cells: Vec<&S::Cell> = todo.iter().map(|(c, _)| *c).collect();
        let mut estimate = Study::estimate(self, &plan, &ctx, &cells)?;
        estimate.seconds *= ESTIMATE_MARGIN;
        Ok(estimate)
    }
    fn run(
        &self,
        plan: &Value,
        env: &Env,
        unit: Option<&str>,
        progress: &dyn Progress,
    ) -> Result<Option<Vec<String>>> {
        let plan = typed(self, plan)?;
        let mut cells = self.cells(&plan);
        if let Some(unit) = unit
            && self.single_unit(&plan)?.as_deref() != Some(unit)
        {
            let mut chosen = None;
            for cell in cells {
                if self.cell_id(&cell)? == unit {
                    chosen = Some(cell);
                    break;
                }
            }
            match chosen {
                Some(cell) => cells = vec![cell],
                None => return Ok(None),
            }
        }
        if pending(self, &store_of(&env.out, Study::name(self)), &cells)?.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let ctx = context(self, &plan, env)?;
        run_cells(self, &ctx, &cells, env, progress).map(Some)
    }
    fn summarize(&self, plan: &Value, out: &Path) -> Result<Summarized> {
        summarize(self, &typed(self, plan)?, out)
    }
    fn summarize_finished(&self, plan: &Value, out: &Path) -> Result<Finished> {
        summarize_finished(self, &typed(self, plan)?, out)
    }
}

/// Every plan of one invocation; this is what `plan.json` holds.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Plans {
    /// Profile name.
    pub profile: String,
    /// `(study name, plan)` of each study that runs.
    pub studies: Vec<(String, Value)>,
    /// What could not run, and why.
    pub skipped: Vec<String>,
}
