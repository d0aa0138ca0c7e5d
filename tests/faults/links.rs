//! The game's side of every link that carries the JSON pipe protocol
//! (stream connect over Unix and TCP, stream listen, FIFO pair) behind one
//! interface, so that each fault scenario is written once and run on every
//! link. The bridge is real; only the game is played by the test.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gamebridge_hub::Game;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::net::unix::pipe;

use crate::support::{FakeGame, GameConnection, Harness, within};

/// The links the scenarios run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `unix:PATH`: the game is the server, the bridge connects.
    UnixConnect,
    /// `tcp:HOST:PORT`: the same over TCP.
    TcpConnect,
    /// `unix:PATH?listen`: games connect to the bridge, each an instance `game/k`.
    UnixListen,
    /// `fifo:PREFIX`: the FIFO pair `PREFIX_output` and `PREFIX_input`.
    Fifo,
}

impl Kind {
    /// The kind a matrix test is named after (`unix_connect`, …).
    pub fn named(name: &str) -> Self {
        match name {
            "unix_connect" => Kind::UnixConnect,
            "tcp_connect" => Kind::TcpConnect,
            "unix_listen" => Kind::UnixListen,
            "fifo" => Kind::Fifo,
            other => panic!("no link kind named {other}"),
        }
    }
}

/// The game's process as far as the bridge can tell: for the connect role,
/// the server socket it listens on, which goes when the game dies.
enum Server {
    Unix(FakeGame),
    Tcp(TcpListener),
}

/// A bridge serving one game, `game`, over one link.
pub struct Link {
    pub harness: Harness,
    kind: Kind,
    /// The socket path, the TCP address or the FIFO prefix.
    place: String,
    server: tokio::sync::Mutex<Option<Server>>,
}

impl Link {
    /// Starts a bridge serving `game` over `kind`, with extra link options
    /// such as `max_frame=4096`.
    pub async fn start(kind: Kind, options: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (place, server, mut query) = match kind {
            Kind::UnixConnect => {
                let game = FakeGame::bind(&dir.path().join("game.sock"));
                let place = game.path.display().to_string();
                (place, Some(Server::Unix(game)), vec![])
            }
            Kind::TcpConnect => {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let place = listener.local_addr().unwrap().to_string();
                (place, Some(Server::Tcp(listener)), vec![])
            }
            Kind::UnixListen => (dir.path().join("bridge.sock").display().to_string(), None, vec!["listen"]),
            Kind::Fifo => (dir.path().join("game").display().to_string(), None, vec![]),
        };
        query.extend_from_slice(options);
        let scheme = match kind {
            Kind::UnixConnect | Kind::UnixListen => "unix",
            Kind::TcpConnect => "tcp",
            Kind::Fifo => "fifo",
        };
        let mut spec = format!("{scheme}:{place}");
        if !query.is_empty() {
            spec = format!("{spec}?{}", query.join("&"));
        }
        let harness = Harness::start_in(dir, &[("game", spec)]).await;
        Self { harness, kind, place, server: tokio::sync::Mutex::new(server) }
    }

