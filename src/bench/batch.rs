//! `gamebridge bench batch`: `POST /lua/batch` of many `Echo` calls through
//! the bridge to a simulated game, beside its floors measured in the same
//! run with the same client:
//! - raw: the same calls written to the game's socket at once, then their
//!   answers read;
//! - http: an HTTP echo of the same request body.
//!
//! Target: the bridge's p50 is within 2× raw + http.

use bytes::Bytes;
use clap::Args;

use super::Floors;
use super::load::{measure, poster};
use super::raw::RawGame;
use super::report::{Measurement, Report};
use super::sim_games::SimGames;

#[derive(Debug, Args)]
pub struct BatchBench {
    /// Batches per measurement (after a warm-up).
    #[arg(long, default_value_t = 1000)]
    batches: usize,
    /// Calls in each batch.
    #[arg(long, default_value_t = 100)]
    size: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(options: BatchBench) -> anyhow::Result<()> {
    let report = super::against_sim_games(1, 1, async |games, bridge, floors| {
        measure_all(&options, games, &bridge, &floors).await
    })?;
    report.print(options.json)
}

async fn measure_all(
    options: &BatchBench,
    games: &SimGames,
    bridge: &str,
    floors: &Floors,
) -> anyhow::Result<Report> {
    let batches = options.batches.max(10);
    let size = options.size.max(1);
    let body = Bytes::from(format!("[{}]", vec![r#"{"function":"Echo","args":[1]}"#; size].join(",")));
    let http = reqwest::Client::new();
    let mut report = Report::new(
        "batch",
        &format!("POST /lua/batch of {size} Echo calls through the bridge to a game on a Unix socket"),
    );

    let mut raw = RawGame::connect(&games.sockets[0]).await?;
    let label = format!("raw socket, {size} calls pipelined");
    let raw_floor = measure(&label, batches, vec![async || raw.calls(size, "[1]").await]).await?;
    let echo = poster(&http, floors.echo.clone(), body.clone());
    let http_floor = measure("HTTP echo of the batch body", batches, vec![echo]).await?;
    let label = format!("bridge /lua/batch of {size}");
    let batched = measure(&label, batches, vec![poster(&http, format!("{bridge}/lua/batch"), body)]).await?;
    let one = Bytes::from_static(br#"{"function":"Echo","args":[1]}"#);
    let single = measure(
        "bridge /lua/call, one call",
        batches,
        vec![poster(&http, format!("{bridge}/lua/call"), one)],
    )
    .await?;

    let p50 = |measurement: &Measurement| measurement.p50_us.unwrap_or_default();
    let floor = p50(&raw_floor) + p50(&http_floor);
    report.ratio("bridge batch p50 / (raw p50 + http p50)", p50(&batched) / floor, Some(2.0));
    let per_call = p50(&batched) / size as f64;
    report.ratio("a call in a batch / a call on its own (p50)", per_call / p50(&single), None);
    report.floors = vec![raw_floor, http_floor];
    report.results = vec![batched, single];
    Ok(report)
}
