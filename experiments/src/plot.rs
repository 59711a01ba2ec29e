//! SVG line charts (plotters, SVG backend): one idea per picture, axes labelled.
//!
//! A [`LineChart`] is a set of [`Series`] of `(x, mean, std)` points; each series is drawn
//! as a line with markers and a vertical ±std whisker at every point.
//!
//! ```
//! use frameless_experiments::plot::{LineChart, Series};
//! let chart = LineChart {
//!     title: "accuracy against homophily".into(),
//!     x_label: "edge homophily h".into(),
//!     y_label: "test accuracy".into(),
//!     series: vec![Series { label: "teacher".into(), points: vec![(0.0, 0.4, 0.02), (1.0, 0.9, 0.01)] }],
//!     points_only: false,
//! };
//! let svg = chart.to_svg()?;
//! assert!(svg.contains("<svg") && svg.contains("edge homophily h"));
//! # Ok::<(), frameless_experiments::ExperimentError>(())
//! ```

use plotters::prelude::*;

use super::ExperimentError;

/// Picture size in pixels.
const SIZE: (u32, u32) = (720, 460);

/// One line of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend entry.
    pub label: String,
    /// `(x, mean, std)` points, drawn in the given order.
    pub points: Vec<(f64, f64, f64)>,
}

/// A line chart with labelled axes.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    /// Caption above the plot.
    pub title: String,
    /// Label of the horizontal axis.
    pub x_label: String,
    /// Label of the vertical axis.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
    /// Draw markers only, no connecting lines (a scatter plot).
    pub points_only: bool,
}

/// Eight colours that stay distinguishable in print (Okabe–Ito, black first).
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 0, 0),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 158, 115),
    RGBColor(213, 94, 0),
    RGBColor(0, 114, 178),
    RGBColor(204, 121, 167),
    RGBColor(120, 120, 120),
];

impl LineChart {
    /// Renders the chart as an SVG document.
    ///
    /// # Errors
    /// [`ExperimentError::Plot`] if plotters fails (it does not for finite data).
    pub fn to_svg(&self) -> Result<String, ExperimentError> {
        let mut svg = String::new();
        self.draw(&mut svg)
            .map_err(|e| ExperimentError::Plot(e.to_string()))?;
        Ok(svg)
    }

    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let finite = self
            .series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|p| p.0.is_finite() && p.1.is_finite());
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y, e) in finite {
            let e = if e.is_finite() { e } else { 0.0 };
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y - e);
            y1 = y1.max(y + e);
        }
        if x0 > x1 {
            return ((0.0, 1.0), (0.0, 1.0));
        }
        let pad = |a: f64, b: f64| {
            let w = (b - a).abs().max(1e-3);
            (a - 0.05 * w, b + 0.05 * w)
        };
        (pad(x0, x1), pad(y0, y1))
    }

    /// The corner whose box (a third of the width, a third of the height) covers the
    /// fewest points and whiskers, so the legend hides as little data as it can.
    fn legend_corner(&self, (x0, x1): (f64, f64), (y0, y1): (f64, f64)) -> SeriesLabelPosition {
        let covered = |left: bool, top: bool| {
            let in_x = |x: f64| {
                let t = (x - x0) / (x1 - x0);
                if left {
                    t <= 0.34
                } else {
                    t >= 0.66
                }
            };
            let in_y = |y: f64| {
                let t = (y - y0) / (y1 - y0);
                if top {
                    t >= 0.66
                } else {
                    t <= 0.34
                }
            };
            self.series
                .iter()
                .flat_map(|s| s.points.iter())
                .filter(|&&(x, y, e)| {
                    let e = if e.is_finite() { e } else { 0.0 };
                    in_x(x) && (in_y(y) || in_y(y - e) || in_y(y + e))
                })
                .count()
        };
        [
            (SeriesLabelPosition::LowerRight, false, false),
            (SeriesLabelPosition::UpperRight, false, true),
            (SeriesLabelPosition::LowerLeft, true, false),
            (SeriesLabelPosition::UpperLeft, true, true),
        ]
        .into_iter()
        .min_by_key(|&(_, left, top)| covered(left, top))
        .map_or(SeriesLabelPosition::LowerRight, |(corner, _, _)| corner)
    }

    fn draw(&self, svg: &mut String) -> Result<(), Box<dyn std::error::Error + '_>> {
        let ((x0, x1), (y0, y1)) = self.ranges();
        let legend = self.legend_corner((x0, x1), (y0, y1));
        let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&self.title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 15))
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .draw()?;
        for (i, series) in self.series.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let pts: Vec<(f64, f64)> = series
                .points
                .iter()
                .filter(|p| p.0.is_finite() && p.1.is_finite())
                .map(|p| (p.0, p.1))
                .collect();
            if self.points_only {
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))?
                    .label(series.label.as_str())
                    .legend(move |(x, y)| Circle::new((x + 10, y), 3, color.filled()));
            } else {
                chart
                    .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
                    .label(series.label.as_str())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                    });
                chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
            }
            chart.draw_series(
                series
                    .points
                    .iter()
                    .filter(|p| p.0.is_finite() && p.1.is_finite() && p.2 > 0.0)
                    .map(|&(x, y, e)| PathElement::new(vec![(x, y - e), (x, y + e)], color)),
            )?;
        }
        chart
            .configure_series_labels()
            .position(legend)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 13))
            .draw()?;
        root.present()?;
        Ok(())
    }
}

