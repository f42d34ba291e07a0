//! Aggregates over seeds: tables, pooled differences, slopes per seed and the bias-variance
//! bootstrap.

use dupstudy_metrics::{BiasVariance, Summary, slopes_over_units};
use rand::Rng;
use rayon::prelude::*;

use super::seeds;
use super::summary::{Evaluation, Metric, Model, PointData};
use crate::claims::{Rule, fmt_summary};
use crate::error::Result;

pub(super) fn accuracy_table(points: &[PointData]) -> Result<String> {
    let mut t = String::from(
        "| D-rate | D-ratio +1 (%) | class -1: orig → dup | class +1: orig → dup | overall: orig → dup | Δ overall (points) |\n\
         |---:|---:|---|---|---|---:|\n",
    );
    for p in points {
        let ratio = if p.d_ratio_plus.is_empty() {
            "—".to_string()
        } else {
            fmt_summary(&Summary::of(&p.d_ratio_plus)?, true)
        };
        let cell = |metric| -> Result<String> {
            let o = Summary::of(&p.values(Model::Original, Evaluation::Test, metric))?;
            let d = Summary::of(&p.values(Model::Duplicated, Evaluation::Test, metric))?;
            Ok(format!("{:.2} → {:.2}", 100.0 * o.mean, 100.0 * d.mean))
        };
        let delta = Summary::of(&p.values(Model::Delta, Evaluation::Test, Metric::Overall))?;
        t.push_str(&format!(
            "| {} | {ratio} | {} | {} | {} | {} |\n",
            p.d_rate,
            cell(Metric::Minus)?,
            cell(Metric::Plus)?,
            cell(Metric::Overall)?,
            fmt_summary(&delta, true)
        ));
    }
    t.push_str("\nHeld-out test accuracy in %, means over seeds; Δ with its 95 % interval.\n\n");
    Ok(t)
}

/// The paper ran each D-rate once, on a fresh draw, and scored the training data. Taking
/// seed `k` for the `k`-th D-rate reproduces that protocol from our cells; the spread
/// between such single runs and the seed means shows how much of the paper's curves is
/// noise.
pub(super) fn paper_protocol_table(points: &[PointData], seeds: u64) -> String {
    if seeds < points.len() as u64 {
        return String::new();
    }
    let mut t = String::from(
        "Paper's protocol replayed (one run per D-rate, a fresh draw each — seed k for the k-th D-rate — \
         accuracy on the training data), next to the mean over all seeds:\n\n\
         | D-rate | single run: overall orig → dup | single run: class -1 / +1 (dup) | all seeds: overall orig → dup |\n\
         |---:|---|---|---|\n",
    );
    for (k, p) in points.iter().enumerate() {
        let o = p.original[k].train;
        let d = p.duplicated[k].train;
        let mean = |m: Model| {
            let v = p.values(m, Evaluation::Train, Metric::Overall);
            100.0 * v.iter().sum::<f64>() / v.len() as f64
        };
        t.push_str(&format!(
            "| {} | {:.1} → {:.1} | {:.1} / {:.1} | {:.1} → {:.1} |\n",
            p.d_rate,
            100.0 * o.overall,
            100.0 * d.overall,
            100.0 * d.minus,
            100.0 * d.plus,
            mean(Model::Original),
            mean(Model::Duplicated)
        ));
    }
    t.push('\n');
    t
}

/// Per seed, the mean over D-rates > 0 of a paired difference.
pub(super) fn pooled_delta(
    points: &[PointData],
    eval: Evaluation,
    metric: Metric,
) -> Option<Summary> {
    let per_point: Vec<Vec<f64>> = points
        .iter()
        .filter(|p| p.d_rate > 0.0)
        .map(|p| p.values(Model::Delta, eval, metric))
        .collect();
    let seeds = per_point.first()?.len();
    let pooled: Vec<f64> = (0..seeds)
        .map(|s| per_point.iter().map(|v| v[s]).sum::<f64>() / per_point.len() as f64)
        .collect();
    Summary::of(&pooled).ok()
}

/// The trend of Δ overall accuracy against D-rate: one slope per seed over the D-rates above
/// 0 (Δ at D-rate 0 is 0 by construction), then the t interval over seeds.
pub(super) fn overall_trend(
    points: &[PointData],
    eval: Evaluation,
) -> std::result::Result<Summary, String> {
    let points: Vec<&PointData> = points.iter().filter(|p| p.d_rate > 0.0).collect();
    let per_point: Vec<Vec<f64>> = points
        .iter()
        .map(|p| p.values(Model::Delta, eval, Metric::Overall))
        .collect();
    let x: Vec<f64> = points.iter().map(|p| p.d_rate).collect();
    let seeds = per_point.first().map_or(0, Vec::len);
    let units: Vec<(Vec<f64>, Vec<f64>)> = (0..seeds)
        .map(|s| (x.clone(), per_point.iter().map(|v| v[s]).collect()))
        .collect();
    slopes_over_units(&units).map_err(|e| e.to_string())
}

