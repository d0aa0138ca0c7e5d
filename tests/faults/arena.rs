//! Game faults on the `http` link (Agent Arena): the simulation is an HTTP
//! client of the bridge that posts `/tick` and waits for every agent's
//! action; each agent's decision is a call to the agent that registered
//! `decide`.

use std::collections::BTreeSet;

use axum::Json;
use axum::routing::post;
use futures::future::join_all;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use crate::support::{Harness, within};
use crate::ws_agent::WsAgent;

/// A bridge serving `arena`, where no deadline ends a decision in a test.
async fn arena() -> Harness {
    Harness::start(&[("arena", "agent-arena?decide_timeout_ms=600000".to_owned())]).await
}

/// A webhook agent deciding one arena agent per request: it reports each
/// agent it is asked about, and answers once released (at once, after).
struct WebhookAgent {
    asked: mpsc::UnboundedReceiver<String>,
    release: watch::Sender<bool>,
}

impl WebhookAgent {
    /// Serves the agent and registers it as `decide` for `arena`.
    async fn register(harness: &Harness) -> Self {
        let (report, asked) = mpsc::unbounded_channel();
        let (release, released) = watch::channel(false);
        let app = axum::Router::new().route(
            "/",
            post(move |Json(body): Json<Value>| {
                let (report, mut released) = (report.clone(), released.clone());
                async move {
                    let agent = body["args"]["agent_id"].as_str().unwrap().to_owned();
                    report.send(agent.clone()).unwrap();
                    released.wait_for(|released| *released).await.unwrap();
                    let decision = json!({"tool": "move_to", "params": {"target_position": [1, 2, 3]}, "reasoning": agent});
                    Json(json!({"success": true, "result": decision}))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let registration = json!({"name": "decide", "url": url, "async": false, "timeout": 600_000});
        let registered = harness.post("/games/arena/external/register", registration).await;
        assert_eq!(registered["success"], true, "{registered}");
        Self { asked, release }
    }

    fn answer_from_now_on(&self) {
        self.release.send_replace(true);
    }

    /// The next `count` agents the agent was asked about, in any order.
    async fn asked(&mut self, count: usize) -> BTreeSet<String> {
        let mut asked = BTreeSet::new();
        for _ in 0..count {
            asked.insert(within("the agent to be asked", self.asked.recv()).await.unwrap());
        }
        asked
    }

    /// Nobody else was asked about (so far).
    fn asked_nothing_more(&mut self) {
        if let Ok(agent) = self.asked.try_recv() {
            panic!("the agent was asked about {agent} again");
        }
    }
}

fn tick(number: u64, agents: &[&str]) -> Value {
    let perceptions: Vec<Value> =
        agents.iter().map(|agent| json!({"agent_id": agent, "tick": number})).collect();
    json!({"tick": number, "perceptions": perceptions})
}

fn names(agents: &[&str]) -> BTreeSet<String> {
    agents.iter().map(|agent| (*agent).to_owned()).collect()
}

/// A tick the agent decides; checks every action is the agent's own.
async fn decided_tick(harness: &Harness, agent: &mut WebhookAgent, number: u64, agents: &[&str]) {
    let answer = within("the tick", harness.post("/tick", tick(number, agents))).await;
    assert_eq!(answer["tick"], number, "{answer}");
    let reasons: Vec<&str> = answer["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|action| action["reasoning"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, agents, "every agent got its own decision: {answer}");
    assert_eq!(agent.asked(agents.len()).await, names(agents));
    agent.asked_nothing_more();
}

/// Posts `body` to `/tick` over a socket of its own, returning the socket.
async fn raw_tick(harness: &Harness, content_length: usize, body: &[u8]) -> TcpStream {
    let mut socket = TcpStream::connect(harness.bridge.addr).await.unwrap();
    let head = format!(
        "POST /tick HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {content_length}\r\n\r\n"
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(body).await.unwrap();
    socket
}

#[tokio::test]
async fn a_simulation_that_disconnects_mid_tick_leaves_the_bridge_serving() {
    let harness = arena().await;
    let mut agent = WebhookAgent::register(&harness).await;
    let body = tick(1, &["a", "b", "c"]).to_string();
    let simulation = raw_tick(&harness, body.len(), body.as_bytes()).await;
    assert_eq!(agent.asked(3).await, names(&["a", "b", "c"]));
    // The simulation dies while its agents are being decided.
    drop(simulation);
    agent.answer_from_now_on();

    decided_tick(&harness, &mut agent, 2, &["d", "e"]).await;
    let (status, _) = harness.get("/health").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_restarted_simulation_registers_its_agents_again_and_ticks_from_one() {
    let harness = arena().await;
    let mut agent = WebhookAgent::register(&harness).await;
    agent.answer_from_now_on();
    for run in 1..=2 {
        // Each run is a new simulation process with its own connections.
        let simulation = reqwest::Client::new();
        for id in ["a", "b"] {
            let registered =
                simulation.post(harness.url("/agents/register")).json(&json!({"agent_id": id})).send();
            let registered: Value = registered.await.unwrap().json().await.unwrap();
            assert_eq!(registered["status"], "success");
        }
        assert_eq!(harness.get("/health").await.1["agents"], 2, "run {run}: registering again adds no one");
        decided_tick(&harness, &mut agent, 1, &["a", "b"]).await;
        decided_tick(&harness, &mut agent, 2, &["a", "b"]).await;
    }
    assert_eq!(harness.get("/metrics").await.1["total_ticks"], 4);
}

#[tokio::test]
async fn garbage_bodies_are_refused_and_decide_nothing() {
    let harness = arena().await;
    let mut agent = WebhookAgent::register(&harness).await;
    agent.answer_from_now_on();
    let garbage: [&[u8]; 5] = [
        b"not json",
        b"\xff\xfe\x00\x01",
        b"[1, 2, 3]",
        br#"{"tick": 1, "perceptions": {"a": 1}}"#,
        br#"{"tick": 1, "perceptions": "everyone"}"#,
    ];
    for body in garbage {
        let response = harness
            .http
            .post(harness.url("/tick"))
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap();
        assert_eq!(status, 422, "{}: {answer}", String::from_utf8_lossy(body));
        assert!(answer["detail"].is_string(), "{answer}");
    }
    assert_eq!(harness.get("/metrics").await.1["total_ticks"], 0);
    decided_tick(&harness, &mut agent, 1, &["a"]).await;
}

#[tokio::test]
async fn truncated_requests_decide_nothing() {
    let harness = arena().await;
    let mut agent = WebhookAgent::register(&harness).await;
    agent.answer_from_now_on();
    let body = tick(1, &["cut"]).to_string();
    // The simulation dies half-way through sending its tick.
    let half = &body.as_bytes()[..body.len() / 2];
    drop(raw_tick(&harness, body.len(), half).await);
    // A whole request whose JSON is cut short.
    let (status, answer) = harness.post_status("/tick", &body[..body.len() / 2]).await;
    assert_eq!(status, 422, "{answer}");

    decided_tick(&harness, &mut agent, 2, &["whole"]).await;
    assert_eq!(harness.get("/metrics").await.1["total_ticks"], 1);
}

#[tokio::test]
async fn an_oversized_tick_is_refused_with_413_and_decides_nothing() {
    let harness = arena().await;
    let mut agent = WebhookAgent::register(&harness).await;
    agent.answer_from_now_on();
    let padding = "x".repeat(gamebridge_api::BODY_LIMIT + 1);
    let body =
        json!({"tick": 1, "perceptions": [{"agent_id": "big", "tick": 1, "custom_data": {"pad": padding}}]});
    let response = harness.http.post(harness.url("/tick")).json(&body).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 413);
    let answer: Value = response.json().await.unwrap();
    assert!(answer["detail"].as_str().unwrap().contains("length limit"), "{answer}");
    assert_eq!(harness.get("/metrics").await.1["total_ticks"], 0);
    decided_tick(&harness, &mut agent, 2, &["small"]).await;
}

/// 1,000 simulations post a tick of 10 agents each at once; a WebSocket
/// agent decides each tick in one call.
#[tokio::test]
async fn ten_thousand_agent_decisions_in_flight_each_get_their_own_action() {
    let harness = arena().await;
    let mut agent = WsAgent::connect(&harness).await;
    let register = json!({"type": "register", "game": "arena", "functions": [{"name": "decide", "timeout_ms": 600_000}]});
    agent.register(register).await;
    agent.answer_calls_forever(|call| {
        let tick = &call["args"]["tick"];
        let actions: Vec<Value> = call["args"]["agents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|agent| json!({"agent_id": agent["agent_id"], "tool": "idle", "params": {}, "reasoning": format!("{} at {tick}", agent["agent_id"].as_str().unwrap())}))
            .collect();
        json!({"actions": actions})
    });
    let ticks = (0..1_000u64).map(|number| {
        let agents: Vec<String> = (0..10).map(|n| format!("agent{n}")).collect();
        let agents: Vec<&str> = agents.iter().map(String::as_str).collect();
        let body = tick(number, &agents);
        let harness = &harness;
        async move {
            let answer = harness.post("/tick", body).await;
            for (n, action) in answer["actions"].as_array().unwrap().iter().enumerate() {
                assert_eq!(action["reasoning"], format!("agent{n} at {number}"), "tick {number}: {answer}");
            }
        }
    });
    within("1,000 ticks of 10 agents", join_all(ticks)).await;
    let (_, metrics) = harness.get("/metrics").await;
    assert_eq!(
        (
            metrics["total_ticks"].as_u64(),
            metrics["total_agents_processed"].as_u64(),
            metrics["total_fallbacks"].as_u64()
        ),
        (Some(1_000), Some(10_000), Some(0)),
        "{metrics}"
    );
    let stats = harness.game_stats("arena").await;
    assert_eq!((stats["external_calls"].as_u64(), stats["external_failed"].as_u64()), (Some(1_000), Some(0)));
}
