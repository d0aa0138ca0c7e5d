//! `gamebridge bench`: the bridge measured beside the raw transports it sits
//! on, in the same run, reported as ratios.

mod batch;
mod call;
mod chart;
mod events;
mod fleet;
mod load;
mod mailbox;
mod progress;
mod raw;
mod report;
mod scale;
mod script;
mod sim_games;
mod step;
mod step_python;
mod tick;
mod tick_baseline;

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;

use crate::bridge::RunningBridge;
use crate::config::{BridgeConfig, GameConfig};
use sim_games::SimGames;

#[derive(Debug, Subcommand)]
pub enum Scenario {
    /// POST /lua/call against a simulated game over a Unix socket, at
    /// concurrency 1 and 64, beside a raw socket ping-pong and an empty HTTP
    /// round trip.
    Call(call::CallBench),
    /// POST /lua/batch of 100 calls through the bridge, beside the same
    /// calls pipelined straight to the game's socket and an HTTP echo of the
    /// same body.
    Batch(batch::BatchBench),
    /// Game events through the bridge to 1 and to 100 SSE clients, beside
    /// the raw socket rate of the same frames.
    Events(events::EventsBench),
    /// A Transport Fever 2 command round trip through the legacy mailbox,
    /// beside the seed's Python client (100 ms polling) on the same game.
    Mailbox(mailbox::MailboxBench),
    /// Lockstep frames from 1 and 16 instances through the bridge to a
    /// WebSocket agent, beside a raw TCP ping-pong; with --python, beside a
    /// Python baseline server, through the Python package's agent.
    Step(step::StepBench),
    /// 64 lockstep instances over 4 bridge processes and 4 agent workers
    /// joined by a nats-server, beside the same on one bridge; and a call
    /// through another node beside one on the game's node.
    Fleet(fleet::FleetBench),
    /// Agent Arena ticks with 1 to 1,000 agents, decided by the rules and by
    /// a WebSocket agent, beside an empty HTTP handler and a FastAPI
    /// baseline server (Python; --no-baseline leaves it out).
    Tick(tick::TickBench),
    /// How the cost of a call grows with payload size (1 KB to 1 MB),
    /// number of games (1 to 64) and number of clients (1 to 256), each
    /// point beside its floors.
    Scale(scale::ScaleBench),
    /// Draws a chart (SVG) from the JSON of `bench scale --json` (cost vs
    /// payload, games, clients) or of `bench tick --json` (cost per agent vs
    /// agents).
    Chart(chart::ChartOptions),
}

pub fn run(scenario: Scenario) -> anyhow::Result<()> {
    if let Some(name) = scenario.measures() {
        progress::start(name);
    }
    match scenario {
        Scenario::Call(options) => call::run(options),
        Scenario::Batch(options) => batch::run(options),
        Scenario::Scale(options) => scale::run(options),
        Scenario::Chart(options) => chart::run(options),
        Scenario::Events(options) => events::run(options),
        Scenario::Mailbox(options) => mailbox::run(options),
        Scenario::Step(options) => step::run(options),
        Scenario::Fleet(options) => fleet::run(options),
        Scenario::Tick(options) => tick::run(options),
    }
}

impl Scenario {
    /// The name of the scenario, when it measures something (and so shows
    /// its progress).
    fn measures(&self) -> Option<&'static str> {
        Some(match self {
            Scenario::Call(_) => "call",
            Scenario::Batch(_) => "batch",
            Scenario::Events(_) => "events",
            Scenario::Mailbox(_) => "mailbox",
            Scenario::Step(_) => "step",
            Scenario::Fleet(_) => "fleet",
            Scenario::Tick(_) => "tick",
            Scenario::Scale(_) => "scale",
            Scenario::Chart(_) => return None,
        })
    }
}

/// The runtimes of a call benchmark: the bridge (and the HTTP floor) on two
/// workers, the client on a thread of its own.
struct Runtimes {
    bridge: tokio::runtime::Runtime,
    client: tokio::runtime::Runtime,
}

impl Runtimes {
    /// The bridge's two workers, and a client of `client_threads` threads
    /// (one: a current-thread runtime).
    fn new(client_threads: usize) -> anyhow::Result<Self> {
        let client = match client_threads {
            0 | 1 => tokio::runtime::Builder::new_current_thread().enable_all().build()?,
            threads => {
                tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()?
            }
        };
        Ok(Self {
            bridge: tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?,
            client,
        })
    }
}

