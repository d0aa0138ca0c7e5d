//! `gamebridge bench step --python`: lockstep Tempest frames from the same
//! fake MAME clients (Rust, one thread) against, one after the other,
//!
//! - a Python baseline server (`bench/tempest_baseline_server.py`): one
//!   thread per instance, as Tempest AI's `socket_server.py` serves them, each
//!   parsing its frame and answering one fixed action;
//! - the bridge (in this process, on two workers) and the Python package's
//!   agent (`bench/tempest_step_agent.py`: `gamebridge.Agent` with
//!   `@agent.step`, one Python call per batch of instances' frames),
//!
//! at 1, 8 and 32 instances. Targets, gamebridge steps per second over the
//! baseline's: ≥ 1× at 1 instance, ≥ 2× at 8, ≥ 5× at 32.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Args;
use futures::future::try_join_all;
use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::load::{merged, new_histogram};
use super::progress;
use super::report::{Measurement, Report};
use super::script::Script;

/// The action both servers answer every frame with: fire, no zap, spinner
/// still, start advanced, lowest start level 13. It differs from the
/// bridge's default reply, so a frame the agent missed cannot pass for one
/// it answered.
const ACTION: [u8; 5] = [1, 0, 0, 1, 13];
/// A Tempest frame's state values after its 39-byte header.
const NUM_VALUES: u16 = 195;
/// Gamebridge steps per second over the baseline's, per instance count.
const TARGETS: [(usize, f64); 3] = [(1, 1.0), (8, 2.0), (32, 5.0)];
/// How long a Python script may take to say it is ready.

#[derive(Debug, Args)]
pub struct PythonOptions {
    /// With --python: the gamebridge checkout whose bench/ scripts and
    /// python/ package are run [default: the one this binary was built from].
    #[arg(long, value_name = "DIR")]
    repo: Option<PathBuf>,
    /// With --python: the directory put first on the agent's PYTHONPATH,
    /// holding the `gamebridge` package [default: REPO/python].
    #[arg(long, value_name = "DIR")]
    package: Option<PathBuf>,
    /// With --python: the agent's `batch.max` in its register message
    /// [default: the bridge's, 64].
    #[arg(long, value_name = "FRAMES")]
    batch_max: Option<usize>,
    /// With --python: the agent's `batch.wait_ms` [default: the bridge's, 2].
    #[arg(long, value_name = "MS")]
    batch_wait_ms: Option<u64>,
}

/// Where the scripts and the interpreter are.
struct Setup {
    python: PathBuf,
    baseline: PathBuf,
    agent: PathBuf,
    pythonpath: OsString,
}

impl Setup {
    fn find(python: Option<PathBuf>, options: &PythonOptions) -> anyhow::Result<Self> {
        let repo = options.repo.clone().unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
        let script = |name: &str| {
            let path = repo.join("bench").join(name);
            anyhow::ensure!(
                path.is_file(),
                "no {} (give the gamebridge checkout with --repo DIR)",
                path.display()
            );
            Ok(path)
        };
        let baseline = script("tempest_baseline_server.py")?;
        let agent = script("tempest_step_agent.py")?;
        let python = python.unwrap_or_else(|| {
            let venv = repo.join("target/python-venv/bin/python");
            if venv.is_file() { venv } else { PathBuf::from("python3") }
        });
        let package = options.package.clone().unwrap_or_else(|| repo.join("python"));
        let mut paths = vec![package];
        if let Some(existing) = std::env::var_os("PYTHONPATH") {
            paths.extend(std::env::split_paths(&existing));
        }
        let pythonpath = std::env::join_paths(paths).context("PYTHONPATH")?;
        let setup = Self { python, baseline, agent, pythonpath };
        setup.check()?;
        Ok(setup)
    }

    /// Fails clearly when the interpreter is missing, or cannot import what
    /// the agent needs.
    fn check(&self) -> anyhow::Result<()> {
        let output = self
            .command_for(None)
            .args(["-c", "import websockets, gamebridge.agent"])
            .stdin(Stdio::null())
            .output();
        let output = match output {
            Ok(output) => output,
            Err(error) => bail!(
                "cannot run the Python interpreter {}: {error} (give one with --python PATH)",
                self.python.display()
            ),
        };
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let last = stderr.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or("");
            bail!(
                "{} cannot import what the agent needs: {last}\n(pip install websockets, or run \
                 .ci/python, which makes target/python-venv with the package; PYTHONPATH is {})",
                self.python.display(),
                self.pythonpath.to_string_lossy()
            );
        }
        Ok(())
    }

    fn command_for(&self, script: Option<&Path>) -> Command {
        let mut command = Command::new(&self.python);
        command.env("PYTHONPATH", &self.pythonpath).env("PYTHONDONTWRITEBYTECODE", "1");
        if let Some(script) = script {
            command.arg(script);
        }
        command
    }
}

