//! The report model: a header, the verdict table of every study, and one section per study
//! with its text, tables and figures; rendered to markdown here, figures drawn by the caller.

use crate::claims::{ClaimCheck, Verdict};
use crate::figure::Figure;

/// A piece of a report section.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// Markdown text (paragraphs, tables).
    Text(String),
    /// A figure stored as `<section dir>/<file>` and linked from the report.
    Figure {
        /// File name inside the study's folder, e.g. `gaussian_uniform_test.svg`.
        file: String,
        /// Alternative text of the link.
        alt: String,
        /// What to draw.
        figure: Figure,
    },
}

/// One study's section of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// Heading.
    pub title: String,
    /// The study's folder under the results folder (figures are stored there).
    pub dir: String,
    /// Text and figures, in order.
    pub blocks: Vec<Block>,
}

impl Section {
    /// An empty section.
    pub fn new(title: impl Into<String>, dir: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            dir: dir.into(),
            blocks: Vec::new(),
        }
    }

    /// Appends markdown text.
    pub fn text(&mut self, text: impl Into<String>) {
        self.blocks.push(Block::Text(text.into()));
    }

    /// Appends a figure.
    pub fn figure(&mut self, file: impl Into<String>, alt: impl Into<String>, figure: Figure) {
        self.blocks.push(Block::Figure {
            file: file.into(),
            alt: alt.into(),
            figure,
        });
    }

    /// The figures with their file names.
    pub fn figures(&self) -> impl Iterator<Item = (&str, &Figure)> {
        self.blocks.iter().filter_map(|b| match b {
            Block::Figure { file, figure, .. } => Some((file.as_str(), figure)),
            Block::Text(_) => None,
        })
    }

    /// The section as markdown.
    pub fn render(&self) -> String {
        let mut md = String::new();
        for block in &self.blocks {
            match block {
                Block::Text(text) => md.push_str(text),
                Block::Figure { file, alt, .. } => {
                    md.push_str(&format!("![{alt}]({}/{file})\n\n", self.dir));
                }
            }
        }
        md
    }
}

/// What goes into the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Profile name.
    pub profile: String,
    /// Code revision that rendered the report.
    pub revision: String,
    /// Code revisions that computed the cells, all of them (`revision` included when it
    /// computed some), when any differs from `revision`; empty otherwise.
    pub cell_revisions: Vec<String>,
    /// The machines that computed the cells, each with its number of cells (a run resumed
    /// on other machines has several; `device` is the one that wrote the manifest).
    pub cell_machines: Vec<(String, usize)>,
    /// Machine and compute device.
    pub device: String,
    /// Wall time of the run in seconds, when the report ends a run.
    pub wall_seconds: Option<f64>,
    /// Seconds the run was estimated to take at its start (work not yet done then).
    pub estimated_seconds: Option<f64>,
    /// Lines about the data sets used.
    pub data: Vec<String>,
    /// Things the reader must know (studies not run, and why).
    pub notes: Vec<String>,
    /// Claim checks of every study.
    pub claims: Vec<ClaimCheck>,
    /// The scale each study's verdicts were judged at, beside the verdict table.
    pub scales: Vec<Scale>,
    /// One section per study.
    pub sections: Vec<Section>,
}

/// The scale one study's verdicts were judged at, and how they compare with the run of the
/// same study at the paper's protocol, where one is published.
#[derive(Debug, Clone, PartialEq)]
pub struct Scale {
    /// The study's title.
    pub study: String,
    /// Data, epochs, seeds and accuracy reached.
    pub scale: String,
    /// The published run at the paper's protocol (a folder of the repository), when this
    /// run is not one.
    pub paper_protocol: Option<String>,
    /// Verdicts of this run that differ from the paper-protocol run's, in words.
    pub differences: Vec<String>,
}

/// One verdict as stored in a results folder's `verdicts.json`, for other reports to compare
/// with.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StoredVerdict {
    /// The study's name.
    pub study: String,
    /// The claim row's id (with its instance suffix).
    pub id: String,
    /// The verdict's words.
    pub verdict: String,
    /// The verdict after Holm's correction, for primary claims.
    pub after_holm: Option<String>,
}

