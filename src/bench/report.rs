//! Benchmark results: each measurement beside the floors measured in the
//! same run, printed as a table or JSON.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// One measured series.
#[derive(Clone, Debug, Serialize)]
pub struct Measurement {
    pub label: String,
    pub concurrency: usize,
    pub calls: usize,
    pub per_second: f64,
    pub p50_us: f64,
    pub p99_us: f64,
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
            p50_us: histogram.value_at_quantile(0.50) as f64 / 1000.0,
            p99_us: histogram.value_at_quantile(0.99) as f64 / 1000.0,
        }
    }
}

/// A ratio of the bridge to its floor, with the target it should meet.
#[derive(Clone, Debug, Serialize)]
pub struct Ratio {
    pub label: String,
    pub value: f64,
    pub target: f64,
    pub met: bool,
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

    pub fn ratio(&mut self, label: &str, value: f64, target: f64) {
        self.ratios.push(Ratio { label: label.to_owned(), value, target, met: value <= target });
    }

    pub fn print(&self, json: bool) -> anyhow::Result<()> {
        if json {
            println!("{}", serde_json::to_string_pretty(self)?);
            return Ok(());
        }
        println!("bench {}: {}", self.scenario, self.description);
        println!(
            "{:<34} {:>6} {:>8} {:>12} {:>10} {:>10}",
            "", "conc", "calls", "calls/s", "p50 µs", "p99 µs"
        );
        for (kind, rows) in [("floor", &self.floors), ("result", &self.results)] {
            for row in rows {
                println!(
                    "{:<34} {:>6} {:>8} {:>12.0} {:>10.1} {:>10.1}",
                    format!("{kind}: {}", row.label),
                    row.concurrency,
                    row.calls,
                    row.per_second,
                    row.p50_us,
                    row.p99_us
                );
            }
        }
        for ratio in &self.ratios {
            let verdict = if ratio.met { "met" } else { "NOT met" };
            println!("ratio: {} = {:.2} (target ≤ {:.1}: {verdict})", ratio.label, ratio.value, ratio.target);
        }
        Ok(())
    }
}
