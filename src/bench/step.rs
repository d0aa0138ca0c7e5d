//! `gamebridge bench step`: lockstep frames (Tempest's 821 bytes, 5-byte
//! replies) from 1 and from 16 game instances through the bridge to a
//! WebSocket agent, beside a raw TCP ping-pong of the same sizes measured
//! in the same run. Targets: one instance ≥ 20,000 steps/s; a step through
//! the bridge costs at most 3× a raw ping-pong. With `--python`, the Python
//! comparison instead (`step_python`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use clap::Args;
use futures::{SinkExt, StreamExt};
use gamebridge_api::agent_ws::wire::{decode_frames, encode_replies};
use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

use super::load::new_histogram;
use super::report::{Measurement, Report};
use crate::bridge::RunningBridge;
use crate::config::{BridgeConfig, GameConfig};

const PAYLOAD: usize = 819;
const REPLY: usize = 5;

#[derive(Debug, Args)]
pub struct StepBench {
    /// Steps per instance.
    #[arg(long, default_value_t = 20_000)]
    steps: usize,
    /// Numbers of instances to measure [default: 1,16; with --python: 1,8,32].
    #[arg(long, value_delimiter = ',')]
    instances: Option<Vec<usize>>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Compare with Python instead, using this interpreter [default:
    /// target/python-venv/bin/python if it exists, else python3].
    ///
    /// The same fake MAME clients (Rust, one thread, 821-byte Tempest frames,
    /// 5-byte replies) step, one server after the other: a Python baseline
    /// written from Tempest AI's socket_server.py (bench/tempest_baseline_server.py:
    /// a thread per instance, each parsing its frame's header and state and
    /// answering a fixed action), then the bridge on two workers with the
    /// Python package's agent (bench/tempest_step_agent.py: gamebridge.Agent
    /// with @agent.step, one Python call per batch of frames). Reports
    /// steps/s, p50 and p99 of each at every instance count, and gamebridge's
    /// speed over the baseline's; targets ≥ 1× at 1 instance, ≥ 2× at 8,
    /// ≥ 5× at 32. The interpreter needs the websockets package (numpy is
    /// used by the baseline when present); the agent runs with PYTHONPATH=REPO/python.
    #[arg(long, value_name = "PATH", num_args = 0..=1)]
    python: Option<Option<PathBuf>>,
    #[command(flatten)]
    python_options: super::step_python::PythonOptions,
}

pub fn run(options: StepBench) -> anyhow::Result<()> {
    let steps = options.steps.max(10);
    if let Some(python) = options.python {
        let instances = options.instances.unwrap_or_else(|| vec![1, 8, 32]);
        let instances: Vec<usize> = instances.into_iter().map(|count| count.max(1)).collect();
        return super::step_python::run(steps, &instances, python, &options.python_options, options.json);
    }
    let instances = options.instances.unwrap_or_else(|| vec![1, 16]);
    let thread_runtime = || tokio::runtime::Builder::new_current_thread().enable_all().build();
    // The bridge on its own two workers, the agent and the games on threads of their own.
    let bridge_runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let (bridge, address) = bridge_runtime.block_on(start_bridge())?;
    let agent_url = bridge.url().replacen("http://", "ws://", 1) + "/agent";
    let (agent_ready, ready) = std::sync::mpsc::channel();
    let agent_runtime = thread_runtime()?;
    std::thread::spawn(move || agent_runtime.block_on(agent(agent_url, agent_ready)));
    ready.recv().context("the agent thread died")??;

    let games = thread_runtime()?;
    let report = games.block_on(async {
        let mut report =
            Report::new("step", "Tempest frames (821 B → 5 B) through the bridge to a WebSocket agent");
        let floor = raw_ping_pong(steps).await?;
        let mut results = Vec::new();
        for &instances in &instances {
            results.push(through_bridge(&address, instances.max(1), steps).await?);
        }
        if let Some(single) = results.iter().find(|row| row.concurrency == 1) {
            let per_step = |row: &Measurement| 1e6 / row.per_second;
            report.ratio(
                "bridge µs per step / raw ping-pong µs per step (1 instance)",
                per_step(single) / per_step(&floor),
                Some(3.0),
            );
            report.ratio(
                "20,000 / bridge steps per second (1 instance)",
                20_000.0 / single.per_second,
                Some(1.0),
            );
        }
        report.floors = vec![floor];
        report.results = results;
        anyhow::Ok(report)
    })?;
    bridge_runtime.block_on(bridge.stop())?;
    report.print(options.json)
}

pub(super) async fn start_bridge() -> anyhow::Result<(RunningBridge, String)> {
    let spec = "tcp:127.0.0.1:0?listen&framing=u16be&handshake=2&reply=5&protocol=step&step_timeout_ms=5000";
    let config = BridgeConfig {
        listen: "127.0.0.1:0".parse()?,
        games: vec![format!("tempest={spec}").parse::<GameConfig>()?],
        ..BridgeConfig::default()
    };
    let bridge = RunningBridge::start(config).await?;
    let game = bridge.hub.game("tempest").expect("the game was added");
    let address = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(address) = game
                .status()
                .detail
                .and_then(|detail| detail.strip_prefix("listening on tcp:").map(str::to_owned))
            {
                return address;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .context("the bridge did not start listening")?;
    Ok((bridge, address))
}

/// A WebSocket agent stepping `tempest`, answering every frame at once
/// with its first 5 bytes.
async fn agent(url: String, ready: std::sync::mpsc::Sender<anyhow::Result<()>>) {
    stepping_agent(url, vec!["tempest".to_owned()], ready).await
}

/// A WebSocket agent stepping each of `games`, answering every frame at
/// once with its first 5 bytes; `ready` hears once it is registered.
pub(super) async fn stepping_agent(
    url: String,
    games: Vec<String>,
    ready: std::sync::mpsc::Sender<anyhow::Result<()>>,
) {
    let connected = async {
        let (mut socket, _) = tokio_tungstenite::connect_async_with_config(url, None, true).await?;
        for game in &games {
            let register = serde_json::json!({"type": "register", "game": game, "functions": ["step"]});
            socket.send(Message::Text(register.to_string().into())).await?;
            let answer = socket.next().await.context("the bridge closed the agent connection")??;
            let answer: serde_json::Value = serde_json::from_str(answer.to_text()?)?;
            anyhow::ensure!(answer["type"] == "registered", "could not register step for {game}: {answer}");
        }
        anyhow::Ok(socket)
    };
    let mut socket = match connected.await {
        Ok(socket) => {
            let _ = ready.send(Ok(()));
            socket
        }
        Err(error) => {
            let _ = ready.send(Err(error));
            return;
        }
    };
    while let Some(Ok(message)) = socket.next().await {
        let Message::Binary(bytes) = message else { continue };
        let Ok(frames) = decode_frames(bytes) else { return };
        let replies: Vec<(u64, &[u8])> =
            frames.iter().map(|(id, _, _, frame)| (*id, &frame[..REPLY])).collect();
        if socket.send(Message::Binary(encode_replies(&replies))).await.is_err() {
            return;
        }
    }
}

fn frame_message() -> Bytes {
    let mut message = (PAYLOAD as u16).to_be_bytes().to_vec();
    message.extend(std::iter::repeat_n(7u8, PAYLOAD));
    Bytes::from(message)
}

/// One instance's lockstep loop: frame out, reply in, `steps` times.
pub(super) async fn play(
    mut stream: TcpStream,
    steps: usize,
    handshake: bool,
) -> anyhow::Result<Histogram<u64>> {
    stream.set_nodelay(true)?;
    if handshake {
        stream.write_all(&[0, 0]).await?;
    }
    let message = frame_message();
    let mut reply = [0u8; REPLY];
    let mut histogram = new_histogram();
    for _ in 0..steps {
        let began = Instant::now();
        stream.write_all(&message).await?;
        stream.read_exact(&mut reply).await?;
        histogram.record(began.elapsed().as_nanos() as u64)?;
    }
    Ok(histogram)
}

/// The floor: the same frames and replies between two sockets on this
/// machine, the server on a thread of its own as the bridge is.
async fn raw_ping_pong(steps: usize) -> anyhow::Result<Measurement> {
    super::progress::stage("raw TCP ping-pong");
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async move {
            let listener = TcpListener::from_std(listener).expect("listener");
            let Ok((mut stream, _)) = listener.accept().await else { return };
            let _ = stream.set_nodelay(true);
            let mut frame = vec![0u8; 2 + PAYLOAD];
            while stream.read_exact(&mut frame).await.is_ok() {
                if stream.write_all(&frame[2..2 + REPLY]).await.is_err() {
                    return;
                }
            }
        });
    });
    let started = Instant::now();
    let histogram = play(TcpStream::connect(address).await?, steps, false).await?;
    Ok(Measurement::from_histogram("raw TCP ping-pong", 1, steps, started.elapsed(), &histogram))
}

async fn through_bridge(address: &str, instances: usize, steps: usize) -> anyhow::Result<Measurement> {
    super::progress::stage(&format!("{instances} instances"));
    let mut connections = Vec::with_capacity(instances);
    for _ in 0..instances {
        connections.push(TcpStream::connect(address).await?);
    }
    let started = Instant::now();
    let games = connections.into_iter().map(|stream| play(stream, steps, true));
    let total = super::load::merged(futures::future::try_join_all(games).await?)?;
    let label = format!("bridge, {instances} instance{}", if instances == 1 { "" } else { "s" });
    Ok(Measurement::from_histogram(&label, instances, steps * instances, started.elapsed(), &total))
}