impl StoredVerdict {
    /// The stored form of a study's rows.
    pub fn of(study: &str, claims: &[ClaimCheck]) -> Vec<Self> {
        claims
            .iter()
            .map(|c| Self {
                study: study.to_string(),
                id: c.id.clone(),
                verdict: c.verdict.label(),
                after_holm: c.corrected.as_ref().map(Verdict::label),
            })
            .collect()
    }
}

/// The folder of the published run of `study` at the paper's protocol, unless `profile`
/// already is that protocol.
pub fn paper_protocol_folder(study: &str, profile: &str) -> Option<&'static str> {
    if matches!(
        profile,
        "paper" | "full" | "paper-standard" | "paper-adversarial"
    ) {
        return None;
    }
    match study {
        "cifar-standard" => Some("docs/paper-standard"),
        "cifar-adversarial" => Some("docs/paper-adversarial"),
        "cifar-natural" => Some("docs/paper-natural"),
        _ => None,
    }
}

/// The rows of `ours` whose judged verdict differs from the same claim's in `theirs` (rows
/// not tested on either side are left out), in words.
pub fn differences(ours: &[ClaimCheck], theirs: &[StoredVerdict]) -> Vec<String> {
    ours.iter()
        .filter(|c| !matches!(c.verdict, Verdict::NotTested(_)))
        .filter_map(|c| {
            let other = theirs.iter().find(|t| t.id == c.id)?;
            let label = c.verdict.label();
            (other.verdict != label && !other.verdict.starts_with("not tested")).then(|| {
                format!(
                    "{}: {} here, {} at the paper's protocol",
                    c.id,
                    label.replace("**", ""),
                    other.verdict.replace("**", "")
                )
            })
        })
        .collect()
}

impl Report {
    /// The markdown text: the header, the verdict table, the scales and margins, then
    /// every study's section.
    pub fn render(&self) -> String {
        let mut md = String::new();
        self.render_header(&mut md);
        self.render_verdicts(&mut md);
        self.render_scales(&mut md);
        self.render_margins(&mut md);
        for section in &self.sections {
            md.push_str(&format!("\n## {}\n\n{}\n", section.title, section.render()));
        }
        md
    }

