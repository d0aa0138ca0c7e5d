//! `gamebridge bench`: the bridge measured beside the raw transports it sits
//! on, in the same run, reported as ratios.

mod call;
mod events;
mod mailbox;
mod report;
mod step;
mod tick;

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;

use crate::bridge::RunningBridge;
use crate::config::{BridgeConfig, GameConfig};

#[derive(Debug, Subcommand)]
pub enum Scenario {
    /// POST /lua/call against a simulated game over a Unix socket, at
    /// concurrency 1 and 64, beside a raw socket ping-pong and an empty HTTP
    /// round trip.
    Call(call::CallBench),
    /// Game events through the bridge to 1 and to 100 SSE clients, beside
    /// the raw socket rate of the same frames.
    Events(events::EventsBench),
    /// A Transport Fever 2 command round trip through the legacy mailbox,
    /// beside the seed's Python client (100 ms polling) on the same game.
    Mailbox(mailbox::MailboxBench),
    /// Lockstep frames from 1 and 16 instances through the bridge to a
    /// WebSocket agent, beside a raw TCP ping-pong.
    Step(step::StepBench),
    /// Agent Arena ticks with 1 to 1,000 agents, decided by the rules and by
    /// a WebSocket agent, beside an empty HTTP handler.
    Tick(tick::TickBench),
}

pub fn run(scenario: Scenario) -> anyhow::Result<()> {
    match scenario {
        Scenario::Call(options) => call::run(options),
        Scenario::Events(options) => events::run(options),
        Scenario::Mailbox(options) => mailbox::run(options),
        Scenario::Step(options) => step::run(options),
        Scenario::Tick(options) => tick::run(options),
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
    let bridge = bridge_serving(name, spec, config).await?;
    let game = bridge.hub.game(name).expect("the game was added");
    tokio::time::timeout(Duration::from_secs(10), game.wait_until_connected(true))
        .await
        .with_context(|| format!("the bridge did not connect to the game {name}"))?;
    Ok(bridge)
}

/// A bridge on an ephemeral port serving one game, `name`, through link `spec`.
async fn bridge_serving(name: &str, spec: &str, config: BridgeConfig) -> anyhow::Result<RunningBridge> {
    let config = BridgeConfig {
        listen: "127.0.0.1:0".parse()?,
        games: vec![format!("{name}={spec}").parse::<GameConfig>()?],
        ..config
    };
    RunningBridge::start(config).await
}

/// An HTTP endpoint that answers every POST at once, stopped with `shutdown`:
/// the floor under any HTTP round trip.
async fn empty_handler(shutdown: tokio_util::sync::CancellationToken) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/empty", listener.local_addr()?);
    let empty = axum::Router::new().route(
        "/empty",
        axum::routing::post(|_body: bytes::Bytes| async {
            ([(axum::http::header::CONTENT_TYPE, "application/json")], r#"{"success":true,"result":[1]}"#)
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, empty).with_graceful_shutdown(shutdown.cancelled_owned()).await;
    });
    Ok(url)
}
