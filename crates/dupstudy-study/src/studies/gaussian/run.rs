//! Running one cell: the seed's draw, its duplicates, the SVM, and the packed predictions.

use dupstudy_dup::{DuplicateDraw, DuplicationParams};
use dupstudy_gauss::{GaussianClasses, LabelledPoints};
use dupstudy_metrics::ConfusionMatrix;

use super::seeds;
use super::{CellResult, CellSpec, Context, Policy, Setting};
use crate::error::{Result, StudyError};

/// The original training draw of a seed.
pub(super) fn original_data(
    classes: &GaussianClasses,
    setting: &Setting,
    seed: u64,
) -> LabelledPoints {
    classes.sample(&mut seeds::train(setting.train_per_class, seed))
}

/// The duplicates of `policy` at `d_rate` drawn for the original data of `seed`, and the
/// training set with them appended: the cells and the boundary figure share this draw.
pub(super) fn duplicated_data(
    original: &LabelledPoints,
    policy: Policy,
    d_rate: f64,
    setting: &Setting,
    seed: u64,
) -> Result<(DuplicateDraw, LabelledPoints)> {
    let sampler = DuplicationParams::default()
        .d_rate(d_rate)
        .policy(policy.duplication())
        .replacement(setting.replacement)
        .check()?;
    let mut rng = seeds::duplicates(&policy.label(), d_rate, setting.train_per_class, seed);
    let draw = sampler.draw(original.classes(), &mut rng)?;
    let fitted = original
        .with_appended(&draw.indices)
        .ok_or_else(|| StudyError::Cell {
            id: format!("{}-d{d_rate}-s{seed}", policy.label()),
            message: "a drawn duplicate index lies outside the original points".into(),
        })?;
    Ok((draw, fitted))
}

pub(super) fn run_cell(spec: &CellSpec, ctx: &Context) -> Result<CellResult> {
    let original = original_data(&ctx.classes, &spec.setting, spec.seed);
    let (fitted, per_class, d_ratio_plus) = match spec.policy {
        None => (original.clone(), vec![0, 0], None),
        Some(policy) => {
            let (draw, fitted) =
                duplicated_data(&original, policy, spec.d_rate, &spec.setting, spec.seed)?;
            let ratio = draw.d_ratio(1);
            (fitted, draw.per_class, ratio)
        }
    };
    let model = ctx.svm.fit(fitted.features(), &fitted.labels())?;
    let classify = |points: &LabelledPoints| -> Result<(ConfusionMatrix, Vec<usize>)> {
        let predicted: Vec<usize> = model
            .predict(points.features())?
            .into_iter()
            .map(|l| usize::from(l > 0))
            .collect();
        Ok((
            ConfusionMatrix::from_predictions(points.classes(), &predicted, 2)?,
            predicted,
        ))
    };
    let (test, test_predicted) = classify(&ctx.test)?;
    let (train_original, _) = classify(&original)?;
    let (train_fitted, _) = classify(&fitted)?;
    Ok(CellResult {
        duplicates_per_class: per_class,
        d_ratio_plus,
        test,
        train_original,
        train_fitted,
        n_support: model.n_support(),
        iterations: model.iterations(),
        dual_objective: model.dual_objective(),
        converged: model.converged(),
        test_predictions: pack_bits(&test_predicted),
    })
}

/// Test-set predictions (class 0 or 1 per point) packed one bit per point as hex, as cell
/// records store them.
pub fn pack_bits(classes: &[usize]) -> String {
    classes
        .chunks(8)
        .map(|chunk| {
            let byte = chunk
                .iter()
                .enumerate()
                .fold(0u8, |b, (k, &c)| b | (u8::from(c == 1) << k));
            format!("{byte:02x}")
        })
        .collect()
}

pub(super) fn unpack_bits(id: &str, hex: &str, n: usize) -> Result<Vec<u8>> {
    let bad = |message: String| StudyError::Cell {
        id: id.to_string(),
        message,
    };
    if hex.len() != n.div_ceil(8) * 2 {
        return Err(bad(format!(
            "packed predictions hold {} hex digits, expected {} for {n} test points",
            hex.len(),
            n.div_ceil(8) * 2
        )));
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n.div_ceil(8) {
        let byte = hex
            .get(2 * i..2 * i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .ok_or_else(|| bad(format!("packed predictions are not hex at digit {}", 2 * i)))?;
        for k in 0..8 {
            if out.len() < n {
                out.push((byte >> k) & 1);
            }
        }
    }
    Ok(out)
}
