//! `gamebridge bench chart`: draws the JSON of `bench scale --json` as an
//! SVG, one panel per series, so docs/PERFORMANCE.md shows how the cost of a
//! call grows beside its floor.

use std::ops::Range;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use plotters::prelude::*;

use super::report::Measurement;
use super::scale::{Point, ScaleReport, Series};

#[derive(Debug, Args)]
pub struct ChartOptions {
    /// The JSON written by `gamebridge bench scale --json`.
    input: PathBuf,
    /// Where to write the SVG.
    #[arg(long, short, default_value = "scaling.svg")]
    output: PathBuf,
}

const BRIDGE: RGBColor = RGBColor(200, 40, 40);
const FLOOR: RGBColor = RGBColor(40, 90, 200);
const RAW: RGBColor = RGBColor(120, 120, 120);

pub fn run(options: ChartOptions) -> anyhow::Result<()> {
    let json = std::fs::read_to_string(&options.input)
        .with_context(|| format!("could not read {}", options.input.display()))?;
    let report: ScaleReport = serde_json::from_str(&json)
        .with_context(|| format!("{} is not the JSON of `bench scale --json`", options.input.display()))?;
    anyhow::ensure!(
        report.series.iter().any(|series| !series.points.is_empty()),
        "{} has no points to draw",
        options.input.display()
    );
    draw(&report, &options.output).map_err(|error| anyhow::anyhow!("could not draw the chart: {error}"))?;
    eprintln!("wrote {}", options.output.display());
    Ok(())
}

fn draw(report: &ScaleReport, output: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let panels = report.series.len().max(1);
    let root = SVGBackend::new(output, (520 * panels as u32, 440)).into_drawing_area();
    root.fill(&WHITE)?;
    for (series, area) in report.series.iter().zip(root.split_evenly((1, panels))) {
        draw_series(series, &area)?;
    }
    root.present()?;
    Ok(())
}

fn draw_series(
    series: &Series,
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
) -> Result<(), Box<dyn std::error::Error>> {
    let p50 = |measurement: &Measurement| measurement.p50_us.unwrap_or(1.0).max(1.0);
    // Payloads in KB, so the log axis ticks at 1, 10, 100, 1000.
    let (unit, x_desc) = match series.name.as_str() {
        "payload" => (1024.0, "payload, KB".to_owned()),
        _ => (1.0, series.axis.clone()),
    };
    let line = |label, color, y: &dyn Fn(&Point) -> f64| Line {
        label,
        color,
        points: series.points.iter().map(|point| (point.x as f64 / unit, y(point))).collect(),
    };
    let lines = [
        line("bridge p50", BRIDGE, &|point| p50(&point.bridge)),
        line("floor p50 (raw + HTTP)", FLOOR, &|point| p50(&point.raw) + p50(&point.http)),
        line("raw socket p50", RAW, &|point| p50(&point.raw)),
    ];
    let xs = span(series.points.iter().map(|point| point.x as f64 / unit));
    let ys = span(lines.iter().flat_map(|line| line.points.iter().map(|&(_, y)| y)));

    let mut chart = ChartBuilder::on(area)
        .caption(format!("p50 latency vs {}", series.axis), ("sans-serif", 18))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(xs.log_scale(), ys.log_scale())?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc("µs per call")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()?;
    for Line { label, color, points } in lines {
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        chart.draw_series(points.into_iter().map(|point| Circle::new(point, 3, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// One curve of a panel.
struct Line {
    label: &'static str,
    color: RGBColor,
    points: Vec<(f64, f64)>,
}

/// A log-scale range around `values`, with a little room on each side.
fn span(values: impl Iterator<Item = f64>) -> Range<f64> {
    let (low, high) =
        values.fold((f64::MAX, f64::MIN), |(low, high), value| (low.min(value), high.max(value)));
    if low > high {
        return 1.0..10.0;
    }
    (low / 1.5).max(0.1)..(high * 1.5).max(low * 2.0)
}
