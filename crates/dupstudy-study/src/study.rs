//! The shape every study has, and the registry of studies.
//!
//! Data flows down: request -> plan -> cells -> records -> summary (table, claims, section)
//! -> report. A study fills in the boxes ([`Study`]); the [driver](crate::driver) owns the
//! arrows: it claims, runs, saves and resumes cells for every study alike.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::claims::{ClaimCheck, ClaimSpec};
use crate::data::DataSet;
use crate::error::Result;
use crate::profile::{Env, Profile, Request};
use crate::progress::Progress;
use crate::report::Section;
use crate::store::CellRecord;
use crate::table::Table;

/// What a running cell may use besides its configuration.
pub struct CellIo<'a> {
    /// The cell's checkpoint folder (removed by the driver once the cell is saved).
    pub checkpoint: &'a Path,
    /// Where to report the cell's own progress.
    pub progress: &'a dyn Progress,
}

/// A cell's computed result, with how long it took and where.
#[derive(Debug, Clone)]
pub struct Computed<R> {
    /// The result.
    pub result: R,
    /// Seconds, including an earlier run the cell resumed.
    pub seconds: f64,
    /// The compute device, when it matters.
    pub device: Option<String>,
}

/// A time estimate for the cells still to run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Estimate {
    /// Seconds, margin included.
    pub seconds: f64,
    /// How it was measured, in words.
    pub detail: String,
}

/// What a study's summary gives the report.
#[derive(Debug, Clone)]
pub struct StudySummary {
    /// The long-format table (written as `summary.csv`).
    pub table: Table,
    /// The verdict rows.
    pub claims: Vec<ClaimCheck>,
    /// The scale the verdicts were judged at (data, epochs, seeds, accuracy reached), for
    /// the line beside the verdict table.
    pub scale: String,
    /// The report section, figures included.
    pub section: Section,
}

/// One study: its plan, cells, how a cell runs, and how finished cells are summarized.
pub trait Study: Sync {
    /// The whole study's configuration (stored in `plan.json`).
    type Plan: Serialize + DeserializeOwned + Clone + Send + Sync;
    /// One cell's configuration; its id is derived from all of it.
    type Cell: Serialize + DeserializeOwned + Clone + Send + Sync;
    /// What a cell computes: a struct (its fields are flattened into the cell record).
    type Result: Serialize + DeserializeOwned + Send + Sync;
    /// What every cell of a run shares (data, models), built once.
    type Context: Sync;

    /// The name in paths, ids, `--study` and the report.
    fn name(&self) -> &'static str;
    /// The report section's heading.
    fn title(&self) -> &'static str;
    /// Whether the study runs under `profile` when `--study` names none: every general
    /// profile by default; a study claims its own single-study profile here.
    fn in_profile(&self, profile: Profile) -> bool {
        profile.runs_every_study()
    }
    /// A line on the study's own data for the report's header (e.g. synthetic data), if
    /// any.
    fn data_note(&self) -> Option<&'static str> {
        None
    }
    /// Whether the study needs CIFAR-10.
    fn needs_cifar(&self) -> bool {
        false
    }
    /// The plan for a request, validated before any work starts (errors name the flag). The
    /// driver has checked what every study shares: `--seeds` at least 1, and `data` given
    /// when the study [needs CIFAR-10](Study::needs_cifar).
    ///
    /// # Errors
    /// An invalid parameter, naming its flag.
    fn plan(&self, request: &Request, data: Option<&DataSet>) -> Result<Self::Plan>;
    /// One line describing the plan, for the start of a run.
    fn describe(&self, plan: &Self::Plan) -> String;
    /// Every cell of the plan.
    fn cells(&self, plan: &Self::Plan) -> Vec<Self::Cell>;
    /// The readable middle of a cell's id (e.g. `uniform-d30-s0`).
    fn cell_label(&self, cell: &Self::Cell) -> String;
    /// A cell's id, `<name>-<label>-<hash of {"study": name, ...cell}>` (provided; see
    /// [`crate::store::cell_id`]).
    ///
    /// # Errors
    /// Serialization of the configuration.
    fn cell_id(&self, cell: &Self::Cell) -> Result<String> {
        crate::store::cell_id(self.name(), &self.cell_label(cell), cell)
    }
    /// Whether the driver runs cells side by side (each cell single-threaded) or one at a
    /// time (each cell using every thread).
    fn parallel_cells(&self) -> bool;
    /// A cell's share of the study's work, for progress bars.
    fn cell_weight(&self, cell: &Self::Cell) -> u64 {
        let _ = cell;
        1
    }
    /// Work units for `plan` / `run-cell`: `None` runs each cell as its own unit, `Some(id)`
    /// the whole study as one unit with that id (for studies whose cells take milliseconds).
    ///
    /// # Errors
    /// Serialization of the plan.
    fn single_unit(&self, plan: &Self::Plan) -> Result<Option<String>> {
        let _ = plan;
        Ok(None)
    }
    /// The SHA-256 of the CIFAR-10 copy `plan` was made from; the driver checks it against
    /// the data given before any cell runs (`None`: the study uses no data set).
    fn planned_data(&self, plan: &Self::Plan) -> Option<String> {
        let _ = plan;
        None
    }
    /// The shared context.
    ///
    /// # Errors
    /// Missing data, bad parameters.
    fn context(&self, plan: &Self::Plan, env: &Env) -> Result<Self::Context>;
    /// Estimated time of `pending` cells, measured on this machine now (the driver adds
    /// its margin, [`crate::driver::ESTIMATE_MARGIN`]).
    ///
    /// # Errors
    /// As running a cell.
    fn estimate(
        &self,
        plan: &Self::Plan,
        ctx: &Self::Context,
        pending: &[&Self::Cell],
    ) -> Result<Estimate>;
    /// Runs one cell (resuming from `io.checkpoint` if the study checkpoints).
    ///
    /// # Errors
    /// Anything that stops the cell; nothing is saved then.
    fn run_cell(
        &self,
        ctx: &Self::Context,
        cell: &Self::Cell,
        io: &CellIo<'_>,
    ) -> Result<Computed<Self::Result>>;
    /// The claims this study judges, as data.
    fn claims(&self) -> &'static [ClaimSpec];
    /// The summary of the finished cells of `plan` (in the order of [`Study::cells`]).
    ///
    /// # Errors
    /// Inconsistent records.
    fn summarize(
        &self,
        plan: &Self::Plan,
        records: &[CellRecord<Self::Cell, Self::Result>],
    ) -> Result<StudySummary>;
}
