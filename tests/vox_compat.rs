//! What an existing Vox Deorum client sees, answer for answer: the shapes
//! and phrases the original bridge-service's own route tests check, its
//! `/stats`, its default deadline, events passed through as the DLL sent
//! them, the shutdown order, and clients that resume from an event id this
//! bridge never issued. (Where the original is wrong, gamebridge keeps its
//! fix; README "Switching from the Vox Deorum bridge" lists them.)

mod support;

use gamebridge_protocol::{FrameCodec, Framing};
use serde_json::{Value, json};
use support::{Harness, error_code, within};

#[tokio::test]
async fn the_original_error_phrases_and_codes() {
    let (harness, _game, _connection) = Harness::with_one_game().await;
    let batch = harness.post("/lua/batch", json!({"function": "GetPlayerName", "args": {}})).await;
    assert_eq!(error_code(&batch), "INVALID_ARGUMENTS");
    assert!(batch["error"]["message"].as_str().unwrap().contains("must be a non-empty array"), "{batch}");
    let register = harness
        .post(
            "/external/register",
            json!({"name": "123-invalid!", "url": "http://127.0.0.1:1/", "async": true}),
        )
        .await;
    assert!(register["error"]["message"].as_str().unwrap().contains("valid identifier"), "{register}");
    let response = harness.http.delete(harness.url("/external/register/nonExistent")).send().await.unwrap();
    let unknown: Value = response.json().await.unwrap();
    assert_eq!(error_code(&unknown), "INVALID_FUNCTION");
    assert!(unknown["error"]["message"].as_str().unwrap().contains("not registered"));
}

#[tokio::test]
async fn calls_pass_the_dlls_type_and_id_through() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let (answer, ()) =
        tokio::join!(harness.post("/lua/call", json!({"function": "GetPlayerName", "args": [1]})), async {
            let (id, _, _) = connection.expect_call().await;
            connection.answer(id, json!("Player 1")).await;
        });
    assert_eq!((answer["type"].as_str(), answer["success"].as_bool()), (Some("lua_response"), Some(true)));
    assert_eq!(answer["result"], "Player 1");
    assert!(answer["id"].is_string() || answer["id"].is_number(), "{answer}");
    let (batch, ()) =
        tokio::join!(harness.post("/lua/batch", json!([{"function": "A"}, {"function": "B"}])), async {
            for _ in 0..2 {
                let (id, function, _) = connection.expect_call().await;
                connection.send(&support::failure(id, &format!("{function} failed"))).await;
            }
        });
    for item in batch["result"]["results"].as_array().unwrap() {
        assert_eq!(item["type"], "lua_response", "a game's failure is its answer too: {item}");
        assert_eq!(item["error"]["code"], "LUA_EXECUTION_ERROR");
    }
    // The bridge's own failures carry no DLL message.
    drop(connection);
    harness.wait_disconnected("civ5").await;
    let gone = harness.post("/lua/call", json!({"function": "F"})).await;
    assert_eq!(error_code(&gone), "DLL_DISCONNECTED");
    assert!(gone.get("type").is_none() && gone.get("id").is_none(), "{gone}");
}

#[tokio::test]
async fn a_call_waits_300_seconds_by_default() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let call = harness.post("/lua/call", json!({"function": "SlowDiplomacy"}));
    let check = async {
        let (id, _, _) = connection.expect_call().await;
        let (_, pending) = harness.get("/lua/pending").await;
        let deadline = pending["result"]["calls"][0]["deadline_ms"].as_u64().unwrap();
        assert!(
            (290_000..=300_000).contains(&deadline),
            "the original's 300 s, not 60 s: {deadline} ms left"
        );
        connection.answer(id, Value::Null).await;
    };
    let (answer, ()) = tokio::join!(call, check);
    assert_eq!(answer["success"], true);
}

