//! The game side under faults: disconnects, restarts, garbage and odd
//! framing, several games, and every transport of the stream link.

mod support;

use gamebridge_protocol::{BridgeMessage, Framing, GameMessage, WireId};
use serde_json::json;
use support::{FakeGame, GameConnection, Harness, error_code, response, within, within_bulk};

const DELIMITER: &str = "!@#$%^!";

#[tokio::test]
async fn a_game_that_dies_mid_call_fails_the_call_at_once_with_dll_disconnected() {
    let (harness, game, mut connection) = Harness::with_one_game().await;
    // A long deadline: the call must fail because the game left, not because time ran out.
    let call = harness.post("/lua/call", json!({"function": "Slow", "timeout_ms": 600_000}));
    let kill = async {
        connection.expect_call().await;
        drop(connection);
        drop(game);
    };
    let (envelope, ()) = within("the call to fail", async { tokio::join!(call, kill) }).await;
    assert_eq!(error_code(&envelope), "DLL_DISCONNECTED");
    harness.wait_disconnected("civ5").await;
    let (_, health) = harness.get("/health").await;
    assert_eq!(health["result"]["dll_connected"], false);
}

#[tokio::test]
async fn every_item_of_a_batch_fails_when_the_game_dies() {
    let (harness, game, mut connection) = Harness::with_one_game().await;
    let batch = harness
        .post("/lua/batch", json!({"calls": [{"function": "A"}, {"function": "B"}], "timeout_ms": 600_000}));
    let kill = async {
        connection.read_raw().await;
        drop(connection);
        drop(game);
    };
    let (envelope, ()) = within("the batch to fail", async { tokio::join!(batch, kill) }).await;
    for result in envelope["result"]["results"].as_array().unwrap() {
        assert_eq!(error_code(result), "DLL_DISCONNECTED");
    }
}

#[tokio::test]
async fn a_restarted_game_is_reconnected_and_served() {
    let (harness, game, connection) = Harness::with_one_game().await;
    let path = game.path.clone();
    drop(connection);
    drop(game);
    harness.wait_disconnected("civ5").await;

    let restarted = FakeGame::bind(&path);
    let connection = restarted.accept().await;
    harness.wait_connected("civ5").await;
    connection.echo_forever();
    let envelope = harness.post("/lua/call", json!({"function": "Back", "args": [1]})).await;
    assert_eq!(envelope["result"], json!({"function": "Back", "args": [1]}));
    let (_, stats) = harness.get("/stats").await;
    assert_eq!(stats["result"]["games"][0]["calls"]["connects"], 2);
}

#[tokio::test]
async fn garbage_frames_are_dropped_without_poisoning_the_next() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let call = harness.post("/lua/call", json!({"function": "F"}));
    let game_side = async {
        let (id, ..) = connection.expect_call().await;
        let mut bytes = Vec::new();
        for garbage in
            ["not json", "{\"type\":\"lua_response\"", "{\"type\":\"warp\"}", "\u{0}\u{1}\u{2}", "[1,2]"]
        {
            bytes.extend_from_slice(garbage.as_bytes());
            bytes.extend_from_slice(DELIMITER.as_bytes());
        }
        bytes.extend_from_slice(&response(id, json!("survived")).to_json());
        bytes.extend_from_slice(DELIMITER.as_bytes());
        connection.send_raw(&bytes).await;
    };
    let (envelope, ()) = tokio::join!(call, game_side);
    assert_eq!(envelope["result"], "survived");
    let (_, stats) = harness.get("/stats").await;
    assert_eq!(stats["result"]["games"][0]["calls"]["bad_frames"], 5);
}

#[tokio::test]
async fn a_response_split_into_single_bytes_is_reassembled() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let call = harness.post("/lua/call", json!({"function": "F"}));
    let game_side = async {
        let (id, ..) = connection.expect_call().await;
        let mut frame = response(id, json!({"text": "split !@# across reads"})).to_json();
        frame.extend_from_slice(DELIMITER.as_bytes());
        for byte in frame {
            connection.send_raw(&[byte]).await;
        }
    };
    let (envelope, ()) = tokio::join!(call, game_side);
    assert_eq!(envelope["result"]["text"], "split !@# across reads");
}

