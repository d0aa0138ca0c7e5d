//! Fleet mode: bridges joined through a real `nats-server`. A game of one
//! node is listed and called through another node's API; a node that
//! leaves takes its games with it, and the calls waiting for them fail at
//! once; a name already served is not taken over.

mod support;

use std::time::Duration;

use gamebridge_fleet::FleetOptions;
use serde_json::{Value, json};
use support::fleet::{agent_node, civ5_node, fleet, wait_for_game, wait_until_served};
use support::nats::NatsServer;
use support::{FakeGame, Harness, game_event, within};

/// Reads `count` `Turn` events from `/fleet/events` on `harness` after
/// `since`, reconnecting with `Last-Event-ID` whenever the stream ends, as
/// an `EventSource` would: their payloads' `n`, and the last id.
async fn fleet_turns(harness: &Harness, since: u64, count: usize) -> (Vec<u64>, u64) {
    let (mut turns, mut last) = (Vec::new(), since);
    support::within_bulk("the fleet's events", async {
        while turns.len() < count {
            let mut stream = harness.sse_with("/fleet/events?types=Turn", Some(last)).await;
            while let Some(event) = stream.next_or_end().await {
                if event.event == "message" {
                    assert!(event.id.unwrap() > last, "ids grow: {:?} after {last}", event.id);
                    last = event.id.unwrap();
                    turns.push(event.data["payload"]["n"].as_u64().unwrap());
                    if turns.len() == count {
                        break;
                    }
                }
            }
        }
    })
    .await;
    (turns, last)
}

async fn call(harness: &Harness, game: &str, body: Value) -> Value {
    let url = harness.url(&format!("/games/{game}/lua/call"));
    let response = within("the call's answer", harness.http.post(url).json(&body).send()).await.unwrap();
    response.json().await.unwrap()
}

/// A call of `civ5`'s `Slow` through `harness`, with a minute to go, on a
/// task of its own: its answer once it comes.
fn slow_call(harness: &Harness) -> tokio::task::JoinHandle<Value> {
    let (http, url) = (harness.http.clone(), harness.url("/games/civ5/lua/call"));
    tokio::spawn(async move {
        let body = json!({ "function": "Slow", "timeout_ms": 60_000 });
        http.post(url).json(&body).send().await.unwrap().json::<Value>().await.unwrap()
    })
}

#[tokio::test]
async fn a_game_of_another_node_is_listed_and_called_through_this_one() {
    let server = NatsServer::start().await;
    let (a, _game, mut connection) = civ5_node(&server).await;
    connection.register("GetTurn").await;
    connection.echo_forever();
    let b = agent_node(&server, "box-b").await;
    wait_for_game(&b, "civ5", Some("fleet:box-a")).await;

    let games: Value = b.http.get(b.url("/games")).send().await.unwrap().json().await.unwrap();
    let listed =
        games["result"]["games"].as_array().unwrap().iter().find(|game| game["name"] == "civ5").cloned();
    assert_eq!(listed.unwrap()["link"], "fleet:box-a", "{games}");
    // The function list follows within a hello.
    let mut changes = b.hub().function_changes();
    let remote = b.hub().game("civ5").unwrap();
    within("the function to be listed", async {
        while remote.functions().names() != ["GetTurn"] {
            changes.changed().await.unwrap();
        }
    })
    .await;

    let answer = call(&b, "civ5", json!({ "function": "GetTurn", "args": { "player": 2 } })).await;
    assert_eq!(answer["success"], true, "{answer}");
    assert_eq!(answer["result"], json!({ "function": "GetTurn", "args": { "player": 2 } }));
    // The owner served it as a call of its own.
    assert_eq!(a.hub().game("civ5").unwrap().stats().snapshot().calls, 1);
}

