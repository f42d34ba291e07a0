//! A new study is one module and one registry line: this toy study (a biased coin, flipped
//! per seed) implements only [`Study`]; the driver gives it ids, the shared checks, saving,
//! resuming and the Holm column, exactly as it does for the studies in the registry.

use std::path::PathBuf;
use std::sync::Arc;

use candle_core::Device;
use dupstudy_metrics::Summary;
use dupstudy_study::claims::{ClaimSpec, PaperValue, Rule, Unit, Verdict};
use dupstudy_study::data::DataSet;
use dupstudy_study::progress::Silent;
use dupstudy_study::report::Section;
use dupstudy_study::table::{Row, Statistic, Table};
use dupstudy_study::{
    AnyStudy, CellIo, Computed, Env, Estimate, Overrides, Profile, Request, Result, Study,
    StudySummary,
};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Flips a coin that lands heads with probability `p`, `flips` times per seed.
struct Coin;

#[derive(Clone, Serialize, Deserialize)]
struct Plan {
    p: f64,
    flips: usize,
    seeds: u64,
}

#[derive(Clone, Serialize, Deserialize)]
struct Cell {
    p: f64,
    flips: usize,
    seed: u64,
    version: u32,
}

#[derive(Serialize, Deserialize)]
struct Flips {
    heads: f64,
}

const CLAIMS: &[ClaimSpec] = &[ClaimSpec {
    id: "T-heads",
    words: "The coin lands heads more than half the time",
    paper: PaperValue::Text("not in the paper: a toy"),
    measure: "share of heads minus 0.5, mean over seeds",
    rule: Rule::Positive,
    unit: Unit::Share,
    primary: true,
    margin_reason: None,
}];

impl Study for Coin {
    type Plan = Plan;
    type Cell = Cell;
    type Result = Flips;
    type Context = ();

    fn name(&self) -> &'static str {
        "toy"
    }
    fn title(&self) -> &'static str {
        "A biased coin"
    }
    fn plan(&self, request: &Request, _data: Option<&DataSet>) -> Result<Plan> {
        Ok(Plan {
            p: 0.6,
            flips: 2_000,
            seeds: request.overrides.seeds.unwrap_or(5),
        })
    }
    fn describe(&self, plan: &Plan) -> String {
        format!("{} flips x {} seeds", plan.flips, plan.seeds)
    }
    fn cells(&self, plan: &Plan) -> Vec<Cell> {
        (0..plan.seeds)
            .map(|seed| Cell {
                p: plan.p,
                flips: plan.flips,
                seed,
                version: 1,
            })
            .collect()
    }
    fn cell_label(&self, cell: &Cell) -> String {
        format!("s{}", cell.seed)
    }
    fn parallel_cells(&self) -> bool {
        true
    }
    fn context(&self, _plan: &Plan, _env: &Env) -> Result<()> {
        Ok(())
    }
    fn estimate(&self, _plan: &Plan, _ctx: &(), pending: &[&Cell]) -> Result<Estimate> {
        Ok(Estimate {
            seconds: 1e-4 * pending.len() as f64,
            detail: "a guess".into(),
        })
    }
    fn run_cell(&self, _ctx: &(), cell: &Cell, _io: &CellIo<'_>) -> Result<Computed<Flips>> {
        let mut rng = dupstudy_study::seeding::stream(&format!("toy/seed={}", cell.seed));
        let heads = (0..cell.flips).filter(|_| rng.random::<f64>() < cell.p);
        Ok(Computed {
            result: Flips {
                heads: heads.count() as f64 / cell.flips as f64,
            },
            seconds: 0.0,
            device: None,
        })
    }
    fn claims(&self) -> &'static [ClaimSpec] {
        CLAIMS
    }
    fn summarize(
        &self,
        plan: &Plan,
        records: &[dupstudy_study::store::CellRecord<Cell, Flips>],
    ) -> Result<StudySummary> {
        let excess: Vec<f64> = records.iter().map(|r| r.result.heads - 0.5).collect();
        let s = Summary::of(&excess)?;
        let mut table = Table::default();
        table.push(Row {
            study: "toy",
            series: "coin".into(),
            d_rate: 0.0,
            arm: "value",
            evaluation: "flips",
            metric: "heads_minus_half",
            estimate: Statistic::of(&s),
        });
        let spec = &CLAIMS[0];
        let ours = (format!("{:+.3}", s.mean), spec.rule.judge_summary(&s));
        let check = spec
            .check(None, ours, None)
            .with_p_value(spec.rule.p_value(&s));
        let mut section = Section::new(Study::title(self), "toy");
        section.text(format!("{} flips per seed.\n", plan.flips));
        Ok(StudySummary {
            table,
            claims: vec![check],
            scale: Study::describe(self, plan),
            section,
        })
    }
}

#[test]
fn a_new_study_is_one_module_and_one_registry_line() {
    // The registry line.
    let registry: Vec<Box<dyn AnyStudy>> = vec![Box::new(Coin)];
    let study = &registry[0];
    let out = std::env::temp_dir().join(format!("dupstudy-toy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let env = Env {
        data: None,
        device: Device::Cpu,
        revision: "test".into(),
        out: out.clone(),
        progress: Arc::new(Silent),
    };
    let request = |seeds| Request {
        profile: Profile::Smoke,
        overrides: Overrides {
            seeds,
            ..Overrides::default()
        },
    };
    assert!(study.plan(&request(Some(0)), None).is_err(), "--seeds 0");
    let plan = study.plan(&request(None), None).unwrap();
    assert!(study.units(&plan).unwrap()[0].starts_with("toy-s0-"));
    let first = study.run(&plan, &env, None, &Silent).unwrap().unwrap();
    assert_eq!(first.len(), 5);
    let again = study.run(&plan, &env, None, &Silent).unwrap().unwrap();
    assert!(again.is_empty(), "a finished cell is never run twice");
    let summarized = study.summarize(&plan, &out).unwrap();
    let claim = &summarized.summary.claims[0];
    assert_eq!(claim.verdict, Verdict::Holds, "{}", claim.ours);
    assert!(claim.corrected.is_some(), "the driver adds the Holm column");
    assert!(PathBuf::from(&out).join("toy/summary.csv").is_file());
    let _ = std::fs::remove_dir_all(out);
}
