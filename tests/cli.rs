//! The `gamebridge` binary as a user runs it: real processes, real signals.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;

use serde_json::json;
use support::{FakeGame, STEP};

fn gamebridge() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gamebridge"));
    command.env_remove("RUST_LOG");
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
