//! Test doubles for the *other* side of a link: a fake game that is the
//! socket server (as the Civ V DLL is), and a harness that starts a real
//! bridge on an ephemeral port with real HTTP in front of it.
#![allow(dead_code)]

pub mod fleet;
pub mod godot;
pub mod mame;
pub mod nats;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::BytesMut;
use futures::StreamExt;
use gamebridge::bridge::RunningBridge;
use gamebridge::config::{BridgeConfig, GameConfig};
use gamebridge_hub::Hub;
use gamebridge_protocol::{BridgeMessage, FrameCodec, Framing, GameMessage, RawValue, Response, WireId};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::UnixListener;
use tokio_util::codec::FramedRead;

/// Longest any single step of a test may wait before it is declared hung.
pub const STEP: Duration = Duration::from_secs(10);

/// Longest a step that moves thousands of messages may wait: on a loaded
/// 2-core machine, 10,000 mailbox calls (each a file written, renamed and
/// read) once took longer than [`STEP`] without anything being stuck.
pub const BULK_STEP: Duration = Duration::from_secs(60);

/// Awaits `future`, failing the test if it takes longer than [`STEP`].
pub async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    within_for(STEP, what, future).await
}

/// [`within`] for a step of thousands of messages ([`BULK_STEP`]).
pub async fn within_bulk<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    within_for(BULK_STEP, what, future).await
}

async fn within_for<T>(limit: Duration, what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(limit, future).await.unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// A game listening on a Unix socket, waiting for the bridge to connect.
pub struct FakeGame {
    pub path: PathBuf,
    listener: UnixListener,
}

impl FakeGame {
    pub fn bind(path: &Path) -> Self {
        let _ = std::fs::remove_file(path);
        Self { path: path.to_owned(), listener: UnixListener::bind(path).expect("bind fake game socket") }
    }

    pub async fn accept(&self) -> GameConnection {
        let (stream, _) = within("the bridge to connect", self.listener.accept()).await.expect("accept");
        GameConnection::new(stream)
    }
}

pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// The game's end of one connection from the bridge.
pub struct GameConnection {
    frames: FramedRead<ReadHalf<Box<dyn Stream>>, FrameCodec>,
    writer: WriteHalf<Box<dyn Stream>>,
    framing: Framing,
}

impl GameConnection {
    pub fn new(stream: impl Stream) -> Self {
        Self::with_framing(stream, Framing::default())
    }

    pub fn with_framing(stream: impl Stream, framing: Framing) -> Self {
        let (reader, writer) = tokio::io::split(Box::new(stream) as Box<dyn Stream>);
        let frames = FramedRead::new(reader, FrameCodec::new(&framing, 1 << 24));
        Self { frames, writer, framing }
    }

    async fn next_frame(&mut self) -> bytes::Bytes {
        within("a message from the bridge", self.frames.next())
            .await
            .expect("the bridge closed the connection")
            .expect("read")
            .expect("a whole frame")
    }

    /// The next message the bridge sent.
    pub async fn recv(&mut self) -> BridgeMessage {
        BridgeMessage::parse(&self.next_frame().await).expect("the bridge sends valid messages")
    }

    /// The next message the bridge sent, or `None` once it hung up.
    pub async fn recv_or_closed(&mut self) -> Option<BridgeMessage> {
        loop {
            match self.frames.next().await? {
                Ok(Ok(frame)) => {
                    return Some(BridgeMessage::parse(&frame).expect("the bridge sends valid messages"));
                }
                Ok(Err(_)) => continue,
                Err(_) => return None,
            }
        }
    }

    /// The next message the bridge sent, as plain JSON (to compare with the
    /// reference field for field).
    pub async fn recv_json(&mut self) -> Value {
        serde_json::from_slice(&self.next_frame().await).expect("the bridge sends JSON")
    }

    /// The raw bytes of the next read, however many frames they hold.
    pub async fn read_raw(&mut self) -> Vec<u8> {
        use tokio::io::AsyncReadExt;
        let mut buffer = vec![0; 64 * 1024];
        let read =
            within("bytes from the bridge", self.frames.get_mut().read(&mut buffer)).await.expect("read");
        buffer.truncate(read);
        buffer
    }

    pub async fn send(&mut self, message: &GameMessage) {
        let mut out = BytesMut::new();
        FrameCodec::new(&self.framing, 1 << 24).encode(&message.to_json(), &mut out).unwrap();
        self.send_raw(&out).await;
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.expect("write to the bridge");
    }

    pub async fn register(&mut self, function: &str) {
        self.send(&GameMessage::LuaRegister {
            function: function.into(),
            description: Some(format!("{function} doc")),
            parameters: None,
        })
        .await;
    }

    /// Receives one `lua_call` and returns its id, function and args.
    pub async fn expect_call(&mut self) -> (WireId, String, Value) {
        match self.recv().await {
            BridgeMessage::LuaCall { id, function, args } => {
                (id, function, serde_json::from_str(args.get()).unwrap())
            }
            other => panic!("expected lua_call, got {other:?}"),
        }
    }

    pub async fn answer(&mut self, id: WireId, result: Value) {
        self.send(&response(id, result)).await;
    }

    /// Answers every call with `{function, args}` until the bridge hangs up.
    pub fn echo_forever(mut self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            while let Some(Ok(Ok(frame))) = self.frames.next().await {
                if let Ok(BridgeMessage::LuaCall { id, function, args }) = BridgeMessage::parse(&frame) {
                    let args: Value = serde_json::from_str(args.get()).unwrap();
                    self.answer(id, serde_json::json!({ "function": function, "args": args })).await;
                }
            }
        })
    }
}

