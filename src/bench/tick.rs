//! `gamebridge bench tick`: Agent Arena's `POST /tick` with 1, 10, 100 and
//! 1,000 agents, decided by the rules and by a WebSocket agent, beside an
//! HTTP round trip to an empty handler measured in the same run.

use reqwest::header::CONTENT_TYPE;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::load::new_histogram;
use super::report::{Measurement, Report};
use crate::config::BridgeConfig;

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
}

pub fn run(options: TickBench) -> anyhow::Result<()> {
    let bridge_runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let bridge = bridge_runtime.block_on(super::bridge_serving(
        &[("arena".into(), "agent-arena".into())],
        BridgeConfig::default(),
    ))?;
    let empty = bridge_runtime.block_on(super::Floors::start(bridge.shutdown_token()))?.empty;
    let tick_url = format!("{}/tick", bridge.url());
    let agent_url = bridge.url().replacen("http://", "ws://", 1) + "/agent";

    let client = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let report = client.block_on(async {
        let http = reqwest::Client::new();
        let mut report = Report::new("tick", "Agent Arena POST /tick, all agents decided per tick");
        let floor =
            series(&http, &empty, "empty HTTP handler", 1, options.work.min(2000), |_| json!({})).await?;
        let mut results = Vec::new();
        for &agents in &options.agents {
            let label = format!("rules, {agents} agents");
            results.push(series(&http, &tick_url, &label, agents, ticks(options.work, agents), body).await?);
        }
        // From here on a WebSocket agent decides every tick.
        let (ready, waiting) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(agent(agent_url, ready));
        });
        waiting.await.context("the agent thread died")??;
        for &agents in &options.agents {
            let label = format!("WebSocket agent, {agents} agents");
            results.push(series(&http, &tick_url, &label, agents, ticks(options.work, agents), body).await?);
        }
        if let Some(one) = results.first() {
            let p50 = |row: &Measurement| row.p50_us.unwrap_or_default();
            report.ratio("rules p50 (1 agent) / empty HTTP p50", p50(one) / p50(&floor), None);
        }
        report.floors = vec![floor];
        report.results = results;
        anyhow::Ok(report)
    })?;
    bridge_runtime.block_on(bridge.stop())?;
    report.print(options.json)
}

fn ticks(work: usize, agents: usize) -> usize {
    (work / agents.max(1)).max(20)
}

/// A V1 tick with `agents` perceptions, each near a resource.
fn body(agents: usize) -> Value {
    let perceptions: Vec<Value> = (0..agents)
        .map(|n| {
            json!({"agent_id": format!("agent_{n}"), "tick": 1, "position": [0.0, 0.0, 0.0], "custom_data": {
                "nearby_resources": [{"position": [1.0, 0.0, 2.0], "type": "berry"}],
                "nearby_hazards": [{"position": [9.0, 0.0, 9.0], "type": "fire"}]}})
        })
        .collect();
    json!({"tick": 1, "perceptions": perceptions, "simulation_state": {}})
}

async fn series(
    http: &reqwest::Client,
    url: &str,
    label: &str,
    agents: usize,
    ticks: usize,
    body: impl Fn(usize) -> Value,
) -> anyhow::Result<Measurement> {
    super::progress::stage(label);
    let payload = serde_json::to_vec(&body(agents))?;
    let mut histogram = new_histogram();
    for _ in 0..5 {
        http.post(url)
            .header(CONTENT_TYPE, "application/json")
            .body(payload.clone())
            .send()
            .await?
            .bytes()
            .await?;
    }
    let started = Instant::now();
    for _ in 0..ticks {
        let began = Instant::now();
        let response =
            http.post(url).header(CONTENT_TYPE, "application/json").body(payload.clone()).send().await?;
        anyhow::ensure!(response.status().is_success(), "{url} answered {}", response.status());
        response.bytes().await?;
        histogram.record(began.elapsed().as_nanos() as u64)?;
    }
    Ok(Measurement::from_histogram(label, agents, ticks, started.elapsed(), &histogram))
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
