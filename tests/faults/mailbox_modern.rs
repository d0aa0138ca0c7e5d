//! Game faults on the modern mailbox (the folder protocol of
//! docs/MAILBOX.md): a request file per call, an answer file plus a ready
//! marker per answer, an outbox, and a heartbeat that says the game lives.

use std::path::PathBuf;
use std::time::Duration;

use futures::future::join_all;
use gamebridge_protocol::RawValue;
use serde_json::{Value, json};

use crate::folder_game::{FolderGame, now_ms};
use crate::support::{Harness, SimProcess, error_code, within, within_bulk};

struct Folder {
    harness: Harness,
    folder: PathBuf,
}

impl Folder {
    async fn start() -> Self {
        Self::start_in(tempfile::tempdir().unwrap()).await
    }

    async fn start_in(dir: tempfile::TempDir) -> Self {
        let folder = dir.path().join("game");
        let harness = Harness::start_in(dir, &[("mod", format!("mailbox:{}", folder.display()))]).await;
        // The link prepares the folder in its own task; there is no event for it.
        within("the bridge to prepare the folder", async {
            while !folder.join("bridge.json").exists() {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
        .await;
        Self { harness, folder }
    }

    /// A game (played by the test) whose heartbeat the bridge has seen.
    async fn game_started(&self, started_ms: u64) -> FolderGame {
        let mut game = FolderGame::new(&self.folder, started_ms);
        game.beat();
        self.harness.wait_connected("mod").await;
        game
    }

    async fn call(&self, body: Value) -> Value {
        self.harness.post("/lua/call", body).await
    }

    /// A call the test game answers with `result`.
    async fn served_call(&self, game: &mut FolderGame, result: Value) {
        let call = self.call(json!({"function": "F", "timeout_ms": 600_000}));
        let answer = async {
            let (id, request) = game.take_request().await;
            assert_eq!(request["function"], "F");
            game.answer(&id, result.clone());
        };
        let (envelope, ()) = within("a served call", async { tokio::join!(call, answer) }).await;
        assert_eq!(envelope["result"], result, "{envelope}");
    }
}

#[tokio::test]
async fn a_game_that_goes_quiet_mid_call_fails_it_and_never_runs_it_when_it_comes_back() {
    let folder = Folder::start().await;
    let mut game = folder.game_started(now_ms()).await;
    let call = folder.call(json!({"function": "Add", "args": [40, 2], "timeout_ms": 600_000}));
    let quiet = async {
        // The request is announced; the game stops before it runs it.
        let id = game.next_request_id().await;
        game.go_quiet();
        id
    };
    let (envelope, id) = within("the call to fail", async { tokio::join!(call, quiet) }).await;
    assert_eq!(error_code(&envelope), "DLL_DISCONNECTED", "{envelope}");

    folder.harness.wait_disconnected("mod").await;
    let (_, health) = folder.harness.get("/health").await;
    assert_eq!(health["result"]["dll_connected"], false);
    let away = folder.call(json!({"function": "Add", "args": [1, 1], "timeout_ms": 600_000}));
    assert_eq!(error_code(&within("a call while the game is away", away).await), "DLL_DISCONNECTED");

    // The game comes back (it only hung) and reads on in the index: the
    // call whose caller was told it failed is no longer there to run.
    game.beat();
    folder.harness.wait_connected("mod").await;
    assert_eq!(game.request(&id), None, "a failed call's request was left for the game to run");
    folder.served_call(&mut game, json!("back")).await;
}

#[tokio::test]
async fn a_game_that_restarts_mid_call_fails_it_at_once_and_the_new_game_never_runs_it() {
    let folder = Folder::start().await;
    let mut crashed = folder.game_started(now_ms() - 60_000).await;
    let call = folder.call(json!({"function": "Add", "args": [40, 2], "timeout_ms": 600_000}));
    let runs = folder.harness.dir.path().join("runs.log");
    let (game_dir, game_runs) = (folder.folder.clone(), runs.clone());
    let restart = async move {
        let (_, request) = crashed.take_request().await;
        assert_eq!(request["function"], "Add");
        drop(crashed);
        // The game crashes while running it, and starts again (the SDK game).
        SimProcess::start("sdk_game.lua", &[("GAME_DIR", &game_dir), ("GAME_RUNS", &game_runs)])
    };
    // Not the 5 s a stale heartbeat takes: the new start time says it restarted.
    let (envelope, _game) = within("the call to fail", async { tokio::join!(call, restart) }).await;
    assert_eq!(error_code(&envelope), "DLL_DISCONNECTED", "{envelope}");

    folder.harness.wait_connected("mod").await;
    let sum = folder.call(json!({"function": "Add", "args": [1, 1]})).await;
    assert_eq!(sum["result"], 2, "{sum}");
    let runs = std::fs::read_to_string(&runs).unwrap();
    assert_eq!(runs, "Add 1 1\n", "only the new call ran");
}

#[tokio::test]
async fn garbage_in_the_outbox_and_in_an_answer_is_counted_and_the_call_fails_at_once() {
    let folder = Folder::start().await;
    let mut game = folder.game_started(now_ms()).await;
    let mut events = folder.harness.sse("/events?types=Seen").await;
    game.append_outbox("not json\n{\"type\":\"warp\"}\n");
    game.append_outbox("{\"type\":\"game_event\",\"event\":\"Seen\",\"payload\":{\"after\":\"garbage\"}}\n");
    assert_eq!(events.next_message().await.data["payload"], json!({"after": "garbage"}));

    // A deadline far away: the call must fail because its answer is garbage.
    let call = folder.call(json!({"function": "F", "timeout_ms": 600_000}));
    let answer = async {
        let (id, _) = game.take_request().await;
        game.write_answer(&id, b"<html>oops</html>", true);
    };
    let (envelope, ()) = within("the call to fail", async { tokio::join!(call, answer) }).await;
    assert_eq!(error_code(&envelope), "SERIALIZATION_ERROR", "{envelope}");

    folder.served_call(&mut game, json!("clean")).await;
    assert_eq!(folder.harness.game_stats("mod").await["bad_frames"], 3);
}

#[tokio::test]
async fn half_written_answers_and_outbox_lines_are_read_only_when_whole() {
    let folder = Folder::start().await;
    let mut game = folder.game_started(now_ms()).await;
    let http = folder.harness.http.clone();
    let url = folder.harness.url("/lua/call");
    let pending = tokio::spawn(async move {
        let body = json!({"function": "Big", "timeout_ms": 600_000});
        http.post(url).json(&body).send().await.unwrap().json::<Value>().await.unwrap()
    });
    let (id, _) = game.take_request().await;
    let answer =
        json!({"type": "lua_response", "id": id, "success": true, "result": {"cities": ["Rome", "Ur"]}});
    let answer = answer.to_string();
    let (first, rest) = answer.split_at(answer.len() / 2);
    game.write_answer(&id, first.as_bytes(), false);
    // Another call goes round while half the answer is on disk: the bridge
    // has looked, and left the half alone.
    folder.served_call(&mut game, json!("meanwhile")).await;
    game.write_answer(&id, format!("{first}{rest}").as_bytes(), true);
    let envelope = within("the whole answer", pending).await.unwrap();
    assert_eq!(envelope["result"], json!({"cities": ["Rome", "Ur"]}), "{envelope}");

    let mut events = folder.harness.sse("/events?types=Half").await;
    let line =
        "{\"type\":\"game_event\",\"event\":\"Half\",\"payload\":{\"text\":\"written in two goes\"}}\n";
    let (first, rest) = line.split_at(line.len() / 2);
    game.append_outbox(first);
    folder.served_call(&mut game, json!("meanwhile")).await;
    game.append_outbox(rest);
    let event = events.next_message().await;
    assert_eq!(event.data["payload"], json!({"text": "written in two goes"}));
    assert_eq!(folder.harness.game_stats("mod").await["bad_frames"], 0);
}

#[tokio::test]
async fn ten_thousand_calls_in_flight_each_get_their_own_answer() {
    // Each call is five file operations and an fsync; on a RAM disk the
    // test measures the bridge, not the disk.
    let ram = std::path::Path::new("/dev/shm");
    let dir = if ram.is_dir() { tempfile::tempdir_in(ram) } else { tempfile::tempdir() };
    let folder = Folder::start_in(dir.unwrap()).await;
    let mut game = folder.game_started(now_ms()).await;
    // The game answers every request it finds, echoing its arguments.
    let answering = tokio::spawn(async move {
        loop {
            let (id, request) = game.take_request().await;
            game.answer(&id, request["args"].clone());
        }
    });
    let hub_game = folder.harness.hub().game("mod").unwrap();
    let calls = (0..10_000u32).map(|n| {
        let args = RawValue::from_string(format!("[{n}]")).unwrap();
        hub_game.call("Echo".into(), args, Duration::from_secs(600))
    });
    let outcomes = within_bulk("10,000 calls", join_all(calls)).await;
    answering.abort();
    for (n, outcome) in outcomes.into_iter().enumerate() {
        let result: Value = serde_json::from_str(outcome.expect("answered").get()).unwrap();
        assert_eq!(result, json!([n]), "call {n} got its own answer");
    }
    // Memory stays bounded: nothing waits, and every file was cleaned up.
    assert_eq!(hub_game.status().pending_calls, 0);
    for dir in ["requests", "responses"] {
        let left = std::fs::read_dir(folder.folder.join(dir)).unwrap().count();
        assert_eq!(left, 0, "{dir}/ still holds {left} files");
    }
}
