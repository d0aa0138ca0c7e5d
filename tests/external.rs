//! Game → agent calls (external functions) and pause control, end to end:
//! a fake game on a real socket, a fake agent on a real HTTP port.

mod support;

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::routing::post;
use gamebridge_protocol::GameMessage;
use serde_json::{Value, json};
use support::{FakeGame, Harness, error_code, game_event, within};

/// An agent that answers `POST /` with `reply` and records what it received.
async fn fake_agent(reply: Value) -> (String, Arc<Mutex<Vec<Value>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    let app = axum::Router::new().route(
        "/",
        post(move |Json(body): Json<Value>| {
            log.lock().unwrap().push(body);
            let reply = reply.clone();
            async move { Json(reply) }
        }),
    );
    (serve_agent(app).await, received)
}

async fn serve_agent(app: axum::Router) -> String {
    let url = format!("{}/", support::serve_http(app).await);
    url
}

fn external_call(id: i64, function: &str, args: Value) -> GameMessage {
    let frame =
        json!({"type": "external_call", "id": id, "function": function, "args": args, "async": false});
    GameMessage::parse(frame.to_string().as_bytes()).unwrap()
}

#[tokio::test]
async fn an_external_call_goes_to_the_agent_and_its_answer_to_the_game() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let (url, received) = fake_agent(json!({"success": true, "result": {"threatLevel": "high"}})).await;
    let registered = harness
        .post(
            "/external/register",
            json!({"name": "AnalyzeThreat", "url": url, "async": true, "description": "AI"}),
        )
        .await;
    assert_eq!(registered["success"], true, "{registered}");
    assert_eq!(
        connection.recv_json().await,
        json!({"type": "external_register", "name": "AnalyzeThreat", "async": true})
    );

    connection.send(&external_call(7, "AnalyzeThreat", json!({"unitId": 5}))).await;
    let answer = connection.recv_json().await;
    assert_eq!(
        answer,
        json!({"type": "external_response", "id": 7, "success": true, "result": {"threatLevel": "high"}})
    );
    assert_eq!(received.lock().unwrap()[0], json!({"args": {"unitId": 5}, "id": 7}));

    let (_, functions) = harness.get("/external/functions").await;
    assert_eq!(
        functions["result"]["functions"],
        json!([{"name": "AnalyzeThreat", "url": url, "async": true, "timeout": 5000, "description": "AI"}])
    );
    let (_, stats) = harness.get("/stats").await;
    assert_eq!(stats["result"]["games"][0]["calls"]["external_calls"], 1);
}

#[tokio::test]
async fn the_agents_error_reaches_the_game() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let (url, _) =
        fake_agent(json!({"success": false, "error": {"code": "NO_IDEA", "message": "thinking"}})).await;
    harness.post("/external/register", json!({"name": "Plan", "url": url, "async": false})).await;
    connection.recv_json().await;
    connection.send(&external_call(1, "Plan", json!([]))).await;
    let answer = connection.recv_json().await;
    assert_eq!(answer["success"], false);
    assert_eq!(answer["error"], json!({"code": "NO_IDEA", "message": "thinking"}));
}

#[tokio::test]
async fn slow_dead_failing_and_missing_agents_get_their_error_codes() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    // Slow: the agent never answers; the registration allows 50 ms.
    let slow = serve_agent(axum::Router::new().route("/", post(std::future::pending::<String>))).await;
    // Dead: a port nobody listens on any more.
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/", listener.local_addr().unwrap())
    };
    // Failing: HTTP 500.
    let failing = serve_agent(
        axum::Router::new()
            .route("/", post(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "boom") })),
    )
    .await;
    for (name, url) in [("Slow", &slow), ("Dead", &dead), ("Failing", &failing)] {
        let body = json!({"name": name, "url": url, "async": false, "timeout": 50});
        assert_eq!(harness.post("/external/register", body).await["success"], true);
        connection.recv_json().await;
    }
    for (id, name, code) in [
        (1, "Slow", "CALL_TIMEOUT"),
        (2, "Dead", "NETWORK_ERROR"),
        (3, "Failing", "NETWORK_ERROR"),
        (4, "Missing", "INVALID_FUNCTION"),
    ] {
        connection.send(&external_call(id, name, json!({}))).await;
        let answer = connection.recv_json().await;
        assert_eq!((answer["id"].as_i64(), answer["success"].as_bool()), (Some(id), Some(false)), "{name}");
        assert_eq!(answer["error"]["code"], code, "{name}: {answer}");
    }
    // The bridge and the game link carry on.
    harness.sync(&mut connection).await;
}

