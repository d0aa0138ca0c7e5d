//! `gamebridge bench events`: game events from a producer on a Unix socket,
//! through the bridge, to 1 and to 100 live SSE clients — beside the raw
//! socket rate of the same frames, measured in the same run. Every client
//! must receive every event, in order: the report counts losses and lag
//! notices (expected: none). Then what clients that stopped reading cost
//! the bridge in CPU, beside the same event flow without them.
//!
//! The SSE clients are lean readers of their own (raw TCP, ids scanned
//! word by word), so the reader is not what is measured.

mod sse_reader;
mod stalled;
mod thread_cpu;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

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
use sse_reader::SseReader;
use stalled::{StallCost, StallOptions};
use thread_cpu::{BRIDGE_THREADS, threads_cpu_seconds};

/// What every client follows: the producer's events, by type.
const EVENTS_PATH: &str = "/events?types=UnitMoved";

/// The issue's target: events per second to each of 100 clients that keep up.
const TARGET_PER_CLIENT: f64 = 100_000.0;

/// Events the ring keeps at least: ten seconds of the stalled measurement's
/// events, so its reading client never lags however busy the bridge is.
const STALL_RING: usize = 200_000;

/// More than one of the benchmark's events costs the ring (its data, frame and record).
const EVENT_BYTES_BOUND: usize = 1024;

/// Events the paced producer writes at once.
const PACED_BLOCK: usize = 50;

#[derive(Debug, Args)]
pub struct EventsBench {
    /// Events per measurement.
    #[arg(long, default_value_t = 100_000)]
    events: usize,
    /// Numbers of SSE clients to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,100")]
    clients: Vec<usize>,
    /// Threads reading the SSE clients' streams (1: one current-thread runtime).
    #[arg(long, default_value_t = 1)]
    reader_threads: usize,
    /// Clients that connect and never read, for the CPU they cost (0: not measured).
    #[arg(long, default_value_t = 2000)]
    stalled: usize,
    /// Events per second while the bridge's CPU is measured.
    #[arg(long, default_value_t = 20_000.0)]
    stall_rate: f64,
    /// Seconds of each CPU window.
    #[arg(long, default_value_t = 3.0)]
    stall_secs: f64,
    /// Seconds of events, at most, before the window with stalled clients:
    /// until their buffers are full the bridge still sends them events.
    #[arg(long, default_value_t = 30.0)]
    stall_fill_secs: f64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(options: EventsBench) -> anyhow::Result<()> {
    let events = options.events.max(10);
    let frames = encoded_events(events);
    let socket = std::env::temp_dir().join(format!("gamebridge-bench-events-{}.sock", std::process::id()));
    let (producer, producer_thread) = Producer::start(&socket, frames.clone())?;

    let bridge_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(BRIDGE_THREADS)
        .enable_all()
        .build()?;
    let most_clients = options.clients.iter().copied().max().unwrap_or(1) + options.stalled;
    let bridge = bridge_runtime.block_on(start_bridge(&socket, events, most_clients))?;
    let report = reader_runtime(options.reader_threads)?.block_on(async {
        let mut report = Report::new("events", "game events through the bridge to live SSE clients");
        let raw = measure_raw(&frames, events).await?;
        warm_up(bridge.addr, events, &producer).await?;
        let mut rows = Vec::new();
        let mut costs = Vec::new();
        for &clients in &options.clients {
            let (row, cost) = measure_sse(bridge.addr, clients.max(1), events, &producer).await?;
            rows.push(row);
            costs.push(cost);
        }
        ratios(&mut report, &raw, &rows);
        for (row, cpu_ns) in rows.iter().zip(costs) {
            let clients = plural(row.concurrency, "client");
            report.ratio(&format!("bridge CPU-ns per event to each client ({clients})"), cpu_ns, None);
        }
        if options.stalled > 0 {
            let cost =
                stalled::measure(bridge.addr, EVENTS_PATH, &producer, stall_options(&options)?).await?;
            stall_ratios(&mut report, &cost, options.stall_rate);
        }
        report.floors = vec![raw];
        report.results = rows;
        anyhow::Ok(report)
    })?;

    bridge_runtime.block_on(bridge.stop())?;
    drop(producer);
    let _ = producer_thread.join();
    let _ = std::fs::remove_file(&socket);
    report.print(options.json)
}

/// The runtime the SSE clients read on: one thread, or a pool of its own.
fn reader_runtime(threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    let runtime = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()?
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(threads).thread_name("bench-sse-reader").enable_all().build()?
    };
    Ok(runtime)
}