#[tokio::test]
async fn a_batch_of_calls_crosses_the_fleet_and_each_is_answered() {
    let server = NatsServer::start().await;
    let (_a, _game, connection) = civ5_node(&server).await;
    connection.echo_forever();
    let b = agent_node(&server, "box-b").await;
    wait_for_game(&b, "civ5", Some("fleet:box-a")).await;

    let calls = json!({ "calls": [{ "function": "A", "args": [1] }, { "function": "B" }, { "function": "C", "args": { "x": 3 } }] });
    let envelope = b.post("/games/civ5/lua/batch", calls).await;
    let results = envelope["result"]["results"].as_array().unwrap();
    let functions: Vec<&Value> = results.iter().map(|result| &result["result"]["function"]).collect();
    assert_eq!(functions, [&json!("A"), &json!("B"), &json!("C")], "in order, each answered: {envelope}");
    assert_eq!(results[2]["result"]["args"], json!({ "x": 3 }));
}

#[tokio::test]
async fn a_node_that_leaves_takes_its_games_and_their_waiting_calls_fail_at_once() {
    let server = NatsServer::start().await;
    let (a, _game, mut connection) = civ5_node(&server).await;
    let b = agent_node(&server, "box-b").await;
    wait_for_game(&b, "civ5", Some("fleet:box-a")).await;

    // A call the game receives and never answers, with a minute to go.
    let waiting = slow_call(&b);
    let (_, function, _) = within("the call to reach the game", connection.expect_call()).await;
    assert_eq!(function, "Slow");
    a.bridge.stop().await.unwrap();

    let answer = within("the waiting call to fail", waiting).await.unwrap();
    assert_eq!(answer["success"], false);
    assert_eq!(answer["error"]["code"], "DLL_DISCONNECTED", "{answer}");
    wait_for_game(&b, "civ5", None).await;
    let answer = call(&b, "civ5", json!({ "function": "GetTurn" })).await;
    assert_eq!(answer["error"]["code"], "NOT_FOUND", "a game that left is not found: {answer}");
}

#[tokio::test]
async fn a_remote_game_that_is_not_connected_fails_at_once() {
    let server = NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    // The game's socket exists but nothing ever accepts the bridge.
    let _game = FakeGame::bind(&dir.path().join("game.sock"));
    let spec = format!("unix:{}", dir.path().join("absent.sock").display());
    let fleet_a = fleet(&server, "box-a");
    let _a = Harness::start_configured(dir, &[("civ5", spec)], |config| config.fleet = fleet_a).await;
    let b = agent_node(&server, "box-b").await;
    wait_for_game(&b, "civ5", Some("fleet:box-a")).await;

    let started = std::time::Instant::now();
    let answer = call(&b, "civ5", json!({ "function": "GetTurn", "timeout_ms": 60_000 })).await;
    assert_eq!(answer["error"]["code"], "DLL_DISCONNECTED", "{answer}");
    assert!(started.elapsed() < Duration::from_secs(30), "answered at once, not at the deadline");
}

#[tokio::test]
async fn a_game_name_already_served_here_is_not_taken_over_by_another_node() {
    let server = NatsServer::start().await;
    let fleet_a = fleet(&server, "box-a");
    let (_a, _game_a, mut connection_a) =
        Harness::with_one_game_configured("", |config| config.fleet = fleet_a).await;
    connection_a.register("FromA").await;
    let fleet_b = fleet(&server, "box-b");
    let (b, _game_b, connection_b) =
        Harness::with_one_game_configured("", |config| config.fleet = fleet_b).await;
    connection_b.echo_forever();
    // A third node hears of both: the first hello it reads wins.
    let c = agent_node(&server, "box-c").await;
    wait_until_served(&c, "civ5").await;

    // Node b keeps its own civ5: calls on b go to b's game.
    assert!(!b.hub().game("civ5").unwrap().link().starts_with("fleet:"));
    let answer = call(&b, "civ5", json!({ "function": "Local" })).await;
    assert_eq!(answer["result"]["function"], "Local", "{answer}");
}