    /// The title, the run's provenance, data and notes.
    fn render_header(&self, md: &mut String) {
        md.push_str("# dupstudy report: duplicates in image classification, reproduced\n\n");
        md.push_str(
            "Reproduction and extension of *The Impact of Duplicates in Image Classification* \
             (arXiv 2504.00638, DLSP 2025). Every number below comes from this run; the paper's \
             numbers are quoted for comparison.\n\n",
        );
        md.push_str(&format!(
            "- Profile: `{}`\n- Code revision: `{}`\n",
            self.profile, self.revision
        ));
        if !self.cell_revisions.is_empty() {
            md.push_str(&format!(
                "- Cells computed by: {}\n",
                self.cell_revisions
                    .iter()
                    .map(|r| format!("`{r}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if self.wall_seconds.is_some() {
            md.push_str(&format!("- Device: {}\n", self.device));
        } else {
            md.push_str(&format!(
                "- Device of the run that wrote the manifest: {}\n",
                self.device
            ));
        }
        if !self.cell_machines.is_empty() {
            md.push_str(&format!(
                "- Cells computed on: {}\n",
                self.cell_machines
                    .iter()
                    .map(|(machine, n)| format!(
                        "{machine}: {n} cell{}",
                        if *n == 1 { "" } else { "s" }
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
        match (self.wall_seconds, self.estimated_seconds) {
            (Some(wall), Some(est)) => md.push_str(&format!(
                "- Wall time: {} (estimated at the start: {})\n",
                human_duration(wall),
                human_duration(est)
            )),
            (Some(wall), None) => {
                md.push_str(&format!("- Wall time: {}\n", human_duration(wall)));
            }
            _ => md.push_str("- Re-rendered from stored cells (no training in this run)\n"),
        }
        for line in &self.data {
            md.push_str(&format!("- Data: {line}\n"));
        }
        for note in &self.notes {
            md.push_str(&format!("- **Note:** {note}\n"));
        }
    }

    /// How verdicts are read, and the verdict table.
    fn render_verdicts(&self, md: &mut String) {
        md.push_str(
            "\n## Verdicts\n\nEach claim is judged by a rule stated before the run, applied to the \
             95 % interval of the measured effect. A directional claim **holds** when the interval \
             lies on the side the paper states, **does not hold** when it lies on the other side, \
             and is **not distinguishable from noise** when it contains zero. A claim of *no* \
             effect (no gain, a bounded change) is judged against a stated margin, as an \
             equivalence test is: it **holds** only when the whole interval lies inside the \
             margin, **does not hold** when the whole interval lies beyond it, and is \
             **inconclusive** when the interval reaches past the margin. The paper measured the \
             Gaussian study on its training data; we report both that and held-out test data.\n\n\
             Many rows are judged, so one lucky interval could pass for a finding. Each study's \
             **primary** claims are the paper's directional claims it tests (Gaussian: G1, G2, \
             G3, G6-G9 and P1 per policy; CIFAR: the paper's accuracy changes S-30, S-60, A-30, \
             A-60; natural duplicates: N-leak and N-twins, its two directional claims; privacy: \
             M-dose and A-M2, the two questions it asks); the \
             column *after Holm* gives their verdict after Holm's correction over the study's \
             primary claims (family-wise error 5 %, p-values that agree with the 95 % \
             intervals). The other rows (equivalence and size readings, controls the paper \
             lacked) are secondary: read them as descriptive, uncorrected.\n\n\
             | | Claim | Paper | Rule | Ours | Verdict | After Holm | Ours, paper's measurement | Verdict |\n\
             |---|---|---|---|---|---|---|---|---|\n",
        );
        for c in &self.claims {
            let (paper_way, paper_verdict) = c
                .ours_paper_way
                .as_ref()
                .map_or(("—".to_string(), "—".to_string()), |(o, v)| {
                    (o.clone(), v.label())
                });
            let corrected = c.corrected.as_ref().map_or_else(
                || "secondary".to_string(),
                |v| match c.p_value {
                    Some(p) => format!("{} ({})", v.label(), fmt_p(p)),
                    None => v.label(),
                },
            );
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                c.id,
                c.claim,
                c.paper,
                c.rule,
                c.ours,
                c.verdict.label(),
                corrected,
                paper_way,
                paper_verdict
            ));
        }
    }

    /// The scale each study was judged at, and where its paper-protocol run is.
    fn render_scales(&self, md: &mut String) {
        if !self.scales.is_empty() {
            md.push_str("\nThe scale each study was judged at:\n\n");
            for scale in &self.scales {
                md.push_str(&format!("- {}: {}", scale.study, scale.scale));
                if let Some(folder) = &scale.paper_protocol {
                    md.push_str(&format!(
                        "; judged at the paper's protocol in `{folder}` (its REPORT.md)"
                    ));
                    if scale.differences.is_empty() {
                        md.push_str(", where no verdict differs from these");
                    } else {
                        md.push_str(&format!(
                            ". **Verdicts that the paper-protocol run reads otherwise** (that run is the one to cite): {}",
                            scale.differences.join("; ")
                        ));
                    }
                }
                md.push_str(".\n");
            }
        }
    }

    /// Every margin, once, with why it has its size.
    fn render_margins(&self, md: &mut String) {
        let mut margins: Vec<(String, &str)> = Vec::new();
        for c in &self.claims {
            if let Some(reason) = c.margin_reason {
                let base = c.id.split(' ').next().unwrap_or(&c.id).to_string();
                if !margins.iter().any(|(id, _)| *id == base) {
                    margins.push((base, reason));
                }
            }
        }
        if !margins.is_empty() {
            md.push_str("\nMargins, and why they have their size:\n\n");
            for (id, reason) in margins {
                md.push_str(&format!("- {id}: {reason}\n"));
            }
        }
    }
}

/// `p = 0.02`, `p = 0.0031` or `p < 0.0001`.
fn fmt_p(p: f64) -> String {
    if p < 1e-4 {
        "p < 0.0001".into()
    } else if p < 0.01 {
        format!("p = {p:.4}")
    } else {
        format!("p = {p:.2}")
    }
}

/// `1 h 02 min`, `3 min 05 s` or `12.3 s`.
pub fn human_duration(seconds: f64) -> String {
    let s = seconds.max(0.0);
    if s < 60.0 {
        format!("{s:.1} s")
    } else if s < 3600.0 {
        format!("{} min {:02} s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!(
            "{} h {:02} min",
            (s / 3600.0) as u64,
            ((s % 3600.0) / 60.0) as u64
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_claims_margins_and_sections() {
        let mut section = Section::new("Gaussian", "gaussian");
        section.text("body\n\n");
        section.figure(
            "f.svg",
            "a figure",
            Figure::Lines {
                caption: "c".into(),
                panels: vec![],
            },
        );
        let report = Report {
            profile: "smoke".into(),
            revision: "abc".into(),
            cell_revisions: vec!["old".into()],
            cell_machines: vec![
                ("AMD EPYC (Zen 3, family 25 model 1; L2 512K)".into(), 1),
                ("AMD EPYC (Zen 4, family 25 model 17; L2 1024K)".into(), 2),
            ],
            device: "cpu".into(),
            wall_seconds: Some(75.0),
            estimated_seconds: Some(80.0),
            data: vec!["synthetic".into()],
            notes: vec!["CIFAR-10 missing".into()],
            claims: vec![ClaimCheck {
                id: "G5".into(),
                claim: "c".into(),
                paper: "p".into(),
                rule: "r".into(),
                ours: "o".into(),
                verdict: Verdict::Inconclusive,
                ours_paper_way: None,
                margin_reason: Some("because"),
                primary: false,
                p_value: None,
                corrected: None,
            }],
            scales: vec![Scale {
                study: "Gaussian".into(),
                scale: "100 points".into(),
                paper_protocol: Some("docs/paper-x".into()),
                differences: vec!["G5: holds here, inconclusive at the paper's protocol".into()],
            }],
            sections: vec![section],
        };
        let md = report.render();
        assert!(
            md.contains("| G5 | c | p | r | o | **inconclusive**: the interval reaches past the margin | secondary |"),
            "{md}"
        );
        assert!(md.contains("- G5: because"));
        assert!(
            md.contains("- Gaussian: 100 points; judged at the paper's protocol in `docs/paper-x`")
        );
        assert!(md.contains("otherwise** (that run is the one to cite): G5: holds here"));
        assert!(md.contains("## Gaussian\n\nbody\n\n![a figure](gaussian/f.svg)"));
        assert!(md.contains("Wall time: 1 min 15 s (estimated at the start: 1 min 20 s)"));
        assert!(md.contains("Cells computed by: `old`"));
        assert!(md.contains(
            "- Cells computed on: AMD EPYC (Zen 3, family 25 model 1; L2 512K): 1 cell; \
             AMD EPYC (Zen 4, family 25 model 17; L2 1024K): 2 cells\n"
        ));
        assert!(md.contains("CIFAR-10 missing"));
        assert!(md.contains("- Device: cpu\n"));
        // Re-rendered from stored cells: the device is the manifest's, not the cells'.
        let rerendered = Report {
            wall_seconds: None,
            estimated_seconds: None,
            ..report
        }
        .render();
        assert!(rerendered.contains("- Device of the run that wrote the manifest: cpu\n"));
        assert!(rerendered.contains("- Re-rendered from stored cells (no training in this run)"));
        assert_eq!(human_duration(7322.0), "2 h 02 min");
    }

    #[test]
    fn differences_name_the_rows_read_otherwise() {
        let row = |id: &str, verdict: Verdict| ClaimCheck {
            id: id.into(),
            claim: "c".into(),
            paper: "p".into(),
            rule: "r".into(),
            ours: "o".into(),
            verdict,
            ours_paper_way: None,
            margin_reason: None,
            primary: false,
            p_value: None,
            corrected: None,
        };
        let ours = [
            row("S-30", Verdict::Holds),
            row("S-60", Verdict::Holds),
            row("S-steps", Verdict::NotTested("x".into())),
        ];
        let theirs = StoredVerdict::of(
            "cifar-standard",
            &[
                row("S-30", Verdict::NotDistinguishable),
                row("S-60", Verdict::Holds),
                row("S-steps", Verdict::Holds),
            ],
        );
        assert_eq!(
            differences(&ours, &theirs),
            ["S-30: holds here, not distinguishable from noise at the paper's protocol"]
        );
        assert_eq!(
            paper_protocol_folder("cifar-standard", "quick"),
            Some("docs/paper-standard")
        );
        assert_eq!(
            paper_protocol_folder("cifar-standard", "paper-standard"),
            None
        );
        assert_eq!(paper_protocol_folder("gaussian", "quick"), None);
    }
}