/// A bridge on an ephemeral port serving one game, `name`, on the Unix
/// socket at `socket`; returns once the bridge is connected to it.
async fn bridge_for(name: &str, socket: &Path, config: BridgeConfig) -> anyhow::Result<RunningBridge> {
    bridge_for_spec(name, &format!("unix:{}", socket.display()), config).await
}

/// A bridge on an ephemeral port serving one game, `name`, through link
/// `spec`; returns once the game is connected.
async fn bridge_for_spec(name: &str, spec: &str, config: BridgeConfig) -> anyhow::Result<RunningBridge> {
    bridge_for_games(&[(name.to_owned(), spec.to_owned())], config).await
}

/// A bridge on an ephemeral port serving `games` (name, link spec); returns
/// once every game is connected.
async fn bridge_for_games(games: &[(String, String)], config: BridgeConfig) -> anyhow::Result<RunningBridge> {
    let bridge = bridge_serving(games, config).await?;
    for (name, _) in games {
        let game = bridge.hub.game(name).expect("the game was added");
        tokio::time::timeout(Duration::from_secs(10), game.wait_until_connected(true))
            .await
            .with_context(|| format!("the bridge did not connect to the game {name}"))?;
    }
    Ok(bridge)
}

/// A bridge on an ephemeral port serving `games` (name, link spec).
async fn bridge_serving(games: &[(String, String)], config: BridgeConfig) -> anyhow::Result<RunningBridge> {
    let games = (games.iter())
        .map(|(name, spec)| format!("{name}={spec}").parse::<GameConfig>())
        .collect::<Result<_, _>>()?;
    RunningBridge::start(BridgeConfig { listen: "127.0.0.1:0".parse()?, games, ..config }).await
}

/// Runs `measure` on a client runtime of its own (`client_threads`
/// threads) against a bridge serving `count` simulated games (passed the
/// games, the bridge's URL and the HTTP floor beside it), then stops the
/// bridge.
fn against_sim_games<T>(
    count: usize,
    client_threads: usize,
    measure: impl AsyncFnOnce(&SimGames, String, Floors) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let games = SimGames::start(count)?;
    let runtimes = Runtimes::new(client_threads)?;
    let (bridge, floors) = runtimes.bridge.block_on(bridge_with_floors(&games, BridgeConfig::default()))?;
    let outcome = runtimes.client.block_on(measure(&games, bridge.url(), floors));
    runtimes.bridge.block_on(bridge.stop())?;
    outcome
}

/// A bridge serving the simulated `games`, with the HTTP floor beside it on
/// the same runtime.
async fn bridge_with_floors(
    games: &SimGames,
    config: BridgeConfig,
) -> anyhow::Result<(RunningBridge, Floors)> {
    let bridge = bridge_for_games(&games.links(), config).await?;
    let floors = Floors::start(bridge.shutdown_token()).await?;
    Ok((bridge, floors))
}

/// HTTP endpoints that do no work, stopped with the bridge: the floor under
/// any HTTP round trip.
struct Floors {
    /// Answers every POST at once with a small success envelope.
    empty: String,
    /// Answers every POST with its body inside a success envelope, so the
    /// floor carries the same bytes both ways as the call it stands beside.
    echo: String,
}

impl Floors {
    async fn start(shutdown: tokio_util::sync::CancellationToken) -> anyhow::Result<Self> {
        use axum::http::header::CONTENT_TYPE;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let router = axum::Router::new()
            .route(
                "/empty",
                axum::routing::post(|_body: bytes::Bytes| async {
                    ([(CONTENT_TYPE, "application/json")], r#"{"success":true,"result":[1]}"#)
                }),
            )
            .route(
                "/echo",
                axum::routing::post(|body: bytes::Bytes| async move {
                    let mut answer = Vec::with_capacity(body.len() + 32);
                    answer.extend_from_slice(br#"{"success":true,"result":"#);
                    answer.extend_from_slice(&body);
                    answer.push(b'}');
                    ([(CONTENT_TYPE, "application/json")], answer)
                }),
            )
            .layer(axum::extract::DefaultBodyLimit::max(gamebridge_api::BODY_LIMIT));
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).with_graceful_shutdown(shutdown.cancelled_owned()).await;
        });
        Ok(Self { empty: format!("{base}/empty"), echo: format!("{base}/echo") })
    }
}