#[tokio::test]
async fn events_of_a_game_on_another_node_stream_from_this_one() {
    let server = NatsServer::start().await;
    let (_a, _game, mut connection) = civ5_node(&server).await;
    let b = agent_node(&server, "box-b").await;
    wait_for_game(&b, "civ5", Some("fleet:box-a")).await;
    let mut stream = b.sse("/events?game=civ5&types=UnitMoved").await;

    for n in 0..3 {
        connection.send(&game_event("UnitMoved", json!({ "unit": n }))).await;
    }
    for n in 0..3 {
        let event = stream.next_message().await;
        assert_eq!(event.data["type"], "UnitMoved");
        assert_eq!(event.data["payload"], json!({ "unit": n }), "in order, each once");
        assert_eq!(event.data["game"], "civ5");
    }
}

#[tokio::test]
async fn a_node_that_runs_no_scripts_runs_none_for_the_fleet_either() {
    let server = NatsServer::start().await;
    let fleet_a = fleet(&server, "box-a").map(|options| FleetOptions { allow_execute: false, ..options });
    let (_a, _game, _connection) =
        Harness::with_one_game_configured("", |config| config.fleet = fleet_a).await;
    let b = agent_node(&server, "box-b").await;
    wait_for_game(&b, "civ5", Some("fleet:box-a")).await;

    let url = b.url("/games/civ5/lua/execute");
    let body = json!({ "script": "return 1" });
    let answer: Value =
        within("the answer", b.http.post(url).json(&body).send()).await.unwrap().json().await.unwrap();
    assert_eq!(answer["error"]["code"], "INVALID_SCRIPT", "{answer}");
}

#[tokio::test]
async fn a_node_killed_with_sigkill_leaves_the_fleet_and_the_calls_waiting_for_it_fail() {
    let server = NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let game = FakeGame::bind(&dir.path().join("game.sock"));
    let listen = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut node_a = tokio::process::Command::new(env!("CARGO_BIN_EXE_gamebridge"))
        .args(["serve", "--quiet", "--listen", &listen.to_string(), "--nats", &server.url, "--node", "box-a"])
        .args(["--game", &format!("civ5=unix:{}", game.path.display())])
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut connection = game.accept().await;
    let b = agent_node(&server, "box-b").await;
    wait_for_game(&b, "civ5", Some("fleet:box-a")).await;

    let waiting = slow_call(&b);
    within("the call to reach the game", connection.expect_call()).await;
    node_a.kill().await.unwrap(); // SIGKILL: no goodbye
    let answer = within("the waiting call to fail", waiting).await.unwrap();
    assert_eq!(answer["error"]["code"], "DLL_DISCONNECTED", "{answer}");
    wait_for_game(&b, "civ5", None).await;
}

