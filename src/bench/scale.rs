//! `gamebridge bench scale`: how the cost of `POST /lua/call` grows with the
//! payload (1 KB → 1 MB), the number of games served (1 → 64, one client
//! each) and the number of clients of one game (1 → 256). Every point is
//! measured beside its own floors, at the same payload and concurrency: a
//! raw socket ping-pong per client and an HTTP echo of the same body.
//! `bench chart` draws the JSON of this report.

use std::sync::Arc;

use bytes::Bytes;
use clap::Args;
use serde::{Deserialize, Serialize};

use super::load::{measure, poster};
use super::raw::RawGame;
use super::report::Measurement;
use super::sim_games::SimGames;
use super::{Floors, progress};

#[derive(Debug, Args)]
pub struct ScaleBench {
    /// Calls per point at 1 KB; larger payloads make proportionally fewer
    /// (at least 50), more clients at least 10 each.
    #[arg(long, default_value_t = 5000)]
    calls: usize,
    /// Payload sizes in bytes (one client, one game).
    #[arg(long, value_delimiter = ',', default_value = "1024,4096,16384,65536,262144,1048576")]
    payloads: Vec<usize>,
    /// Numbers of games served, one client calling each (1 KB payload).
    #[arg(long, value_delimiter = ',', default_value = "1,4,16,64")]
    games: Vec<usize>,
    /// Numbers of clients calling one game (1 KB payload).
    #[arg(long, value_delimiter = ',', default_value = "1,4,16,64,256")]
    clients: Vec<usize>,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ScaleReport {
    pub scenario: String,
    pub description: String,
    pub series: Vec<Series>,
}

/// How one quantity grows the cost of a call.
#[derive(Debug, Serialize, Deserialize)]
pub struct Series {
    /// `payload`, `games` or `clients`.
    pub name: String,
    /// What `x` counts, for tables and axes.
    pub axis: String,
    pub points: Vec<Point>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Point {
    pub x: usize,
    pub bridge: Measurement,
    pub raw: Measurement,
    pub http: Measurement,
    /// Bridge p50 / (raw p50 + http p50).
    pub ratio: f64,
}

/// One point's set-up: how many games are called, by how many clients, with
/// how large a payload.
struct Load {
    games: usize,
    clients: usize,
    payload: usize,
}

const SMALL: usize = 1024;

pub fn run(options: ScaleBench) -> anyhow::Result<()> {
    let most_games = options.games.iter().copied().max().unwrap_or(1).max(1);
    let points = options.payloads.len() + options.games.len() + options.clients.len();
    progress::expect(3 * points as u64);
    let report = super::against_sim_games(most_games, 1, async |games, bridge, floors| {
        let bench = Bench { http: reqwest::Client::new(), games, bridge, floors, calls: options.calls };
        let mut series = Vec::new();
        let loads = options.payloads.iter().map(|&payload| (payload, Load { games: 1, clients: 1, payload }));
        series.push(bench.series("payload", "payload bytes", loads).await?);
        let loads =
            options.games.iter().map(|&games| (games, Load { games, clients: games, payload: SMALL }));
        series.push(bench.series("games", "games served, one client each", loads).await?);
        let loads =
            options.clients.iter().map(|&clients| (clients, Load { games: 1, clients, payload: SMALL }));
        series.push(bench.series("clients", "clients of one game", loads).await?);
        anyhow::Ok(ScaleReport {
            scenario: "scale".into(),
            description: "POST /lua/call (Echo) as payload, games and clients grow".into(),
            series,
        })
    })?;
    progress::finish();
    if options.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_tables(&report);
    }
    Ok(())
}

struct Bench<'a> {
    http: reqwest::Client,
    games: &'a SimGames,
    bridge: String,
    floors: Floors,
    calls: usize,
}

impl Bench<'_> {
    async fn series(
        &self,
        name: &str,
        axis: &str,
        loads: impl Iterator<Item = (usize, Load)>,
    ) -> anyhow::Result<Series> {
        let mut points = Vec::new();
        for (x, load) in loads {
            points.push(self.point(x, load).await?);
        }
        Ok(Series { name: name.into(), axis: axis.into(), points })
    }

    async fn point(&self, x: usize, load: Load) -> anyhow::Result<Point> {
        let games = load.games.clamp(1, self.games.sockets.len());
        let clients = load.clients.max(1);
        let calls = (self.calls * SMALL / load.payload.max(SMALL)).max(50).max(clients * 10);
        let args: Arc<str> = format!(r#"["{}"]"#, "x".repeat(load.payload.saturating_sub(4))).into();
        let body = Bytes::from(format!(r#"{{"function":"Echo","args":{args}}}"#));
        let shape = format!("{} B, {games} games, {clients} clients", load.payload);

        let mut connections = Vec::with_capacity(clients);
        for client in 0..clients {
            connections.push(RawGame::connect(&self.games.sockets[client % games]).await?);
        }
        let raw_workers = (connections.iter_mut())
            .map(|raw| {
                let args = args.clone();
                async move || raw.round_trip(&args).await
            })
            .collect();
        let raw = measure(&format!("raw socket: {shape}"), calls, raw_workers).await?;

        let echo_workers =
            (0..clients).map(|_| poster(&self.http, self.floors.echo.clone(), body.clone())).collect();
        let http = measure(&format!("HTTP echo: {shape}"), calls, echo_workers).await?;

        let bridge_workers = (0..clients)
            .map(|client| {
                let url = format!("{}/games/game-{}/lua/call", self.bridge, client % games);
                poster(&self.http, url, body.clone())
            })
            .collect();
        let bridge = measure(&format!("bridge: {shape}"), calls, bridge_workers).await?;

        let p50 = |measurement: &Measurement| measurement.p50_us.unwrap_or_default();
        let ratio = p50(&bridge) / (p50(&raw) + p50(&http));
        Ok(Point { x, bridge, raw, http, ratio })
    }
}

fn print_tables(report: &ScaleReport) {
    println!("bench {}: {}", report.scenario, report.description);
    for series in &report.series {
        println!();
        println!(
            "{:<30} {:>12} {:>12} {:>12} {:>7} {:>14} {:>12}",
            series.axis, "bridge p50", "raw p50", "http p50", "ratio", "bridge calls/s", "bridge p99"
        );
        for point in &series.points {
            let micros =
                |measurement: &Measurement| format!("{:.1} µs", measurement.p50_us.unwrap_or_default());
            println!(
                "{:<30} {:>12} {:>12} {:>12} {:>7.2} {:>14.0} {:>12}",
                point.x,
                micros(&point.bridge),
                micros(&point.raw),
                micros(&point.http),
                point.ratio,
                point.bridge.per_second,
                format!("{:.1} µs", point.bridge.p99_us.unwrap_or_default()),
            );
        }
    }
}
