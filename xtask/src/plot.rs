//! SVG figures: the library's figure data drawn as line charts with confidence bands and
//! decision-boundary maps.

use std::path::Path;

use anyhow::{Result, anyhow};
use dupstudy_study::figure::{Color as Hue, Figure, MapPanel, Panel, RocPanel};
use plotters::prelude::*;

/// Draws `figure` into an SVG file at `path`.
pub fn draw(path: &Path, figure: &Figure) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match figure {
        Figure::Lines { caption, panels } => panels_svg(path, caption, panels),
        Figure::Maps { caption, panels } => maps_svg(path, caption, panels),
        Figure::Roc { caption, panels } => roc_svg(path, caption, panels),
    }
}

fn rgb(color: Hue) -> RGBColor {
    match color {
        Hue::Palette(k) => PALETTE[k % PALETTE.len()],
        Hue::Grey => GREY,
    }
}

/// Colours that stay apart in print and for colour-blind readers (Okabe-Ito).
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

/// A neutral grey for reference lines.
const GREY: RGBColor = RGBColor(150, 150, 150);

fn plot_error<E: std::fmt::Debug>(path: &Path) -> impl Fn(E) -> anyhow::Error + '_ {
    move |e| anyhow!("drawing {}: {e:?}", path.display())
}

/// Draws `panels` side by side into an SVG file.
fn panels_svg(path: &Path, caption: &str, panels: &[Panel]) -> Result<()> {
    let err = plot_error(path);
    let width = 520 * panels.len().max(1) as u32;
    let root = SVGBackend::new(path, (width, 430)).into_drawing_area();
    root.fill(&WHITE).map_err(&err)?;
    let root = root.titled(caption, ("sans-serif", 18)).map_err(&err)?;
    let areas = root.split_evenly((1, panels.len().max(1)));
    for (panel, area) in panels.iter().zip(areas.iter()) {
        let xs = panel
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.x));
        let (x_min, x_max) = min_max(xs).unwrap_or((0.0, 1.0));
        let (y_min, y_max) = panel.y_range.unwrap_or_else(|| {
            let ys = panel
                .series
                .iter()
                .flat_map(|s| s.points.iter().flat_map(|p| [p.low, p.high, p.mean]));
            let (lo, hi) = min_max(ys).unwrap_or((0.0, 1.0));
            let pad = ((hi - lo) * 0.08).max(1e-3);
            (lo - pad, hi + pad)
        });
        let x_pad = ((x_max - x_min) * 0.03).max(1e-3);
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, ("sans-serif", 15))
            .margin(12)
            .x_label_area_size(38)
            .y_label_area_size(52)
            .build_cartesian_2d((x_min - x_pad)..(x_max + x_pad), y_min..y_max)
            .map_err(&err)?;
        chart
            .configure_mesh()
            .x_desc(&panel.x_label)
            .y_desc(&panel.y_label)
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(&err)?;
        for s in &panel.series {
            if s.points.iter().any(|p| p.high > p.low) {
                let mut outline: Vec<(f64, f64)> = s.points.iter().map(|p| (p.x, p.high)).collect();
                outline.extend(s.points.iter().rev().map(|p| (p.x, p.low)));
                chart
                    .draw_series(std::iter::once(Polygon::new(
                        outline,
                        rgb(s.color).mix(0.13).filled(),
                    )))
                    .map_err(&err)?;
            }
        }
        for s in &panel.series {
            let line: Vec<(f64, f64)> = s.points.iter().map(|p| (p.x, p.mean)).collect();
            let color = rgb(s.color);
            let style = color.stroke_width(2);
            let dashed = s.dashed;
            let drawn = if dashed {
                chart.draw_series(DashedLineSeries::new(line.clone(), 6, 4, style))
            } else {
                chart.draw_series(LineSeries::new(line.clone(), style))
            }
            .map_err(&err)?;
            drawn.label(&s.name).legend(move |(x, y)| {
                if dashed {
                    PathElement::new(vec![(x, y), (x + 8, y)], color.stroke_width(2))
                } else {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                }
            });
            chart
                .draw_series(line.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(&err)?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 11))
            .position(SeriesLabelPosition::LowerLeft)
            .draw()
            .map_err(&err)?;
    }
    root.present().map_err(&err)?;
    Ok(())
}

