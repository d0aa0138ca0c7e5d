//! Agent faults: a webhook agent that crashes mid-call or answers after its
//! deadline, a WebSocket agent that disconnects mid-call (on a Vox game, a
//! lockstep game and an arena tick) or answers late, and a REST agent that
//! hangs up while its call waits in the game.

use std::time::Duration;

use gamebridge_protocol::{BridgeMessage, GameMessage};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::raw_agent::{RawAgent, Reply};
use crate::step::{Instance, NO_DEADLINE, frame, step_agent, tempest};
use crate::support::{GameConnection, Harness, within};
use crate::ws_agent::WsAgent;

/// The game calls the agent function `function` (`external_call`).
async fn external_call(connection: &mut GameConnection, id: i64, function: &str) {
    let call = json!({"type": "external_call", "id": id, "function": function, "args": {"unit": id}, "async": false});
    connection.send(&GameMessage::parse(call.to_string().as_bytes()).unwrap()).await;
}

/// Registers the webhook `Advise` with `timeout` ms; the game is told.
async fn register_webhook(harness: &Harness, connection: &mut GameConnection, url: &str, timeout: u64) {
    let registration = json!({"name": "Advise", "url": url, "async": false, "timeout": timeout});
    assert_eq!(harness.post("/external/register", registration).await["success"], true);
    assert_eq!(connection.recv_json().await["type"], "external_register");
}

#[tokio::test]
async fn a_webhook_agent_that_crashes_mid_call_fails_the_call_at_once_and_is_not_asked_again() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let mut agent = RawAgent::start().await;
    register_webhook(&harness, &mut connection, &agent.url, 600_000).await;

    external_call(&mut connection, 1, "Advise").await;
    let request = agent.next_request().await;
    assert_eq!(request.body, json!({"id": 1, "args": {"unit": 1}}));
    request.reply(Reply::HangUp);
    let answer = connection.recv_json().await;
    assert_eq!((answer["id"].as_i64(), answer["success"].as_bool()), (Some(1), Some(false)), "{answer}");
    assert_eq!(answer["error"]["code"], "NETWORK_ERROR", "{answer}");

    // The agent is back; the call that failed is not sent to it again.
    external_call(&mut connection, 2, "Advise").await;
    let request = agent.next_request().await;
    assert_eq!(request.body["id"], 2, "the crashed call was retried: {}", request.body);
    request.reply(Reply::Answer(json!({"success": true, "result": "retreat"})));
    let answer = connection.recv_json().await;
    assert_eq!(answer, json!({"type": "external_response", "id": 2, "success": true, "result": "retreat"}));
    let stats = harness.game_stats("civ5").await;
    assert_eq!((stats["external_calls"].as_u64(), stats["external_failed"].as_u64()), (Some(2), Some(1)));
}

#[tokio::test]
async fn a_webhook_agent_that_answers_late_costs_a_timeout_and_its_answer_is_dropped() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let mut agent = RawAgent::start().await;
    register_webhook(&harness, &mut connection, &agent.url, 200).await;

    external_call(&mut connection, 1, "Advise").await;
    let late = agent.next_request().await;
    let answer = connection.recv_json().await;
    assert_eq!(
        (answer["id"].as_i64(), answer["error"]["code"].as_str()),
        (Some(1), Some("CALL_TIMEOUT")),
        "{answer}"
    );
    assert!(answer["error"]["message"].as_str().unwrap().contains("within 200 ms"), "{answer}");
    late.reply(Reply::Answer(json!({"success": true, "result": "too late"})));

    external_call(&mut connection, 2, "Advise").await;
    let request = agent.next_request().await;
    assert_eq!(request.body["id"], 2, "the timed-out call was retried: {}", request.body);
    request.reply(Reply::Answer(json!({"success": true, "result": "in time"})));
    // The game hears of call 2, and then of nothing but the next call: the
    // late answer to call 1 is not delivered as a second answer.
    assert_eq!(
        connection.recv_json().await,
        json!({"type": "external_response", "id": 2, "success": true, "result": "in time"})
    );
    harness.sync(&mut connection).await;
}

#[tokio::test]
async fn a_websocket_agent_that_disconnects_mid_call_fails_the_call_at_once_and_is_unregistered() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let mut agent = WsAgent::connect(&harness).await;
    let register = json!({"type": "register", "functions": [{"name": "Advise", "timeout_ms": 600_000}]});
    agent.register(register).await;
    assert_eq!(connection.recv_json().await["type"], "external_register");

    external_call(&mut connection, 7, "Advise").await;
    let call = agent.next_text().await;
    assert_eq!((call["function"].as_str(), call["callId"].as_i64()), (Some("Advise"), Some(7)), "{call}");
    agent.dies();
    let mut heard = [connection.recv_json().await, connection.recv_json().await];
    heard.sort_by_key(|message| message["type"].as_str().unwrap().to_owned());
    let [response, unregister] = heard;
    assert_eq!(
        (response["id"].as_i64(), response["error"]["code"].as_str()),
        (Some(7), Some("NETWORK_ERROR")),
        "{response}"
    );
    assert_eq!(unregister, json!({"type": "external_unregister", "name": "Advise"}));

    external_call(&mut connection, 8, "Advise").await;
    assert_eq!(connection.recv_json().await["error"]["code"], "INVALID_FUNCTION");
    harness.sync(&mut connection).await;
}

