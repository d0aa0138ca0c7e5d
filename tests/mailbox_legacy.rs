//! The Transport Fever 2 file pair: the stand-in mod (tests/lua/tf2_mod.lua)
//! running under `gamebridge sim`, or the test itself playing the game.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use support::{Harness, SimProcess, error_code, within};

/// The stand-in mod ticking every 5 ms in a `gamebridge sim` process.
fn tf2_game(prefix: &Path, runs: &Path) -> SimProcess {
    slow_tf2_game(prefix, runs, 0, 0)
}

/// The stand-in mod with every handler taking `handler_ms`, and `gap_ms`
/// between its answer and its delete of the command (the real mod's log
/// writes, which take that long under load).
fn slow_tf2_game(prefix: &Path, runs: &Path, handler_ms: u64, gap_ms: u64) -> SimProcess {
    let (handler, gap) = (handler_ms.to_string(), gap_ms.to_string());
    SimProcess::start(
        "tf2_mod.lua",
        &[
            ("TF2_PREFIX", prefix),
            ("TF2_RUNS", runs),
            ("TF2_HANDLER_MS", Path::new(&handler)),
            ("TF2_GAP_MS", Path::new(&gap)),
        ],
    )
}

/// Each command id the mod ran, and how often.
fn run_counts(path: &Path) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for line in runs(path) {
        *counts.entry(line.split(' ').next().unwrap().to_owned()).or_default() += 1;
    }
    counts
}

struct Setup {
    harness: Harness,
    prefix: PathBuf,
    runs: PathBuf,
}

async fn setup(options: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("tf2");
    let runs = dir.path().join("runs.log");
    let spec = format!("mailbox:{}?legacy{options}", prefix.display());
    let harness = Harness::start_in(dir, &[("tf2", spec)]).await;
    harness.wait_connected("tf2").await;
    Setup { harness, prefix, runs }
}

fn runs(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_owned).collect()
}