#[tokio::test]
async fn registrations_are_validated_as_the_reference_does() {
    let (harness, _game, _connection) = Harness::with_one_game().await;
    let valid = json!({"name": "Ok_1", "url": "http://127.0.0.1:4000/x", "async": false});
    for (change, why) in [
        (json!({"name": "1bad"}), "name starts with a digit"),
        (json!({"name": "bad-name"}), "name has a dash"),
        (json!({"name": ""}), "empty name"),
        (json!({"name": 5}), "name not a string"),
        (json!({"url": "not a url"}), "invalid URL"),
        (json!({"url": "ftp://127.0.0.1/x"}), "not http"),
        (json!({"url": null}), "missing URL"),
        (json!({"async": "yes"}), "async not a boolean"),
        (json!({"async": null}), "async missing"),
        (json!({"timeout": 0}), "timeout zero"),
        (json!({"timeout": -5}), "timeout negative"),
        (json!({"timeout": 1.5}), "timeout not an integer"),
        (json!({"timeout": "5000"}), "timeout a string"),
        (json!({"description": 7}), "description not a string"),
    ] {
        let mut body = valid.clone();
        for (key, value) in change.as_object().unwrap() {
            body[key] = value.clone();
        }
        let envelope = harness.post("/external/register", body).await;
        assert_eq!(error_code(&envelope), "INVALID_ARGUMENTS", "{why}");
    }
    assert_eq!(harness.post("/external/register", valid.clone()).await["success"], true);
    let duplicate = harness.post("/external/register", valid).await;
    assert_eq!(error_code(&duplicate), "INVALID_ARGUMENTS", "duplicates are refused");
}

#[tokio::test]
async fn unregistering_by_path_or_body_tells_the_game() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    for name in ["A", "B"] {
        harness
            .post("/external/register", json!({"name": name, "url": "http://127.0.0.1:9/", "async": false}))
            .await;
        connection.recv_json().await;
    }
    let response = harness.http.delete(harness.url("/external/register/A")).send().await.unwrap();
    assert_eq!(response.json::<Value>().await.unwrap()["success"], true);
    assert_eq!(connection.recv_json().await, json!({"type": "external_unregister", "name": "A"}));
    assert_eq!(harness.post("/external/unregister", json!({"name": "B"})).await["success"], true);
    assert_eq!(connection.recv_json().await, json!({"type": "external_unregister", "name": "B"}));
    let (_, functions) = harness.get("/external/functions").await;
    assert_eq!(functions["result"]["functions"], json!([]));
    assert_eq!(
        error_code(&harness.post("/external/unregister", json!({"name": "B"})).await),
        "INVALID_FUNCTION"
    );
    assert_eq!(error_code(&harness.post("/external/unregister", json!({})).await), "INVALID_ARGUMENTS");
}

