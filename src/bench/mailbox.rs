//! `gamebridge bench mailbox`: a call round trip to a Transport Fever 2
//! style game (the stand-in mod under `gamebridge sim`, ticking every 16 ms)
//! through gamebridge's legacy mailbox link, beside the seed's own Python
//! client (100 ms polling) against the same game in the same run; the
//! legacy link under 20 concurrent callers with a 200 ms handler and a late
//! delete (calls/s beside the game's own limit, lost and ran-twice counts);
//! and what a live folder-mailbox game at rest costs the bridge in CPU,
//! beside what the game itself spends polling.

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
const FOLDER_GAME: &str = include_str!("../../tests/lua/sdk_game.lua");
/// The slow game's handler time, and its gap between answer and delete.
const SLOW_HANDLER_MS: u64 = 200;
const SLOW_GAP_MS: u64 = 20;
const CALLERS: usize = 20;
const PYTHON_CLIENT: &str = include_str!("../../bench/tf2_python_client.py");

#[derive(Debug, Args)]
pub struct MailboxBench {
    /// Calls per measurement.
    #[arg(long, default_value_t = 50)]
    calls: usize,
    /// Calls of the 200 ms handler from 20 callers.
    #[arg(long, default_value_t = 40)]
    slow_calls: usize,
    /// Seconds a live folder-mailbox game is watched at rest.
    #[arg(long, default_value_t = 3)]
    idle_secs: u64,
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
    let game = Game::start(&script, &[("TF2_PREFIX", &prefix)], options.tick_ms)?;

    let python = python_client(&options.python, &client, &prefix, calls)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let bridge = runtime.block_on(bridge_calls(&prefix, calls))?;
    drop(game);

    let slow_prefix = folder.join("slow");
    let runs = folder.join("slow_runs.log");
    let (handler, gap) = (SLOW_HANDLER_MS.to_string(), SLOW_GAP_MS.to_string());
    let slow_env = [
        ("TF2_PREFIX", slow_prefix.as_path()),
        ("TF2_RUNS", runs.as_path()),
        ("TF2_HANDLER_MS", Path::new(&handler)),
        ("TF2_GAP_MS", Path::new(&gap)),
    ];
    let slow_game = Game::start(&script, &slow_env, options.tick_ms)?;
    let (slow, lost) = runtime.block_on(concurrent_calls(&slow_prefix, options.slow_calls.max(CALLERS)))?;
    drop(slow_game);
    let counts = run_counts(&runs);
    let ran_twice = counts.values().filter(|&&count| count > 1).count();

    let game_folder = folder.join("game");
    let game_script = folder.join("sdk_game.lua");
    std::fs::write(&game_script, FOLDER_GAME)?;
    let folder_game = Game::start(&game_script, &[("GAME_DIR", &game_folder)], options.tick_ms)?;
    let (bridge_cpu, game_cpu) = runtime.block_on(idle_cpu(&game_folder, &folder_game, options.idle_secs))?;

    let mut report = Report::new(
        "mailbox",
        &format!("a TF2 command round trip, game ticking every {} ms", options.tick_ms),
    );
    let median = |measurement: &Measurement| measurement.p50_us.unwrap_or_default();
    report.ratio("gamebridge median / Python client median", median(&bridge) / median(&python), Some(0.2));
    report.ratio("gamebridge median / game tick", median(&bridge) / (options.tick_ms as f64 * 1000.0), None);
    // One command at a time: the game cannot do better than one handler
    // run plus the tick that finds the command.
    let limit = 1000.0 / (SLOW_HANDLER_MS + SLOW_GAP_MS + options.tick_ms) as f64;
    let ideal = Measurement {
        label: format!("the game's limit ({SLOW_HANDLER_MS} ms handler, {SLOW_GAP_MS} ms to delete)"),
        concurrency: CALLERS,
        calls: slow.calls,
        per_second: limit,
        p50_us: None,
        p99_us: None,
    };
    report.ratio(
        "game's limit / gamebridge calls per second (20 callers, 200 ms handler)",
        limit / slow.per_second,
        Some(1.5),
    );
    report.ratio("calls without their answer (20 callers, 200 ms handler)", lost as f64, Some(0.0));
    report.ratio("commands run twice (20 callers, 200 ms handler)", ran_twice as f64, Some(0.0));
    report.ratio("bridge CPU at rest, % of one core (live folder game)", bridge_cpu * 100.0, Some(1.0));
    report.ratio("bridge CPU at rest / the game's own polling CPU", bridge_cpu / game_cpu.max(1e-9), None);
    report.floors = vec![python, ideal];
    report.results = vec![bridge, slow];
    Ok(report)
}