pub fn run(
    steps: usize,
    instances: &[usize],
    python: Option<PathBuf>,
    options: &PythonOptions,
    json: bool,
) -> anyhow::Result<()> {
    let setup = Setup::find(python, options)?;
    progress::expect(3 * instances.len() as u64);
    let games = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let floors = {
        let address = raw_server()?;
        let mut rows = Vec::new();
        for &count in instances {
            rows.push(games.block_on(measure(&label("raw Rust server", count), &address, count, steps))?);
        }
        rows
    };

    // The baseline first, alone on the machine.
    let (baseline, parser) = {
        let mut server = Script::start("the baseline server", setup.command_for(Some(&setup.baseline)))?;
        let ready = server.ready("listening ")?;
        let mut words = ready.split_whitespace();
        let (Some("listening"), Some(address), parser) = (words.next(), words.next(), words.next()) else {
            bail!("the baseline server said {ready:?}, not `listening HOST:PORT`");
        };
        let parser = parser.and_then(|word| word.strip_prefix("parser=")).unwrap_or("?").to_owned();
        let mut rows = Vec::new();
        for &count in instances {
            let label = label("baseline", count);
            rows.push(games.block_on(measure(&label, address, count, steps))?);
        }
        (rows, parser)
    };
    if parser != "numpy" {
        eprintln!(
            "note: {} has no numpy; the baseline parses the state with `array`",
            setup.python.display()
        );
    }

    // Then the bridge, on two workers of its own, and the package's agent.
    let bridge_runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let (bridge, address) = bridge_runtime.block_on(super::step::start_bridge())?;
    let through_bridge = (|| {
        let url = bridge.url().replacen("http://", "ws://", 1) + "/agent";
        let mut command = setup.command_for(Some(&setup.agent));
        command.arg(url);
        if let Some(max) = options.batch_max {
            command.arg(format!("--batch-max={max}"));
        }
        if let Some(wait) = options.batch_wait_ms {
            command.arg(format!("--batch-wait-ms={wait}"));
        }
        let mut agent = Script::start("the agent", command)?;
        agent.ready("ready")?;
        let mut rows = Vec::new();
        for &count in instances {
            let label = label("gamebridge", count);
            rows.push(games.block_on(measure(&label, &address, count, steps))?);
            // The next count starts once the bridge has seen these leave, so
            // that its batches wait for no instance that has gone.
            games.block_on(instances_gone(&bridge.hub));
        }
        drop(agent);
        anyhow::Ok(rows)
    })();
    bridge_runtime.block_on(bridge.stop())?;
    let gamebridge = through_bridge?;

    let mut report = Report::new(
        "step --python",
        &format!(
            "Tempest frames (821 B → 5 B) from fake MAME clients: a Python server, one thread per \
             instance (baseline, bench/tempest_baseline_server.py, state parsed with {parser}), \
             beside the bridge + gamebridge.Agent (@agent.step, bench/tempest_step_agent.py), \
             Python {}",
            setup.python.display()
        ),
    );
    for (baseline, gamebridge) in baseline.iter().zip(&gamebridge) {
        let count = baseline.concurrency;
        let speedup = gamebridge.per_second / baseline.per_second;
        let target = TARGETS.iter().find(|(at, _)| *at == count).map(|(_, target)| *target);
        let plural = if count == 1 { "" } else { "s" };
        let label = match target {
            Some(target) => format!(
                "gamebridge / baseline µs per step, {count} instance{plural} \
                 (gamebridge = {speedup:.2}× the baseline's steps/s, target ≥ {target:.0}×)"
            ),
            None => format!(
                "gamebridge / baseline µs per step, {count} instance{plural} \
                 (gamebridge = {speedup:.2}× the baseline's steps/s)"
            ),
        };
        report.ratio(&label, 1.0 / speedup, target.map(|target| 1.0 / target));
    }
    report.floors = floors;
    report.results = baseline.into_iter().zip(gamebridge).flat_map(|(left, right)| [left, right]).collect();
    report.print(json)
}

fn label(server: &str, count: usize) -> String {
    format!("{server}, {count} instance{}", if count == 1 { "" } else { "s" })
}

