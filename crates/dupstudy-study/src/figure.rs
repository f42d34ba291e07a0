//! Figure data: what to draw, not how. xtask draws it (SVG); the library computes it.

/// A colour of the study's palette (Okabe-Ito, kept apart in print and for colour-blind
/// readers), or the neutral grey of reference lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    /// Palette entry `k` (taken modulo the palette's seven colours).
    Palette(usize),
    /// Grey, for reference lines.
    Grey,
}

/// A point of a line with its confidence band.
#[derive(Debug, Clone, Copy, PartialEq)]
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
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Points, in x order.
    pub points: Vec<BandPoint>,
    /// Colour.
    pub color: Color,
    /// Dashed (e.g. "before duplication") or solid.
    pub dashed: bool,
}

/// One chart of a line figure.
#[derive(Debug, Clone, PartialEq)]
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

/// Points drawn as markers on a map.
#[derive(Debug, Clone, PartialEq)]
pub struct Markers {
    /// Legend text.
    pub name: String,
    /// `(x, y, size)` of each marker.
    pub points: Vec<(f64, f64, u32)>,
    /// Colour.
    pub color: Color,
    /// Filled disc or ring.
    pub filled: bool,
}

/// A curve made of line segments (e.g. a zero contour).
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// Legend text.
    pub name: String,
    /// The segments.
    pub segments: Vec<[(f64, f64); 2]>,
    /// Colour.
    pub color: Color,
    /// Line width.
    pub width: u32,
}

/// One map of a boundary figure.
#[derive(Debug, Clone, PartialEq)]
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

/// A figure: charts or maps side by side under one caption.
#[derive(Debug, Clone, PartialEq)]
pub enum Figure {
    /// Line charts with confidence bands.
    Lines {
        /// Caption above the panels.
        caption: String,
        /// The charts.
        panels: Vec<Panel>,
    },
    /// Scatter maps with curves.
    Maps {
        /// Caption above the panels.
        caption: String,
        /// The maps.
        panels: Vec<MapPanel>,
    },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contour_of_a_line_lies_on_it_and_spans_the_box() {
        let segments = zero_contour((-1.0, 1.0), (-1.0, 1.0), 20, |x, y| x + y - 0.3);
        assert!(segments.len() >= 20, "{} segments", segments.len());
        let mut min_x = f64::INFINITY;
        let mut max_x = f64::NEG_INFINITY;
        for s in &segments {
            for &(x, y) in s {
                assert!((x + y - 0.3).abs() < 1e-9);
                min_x = min_x.min(x);
                max_x = max_x.max(x);
            }
        }
        // The line x + y = 0.3 crosses the box from x = -0.7 to x = 1.
        assert!((min_x + 0.7).abs() < 1e-9 && (max_x - 1.0).abs() < 1e-9);
    }
}