/// A successful `lua_response`.
/// Serves `app` on a free loopback port for the rest of the test (a webhook
/// agent, a web page, a model server); its base URL, `http://127.0.0.1:PORT`.
pub async fn serve_http(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

pub fn response(id: WireId, result: Value) -> GameMessage {
    let raw = RawValue::from_string(result.to_string()).unwrap();
    GameMessage::LuaResponse(Response::from_result(id, Ok(raw)))
}

/// A failed `lua_response`, as a Lua error reports it.
pub fn failure(id: WireId, message: &str) -> GameMessage {
    let error =
        gamebridge_protocol::ErrorBody::new(gamebridge_protocol::ErrorCode::LUA_EXECUTION_ERROR, message);
    GameMessage::LuaResponse(Response::from_result(id, Err(error)))
}

/// A bridge on an ephemeral loopback port with one game per fake game.
pub struct Harness {
    pub bridge: RunningBridge,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
}

impl Harness {
    /// Starts a bridge serving `games` (name, link spec).
    pub async fn start(games: &[(&str, String)]) -> Self {
        Self::start_in(tempfile::tempdir().unwrap(), games).await
    }

    pub async fn start_in(dir: tempfile::TempDir, games: &[(&str, String)]) -> Self {
        Self::start_configured(dir, games, |_| {}).await
    }

    /// Starts a bridge whose configuration `adjust` may change first.
    pub async fn start_configured(
        dir: tempfile::TempDir,
        games: &[(&str, String)],
        adjust: impl FnOnce(&mut BridgeConfig),
    ) -> Self {
        let mut config = BridgeConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            games: games
                .iter()
                .map(|(name, spec)| format!("{name}={spec}").parse::<GameConfig>().unwrap())
                .collect(),
            ..BridgeConfig::default()
        };
        adjust(&mut config);
        let bridge = RunningBridge::start(config).await.expect("bridge starts");
        Self { bridge, http: reqwest::Client::new(), dir }
    }

    /// Opens an SSE stream at `path` (e.g. `/events?types=A`).
    pub async fn sse(&self, path: &str) -> SseClient {
        self.sse_with(path, None).await
    }

    /// Opens an SSE stream, resuming after `last_event_id`.
    pub async fn sse_with(&self, path: &str, last_event_id: Option<u64>) -> SseClient {
        let mut request = self.http.get(self.url(path));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = within("the event stream to open", request.send()).await.expect("GET events");
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        SseClient { body: Box::pin(response.bytes_stream()), buffer: Vec::new() }
    }

    /// One game on a fresh fake game socket; returns the harness and the
    /// game's connection once the bridge is attached.
    pub async fn with_one_game() -> (Self, FakeGame, GameConnection) {
        Self::with_one_game_configured("", |_| {}).await
    }

    /// One game `civ5` whose link spec ends with `options` (e.g.
    /// `?max_frame=1024`), on a bridge whose configuration `adjust` may change.
    pub async fn with_one_game_configured(
        options: &str,
        adjust: impl FnOnce(&mut BridgeConfig),
    ) -> (Self, FakeGame, GameConnection) {
        let dir = tempfile::tempdir().unwrap();
        let game = FakeGame::bind(&dir.path().join("game.sock"));
        let spec = format!("unix:{}{options}", game.path.display());
        let harness = Self::start_configured(dir, &[("civ5", spec)], adjust).await;
        let connection = game.accept().await;
        harness.wait_connected("civ5").await;
        (harness, game, connection)
    }

    /// One game `civ5`, connected, on a bridge that also serves the event
    /// pipe `pipe` (`/tmp/app.PIPE`).
    pub async fn with_one_game_and_event_pipe(pipe: &str) -> (Self, FakeGame, GameConnection) {
        let pipe = pipe.to_owned();
        Self::with_one_game_configured("", |config| config.event_pipe = Some(pipe)).await
    }

    /// Two games, `civ5` and `lab`, both connected.
    pub async fn with_two_games() -> (Self, [FakeGame; 2], GameConnection, GameConnection) {
        let dir = tempfile::tempdir().unwrap();
        let civ = FakeGame::bind(&dir.path().join("civ.sock"));
        let lab = FakeGame::bind(&dir.path().join("lab.sock"));
        let specs = [
            ("civ5", format!("unix:{}", civ.path.display())),
            ("lab", format!("unix:{}", lab.path.display())),
        ];
        let harness = Self::start_in(dir, &specs).await;
        let (civ_connection, lab_connection) = tokio::join!(civ.accept(), lab.accept());
        harness.wait_connected("civ5").await;
        harness.wait_connected("lab").await;
        (harness, [civ, lab], civ_connection, lab_connection)
    }

    pub fn hub(&self) -> &Hub {
        &self.bridge.hub
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.bridge.url())
    }

    /// `HOST:PORT` of the bridge's listener, for raw clients.
    pub fn address(&self) -> String {
        self.bridge.url().trim_start_matches("http://").trim_end_matches('/').to_owned()
    }

    /// Waits until the bridge has attached a session for `game`.
    pub async fn wait_connected(&self, game: &str) {
        self.wait_link(game, true).await;
    }

    pub async fn wait_disconnected(&self, game: &str) {
        self.wait_link(game, false).await;
    }

    async fn wait_link(&self, name: &str, connected: bool) {
        let game = self.hub().game(name).expect("game exists");
        within("the link state to change", game.wait_until_connected(connected)).await;
    }

    /// A call the game answers at once: once it returns, every message the
    /// game sent before it has been processed by the bridge.
    pub async fn sync(&self, connection: &mut GameConnection) {
        self.sync_at("/lua/call", connection).await;
    }

    /// [`Harness::sync`] for the game `name` of several.
    pub async fn sync_game(&self, name: &str, connection: &mut GameConnection) {
        self.sync_at(&format!("/games/{name}/lua/call"), connection).await;
    }

    async fn sync_at(&self, path: &str, connection: &mut GameConnection) {
        let call = self.post(path, serde_json::json!({"function": "Sync"}));
        let answer = async {
            let (id, function, _) = connection.expect_call().await;
            assert_eq!(function, "Sync");
            connection.answer(id, Value::Null).await;
        };
        let (envelope, ()) = tokio::join!(call, answer);
        assert_eq!(envelope["success"], true, "sync call failed: {envelope}");
    }

    /// Waits until a listening game's link is bound; returns where it
    /// listens (`listening on …`).
    pub async fn wait_listening(&self, game: &str) -> String {
        let game = self.hub().game(game).expect("game exists");
        within("the link to listen", async {
            loop {
                let status = game.status();
                if status.state == gamebridge_hub::LinkState::Listening
                    && let Some(detail) = status.detail
                {
                    return detail;
                }
                // The link binds in its own task; there is no event for it.
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        })
        .await
    }

    /// The address a listening TCP game accepts on (its spec may say port 0).
    pub async fn listening_address(&self, game: &str) -> String {
        let detail = self.wait_listening(game).await;
        detail.strip_prefix("listening on tcp:").expect("a TCP listener").to_owned()
    }

    /// The `/stats` counters of one game (or instance).
    pub async fn game_stats(&self, name: &str) -> Value {
        let (_, stats) = self.get("/stats").await;
        let games = stats["result"]["games"].as_array().expect("games").clone();
        games.into_iter().find(|game| game["name"] == name).expect("the game is listed")["calls"].clone()
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let response = self.http.post(self.url(path)).json(&body).send().await.expect("POST");
        response.json().await.expect("JSON answer")
    }

    /// POSTs `body` as it is, declared JSON.
    pub async fn post_status(&self, path: &str, body: &str) -> (u16, Value) {
        let request = self.http.post(self.url(path)).header("content-type", "application/json");
        let response = request.body(body.to_owned()).send().await.expect("POST");
        (response.status().as_u16(), response.json().await.expect("JSON answer"))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.http.get(self.url(path)).send().await.expect("GET");
        (response.status().as_u16(), response.json().await.expect("JSON answer"))
    }
}