/// Draws ROC charts side by side on log-log axes (0.1 % to 1 on both), with the chance
/// diagonal.
fn roc_svg(path: &Path, caption: &str, panels: &[RocPanel]) -> Result<()> {
    const LOW: f64 = 1e-3;
    let err = plot_error(path);
    let width = 430 * panels.len().max(1) as u32;
    let root = SVGBackend::new(path, (width, 430)).into_drawing_area();
    root.fill(&WHITE).map_err(&err)?;
    let root = root.titled(caption, ("sans-serif", 18)).map_err(&err)?;
    let areas = root.split_evenly((1, panels.len().max(1)));
    for (panel, area) in panels.iter().zip(areas.iter()) {
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, ("sans-serif", 15))
            .margin(12)
            .x_label_area_size(38)
            .y_label_area_size(52)
            .build_cartesian_2d((LOW..1.0).log_scale(), (LOW..1.0).log_scale())
            .map_err(&err)?;
        chart
            .configure_mesh()
            .x_desc("false-positive rate")
            .y_desc("true-positive rate")
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(&err)?;
        chart
            .draw_series(DashedLineSeries::new(
                vec![(LOW, LOW), (1.0, 1.0)],
                5,
                4,
                GREY.stroke_width(1),
            ))
            .map_err(&err)?;
        for curve in &panel.curves {
            let color = rgb(curve.color);
            let line: Vec<(f64, f64)> = curve
                .points
                .iter()
                .map(|&(f, t)| (f.clamp(LOW, 1.0), t.clamp(LOW, 1.0)))
                .collect();
            chart
                .draw_series(LineSeries::new(line, color.stroke_width(2)))
                .map_err(&err)?
                .label(&curve.name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 11))
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(&err)?;
    }
    root.present().map_err(&err)?;
    Ok(())
}

/// Draws maps side by side into an SVG file.
fn maps_svg(path: &Path, caption: &str, panels: &[MapPanel]) -> Result<()> {
    let err = plot_error(path);
    let width = 520 * panels.len().max(1) as u32;
    let root = SVGBackend::new(path, (width, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(&err)?;
    let root = root.titled(caption, ("sans-serif", 18)).map_err(&err)?;
    let areas = root.split_evenly((1, panels.len().max(1)));
    for (panel, area) in panels.iter().zip(areas.iter()) {
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, ("sans-serif", 15))
            .margin(12)
            .x_label_area_size(34)
            .y_label_area_size(40)
            .build_cartesian_2d(
                panel.x_range.0..panel.x_range.1,
                panel.y_range.0..panel.y_range.1,
            )
            .map_err(&err)?;
        chart
            .configure_mesh()
            .x_desc("x1")
            .y_desc("x2")
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(&err)?;
        for m in &panel.markers {
            let (color, filled) = (rgb(m.color), m.filled);
            chart
                .draw_series(m.points.iter().map(move |&(x, y, size)| {
                    let style = if filled {
                        color.mix(0.75).filled()
                    } else {
                        color.stroke_width(1)
                    };
                    Circle::new((x, y), size, style)
                }))
                .map_err(&err)?
                .label(&m.name)
                .legend(move |(x, y)| {
                    let style = if filled {
                        color.filled()
                    } else {
                        color.stroke_width(1)
                    };
                    Circle::new((x + 8, y), 4, style)
                });
        }
        for c in &panel.curves {
            let (color, width) = (rgb(c.color), c.width);
            chart
                .draw_series(
                    c.segments
                        .iter()
                        .map(move |s| PathElement::new(s.to_vec(), color.stroke_width(width))),
                )
                .map_err(&err)?
                .label(&c.name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(width))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 11))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(&err)?;
    }
    root.present().map_err(&err)?;
    Ok(())
}

fn min_max(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dupstudy_study::figure::{BandPoint, Series};

    #[test]
    fn figures_carry_their_series_legends_and_bands() {
        let dir = std::env::temp_dir().join(format!("dupstudy-plot-{}", std::process::id()));
        let series = |name: &str, dashed| Series {
            name: name.into(),
            points: (0..5)
                .map(|i| BandPoint {
                    x: i as f64,
                    mean: 0.5,
                    low: 0.4,
                    high: 0.6,
                })
                .collect(),
            color: Hue::Palette(0),
            dashed,
        };
        let panel = Panel {
            title: "panel title".into(),
            x_label: "D-rate".into(),
            y_label: "accuracy".into(),
            y_range: None,
            series: vec![series("first line", true), series("second line", false)],
        };
        let path = dir.join("f.svg");
        let figure = Figure::Lines {
            caption: "the caption".into(),
            panels: vec![panel.clone(), panel],
        };
        draw(&path, &figure).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"));
        for text in [
            "the caption",
            "panel title",
            "first line",
            "second line",
            "D-rate",
        ] {
            assert!(svg.contains(text), "{text} missing");
        }
        assert_eq!(svg.matches("panel title").count(), 2, "one title per panel");
        // Two bands per panel, filled with the series colour at low opacity.
        assert!(svg.matches("<polygon").count() >= 4, "bands missing");
        assert!(svg.contains("stroke-dasharray") || svg.matches("<polyline").count() > 4);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn roc_figures_draw_on_log_axes_with_their_legends() {
        use dupstudy_study::figure::{RocCurve, RocPanel};
        let dir = std::env::temp_dir().join(format!("dupstudy-roc-{}", std::process::id()));
        let path = dir.join("roc.svg");
        let figure = Figure::Roc {
            caption: "roc caption".into(),
            panels: vec![RocPanel {
                title: "standard".into(),
                curves: vec![RocCurve {
                    name: "k = 8".into(),
                    points: vec![(0.001, 0.02), (0.01, 0.1), (0.1, 0.4), (1.0, 1.0)],
                    color: Hue::Palette(1),
                }],
            }],
        };
        draw(&path, &figure).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        for text in ["roc caption", "standard", "k = 8", "false-positive rate"] {
            assert!(svg.contains(text), "{text} missing");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