    /// The name the bridge serves the game under: `game`, or the instance
    /// `game/1` for the listen role (numbers are reused, so always 1 here).
    pub fn name(&self) -> &'static str {
        match self.kind {
            Kind::UnixListen => "game/1",
            _ => "game",
        }
    }

    /// The hub's view of the game (while it exists, for an instance).
    pub fn game(&self) -> Arc<Game> {
        self.harness.hub().game(self.name()).expect("the game is served")
    }

    /// `route` of this game, e.g. `/games/game%2F1/lua/call`.
    pub fn route(&self, route: &str) -> String {
        format!("/games/{}{route}", self.name().replace('/', "%2F"))
    }

    /// `POST /lua/call` to this game.
    pub async fn call(&self, body: Value) -> Value {
        self.harness.post(&self.route("/lua/call"), body).await
    }

    /// The `/stats` counters of the game.
    pub async fn stats(&self) -> Value {
        self.harness.game_stats(self.name()).await
    }

    /// The game starts (again) and the bridge attaches it; returns the
    /// game's end of the new connection.
    pub async fn game_appears(&self) -> GameConnection {
        let connection = match self.kind {
            Kind::UnixConnect | Kind::TcpConnect => {
                let mut server = self.server.lock().await;
                if server.is_none() {
                    *server = Some(match self.kind {
                        Kind::UnixConnect => Server::Unix(FakeGame::bind(Path::new(&self.place))),
                        _ => {
                            Server::Tcp(TcpListener::bind(&self.place).await.expect("rebind the game's port"))
                        }
                    });
                }
                match server.as_ref().unwrap() {
                    Server::Unix(game) => game.accept().await,
                    Server::Tcp(listener) => {
                        let (stream, _) =
                            within("the bridge to connect", listener.accept()).await.expect("accept");
                        GameConnection::new(stream)
                    }
                }
            }
            Kind::UnixListen => {
                self.harness.wait_listening("game").await;
                let stream =
                    tokio::net::UnixStream::connect(&self.place).await.expect("connect to the bridge");
                GameConnection::new(stream)
            }
            Kind::Fifo => {
                self.harness.wait_listening("game").await;
                let (from_bridge, to_bridge) = open_fifo_pair(Path::new(&self.place)).await;
                GameConnection::new(tokio::io::join(from_bridge, to_bridge))
            }
        };
        self.wait_attached().await;
        connection
    }

    /// The game's process ends: its connection, and for the connect role
    /// its server socket, are gone. Returns once the bridge has noticed.
    pub async fn game_dies(&self, connection: GameConnection) {
        drop(connection);
        self.server.lock().await.take();
        self.wait_gone().await;
    }

    async fn wait_attached(&self) {
        let hub = self.harness.hub();
        let mut games = hub.function_changes();
        within("the instance to be added", games.wait_for(|_| hub.game(self.name()).is_some()))
            .await
            .expect("the hub lives");
        self.harness.wait_connected(self.name()).await;
    }

    /// Until the bridge has detached the game (and, for an instance,
    /// removed it).
    pub async fn wait_gone(&self) {
        match self.kind {
            Kind::UnixListen => {
                let hub = self.harness.hub();
                let mut games = hub.function_changes();
                within("the instance to be removed", games.wait_for(|_| hub.game(self.name()).is_none()))
                    .await
                    .expect("the hub lives");
            }
            _ => self.harness.wait_disconnected(self.name()).await,
        }
    }
}

/// `PREFIX_input` and `PREFIX_output` with their own paths.
pub fn fifo_paths(prefix: &Path) -> (PathBuf, PathBuf) {
    (
        PathBuf::from(format!("{}_input", prefix.display())),
        PathBuf::from(format!("{}_output", prefix.display())),
    )
}

/// Opens a FIFO pair as a game does, with plain blocking `open`s and its
/// input first (the order that deadlocked the seed's FIFO version).
pub async fn open_fifo_pair(prefix: &Path) -> (pipe::Receiver, pipe::Sender) {
    let from_bridge = open_fifo_input(prefix).await;
    (from_bridge, open_fifo_output(prefix).await)
}

/// Opens `PREFIX_input` for reading; the bridge holds it open, so this
/// never waits.
pub async fn open_fifo_input(prefix: &Path) -> pipe::Receiver {
    let (input, _) = fifo_paths(prefix);
    let file =
        within("PREFIX_input to open", tokio::task::spawn_blocking(move || std::fs::File::open(input)))
            .await
            .unwrap()
            .expect("open PREFIX_input");
    pipe::Receiver::from_file(file).unwrap()
}

/// Opens `PREFIX_output` for writing; returns once the bridge waits to read it.
pub async fn open_fifo_output(prefix: &Path) -> pipe::Sender {
    let (_, output) = fifo_paths(prefix);
    let open = move || std::fs::OpenOptions::new().write(true).open(output);
    let file = within("PREFIX_output to open", tokio::task::spawn_blocking(open))
        .await
        .unwrap()
        .expect("open PREFIX_output");
    pipe::Sender::from_file(file).unwrap()
}
