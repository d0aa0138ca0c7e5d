//! `gamebridge bench call`: `POST /lua/call` through the bridge to a
//! simulated game on a Unix socket, beside the two floors it is built on,
//! measured in the same run with the same client:
//! - raw: a `lua_call` ping-pong written straight to the game's socket;
//! - http: a round trip to an empty HTTP handler on the bridge's runtime.
//!
//! Target: at concurrency 1 the bridge's p50 is within 2× raw + http.

use bytes::Bytes;
use clap::Args;

use super::Floors;
use super::load::{measure, poster};
use super::raw::RawGame;
use super::report::{Measurement, Report};
use super::sim_games::SimGames;

#[derive(Debug, Args)]
pub struct CallBench {
    /// Calls per measurement (after a warm-up).
    #[arg(long, default_value_t = 5000)]
    calls: usize,
    /// Concurrency levels of the bridge measurement.
    #[arg(long, value_delimiter = ',', default_value = "1,64")]
    concurrency: Vec<usize>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

const BODY: &str = r#"{"function":"Echo","args":[1]}"#;

pub fn run(options: CallBench) -> anyhow::Result<()> {
    let report = super::against_sim_games(1, async |games, bridge, floors| {
        measure_all(&options, games, &bridge, &floors).await
    })?;
    report.print(options.json)
}

async fn measure_all(
    options: &CallBench,
    games: &SimGames,
    bridge: &str,
    floors: &Floors,
) -> anyhow::Result<Report> {
    let calls = options.calls.max(10);
    let http = reqwest::Client::new();
    let mut report =
        Report::new("call", "POST /lua/call (Echo) through the bridge to a game on a Unix socket");

    let mut raw = RawGame::connect(&games.sockets[0]).await?;
    let raw_floor =
        measure("raw socket ping-pong", calls, vec![async || raw.round_trip("[1]").await]).await?;
    let empty = poster(&http, floors.empty.clone(), Bytes::from_static(BODY.as_bytes()));
    let empty_floor = measure("empty HTTP round trip", calls, vec![empty]).await?;

    let mut results = Vec::new();
    for &concurrency in &options.concurrency {
        let concurrency = concurrency.max(1);
        let label = format!("bridge /lua/call c={concurrency}");
        let workers = (0..concurrency)
            .map(|_| poster(&http, format!("{bridge}/lua/call"), Bytes::from_static(BODY.as_bytes())))
            .collect();
        results.push(measure(&label, calls, workers).await?);
    }
    let p50 = |measurement: &Measurement| measurement.p50_us.unwrap_or_default();
    if let Some(at_one) = results.iter().find(|row| row.concurrency == 1) {
        let ratio = p50(at_one) / (p50(&raw_floor) + p50(&empty_floor));
        report.ratio("bridge p50 (c=1) / (raw p50 + http p50)", ratio, Some(2.0));
    }
    report.floors = vec![raw_floor, empty_floor];
    report.results = results;
    Ok(report)
}
