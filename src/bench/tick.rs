//! `gamebridge bench tick`: Agent Arena's `POST /tick` with 1, 10, 100 and
//! 1,000 agents through the bridge, decided by the rules and by a WebSocket
//! agent, beside what it replaces, measured in the same run with the same
//! client and the same bodies:
//!
//! - an HTTP round trip to an empty handler: the floor under any tick;
//! - the FastAPI baseline (`bench/arena_baseline_server.py`): the kind of
//!   server Agent Arena's own is (FastAPI, pydantic messages, uvicorn, one
//!   worker), deciding by the same rules; at each agent count it runs right
//!   after the bridge's rules, once it has answered the tick with the very
//!   actions the bridge did.
//!
//! Targets (issue 18): with the rules, each further agent costs the tick at
//! most 1.5 µs, measured as (p50(1,000) − p50(1)) / 999; at 100 agents the
//! bridge ticks at least 10× as often as the baseline.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Args;
use futures::{SinkExt, StreamExt};
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::load::new_histogram;
use super::progress;
use super::report::{Measurement, Report};
use super::tick_baseline::Baseline;
use crate::config::BridgeConfig;

/// The series of a tick report, as the first part of each result's label
/// (`"rules, 100 agents"`), in the order the chart draws them.
pub const RULES: &str = "rules";
pub const WEBSOCKET_AGENT: &str = "WebSocket agent";
pub const FASTAPI: &str = "FastAPI baseline";
pub const SERIES: [&str; 3] = [RULES, WEBSOCKET_AGENT, FASTAPI];

/// Marginal µs per agent of a tick with the rules, at most.
const MARGINAL_TARGET_US: f64 = 1.5;
/// The bridge's rules over the baseline's ticks per second, at least, at
/// these agent counts.
const SPEEDUP_TARGETS: [(usize, f64); 1] = [(100, 10.0)];

#[derive(Debug, Args)]
pub struct TickBench {
    /// Agent counts to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,10,100,1000")]
    agents: Vec<usize>,
    /// Agent-ticks per series (ticks = this / agents, at least 20).
    #[arg(long, default_value_t = 20_000)]
    work: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Leave out the FastAPI baseline (bench/arena_baseline_server.py), and
    /// with it the ratios to it.
    #[arg(long)]
    no_baseline: bool,
    /// The Python interpreter of the baseline, with fastapi and uvicorn
    /// installed [default: target/python-venv/bin/python if it exists (made
    /// by .ci/python), else python3].
    #[arg(long, value_name = "PATH", conflicts_with = "no_baseline")]
    python: Option<PathBuf>,
    /// The gamebridge checkout whose bench/arena_baseline_server.py is run
    /// [default: the one this binary was built from].
    #[arg(long, value_name = "DIR", conflicts_with = "no_baseline")]
    repo: Option<PathBuf>,
}

/// Where the bridge takes ticks, and its floor beside it.
struct BridgeUrls {
    tick: String,
    empty: String,
    agent: String,
}

pub fn run(options: TickBench) -> anyhow::Result<()> {
    let counts: Vec<usize> = options.agents.iter().map(|&agents| agents.max(1)).collect();
    // First, so that a missing package fails the run before anything is measured.
    let baseline = if options.no_baseline {
        None
    } else {
        Some(Baseline::start(options.python.clone(), options.repo.clone())?)
    };
    let series_per_count = if baseline.is_some() { 3 } else { 2 };
    progress::expect(1 + series_per_count * counts.len() as u64);

    let bridge_runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let bridge = bridge_runtime.block_on(super::bridge_serving(
        &[("arena".into(), "agent-arena".into())],
        BridgeConfig::default(),
    ))?;
    let urls = BridgeUrls {
        tick: format!("{}/tick", bridge.url()),
        empty: bridge_runtime.block_on(super::Floors::start(bridge.shutdown_token()))?.empty,
        agent: bridge.url().replacen("http://", "ws://", 1) + "/agent",
    };
    let client = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let report = client.block_on(measure_all(&counts, options.work, &urls, baseline.as_ref()));
    bridge_runtime.block_on(bridge.stop())?;
    drop(baseline);
    report?.print(options.json)
}

