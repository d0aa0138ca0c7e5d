//! The Vox Deorum REST API, route by route, against a fake game on a real
//! Unix socket.

mod support;

use gamebridge_protocol::{BridgeMessage, ErrorBody, GameMessage, Response};
use serde_json::json;
use support::{Harness, error_code, within};

#[tokio::test]
async fn call_reaches_the_game_and_returns_its_result() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let request = harness.post("/lua/call", json!({"function": "MoveUnit", "args": [5, 10, 12]}));
    let game_side = async {
        let (id, function, args) = connection.expect_call().await;
        assert_eq!(function, "MoveUnit");
        assert_eq!(args, json!([5, 10, 12]));
        connection.answer(id.clone(), json!({"moved": true})).await;
        id
    };
    let (envelope, id) = tokio::join!(request, game_side);
    // The DLL's message type and id pass through, as the original's do.
    let expected = json!({"type": "lua_response", "id": id, "success": true, "result": {"moved": true}});
    assert_eq!(envelope, expected);
}

#[tokio::test]
async fn absent_args_are_sent_as_an_empty_object() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let request = harness.post("/lua/call", json!({"function": "GetGameTurn"}));
    let game_side = async {
        let (id, _, args) = connection.expect_call().await;
        assert_eq!(args, json!({}));
        connection.answer(id, json!(42)).await;
    };
    let (envelope, ()) = tokio::join!(request, game_side);
    assert_eq!(envelope["result"], 42);
}

#[tokio::test]
async fn the_games_error_reaches_the_agent_unchanged() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let request = harness.post("/lua/call", json!({"function": "Broken"}));
    let game_side = async {
        let (id, ..) = connection.expect_call().await;
        let error =
            ErrorBody::new(gamebridge_protocol::ErrorCode::LUA_EXECUTION_ERROR, "attempt to index nil");
        connection.send(&GameMessage::LuaResponse(Response::from_result(id, Err(error)))).await;
    };
    let (envelope, ()) = tokio::join!(request, game_side);
    assert_eq!(error_code(&envelope), "LUA_EXECUTION_ERROR");
    assert_eq!(envelope["error"]["message"], "attempt to index nil");
}

#[tokio::test]
async fn execute_sends_the_script() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let request = harness.post("/lua/execute", json!({"script": "return Game.GetGameTurn() * 2 + 1"}));
    let game_side = async {
        let BridgeMessage::LuaExecute { id, script } = connection.recv().await else {
            panic!("not lua_execute")
        };
        assert_eq!(script, "return Game.GetGameTurn() * 2 + 1");
        connection.answer(id.clone(), json!(101)).await;
        id
    };
    let (envelope, id) = tokio::join!(request, game_side);
    assert_eq!(envelope, json!({"type": "lua_response", "id": id, "success": true, "result": 101}));
}