/// One Server-Sent Event.
#[derive(Debug)]
pub struct SseEvent {
    pub id: Option<u64>,
    pub event: String,
    pub data: Value,
}

/// A client reading a real SSE response.
pub struct SseClient {
    body: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buffer: Vec<u8>,
}

impl SseClient {
    /// The next event (comments and retry lines skipped).
    pub async fn next(&mut self) -> SseEvent {
        within("an SSE event", self.next_or_end()).await.expect("the stream ended")
    }

    /// The next event, or `None` once the response ends (or breaks).
    pub async fn next_or_end(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|pair| pair == b"\n\n") {
                let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse_sse(&String::from_utf8(block).unwrap()) {
                    return Some(event);
                }
                continue;
            }
            let chunk = self.body.next().await?.ok()?;
            self.buffer.extend_from_slice(&chunk);
        }
    }

    /// The next `message` event (skipping `connected` and `ping`).
    pub async fn next_message(&mut self) -> SseEvent {
        loop {
            let event = self.next().await;
            if event.event != "ping" && event.event != "connected" {
                return event;
            }
        }
    }
}

fn parse_sse(block: &str) -> Option<SseEvent> {
    let (mut id, mut event, mut data) = (None, None, String::new());
    for line in block.lines() {
        match line.split_once(": ") {
            Some(("id", value)) => id = value.parse().ok(),
            Some(("event", value)) => event = Some(value.to_owned()),
            Some(("data", value)) => data.push_str(value),
            _ => {}
        }
    }
    let event = event?;
    Some(SseEvent { id, event, data: serde_json::from_str(&data).expect("SSE data is JSON") })
}

