//! `gamebridge bench mailbox`: a call round trip to a Transport Fever 2
//! style game (the stand-in mod under `gamebridge sim`, ticking every 16 ms)
//! through gamebridge's legacy mailbox link, beside the seed's own Python
//! client (100 ms polling) against the same game in the same run.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use serde::Deserialize;

use super::load::new_histogram;
use super::report::{Measurement, Report};
use crate::config::BridgeConfig;

const TF2_MOD: &str = include_str!("../../tests/lua/tf2_mod.lua");
const PYTHON_CLIENT: &str = include_str!("../../bench/tf2_python_client.py");

#[derive(Debug, Args)]
pub struct MailboxBench {
    /// Calls per measurement.
    #[arg(long, default_value_t = 50)]
    calls: usize,
    /// The game's tick in milliseconds.
    #[arg(long, default_value_t = 16)]
    tick_ms: u64,
    /// The Python interpreter for the baseline client.
    #[arg(long, default_value = "python3")]
    python: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(options: MailboxBench) -> anyhow::Result<()> {
    let folder = std::env::temp_dir().join(format!("gamebridge-bench-mailbox-{}", std::process::id()));
    std::fs::create_dir_all(&folder)?;
    let outcome = measure(&options, &folder);
    let _ = std::fs::remove_dir_all(&folder);
    outcome?.print(options.json)
}

fn measure(options: &MailboxBench, folder: &Path) -> anyhow::Result<Report> {
    let calls = options.calls.max(3);
    let script = folder.join("tf2_mod.lua");
    std::fs::write(&script, TF2_MOD)?;
    let client = folder.join("tf2_python_client.py");
    std::fs::write(&client, PYTHON_CLIENT)?;
    let prefix = folder.join("tf2");
    let _game = Game::start(&script, &prefix, options.tick_ms)?;

    let python = python_client(&options.python, &client, &prefix, calls)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let bridge = runtime.block_on(bridge_calls(&prefix, calls))?;

    let mut report = Report::new(
        "mailbox",
        &format!("a TF2 command round trip, game ticking every {} ms", options.tick_ms),
    );
    let median = |measurement: &Measurement| measurement.p50_us.unwrap_or_default();
    report.ratio("gamebridge median / Python client median", median(&bridge) / median(&python), Some(0.2));
    report.ratio("gamebridge median / game tick", median(&bridge) / (options.tick_ms as f64 * 1000.0), None);
    report.floors = vec![python];
    report.results = vec![bridge];
    Ok(report)
}

/// The stand-in mod, run by `gamebridge sim` in its own process.
struct Game(Child);

impl Game {
    fn start(script: &Path, prefix: &Path, tick_ms: u64) -> anyhow::Result<Self> {
        let child = Command::new(std::env::current_exe()?)
            .args(["sim", &script.display().to_string(), "--tick-ms", &tick_ms.to_string()])
            .env("TF2_PREFIX", prefix)
            .stdin(Stdio::null())
            .spawn()
            .context("could not start the simulated game")?;
        Ok(Self(child))
    }
}

impl Drop for Game {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[derive(Deserialize)]
struct PythonOutcome {
    latencies_ms: Option<Vec<f64>>,
    error: Option<String>,
}

fn python_client(python: &str, client: &Path, prefix: &Path, calls: usize) -> anyhow::Result<Measurement> {
    super::progress::stage("the Python client");
    let started = Instant::now();
    let output = Command::new(python)
        .args([client.as_os_str(), prefix.as_os_str(), calls.to_string().as_ref()])
        .output()
        .with_context(|| format!("could not run {python} (the baseline needs Python 3)"))?;
    let outcome: PythonOutcome = serde_json::from_slice(&output.stdout)
        .with_context(|| format!("the Python client failed: {}", String::from_utf8_lossy(&output.stderr)))?;
    let Some(latencies) = outcome.latencies_ms else {
        bail!("the Python client failed: {}", outcome.error.unwrap_or_default());
    };
    let mut histogram = new_histogram();
    for latency in latencies {
        histogram.record((latency * 1_000_000.0) as u64)?;
    }
    Ok(Measurement::from_histogram("Python client (100 ms poll)", 1, calls, started.elapsed(), &histogram))
}

async fn bridge_calls(prefix: &Path, calls: usize) -> anyhow::Result<Measurement> {
    super::progress::stage("the bridge");
    let config = BridgeConfig::default();
    let game_spec = format!("{}?legacy", prefix.display());
    let bridge = super::bridge_for_spec("tf2", &format!("mailbox:{game_spec}"), config).await?;
    let http = reqwest::Client::new();
    let url = format!("{}/lua/call", bridge.url());
    let mut histogram = new_histogram();
    let started = Instant::now();
    for n in 0..calls {
        let began = Instant::now();
        let body = serde_json::json!({ "function": "echo", "args": { "n": n }, "timeout_ms": 10_000 });
        let envelope: serde_json::Value = http.post(&url).json(&body).send().await?.json().await?;
        anyhow::ensure!(envelope["success"] == true, "call {n} failed: {envelope}");
        histogram.record(began.elapsed().as_nanos() as u64)?;
    }
    let elapsed = started.elapsed();
    bridge.stop().await?;
    Ok(Measurement::from_histogram("gamebridge legacy mailbox", 1, calls, elapsed, &histogram))
}
