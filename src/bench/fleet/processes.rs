//! The processes `bench fleet` runs: a `nats-server` with JetStream, and
//! bridges of this very binary, each a process of its own as on real
//! machines; all killed when dropped.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

/// How long a process has to come up.
const START_TIMEOUT: Duration = Duration::from_secs(30);

pub struct NatsServer {
    pub url: String,
    child: Child,
    store: PathBuf,
}

impl NatsServer {
    pub async fn start() -> anyhow::Result<Self> {
        let address = free_address()?;
        let store = std::env::temp_dir().join(format!("gamebridge-bench-nats-{}", std::process::id()));
        std::fs::create_dir_all(&store)?;
        let child = Command::new(nats_program())
            .args(["-a", "127.0.0.1", "-p", &address.port().to_string(), "-js", "-sd"])
            .arg(&store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("could not start nats-server (apt-get install nats-server, or bash .ci/deps)")?;
        let server = Self { url: format!("nats://{address}"), child, store };
        wait_until("nats-server to accept connections", async || {
            Ok(tokio::net::TcpStream::connect(address).await.is_ok())
        })
        .await?;
        Ok(server)
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

/// `nats-server` from the PATH, or where Debian puts it.
fn nats_program() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path).map(|dir| dir.join("nats-server")).find(|p| p.is_file())
    });
    on_path.unwrap_or_else(|| PathBuf::from("/usr/sbin/nats-server"))
}

/// A bridge process.
pub struct Bridge {
    pub url: String,
    child: Child,
    http: reqwest::Client,
}

impl Bridge {
    /// `gamebridge serve` with `games` (`NAME=SPEC`), in the fleet of
    /// `nats` as `node` if given; returns once it lists every game.
    pub async fn start(games: &[String], fleet: Option<(&NatsServer, &str)>) -> anyhow::Result<Self> {
        let listen = free_address()?;
        let mut command = Command::new(std::env::current_exe()?);
        command.args(["serve", "--quiet", "--listen", &listen.to_string()]);
        for game in games {
            command.args(["--game", game]);
        }
        if let Some((nats, node)) = fleet {
            command.args(["--nats", &nats.url, "--node", node]);
        }
        let child = command.stdin(Stdio::null()).spawn().context("could not start a bridge")?;
        let bridge = Self { url: format!("http://{listen}"), child, http: reqwest::Client::new() };
        let names: Vec<&str> =
            games.iter().filter_map(|game| game.split_once('=').map(|(name, _)| name)).collect();
        bridge.wait_for_games(&names).await?;
        Ok(bridge)
    }

    /// Waits until this bridge lists every game in `names` (its own, or the fleet's).
    pub async fn wait_for_games(&self, names: &[&str]) -> anyhow::Result<()> {
        wait_until("a bridge to list its games", async || {
            let Some(games) = self.games().await else { return Ok(false) };
            Ok(names.iter().all(|name| games.iter().any(|game| game["name"] == *name)))
        })
        .await
    }

    async fn games(&self) -> Option<Vec<Value>> {
        let response = self.http.get(format!("{}/games", self.url)).send().await.ok()?;
        let games: Value = response.json().await.ok()?;
        games["result"]["games"].as_array().cloned()
    }

    /// The address the listening game `name` takes instances on.
    pub async fn listening_address(&self, name: &str) -> anyhow::Result<String> {
        let mut address = None;
        wait_until("a game to listen", async || {
            let games = self.games().await.unwrap_or_default();
            let game = games.iter().find(|game| game["name"] == name);
            address = game.and_then(|game| {
                game["detail"].as_str()?.strip_prefix("listening on tcp:").map(str::to_owned)
            });
            Ok(address.is_some())
        })
        .await?;
        Ok(address.expect("waited for it"))
    }

    /// Waits until `game`'s `step` is served by `nodes` of the fleet.
    pub async fn wait_for_step_servers(&self, game: &str, nodes: usize) -> anyhow::Result<()> {
        wait_until("the fleet's agents to register", async || {
            let url = format!("{}/games/{game}/external/functions", self.url);
            let Ok(response) = self.http.get(url).send().await else { return Ok(false) };
            let functions: Value = response.json().await?;
            let served = functions["result"]["functions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|f| f["name"] == "step");
            let serving = served.and_then(|function| {
                function["agent"].as_str()?.strip_prefix("fleet: ").map(|list| list.split(", ").count())
            });
            Ok(serving == Some(nodes))
        })
        .await
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_address() -> anyhow::Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// Polls `ready` until it says so: another process gives no event to await.
async fn wait_until(what: &str, mut ready: impl AsyncFnMut() -> anyhow::Result<bool>) -> anyhow::Result<()> {
    let started = Instant::now();
    while !ready().await? {
        if started.elapsed() > START_TIMEOUT {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}