/// A `game_event` frame.
pub fn game_event(event: &str, payload: Value) -> GameMessage {
    GameMessage::parse(
        serde_json::json!({"type": "game_event", "event": event, "payload": payload}).to_string().as_bytes(),
    )
    .unwrap()
}

/// A game script from tests/lua running under `gamebridge sim` (ticking
/// every 5 ms) in its own process, stopped when dropped.
pub struct SimProcess(Option<std::process::Child>);

impl SimProcess {
    pub fn start(script: &str, env: &[(&str, &Path)]) -> Self {
        Self::start_with(script, &[], env)
    }

    /// With extra `gamebridge sim` flags (such as `--emu`).
    pub fn start_with(script: &str, flags: &[&str], env: &[(&str, &Path)]) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lua").join(script);
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_gamebridge"))
            .arg("sim")
            .args(flags)
            .args([script.to_str().unwrap(), "--tick-ms", "5"])
            .envs(env.iter().copied())
            .spawn()
            .expect("start gamebridge sim");
        Self(Some(child))
    }

    /// Waits for a script that stops by itself.
    pub async fn finished(mut self) -> std::process::ExitStatus {
        let mut child = self.0.take().expect("running");
        within("the sim to finish", tokio::task::spawn_blocking(move || child.wait())).await.unwrap().unwrap()
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The error code of a failed envelope.
pub fn error_code(envelope: &Value) -> &str {
    assert_eq!(envelope["success"], false, "expected a failure: {envelope}");
    envelope["error"]["code"].as_str().expect("error code")
}

/// Whether python3 can import `module`. CI installs every module a test
/// drives (.ci/deps), so there it must; elsewhere the test is skipped.
pub fn python_with(module: &str) -> bool {
    let available = std::process::Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|out| out.status.success());
    if !available {
        assert!(std::env::var("CI").is_err(), "CI must install python3 and the {module} package");
        eprintln!("python3 with the {module} package is not installed; skipped");
    }
    available
}