async fn measure_all(
    counts: &[usize],
    work: usize,
    bridge: &BridgeUrls,
    baseline: Option<&Baseline>,
) -> anyhow::Result<Report> {
    let http = reqwest::Client::new();
    let empty_body = Bytes::from_static(b"{}");
    let floor = series(&http, &bridge.empty, "empty HTTP handler", 1, work.min(2000), &empty_body).await?;
    let (mut rules, mut fastapi) = (Vec::new(), Vec::new());
    for &agents in counts {
        let body = tick_body(agents)?;
        let ticks = ticks(work, agents);
        rules.push(series(&http, &bridge.tick, &label(RULES, agents), agents, ticks, &body).await?);
        if let Some(baseline) = baseline {
            same_actions(&http, &bridge.tick, &baseline.tick_url, &body).await?;
            let label = label(FASTAPI, agents);
            fastapi.push(series(&http, &baseline.tick_url, &label, agents, ticks, &body).await?);
        }
    }
    // From here on a WebSocket agent decides every tick.
    start_agent(bridge.agent.clone()).await?;
    let mut agent = Vec::new();
    for &agents in counts {
        let body = tick_body(agents)?;
        let label = label(WEBSOCKET_AGENT, agents);
        agent.push(series(&http, &bridge.tick, &label, agents, ticks(work, agents), &body).await?);
    }

    let mut report = Report::new("tick", &description(baseline));
    add_ratios(&mut report, &floor, &rules, &fastapi, &agent);
    report.floors = vec![floor];
    report.results = rules.into_iter().chain(fastapi).chain(agent).collect();
    Ok(report)
}

fn description(baseline: Option<&Baseline>) -> String {
    let tick = "Agent Arena POST /tick (V1, every perception field), all agents decided per tick";
    match baseline {
        Some(baseline) => format!(
            "{tick}; beside the FastAPI baseline (bench/arena_baseline_server.py, {}, uvicorn {})",
            baseline.python.display(),
            baseline.serving
        ),
        None => format!("{tick}; no baseline (--no-baseline)"),
    }
}

/// `"rules, 1 agent"`, `"rules, 100 agents"`: the series, then the count
/// (the chart reads the series back from before the comma).
fn label(series: &str, agents: usize) -> String {
    format!("{series}, {}", count_of_agents(agents))
}

/// `"1 agent"`, `"100 agents"`.
fn count_of_agents(agents: usize) -> String {
    format!("{agents} agent{}", if agents == 1 { "" } else { "s" })
}

fn ticks(work: usize, agents: usize) -> usize {
    (work / agents.max(1)).max(20)
}

fn add_ratios(
    report: &mut Report,
    floor: &Measurement,
    rules: &[Measurement],
    fastapi: &[Measurement],
    agent: &[Measurement],
) {
    if let Some(first) = rules.first() {
        let label = format!("rules p50 ({}) / empty HTTP p50", agents_of(first));
        report.ratio(&label, p50(first) / p50(floor), None);
    }
    for (series, rows, target) in
        [(RULES, rules, Some(MARGINAL_TARGET_US)), (FASTAPI, fastapi, None), (WEBSOCKET_AGENT, agent, None)]
    {
        if let Some((label, value)) = marginal_cost(series, rows) {
            report.ratio(&label, value, target);
        }
    }
    for (ours, theirs) in rules.iter().zip(fastapi) {
        let (label, value, target) = speedup(ours, theirs);
        report.ratio(&label, value, target);
    }
}

fn p50(row: &Measurement) -> f64 {
    row.p50_us.unwrap_or_default()
}