/// `slope [low, high]` of a per-seed slope summary, scaled by `k`, with its unit count.
pub(super) fn fmt_slopes(s: &Summary, k: f64) -> String {
    match s.ci_half_width {
        Some(_) => format!(
            "{:+.3} [{:+.3}, {:+.3}]",
            k * s.mean,
            k * s.ci_low(),
            k * s.ci_high()
        ),
        None => format!("{:+.3}", k * s.mean),
    }
}

pub(super) fn nearest(points: &[PointData], d_rate: f64) -> Option<&PointData> {
    points.iter().filter(|p| p.d_rate > 0.0).min_by(|a, b| {
        (a.d_rate - d_rate)
            .abs()
            .total_cmp(&(b.d_rate - d_rate).abs())
    })
}

/// G3 per seed: the slope of the class-gap change (Δacc+1 − Δacc−1) on the D-ratio's
/// deviation from 0.5 over the D-rates above 0, then the t interval over seeds.
pub(super) fn g3_slopes(
    points: &[PointData],
    eval: Evaluation,
) -> dupstudy_metrics::Result<Summary> {
    let points: Vec<&PointData> = points.iter().filter(|p| p.d_rate > 0.0).collect();
    let seeds = points.first().map_or(0, |p| p.d_ratio_plus.len());
    let gaps: Vec<(Vec<f64>, Vec<f64>)> = points
        .iter()
        .map(|p| {
            (
                p.values(Model::Delta, eval, Metric::Plus),
                p.values(Model::Delta, eval, Metric::Minus),
            )
        })
        .collect();
    let units: Vec<(Vec<f64>, Vec<f64>)> = (0..seeds)
        .map(|s| {
            let x = points.iter().map(|p| p.d_ratio_plus[s] - 0.5).collect();
            let y = gaps
                .iter()
                .map(|(plus, minus)| plus[s] - minus[s])
                .collect();
            (x, y)
        })
        .collect();
    slopes_over_units(&units)
}

/// Paired bootstrap over seeds of (duplicated - original) bias-variance terms: bias on class
/// -1 points, variance on class +1 points, variance on class -1 points; each as (estimate,
/// 2.5 %, 97.5 %).
pub(super) struct BvDeltas {
    pub(super) bias_minus: (f64, f64, f64),
    pub(super) variance_plus: (f64, f64, f64),
    pub(super) variance_minus: (f64, f64, f64),
    /// p-values agreeing with the percentile intervals: bias on class −1 above 0, variance
    /// on class +1 below 0.
    pub(super) p_bias_minus: f64,
    pub(super) p_variance_plus: f64,
    pub(super) resamples: usize,
}

/// Resamples of the bias-variance bootstrap: 2,000, so that each 2.5 % tail of the 95 %
/// interval rests on 50 of them.
pub(super) const BOOTSTRAP_RESAMPLES: usize = 2_000;

pub(super) fn bootstrap_bv_deltas(
    original: &[Vec<u8>],
    duplicated: &[Vec<u8>],
    reference: &[u8],
    class_points: &[Vec<usize>; 2],
    policy: &str,
) -> Result<BvDeltas> {
    let terms = |models: &[&[u8]]| -> Result<[f64; 3]> {
        let bv = BiasVariance::decompose(models, reference, 2)?;
        let minus = bv.summary_over(&class_points[0])?;
        let plus = bv.summary_over(&class_points[1])?;
        Ok([minus.bias, plus.variance, minus.variance])
    };
    let delta = |orig: &[&[u8]], dup: &[&[u8]]| -> Result<[f64; 3]> {
        let (o, d) = (terms(orig)?, terms(dup)?);
        Ok([d[0] - o[0], d[1] - o[1], d[2] - o[2]])
    };
    let all_original: Vec<&[u8]> = original.iter().map(Vec::as_slice).collect();
    let all_duplicated: Vec<&[u8]> = duplicated.iter().map(Vec::as_slice).collect();
    let estimate = delta(&all_original, &all_duplicated)?;
    let n = original.len();
    let samples: Vec<[f64; 3]> = (0..BOOTSTRAP_RESAMPLES)
        .into_par_iter()
        .map(|b| {
            let mut rng = seeds::bootstrap(policy, b);
            let picks: Vec<usize> = (0..n)
                .map(|_| rng.random_range(0..n as u64) as usize)
                .collect();
            let o: Vec<&[u8]> = picks.iter().map(|&i| all_original[i]).collect();
            let d: Vec<&[u8]> = picks.iter().map(|&i| all_duplicated[i]).collect();
            delta(&o, &d)
        })
        .collect::<Result<_>>()?;
    let interval = |k: usize| {
        let mut v: Vec<f64> = samples.iter().map(|s| s[k]).collect();
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((q * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)];
        (estimate[k], at(0.025), at(0.975))
    };
    let p = |k: usize| {
        let v: Vec<f64> = samples.iter().map(|s| s[k]).collect();
        Rule::Positive.p_value_of_samples(&v).unwrap_or(1.0)
    };
    Ok(BvDeltas {
        bias_minus: interval(0),
        variance_plus: interval(1),
        variance_minus: interval(2),
        p_bias_minus: p(0),
        p_variance_plus: p(1),
        resamples: BOOTSTRAP_RESAMPLES,
    })
}