fn stall_options(options: &EventsBench) -> anyhow::Result<StallOptions> {
    let seconds = |value: f64| Duration::try_from_secs_f64(value.max(0.05)).context("a duration in seconds");
    Ok(StallOptions {
        clients: options.stalled,
        rate: options.stall_rate.max(PACED_BLOCK as f64),
        window: seconds(options.stall_secs)?,
        fill: seconds(options.stall_fill_secs)?,
    })
}

/// The raw ratio first (1 client), then the issue's target for 100 clients.
fn ratios(report: &mut Report, raw: &Measurement, rows: &[Measurement]) {
    if let Some(single) = rows.iter().find(|row| row.concurrency == 1) {
        report.ratio(
            "raw socket events/s / bridge events/s (1 client)",
            raw.per_second / single.per_second,
            None,
        );
    }
    if let Some(hundred) = rows.iter().find(|row| row.concurrency == 100) {
        report.ratio(
            "100,000 / events/s each to 100 clients (target: ≥ 100,000/s)",
            TARGET_PER_CLIENT / hundred.per_second,
            Some(1.0),
        );
    }
}

fn stall_ratios(report: &mut Report, cost: &StallCost, rate: f64) {
    let stalled = cost.stalled;
    report.ratio(&format!("bridge cores, 1 client reading {rate:.0} events/s"), cost.reading_alone, None);
    report.ratio(
        &format!("bridge cores, the same beside {stalled} stalled clients"),
        cost.with_stalled,
        None,
    );
    report.ratio(
        &format!("bridge CPU {stalled} stalled clients add, % of one core"),
        (cost.with_stalled - cost.reading_alone) * 100.0,
        Some(5.0),
    );
    report.ratio(
        &format!("seconds until {stalled} stalled clients' buffers were full"),
        cost.fill_seconds,
        None,
    );
    let per_client = cost.fill_cpu_seconds * 1000.0 / stalled.max(1) as f64;
    report.ratio("bridge CPU-ms each stalled client cost, once, while they filled", per_client, None);
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

/// The game: a thread and runtime of its own, like a separate process,
/// writing events to the bridge when asked.
pub struct Producer {
    work: mpsc::Sender<Work>,
}

enum Work {
    /// All frames at once, as fast as the bridge takes them.
    Burst(oneshot::Sender<()>),
    /// Events at `rate` per second for `duration`; answers how many.
    Paced { rate: f64, duration: Duration, done: oneshot::Sender<u64> },
}

impl Producer {
    fn start(socket: &Path, frames: Bytes) -> anyhow::Result<(Self, std::thread::JoinHandle<()>)> {
        let (work, queue) = mpsc::channel(1);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let listener = runtime.block_on(async { bind(socket) })?;
        let thread = std::thread::Builder::new()
            .name("bench-producer".into())
            .spawn(move || runtime.block_on(produce(listener, frames, queue)))?;
        Ok((Self { work }, thread))
    }

    /// Starts a burst of every frame; the answer comes when it is written.
    async fn burst(&self) -> anyhow::Result<oneshot::Receiver<()>> {
        let (done, written) = oneshot::channel();
        self.work.send(Work::Burst(done)).await.ok().context("the producer stopped")?;
        Ok(written)
    }

    /// Writes events at `rate` per second for `duration`; returns how many.
    async fn paced(&self, rate: f64, duration: Duration) -> anyhow::Result<u64> {
        let (done, written) = oneshot::channel();
        self.work.send(Work::Paced { rate, duration, done }).await.ok().context("the producer stopped")?;
        written.await.context("the producer stopped")
    }
}

fn bind(path: &Path) -> std::io::Result<UnixListener> {
    let _ = std::fs::remove_file(path);
    UnixListener::bind(path)
}

/// Accepts the bridge, then does what it is asked until the queue closes.
async fn produce(listener: UnixListener, frames: Bytes, mut queue: mpsc::Receiver<Work>) {
    let Ok((mut stream, _)) = listener.accept().await else { return };
    let block = encoded_events(PACED_BLOCK);
    while let Some(work) = queue.recv().await {
        let written = match work {
            Work::Burst(done) => stream.write_all(&frames).await.map(|()| {
                let _ = done.send(());
            }),
            Work::Paced { rate, duration, done } => {
                write_paced(&mut stream, &block, rate, duration).await.map(|events| {
                    let _ = done.send(events);
                })
            }
        };
        if written.is_err() {
            return;
        }
    }
}

/// Writes `block` (of [`PACED_BLOCK`] events) as often as `rate` asks, for `duration`.
async fn write_paced(
    stream: &mut UnixStream,
    block: &[u8],
    rate: f64,
    duration: Duration,
) -> std::io::Result<u64> {
    let period = Duration::from_secs_f64(PACED_BLOCK as f64 / rate);
    let blocks = (duration.as_secs_f64() / period.as_secs_f64()).round().max(1.0) as u64;
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for _ in 0..blocks {
        ticks.tick().await;
        stream.write_all(block).await?;
    }
    Ok(blocks * PACED_BLOCK as u64)
}

async fn start_bridge(socket: &Path, events: usize, clients: usize) -> anyhow::Result<RunningBridge> {
    // Room for every event of a run: a client that keeps up must lose nothing.
    let mut config = BridgeConfig {
        event_ring: (events * 2).max(STALL_RING),
        event_ring_bytes: ((events * 2).max(STALL_RING) * EVENT_BYTES_BOUND)
            .max(gamebridge_hub::DEFAULT_EVENT_RING_BYTES),
        ..BridgeConfig::default()
    };
    config.limits.max_connections = config.limits.max_connections.max(clients + 64);
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

/// Events bursts of warm-up: a full ring at the default size, so events are
/// measured as a long-running bridge handles them, freeing the oldest as it
/// keeps the newest, rather than with every event's memory fresh from the
/// system (zeroing those pages was a sixth of the bridge's time).
const WARM_UP_BURSTS: usize = 2;

/// Sends [`WARM_UP_BURSTS`] bursts through the bridge to one client.
async fn warm_up(addr: SocketAddr, events: usize, producer: &Producer) -> anyhow::Result<()> {
    super::progress::stage("warm-up");
    let mut reader = SseReader::connect(addr, EVENTS_PATH).await?;
    for _ in 0..WARM_UP_BURSTS {
        let written = producer.burst().await?;
        reader.read_events(reader.tally().received + events as u64).await?;
        written.await.context("the producer stopped")?;
    }
    Ok(())
}

/// `clients` SSE clients following `/events` while the producer sends one
/// burst; the rate is events per second each client received. Also what
/// the bridge spent per event and client, in CPU nanoseconds: unlike the
/// rate, it does not fall when other work shares the machine.
async fn measure_sse(
    addr: SocketAddr,
    clients: usize,
    events: usize,
    producer: &Producer,
) -> anyhow::Result<(Measurement, f64)> {
    super::progress::stage(&format!("{clients} SSE clients"));
    let mut readers = Vec::with_capacity(clients);
    for _ in 0..clients {
        // Connected and subscribed before the burst.
        readers.push(SseReader::connect(addr, EVENTS_PATH).await?);
    }
    let (started, cpu_before) = (Instant::now(), threads_cpu_seconds(BRIDGE_THREADS)?);
    let written = producer.burst().await?;
    let reading: Vec<_> = (readers.into_iter())
        .map(|mut reader| tokio::spawn(async move { reader.read_events(events as u64).await }))
        .collect();
    let mut lost = 0;
    for tally in futures::future::join_all(reading).await {
        lost += tally.context("a reader failed")??.lost;
    }
    let (elapsed, cpu) = (started.elapsed(), threads_cpu_seconds(BRIDGE_THREADS)? - cpu_before);
    written.await.context("the producer stopped")?;
    anyhow::ensure!(lost == 0, "{lost} events were lost by clients that kept up");
    let label = format!("bridge SSE, {}", plural(clients, "client"));
    let cpu_ns_per_delivery = cpu * 1e9 / (events * clients) as f64;
    Ok((Measurement::rate(&label, clients, events, elapsed), cpu_ns_per_delivery))
}

/// `1 client`, `100 clients`.
fn plural(count: usize, noun: &str) -> String {
    format!("{count} {noun}{}", if count == 1 { "" } else { "s" })
}
