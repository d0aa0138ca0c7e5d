//! Benchmark results: each measurement beside the floors measured in the
//! same run, printed as a table or JSON.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// One measured series.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Measurement {
    pub label: String,
    /// Concurrent callers, or clients.
    pub concurrency: usize,
    /// Calls made, or events delivered to each client.
    pub calls: usize,
    pub per_second: f64,
    pub p50_us: Option<f64>,
    pub p99_us: Option<f64>,
}

impl Measurement {
    pub fn from_histogram(
        label: &str,
        concurrency: usize,
        calls: usize,
        elapsed: Duration,
        histogram: &Histogram<u64>,
    ) -> Self {
        Self {
            label: label.to_owned(),
            concurrency,
            calls,
            per_second: calls as f64 / elapsed.as_secs_f64(),
            p50_us: Some(histogram.value_at_quantile(0.50) as f64 / 1000.0),
            p99_us: Some(histogram.value_at_quantile(0.99) as f64 / 1000.0),
        }
    }

    /// A throughput-only measurement: `count` items in `elapsed`.
    pub fn rate(label: &str, concurrency: usize, count: usize, elapsed: Duration) -> Self {
        Self {
            label: label.to_owned(),
            concurrency,
            calls: count,
            per_second: count as f64 / elapsed.as_secs_f64(),
            p50_us: None,
            p99_us: None,
        }
    }
}

/// A ratio of the bridge to its floor, with the target it should meet.
#[derive(Clone, Debug, Serialize)]
pub struct Ratio {
    pub label: String,
    pub value: f64,
    /// The value must not exceed this, when there is a target.
    pub target: Option<f64>,
    pub met: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub scenario: String,
    pub description: String,
    pub floors: Vec<Measurement>,
    pub results: Vec<Measurement>,
    pub ratios: Vec<Ratio>,
}

impl Report {
    pub fn new(scenario: &str, description: &str) -> Self {
        Self {
            scenario: scenario.to_owned(),
            description: description.to_owned(),
            floors: Vec::new(),
            results: Vec::new(),
            ratios: Vec::new(),
        }
    }

    pub fn ratio(&mut self, label: &str, value: f64, target: Option<f64>) {
        let met = target.map(|target| value <= target);
        self.ratios.push(Ratio { label: label.to_owned(), value, target, met });
    }

    pub fn print(&self, json: bool) -> anyhow::Result<()> {
        super::progress::finish();
        if json {
            println!("{}", serde_json::to_string_pretty(self)?);
            return Ok(());
        }
        println!("bench {}: {}", self.scenario, self.description);
        println!(
            "{:<38} {:>6} {:>8} {:>12} {:>10} {:>10}",
            "", "conc", "count", "per second", "p50 µs", "p99 µs"
        );
        for (kind, rows) in [("floor", &self.floors), ("result", &self.results)] {
            for row in rows {
                let micros = |value: Option<f64>| value.map_or("-".to_owned(), |value| format!("{value:.1}"));
                println!(
                    "{:<38} {:>6} {:>8} {:>12.0} {:>10} {:>10}",
                    format!("{kind}: {}", row.label),
                    row.concurrency,
                    row.calls,
                    row.per_second,
                    micros(row.p50_us),
                    micros(row.p99_us)
                );
            }
        }
        for ratio in &self.ratios {
            match (ratio.target, ratio.met) {
                (Some(target), Some(met)) => {
                    let verdict = if met { "met" } else { "NOT met" };
                    println!("ratio: {} = {:.2} (target ≤ {target:.1}: {verdict})", ratio.label, ratio.value);
                }
                _ => println!("ratio: {} = {:.2}", ratio.label, ratio.value),
            }
        }
        Ok(())
    }
}