#[tokio::test]
async fn a_websocket_agent_that_answers_late_costs_a_timeout_and_its_answer_is_dropped() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let mut agent = WsAgent::connect(&harness).await;
    agent.register(json!({"type": "register", "functions": [{"name": "Advise", "timeout_ms": 200}]})).await;
    assert_eq!(connection.recv_json().await["type"], "external_register");

    external_call(&mut connection, 1, "Advise").await;
    let call = agent.next_text().await;
    let answer = connection.recv_json().await;
    assert_eq!(
        (answer["id"].as_i64(), answer["error"]["code"].as_str()),
        (Some(1), Some("CALL_TIMEOUT")),
        "{answer}"
    );
    agent.send(json!({"type": "result", "id": call["id"], "success": true, "result": "too late"})).await;
    // Then the agent calls the game: the bridge reads the late answer first,
    // so a second answer to call 1 would reach the game before this call.
    agent.send(json!({"type": "call", "id": "after", "function": "After"})).await;
    match connection.recv().await {
        BridgeMessage::LuaCall { id, function, .. } => {
            assert_eq!(function, "After");
            connection.answer(id, Value::Null).await;
        }
        other => panic!("the game got {other:?}"),
    }
    let result = agent.next_text().await;
    assert_eq!((result["id"].as_str(), result["success"].as_bool()), (Some("after"), Some(true)), "{result}");
}

#[tokio::test]
async fn a_websocket_agent_that_disconnects_mid_frame_costs_one_default_reply_at_once() {
    let (harness, address) = tempest(&format!("&default=0102030405{NO_DEADLINE}")).await;
    let mut agent = step_agent(&harness).await;
    let mut game = Instance::connect(&address).await;
    game.send(&frame(1, 1)).await;
    assert_eq!(agent.next_frames().await.len(), 1);
    agent.dies();
    // Not the step deadline: the reply comes as soon as the agent is gone.
    assert_eq!(game.reply().await, [1, 2, 3, 4, 5]);
    assert_eq!(game.step(&frame(1, 2)).await, [1, 2, 3, 4, 5], "no agent: the default reply");
    let stats = harness.game_stats("tempest/1").await;
    assert_eq!((stats["steps"].as_u64(), stats["step_misses"].as_u64()), (Some(2), Some(2)));
}

#[tokio::test]
async fn a_websocket_agent_that_disconnects_mid_tick_leaves_every_agent_idle_with_the_reason() {
    let harness = Harness::start(&[("arena", "agent-arena?decide_timeout_ms=600000".to_owned())]).await;
    let mut agent = WsAgent::connect(&harness).await;
    let register = json!({"type": "register", "game": "arena", "functions": [{"name": "decide", "timeout_ms": 600_000}]});
    agent.register(register).await;
    let perceptions = json!([{"agent_id": "a", "tick": 1}, {"agent_id": "b", "tick": 1}]);
    let tick = harness.post("/tick", json!({"tick": 1, "perceptions": perceptions}));
    let dies = async {
        assert_eq!(agent.next_text().await["function"], "decide");
        agent.dies();
    };
    let (answer, ()) = within("the tick", async { tokio::join!(tick, dies) }).await;
    for action in answer["actions"].as_array().unwrap() {
        assert_eq!(action["tool"], "idle", "{answer}");
        assert!(action["reasoning"].as_str().unwrap().contains("disconnected"), "{answer}");
    }
    assert_eq!(harness.get("/metrics").await.1["total_fallbacks"], 2);
    // Without the agent, the rules decide.
    let next = harness.post("/tick", json!({"tick": 2, "perceptions": [{"agent_id": "a", "tick": 2}]})).await;
    assert_eq!(
        next["actions"][0]["reasoning"], "No immediate actions needed - exploring environment",
        "{next}"
    );
}

#[tokio::test]
async fn a_rest_agent_that_hangs_up_mid_call_leaves_nothing_pending() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let mut agent = tokio::net::TcpStream::connect(harness.bridge.addr).await.unwrap();
    let body = json!({"function": "Slow", "timeout_ms": 600_000}).to_string();
    let request = format!(
        "POST /lua/call HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    agent.write_all(request.as_bytes()).await.unwrap();
    let (id, ..) = connection.expect_call().await;
    let game = harness.hub().game("civ5").unwrap();
    assert_eq!(game.status().pending_calls, 1);
    drop(agent);
    within("the abandoned call to be forgotten", async {
        // Forgetting happens when the server drops the request; there is no event for it.
        while game.status().pending_calls > 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    // The game's answer comes after nobody waits for it: it is dropped.
    connection.answer(id, json!("nobody listens")).await;
    harness.sync(&mut connection).await;
}