fn agents_of(row: &Measurement) -> String {
    count_of_agents(row.concurrency)
}

/// What each further agent adds to a tick's p50, in µs, between the
/// smallest and the largest count measured: what a tick costs per agent
/// once the fixed cost of the round trip is taken out.
fn marginal_cost(series: &str, rows: &[Measurement]) -> Option<(String, f64)> {
    let fewest = rows.iter().min_by_key(|row| row.concurrency)?;
    let most = rows.iter().max_by_key(|row| row.concurrency)?;
    let extra = most.concurrency.checked_sub(fewest.concurrency).filter(|&extra| extra > 0)?;
    let label = format!(
        "{series} marginal µs per agent: (p50({}) − p50({})) / {extra}",
        agents_of(most),
        agents_of(fewest)
    );
    Some((label, (p50(most) - p50(fewest)) / extra as f64))
}

/// The bridge's rules against the baseline at one count, as the baseline's
/// time per tick over the bridge's (so that a target is a ceiling, as every
/// ratio's is); the label says the speed-up itself.
fn speedup(ours: &Measurement, theirs: &Measurement) -> (String, f64, Option<f64>) {
    let speedup = ours.per_second / theirs.per_second;
    let target = SPEEDUP_TARGETS.iter().find(|(at, _)| *at == ours.concurrency).map(|(_, target)| *target);
    let wanted = target.map_or(String::new(), |target| format!(", target ≥ {target:.0}×"));
    let label = format!(
        "rules / FastAPI time per tick, {} (rules = {speedup:.1}× the baseline's ticks/s{wanted})",
        agents_of(ours)
    );
    (label, 1.0 / speedup, target.map(|target| 1.0 / target))
}

/// A V1 tick of `agents` perceptions as Godot sends them, with every field
/// of the seed's PerceptionMessage (about 560 bytes each; 562 KB in all at
/// 1,000 agents). Every rule is taken: one agent in three has a hazard in
/// range (and flees it), one a resource (and fetches it), one nothing near
/// (and idles).
fn tick_body(agents: usize) -> anyhow::Result<Bytes> {
    let perceptions: Vec<Value> = (0..agents).map(perception).collect();
    let tick = json!({"tick": 1, "perceptions": perceptions, "simulation_state": {"time_of_day": 0.25}});
    Ok(Bytes::from(serde_json::to_vec(&tick)?))
}

fn perception(agent: usize) -> Value {
    let (hazard, resource) = match agent % 3 {
        0 => (2.5, 1.41),
        1 => (10.0, 1.41),
        _ => (10.0, 6.5),
    };
    json!({
        "agent_id": format!("agent_{agent}"),
        "tick": 1,
        "position": [12.5, 0.0, -3.25],
        "rotation": [0.0, 90.0, 0.0],
        "velocity": [0.5, 0.0, 0.25],
        "visible_entities": [{"id": "tree_7", "type": "tree", "position": [14.5, 0.0, -1.0], "distance": 3.0}],
        "inventory": [{"name": "wood", "quantity": 2}],
        "health": 100.0,
        "energy": 87.5,
        "custom_data": {
            "nearby_resources": [
                {"name": "Berry1", "type": "berry", "position": [13.5, 0.0, -2.25], "distance": resource},
                {"name": "Stone4", "type": "stone", "position": [17.5, 0.0, -3.25], "distance": 5.0}
            ],
            "nearby_hazards": [{"name": "Fire2", "type": "fire", "position": [14.0, 0.0, -1.25], "distance": hazard}]
        }
    })
}

/// `ticks` ticks of `body` to `url`, one at a time, after five to warm up.
async fn series(
    http: &reqwest::Client,
    url: &str,
    label: &str,
    agents: usize,
    ticks: usize,
    body: &Bytes,
) -> anyhow::Result<Measurement> {
    progress::stage(label);
    let mut histogram = new_histogram();
    for _ in 0..5 {
        post(http, url, body).await?;
    }
    let started = Instant::now();
    for _ in 0..ticks {
        let began = Instant::now();
        post(http, url, body).await?;
        histogram.record(began.elapsed().as_nanos() as u64)?;
    }
    Ok(Measurement::from_histogram(label, agents, ticks, started.elapsed(), &histogram))
}