/// A tick label without trailing zeros: `2` rather than `2.0`, `0.25` rather than `0.250`.
fn tick(v: f64) -> String {
    let text = format!("{v:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_has_root_labels_and_legend() {
        let chart = LineChart {
            title: "t".into(),
            x_label: "teacher depth".into(),
            y_label: "test accuracy".into(),
            series: vec![
                Series {
                    label: "no SDRF".into(),
                    points: vec![(2.0, 0.5, 0.1), (4.0, 0.4, 0.0)],
                },
                Series {
                    label: "SDRF".into(),
                    points: vec![(2.0, 0.55, 0.05), (4.0, f64::NAN, 0.0)],
                },
            ],
            points_only: false,
        };
        let svg = chart.to_svg().unwrap();
        assert!(svg.trim_start().starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        for text in ["teacher depth", "test accuracy", "no SDRF", "SDRF"] {
            assert!(svg.contains(text), "{text}");
        }
    }

    #[test]
    fn ticks_drop_trailing_zeros() {
        assert_eq!(tick(2.0), "2");
        assert_eq!(tick(0.25), "0.25");
        assert_eq!(tick(-0.0001), "0");
        assert_eq!(tick(1.5e-3), "0.002");
    }

    #[test]
    fn legend_avoids_the_data() {
        let rising = LineChart {
            title: "t".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            series: vec![Series {
                label: "s".into(),
                points: (0..=10)
                    .map(|i| (f64::from(i), f64::from(i), 0.0))
                    .collect(),
            }],
            points_only: false,
        };
        let (xr, yr) = rising.ranges();
        assert!(matches!(
            rising.legend_corner(xr, yr),
            SeriesLabelPosition::LowerRight | SeriesLabelPosition::UpperLeft
        ));
        let falling = LineChart {
            series: vec![Series {
                label: "s".into(),
                points: (0..=10)
                    .map(|i| (f64::from(i), -f64::from(i), 0.0))
                    .collect(),
            }],
            ..rising
        };
        let (xr, yr) = falling.ranges();
        assert!(matches!(
            falling.legend_corner(xr, yr),
            SeriesLabelPosition::UpperRight | SeriesLabelPosition::LowerLeft
        ));
    }

    #[test]
    fn empty_chart_still_renders() {
        let chart = LineChart {
            title: "empty".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            series: Vec::new(),
            points_only: false,
        };
        assert!(chart.to_svg().unwrap().contains("</svg>"));
    }
}
