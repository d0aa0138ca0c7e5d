//! The `gamebridge` binary as a user runs it: real processes, real signals.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;

use gamebridge_api::security::Security;
use serde_json::json;
use support::{FakeGame, GameConnection, Harness, STEP, game_event, within};
use tokio::io::AsyncBufReadExt;

fn gamebridge() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gamebridge"));
    // Neither the developer's log filter nor their token or bridge URL may leak into a test.
    command.env_remove("RUST_LOG").env_remove("GAMEBRIDGE_TOKEN").env_remove("GAMEBRIDGE_URL");
    command
}

fn run(args: &[&str]) -> Output {
    gamebridge().args(args).output().expect("run gamebridge")
}

/// A child process whose output lines arrive on a channel.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn spawn(args: &[&str]) -> Self {
        Self::spawn_with_env(args, &[])
    }

    fn spawn_with_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = gamebridge()
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn gamebridge");
        let (sender, lines) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let sender = sender.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = sender.send(line);
                }
            });
        }
        Self { child, lines, seen: Vec::new() }
    }

    /// Waits for an output line containing `marker` (printed so far or
    /// later) and returns the word that follows it.
    fn wait_for(&mut self, marker: &str) -> String {
        let mut next = 0;
        loop {
            if next == self.seen.len() {
                let line = self
                    .lines
                    .recv_timeout(STEP)
                    .unwrap_or_else(|_| panic!("no output line with {marker:?}"));
                self.seen.push(line);
            }
            let line = &self.seen[next];
            if let Some(at) = line.find(marker) {
                return line[at + marker.len()..].split_whitespace().next().unwrap_or("").to_owned();
            }
            next += 1;
        }
    }

    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + STEP;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(std::time::Instant::now() < deadline, "gamebridge did not exit");
            // Polling a child's exit status has no event to await in std.
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

#[test]
fn help_explains_link_specs_and_profiles() {
    let output = run(&["--help"]);
    let help = String::from_utf8(output.stdout).unwrap();
    for expected in ["serve", "demo", "call", "status", "pipe:ID", "tcp:HOST:PORT", "vox-deorum"] {
        assert!(help.contains(expected), "--help mentions {expected}");
    }
}

#[test]
fn bad_arguments_are_clear_errors_not_panics() {
    for (args, expected) in [
        (&["serve", "--game", "civ5=warp:9"][..], "unknown link scheme"),
        (&["serve", "--game", "tcp:localhost:1"][..], "NAME=SPEC"),
        (&["serve", "--listen", "0.0.0.0:5000"][..], "without a token"),
        (&["serve", "--config", "/nonexistent/gamebridge.toml"][..], "could not read"),
        (&["call", "F", "{not json"][..], "ARGS must be JSON"),
    ] {
        let output = run(args);
        assert!(!output.status.success(), "{args:?} fails");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn call_and_status_against_a_running_bridge_then_sigterm() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("game.sock");
    let game = runtime.block_on(async { FakeGame::bind(&socket) });
    let mut bridge = Running::spawn(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--game",
        &format!("civ5=unix:{}", socket.display()),
    ]);
    let url = bridge.wait_for("agent API listening on ");
    let connection = runtime.block_on(game.accept());
    // The runtime's worker threads drive the echoing game while the test runs processes.
    let _context = runtime.enter();
    connection.echo_forever();
    bridge.wait_for("game connected");

    let output = run(&["call", "MoveUnit", "[5, 10, 12]", "--url", &url]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result, json!({"function": "MoveUnit", "args": [5, 10, 12]}));

    let output = run(&["call", "F", "--url", &url, "--game", "nope"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).starts_with("NOT_FOUND"));

    let output = run(&["status", "--url", &url]);
    assert!(output.status.success());
    let table = String::from_utf8(output.stdout).unwrap();
    assert!(table.contains("civ5") && table.contains("connected"), "{table}");

    let killed = Command::new("kill").args(["-TERM", &bridge.child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    assert!(bridge.wait_exit().success(), "SIGTERM is a graceful shutdown");
}

#[test]
fn the_demo_serves_a_simulated_game_until_shutdown() {
    let mut demo = Running::spawn(&["demo", "--listen", "127.0.0.1:0"]);
    let url = demo.wait_for("Agent API: ");
    let dashboard = demo.wait_for("Dashboard: ");
    assert_eq!(dashboard, format!("{url}/ui"));
    demo.wait_for("game connected");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let http = reqwest::Client::new();
        let post = |body: serde_json::Value| {
            let request = http.post(format!("{url}/lua/call")).json(&body).send();
            async move { request.await.unwrap().json::<serde_json::Value>().await.unwrap() }
        };
        let page = http.get(&dashboard).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("<title>gamebridge</title>"), "the dashboard is served");
        let moved = post(json!({"function": "MoveUnit", "args": [1, 3, 3]})).await;
        assert_eq!(moved["result"]["x"], 3, "{moved}");
        let again = post(json!({"function": "MoveUnit", "args": [1, 4, 4]})).await;
        assert_eq!(again["error"]["code"], "LUA_EXECUTION_ERROR", "{again}");
        let turn = post(json!({"function": "EndTurn"})).await;
        assert_eq!(turn["result"]["turn"], 2, "{turn}");
        let functions: serde_json::Value =
            http.get(format!("{url}/lua/functions")).send().await.unwrap().json().await.unwrap();
        assert!(functions["result"]["functions"].as_array().unwrap().len() >= 4);
        http.post(format!("{url}/shutdown")).send().await.unwrap();
    });
    assert!(demo.wait_exit().success());
}