/// Waits (a second at most) until the bridge has no Tempest instance left.
async fn instances_gone(hub: &gamebridge_hub::Hub) {
    let deadline = Instant::now() + Duration::from_secs(1);
    while hub.connected_instances("tempest") > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The ceiling these clients reach on this machine: a Rust server on one
/// thread of its own that answers every frame with the action at once,
/// without parsing it. It serves until the process exits.
fn raw_server() -> anyhow::Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?.to_string();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    std::thread::spawn(move || {
        runtime.block_on(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let _ = stream.set_nodelay(true);
                    let mut frame = vec![0u8; 2 + usize::from(u16::MAX)];
                    if stream.read_exact(&mut frame[..2]).await.is_err() {
                        return;
                    }
                    while stream.read_exact(&mut frame[..2]).await.is_ok() {
                        let length = usize::from(u16::from_be_bytes([frame[0], frame[1]]));
                        if stream.read_exact(&mut frame[2..2 + length]).await.is_err()
                            || stream.write_all(&ACTION).await.is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
    });
    Ok(address)
}

/// A frame as Tempest's MAME script sends it: `u16` length, then the 39-byte
/// header and 195 big-endian `f32` state values.
fn tempest_frame() -> Bytes {
    let mut payload = Vec::with_capacity(39 + 4 * usize::from(NUM_VALUES));
    payload.extend(NUM_VALUES.to_be_bytes());
    payload.extend(0.25f64.to_be_bytes()); // subjective reward
    payload.extend(1.0f64.to_be_bytes()); // objective reward
    payload.extend([0x04, 0x80, 0]); // game state: playing; mode; not done
    payload.extend(1234u16.to_be_bytes()); // frame counter
    payload.extend(5_000u32.to_be_bytes()); // score
    payload.extend([0, 1, 0]); // save signal, fire, zap
    payload.extend(0i16.to_be_bytes()); // spinner
    payload.extend(3i16.to_be_bytes()); // nearest enemy's segment
    payload.extend([5, 0, 1, 0, 1]); // player's segment, open level, expert fire and zap, level
    assert_eq!(payload.len(), 39);
    for value in 0..NUM_VALUES {
        payload.extend((f32::from(value) / f32::from(NUM_VALUES)).to_be_bytes());
    }
    let mut message = (payload.len() as u16).to_be_bytes().to_vec();
    message.extend(payload);
    Bytes::from(message)
}

/// One fake MAME client: the handshake once, then frame out, reply in.
struct Instance {
    stream: TcpStream,
    frame: Bytes,
}

impl Instance {
    async fn connect(address: &str) -> anyhow::Result<Self> {
        let mut stream = TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        stream.write_all(&[0, 0]).await?;
        Ok(Self { stream, frame: tempest_frame() })
    }

    /// `steps` locksteps, each timed into `histogram` when there is one.
    async fn play(&mut self, steps: usize, mut histogram: Option<&mut Histogram<u64>>) -> anyhow::Result<()> {
        let mut reply = [0u8; ACTION.len()];
        for _ in 0..steps {
            let began = Instant::now();
            self.stream.write_all(&self.frame).await?;
            self.stream.read_exact(&mut reply).await?;
            if let Some(histogram) = histogram.as_deref_mut() {
                histogram.record(began.elapsed().as_nanos() as u64)?;
            }
            anyhow::ensure!(
                reply == ACTION,
                "an instance got {reply:02x?}, not the action {ACTION:02x?} (a default reply: the agent \
                 missed a deadline?)"
            );
        }
        Ok(())
    }
}

/// `count` instances stepping side by side, `steps` each after a warm-up of
/// a tenth as many.
async fn measure(label: &str, address: &str, count: usize, steps: usize) -> anyhow::Result<Measurement> {
    progress::stage(label);
    let mut instances = try_join_all((0..count).map(|_| Instance::connect(address))).await?;
    let warmup = (steps / 10).max(20);
    try_join_all(instances.iter_mut().map(|instance| instance.play(warmup, None))).await?;
    let started = Instant::now();
    let histograms = try_join_all(instances.iter_mut().map(|instance| async move {
        let mut histogram = new_histogram();
        instance.play(steps, Some(&mut histogram)).await?;
        anyhow::Ok(histogram)
    }))
    .await?;
    let elapsed = started.elapsed();
    Ok(Measurement::from_histogram(label, count, steps * count, elapsed, &merged(histograms)?))
}