/// Waits for a file the other side writes; there is no event to await in a
/// plain folder, so this looks every few milliseconds.
async fn wait_for_file(path: &Path) -> Vec<u8> {
    within("a file to appear", async {
        loop {
            if let Ok(bytes) = std::fs::read(path)
                && !bytes.is_empty()
            {
                return bytes;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
}

#[tokio::test]
async fn the_tf2_mod_answers_through_the_bridge() {
    let setup = setup("").await;
    let _game = tf2_game(&setup.prefix, &setup.runs);
    let harness = &setup.harness;
    let call =
        |function: &str, args: Value| harness.post("/lua/call", json!({"function": function, "args": args}));

    assert_eq!(call("ping", Value::Null).await["result"], "pong");
    assert_eq!(call("query_game_state", json!({})).await["result"]["year"], "1855");
    let echoed = call("echo", json!({"a": 1, "b": true, "c": null, "d": [1, {"e": 2.5}], "s": "x"})).await;
    assert_eq!(
        echoed["result"],
        json!({"a": "1", "b": "true", "c": "null", "d": ["1", {"e": "2.5"}], "s": "x"}),
        "every value is sent as a string, shapes kept"
    );
    let pending = call("build_road", json!({"cargo": "COAL"})).await;
    assert_eq!(pending["result"], json!({"status": "pending", "data": {"cargo": "COAL"}}));
    let failed = call("fail", json!({})).await;
    assert_eq!(error_code(&failed), "LUA_EXECUTION_ERROR");
    assert_eq!(failed["error"]["message"], "Invalid town_id parameter");
    assert_eq!(error_code(&call("no_such_command", json!({})).await), "LUA_EXECUTION_ERROR");
    assert_eq!(error_code(&call("echo", json!([1, 2])).await), "INVALID_ARGUMENTS", "TF2 takes an object");
    let script = harness.post("/lua/execute", json!({"script": "return 1"})).await;
    assert_eq!(error_code(&script), "INVALID_SCRIPT");
    assert_eq!(runs(&setup.runs).len(), 6, "every command the game got ran once");
}

#[tokio::test]
async fn thirty_two_agents_at_once_each_command_runs_exactly_once() {
    let setup = setup("").await;
    let _game = tf2_game(&setup.prefix, &setup.runs);
    let calls =
        (0..32).map(|n| setup.harness.post("/lua/call", json!({"function": "echo", "args": {"n": n}})));
    let answers = within("32 calls", futures::future::join_all(calls)).await;
    for (n, answer) in answers.iter().enumerate() {
        assert_eq!(answer["result"], json!({"n": n.to_string()}), "call {n} got its own answer");
    }
    let runs = runs(&setup.runs);
    let mut ids: Vec<&str> = runs.iter().map(|line| line.split(' ').next().unwrap()).collect();
    assert_eq!(ids.len(), 32);
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 32, "no command ran twice");
}

#[tokio::test]
async fn twenty_callers_slow_handlers_and_a_late_delete_lose_nothing_and_run_nothing_twice() {
    let setup = setup("").await;
    // The mod deletes each command 20 ms after answering it; a command
    // written in that gap would be deleted unread.
    let _game = slow_tf2_game(&setup.prefix, &setup.runs, 0, 20);
    let caller = |caller: usize| {
        let harness = &setup.harness;
        async move {
            let mut answers = Vec::new();
            for n in 0..3 {
                // Now and then a handler takes 150 ms, as a big query does.
                let delay = if (caller + n).is_multiple_of(10) { "150" } else { "0" };
                let args = json!({"caller": caller, "n": n, "delay_ms": delay});
                answers.push((
                    caller,
                    n,
                    harness.post("/lua/call", json!({"function": "echo", "args": args})).await,
                ));
            }
            answers
        }
    };
    let answers = within("60 calls from 20 callers", futures::future::join_all((0..20).map(caller))).await;
    for (caller, n, answer) in answers.into_iter().flatten() {
        assert_eq!(answer["result"]["caller"], caller.to_string(), "{answer}");
        assert_eq!(answer["result"]["n"], n.to_string(), "call {n} of caller {caller} got its own answer");
    }
    let counts = run_counts(&setup.runs);
    assert_eq!(counts.len(), 60, "every command ran");
    assert!(counts.values().all(|&count| count == 1), "none ran twice: {counts:?}");
}

#[tokio::test]
async fn a_command_that_timed_out_after_the_mod_read_it_may_have_run_and_its_answer_comes_later() {
    let setup = setup("").await;
    let _game = slow_tf2_game(&setup.prefix, &setup.runs, 0, 0);
    let mut late_answers = setup.harness.sse("/events?types=late_answer").await;
    // The mod reads the command at once and takes 800 ms; the caller waits 400.
    let args = json!({"amount": "100", "delay_ms": "800"});
    let timed_out = setup
        .harness
        .post("/lua/call", json!({"function": "add_money", "args": args, "timeout_ms": 400}))
        .await;
    assert_eq!(error_code(&timed_out), "CALL_TIMEOUT");
    let message = timed_out["error"]["message"].as_str().unwrap();
    assert!(message.contains("may have run") && message.contains("late_answer"), "{message}");
    // The next command is written while the mod still runs the first; its
    // late delete must not cost the next one.
    assert_eq!(setup.harness.post("/lua/call", json!({"function": "ping"})).await["result"], "pong");
    let late = late_answers.next_message().await;
    assert_eq!(late.data["payload"]["function"], "add_money");
    assert_eq!(
        late.data["payload"]["params"],
        json!({"amount": "100", "delay_ms": "800"}),
        "to tell the call"
    );
    assert_eq!(late.data["payload"]["outcome"], json!({"success": true, "result": {"money": "2500100"}}));
    assert_eq!(run_counts(&setup.runs).len(), 2);
}

#[tokio::test]
async fn a_command_whose_time_ran_out_in_the_queue_is_never_written() {
    let setup = setup("").await;
    let _game = tf2_game(&setup.prefix, &setup.runs);
    let slow = setup.harness.post("/lua/call", json!({"function": "echo", "args": {"delay_ms": "600"}}));
    let queued = async {
        // Behind a 600 ms command, a 330 ms call's time runs out in the queue.
        tokio::task::yield_now().await;
        let args = json!({"function": "echo", "args": {"queued": 1}, "timeout_ms": 330});
        setup.harness.post("/lua/call", args).await
    };
    let (slow, queued) = tokio::join!(slow, queued);
    assert_eq!(slow["success"], true, "{slow}");
    // Its deadline passed while it queued (the hub's timeout), or its
    // withdraw time did as the slot came free (the link's): never written.
    assert_eq!(error_code(&queued), "CALL_TIMEOUT", "{queued}");
    assert_eq!(run_counts(&setup.runs).len(), 1, "only the slow command ran");
}

#[tokio::test]
async fn a_success_answer_keeps_its_message() {
    let setup = setup("").await;
    let _game = tf2_game(&setup.prefix, &setup.runs);
    let paused = setup.harness.post("/lua/call", json!({"function": "pause"})).await;
    assert_eq!(paused["result"], json!({"data": null, "message": "Ignored - game stays at 4x"}), "{paused}");
}

#[tokio::test]
async fn a_second_bridge_on_the_same_files_is_refused() {
    let setup = setup("").await;
    let spec = format!("mailbox:{}?legacy", setup.prefix.display());
    let second = Harness::start(&[("tf2", spec)]).await;
    let detail = within("the second bridge to refuse", async {
        loop {
            let (_, games) = second.get("/games").await;
            let game = &games["result"]["games"][0];
            if game["state"] == "stopped" {
                return game["detail"].as_str().unwrap_or_default().to_owned();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(detail.contains("another gamebridge serves"), "{detail}");
    let _game = tf2_game(&setup.prefix, &setup.runs);
    assert_eq!(
        setup.harness.post("/lua/call", json!({"function": "ping"})).await["result"],
        "pong",
        "the first one works on"
    );
    let refused = second.post("/lua/call", json!({"function": "ping", "timeout_ms": 2000})).await;
    assert_eq!(error_code(&refused), "DLL_DISCONNECTED", "the second one sends nothing: {refused}");
    // When the first bridge stops, the second takes the files over.
    setup.harness.bridge.stop().await.unwrap();
    second.wait_connected("tf2").await;
    assert_eq!(second.post("/lua/call", json!({"function": "ping"})).await["result"], "pong");
}

#[tokio::test]
async fn a_call_that_timed_out_never_runs_later() {
    let setup = setup("").await;
    // No game runs yet: the command waits in the slot until its deadline.
    // The link takes it back a tenth of the deadline early (150 ms here), a
    // margin a loaded machine keeps.
    let late = setup
        .harness
        .post("/lua/call", json!({"function": "echo", "args": {"late": 1}, "timeout_ms": 1500}))
        .await;
    assert_eq!(error_code(&late), "CALL_TIMEOUT");
    assert!(late["error"]["message"].as_str().unwrap().contains("taken back"), "{late}");
    assert!(
        !Path::new(&format!("{}_cmd.json", setup.prefix.display())).exists(),
        "the command was taken back"
    );

    let _game = tf2_game(&setup.prefix, &setup.runs);
    assert_eq!(setup.harness.post("/lua/call", json!({"function": "ping"})).await["result"], "pong");
    let runs = runs(&setup.runs);
    assert_eq!(runs.len(), 1, "only the later call ran: {runs:?}");
    assert!(runs[0].ends_with(" ping"));
}

#[tokio::test]
async fn garbage_half_written_and_stale_answers_are_read_again() {
    let setup = setup("").await;
    let command_file = PathBuf::from(format!("{}_cmd.json", setup.prefix.display()));
    let answer_file = PathBuf::from(format!("{}_resp.json", setup.prefix.display()));
    let call =
        setup.harness.post("/lua/call", json!({"function": "query_towns", "args": {}, "timeout_ms": 10_000}));
    let game = async {
        let command: Value = serde_json::from_slice(&wait_for_file(&command_file).await).unwrap();
        let id = command["id"].as_str().unwrap().to_owned();
        assert_eq!(id.len(), 8, "8 hex characters, as the mod expects");
        assert!(command["ts"].is_string());
        let full =
            json!({"id": id, "status": "ok", "data": {"towns": [{"name": "Indianapolis"}]}}).to_string();
        // The game's write as the bridge may see it: garbage, a half, a stale answer, then the real one.
        let stale = json!({"id": "00000000", "status": "ok", "data": "not yours"}).to_string();
        for partial in ["not json at all", &full[..full.len() / 2], &stale, &full] {
            std::fs::write(&answer_file, partial).unwrap();
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        // As the mod: the command goes after its answer.
        std::fs::remove_file(&command_file).unwrap();
    };
    let (envelope, ()) = tokio::join!(call, game);
    assert_eq!(envelope["result"], json!({"towns": [{"name": "Indianapolis"}]}), "{envelope}");
}

#[tokio::test]
async fn leftover_files_are_cleared_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("tf2");
    let leftovers =
        ["_cmd.json", "_resp.json", "_cmd.json.tmp"].map(|suffix| format!("{}{suffix}", prefix.display()));
    for leftover in &leftovers {
        std::fs::write(leftover, r#"{"id":"deadbeef","cmd":"build_road","ts":"1","params":{}}"#).unwrap();
    }
    let harness = Harness::start_in(dir, &[("tf2", format!("mailbox:{}?legacy", prefix.display()))]).await;
    harness.wait_connected("tf2").await;
    for leftover in &leftovers {
        assert!(!Path::new(leftover).exists(), "{leftover} was cleared");
    }
}

#[tokio::test]
async fn mod_log_lines_become_events() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("tf2_simple_ipc.log");
    std::fs::write(&log, "written before the bridge started\n").unwrap();
    let spec = format!("mailbox:{}?legacy&log={}", dir.path().join("tf2").display(), log.display());
    let harness = Harness::start_in(dir, &[("tf2", spec)]).await;
    harness.wait_connected("tf2").await;
    let mut events = harness.sse("/events?types=log").await;
    let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    std::io::Write::write_all(&mut file, b"[IPC] handled ping\n[IPC] handled query_towns\n").unwrap();
    assert_eq!(events.next_message().await.data["payload"], json!({"line": "[IPC] handled ping"}));
    assert_eq!(events.next_message().await.data["payload"], json!({"line": "[IPC] handled query_towns"}));
}