#[tokio::test]
async fn the_fleet_carries_calls_and_events_again_once_the_nats_server_is_back() {
    let mut server = NatsServer::start().await;
    let (_a, _game, mut connection) = civ5_node(&server).await;
    let (events_tx, mut to_send) = tokio::sync::mpsc::channel::<Value>(4);
    // The game answers every call and sends the events it is handed.
    tokio::spawn(async move {
        loop {
            tokio::select! {
                message = connection.recv_or_closed() => match message {
                    Some(gamebridge_protocol::BridgeMessage::LuaCall { id, .. }) => connection.answer(id, json!("pong")).await,
                    Some(_) => {}
                    None => return,
                },
                Some(payload) = to_send.recv() => connection.send(&game_event("AfterRestart", payload)).await,
            }
        }
    });
    let b = agent_node(&server, "box-b").await;
    wait_for_game(&b, "civ5", Some("fleet:box-a")).await;
    let mut stream = b.sse("/events?types=AfterRestart").await;

    server.restart().await;
    // The nodes reconnect by themselves; until they have, calls fail (fast) and are retried here.
    let answer = support::within_bulk("a call to go through again", async {
        loop {
            let url = b.url("/games/civ5/lua/call");
            let body = json!({ "function": "Ping", "timeout_ms": 2_000 });
            if let Ok(response) = b.http.post(url).json(&body).send().await {
                let answer: Value = response.json().await.unwrap();
                if answer["success"] == true {
                    return answer;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert_eq!(answer["result"], "pong");
    events_tx.send(json!({ "n": 1 })).await.unwrap();
    let event = stream.next_message().await;
    assert_eq!(event.data["payload"], json!({ "n": 1 }), "an event published after the restart arrives");
}

#[tokio::test]
async fn the_fleets_events_replay_on_a_node_that_restarted_from_the_last_id_it_gave() {
    let server = NatsServer::start().await;
    let (_a, _game, mut connection) = civ5_node(&server).await;
    for n in 0..3 {
        connection.send(&game_event("Turn", json!({ "n": n }))).await;
    }
    let b = agent_node(&server, "box-b").await;
    let (turns, last) = fleet_turns(&b, 0, 3).await;
    assert_eq!(turns, [0, 1, 2], "everything kept, in order, each once");

    b.bridge.stop().await.unwrap();
    for n in 3..5 {
        connection.send(&game_event("Turn", json!({ "n": n }))).await;
    }
    let b = agent_node(&server, "box-b").await;
    let (turns, _) = fleet_turns(&b, last, 2).await;
    assert_eq!(turns, [3, 4], "what was published while the node was down follows the last id");
}

#[tokio::test]
async fn no_event_is_lost_when_the_nats_server_restarts() {
    let mut server = NatsServer::start().await;
    let (_a, _game, mut connection) = civ5_node(&server).await;
    let b = agent_node(&server, "box-b").await;
    connection.send(&game_event("Turn", json!({ "n": 0 }))).await;
    let (_, last) = fleet_turns(&b, 0, 1).await;

    server.restart().await;
    // Sent at once: the node may not have reconnected yet, and keeps them meanwhile.
    for n in 1..=20 {
        connection.send(&game_event("Turn", json!({ "n": n }))).await;
    }
    let (turns, _) = fleet_turns(&b, last, 20).await;
    assert_eq!(turns, (1..=20).collect::<Vec<u64>>(), "each once, in order");
}

#[tokio::test]
async fn a_node_without_a_fleet_says_where_the_fleets_events_come_from() {
    let (bridge, _game, _connection) = Harness::with_one_game().await;
    let response = bridge.http.get(bridge.url("/fleet/events")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 503);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("--nats"), "{body}");
}

#[tokio::test]
async fn an_agent_function_registered_on_another_node_answers_the_game() {
    let server = NatsServer::start().await;
    let (a, _game, mut connection) = civ5_node(&server).await;
    let b = agent_node(&server, "box-b").await;
    wait_for_game(&b, "civ5", Some("fleet:box-a")).await;
    // A webhook agent beside node b, registered there.
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(|axum::Json(body): axum::Json<Value>| async move {
            axum::Json(json!({ "success": true, "result": { "seen": body["args"] } }))
        }),
    );
    let agent_url = format!("{}/", support::serve_http(app).await);
    let body = json!({ "name": "AnalyzeThreat", "url": agent_url, "async": false });
    let registered = b.post("/games/civ5/external/register", body).await;
    assert_eq!(registered["success"], true, "{registered}");

    // The game's node registers it with the game, for the fleet.
    assert_eq!(
        within("the registration to reach the game", connection.recv_json()).await,
        json!({ "type": "external_register", "name": "AnalyzeThreat", "async": false })
    );
    let (_, functions) = a.get("/external/functions").await;
    assert_eq!(functions["result"]["functions"][0]["agent"], "fleet: box-b", "{functions}");
    let call = json!({ "type": "external_call", "id": 7, "function": "AnalyzeThreat", "args": { "unit": 5 }, "async": false });
    connection.send(&gamebridge_protocol::GameMessage::parse(call.to_string().as_bytes()).unwrap()).await;
    assert_eq!(
        within("the agent's answer", connection.recv_json()).await,
        json!({ "type": "external_response", "id": 7, "success": true, "result": { "seen": { "unit": 5 } } })
    );

    // Unregistered on b: the game hears of it from its own node.
    b.post("/games/civ5/external/unregister", json!({ "name": "AnalyzeThreat" })).await;
    assert_eq!(
        within("the unregistration to reach the game", connection.recv_json()).await,
        json!({ "type": "external_unregister", "name": "AnalyzeThreat" })
    );
}

#[tokio::test]
async fn pause_controls_on_another_node_pause_the_game_on_its_own() {
    let server = NatsServer::start().await;
    let (a, _game, mut connection) = civ5_node(&server).await;
    let b = agent_node(&server, "box-b").await;
    wait_for_game(&b, "civ5", Some("fleet:box-a")).await;

    b.post("/games/civ5/external/pause-player/3", json!({})).await;
    assert_eq!(
        within("the control to reach the game", connection.recv_json()).await,
        json!({ "type": "pause_player", "playerID": 3 })
    );
    assert_eq!(a.hub().game("civ5").unwrap().paused_players(), [3], "the game's node knows it too");
    b.post("/games/civ5/external/pause", json!({})).await;
    assert_eq!(within("the pause", connection.recv_json()).await, json!({ "type": "pause_game" }));
    assert!(a.hub().game("civ5").unwrap().is_game_paused());

    // Resumed on the game's own node: the other node shows that too (its hellos carry it).
    let civ5 = a.hub().game("civ5").unwrap();
    civ5.set_game_paused(false);
    civ5.set_player_paused(3, false);
    within("the other node to show the game's pause state", async {
        loop {
            let (_, paused) = b.get("/games/civ5/external/paused-players").await;
            if paused["isGamePaused"] == false && paused["pausedPlayers"] == json!([]) {
                return;
            }
            // Hellos come every second; poll what the node made of them.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_bridge_may_not_join_under_a_node_name_already_taken() {
    let server = NatsServer::start().await;
    let _a = agent_node(&server, "box-a").await;
    let config = gamebridge::config::BridgeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        fleet: fleet(&server, "box-a"),
        ..Default::default()
    };
    let error = match gamebridge::bridge::RunningBridge::start(config).await {
        Ok(_) => panic!("a second box-a joined"),
        Err(error) => format!("{error:#}"),
    };
    assert!(error.contains("already called \"box-a\"") && error.contains("--node"), "{error}");
}

#[tokio::test]
async fn a_fleet_whose_nats_server_wants_a_password_is_joined_with_it_in_the_url() {
    let server = NatsServer::start_with(&["--user", "bridge", "--pass", "s3cret"]).await;
    let with_password = server.url.replacen("nats://", "nats://bridge:s3cret@", 1);
    let _a = Harness::start_configured(tempfile::tempdir().unwrap(), &[], |config| {
        config.fleet = Some(FleetOptions::new(&with_password, "box-a"))
    })
    .await;
    for (url, why) in [
        (server.url.clone(), "without the password"),
        (server.url.replacen("nats://", "nats://bridge:wrong-one@", 1), "with a wrong one"),
    ] {
        let config = gamebridge::config::BridgeConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            fleet: Some(FleetOptions::new(&url, "box-b")),
            ..Default::default()
        };
        let error = match gamebridge::bridge::RunningBridge::start(config).await {
            Ok(_) => panic!("joined {why}"),
            Err(error) => format!("{error:#}"),
        };
        assert!(
            error.contains("could not reach the NATS server") && error.contains("USER:PASSWORD"),
            "{error}"
        );
        assert!(!error.contains("wrong-one"), "no password in the error: {error}");
    }
}

/// Machines of a fleet start in any order: a bridge whose NATS server is
/// not up yet keeps trying (for `--nats-wait`), and joins once it is up;
/// with no wait at all it fails at once, saying so.
#[tokio::test]
async fn a_bridge_started_before_its_nats_server_joins_once_the_server_is_up() {
    let mut server = NatsServer::start().await;
    server.stop();
    let mut impatient = FleetOptions::new(&server.url, "box-a");
    impatient.start_wait = Duration::ZERO;
    let config = gamebridge::config::BridgeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        fleet: Some(impatient),
        ..Default::default()
    };
    let error = match gamebridge::bridge::RunningBridge::start(config).await {
        Ok(_) => panic!("joined a fleet with no NATS server"),
        Err(error) => format!("{error:#}"),
    };
    assert!(error.contains("could not reach the NATS server"), "{error}");

    // Where the server will listen, a stand-in takes the bridge's first attempt and hangs up.
    let stand_in = tokio::net::TcpListener::bind(server.url.trim_start_matches("nats://")).await.unwrap();
    let fleet_a = fleet(&server, "box-a");
    let starting = tokio::spawn(Harness::with_one_game_configured("", move |config| config.fleet = fleet_a));
    let (attempt, _) = within("the bridge's first attempt", stand_in.accept()).await.unwrap();
    drop((attempt, stand_in));
    server.start_again().await;
    let (_a, _game, _connection) = within("the bridge to join", starting).await.unwrap();
    let b = agent_node(&server, "box-b").await;
    wait_for_game(&b, "civ5", Some("fleet:box-a")).await;
}

#[tokio::test]
async fn while_the_nats_server_is_down_calls_fail_fast_and_events_wait_within_the_ring() {
    let mut server = NatsServer::start().await;
    let fleet_a = fleet(&server, "box-a");
    let (_a, _game, mut connection) = Harness::with_one_game_configured("", |config| {
        config.fleet = fleet_a;
        config.event_ring = 100;
    })
    .await;
    let b = agent_node(&server, "box-b").await;
    wait_for_game(&b, "civ5", Some("fleet:box-a")).await;
    connection.send(&game_event("Turn", json!({ "n": 0 }))).await;
    let (_, last) = fleet_turns(&b, 0, 1).await;

    server.stop();
    // A call either fails at once (the node knows the server is away) or,
    // once the node's games expired, finds no game: never a wait for the deadline.
    let answer = support::within_bulk("a call to fail for the outage", async {
        loop {
            let body = json!({ "function": "GetTurn", "timeout_ms": 60_000 });
            let answer: Value = b
                .http
                .post(b.url("/games/civ5/lua/call"))
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if answer["error"]["code"] != "DLL_DISCONNECTED" {
                return answer;
            }
        }
    })
    .await;
    assert!(["NETWORK_ERROR", "NOT_FOUND"].contains(&answer["error"]["code"].as_str().unwrap()), "{answer}");
    // 500 events while the server is away: the node keeps the newest its ring holds.
    for n in 1..=500 {
        connection.send(&game_event("Turn", json!({ "n": n }))).await;
    }
    connection.send(&game_event("Turn", json!({ "n": 1000 }))).await;
    server.start_again().await;
    let mut turns = Vec::new();
    let mut since = last;
    while turns.last() != Some(&1000) {
        let (more, next) = fleet_turns(&b, since, 1).await;
        (turns, since) = ([turns, more].concat(), next);
    }
    // The ring's 100, and the batch of 256 the node was publishing when the server went.
    assert!(turns.len() <= 100 + 256 + 1, "no more than the ring held: {} events", turns.len());
    assert!(turns.len() < 501, "the ring dropped the oldest: {} events", turns.len());
    assert!(turns.windows(2).all(|pair| pair[0] < pair[1]), "in order, each once: {turns:?}");
}

#[tokio::test]
async fn a_fleet_events_client_that_stops_reading_holds_back_no_other() {
    let server = NatsServer::start().await;
    let (_a, _game, mut connection) = civ5_node(&server).await;
    let b = agent_node(&server, "box-b").await;
    let _stalled = b.sse_with("/fleet/events?types=Turn", Some(0)).await;
    let payload = "x".repeat(4000);
    for n in 0..2000 {
        connection.send(&game_event("Turn", json!({ "n": n, "pad": payload }))).await;
    }
    let (turns, _) = fleet_turns(&b, 0, 2000).await;
    assert_eq!(turns, (0..2000).collect::<Vec<u64>>());
}
