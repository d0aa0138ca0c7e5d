//! `gamebridge bench call`: `POST /lua/call` through the bridge to a
//! simulated game on a Unix socket, beside the two floors it is built on,
//! measured in the same run with the same client:
//! - raw: a `lua_call` ping-pong written straight to the game's socket;
//! - http: a round trip to an empty HTTP handler on the bridge's runtime.
//!
//! Target: at concurrency 1 the bridge's p50 is within 2× raw + http.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use bytes::BytesMut;
use clap::Args;
use futures::StreamExt;
use gamebridge_protocol::{BridgeMessage, FrameCodec, Framing, GameMessage, RawValue, WireId};
use hdrhistogram::Histogram;
use interprocess::local_socket::tokio::Stream as LocalStream;
use interprocess::local_socket::{ConnectOptions, GenericFilePath, ToFsName};
use tokio::io::AsyncWriteExt;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

use super::report::{Measurement, Report};
use crate::bridge::RunningBridge;
use crate::config::BridgeConfig;
use crate::demo::SimGame;

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
    let socket = std::env::temp_dir().join(format!("gamebridge-bench-{}.sock", std::process::id()));
    let stop = CancellationToken::new();

    // The game on its own thread and runtime, as a real game is its own process.
    let game_runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let game_path = socket.clone();
    let game_stop = stop.clone();
    let (ready, started) = std::sync::mpsc::channel();
    let game_thread = std::thread::spawn(move || {
        game_runtime.block_on(async {
            let _ = ready.send(SimGame::start(&game_path, game_stop.clone()).map(drop));
            game_stop.cancelled().await;
        });
    });
    started.recv().context("the simulated game thread died")??;

    // The bridge (and the empty HTTP handler) on a multi-threaded runtime.
    let bridge_runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let (bridge, empty_url) = bridge_runtime.block_on(start_bridge(&socket))?;

    // The client on its own runtime.
    let client_runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let report = client_runtime.block_on(measure(&options, &socket, &bridge.url(), &empty_url))?;

    bridge_runtime.block_on(bridge.stop())?;
    stop.cancel();
    let _ = game_thread.join();
    let _ = std::fs::remove_file(&socket);
    report.print(options.json)
}

async fn start_bridge(socket: &Path) -> anyhow::Result<(RunningBridge, String)> {
    let bridge = super::bridge_for("sim", socket, BridgeConfig::default()).await?;
    let empty_url = super::empty_handler(bridge.shutdown_token()).await?;
    Ok((bridge, empty_url))
}

async fn measure(options: &CallBench, socket: &Path, bridge: &str, empty: &str) -> anyhow::Result<Report> {
    let calls = options.calls.max(10);
    let warmup = (calls / 10).max(10);
    let http = reqwest::Client::new();
    let call_url = format!("{bridge}/lua/call");
    let mut report =
        Report::new("call", "POST /lua/call (Echo) through the bridge to a game on a Unix socket");

    let mut raw = RawGame::connect(socket).await?;
    for _ in 0..warmup {
        raw.round_trip().await?;
    }
    let raw_floor = measure_raw(&mut raw, calls).await?;

    let empty_floor = measure_http("empty HTTP round trip", &http, empty, 1, calls, warmup).await?;
    let mut bridge_at_one = None;
    let mut results = Vec::new();
    for &concurrency in &options.concurrency {
        let label = format!("bridge /lua/call c={concurrency}");
        let measured = measure_http(&label, &http, &call_url, concurrency.max(1), calls, warmup).await?;
        if concurrency == 1 {
            bridge_at_one = measured.p50_us;
        }
        results.push(measured);
    }
    let p50 = |measurement: &Measurement| measurement.p50_us.unwrap_or_default();
    let floor = p50(&raw_floor) + p50(&empty_floor);
    report.floors = vec![raw_floor, empty_floor];
    report.results = results;
    if let Some(bridge_p50) = bridge_at_one {
        report.ratio("bridge p50 (c=1) / (raw p50 + http p50)", bridge_p50 / floor, Some(2.0));
    }
    Ok(report)
}

async fn measure_raw(raw: &mut RawGame, calls: usize) -> anyhow::Result<Measurement> {
    let mut histogram = new_histogram();
    let started = Instant::now();
    for _ in 0..calls {
        let begun = Instant::now();
        raw.round_trip().await?;
        histogram.record(begun.elapsed().as_nanos() as u64)?;
    }
    Ok(Measurement::from_histogram("raw socket ping-pong", 1, calls, started.elapsed(), &histogram))
}

async fn measure_http(
    label: &str,
    http: &reqwest::Client,
    url: &str,
    concurrency: usize,
    calls: usize,
    warmup: usize,
) -> anyhow::Result<Measurement> {
    let post = || async {
        let response = http.post(url).body(BODY).send().await?;
        let body = response.bytes().await?;
        anyhow::ensure!(
            body.starts_with(br#"{"success":true"#),
            "call failed: {}",
            String::from_utf8_lossy(&body)
        );
        anyhow::Ok(())
    };
    for _ in 0..warmup {
        post().await?;
    }
    let per_worker = calls.div_ceil(concurrency);
    let started = Instant::now();
    let workers = (0..concurrency).map(|_| async {
        let mut histogram = new_histogram();
        for _ in 0..per_worker {
            let begun = Instant::now();
            post().await?;
            histogram.record(begun.elapsed().as_nanos() as u64)?;
        }
        anyhow::Ok(histogram)
    });
    let mut total = new_histogram();
    for histogram in futures::future::join_all(workers).await {
        total.add(histogram?)?;
    }
    Ok(Measurement::from_histogram(label, concurrency, per_worker * concurrency, started.elapsed(), &total))
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid histogram bounds")
}

/// A direct connection to the simulated game, speaking the pipe protocol.
struct RawGame {
    frames: FramedRead<tokio::io::ReadHalf<LocalStream>, FrameCodec>,
    writer: tokio::io::WriteHalf<LocalStream>,
    request: BytesMut,
    next_id: u64,
}

impl RawGame {
    async fn connect(path: &Path) -> anyhow::Result<Self> {
        let name = path.as_os_str().to_fs_name::<GenericFilePath>()?;
        let stream: LocalStream = ConnectOptions::new().name(name).connect_tokio().await?;
        let (reader, writer) = tokio::io::split(stream);
        let frames = FramedRead::new(reader, FrameCodec::new(&Framing::default(), 1 << 24));
        Ok(Self { frames, writer, request: BytesMut::new(), next_id: 0 })
    }

    /// One `lua_call` of `Echo` and its `lua_response`, framed and parsed as
    /// the bridge does.
    async fn round_trip(&mut self) -> anyhow::Result<()> {
        self.next_id += 1;
        let call = BridgeMessage::LuaCall {
            id: WireId::Text(self.next_id.to_string()),
            function: "Echo".into(),
            args: RawValue::from_string("[1]".into())?,
        };
        self.request.clear();
        FrameCodec::new(&Framing::default(), 1 << 24).encode(&call.to_json(), &mut self.request)?;
        self.writer.write_all(&self.request).await?;
        loop {
            let frame = self.frames.next().await.context("the game closed the connection")???;
            if let GameMessage::LuaResponse(response) = GameMessage::parse(&frame)? {
                anyhow::ensure!(response.success, "the game failed the call");
                return Ok(());
            }
        }
    }
}