#[tokio::test]
async fn many_responses_and_events_in_one_write_all_arrive() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let mut events = harness.hub().events().subscribe(None);
    let calls = futures::future::join_all(
        (0..5).map(|n| harness.post("/lua/call", json!({"function": "F", "args": n}))),
    );
    let game_side = async {
        let mut bytes = Vec::new();
        for _ in 0..5 {
            let (id, _, args) = connection.expect_call().await;
            let event =
                GameMessage::parse(br#"{"type":"game_event","id":1000001,"event":"TurnStart","payload":{}}"#);
            for message in [response(id, args), event.unwrap()] {
                bytes.extend_from_slice(&message.to_json());
                bytes.extend_from_slice(DELIMITER.as_bytes());
            }
        }
        connection.send_raw(&bytes).await;
    };
    let (envelopes, ()) = tokio::join!(calls, game_side);
    for (n, envelope) in envelopes.iter().enumerate() {
        assert_eq!(envelope["result"], n);
    }
    let mut seen = 0;
    while seen < 5 {
        let gamebridge_hub::Delivery::Events(events) = within("game events", events.next(10)).await else {
            panic!("no event may be lost");
        };
        for event in events {
            assert_eq!(event.event_type, "TurnStart");
            assert_eq!(event.data_json()["id"], 1_000_001);
            seen += 1;
        }
    }
}

#[tokio::test]
async fn an_oversized_frame_is_skipped_and_the_stream_goes_on() {
    let (harness, _game, mut connection) = Harness::with_one_game_configured("?max_frame=4096", |_| {}).await;

    let call = harness.post("/lua/call", json!({"function": "F"}));
    let game_side = async {
        let (id, ..) = connection.expect_call().await;
        let huge = "x".repeat(100_000);
        let mut bytes = response(id.clone(), json!(huge)).to_json();
        bytes.extend_from_slice(DELIMITER.as_bytes());
        bytes.extend_from_slice(&response(id, json!("small")).to_json());
        bytes.extend_from_slice(DELIMITER.as_bytes());
        connection.send_raw(&bytes).await;
    };
    let (envelope, ()) = tokio::join!(call, game_side);
    assert_eq!(envelope["result"], "small");
    let (_, stats) = harness.get("/stats").await;
    assert_eq!(stats["result"]["games"][0]["calls"]["bad_frames"], 1);
}

#[tokio::test]
async fn a_call_too_large_for_the_links_framing_fails_at_once() {
    let (harness, _game, mut connection) = Harness::with_one_game_configured("?max_frame=1024", |_| {}).await;
    let big = harness
        .post("/lua/call", json!({"function": "F", "args": ["x".repeat(4096)], "timeout_ms": 600_000}));
    let envelope = within("the oversized call to fail", big).await;
    assert_eq!(error_code(&envelope), "SERIALIZATION_ERROR");
    assert!(envelope["error"]["message"].as_str().unwrap().contains("exceeds the maximum"));
    harness.sync(&mut connection).await;
}

#[tokio::test]
async fn raw_control_characters_in_game_strings_are_repaired() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let call = harness.post("/lua/call", json!({"function": "F"}));
    let game_side = async {
        let (id, ..) = connection.expect_call().await;
        let frame = format!(
            "{{\"type\":\"lua_response\",\"id\":\"{id}\",\"success\":true,\"result\":\"Rome\u{1}\tline\nbreak\"}}{DELIMITER}"
        );
        connection.send_raw(frame.as_bytes()).await;
    };
    let (envelope, ()) = tokio::join!(call, game_side);
    assert_eq!(envelope["result"], "Rome\u{1}\tline\nbreak");
}

#[tokio::test]
async fn answers_for_unknown_ids_are_ignored() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    connection.send(&response(WireId::Text("no-such-call".into()), json!(1))).await;
    connection.send(&response(WireId::Number(12345), json!(1))).await;
    harness.sync(&mut connection).await;
}

#[tokio::test]
async fn an_external_call_nobody_registered_is_answered_with_invalid_function() {
    let (_harness, _game, mut connection) = Harness::with_one_game().await;
    let call = GameMessage::parse(
        br#"{"type":"external_call","id":7,"function":"AnalyzeThreat","args":{},"async":false}"#,
    );
    connection.send(&call.unwrap()).await;
    let BridgeMessage::ExternalResponse(answer) = connection.recv().await else {
        panic!("not an external_response")
    };
    assert_eq!(answer.id, WireId::Number(7));
    assert!(!answer.success);
    assert_eq!(answer.error.unwrap().code.as_str(), "INVALID_FUNCTION");
}