/// The answer to `body` at `url`, which must be a success.
async fn post(http: &reqwest::Client, url: &str, body: &Bytes) -> anyhow::Result<Bytes> {
    let response = http.post(url).header(CONTENT_TYPE, "application/json").body(body.clone()).send().await?;
    let status = response.status();
    let answer = response.bytes().await?;
    if !status.is_success() {
        bail!("{url} answered {status}: {}", String::from_utf8_lossy(&answer[..answer.len().min(300)]));
    }
    Ok(answer)
}

/// Fails unless the baseline answers `body` with the very actions the
/// bridge's rules do, so that both are measured doing the same work.
async fn same_actions(
    http: &reqwest::Client,
    bridge: &str,
    baseline: &str,
    body: &Bytes,
) -> anyhow::Result<()> {
    let actions = async |url: &str| -> anyhow::Result<Vec<Value>> {
        let mut answer: Value = serde_json::from_slice(&post(http, url, body).await?)
            .with_context(|| format!("{url} answered a tick with something that is not JSON"))?;
        match answer["actions"].take() {
            Value::Array(actions) => Ok(actions),
            _ => bail!("{url} answered a tick without a list of actions"),
        }
    };
    let (ours, theirs) = (actions(bridge).await?, actions(baseline).await?);
    if ours.len() != theirs.len() {
        bail!("the baseline answered {} actions, the bridge {}", theirs.len(), ours.len());
    }
    if let Some((ours, theirs)) = ours.iter().zip(&theirs).find(|(ours, theirs)| ours != theirs) {
        bail!(
            "the baseline decides differently from the bridge's rules, so it would not measure the same \
             work: the bridge answered {ours}, the baseline {theirs}"
        );
    }
    Ok(())
}

/// Starts the WebSocket agent on a thread of its own; returns once it has
/// registered.
async fn start_agent(url: String) -> anyhow::Result<()> {
    let (ready, waiting) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(agent(url, ready)),
        Err(error) => drop(ready.send(Err(error.into()))),
    });
    waiting.await.context("the agent thread died")?
}

/// A WebSocket agent deciding every agent of a tick in one answer.
async fn agent(url: String, ready: tokio::sync::oneshot::Sender<anyhow::Result<()>>) {
    let connected = async {
        let (mut socket, _) = tokio_tungstenite::connect_async_with_config(url, None, true).await?;
        let register = json!({"type": "register", "game": "arena", "functions": [{"name": "decide", "timeout_ms": 30000}]});
        socket.send(Message::Text(register.to_string().into())).await?;
        socket.next().await.context("the bridge closed the agent connection")??;
        anyhow::Ok(socket)
    };
    let mut socket = match tokio::time::timeout(Duration::from_secs(10), connected).await {
        Ok(Ok(socket)) => {
            let _ = ready.send(Ok(()));
            socket
        }
        Ok(Err(error)) => return drop(ready.send(Err(error))),
        Err(_) => return drop(ready.send(Err(anyhow::anyhow!("the agent could not connect")))),
    };
    while let Some(Ok(Message::Text(text))) = socket.next().await {
        let Ok(call) = serde_json::from_str::<Value>(text.as_str()) else { continue };
        let actions: Vec<Value> = call["args"]["agents"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|agent| json!({"agent_id": agent["agent_id"], "tool": "idle", "params": {}, "reasoning": "bench"}))
            .collect();
        let answer =
            json!({"type": "result", "id": call["id"], "success": true, "result": {"actions": actions}});
        if socket.send(Message::Text(answer.to_string().into())).await.is_err() {
            return;
        }
    }
}
