//! `REPORT.md`: our numbers next to the paper's, with a verdict on each claim.

use crate::claims::ClaimCheck;

/// What goes into the report.
pub struct Report {
    /// Profile name.
    pub profile: String,
    /// Git revision of the code.
    pub revision: String,
    /// Machine and compute device.
    pub device: String,
    /// Wall time of the whole run, seconds.
    pub wall_seconds: f64,
    /// Seconds the run was estimated to take at its start (work not yet done then).
    pub estimated_seconds: f64,
    /// Lines about the data sets used.
    pub data: Vec<String>,
    /// Things the reader must know (studies not run, and why).
    pub notes: Vec<String>,
    /// Claim checks of every study.
    pub claims: Vec<ClaimCheck>,
    /// `(title, markdown)` of each study.
    pub sections: Vec<(String, String)>,
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
            "- Profile: `{}`\n- Code revision: `{}`\n- Device: {}\n- Wall time: {} (estimated at the start: {})\n",
            self.profile,
            self.revision,
            self.device,
            human_duration(self.wall_seconds),
            human_duration(self.estimated_seconds)
        ));
        for line in &self.data {
            md.push_str(&format!("- Data: {line}\n"));
        }
        for note in &self.notes {
            md.push_str(&format!("- **Note:** {note}\n"));
        }
        md.push_str(
            "\n## Verdicts\n\nA claim **holds** when the 95 % interval of the measured effect lies on \
             the side the paper states, **does not hold** when it lies on the other side, and is \
             **not distinguishable from noise** when it contains zero. A claim of *no* gain or no \
             improvement holds unless its interval lies above zero (a wide interval around zero is \
             consistent with it, but weak evidence). The paper measured the \
             Gaussian study on its training data; we report both that and held-out test data.\n\n\
             | | Claim | Paper | Ours | Verdict | Ours, paper's measurement | Verdict |\n\
             |---|---|---|---|---|---|---|\n",
        );
        for c in &self.claims {
            let (paper_way, paper_verdict) = c
                .ours_paper_way
                .as_ref()
                .map_or(("—".to_string(), "—".to_string()), |(o, v)| {
                    (o.clone(), v.label())
                });
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                c.id,
                c.claim,
                c.paper,
                c.ours,
                c.verdict.label(),
                paper_way,
                paper_verdict
            ));
        }
        for (title, body) in &self.sections {
            md.push_str(&format!("\n## {title}\n\n{body}\n"));
        }
        md
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
    fn renders_claims_and_sections() {
        let report = Report {
            profile: "smoke".into(),
            revision: "abc".into(),
            device: "cpu".into(),
            wall_seconds: 75.0,
            estimated_seconds: 80.0,
            data: vec!["synthetic".into()],
            notes: vec!["CIFAR-10 missing".into()],
            claims: vec![ClaimCheck {
                id: "G1".into(),
                claim: "c".into(),
                paper: "p".into(),
                ours: "o".into(),
                verdict: Verdict::Holds,
                ours_paper_way: None,
            }],
            sections: vec![("Gaussian".into(), "body".into())],
        };
        let md = report.render();
        assert!(md.contains("| G1 | c | p | o | **holds** | — | — |"));
        assert!(md.contains("## Gaussian\n\nbody"));
        assert!(md.contains("Wall time: 1 min 15 s (estimated at the start: 1 min 20 s)"));
        assert!(md.contains("CIFAR-10 missing"));
    }
}
