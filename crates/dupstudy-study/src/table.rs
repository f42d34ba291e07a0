//! Summaries as one typed long-format table, and its one CSV writer.

use dupstudy_metrics::Summary;

/// A summary statistic of one row: over `n` seeds, or a single value computed from them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Statistic {
    /// Seeds (or models) it is computed from.
    pub n: usize,
    /// The value (a mean over seeds, or a statistic of all of them).
    pub mean: f64,
    /// Sample standard deviation over seeds, when there are several.
    pub std: Option<f64>,
    /// The 95 % interval (the mean itself for a single seed), or `None` for a statistic
    /// without one.
    pub interval: Option<(f64, f64)>,
}

impl Statistic {
    /// From a summary over seeds.
    pub fn of(s: &Summary) -> Self {
        Self {
            n: s.n,
            mean: s.mean,
            std: s.std,
            interval: Some((s.ci_low(), s.ci_high())),
        }
    }

    /// A statistic of `n` seeds without an interval (e.g. a bias-variance term).
    pub fn value(n: usize, value: f64) -> Self {
        Self {
            n,
            mean: value,
            std: None,
            interval: None,
        }
    }
}

/// One row: which study, series, D-rate, arm, evaluation and metric, and its estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The study's name.
    pub study: &'static str,
    /// The series (a duplication policy or a training-list variant).
    pub series: String,
    /// D-rate in percent.
    pub d_rate: f64,
    /// Which model or statistic: `original`, `duplicated`, `delta`, `value`, `delta_vs_d0`.
    pub arm: &'static str,
    /// Where it was measured: `test`, `train`, `train_list`, `robust`, `duplicates`, ...
    pub evaluation: &'static str,
    /// The metric.
    pub metric: &'static str,
    /// Its value.
    pub estimate: Statistic,
}

/// A study's summary table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    /// Rows, in the order they were added.
    pub rows: Vec<Row>,
}

/// The CSV header of every study's `summary.csv`.
pub const CSV_HEADER: &str =
    "study,series,d_rate,arm,evaluation,metric,n,mean,std,ci95_low,ci95_high";

impl Table {
    /// Adds a row.
    pub fn push(&mut self, row: Row) {
        self.rows.push(row);
    }

    /// The row with these keys, if any.
    pub fn get(
        &self,
        series: &str,
        d_rate: f64,
        arm: &str,
        evaluation: &str,
        metric: &str,
    ) -> Option<&Row> {
        self.rows.iter().find(|r| {
            r.series == series
                && r.d_rate.to_bits() == d_rate.to_bits()
                && r.arm == arm
                && r.evaluation == evaluation
                && r.metric == metric
        })
    }

    /// The table as Markdown: one line per row, the mean and its 95 % interval in the
    /// table's own units (empty where a statistic has none or rests on one seed).
    pub fn to_markdown(&self) -> String {
        let mut out = String::from(
            "| series | d_rate | arm | evaluation | metric | n | mean | 95 % interval |\n|---|---:|---|---|---|---:|---:|---|\n",
        );
        for r in &self.rows {
            let e = &r.estimate;
            let interval = e
                .interval
                .filter(|_| e.n > 1)
                .map_or(String::new(), |(lo, hi)| format!("[{lo:.4}, {hi:.4}]"));
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {:.4} | {interval} |\n",
                r.series, r.d_rate, r.arm, r.evaluation, r.metric, e.n, e.mean
            ));
        }
        out
    }

    /// The table as CSV (numbers in Rust's shortest round-trip form; empty fields where a
    /// statistic has no standard deviation or interval).
    pub fn to_csv(&self) -> String {
        let mut out = String::from(CSV_HEADER);
        out.push('\n');
        let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
        for r in &self.rows {
            let e = &r.estimate;
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{},{}\n",
                r.study,
                r.series,
                r.d_rate,
                r.arm,
                r.evaluation,
                r.metric,
                e.n,
                e.mean,
                opt(e.std),
                opt(e.interval.map(|i| i.0)),
                opt(e.interval.map(|i| i.1)),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_one_header_and_hand_computed_numbers() {
        let mut t = Table::default();
        let s = Summary::of(&[0.5, 0.7]).unwrap();
        t.push(Row {
            study: "gaussian",
            series: "uniform".into(),
            d_rate: 50.0,
            arm: "delta",
            evaluation: "test",
            metric: "acc_overall",
            estimate: Statistic::of(&s),
        });
        t.push(Row {
            study: "gaussian",
            series: "uniform".into(),
            d_rate: 50.0,
            arm: "duplicated",
            evaluation: "test_vs_bayes",
            metric: "bv_bias_all",
            estimate: Statistic::value(2, 0.25),
        });
        let csv = t.to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], CSV_HEADER);
        // mean 0.6, std sqrt(0.02), t(0.975, 1) = 12.706: half width 12.706 * 0.1.
        let fields: Vec<&str> = lines[1].split(',').collect();
        assert_eq!(
            &fields[..7],
            &[
                "gaussian",
                "uniform",
                "50",
                "delta",
                "test",
                "acc_overall",
                "2"
            ]
        );
        let num = |k: usize| fields[k].parse::<f64>().unwrap();
        assert!((num(7) - 0.6).abs() < 1e-12);
        assert!((num(8) - 0.02f64.sqrt()).abs() < 1e-12);
        assert!((num(9) - (0.6 - 12.706_204_736 * 0.1)).abs() < 1e-6);
        assert!((num(10) - (0.6 + 12.706_204_736 * 0.1)).abs() < 1e-6);
        assert!(lines[2].ends_with(",2,0.25,,,"), "{}", lines[2]);
        assert!(
            t.get("uniform", 50.0, "delta", "test", "acc_overall")
                .is_some()
        );
        assert!(
            t.get("uniform", 40.0, "delta", "test", "acc_overall")
                .is_none()
        );
    }
}
