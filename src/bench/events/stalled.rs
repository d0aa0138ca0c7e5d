//! What clients that stopped reading cost the bridge: its CPU while events
//! flow at a steady rate to one reading client, first alone, then beside
//! many clients that connected to `/events` and never read again.
//!
//! The bridge's CPU is that of its own threads ([`super::thread_cpu`]).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::Producer;
use super::sse_reader::{SseReader, Tally};
use super::thread_cpu::bridge_cpu_while;

/// Clients connected at once while the stalled ones join.
const CONNECTING_AT_ONCE: usize = 100;

/// Descriptors the benchmark keeps for itself beyond the clients.
const SPARE_DESCRIPTORS: u64 = 256;

#[derive(Clone, Copy, Debug)]
pub struct StallOptions {
    pub clients: usize,
    /// Events per second from the producer while CPU is measured.
    pub rate: f64,
    /// Each measured window.
    pub window: Duration,
    /// How long events flow, at most, before the window with stalled
    /// clients: until their buffers are full (the bridge's CPU is back near
    /// what the reading client alone costs), or this long.
    pub fill: Duration,
}

/// The slices in which the filling of stalled clients' buffers is watched.
const FILL_SLICE: Duration = Duration::from_millis(500);

/// Filling is over when this many slices in a row cost no more than
/// [`FILLED_MARGIN`] above the reading client alone: one quiet slice may
/// only be the machine's other work crowding the bridge out.
const QUIET_SLICES: usize = 3;

/// How near the reading client's own cost a quiet slice is, in cores.
const FILLED_MARGIN: f64 = 0.03;

/// The bridge's CPU, in cores (CPU seconds per second).
#[derive(Clone, Copy, Debug)]
pub struct StallCost {
    /// Stalled clients measured (fewer than asked when descriptors are short).
    pub stalled: usize,
    pub reading_alone: f64,
    /// CPU seconds the stalled clients cost while their buffers filled,
    /// beyond what the reading client costs: once, not steadily.
    pub fill_cpu_seconds: f64,
    /// How long they took to fill.
    pub fill_seconds: f64,
    /// The steady window with the stalled clients connected.
    pub with_stalled: f64,
}

/// Measures one reading client's cost to the bridge without, then beside,
/// `options.clients` stalled ones; every event must reach the reading client.
pub async fn measure(
    addr: SocketAddr,
    path: &str,
    producer: &Producer,
    options: StallOptions,
) -> anyhow::Result<StallCost> {
    let stalled = affordable_clients(options.clients)?;
    let (target, reading) = spawn_reader(SseReader::connect(addr, path).await?);
    let mut published = producer.paced(options.rate, FILL_SLICE).await?;
    let (alone, events) = bridge_cpu_while(producer.paced(options.rate, options.window)).await?;
    published += events?;

    super::super::progress::stage(&format!("{stalled} stalled SSE clients"));
    let clients = connect_stalled(addr, path, stalled).await?;
    let fill = fill_buffers(producer, &options, alone).await?;
    published += fill.events;
    let (with_stalled, events) = bridge_cpu_while(producer.paced(options.rate, options.window)).await?;
    published += events?;

    target.send_replace(published);
    let tally = reading.await.context("the reading client failed")??;
    ensure!(
        tally.lost == 0,
        "{} events were lost by the client that kept up beside stalled ones",
        tally.lost
    );
    ensure!(tally.received == published, "the reading client got {} of {published} events", tally.received);
    drop(clients);
    Ok(StallCost {
        stalled,
        reading_alone: alone,
        fill_cpu_seconds: fill.extra_cpu_seconds,
        fill_seconds: fill.seconds,
        with_stalled,
    })
}

/// How the stalled clients' buffers filled.
struct Fill {
    events: u64,
    seconds: f64,
    /// The bridge's CPU beyond what the reading client alone costs.
    extra_cpu_seconds: f64,
}

/// Sends events until the bridge costs about what the reading client alone
/// costs (`alone`, in cores), or `options.fill` has passed.
async fn fill_buffers(producer: &Producer, options: &StallOptions, alone: f64) -> anyhow::Result<Fill> {
    let (mut events, mut cpu_seconds, mut quiet, started) = (0, 0.0, 0, Instant::now());
    while started.elapsed() < options.fill && quiet < QUIET_SLICES {
        let slice = Instant::now();
        let (cores, written) = bridge_cpu_while(producer.paced(options.rate, FILL_SLICE)).await?;
        events += written?;
        cpu_seconds += cores * slice.elapsed().as_secs_f64();
        quiet = if cores <= alone + FILLED_MARGIN { quiet + 1 } else { 0 };
    }
    let elapsed = started.elapsed().as_secs_f64();
    // The quiet slices at the end were not filling.
    let seconds = elapsed - quiet as f64 * FILL_SLICE.as_secs_f64();
    Ok(Fill { events, seconds, extra_cpu_seconds: (cpu_seconds - alone * elapsed).max(0.0) })
}

/// How many stalled clients the descriptor limit allows: each costs two
/// (its end and the bridge's, in this process).
fn affordable_clients(wanted: usize) -> anyhow::Result<usize> {
    let limit = open_files_limit()?;
    let affordable = (limit.saturating_sub(SPARE_DESCRIPTORS) / 2) as usize;
    if affordable < wanted {
        tracing::warn!(
            wanted,
            affordable,
            limit,
            "too few file descriptors (ulimit -n): fewer stalled clients"
        );
    }
    Ok(wanted.min(affordable))
}

/// The soft limit on open files, from /proc (Linux).
fn open_files_limit() -> anyhow::Result<u64> {
    let limits =
        std::fs::read_to_string("/proc/self/limits").context("limits are read from /proc (Linux)")?;
    let line =
        limits.lines().find(|line| line.starts_with("Max open files")).context("no open-files limit")?;
    let soft = line.split_whitespace().nth(3).context("no open-files limit")?;
    Ok(soft.parse().unwrap_or(u64::MAX))
}

/// Reads events on a task of its own until it has as many as `target` says.
fn spawn_reader(
    mut reader: SseReader,
) -> (watch::Sender<u64>, tokio::task::JoinHandle<anyhow::Result<Tally>>) {
    let (target, mut wanted) = watch::channel(u64::MAX);
    let task = tokio::spawn(async move {
        while reader.tally().received < *wanted.borrow_and_update() {
            tokio::select! {
                read = reader.read_more() => read?,
                _ = wanted.changed() => {}
            }
        }
        Ok(reader.tally())
    });
    (target, task)
}

/// Clients that read their stream's first event, then nothing more.
async fn connect_stalled(addr: SocketAddr, path: &str, count: usize) -> anyhow::Result<Vec<TcpStream>> {
    let mut clients = Vec::with_capacity(count);
    while clients.len() < count {
        let batch = CONNECTING_AT_ONCE.min(count - clients.len());
        let connecting = (0..batch).map(|_| SseReader::connect(addr, path));
        let readers = futures::future::try_join_all(connecting).await?;
        clients.extend(readers.into_iter().map(SseReader::into_stream));
    }
    Ok(clients)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_an_open_files_limit() {
        assert!(open_files_limit().unwrap() > 0);
    }
}
