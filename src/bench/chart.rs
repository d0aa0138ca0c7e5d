//! `gamebridge bench chart`: draws the JSON of a benchmark as an SVG, so
//! docs/PERFORMANCE.md shows how costs grow:
//!
//! - `bench scale --json`: one panel per series, how the cost of a call
//!   grows beside its floor;
//! - `bench tick --json`: what each agent costs a tick (p50 / agents) as the
//!   agents grow, for the rules, a WebSocket agent and the FastAPI baseline,
//!   so the fixed cost of a round trip is seen spreading over the agents.
//!
//! Which report it is, the JSON's `scenario` says.

use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use plotters::prelude::*;
use serde::Deserialize;

use super::report::Measurement;
use super::scale::{Point, ScaleReport, Series};
use super::tick;

#[derive(Debug, Args)]
pub struct ChartOptions {
    /// The JSON written by `gamebridge bench scale --json` or by
    /// `gamebridge bench tick --json`.
    input: PathBuf,
    /// Where to write the SVG [default: scaling.svg for a scale report,
    /// tick-per-agent.svg for a tick report].
    #[arg(long, short)]
    output: Option<PathBuf>,
}

const BRIDGE: RGBColor = RGBColor(200, 40, 40);
const FLOOR: RGBColor = RGBColor(40, 90, 200);
const RAW: RGBColor = RGBColor(120, 120, 120);
const AGENT: RGBColor = RGBColor(230, 140, 20);

/// The part of `bench tick --json` the chart draws.
#[derive(Deserialize)]
struct TickReport {
    results: Vec<Measurement>,
}

pub fn run(options: ChartOptions) -> anyhow::Result<()> {
    let input = &options.input;
    let json =
        std::fs::read_to_string(input).with_context(|| format!("could not read {}", input.display()))?;
    let scenario =
        serde_json::from_str::<serde_json::Value>(&json).with_context(|| not_a_report(input))?["scenario"]
            .take();
    let output = if scenario == "tick" {
        chart_tick(&json, input, options.output)?
    } else {
        chart_scale(&json, input, options.output)?
    };
    eprintln!("wrote {}", output.display());
    Ok(())
}

fn not_a_report(input: &Path) -> String {
    format!("{} is not the JSON of `bench scale --json` nor of `bench tick --json`", input.display())
}

/// Draws the cost per agent of a tick report; returns where.
fn chart_tick(json: &str, input: &Path, output: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let report: TickReport = serde_json::from_str(json).with_context(|| not_a_report(input))?;
    let lines = per_agent_lines(&report);
    anyhow::ensure!(!lines.is_empty(), "{} has no tick series to draw", input.display());
    let output = output.unwrap_or_else(|| PathBuf::from("tick-per-agent.svg"));
    draw_per_agent(lines, &output).map_err(|error| anyhow::anyhow!("could not draw the chart: {error}"))?;
    Ok(output)
}

/// Draws the panels of a scale report; returns where.
fn chart_scale(json: &str, input: &Path, output: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let report: ScaleReport = serde_json::from_str(json).with_context(|| not_a_report(input))?;
    anyhow::ensure!(
        report.series.iter().any(|series| !series.points.is_empty()),
        "{} has no points to draw",
        input.display()
    );
    let output = output.unwrap_or_else(|| PathBuf::from("scaling.svg"));
    draw(&report, &output).map_err(|error| anyhow::anyhow!("could not draw the chart: {error}"))?;
    Ok(output)
}

/// One line per tick series that has points: p50 per agent against agents.
fn per_agent_lines(report: &TickReport) -> Vec<Line> {
    let colors = [BRIDGE, AGENT, FLOOR];
    (tick::SERIES.iter().zip(colors))
        .map(|(&series, color)| Line {
            label: series,
            color,
            points: (report.results.iter())
                .filter(|row| row.label.split_once(", ").is_some_and(|(name, _)| name == series))
                .filter_map(|row| {
                    let agents = row.concurrency.max(1) as f64;
                    row.p50_us.map(|p50| (agents, p50 / agents))
                })
                .collect(),
        })
        .filter(|line| !line.points.is_empty())
        .collect()
}

fn draw_per_agent(lines: Vec<Line>, output: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(output, (720, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let axes = Axes {
        caption: "Agent Arena tick: p50 per agent vs agents".to_owned(),
        x: "agents in the tick".to_owned(),
        y: "p50 per agent, µs (p50 / agents)".to_owned(),
        legend: SeriesLabelPosition::UpperRight,
    };
    draw_lines(&root, axes, lines)?;
    root.present()?;
    Ok(())
}

fn draw(report: &ScaleReport, output: &Path) -> Result<(), Box<dyn std::error::Error>> {
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
    let axes = Axes {
        caption: format!("p50 latency vs {}", series.axis),
        x: x_desc,
        y: "µs per call".to_owned(),
        legend: SeriesLabelPosition::UpperLeft,
    };
    draw_lines(area, axes, lines.into())
}

/// What a panel says beside its lines.
struct Axes {
    caption: String,
    x: String,
    y: String,
    legend: SeriesLabelPosition,
}

/// One panel of `lines` on log axes fitted to them.
fn draw_lines(
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    axes: Axes,
    lines: Vec<Line>,
) -> Result<(), Box<dyn std::error::Error>> {
    let xs = span(lines.iter().flat_map(|line| line.points.iter().map(|&(x, _)| x)));
    let ys = span(lines.iter().flat_map(|line| line.points.iter().map(|&(_, y)| y)));
    let mut chart = ChartBuilder::on(area)
        .caption(axes.caption, ("sans-serif", 18))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(xs.log_scale(), ys.log_scale())?;
    chart
        .configure_mesh()
        .x_desc(axes.x)
        .y_desc(axes.y)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| significant(*y))
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
        .position(axes.legend)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// An axis value with as many decimals as a log axis below 10 needs.
fn significant(value: f64) -> String {
    match value {
        10.0.. => format!("{value:.0}"),
        1.0.. => format!("{value:.1}"),
        _ => format!("{value:.2}"),
    }
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