#[tokio::test]
async fn pause_control_sends_the_reference_messages() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let delete = |path: &str| {
        let request = harness.http.delete(harness.url(path)).send();
        async move { request.await.unwrap().json::<Value>().await.unwrap() }
    };

    let paused = harness.post("/external/pause-player/2", json!({})).await;
    assert_eq!(
        paused,
        json!({"success": true, "pausedPlayers": [2]}),
        "at the top level, as the original answers"
    );
    assert_eq!(connection.recv_json().await, json!({"type": "pause_player", "playerID": 2}));
    harness.post("/external/pause-player/5", json!({})).await;
    connection.recv_json().await;

    let unpaused = delete("/external/pause-player/2").await;
    assert_eq!(unpaused, json!({"success": true, "pausedPlayers": [5]}));
    assert_eq!(connection.recv_json().await, json!({"type": "unpause_player", "playerID": 2}));

    for bad in ["/external/pause-player/64", "/external/pause-player/-1", "/external/pause-player/two"] {
        let refused = json!({"success": false, "error": "Invalid player ID"});
        assert_eq!(harness.post(bad, json!({})).await, refused, "{bad}: the original's own answer");
        assert_eq!(delete(bad).await, refused, "{bad}");
    }

    // isGamePaused follows whose turn it is.
    let (_, state) = harness.get("/external/paused-players").await;
    assert_eq!(state, json!({"success": true, "pausedPlayers": [5], "isGamePaused": false}));
    connection.send(&game_event("PlayerDoTurn", json!({"PlayerID": 5}))).await;
    harness.sync(&mut connection).await;
    let (_, state) = harness.get("/external/paused-players").await;
    assert_eq!(state["isGamePaused"], true);
    connection.send(&game_event("PlayerDoneTurn", json!({"PlayerID": 5, "NextPlayerID": 6}))).await;
    harness.sync(&mut connection).await;
    let (_, state) = harness.get("/external/paused-players").await;
    assert_eq!(state["isGamePaused"], false);

    let cleared = delete("/external/paused-players").await;
    assert_eq!(cleared, json!({"success": true, "pausedPlayers": []}));
    assert_eq!(connection.recv_json().await, json!({"type": "clear_paused_players"}));

    assert_eq!(harness.post("/external/pause", json!({})).await, json!({"success": true}));
    assert_eq!(connection.recv_json().await, json!({"type": "pause_game"}));
    assert_eq!(harness.post("/external/resume", json!({})).await, json!({"success": true}));
    assert_eq!(connection.recv_json().await, json!({"type": "resume_game"}));

    let mode = harness.post("/external/production-mode", json!({"enabled": true})).await;
    assert_eq!(mode, json!({"success": true, "productionMode": true}));
    assert_eq!(connection.recv_json().await, json!({"type": "set_production_mode", "enabled": true}));
    assert_eq!(error_code(&harness.post("/external/production-mode", json!({})).await), "INVALID_ARGUMENTS");
}

#[tokio::test]
async fn a_restarted_game_gets_registrations_and_production_mode_again_but_no_paused_players() {
    let (harness, game, mut connection) = Harness::with_one_game().await;
    harness
        .post("/external/register", json!({"name": "A", "url": "http://127.0.0.1:9/", "async": true}))
        .await;
    harness
        .post("/external/register", json!({"name": "B", "url": "http://127.0.0.1:9/", "async": false}))
        .await;
    harness.post("/external/production-mode", json!({"enabled": true})).await;
    harness.post("/external/pause-player/3", json!({})).await;
    for _ in 0..4 {
        connection.recv_json().await;
    }
    let path = game.path.clone();
    drop(connection);
    drop(game);
    harness.wait_disconnected("civ5").await;
    let (_, state) = harness.get("/external/paused-players").await;
    assert_eq!(state["pausedPlayers"], json!([]), "paused players are cleared on disconnect");

    let restarted = FakeGame::bind(&path);
    let mut connection = restarted.accept().await;
    let mut restored = Vec::new();
    for _ in 0..3 {
        restored.push(connection.recv_json().await);
    }
    assert_eq!(
        restored,
        [
            json!({"type": "external_register", "name": "A", "async": true}),
            json!({"type": "external_register", "name": "B", "async": false}),
            json!({"type": "set_production_mode", "enabled": true}),
        ]
    );
    harness.wait_connected("civ5").await;
    harness.sync(&mut connection).await;
}

#[tokio::test]
async fn several_games_keep_their_own_registrations() {
    let (harness, _games, mut civ_connection, _lab_connection) = Harness::with_two_games().await;
    let body = json!({"name": "LabOnly", "url": "http://127.0.0.1:9/", "async": false});
    assert_eq!(harness.post("/games/lab/external/register", body).await["success"], true);
    let (_, civ_functions) = harness.get("/external/functions").await;
    assert_eq!(civ_functions["result"]["functions"], json!([]));
    let (_, lab_functions) = harness.get("/games/lab/external/functions").await;
    assert_eq!(lab_functions["result"]["functions"][0]["name"], "LabOnly");
    civ_connection.send(&external_call(1, "LabOnly", json!({}))).await;
    assert_eq!(within("an answer", civ_connection.recv_json()).await["error"]["code"], "INVALID_FUNCTION");
}
