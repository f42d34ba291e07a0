//! `cargo xtask submit --slurm [reproduce's flags]`: the study as a Slurm array job (one
//! task per work unit, `scripts/slurm-array.sh`) and a dependent job that renders the report.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use dupstudy_study::store::{write_atomic, write_json_atomic};

use crate::flags::{ReproduceArgs, SubmitArgs};
use crate::reproduce;

/// Runs `cargo xtask submit`.
pub fn run(args: &SubmitArgs, root: &Path) -> Result<()> {
    if !args.slurm {
        bail!("--slurm is required (Slurm is the only scheduler `submit` knows)");
    }
    if args.cpus_per_task == 0 {
        bail!("--cpus-per-task must be at least 1");
    }
    let out = absolute(&reproduce::out_dir(&args.run, root))?;
    std::fs::create_dir_all(out.join("slurm"))
        .with_context(|| format!("creating {}", out.join("slurm").display()))?;
    let units = reproduce::write_plan(&args.run, root, &out)?;
    if units.is_empty() {
        bail!("the plan of {} has no work units", out.display());
    }
    write_atomic(&out.join("units.txt"), (units.join("\n") + "\n").as_bytes())?;
    let xtask = std::env::current_exe().context("locating this xtask binary")?;
    let script = root.join("scripts/slurm-array.sh");
    if !script.is_file() {
        bail!("{} is missing: submit from a checkout", script.display());
    }
    // What every task passes to `run-cell` (the data folder as given, made absolute, so a
    // node without it fails naming it).
    let mut task_flags: Vec<String> = vec!["--device".into(), args.run.device.name().into()];
    if let Some(dir) = &args.run.data_dir {
        task_flags.push("--data-dir".into());
        task_flags.push(absolute(dir)?.display().to_string());
    }
    let mut common: Vec<String> = vec![
        format!("--cpus-per-task={}", args.cpus_per_task),
        format!("--chdir={}", root.display()),
        format!(
            "--export=ALL,DUPSTUDY_XTASK={},DUPSTUDY_ROOT={}",
            xtask.display(),
            root.display()
        ),
    ];
    if args.gpus > 0 {
        common.push(format!("--gres=gpu:{}", args.gpus));
    }
    common.extend(args.sbatch.iter().cloned());

    let mut array = vec![
        "--parsable".to_string(),
        "--job-name=dupstudy".into(),
        format!("--array=0-{}", units.len() - 1),
        format!("--output={}/slurm/%A_%a.log", out.display()),
    ];
    array.extend(common.iter().cloned());
    array.push(script.display().to_string());
    array.push(out.display().to_string());
    array.extend(task_flags);

    let mut aggregate_cmd = vec![xtask.display().to_string(), "reproduce".into()];
    aggregate_cmd.extend(args.run.to_args());
    aggregate_cmd.push("--out".into());
    aggregate_cmd.push(out.display().to_string());
    let wrap = aggregate_cmd
        .iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ");

    if args.dry_run {
        println!("sbatch {}", quoted(&array));
        println!(
            "sbatch --parsable --job-name=dupstudy-report --dependency=afterany:<array job> --output={}/slurm/report-%j.log {} --wrap {}",
            out.display(),
            quoted(&common),
            shell_quote(&wrap)
        );
        return Ok(());
    }
    let array_id = sbatch(&array)?;
    let mut report = vec![
        "--parsable".to_string(),
        "--job-name=dupstudy-report".into(),
        format!("--dependency=afterany:{array_id}"),
        format!("--output={}/slurm/report-%j.log", out.display()),
    ];
    report.extend(common);
    report.push(format!("--wrap={wrap}"));
    let report_id = sbatch(&report)?;
    write_json_atomic(
        &out.join("slurm/jobs.json"),
        &serde_json::json!({"array": array_id, "report": report_id, "units": units.len()}),
    )?;
    println!("array job: {array_id} ({} units)", units.len());
    println!("report job: {report_id} (runs after the array ends, whatever its tasks' states)");
    println!("report: {}", out.join("REPORT.md").display());
    println!("logs: {}", out.join("slurm").display());
    Ok(())
}

/// Runs `sbatch ARGS` and returns the job id it printed (`--parsable`: `id[;cluster]`).
fn sbatch(args: &[String]) -> Result<String> {
    let output = Command::new("sbatch")
        .args(args)
        .output()
        .context("running sbatch (is Slurm installed and SLURM_CONF set?)")?;
    if !output.status.success() {
        bail!(
            "sbatch {} failed: {}",
            quoted(args),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let id = text.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        bail!("sbatch printed no job id: {text:?}");
    }
    Ok(id)
}

fn absolute(path: &Path) -> Result<PathBuf> {
    if path.is_absolute() {
        Ok(path.to_path_buf())
    } else {
        Ok(std::env::current_dir()
            .context("reading the current folder")?
            .join(path))
    }
}

/// `text` as one POSIX shell word.
fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

fn quoted(args: &[String]) -> String {
    args.iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

impl ReproduceArgs {
    /// The flags that give the same plan, as command-line words (`--out` left out).
    pub fn to_args(&self) -> Vec<String> {
        let mut out = vec!["--profile".to_string(), self.profile.name().to_string()];
        let list = |v: &[f64]| {
            v.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        if !self.study.is_empty() {
            out.extend(["--study".into(), self.study.join(",")]);
        }
        if let Some(s) = self.seeds {
            out.extend(["--seeds".into(), s.to_string()]);
        }
        if let Some(d) = &self.d_rates {
            out.extend(["--d-rates".into(), list(d)]);
        }
        out.extend(self.study_flags.to_args());
        if let Some(j) = self.jobs {
            out.extend(["--jobs".into(), j.to_string()]);
        }
        if let Some(d) = &self.data_dir {
            let d = absolute(d).unwrap_or_else(|_| d.clone());
            out.extend(["--data-dir".into(), d.display().to_string()]);
        }
        out.extend(["--device".into(), self.device.name().into()]);
        if self.offline {
            out.push("--offline".into());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::flags::{Cli, Command};

    fn parse(line: &[&str]) -> ReproduceArgs {
        let mut argv = vec!["xtask", "reproduce"];
        argv.extend_from_slice(line);
        match Cli::parse_from(argv).command {
            Command::Reproduce(args) => args,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn forwarded_flags_give_the_same_arguments_back() {
        let line = [
            "--profile",
            "smoke",
            "--study",
            "gaussian,cifar-standard",
            "--seeds",
            "2",
            "--d-rates",
            "0,30,60",
            "--policy",
            "uniform,weighted",
            "--weighted-p-plus",
            "0.7",
            "--replacement",
            "with",
            "--gamma",
            "scale",
            "--c",
            "2",
            "--epochs",
            "3",
            "--train-subset",
            "512",
            "--offline",
        ];
        let args = parse(&line);
        let again_words = args.to_args();
        let again: Vec<&str> = again_words.iter().map(String::as_str).collect();
        let round = parse(&again);
        assert_eq!(round.to_args(), args.to_args());
        assert_eq!(round.overrides(), args.overrides());
        assert_eq!(round.profile, args.profile);
        assert_eq!(round.study, args.study);
    }

    #[test]
    fn words_are_quoted_for_the_shell() {
        assert_eq!(shell_quote("--out"), "--out");
        assert_eq!(shell_quote("/a b/c"), "'/a b/c'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
