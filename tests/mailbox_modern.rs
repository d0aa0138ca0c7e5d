//! The folder protocol of docs/MAILBOX.md end to end: a game mod written
//! with the Lua SDK (tests/lua/sdk_game.lua) under `gamebridge sim`.

mod support;

use std::path::{Path, PathBuf};

use axum::Json;
use axum::routing::post;
use serde_json::{Value, json};
use support::{Harness, SimProcess, error_code, within};

/// The SDK game ticking every 5 ms in a `gamebridge sim` process.
fn sdk_game(folder: &Path, runs: &Path) -> SimProcess {
    SimProcess::start("sdk_game.lua", &[("GAME_DIR", folder), ("GAME_RUNS", runs)])
}

struct Setup {
    harness: Harness,
    folder: PathBuf,
    runs: PathBuf,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("game");
    let runs = dir.path().join("runs.log");
    let spec = format!("mailbox:{}", folder.display());
    let harness = Harness::start_in(dir, &[("mod", spec)]).await;
    Setup { harness, folder, runs }
}

/// Starts the game and waits until the bridge sees it alive and a call
/// through the folder has come back.
async fn start_game(setup: &Setup) -> SimProcess {
    let game = sdk_game(&setup.folder, &setup.runs);
    setup.harness.wait_connected("mod").await;
    let sum = setup.harness.post("/lua/call", json!({"function": "Add", "args": [1, 1]})).await;
    assert_eq!(sum["result"], 2, "{sum}");
    game
}

#[tokio::test]
async fn calls_registrations_errors_and_events_through_the_folder() {
    let setup = setup().await;
    let mut events = setup.harness.sse("/events?types=UnitMoved").await;
    let _game = start_game(&setup).await;
    let harness = &setup.harness;

    let (_, functions) = harness.get("/lua/functions").await;
    assert_eq!(functions["result"]["functions"], json!(["Add", "AskAgent", "Burst", "Fail", "MoveUnit"]));

    let moved =
        harness.post("/lua/call", json!({"function": "MoveUnit", "args": {"unit": 7, "x": 2, "y": 3}})).await;
    assert_eq!(moved["result"], json!({"unit": 7, "x": 2, "y": 3}));
    let event = events.next_message().await;
    assert_eq!(event.data["payload"], json!({"unit": 7, "x": 2, "y": 3}));

    assert_eq!(harness.post("/lua/call", json!({"function": "Add", "args": [2, 3]})).await["result"], 5);
    let failed = harness.post("/lua/call", json!({"function": "Fail"})).await;
    assert_eq!(
        (error_code(&failed), failed["error"]["message"].as_str()),
        ("LUA_EXECUTION_ERROR", Some("no such city"))
    );
    assert_eq!(error_code(&harness.post("/lua/call", json!({"function": "Nope"})).await), "INVALID_FUNCTION");

    let (_, health) = harness.get("/health").await;
    assert_eq!(health["result"]["dll_connected"], true, "the heartbeat says the game is alive");
}

#[tokio::test]
async fn many_calls_in_flight_each_get_their_own_answer() {
    let setup = setup().await;
    let _game = start_game(&setup).await;
    let calls =
        (0..24).map(|n| setup.harness.post("/lua/call", json!({"function": "Add", "args": [n, 1000]})));
    let answers = within("24 calls", futures::future::join_all(calls)).await;
    for (n, answer) in answers.iter().enumerate() {
        assert_eq!(answer["result"], n + 1000);
    }
}

#[tokio::test]
async fn the_game_calls_an_agent_function() {
    let setup = setup().await;
    let agent = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let app = axum::Router::new().route(
            "/",
            post(|Json(body): Json<Value>| async move {
                Json(json!({"success": true, "result": {"advice": "retreat", "asked": body["args"]}}))
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    };
    let mut events = setup.harness.sse("/events?types=Advice").await;
    let _game = start_game(&setup).await;
    let registered = setup
        .harness
        .post("/external/register", json!({"name": "Advise", "url": agent, "async": true}))
        .await;
    assert_eq!(registered["success"], true);
    let asked = setup.harness.post("/lua/call", json!({"function": "AskAgent", "args": {"unit": 5}})).await;
    assert_eq!(asked["result"], "asked");
    let advice = events.next_message().await;
    assert_eq!(advice.data["payload"]["result"], json!({"advice": "retreat", "asked": {"unit": 5}}));
}

#[tokio::test]
async fn requests_from_before_the_game_started_are_ignored() {
    let setup = setup().await;
    // The link prepares the folder in its own task; there is no event for it.
    within("the bridge to prepare the folder", async {
        while !setup.folder.join("bridge.json").exists() {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    })
    .await;
    // A request some earlier bridge left, announced in the index.
    let request = json!({"type": "lua_call", "id": "old1", "function": "Add", "args": [100, 200], "deadline_ms": u64::MAX / 2});
    std::fs::write(setup.folder.join("requests/old1.json"), request.to_string()).unwrap();
    std::fs::write(setup.folder.join("requests.idx"), "old1\n").unwrap();
    let _game = start_game(&setup).await;
    let runs = std::fs::read_to_string(&setup.runs).unwrap();
    assert!(!runs.contains("Add 100 200"), "an old request ran: {runs}");
    assert!(runs.contains("Add 1 1"));
}

#[tokio::test]
async fn a_stopped_game_is_disconnected_and_its_calls_fail() {
    let setup = setup().await;
    let game = start_game(&setup).await;
    drop(game);
    // The heartbeat goes stale after 5 s; a call in the meantime times out, not hangs.
    let call =
        setup.harness.post("/lua/call", json!({"function": "Add", "args": [1, 2], "timeout_ms": 200})).await;
    assert_eq!(error_code(&call), "CALL_TIMEOUT");
    setup.harness.wait_disconnected("mod").await;
    let (_, health) = setup.harness.get("/health").await;
    assert_eq!(health["result"]["dll_connected"], false);
    let after = setup.harness.post("/lua/call", json!({"function": "Add", "args": [1, 2]})).await;
    assert_eq!(error_code(&after), "DLL_DISCONNECTED");
}

#[tokio::test]
async fn a_busy_games_outbox_starts_over_and_no_event_is_lost() {
    let setup = setup().await;
    let limit = Path::new("2000");
    let _game = SimProcess::start(
        "sdk_game.lua",
        &[("GAME_DIR", &setup.folder), ("GAME_RUNS", &setup.runs), ("GAME_OUTBOX_LIMIT", limit)],
    );
    setup.harness.wait_connected("mod").await;
    let mut events = setup.harness.sse("/events?types=Burst").await;
    let (calls, per_call) = (40, 25);
    for _ in 0..calls {
        let burst = setup.harness.post("/lua/call", json!({"function": "Burst", "args": [per_call]})).await;
        assert_eq!(burst["success"], true, "{burst}");
    }
    for expected in 1..=calls * per_call {
        let event = within("the next Burst event", events.next_message()).await;
        assert_eq!(event.data["payload"]["n"], expected, "every event once, in order");
    }
    // About 60 KB of events went through a file that started over on the way.
    let outbox = std::fs::read_to_string(setup.folder.join("outbox.jsonl")).unwrap();
    let start: Value = serde_json::from_str(outbox.lines().next().unwrap()).unwrap();
    assert_eq!(start["type"], "outbox_start");
    assert!(start["generation"].as_u64().unwrap() > 1, "{start}");
    assert!(outbox.len() < 20_000, "the outbox stays small: {} bytes", outbox.len());
}
