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
    /// ROC curves on log-log axes (false-positive rate against true-positive rate, from
    /// 0.1 % to 1), with the chance diagonal: the standard picture of membership inference.
    Roc {
        /// Caption above the panels.
        caption: String,
        /// The charts.
        panels: Vec<RocPanel>,
    },
}

/// One ROC chart.
#[derive(Debug, Clone, PartialEq)]
pub struct RocPanel {
    /// Title above the chart.
    pub title: String,
    /// The curves.
    pub curves: Vec<RocCurve>,
}

/// One ROC curve.
#[derive(Debug, Clone, PartialEq)]
pub struct RocCurve {
    /// Legend entry.
    pub name: String,
    /// `(false-positive rate, true-positive rate)`, increasing.
    pub points: Vec<(f64, f64)>,
    /// Its colour.
    pub color: Color,
}

/// The ROC curve of scores of members (`inside`) against non-members (`outside`): one
/// point per distinct threshold, thinned to at most `max_points` spread evenly in log FPR.
pub fn roc_points(inside: &[f64], outside: &[f64], max_points: usize) -> Vec<(f64, f64)> {
    if inside.is_empty() || outside.is_empty() {
        return Vec::new();
    }
    let mut all: Vec<(f64, bool)> = inside
        .iter()
        .map(|&s| (s, true))
        .chain(outside.iter().map(|&s| (s, false)))
        .collect();
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (n1, n0) = (inside.len() as f64, outside.len() as f64);
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut points = Vec::new();
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j < all.len() && all[j].0.total_cmp(&all[i].0).is_eq() {
            if all[j].1 {
                tp += 1.0
            } else {
                fp += 1.0
            }
            j += 1;
        }
        points.push((fp / n0, tp / n1));
        i = j;
    }
    let lowest = 1.0 / n0;
    let step = (1.0f64.ln() - lowest.ln()) / max_points.max(2) as f64;
    // The last point of each bucket of log FPR (the curve's highest TPR there).
    let mut thinned: Vec<(usize, (f64, f64))> = Vec::new();
    for &(f, t) in points.iter().filter(|p| p.0 > 0.0) {
        let bucket = ((f.ln() - lowest.ln()) / step).floor().max(0.0) as usize;
        match thinned.last_mut() {
            Some(last) if last.0 == bucket => last.1 = (f, t),
            _ => thinned.push((bucket, (f, t))),
        }
    }
    let thinned: Vec<(f64, f64)> = thinned.into_iter().map(|(_, p)| p).collect();
    thinned
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
    fn roc_points_by_hand() {
        // Members 3, 5, 7 and non-members 1, 4, 6: thresholds from the top.
        let roc = roc_points(&[3.0, 5.0, 7.0], &[1.0, 4.0, 6.0], 100);
        let third = 1.0 / 3.0;
        assert_eq!(
            roc.first(),
            Some(&(third, 2.0 / 3.0)),
            "at FPR 1/3 (6 passes) 7 and 5 do"
        );
        assert_eq!(roc.last(), Some(&(1.0, 1.0)));
        assert!(roc.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
        assert!(roc_points(&[], &[1.0], 10).is_empty());
    }

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