/// Each command id the stand-in mod ran, and how often.
fn run_counts(runs: &Path) -> std::collections::HashMap<String, usize> {
    let mut counts = std::collections::HashMap::new();
    for line in std::fs::read_to_string(runs).unwrap_or_default().lines() {
        *counts.entry(line.split(' ').next().unwrap_or_default().to_owned()).or_default() += 1;
    }
    counts
}

/// A game script run by `gamebridge sim` in its own process.
struct Game(Child);

impl Game {
    fn start(script: &Path, env: &[(&str, &Path)], tick_ms: u64) -> anyhow::Result<Self> {
        let child = Command::new(std::env::current_exe()?)
            .args(["sim", &script.display().to_string(), "--tick-ms", &tick_ms.to_string()])
            .envs(env.iter().copied())
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

/// `calls` calls of the slow game from 20 callers at once; each answer is
/// checked against its call, and those without their own answer counted.
async fn concurrent_calls(prefix: &Path, calls: usize) -> anyhow::Result<(Measurement, usize)> {
    super::progress::stage("20 callers, 200 ms handler");
    let game_spec = format!("{}?legacy", prefix.display());
    let bridge =
        super::bridge_for_spec("slow", &format!("mailbox:{game_spec}"), BridgeConfig::default()).await?;
    let http = reqwest::Client::new();
    let url = format!("{}/lua/call", bridge.url());
    let started = Instant::now();
    let callers = (0..CALLERS).map(|caller| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let (mut latencies, mut failed) = (Vec::new(), 0);
            for n in (caller..calls).step_by(CALLERS) {
                let began = Instant::now();
                let body =
                    serde_json::json!({ "function": "echo", "args": { "n": n }, "timeout_ms": 60_000 });
                let envelope: serde_json::Value = http.post(&url).json(&body).send().await?.json().await?;
                if envelope["result"]["n"].as_str() == Some(n.to_string().as_str()) {
                    latencies.push(began.elapsed());
                } else {
                    failed += 1;
                }
            }
            anyhow::Ok((latencies, failed))
        }
    });
    let (mut histogram, mut failed) = (new_histogram(), 0);
    for (latencies, failures) in futures::future::try_join_all(callers).await? {
        failed += failures;
        for latency in latencies {
            histogram.record(latency.as_nanos() as u64)?;
        }
    }
    let elapsed = started.elapsed();
    bridge.stop().await?;
    let label = "gamebridge legacy mailbox, 200 ms handler";
    Ok((Measurement::from_histogram(label, CALLERS, calls, elapsed, &histogram), failed))
}

/// CPU seconds per second of this process (the bridge) and of the game,
/// over `seconds` of a live folder-mailbox game with no calls.
async fn idle_cpu(folder: &Path, game: &Game, seconds: u64) -> anyhow::Result<(f64, f64)> {
    super::progress::stage("a folder-mailbox game at rest");
    let bridge =
        super::bridge_for_spec("idle", &format!("mailbox:{}", folder.display()), BridgeConfig::default())
            .await?;
    let (bridge_before, game_before) = (cpu_seconds("self")?, cpu_seconds(&game.0.id().to_string())?);
    tokio::time::sleep(std::time::Duration::from_secs(seconds.max(1))).await;
    let (bridge_after, game_after) = (cpu_seconds("self")?, cpu_seconds(&game.0.id().to_string())?);
    bridge.stop().await?;
    let per_second = |used: f64| used / seconds.max(1) as f64;
    Ok((per_second(bridge_after - bridge_before), per_second(game_after - game_before)))
}

/// User and system CPU seconds of a process so far, from /proc (Linux).
fn cpu_seconds(process: &str) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{process}/stat"))
        .context("CPU time is read from /proc, which only Linux has")?;
    let after_name = stat.rfind(')').map_or("", |at| &stat[at + 2..]);
    let fields: Vec<&str> = after_name.split(' ').collect();
    let ticks = |index: usize| fields.get(index).and_then(|field| field.parse::<f64>().ok()).unwrap_or(0.0);
    // /proc counts in USER_HZ, 100 per second on every Linux.
    Ok((ticks(11) + ticks(12)) / 100.0)
}
