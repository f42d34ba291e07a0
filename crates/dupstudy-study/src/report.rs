//! The report model: a header, the verdict table of every study, and one section per study
//! with its text, tables and figures; rendered to markdown here, figures drawn by the caller.

use crate::claims::ClaimCheck;
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
    /// Code revisions that computed the cells, when they differ from `revision`.
    pub cell_revisions: Vec<String>,
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
    /// One section per study.
    pub sections: Vec<Section>,
}

impl Report {
    /// The markdown text.
    pub fn render(&self) -> String {
        let mut md = String::new();
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
        md.push_str(&format!("- Device: {}\n", self.device));
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
             A-60; natural duplicates: N-leak and N-twins, its two directional claims); the \
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
                    Some(p) => format!("{} (p = {})", v.label(), fmt_p(p)),
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
        for section in &self.sections {
            md.push_str(&format!("\n## {}\n\n{}\n", section.title, section.render()));
        }
        md
    }
}

/// A p-value with two significant digits (`< 0.0001` below that).
fn fmt_p(p: f64) -> String {
    if p < 1e-4 {
        "< 0.0001".into()
    } else if p < 0.01 {
        format!("{p:.4}")
    } else {
        format!("{p:.2}")
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
    use crate::claims::Verdict;

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
            sections: vec![section],
        };
        let md = report.render();
        assert!(
            md.contains("| G5 | c | p | r | o | **inconclusive**: the interval reaches past the margin | secondary |"),
            "{md}"
        );
        assert!(md.contains("- G5: because"));
        assert!(md.contains("## Gaussian\n\nbody\n\n![a figure](gaussian/f.svg)"));
        assert!(md.contains("Wall time: 1 min 15 s (estimated at the start: 1 min 20 s)"));
        assert!(md.contains("Cells computed by: `old`"));
        assert!(md.contains("CIFAR-10 missing"));
        assert_eq!(human_duration(7322.0), "2 h 02 min");
    }
}
