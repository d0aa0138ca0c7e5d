//! Memory bounded in bytes wherever a game or a tokenless caller can make
//! input accumulate: the event ring, one Agent Arena tick, the registries.
//!
//! Each RSS test runs in a process of its own (see `own_process`), so the
//! other tests of this binary do not move the number it reads. The bounds
//! asserted are the configured budget plus a margin for the allocator's
//! pools and the frames in flight, far below what the unbounded code took
//! (all of it for the events, 1.35 GB for the tick).

use gamebridge_protocol::codec::VOX_DELIMITER;
use serde_json::{Value, json};

use crate::own_process::{resident_bytes, run_here};
use crate::support::{Harness, within};
use crate::ws_agent::WsAgent;

const MIB: u64 = 1 << 20;

/// One `game_event` frame of about `size` bytes, written by hand: building
/// it through serde would cost the test more memory than the bridge.
fn big_event_frame(size: usize) -> Vec<u8> {
    let mut frame = Vec::with_capacity(size + 100);
    frame.extend_from_slice(br#"{"type":"game_event","event":"Big","payload":{"pad":""#);
    frame.resize(frame.len() + size, b'x');
    frame.extend_from_slice(br#""}}"#);
    frame.extend_from_slice(VOX_DELIMITER);
    frame
}

#[tokio::test]
async fn a_game_sending_events_far_beyond_the_budget_costs_the_budget_only() {
    if !run_here("memory::a_game_sending_events_far_beyond_the_budget_costs_the_budget_only").await {
        return;
    }
    // 16 times the budget (64 × 4 MB through 16 MiB; the reproduction sent
    // 250 × 4 MB through the default 64 MiB: the same ratio, a quarter of
    // the time on a loaded machine).
    const EVENTS: u64 = 64;
    let (harness, _game, mut connection) =
        Harness::with_one_game_configured("", |config| config.event_ring_bytes = 16 << 20).await;
    let budget = harness.hub().events().byte_budget() as u64;
    assert_eq!(budget, 16 * MIB);
    let frame = big_event_frame(4 << 20);
    harness.sync(&mut connection).await;
    let before = resident_bytes();
    let first = harness.hub().events().latest() + 1;
    for _ in 0..EVENTS {
        connection.send_raw(&frame).await;
    }
    harness.sync(&mut connection).await;
    assert_eq!(harness.hub().events().latest(), first + EVENTS - 1, "every event was published");
    let (held, held_bytes) = harness.hub().events().held();
    assert!(held_bytes as u64 <= budget, "the ring holds {held_bytes} bytes");
    assert!(held < EVENTS as usize / 10, "the ring keeps only the newest events: {held}");
    let grown = resident_bytes().saturating_sub(before);
    println!("256 MB of events grew the bridge by {} MiB (budget {} MiB)", grown / MIB, budget / MIB);
    assert!(
        grown < budget + 96 * MIB,
        "256 MB of events grew the bridge by {} MiB with a budget of {} MiB",
        grown / MIB,
        budget / MIB
    );

    // The game leaves: what the ring holds stays within the budget.
    drop(connection);
    harness.wait_disconnected("civ5").await;
    let grown = resident_bytes().saturating_sub(before);
    assert!(grown < budget + 96 * MIB, "after the game left: {} MiB", grown / MIB);
    assert!(harness.hub().events().held().1 as u64 <= budget);
}

/// A tick of `count` agents, each as small as the shape allows (ids of
/// seven digits: 300,000 agents fit the 10 MB body limit).
fn tick_of(shape: &str, count: usize) -> Vec<u8> {
    let mut body = format!(r#"{{"tick":1,"{shape}":["#).into_bytes();
    for n in 0..count {
        if n > 0 {
            body.push(b',');
        }
        let agent = match shape {
            "perceptions" => format!(r#"{{"agent_id":"{n:07}","tick":1}}"#),
            _ => format!(r#"{{"agent_id":"{n:07}"}}"#),
        };
        body.extend_from_slice(agent.as_bytes());
    }
    body.extend_from_slice(b"]}");
    body
}

/// Posts raw JSON bytes, as a JSON body; returns the status and answer.
async fn post_json(harness: &Harness, path: &str, body: impl Into<bytes::Bytes>) -> (u16, Value) {
    let request =
        harness.http.post(harness.url(path)).header("content-type", "application/json").body(body.into());
    let response = within("the answer", request.send()).await.expect("POST");
    (response.status().as_u16(), response.json().await.expect("a JSON answer"))
}

#[tokio::test]
async fn ticks_of_300_000_agents_are_refused_while_parsing_and_cost_no_memory() {
    if !run_here("memory::ticks_of_300_000_agents_are_refused_while_parsing_and_cost_no_memory").await {
        return;
    }
    let harness = Harness::start(&[("arena", "agent-arena".to_owned())]).await;
    // Shared, not copied, for each post: the test's own memory stays put.
    let (v1, sdk) =
        (bytes::Bytes::from(tick_of("perceptions", 300_000)), bytes::Bytes::from(tick_of("agents", 300_000)));
    assert!(v1.len() < 10 << 20 && sdk.len() < 10 << 20, "within the body limit");
    // Warm the server, the allocator and the decision path with a tick
    // it decides.
    let (status, answer) = post_json(&harness, "/tick", tick_of("agents", 1_000)).await;
    assert_eq!((status, answer["actions"].as_array().map(Vec::len)), (200, Some(1_000)), "{answer}");
    let before = resident_bytes();
    // Both shapes at once, twice: the unbounded bridge took 2 GB for two.
    for _ in 0..2 {
        let (first, second) =
            tokio::join!(post_json(&harness, "/tick", v1.clone()), post_json(&harness, "/tick", sdk.clone()));
        for (status, answer) in [first, second] {
            assert_eq!(status, 413, "{answer}");
            let message = answer["detail"].as_str().unwrap();
            assert!(message.contains("at most 4096 agents") && message.contains("max_agents"), "{message}");
        }
    }
    let grown = resident_bytes().saturating_sub(before);
    // Two bodies of 9 MB read at once, and the allocator's pools.
    println!("four ticks of 300,000 agents grew the bridge by {} MiB", grown / MIB);
    assert!(grown < 64 * MIB, "four refused ticks of 300,000 agents grew the bridge by {} MiB", grown / MIB);
    assert_eq!(harness.get("/metrics").await.1["total_agents_processed"], 1_000, "nothing was decided");
    // At the bound, a tick is decided.
    let (status, answer) = post_json(&harness, "/tick", tick_of("perceptions", 4_096)).await;
    assert_eq!((status, answer["actions"].as_array().map(Vec::len)), (200, Some(4_096)), "{answer}");
}

#[tokio::test]
async fn arena_registrations_past_their_bounds_are_refused_clearly() {
    let harness = Harness::start(&[("arena", "agent-arena?max_agents=3".to_owned())]).await;
    let register = |agent: &str| json!({"agent_id": agent});
    for agent in ["a", "b", "c"] {
        let (status, answer) = post_json(&harness, "/agents/register", register(agent).to_string()).await;
        assert_eq!(status, 200, "{answer}");
    }
    let (status, answer) = post_json(&harness, "/agents/register", register("d").to_string()).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["detail"].as_str().unwrap().contains("at most 3 agents"), "{answer}");
    let again = json!({"agent_id": "a", "backend": {"kind": "rules"}}).to_string();
    assert_eq!(post_json(&harness, "/agents/register", again).await.0, 200, "a known agent may change");
    let (status, answer) = post_json(&harness, "/tick", tick_of("agents", 4)).await;
    assert_eq!(status, 413, "the profile's bound is the tick's: {answer}");

    let tool =
        |n: usize| json!({"name": format!("tool{n}"), "description": "", "parameters": {}}).to_string();
    let listed = harness.get("/tools/list").await.1["tools"].as_object().unwrap().len();
    for n in listed..gamebridge_agents::arena::MAX_TOOLS {
        assert_eq!(post_json(&harness, "/tools/register", tool(n)).await.0, 200);
    }
    let (status, answer) = post_json(&harness, "/tools/register", tool(9_999)).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["detail"].as_str().unwrap().contains("at most 256 tools"), "{answer}");
}

#[tokio::test]
async fn agent_function_registrations_past_the_bound_are_refused_with_invalid_arguments() {
    let (harness, _game, _connection) = Harness::with_one_game().await;
    let register = |n: usize| json!({"name": format!("f{n}"), "url": "http://127.0.0.1:9/", "async": false, "timeout": 1000});
    for n in 0..gamebridge_hub::MAX_EXTERNAL_FUNCTIONS {
        let answer = harness.post("/external/register", register(n)).await;
        assert_eq!(answer["success"], true, "{answer}");
    }
    let refused = harness.post("/external/register", register(99_999)).await;
    assert_eq!(refused["error"]["code"], "INVALID_ARGUMENTS", "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("the most it takes"), "{refused}");
    let removed = harness.post("/external/unregister", json!({"name": "f0"})).await;
    assert_eq!(removed["success"], true, "{removed}");
    assert_eq!(harness.post("/external/register", register(99_999)).await["success"], true, "room again");
}

#[tokio::test]
async fn external_calls_past_the_bound_are_answered_at_once_with_too_many_calls() {
    let max = gamebridge_hub::MAX_EXTERNAL_CALLS as u64;
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    // An agent that takes every call and answers none (until told to).
    let mut agent = WsAgent::connect(&harness).await;
    agent
        .register(json!({"type": "register", "functions": [{"name": "Think", "timeout_ms": 600_000}]}))
        .await;
    assert_eq!(connection.recv_json().await["type"], "external_register");
    let call = |id: u64| {
        let mut frame =
            json!({"type": "external_call", "id": id, "function": "Think", "args": {}, "async": false})
                .to_string()
                .into_bytes();
        frame.extend_from_slice(VOX_DELIMITER);
        frame
    };
    let calls: Vec<u8> = (1..=max + 1).flat_map(call).collect();
    connection.send_raw(&calls).await;
    let refused = connection.recv_json().await;
    assert_eq!(
        (refused["type"].as_str(), refused["id"].as_u64()),
        (Some("external_response"), Some(max + 1))
    );
    assert_eq!(refused["success"], false, "{refused}");
    assert_eq!(refused["error"]["code"], "TOO_MANY_CALLS", "{refused}");

    // One answer gives one place back: the next call reaches the agent.
    let first = agent.next_text().await;
    agent.send(json!({"type": "result", "id": first["id"], "success": true, "result": 1})).await;
    let answered = connection.recv_json().await;
    assert_eq!(
        (answered["id"].as_u64(), answered["success"].as_bool()),
        (first["callId"].as_u64(), Some(true))
    );
    connection.send_raw(&call(max + 2)).await;
    loop {
        let asked = agent.next_text().await;
        if asked["callId"].as_u64() == Some(max + 2) {
            break;
        }
    }
}
