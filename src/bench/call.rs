//! `gamebridge bench call`: `POST /lua/call` through the bridge to a
//! simulated game on a Unix socket, beside the two floors it is built on,
//! measured in the same run with the same client:
//! - raw: a `lua_call` ping-pong written straight to the game's socket;
//! - http: a round trip to an empty HTTP handler on the bridge's runtime.
//!
//! The callers are tasks on a client runtime of one thread by default
//! (`--client-threads` for more, on a machine with cores to spare).
//!
//! Targets: at concurrency 1 the bridge's p50 is within 2× raw + http; at
//! every higher concurrency within 1.5× an empty HTTP handler at the same
//! concurrency (measured in the same run), with p99 ≤ 5 ms.

use bytes::Bytes;
use clap::Args;

use super::Floors;
use super::load::{measure, measure_posts};
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
    /// Threads of the client runtime the callers run on. On a 2-core
    /// machine two measured no better than one (they compete with the
    /// bridge's workers); with more cores, more threads keep the client
    /// from being the limit at high concurrency.
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

const BODY: &str = r#"{"function":"Echo","args":[1]}"#;

pub fn run(options: CallBench) -> anyhow::Result<()> {
    let report = super::against_sim_games(1, options.client_threads, async |games, bridge, floors| {
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
    let body = Bytes::from_static(BODY.as_bytes());
    let empty_floor =
        measure_posts("empty HTTP round trip", calls, 1, &http, &floors.empty, body.clone()).await?;

    let p50 = |measurement: &Measurement| measurement.p50_us.unwrap_or_default();
    let mut measured_floors = Vec::new();
    let mut results = Vec::new();
    for &concurrency in &options.concurrency {
        let concurrency = concurrency.max(1);
        let label = format!("bridge /lua/call c={concurrency}");
        let call = format!("{bridge}/lua/call");
        let bridged = measure_posts(&label, calls, concurrency, &http, &call, body.clone()).await?;
        if concurrency == 1 {
            let ratio = p50(&bridged) / (p50(&raw_floor) + p50(&empty_floor));
            report.ratio("bridge p50 (c=1) / (raw p50 + http p50)", ratio, Some(2.0));
        } else {
            // The HTTP floor at the same concurrency, right after.
            let label = format!("empty HTTP round trip c={concurrency}");
            let floor = measure_posts(&label, calls, concurrency, &http, &floors.empty, body.clone()).await?;
            let ratio = p50(&bridged) / p50(&floor);
            report.ratio(
                &format!("bridge p50 (c={concurrency}) / empty HTTP p50 (c={concurrency})"),
                ratio,
                Some(1.5),
            );
            let p99 = bridged.p99_us.unwrap_or_default() / 5000.0;
            report.ratio(&format!("bridge p99 (c={concurrency}) / 5 ms"), p99, Some(1.0));
            measured_floors.push(floor);
        }
        results.push(bridged);
    }
    report.floors = [raw_floor, empty_floor].into_iter().chain(measured_floors).collect();
    report.results = results;
    Ok(report)
}
