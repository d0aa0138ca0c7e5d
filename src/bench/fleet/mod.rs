//! `gamebridge bench fleet`: 64 Tempest-like lockstep instances spread over
//! four bridge processes joined by a real `nats-server`, their frames
//! answered by four WebSocket agents connected to four more bridge
//! processes (the workers, as on a learner's machines), beside the same 64
//! instances and four agents on one bridge without NATS, in the same run.
//! Also a `/lua/call` to a game on another node beside the same call made
//! on the game's own node.
//!
//! Targets: the fleet's aggregate steps/s ≥ 0.7× the single bridge's (on
//! one machine every process shares its cores: a real fleet adds
//! machines). Cross-node call and p99 step latency are reported as ratios
//! without targets.

mod processes;

use std::time::Instant;

use anyhow::Context;
use bytes::Bytes;
use clap::Args;
use tokio::net::TcpStream;

use self::processes::{Bridge, NatsServer};
use super::load::{measure_posts, merged};
use super::report::{Measurement, Report};
use super::sim_games::SimGames;

const STEP_SPEC: &str =
    "tcp:127.0.0.1:0?listen&framing=u16be&handshake=2&reply=5&protocol=step&step_timeout_ms=5000";
const BRIDGES: usize = 4;
const INSTANCES_PER_BRIDGE: usize = 16;
const CALL: &str = r#"{"function":"Echo","args":[1]}"#;

#[derive(Debug, Args)]
pub struct FleetBench {
    /// Steps per instance.
    #[arg(long, default_value_t = 1000)]
    steps: usize,
    /// Calls per call measurement.
    #[arg(long, default_value_t = 2000)]
    calls: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(options: FleetBench) -> anyhow::Result<()> {
    let steps = options.steps.max(10);
    let calls = options.calls.max(10);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let report = runtime.block_on(async {
        let mut report = Report::new(
            "fleet",
            "64 lockstep instances over 4 bridges and 4 agent workers joined by NATS, beside one bridge",
        );
        let single = single_bridge(steps).await?;
        let (fleet, same_node, cross_node) = fleet(steps, calls).await?;
        report.ratio(
            "single-bridge steps/s / fleet steps/s (64 instances; ≤ 1.43 is ≥ 0.7×)",
            single.per_second / fleet.per_second,
            Some(1.0 / 0.7),
        );
        let p99 = |row: &Measurement| row.p99_us.unwrap_or_default();
        let p50 = |row: &Measurement| row.p50_us.unwrap_or_default();
        report.ratio("fleet p99 step / single-bridge p99 step", p99(&fleet) / p99(&single), None);
        report.ratio("cross-node /lua/call p50 / same-node p50", p50(&cross_node) / p50(&same_node), None);
        report.floors = vec![single, same_node];
        report.results = vec![fleet, cross_node];
        anyhow::Ok(report)
    })?;
    report.print(options.json)
}

fn game_names() -> Vec<String> {
    (1..=BRIDGES).map(|index| format!("tempest-{index}")).collect()
}

/// The 64 instances and four agents on one bridge.
async fn single_bridge(steps: usize) -> anyhow::Result<Measurement> {
    super::progress::stage("one bridge");
    let games: Vec<String> = game_names().iter().map(|name| format!("{name}={STEP_SPEC}")).collect();
    let bridge = Bridge::start(&games, None).await?;
    for name in game_names() {
        spawn_agent(&bridge.url, vec![name])?;
    }
    let mut addresses = Vec::new();
    for name in game_names() {
        addresses.push(bridge.listening_address(&name).await?);
    }
    play_all(&addresses, steps, "one bridge, 4 agents").await
}

/// The fleet: its steps, then a call on the game's node and through another.
async fn fleet(steps: usize, calls: usize) -> anyhow::Result<(Measurement, Measurement, Measurement)> {
    super::progress::stage("the fleet");
    let nats = NatsServer::start().await?;
    let sim = SimGames::start(1)?;
    let (_, sim_link) = sim.links().into_iter().next().context("a simulated game")?;
    let mut game_nodes = Vec::new();
    for (index, name) in game_names().iter().enumerate() {
        let mut games = vec![format!("{name}={STEP_SPEC}")];
        if index == 0 {
            games.push(format!("civ5={sim_link}"));
        }
        game_nodes.push(Bridge::start(&games, Some((&nats, &format!("games-{}", index + 1)))).await?);
    }
    let names = game_names();
    let wanted: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut workers = Vec::new();
    for index in 1..=BRIDGES {
        let worker = Bridge::start(&[], Some((&nats, &format!("workers-{index}")))).await?;
        worker.wait_for_games(&wanted).await?;
        spawn_agent(&worker.url, names.clone())?;
        workers.push(worker);
    }
    let mut addresses = Vec::new();
    for (node, name) in game_nodes.iter().zip(&names) {
        node.wait_for_step_servers(name, BRIDGES).await?;
        addresses.push(node.listening_address(name).await?);
    }
    let stepped = play_all(&addresses, steps, "fleet: 4 bridges, 4 workers").await?;

    let http = reqwest::Client::new();
    let body = Bytes::from_static(CALL.as_bytes());
    workers[0].wait_for_games(&["civ5"]).await?;
    let same = format!("{}/games/civ5/lua/call", game_nodes[0].url);
    let same_node =
        measure_posts("/lua/call on the game's node", calls, 1, &http, &same, body.clone()).await?;
    let cross = format!("{}/games/civ5/lua/call", workers[0].url);
    let cross_node = measure_posts("/lua/call through another node", calls, 1, &http, &cross, body).await?;
    Ok((stepped, same_node, cross_node))
}

/// An agent on a thread of its own, stepping `games` through the bridge at `base`.
fn spawn_agent(base: &str, games: Vec<String>) -> anyhow::Result<()> {
    let url = base.replacen("http://", "ws://", 1) + "/agent";
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (ready, registered) = std::sync::mpsc::channel();
    std::thread::spawn(move || runtime.block_on(super::step::stepping_agent(url, games, ready)));
    registered.recv().context("the agent thread died")?
}

/// [`INSTANCES_PER_BRIDGE`] instances on each address, `steps` each, at once.
async fn play_all(addresses: &[String], steps: usize, label: &str) -> anyhow::Result<Measurement> {
    let mut connections = Vec::new();
    for address in addresses {
        for _ in 0..INSTANCES_PER_BRIDGE {
            connections.push(TcpStream::connect(address).await?);
        }
    }
    let instances = connections.len();
    let started = Instant::now();
    let games = connections.into_iter().map(|stream| super::step::play(stream, steps, true));
    let total = merged(futures::future::try_join_all(games).await?)?;
    Ok(Measurement::from_histogram(label, instances, steps * instances, started.elapsed(), &total))
}
