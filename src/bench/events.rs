//! `gamebridge bench events`: game events from a producer on a Unix socket,
//! through the bridge, to 1 and to 100 live SSE clients — beside the raw
//! socket rate of the same frames, measured in the same run. Every client
//! must receive every event, in order: the report counts losses and lag
//! notices (expected: none).

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use bytes::{Bytes, BytesMut};
use clap::Args;
use futures::StreamExt;
use gamebridge_protocol::{FrameCodec, Framing, GameMessage};
use tokio::io::AsyncWriteExt;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::FramedRead;

use super::report::{Measurement, Report};
use crate::bridge::RunningBridge;
use crate::config::BridgeConfig;

#[derive(Debug, Args)]
pub struct EventsBench {
    /// Events per measurement.
    #[arg(long, default_value_t = 100_000)]
    events: usize,
    /// Numbers of SSE clients to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,100")]
    clients: Vec<usize>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(options: EventsBench) -> anyhow::Result<()> {
    let events = options.events.max(10);
    let frames = encoded_events(events);
    let socket = std::env::temp_dir().join(format!("gamebridge-bench-events-{}.sock", std::process::id()));

    // The producer game: its own thread and runtime, like a separate process.
    let (bursts, burst_queue) = mpsc::channel::<oneshot::Sender<()>>(1);
    let producer = {
        let frames = frames.clone();
        let socket = socket.clone();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let listener = runtime.block_on(async { bind(&socket) })?;
        std::thread::spawn(move || runtime.block_on(produce(listener, frames, burst_queue)))
    };

    let bridge_runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let bridge = bridge_runtime.block_on(start_bridge(&socket, events))?;
    let client_runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let report = client_runtime.block_on(async {
        let mut report = Report::new("events", "game events through the bridge to live SSE clients");
        let raw = measure_raw(&frames, events).await?;
        let mut rows = Vec::new();
        for &clients in &options.clients {
            rows.push(measure_sse(&bridge.url(), clients.max(1), events, &bursts).await?);
        }
        if let Some(single) = rows.iter().find(|row| row.concurrency == 1) {
            report.ratio(
                "raw socket events/s / bridge events/s (1 client)",
                raw.per_second / single.per_second,
                None,
            );
        }
        report.floors = vec![raw];
        report.results = rows;
        anyhow::Ok(report)
    })?;

    bridge_runtime.block_on(bridge.stop())?;
    drop(bursts);
    let _ = producer.join();
    let _ = std::fs::remove_file(&socket);
    report.print(options.json)
}

/// `events` game_event frames, as a game would write them.
fn encoded_events(events: usize) -> Bytes {
    let codec = FrameCodec::new(&Framing::default(), 1 << 24);
    let mut buffer = BytesMut::new();
    for n in 0..events {
        let frame = format!(
            r#"{{"type":"game_event","id":{},"event":"UnitMoved","payload":{{"unitId":{},"x":{},"y":{},"owner":1}}}}"#,
            1_000_000 + n,
            n % 64,
            n % 10,
            n % 7
        );
        codec.encode(frame.as_bytes(), &mut buffer).expect("small frames encode");
    }
    buffer.freeze()
}

fn bind(path: &Path) -> std::io::Result<UnixListener> {
    let _ = std::fs::remove_file(path);
    UnixListener::bind(path)
}

/// Accepts the bridge, then writes all frames once per burst request.
async fn produce(listener: UnixListener, frames: Bytes, mut bursts: mpsc::Receiver<oneshot::Sender<()>>) {
    let Ok((mut stream, _)) = listener.accept().await else { return };
    while let Some(done) = bursts.recv().await {
        if stream.write_all(&frames).await.is_err() {
            return;
        }
        let _ = done.send(());
    }
}

async fn start_bridge(socket: &Path, events: usize) -> anyhow::Result<RunningBridge> {
    // Room for every event of a run: a client that keeps up must lose nothing.
    let config = BridgeConfig { event_ring: events * 2, ..BridgeConfig::default() };
    super::bridge_for("producer", socket, config).await
}

/// The floor: the same frames over a Unix socket pair, cut and parsed.
async fn measure_raw(frames: &Bytes, events: usize) -> anyhow::Result<Measurement> {
    super::progress::stage("raw socket");
    let (mut writer, reader) = UnixStream::pair()?;
    let frames = frames.clone();
    let started = Instant::now();
    let write = tokio::spawn(async move { writer.write_all(&frames).await });
    let mut decoded = FramedRead::new(reader, FrameCodec::new(&Framing::default(), 1 << 24));
    let mut count = 0;
    while count < events {
        let frame = decoded.next().await.context("the raw socket closed early")???;
        GameMessage::parse(&frame)?;
        count += 1;
    }
    let elapsed = started.elapsed();
    write.await??;
    Ok(Measurement::rate("raw socket (frame + parse)", 1, events, elapsed))
}

/// `clients` SSE clients following `/events` while the producer sends one
/// burst; the rate is events per second each client received.
async fn measure_sse(
    url: &str,
    clients: usize,
    events: usize,
    bursts: &mpsc::Sender<oneshot::Sender<()>>,
) -> anyhow::Result<Measurement> {
    super::progress::stage(&format!("{clients} SSE clients"));
    let http = reqwest::Client::new();
    let mut streams = Vec::with_capacity(clients);
    for _ in 0..clients {
        let response = http.get(format!("{url}/events?types=UnitMoved")).send().await?;
        let mut body = response.bytes_stream();
        // Wait for `connected`: the client is subscribed before the burst.
        let first = body.next().await.context("the stream closed")??;
        anyhow::ensure!(first.windows(9).any(|window| window == b"connected"), "no connected event");
        streams.push(body);
    }
    let started = Instant::now();
    let (done, _burst_written) = oneshot::channel();
    bursts.send(done).await.context("the producer stopped")?;
    let readers = streams.into_iter().map(|body| read_events(body, events));
    let outcomes = futures::future::join_all(readers).await;
    let elapsed = started.elapsed();
    let mut lost = 0;
    for outcome in outcomes {
        lost += outcome?;
    }
    anyhow::ensure!(lost == 0, "{lost} events were lost by clients that kept up");
    let label = format!("bridge SSE, {clients} client{}", if clients == 1 { "" } else { "s" });
    Ok(Measurement::rate(&label, clients, events, elapsed))
}

/// Reads until `events` message events arrived; returns how many ids were
/// skipped (0 when the stream is complete and in order).
async fn read_events(
    mut body: impl futures::Stream<Item = reqwest::Result<Bytes>> + Unpin,
    events: usize,
) -> anyhow::Result<u64> {
    let mut pending = Vec::new();
    let mut received = 0;
    let mut previous: Option<u64> = None;
    let mut lost = 0;
    while received < events {
        let chunk = body.next().await.context("the event stream ended early")??;
        pending.extend_from_slice(&chunk);
        let mut consumed = 0;
        while let Some(end) = pending[consumed..].iter().position(|&byte| byte == b'\n') {
            let line = &pending[consumed..consumed + end];
            consumed += end + 1;
            if let Some(id) = line.strip_prefix(b"id: ") {
                let id: u64 = std::str::from_utf8(id)?.parse()?;
                if let Some(previous) = previous {
                    lost += id.saturating_sub(previous + 1);
                }
                previous = Some(id);
                received += 1;
            } else if line == b"event: lagged" {
                anyhow::bail!("a client that kept up was told it lagged");
            }
        }
        pending.drain(..consumed);
    }
    Ok(lost)
}
