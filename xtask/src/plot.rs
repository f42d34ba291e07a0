//! SVG figures: line charts with confidence bands, and decision-boundary maps.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::prelude::*;

/// A point of a line with its confidence band.
#[derive(Debug, Clone, Copy)]
pub struct BandPoint {
    /// Position on the x axis.
    pub x: f64,
    /// The value drawn.
    pub mean: f64,
    /// Lower end of the band.
    pub low: f64,
    /// Upper end of the band.
    pub high: f64,
}

/// One line of a panel.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Points, in x order.
    pub points: Vec<BandPoint>,
    /// Colour.
    pub color: RGBColor,
    /// Dashed (e.g. "before duplication") or solid.
    pub dashed: bool,
}

/// One chart of a figure.
#[derive(Debug, Clone)]
pub struct Panel {
    /// Title above the chart.
    pub title: String,
    /// x-axis label.
    pub x_label: String,
    /// y-axis label.
    pub y_label: String,
    /// Fixed y range, or `None` to fit the data.
    pub y_range: Option<(f64, f64)>,
    /// The lines.
    pub series: Vec<Series>,
}

/// Colours that stay apart in print and for colour-blind readers (Okabe-Ito).
pub const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

/// A neutral grey for reference lines.
pub const GREY: RGBColor = RGBColor(150, 150, 150);

fn plot_error<E: std::fmt::Debug>(path: &Path) -> impl Fn(E) -> anyhow::Error + '_ {
    move |e| anyhow!("drawing {}: {e:?}", path.display())
}

/// Draws `panels` side by side into an SVG file.
pub fn panels_svg(path: &Path, caption: &str, panels: &[Panel]) -> Result<()> {
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
                        s.color.mix(0.13).filled(),
                    )))
                    .map_err(&err)?;
            }
        }
        for s in &panel.series {
            let line: Vec<(f64, f64)> = s.points.iter().map(|p| (p.x, p.mean)).collect();
            let style = s.color.stroke_width(2);
            let color = s.color;
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

/// Points drawn as markers on a boundary map.
#[derive(Debug, Clone)]
pub struct Markers {
    /// Legend text.
    pub name: String,
    /// `(x, y, size)` of each marker.
    pub points: Vec<(f64, f64, u32)>,
    /// Colour.
    pub color: RGBColor,
    /// Filled disc or ring.
    pub filled: bool,
}

/// A curve made of line segments (e.g. a zero contour).
#[derive(Debug, Clone)]
pub struct Curve {
    /// Legend text.
    pub name: String,
    /// The segments.
    pub segments: Vec<[(f64, f64); 2]>,
    /// Colour.
    pub color: RGBColor,
    /// Line width.
    pub width: u32,
}

/// One map of a boundary figure.
#[derive(Debug, Clone)]
pub struct MapPanel {
    /// Title.
    pub title: String,
    /// Visible x range.
    pub x_range: (f64, f64),
    /// Visible y range.
    pub y_range: (f64, f64),
    /// Marker sets.
    pub markers: Vec<Markers>,
    /// Curves.
    pub curves: Vec<Curve>,
}

/// Draws maps side by side into an SVG file.
pub fn maps_svg(path: &Path, caption: &str, panels: &[MapPanel]) -> Result<()> {
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
            let (color, filled) = (m.color, m.filled);
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
            let (color, width) = (c.color, c.width);
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

/// The zero level set of `value(x, y)` over a regular grid, as line segments (marching
/// squares with linear interpolation along cell edges).
pub fn zero_contour(
    x_range: (f64, f64),
    y_range: (f64, f64),
    steps: usize,
    value: impl Fn(f64, f64) -> f64,
) -> Vec<[(f64, f64); 2]> {
    let steps = steps.max(2);
    let xs: Vec<f64> = (0..=steps)
        .map(|i| x_range.0 + (x_range.1 - x_range.0) * i as f64 / steps as f64)
        .collect();
    let ys: Vec<f64> = (0..=steps)
        .map(|j| y_range.0 + (y_range.1 - y_range.0) * j as f64 / steps as f64)
        .collect();
    let grid: Vec<Vec<f64>> = ys
        .iter()
        .map(|&y| xs.iter().map(|&x| value(x, y)).collect())
        .collect();
    let mut segments = Vec::new();
    for j in 0..steps {
        for i in 0..steps {
            // Corners counter-clockwise from bottom-left.
            let corners = [
                (xs[i], ys[j], grid[j][i]),
                (xs[i + 1], ys[j], grid[j][i + 1]),
                (xs[i + 1], ys[j + 1], grid[j + 1][i + 1]),
                (xs[i], ys[j + 1], grid[j + 1][i]),
            ];
            let mut crossings = Vec::with_capacity(4);
            for e in 0..4 {
                let (xa, ya, va) = corners[e];
                let (xb, yb, vb) = corners[(e + 1) % 4];
                if (va > 0.0) != (vb > 0.0) {
                    let t = va / (va - vb);
                    crossings.push((xa + t * (xb - xa), ya + t * (yb - ya)));
                }
            }
            for pair in crossings.chunks_exact(2) {
                segments.push([pair[0], pair[1]]);
            }
        }
    }
    segments
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

    #[test]
    fn contour_of_a_line_lies_on_it() {
        let segments = zero_contour((-1.0, 1.0), (-1.0, 1.0), 20, |x, y| x + y - 0.3);
        assert!(!segments.is_empty());
        for s in &segments {
            for (x, y) in s {
                assert!((x + y - 0.3).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn figures_are_written() {
        let dir = std::env::temp_dir().join(format!("dupstudy-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let series = Series {
            name: "a".into(),
            points: (0..5)
                .map(|i| BandPoint {
                    x: i as f64,
                    mean: 0.5,
                    low: 0.4,
                    high: 0.6,
                })
                .collect(),
            color: PALETTE[0],
            dashed: true,
        };
        let panel = Panel {
            title: "t".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            y_range: None,
            series: vec![series],
        };
        let path = dir.join("f.svg");
        panels_svg(&path, "caption", &[panel.clone(), panel]).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("caption"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