#[test]
fn the_vox_deorum_profile_honours_the_pipe_name_variable() {
    let mut bridge = Running::spawn_with_env(
        &["serve", "--listen", "127.0.0.1:0", "--game", "civ5=vox-deorum"],
        &[("VOX_DEORUM_PIPE_NAME", "my-civ-pipe")],
    );
    let url = bridge.wait_for("agent API listening on ");
    let games: serde_json::Value = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async { reqwest::get(format!("{url}/games")).await.unwrap().json().await.unwrap() });
    assert_eq!(games["result"]["games"][0]["link"], "vox-deorum (unix:/tmp/app.my-civ-pipe)");
}

#[test]
fn sim_runs_a_script_and_reports_lua_errors_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let counting = dir.path().join("count.lua");
    std::fs::write(
        &counting,
        "local json = require('gamebridge.json')\n\
         count = 0\n\
         function init() io.write('init ') end\n\
         function tick(n) count = n; if n == 3 then print(json.encode({ticks = n, ms = gamebridge_host.tick_ms})) end end\n",
    )
    .unwrap();
    let output = run(&["sim", counting.to_str().unwrap(), "--tick-ms", "1", "--ticks", "3"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "init {\"ms\":1,\"ticks\":3}\n");

    let stopping = dir.path().join("stop.lua");
    std::fs::write(&stopping, "function tick(n) if n == 2 then gamebridge_host.stop() end end").unwrap();
    assert!(
        run(&["sim", stopping.to_str().unwrap(), "--tick-ms", "1"]).status.success(),
        "stop() ends the run"
    );

    let broken = dir.path().join("broken.lua");
    std::fs::write(&broken, "function tick(n) error('boom at tick ' .. n) end").unwrap();
    let output = run(&["sim", broken.to_str().unwrap(), "--tick-ms", "1"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("boom at tick 1"));

    let no_tick = dir.path().join("no_tick.lua");
    std::fs::write(&no_tick, "x = 1").unwrap();
    let output = run(&["sim", no_tick.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("defines no global function tick"));
    let output = run(&["sim", "/nonexistent/mod.lua"]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("could not read"));
}

/// The token of the bridges below (16 characters or more, as `serve` asks).
const TOKEN: &str = "cli-test-token-0123456789";

/// How a client command is given the bridge's token.
#[derive(Clone, Copy, Debug)]
enum Given {
    Flag,
    Variable,
    Nothing,
    Wrong,
}

/// `gamebridge ARGS`, given the token as `given` says.
fn client(args: &[&str], given: Given) -> tokio::process::Command {
    let mut command = gamebridge();
    command.args(args);
    match given {
        Given::Flag => command.args(["--token", TOKEN]),
        Given::Variable => command.env("GAMEBRIDGE_TOKEN", TOKEN),
        Given::Nothing => &mut command,
        Given::Wrong => command.args(["--token", "not-the-token-0123456789"]),
    };
    let mut command = tokio::process::Command::from(command);
    command.stdin(Stdio::null()).kill_on_drop(true);
    command
}

async fn client_output(args: &[&str], given: Given) -> Output {
    within("the client command to finish", client(args, given).output()).await.expect("run gamebridge")
}

/// A bridge that needs [`TOKEN`], with one game `civ5` attached.
async fn bridge_with_token() -> (Harness, FakeGame, GameConnection) {
    Harness::with_one_game_configured("", |config| {
        config.security = Security { token: Some(TOKEN.into()), ..Security::default() }
    })
    .await
}

/// `Harness::sync` on a bridge that needs [`TOKEN`]: once it returns, the
/// bridge has processed everything the game sent before.
async fn sync(harness: &Harness, connection: &mut GameConnection) {
    let call =
        harness.http.post(harness.url("/lua/call")).bearer_auth(TOKEN).json(&json!({"function": "Sync"}));
    let answer = async {
        let (id, function, _) = connection.expect_call().await;
        assert_eq!(function, "Sync");
        connection.answer(id, serde_json::Value::Null).await;
    };
    let (response, ()) = tokio::join!(within("the sync call", call.send()), answer);
    let envelope: serde_json::Value = response.unwrap().json().await.unwrap();
    assert_eq!(envelope["success"], true, "sync call failed: {envelope}");
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn call_and_status_send_the_token_from_the_flag_or_the_variable() {
    let (harness, _game, connection) = bridge_with_token().await;
    connection.echo_forever();
    let url = harness.bridge.url();
    for given in [Given::Flag, Given::Variable] {
        let output = client_output(&["call", "MoveUnit", "[5, 10]", "--url", &url], given).await;
        assert!(output.status.success(), "{given:?}: {}", text(&output.stderr));
        let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(result, json!({"function": "MoveUnit", "args": [5, 10]}), "{given:?}");

        let output = client_output(&["status", "--url", &url], given).await;
        assert!(output.status.success(), "{given:?}: {}", text(&output.stderr));
        let table = text(&output.stdout);
        assert!(table.contains("civ5") && table.contains("connected"), "{given:?}: {table}");
        assert!(!table.contains("null"), "{given:?}: {table}");
    }
}

#[tokio::test]
async fn events_sends_the_token_from_the_flag_or_the_variable() {
    let (harness, _game, mut connection) = bridge_with_token().await;
    connection.send(&game_event("TurnStart", json!({"turn": 7}))).await;
    sync(&harness, &mut connection).await;
    let url = harness.bridge.url();
    for given in [Given::Flag, Given::Variable] {
        let mut events = client(&["events", "--url", &url, "--since", "0", "--types", "TurnStart"], given)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn gamebridge events");
        let mut lines = tokio::io::BufReader::new(events.stdout.take().unwrap()).lines();
        let line = within("the replayed event", async {
            loop {
                let line = lines.next_line().await.unwrap().expect("events exited before the event");
                if line.contains("TurnStart") {
                    return line;
                }
            }
        })
        .await;
        let event: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(event["data"]["payload"]["turn"], 7, "{given:?}: {event}");
    }
}

#[tokio::test]
async fn mcp_sends_the_token_from_the_flag_or_the_variable() {
    use rmcp::ServiceExt;
    use rmcp::transport::TokioChildProcess;

    let (harness, _game, mut connection) = bridge_with_token().await;
    connection.register("GetCity").await;
    sync(&harness, &mut connection).await;
    let url = harness.bridge.url();
    for given in [Given::Flag, Given::Variable] {
        let proxy = TokioChildProcess::new(client(&["-q", "mcp", "--url", &url], given)).unwrap();
        let session = within("stdio initialize", ().serve(proxy)).await.expect("the proxy initializes");
        let tools =
            within("tools/list", session.list_all_tools()).await.expect("tools/list through the proxy");
        assert!(tools.iter().any(|tool| tool.name == "GetCity"), "{given:?}: {tools:?}");
        within("the proxy to stop", session.cancel()).await.unwrap();
    }
}

#[tokio::test]
async fn without_the_right_token_every_client_command_says_so() {
    let (harness, _game, _connection) = bridge_with_token().await;
    let url = harness.bridge.url();
    let commands: [&[&str]; 4] = [
        &["call", "F", "--url", &url],
        &["status", "--url", &url],
        &["events", "--url", &url],
        &["mcp", "--url", &url],
    ];
    for (given, expected) in [
        (
            Given::Nothing,
            format!("the bridge at {url} needs its token: pass --token or set GAMEBRIDGE_TOKEN"),
        ),
        (Given::Wrong, format!("the bridge at {url} refused the token")),
    ] {
        for args in commands {
            let output = client_output(args, given).await;
            let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
            assert!(!output.status.success(), "{args:?} {given:?} fails");
            assert!(stderr.contains(&expected), "{args:?} {given:?}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "{args:?} {given:?}: one line: {stderr}");
            assert!(stdout.is_empty(), "{args:?} {given:?} prints no half answer: {stdout}");
        }
    }
}

/// An HTTP server that is not a bridge: every request gets `status` and `body`.
async fn not_a_bridge(status: u16, body: &'static str) -> String {
    let status = axum::http::StatusCode::from_u16(status).unwrap();
    let router = axum::Router::new().fallback(move || async move { (status, body) });
    support::serve_http(router).await
}

#[tokio::test]
async fn refusals_and_answers_that_are_not_the_bridges_are_reported_plainly() {
    let forbidden =
        r#"{"success":false,"error":{"code":"FORBIDDEN","message":"Host \"x\" is not this bridge's"}}"#;
    let refused = "refused the request (HTTP 403): Host \"x\" is not this bridge's";
    // What `status` and `call` say, then what `events` says.
    for (status, body, expected) in [
        (403, forbidden, [refused, refused]),
        (403, "<html>Forbidden</html>", ["refused the request (HTTP 403): <html>Forbidden</html>"; 2]),
        (
            200,
            "<html>a page</html>",
            ["answered HTTP 200 OK with no JSON", "HTTP 200 OK with no event stream"],
        ),
        (
            200,
            r#"{"uptime": 3}"#,
            ["HTTP 200 OK with JSON that is no envelope", "HTTP 200 OK with no event stream"],
        ),
        (
            502,
            "Bad Gateway",
            ["answered HTTP 502 Bad Gateway with no JSON (is it a gamebridge?): Bad Gateway"; 2],
        ),
    ] {
        let url = not_a_bridge(status, body).await;
        for (args, expected) in [
            (&["status", "--url", &url][..], expected[0]),
            (&["call", "F", "--url", &url], expected[0]),
            (&["events", "--url", &url], expected[1]),
        ] {
            let output = client_output(args, Given::Nothing).await;
            let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
            assert!(!output.status.success(), "{args:?} on HTTP {status} {body} fails");
            assert!(stderr.contains(expected), "{args:?} on HTTP {status} {body}: {stderr}");
            assert!(stdout.is_empty(), "{args:?} on HTTP {status} {body}: {stdout}");
        }
    }
}
