//! The Gaussian figures: accuracy and bias-variance against the D-rate, and the decision
//! boundaries.

use dupstudy_gauss::LabelledPoints;
use dupstudy_metrics::Summary;

use super::run::{duplicated_data, original_data};
use super::summary::{BvTerms, Evaluation, Metric, Model, PointData};
use super::{Context, Plan, Policy};
use crate::error::Result;
use crate::figure::{BandPoint, Color, Curve, Figure, MapPanel, Markers, Panel, Series};
use crate::studies::{band, capitalize};

pub(super) fn accuracy_figure(
    policy: &Policy,
    points: &[PointData],
    eval: Evaluation,
) -> Result<Figure> {
    let mut series = Vec::new();
    for (k, metric) in Metric::ALL.into_iter().enumerate() {
        for (model, dashed, tag) in [
            (Model::Original, true, "orig."),
            (Model::Duplicated, false, "dup."),
        ] {
            let pts = points
                .iter()
                .map(|p| {
                    Ok(band(
                        &Summary::of(&p.values(model, eval, metric))?,
                        p.d_rate,
                        100.0,
                    ))
                })
                .collect::<Result<Vec<_>>>()?;
            series.push(Series {
                name: format!("{} ({tag})", metric.legend()),
                points: pts,
                color: Color::Palette(k),
                dashed,
            });
        }
    }
    let ratio: Vec<BandPoint> = points
        .iter()
        .filter(|p| !p.d_ratio_plus.is_empty())
        .map(|p| Ok(band(&Summary::of(&p.d_ratio_plus)?, p.d_rate, 100.0)))
        .collect::<Result<_>>()?;
    let what = match eval {
        Evaluation::Test => "held-out test set",
        Evaluation::Train => "original training points (paper's measurement)",
    };
    Ok(Figure::Lines {
        caption: format!(
            "{} — accuracy on the {what}",
            capitalize(&policy.describe())
        ),
        panels: vec![
            Panel {
                title: "Accuracy, original (dashed) vs duplicated (solid)".into(),
                x_label: "D-rate (%)".into(),
                y_label: "accuracy (%)".into(),
                y_range: None,
                series,
            },
            Panel {
                title: "D-ratio +1 (share of duplicates from class +1)".into(),
                x_label: "D-rate (%)".into(),
                y_label: "D-ratio +1 (%)".into(),
                y_range: Some((0.0, 100.0)),
                series: vec![Series {
                    name: "D-ratio +1".into(),
                    points: ratio,
                    color: Color::Palette(3),
                    dashed: false,
                }],
            },
        ],
    })
}

pub(super) fn bias_variance_figure(
    policy: &Policy,
    points: &[PointData],
    bvs: &[BvTerms],
    original: &BvTerms,
) -> Figure {
    let flat = |x: f64, v: f64| BandPoint {
        x,
        mean: v,
        low: v,
        high: v,
    };
    let mut panels = Vec::new();
    for (title, pick_bias) in [("Bias (vs Bayes rule)", true), ("Variance", false)] {
        let mut series = Vec::new();
        for (k, part) in ["class -1 points", "class +1 points", "all points"]
            .iter()
            .enumerate()
        {
            let value = |t: &BvTerms| if pick_bias { t.bias[k] } else { t.variance[k] };
            series.push(Series {
                name: format!("{part} (dup.)"),
                points: points
                    .iter()
                    .zip(bvs)
                    .map(|(p, t)| flat(p.d_rate, value(t)))
                    .collect(),
                color: Color::Palette(k),
                dashed: false,
            });
            series.push(Series {
                name: format!("{part} (orig.)"),
                points: points
                    .iter()
                    .map(|p| flat(p.d_rate, value(original)))
                    .collect(),
                color: Color::Palette(k),
                dashed: true,
            });
        }
        panels.push(Panel {
            title: title.into(),
            x_label: "D-rate (%)".into(),
            y_label: "share of test points".into(),
            y_range: None,
            series,
        });
    }
    Figure::Lines {
        caption: format!(
            "{} — 0-1 bias and variance over seeds (Domingos)",
            capitalize(&policy.describe())
        ),
        panels,
    }
}

pub(super) fn boundary_figure(plan: &Plan, ctx: &Context) -> Result<Option<Figure>> {
    let Some(&d_rate) = plan.d_rates.last() else {
        return Ok(None);
    };
    if d_rate <= 0.0 {
        return Ok(None);
    }
    let original = original_data(&ctx.classes, &plan.setting, 0);
    let orig_model = ctx.svm.fit(original.features(), &original.labels())?;
    let range = (-3.0, 4.0);
    let decision = |model: &dupstudy_svm::SvmModel| {
        let model = model.clone();
        move |x: f64, y: f64| {
            model
                .decision_function(ndarray::array![[x, y]].view())
                .map(|v| v[0])
                .unwrap_or(f64::NAN)
        }
    };
    let orig_curve = crate::figure::zero_contour(range, range, 140, decision(&orig_model));
    let bayes = vec![[(-3.0, 4.0), (4.0, -3.0)]];
    let mut panels = Vec::new();
    for &policy in &plan.policies {
        let (draw, fitted) = duplicated_data(&original, policy, d_rate, &plan.setting, 0)?;
        let model = ctx.svm.fit(fitted.features(), &fitted.labels())?;
        let mut copies = vec![0u32; original.len()];
        for &i in &draw.indices {
            copies[i] += 1;
        }
        panels.push(MapPanel {
            title: format!(
                "{}, D-rate {d_rate}, D-ratio +1 {:.0} %",
                policy.label(),
                100.0 * draw.d_ratio(1).unwrap_or(f64::NAN)
            ),
            x_range: range,
            y_range: range,
            markers: point_markers(&original, &copies),
            curves: vec![
                Curve {
                    name: "Bayes".into(),
                    segments: bayes.clone(),
                    color: Color::Grey,
                    width: 1,
                },
                Curve {
                    name: "original fit".into(),
                    segments: orig_curve.clone(),
                    color: Color::Palette(2),
                    width: 2,
                },
                Curve {
                    name: "with duplicates".into(),
                    segments: crate::figure::zero_contour(range, range, 140, decision(&model)),
                    color: Color::Palette(3),
                    width: 2,
                },
            ],
        });
    }
    Ok(Some(Figure::Maps {
        caption: "SVM decision boundaries before and after duplication (seed 0)".into(),
        panels,
    }))
}

/// The original points of each class (dots) and the duplicated ones (rings, larger for more
/// copies).
fn point_markers(original: &LabelledPoints, copies: &[u32]) -> Vec<Markers> {
    let markers = |class: usize, color| Markers {
        name: format!("class {}", if class == 0 { "-1" } else { "+1" }),
        points: (0..original.len())
            .filter(|&i| original.classes()[i] == class)
            .map(|i| (original.point(i)[0], original.point(i)[1], 3))
            .collect(),
        color,
        filled: true,
    };
    let rings = Markers {
        name: "duplicated point".into(),
        points: (0..original.len())
            .filter(|&i| copies[i] > 0)
            .map(|i| {
                (
                    original.point(i)[0],
                    original.point(i)[1],
                    4 + 2 * copies[i].min(4),
                )
            })
            .collect(),
        color: Color::Palette(6),
        filled: false,
    };
    vec![
        markers(0, Color::Palette(0)),
        markers(1, Color::Palette(1)),
        rings,
    ]
}