#[tokio::test]
async fn two_games_at_once_under_their_own_routes() {
    let (harness, [_civ, lab], mut civ_connection, mut lab_connection) = Harness::with_two_games().await;
    civ_connection.register("CivOnly").await;
    lab_connection.register("LabOnly").await;
    harness.sync(&mut civ_connection).await;
    let game_side = async {
        let (id, ..) = lab_connection.expect_call().await;
        lab_connection.answer(id, json!("lab")).await;
    };
    let (lab_envelope, ()) =
        tokio::join!(harness.post("/games/lab/lua/call", json!({"function": "Sync"})), game_side);
    assert_eq!(lab_envelope["result"], "lab");

    let civ_side = async {
        let (id, ..) = civ_connection.expect_call().await;
        civ_connection.answer(id, json!("civ")).await;
    };
    let (civ_envelope, ()) =
        tokio::join!(harness.post("/games/civ5/lua/call", json!({"function": "F"})), civ_side);
    assert_eq!(civ_envelope["result"], "civ");

    let (_, functions) = harness.get("/games/lab/lua/functions").await;
    assert_eq!(functions["result"]["functions"], json!(["LabOnly"]));
    let (_, functions) = harness.get("/lua/functions").await;
    assert_eq!(
        functions["result"]["functions"],
        json!(["CivOnly"]),
        "unprefixed routes address the first game"
    );
    let (_, health) = harness.get("/games/lab/health").await;
    assert_eq!(health["result"]["game"], "lab");
    let (_, games) = harness.get("/games").await;
    let names: Vec<&str> =
        games["result"]["games"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["civ5", "lab"]);

    drop(lab_connection);
    drop(lab);
    harness.wait_disconnected("lab").await;
    let (_, games) = harness.get("/games").await;
    assert_eq!(games["result"]["games"][0]["connected"], true, "one game leaving does not affect the other");
    assert_eq!(games["result"]["games"][1]["connected"], false);
}

#[tokio::test]
async fn pipe_ids_follow_the_node_ipc_socket_naming() {
    let id = format!("gamebridge-test-{}", std::process::id());
    let game = FakeGame::bind(std::path::Path::new(&format!("/tmp/app.{id}")));
    let harness = Harness::start(&[("civ5", format!("pipe:{id}"))]).await;
    let connection = game.accept().await;
    harness.wait_connected("civ5").await;
    connection.echo_forever();
    let envelope = harness.post("/lua/call", json!({"function": "OverPipe"})).await;
    assert_eq!(envelope["result"]["function"], "OverPipe");
    let _ = std::fs::remove_file(&game.path);
}

#[tokio::test]
async fn tcp_games_with_json_lines() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let harness = Harness::start(&[("lab", format!("tcp:127.0.0.1:{port}?framing=lines"))]).await;
    let (stream, _) = within("the bridge to connect over TCP", listener.accept()).await.unwrap();
    let mut connection = GameConnection::with_framing(stream, Framing::Lines);
    harness.wait_connected("lab").await;
    let call = harness.post("/lua/call", json!({"function": "Step", "args": {"dt": 0.5}}));
    let game_side = async {
        let raw = connection.read_raw().await;
        assert!(raw.ends_with(b"\n"), "one JSON object per line");
        let message = BridgeMessage::parse(&raw[..raw.len() - 1]).unwrap();
        let BridgeMessage::LuaCall { id, .. } = message else { panic!("not a call") };
        connection.answer(id, json!("stepped")).await;
    };
    let (envelope, ()) = tokio::join!(call, game_side);
    assert_eq!(envelope["result"], "stepped");
}

#[tokio::test]
async fn a_game_that_starts_after_the_bridge_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("late.sock");
    let harness = Harness::start_in(dir, &[("civ5", format!("unix:{}", path.display()))]).await;
    let game = harness.hub().game("civ5").unwrap();
    assert!(!game.is_connected());
    // The game appears later; the bridge finds it without being told.
    let late = FakeGame::bind(&path);
    let connection = late.accept().await;
    harness.wait_connected("civ5").await;
    connection.echo_forever();
    let envelope = harness.post("/lua/call", json!({"function": "Late"})).await;
    assert_eq!(envelope["result"]["function"], "Late");
}

#[tokio::test]
async fn ten_thousand_calls_in_flight_each_get_their_own_answer() {
    let (harness, _game, connection) = Harness::with_one_game().await;
    connection.echo_forever();
    let game = harness.hub().game("civ5").unwrap();
    let calls = (0..10_000u32).map(|n| {
        let args = gamebridge_protocol::RawValue::from_string(format!("[{n}]")).unwrap();
        game.call("Echo".into(), args, std::time::Duration::from_secs(60))
    });
    let outcomes = within_bulk("10,000 calls", futures::future::join_all(calls)).await;
    for (n, outcome) in outcomes.into_iter().enumerate() {
        let result: serde_json::Value = serde_json::from_str(outcome.expect("answered").get()).unwrap();
        assert_eq!(result["args"], json!([n]), "call {n} got its own answer");
    }
    assert_eq!(game.status().pending_calls, 0, "nothing left behind");
    let (_, stats) = harness.get("/stats").await;
    assert_eq!(stats["result"]["games"][0]["calls"]["succeeded"], 10_000);
}