#[tokio::test]
async fn invalid_requests_get_their_error_codes() {
    let (harness, _game, _connection) = Harness::with_one_game().await;
    for (path, body, code) in [
        ("/lua/call", "{}", "INVALID_ARGUMENTS"),
        ("/lua/call", r#"{"function": ""}"#, "INVALID_ARGUMENTS"),
        ("/lua/call", "not json", "INVALID_ARGUMENTS"),
        ("/lua/call", r#"{"function": "F", "timeout_ms": 0}"#, "INVALID_ARGUMENTS"),
        ("/lua/call", r#"{"function": "F", "timeout_ms": "soon"}"#, "INVALID_ARGUMENTS"),
        ("/lua/execute", "{}", "INVALID_SCRIPT"),
        ("/lua/execute", r#"{"script": "  "}"#, "INVALID_SCRIPT"),
        ("/lua/batch", "[]", "INVALID_ARGUMENTS"),
        ("/lua/batch", r#"{"calls": []}"#, "INVALID_ARGUMENTS"),
        ("/lua/batch", r#"{"function": "F"}"#, "INVALID_ARGUMENTS"),
    ] {
        let (status, envelope) = harness.post_status(path, body).await;
        assert_eq!(status, 200, "{path} {body}: handled failures answer 200");
        assert_eq!(error_code(&envelope), code, "{path} {body}");
    }
}

#[tokio::test]
async fn bad_timeout_header_is_invalid_arguments() {
    let (harness, _game, _connection) = Harness::with_one_game().await;
    let response = harness
        .http
        .post(harness.url("/lua/call"))
        .header("X-Timeout-Ms", "-5")
        .header("content-type", "application/json")
        .body(r#"{"function": "F"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(&response.json().await.unwrap()), "INVALID_ARGUMENTS");
}

#[tokio::test]
async fn body_over_ten_megabytes_is_refused() {
    let (harness, _game, _connection) = Harness::with_one_game().await;
    let body = format!(r#"{{"function": "F", "args": "{}"}}"#, "x".repeat(10 * 1024 * 1024 + 1));
    let (status, envelope) = harness.post_status("/lua/call", &body).await;
    assert_eq!(status, 413);
    assert_eq!(error_code(&envelope), "INVALID_ARGUMENTS");
}

#[tokio::test]
async fn a_call_the_game_never_answers_times_out_by_body_field_or_header() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let by_body = harness.post("/lua/call", json!({"function": "Slow", "timeout_ms": 50}));
    let (envelope, _) = tokio::join!(by_body, connection.expect_call());
    assert_eq!(error_code(&envelope), "CALL_TIMEOUT");

    let by_header = harness
        .http
        .post(harness.url("/lua/call"))
        .header("X-Timeout-Ms", "50")
        .header("content-type", "application/json")
        .body(r#"{"function": "Slow"}"#)
        .send();
    let (response, _) = tokio::join!(by_header, connection.expect_call());
    assert_eq!(error_code(&response.unwrap().json().await.unwrap()), "CALL_TIMEOUT");

    // The late answer to a timed-out call is dropped, and the pending map is empty.
    let game = harness.hub().game("civ5").unwrap();
    assert_eq!(game.status().pending_calls, 0);
}

#[tokio::test]
async fn batch_sends_every_item_in_one_write_and_each_succeeds_or_fails_alone() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let request = harness.post(
        "/lua/batch",
        json!([{"function": "GetUnit", "args": 1}, {"args": 2}, {"function": "GetCity", "args": 2}, {"function": "Fails"}]),
    );
    let game_side = async {
        let bytes = connection.read_raw().await;
        let text = String::from_utf8(bytes).unwrap();
        let calls: Vec<BridgeMessage> = text
            .split("!@#$%^!")
            .filter(|frame| !frame.is_empty())
            .map(|frame| BridgeMessage::parse(frame.as_bytes()).unwrap())
            .collect();
        assert_eq!(calls.len(), 3, "all valid items arrive in one write: {text}");
        let mut replies = Vec::new();
        for call in calls {
            let BridgeMessage::LuaCall { id, function, .. } = call else { panic!("not a call") };
            replies.push(if function == "Fails" {
                let error = ErrorBody::new(gamebridge_protocol::ErrorCode::LUA_EXECUTION_ERROR, "no");
                GameMessage::LuaResponse(Response::from_result(id, Err(error)))
            } else {
                support::response(id, json!(function))
            });
        }
        // Answer in reverse order: results must still come back in request order.
        for reply in replies.iter().rev() {
            connection.send(reply).await;
        }
    };
    let (envelope, ()) = tokio::join!(request, game_side);
    let results = envelope["result"]["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    assert_eq!(
        (results[0]["success"].as_bool(), results[0]["result"].as_str()),
        (Some(true), Some("GetUnit"))
    );
    assert_eq!(results[0]["type"], "lua_response");
    assert_eq!(error_code(&results[1]), "INVALID_ARGUMENTS");
    assert_eq!(
        (results[2]["success"].as_bool(), results[2]["result"].as_str()),
        (Some(true), Some("GetCity"))
    );
    assert_eq!(error_code(&results[3]), "LUA_EXECUTION_ERROR");
}

#[tokio::test]
async fn fifty_concurrent_calls_each_get_their_own_answer() {
    let (harness, _game, connection) = Harness::with_one_game().await;
    connection.echo_forever();
    let calls = (0..50).map(|n| harness.post("/lua/call", json!({"function": format!("F{n}"), "args": [n]})));
    let envelopes = within("50 calls", futures::future::join_all(calls)).await;
    for (n, envelope) in envelopes.iter().enumerate() {
        assert_eq!(envelope["result"], json!({"function": format!("F{n}"), "args": [n]}));
    }
}

#[tokio::test]
async fn functions_mirror_the_games_registry() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    connection.register("GetCity").await;
    connection.register("GetUnit").await;
    connection.send(&GameMessage::LuaUnregister { function: "GetCity".into() }).await;
    connection.register("EndTurn").await;
    harness.sync(&mut connection).await;
    let (_, envelope) = harness.get("/lua/functions").await;
    assert_eq!(envelope, json!({"success": true, "result": {"functions": ["EndTurn", "GetUnit"]}}));

    connection.send(&GameMessage::LuaClear {}).await;
    harness.sync(&mut connection).await;
    let (_, envelope) = harness.get("/lua/functions").await;
    assert_eq!(envelope["result"]["functions"], json!([]));
}

#[tokio::test]
async fn health_stats_games_and_discovery() {
    let (harness, _game, _connection) = Harness::with_one_game().await;
    let (status, health) = harness.get("/health").await;
    assert_eq!(status, 200);
    assert_eq!(health["success"], true);
    assert_eq!(health["result"]["dll_connected"], true);
    assert_eq!(health["result"]["success"], true);
    assert!(health["result"]["uptime"].is_u64());
    assert!(health["result"]["version"].is_string());

    let (_, stats) = harness.get("/stats").await;
    assert_eq!(stats["result"]["dll"]["connected"], true);
    assert_eq!(stats["result"]["games"][0]["name"], "civ5");

    let (_, games) = harness.get("/games").await;
    assert_eq!(games["result"]["games"][0]["state"], "connected");
    assert!(games["result"]["games"][0]["link"].as_str().unwrap().starts_with("unix:"));

    let (_, discovery) = harness.get("/").await;
    assert_eq!(
        discovery["result"]["endpoints"]["lua"]["call"].as_str().unwrap().split(' ').next(),
        Some("POST")
    );
    assert_eq!(discovery["result"]["games"], json!(["civ5"]));
    assert_eq!(discovery["result"]["endpoints"]["dashboard"], "GET /ui");
    let (configured, _game, _connection) = Harness::with_one_game_configured("", |config| {
        config.default_timeout = std::time::Duration::from_millis(1234)
    })
    .await;
    let (_, told) = configured.get("/").await;
    assert!(told["result"]["documentation"].as_str().unwrap().contains("(default 1234 ms)"), "{told}");
    // Every route, from the OpenAPI document, and those it leaves out.
    let routes: Vec<&str> = discovery["result"]["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|route| route.as_str().unwrap())
        .collect();
    let (_, document) = harness.get("/openapi.json").await;
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item
            .as_object()
            .unwrap()
            .keys()
            .filter(|key| ["get", "post", "put", "delete"].contains(&key.as_str()))
        {
            let route = format!("{} {path}", method.to_uppercase());
            assert!(
                routes.iter().any(|listed| listed.split(':').next() == Some(&route)),
                "{route} in {routes:?}"
            );
        }
    }
    for route in ["GET /agent", "POST /mcp", "GET /ui", "GET /fleet/events", "POST /tick"] {
        assert!(
            routes.iter().any(|listed| listed.starts_with(&format!("{route}:"))),
            "{route} in {routes:?}"
        );
    }
    assert!(routes.iter().all(|route| !route.contains('\n')), "one line each");
}

#[tokio::test]
async fn unknown_routes_and_games_are_not_found() {
    let (harness, _game, _connection) = Harness::with_one_game().await;
    let (status, envelope) = harness.get("/lua/nothing").await;
    assert_eq!((status, error_code(&envelope)), (404, "NOT_FOUND"));
    let (status, envelope) = harness.get("/games/tf2/health").await;
    assert_eq!((status, error_code(&envelope)), (404, "NOT_FOUND"));
    assert!(envelope["error"]["message"].as_str().unwrap().contains("civ5"), "lists the known games");
}

#[tokio::test]
async fn calls_without_a_game_connection_fail_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let spec = format!("unix:{}", dir.path().join("nobody-listens.sock").display());
    let harness = Harness::start_in(dir, &[("civ5", spec)]).await;
    let envelope = harness.post("/lua/call", json!({"function": "F"})).await;
    assert_eq!(error_code(&envelope), "DLL_DISCONNECTED");
    let batch = harness.post("/lua/batch", json!([{"function": "A"}, {"function": "B"}])).await;
    for result in batch["result"]["results"].as_array().unwrap() {
        assert_eq!(error_code(result), "DLL_DISCONNECTED");
    }
    let (_, health) = harness.get("/health").await;
    assert_eq!(health["result"]["dll_connected"], false);
    assert_eq!(health["result"]["success"], false);
}

#[tokio::test]
async fn shutdown_over_http_stops_the_bridge() {
    let (harness, _game, _connection) = Harness::with_one_game().await;
    let response = harness.http.post(harness.url("/shutdown")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, json!({"success": true, "message": "Shutdown initiated"}));
    within("the bridge to stop", harness.bridge.wait()).await.unwrap();
}

#[tokio::test]
async fn calls_in_flight_are_listed_oldest_first_until_answered() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let (status, listed) = harness.get("/lua/pending").await;
    assert_eq!((status, &listed["result"]), (200, &json!({"count": 0, "calls": []})));

    let first = tokio::spawn({
        let url = harness.url("/lua/call");
        let http = harness.http.clone();
        async move { http.post(url).json(&json!({"function": "GetCity", "timeout_ms": 60_000})).send().await }
    });
    let (first_id, ..) = connection.expect_call().await;
    let second = tokio::spawn({
        let url = harness.url("/games/civ5/lua/execute");
        let http = harness.http.clone();
        async move { http.post(url).json(&json!({"script": "return 1"})).send().await }
    });
    let BridgeMessage::LuaExecute { id: second_id, .. } = connection.recv().await else {
        panic!("not lua_execute")
    };

    let (_, listed) = harness.get("/games/civ5/lua/pending").await;
    let calls = listed["result"]["calls"].as_array().unwrap();
    let functions: Vec<&str> = calls.iter().map(|call| call["function"].as_str().unwrap()).collect();
    assert_eq!((listed["result"]["count"].as_u64(), functions), (Some(2), vec!["GetCity", "lua_execute"]));
    assert_eq!(calls[0]["id"].to_string(), format!("{first_id}"), "the wire id");
    assert!(calls[0]["deadline_ms"].as_u64().unwrap() > 50_000, "{}", calls[0]);

    connection.answer(first_id, json!(1)).await;
    connection.answer(second_id, json!(2)).await;
    within("the first answer", first).await.unwrap().unwrap();
    within("the second answer", second).await.unwrap().unwrap();
    let (_, listed) = harness.get("/lua/pending").await;
    assert_eq!(listed["result"], json!({"count": 0, "calls": []}));
}
