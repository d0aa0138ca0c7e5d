//! Game faults on the legacy mailbox (the Transport Fever 2 file pair):
//! one command slot `PREFIX_cmd.json`, one answer slot `PREFIX_resp.json`.
//! The test plays the mod at the moment it fails; a restarted game is the
//! stand-in mod (tests/lua/tf2_mod.lua) under `gamebridge sim`, which logs
//! every command it runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::future::join_all;
use gamebridge_protocol::RawValue;
use serde_json::{Value, json};

use crate::support::{Harness, SimProcess, error_code, within, within_bulk};

struct Tf2 {
    harness: Harness,
    prefix: PathBuf,
    runs: PathBuf,
}

impl Tf2 {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().join("tf2");
        let runs = dir.path().join("runs.log");
        let harness =
            Harness::start_in(dir, &[("tf2", format!("mailbox:{}?legacy", prefix.display()))]).await;
        harness.wait_connected("tf2").await;
        Self { harness, prefix, runs }
    }

    fn command_file(&self) -> PathBuf {
        PathBuf::from(format!("{}_cmd.json", self.prefix.display()))
    }

    fn answer_file(&self) -> PathBuf {
        PathBuf::from(format!("{}_resp.json", self.prefix.display()))
    }

    /// The stand-in mod, started fresh (as after a game restart).
    fn restarted_game(&self) -> SimProcess {
        SimProcess::start("tf2_mod.lua", &[("TF2_PREFIX", &self.prefix), ("TF2_RUNS", &self.runs)])
    }

    /// The stand-in mod restarted for a few ticks before any new call: it
    /// runs whatever it finds in the slot.
    async fn restart_game_briefly(&self) {
        let flags = ["--ticks", "5"];
        let env: [(&str, &Path); 2] = [("TF2_PREFIX", &self.prefix), ("TF2_RUNS", &self.runs)];
        assert!(SimProcess::start_with("tf2_mod.lua", &flags, &env).finished().await.success());
    }

    /// The commands the restarted game ran: `ID COMMAND` lines.
    fn runs(&self) -> Vec<String> {
        std::fs::read_to_string(&self.runs).unwrap_or_default().lines().map(str::to_owned).collect()
    }

    /// The game is served: a `ping` through the restarted game answers.
    async fn ping(&self) {
        let pong = self.harness.post("/lua/call", json!({"function": "ping"})).await;
        assert_eq!(pong["result"], "pong", "{pong}");
    }
}

/// The command the mod finds in the slot. The mod polls the file every
/// tick; so does this.
async fn poll_command(path: &Path) -> Value {
    within("a command in the slot", async {
        loop {
            if let Some(command) =
                std::fs::read(path).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok())
            {
                return command;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
}

#[tokio::test]
async fn a_command_the_game_took_and_never_answered_times_out_and_is_not_sent_again() {
    let tf2 = Tf2::start().await;
    let call =
        tf2.harness.post("/lua/call", json!({"function": "echo", "args": {"n": 1}, "timeout_ms": 2000}));
    // The mod reads the command and crashes in its handler: no answer, and
    // (as the mod deletes only after answering) the command stays.
    let command_file = tf2.command_file();
    let game = poll_command(&command_file);
    let (envelope, command) = within("the call to time out", async { tokio::join!(call, game) }).await;
    assert_eq!(command["cmd"], "echo");
    assert_eq!(error_code(&envelope), "CALL_TIMEOUT", "{envelope}");
    assert!(envelope["error"]["message"].as_str().unwrap().contains("may have run"), "{envelope}");
    assert!(!tf2.command_file().exists(), "the command was taken back");

    tf2.restart_game_briefly().await;
    assert_eq!(tf2.runs(), Vec::<String>::new(), "the taken command was sent again");
    let _game = tf2.restarted_game();
    tf2.ping().await;
    let runs = tf2.runs();
    assert_eq!(runs.len(), 1, "only the new command ran: {runs:?}");
    assert!(runs[0].ends_with(" ping"));
}

#[tokio::test]
async fn a_command_answered_by_a_game_that_died_before_clearing_it_never_runs_again() {
    let tf2 = Tf2::start().await;
    let call = tf2.harness.post("/lua/call", json!({"function": "add_money", "args": {"amount": "100"}}));
    let game = async {
        // The mod runs the command and writes its answer, then crashes
        // before it deletes the command.
        let command = poll_command(&tf2.command_file()).await;
        let answer = json!({"id": command["id"], "status": "ok", "data": {"money": "2500100"}});
        std::fs::write(tf2.answer_file(), answer.to_string()).unwrap();
    };
    let (envelope, ()) = within("the answer", async { tokio::join!(call, game) }).await;
    assert_eq!(envelope["result"], json!({"money": "2500100"}), "{envelope}");
    // The mod deletes a command right after answering it; one that has not
    // within a second stopped there, and the bridge takes the command out.
    within("the answered command to be taken out of the slot", async {
        while tf2.command_file().exists() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    tf2.restart_game_briefly().await;
    assert_eq!(tf2.runs(), Vec::<String>::new(), "the answered command ran again");

    let _game = tf2.restarted_game();
    tf2.ping().await;
    let runs = tf2.runs();
    assert_eq!(runs.len(), 1, "the answered command did not run again: {runs:?}");
    assert!(runs[0].ends_with(" ping"));
}

/// One slot serves one command at a time; 10,000 calls in flight while the
/// game takes none all wait in the bridge, within their deadlines.
#[tokio::test]
async fn ten_thousand_calls_in_flight_to_a_stalled_game_all_time_out_and_none_runs_later() {
    let tf2 = Tf2::start().await;
    let game = tf2.harness.hub().game("tf2").unwrap();
    let calls = (0..10_000u32).map(|n| {
        let args = RawValue::from_string(format!(r#"{{"n":{n}}}"#)).unwrap();
        game.call("echo".into(), args, Duration::from_secs(1))
    });
    let outcomes = within_bulk("10,000 calls", join_all(calls)).await;
    for (n, outcome) in outcomes.iter().enumerate() {
        let error = outcome.as_ref().expect_err("no game answered");
        assert_eq!(error.code.as_str(), "CALL_TIMEOUT", "call {n}: {error}");
    }
    // Memory stays bounded: nothing is left waiting.
    assert_eq!(game.status().pending_calls, 0);
    let stats = tf2.harness.game_stats("tf2").await;
    assert_eq!(stats["errors"], json!({"CALL_TIMEOUT": 10_000}));
    tf2.restart_game_briefly().await;
    assert_eq!(tf2.runs(), Vec::<String>::new(), "a timed-out call ran later");

    let _game = tf2.restarted_game();
    tf2.ping().await;
    let runs = tf2.runs();
    assert_eq!(runs.len(), 1, "none of the timed-out calls ran: {runs:?}");
}