#[tokio::test]
async fn stats_has_the_originals_sections() {
    let id = format!("gamebridge-vox-stats-{}", std::process::id());
    let (harness, _game, mut connection) = Harness::with_one_game_and_event_pipe(&id).await;
    let agent = json!({"name": "AnalyzeThreat", "url": "http://127.0.0.1:9/", "async": false});
    assert_eq!(harness.post("/external/register", agent).await["success"], true);
    let _register = connection.recv().await;
    let _stream = harness.sse("/events").await;
    let _pipe = tokio::net::UnixStream::connect(format!("/tmp/app.{id}")).await.unwrap();

    let stats = within("the pipe client to be counted", async {
        loop {
            let (_, stats) = harness.get("/stats").await;
            if stats["result"]["eventPipe"]["clients"] == 1 {
                return stats["result"].clone();
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert_eq!(stats["dll"]["connected"], true);
    assert_eq!(stats["dll"]["reconnectAttempts"], 0);
    assert_eq!(stats["external"], json!({"registeredFunctions": 1, "functionNames": ["AnalyzeThreat"]}));
    assert_eq!(stats["eventPipe"], json!({"enabled": true, "clients": 1, "pipeName": id}));
    assert_eq!(stats["sse"]["activeClients"], 1);
    assert_eq!(stats["sse"]["eventPipeStats"], stats["eventPipe"]);
    assert!(stats["memory"]["heapUsed"].as_u64().unwrap() > 0, "{stats}");
    assert!(stats["memory"].as_object().unwrap().keys().eq(["heapTotal", "heapUsed", "total", "used"]));
}

#[tokio::test]
async fn reconnect_attempts_count_while_the_game_is_away() {
    let dir = tempfile::tempdir().unwrap();
    let spec = format!("unix:{}", dir.path().join("absent.sock").display());
    let harness = Harness::start_in(dir, &[("civ5", spec)]).await;
    within("two failed attempts", async {
        loop {
            let (_, stats) = harness.get("/stats").await;
            if stats["result"]["dll"]["reconnectAttempts"].as_u64().unwrap() >= 2 {
                return;
            }
            // The link retries on its backoff (200 ms, then 300 ms); there is no event for a failed attempt.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await;
}

/// The SSE `data` of the next `message` event after the game sends `frame`.
async fn forwarded(frame: &str) -> Value {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let mut stream = harness.sse("/events").await;
    let mut bytes = bytes::BytesMut::new();
    FrameCodec::new(&Framing::default(), 1 << 20).encode(frame.as_bytes(), &mut bytes).unwrap();
    connection.send_raw(&bytes).await;
    stream.next_message().await.data
}

#[tokio::test]
async fn events_are_forwarded_as_the_dll_sent_them() {
    let bare = forwarded(r#"{"type":"game_event","id":1000001,"event":"TurnStart"}"#).await;
    assert_eq!(bare, json!({"id": 1000001, "type": "TurnStart"}), "no payload: none forwarded");
    let nulls = forwarded(
        r#"{"type":"game_event","event":"A","payload":null,"extraPayload":null,"visibility":null}"#,
    )
    .await;
    assert_eq!(nulls, json!({"type": "A", "payload": null, "extraPayload": null, "visibility": null}));
    let odd = forwarded(r#"{"type":"game_event","id":"turn-3","event":42,"payload":{}}"#).await;
    assert_eq!(odd, json!({"id": "turn-3", "type": 42, "payload": {}}));
    let nameless = forwarded(r#"{"type":"game_event","id":2.5,"payload":[1]}"#).await;
    assert_eq!(nameless, json!({"id": 2.5, "payload": [1]}));
}

#[tokio::test]
async fn a_client_resuming_from_an_id_this_bridge_never_issued_gets_a_reset_and_everything() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    connection.send(&support::game_event("Kept", json!({}))).await;
    harness.sync(&mut connection).await;
    let latest = harness.hub().events().latest();
    // An earlier bridge (no journal) had numbered up to 14.
    let mut stream = harness.sse_with("/events", Some(latest + 12)).await;
    let connected = stream.next().await;
    assert_eq!(connected.event, "connected");
    let reset = stream.next().await;
    assert_eq!(reset.event, "reset");
    assert_eq!(
        (reset.data["lastEventId"].as_u64(), reset.data["latest"].as_u64()),
        (Some(latest + 12), Some(latest))
    );
    let first = stream.next_message().await;
    assert_eq!(first.id, Some(1), "replayed from the start");
    let mut last = first;
    while last.id != Some(latest) {
        last = stream.next_message().await;
    }
    assert_eq!(last.data["type"], "Kept");
}

#[tokio::test]
async fn at_shutdown_sse_clients_read_the_games_disconnect() {
    let (harness, _game, _connection) = Harness::with_one_game().await;
    let mut stream = harness.sse("/events").await;
    harness.bridge.shutdown_token().cancel();
    let last = stream.next_message().await;
    assert_eq!(last.data, json!({"type": "dll_status", "payload": {"connected": false}}));
}
