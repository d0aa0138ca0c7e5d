//! Lockstep across a fleet: a Tempest-like game on one node, its frames
//! shared by agents connected to other nodes through a queue group of a
//! real `nats-server`. Every frame is answered once, by one agent; the
//! frame held by an agent whose node is killed gets the default reply.
//! Agent Arena ticks go the same way.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use gamebridge_api::agent_ws::wire::{decode_frames, encode_replies};
use serde_json::{Value, json};
use support::fleet::{agent_node, fleet, wait_for_game, wait_until_served};
use support::mame::{Instance, TEMPEST, expected_reply, frame};
use support::nats::NatsServer;
use support::{Harness, within, within_bulk};
use tokio_tungstenite::tungstenite::Message;

/// The node running `tempest` and the address its instances connect to.
async fn game_node(server: &NatsServer, options: &str) -> (Harness, String) {
    let fleet = fleet(server, "game-node");
    let spec = format!("{TEMPEST}{options}");
    let harness = Harness::start_configured(tempfile::tempdir().unwrap(), &[("tempest", spec)], |config| {
        config.fleet = fleet
    })
    .await;
    let address = harness.listening_address("tempest").await;
    (harness, address)
}

/// A bridge process of its own, serving no game, killed when dropped.
struct NodeProcess {
    child: tokio::process::Child,
    url: String,
}

impl NodeProcess {
    async fn start(server: &NatsServer, node: &str) -> Self {
        let listen = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_gamebridge"))
            .args([
                "serve",
                "--quiet",
                "--listen",
                &listen.to_string(),
                "--nats",
                &server.url,
                "--node",
                node,
            ])
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let url = format!("http://{listen}");
        let http = reqwest::Client::new();
        within_bulk("the node to serve tempest", async {
            loop {
                // Nothing to await in another process but its answers: poll them.
                if let Ok(response) = http.get(format!("{url}/games")).send().await {
                    let games: Value = response.json().await.unwrap();
                    if games["result"]["games"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|game| game["name"] == "tempest")
                    {
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        Self { child, url }
    }
}

/// What a worker agent does with the frames it gets.
#[derive(Clone, Copy, PartialEq)]
enum Answers {
    Every,
    /// Holds the first frame it gets and says so (its node is then killed).
    HoldsTheFirst,
}

/// A WebSocket agent at `base` (`http://…`) stepping `tempest`: counts the
/// frames it got; `held` is told of the first held one.
async fn worker(
    base: &str,
    answers: Answers,
    held: Option<tokio::sync::oneshot::Sender<()>>,
) -> Arc<AtomicUsize> {
    let url = format!("{}/agent", base.replacen("http://", "ws://", 1));
    let (mut socket, _) =
        within("the agent to connect", tokio_tungstenite::connect_async_with_config(url, None, true))
            .await
            .unwrap();
    let register = json!({"type": "register", "game": "tempest", "functions": ["step"], "batch": {"max": 16, "wait_ms": 1}});
    socket.send(Message::Text(register.to_string().into())).await.unwrap();
    let registered: Value = serde_json::from_str(
        within("registration", socket.next()).await.unwrap().unwrap().to_text().unwrap(),
    )
    .unwrap();
    assert_eq!(registered["type"], "registered", "{registered}");
    assert!(
        registered["lockstep"]["deadline_ms"].is_u64(),
        "the game's deadline crosses the fleet: {registered}"
    );
    let frames = Arc::new(AtomicUsize::new(0));
    let counted = frames.clone();
    let mut held = held;
    tokio::spawn(async move {
        while let Some(Ok(message)) = socket.next().await {
            let Message::Binary(bytes) = message else { continue };
            let batch = decode_frames(bytes).unwrap();
            counted.fetch_add(batch.len(), Ordering::Relaxed);
            if answers == Answers::HoldsTheFirst {
                if let Some(held) = held.take() {
                    let _ = held.send(());
                }
                continue;
            }
            let replies: Vec<(u64, Bytes)> =
                batch.iter().map(|(id, _, _, frame)| (*id, frame.slice(..5))).collect();
            let refs: Vec<(u64, &[u8])> = replies.iter().map(|(id, reply)| (*id, &reply[..])).collect();
            if socket.send(Message::Binary(encode_replies(&refs))).await.is_err() {
                return;
            }
        }
    });
    frames
}

/// Waits until the game node's `step` for `tempest` is served by `nodes`.
async fn wait_for_servers(harness: &Harness, nodes: &str) {
    wait_for_agents_of(harness, "tempest", nodes).await
}

/// Waits until the game node's agent functions of `game` are served by `nodes`.
async fn wait_for_agents_of(harness: &Harness, game: &str, nodes: &str) {
    let wanted = format!("fleet: {nodes}");
    within_bulk("the fleet's agents to be registered", async {
        loop {
            let (_, functions) = harness.get(&format!("/games/{game}/external/functions")).await;
            let served = functions["result"]["functions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|function| function["agent"] == wanted.as_str());
            if served {
                return;
            }
            // Hellos come every second; poll what the node made of them.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn three_workers_share_sixteen_instances_and_every_frame_is_answered_once() {
    let server = NatsServer::start().await;
    let (game, address) = game_node(&server, "").await;
    let mut counts = Vec::new();
    let mut nodes = Vec::new();
    for name in ["worker-1", "worker-2", "worker-3"] {
        let node = agent_node(&server, name).await;
        wait_until_served(&node, "tempest").await;
        counts.push(worker(&node.url(""), Answers::Every, None).await);
        nodes.push(node);
    }
    wait_for_servers(&game, "worker-1, worker-2, worker-3").await;

    let instances = (1..=16u8).map(|instance| {
        let address = address.clone();
        async move {
            let mut game = Instance::connect(&address).await;
            for n in 1..=100u32 {
                assert_eq!(
                    game.step(&frame(instance, n)).await,
                    expected_reply(instance, n),
                    "instance {instance}, frame {n}"
                );
            }
            game
        }
    });
    let games = within_bulk("16 instances × 100 frames", futures::future::join_all(instances)).await;
    let totals = game.game_stats("tempest").await;
    assert_eq!((totals["steps"].as_u64(), totals["step_misses"].as_u64()), (Some(1600), Some(0)));
    let got: Vec<usize> = counts.iter().map(|count| count.load(Ordering::Relaxed)).collect();
    assert_eq!(got.iter().sum::<usize>(), 1600, "each frame went to one worker: {got:?}");
    assert!(got.iter().all(|&frames| frames > 0), "every worker got a share: {got:?}");
    drop(games);
}

/// A NATS server, the node running `tempest` (with `options`), the address
/// its instances connect to, and node `worker-1`, serving it.
async fn game_and_worker(options: &str) -> (NatsServer, Harness, String, Harness) {
    let server = NatsServer::start().await;
    let (game, address) = game_node(&server, options).await;
    let worker_node = agent_node(&server, "worker-1").await;
    wait_until_served(&worker_node, "tempest").await;
    (server, game, address, worker_node)
}

/// Steps `frames` frames of instance 1 at `address`, each answered by the agent.
async fn step_answered(address: &str, frames: u32) {
    let mut instance = Instance::connect(address).await;
    for n in 1..=frames {
        assert_eq!(instance.step(&frame(1, n)).await, expected_reply(1, n), "frame {n}");
    }
}

/// The emulator machine restarts: its bridge leaves the fleet and comes
/// back. The worker's agent, which registered `step` once, answers the new
/// instance's frames as before, without registering again.
#[tokio::test]
async fn after_the_game_node_restarts_the_agents_of_other_nodes_answer_its_frames_again() {
    let (server, game, address, node) = game_and_worker("").await;
    let frames = worker(&node.url(""), Answers::Every, None).await;
    wait_for_servers(&game, "worker-1").await;
    within_bulk("10 frames before the restart", step_answered(&address, 10)).await;

    game.bridge.stop().await.unwrap();
    wait_for_game(&node, "tempest", None).await;
    let (game, address) = game_node(&server, "").await;
    wait_for_servers(&game, "worker-1").await;
    within_bulk("10 frames after the restart", step_answered(&address, 10)).await;
    assert_eq!(frames.load(Ordering::Relaxed), 20, "the worker's agent answered them all");
    let stats = game.game_stats("tempest").await;
    assert_eq!((stats["steps"].as_u64(), stats["step_misses"].as_u64()), (Some(10), Some(0)));
}

/// A frame that the agent of another node answers too late gets the
/// default reply, and that agent hears so (`step_default`), as it would
/// from its own bridge: what it records is what the game applied.
#[tokio::test]
async fn an_agent_on_another_node_hears_of_the_frame_it_answered_too_late() {
    let (_server, game, address, node) = game_and_worker("&step_timeout_ms=300").await;
    let url = node.url("/agent").replacen("http://", "ws://", 1);
    let (mut socket, _) =
        within("the agent to connect", tokio_tungstenite::connect_async(url)).await.unwrap();
    let register = json!({"type": "register", "game": "tempest", "functions": ["step"]});
    socket.send(Message::Text(register.to_string().into())).await.unwrap();
    within("registration", socket.next()).await.unwrap().unwrap();
    wait_for_servers(&game, "worker-1").await;

    let stepping = tokio::spawn(async move { Instance::connect(&address).await.step(&frame(1, 1)).await });
    let mut held = None;
    let notice = within_bulk("the frame, then its notice", async {
        loop {
            match socket.next().await.unwrap().unwrap() {
                // Never answered: the game's deadline passes.
                Message::Binary(bytes) => held = decode_frames(bytes).unwrap().first().map(|frame| frame.2),
                Message::Text(text) => {
                    let message: Value = serde_json::from_str(text.as_str()).unwrap();
                    if message["type"] == "step_default" {
                        return message;
                    }
                }
                _ => {}
            }
        }
    })
    .await;
    assert_eq!(within_bulk("the game's reply", stepping).await.unwrap(), [0; 5], "the default");
    assert_eq!((&notice["game"], &notice["code"]), (&json!("tempest/1"), &json!("CALL_TIMEOUT")), "{notice}");
    assert_eq!(notice["seq"].as_u64(), held, "the frame the agent held: {notice}");
    assert_eq!(notice["reply"], "0000000000", "what the game got");
}

#[tokio::test]
async fn the_frame_a_killed_worker_held_gets_the_default_and_the_others_go_on() {
    let server = NatsServer::start().await;
    let (game, address) = game_node(&server, "&step_timeout_ms=2000").await;
    let steady = agent_node(&server, "steady").await;
    wait_until_served(&steady, "tempest").await;
    let mut doomed = NodeProcess::start(&server, "doomed").await;
    let (held_tx, held) = tokio::sync::oneshot::channel();
    worker(&doomed.url, Answers::HoldsTheFirst, Some(held_tx)).await;
    worker(&steady.url(""), Answers::Every, None).await;
    wait_for_servers(&game, "doomed, steady").await;

    let stepping = tokio::spawn(async move {
        let mut instance = Instance::connect(&address).await;
        let mut replies = Vec::new();
        for n in 1..=60u32 {
            replies.push((n, instance.step(&frame(1, n)).await));
        }
        replies
    });
    within_bulk("a frame to reach the doomed worker", held).await.unwrap();
    doomed.child.kill().await.unwrap(); // SIGKILL, holding a frame
    let replies = within_bulk("the instance's frames", stepping).await.unwrap();
    let defaulted: Vec<u32> =
        replies.iter().filter(|(n, got)| *got != expected_reply(1, *n)).map(|(n, _)| *n).collect();
    assert_eq!(defaulted.len(), 1, "only the held frame missed: {defaulted:?}");
    let (_, got) = replies[defaulted[0] as usize - 1];
    assert_eq!(got, [0; 5], "the default reply");
    let stats = game.game_stats("tempest").await;
    assert_eq!((stats["steps"].as_u64(), stats["step_misses"].as_u64()), (Some(60), Some(1)));
}

/// Node `sim-node` serving an Agent Arena game `arena`, and node `learner`,
/// serving none, once it serves `arena` too.
async fn arena_and_learner(server: &NatsServer) -> (Harness, Harness) {
    let fleet_game = fleet(server, "sim-node");
    let game = Harness::start_configured(
        tempfile::tempdir().unwrap(),
        &[("arena", "agent-arena".to_owned())],
        |config| config.fleet = fleet_game,
    )
    .await;
    let learner = agent_node(server, "learner").await;
    wait_until_served(&learner, "arena").await;
    (game, learner)
}

#[tokio::test]
async fn an_arena_tick_is_decided_by_an_agent_connected_to_another_node() {
    let server = NatsServer::start().await;
    let (game, learner) = arena_and_learner(&server).await;
    let url = learner.url("/agent").replacen("http://", "ws://", 1);
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let register =
        json!({"type": "register", "game": "arena", "functions": [{"name": "decide", "timeout_ms": 5000}]});
    socket.send(Message::Text(register.to_string().into())).await.unwrap();
    socket.next().await.unwrap().unwrap();
    tokio::spawn(async move {
        while let Some(Ok(Message::Text(text))) = socket.next().await {
            let call: Value = serde_json::from_str(text.as_str()).unwrap();
            let actions: Vec<Value> = (call["args"]["agents"].as_array().unwrap().iter())
                .map(|agent| json!({"agent_id": agent["agent_id"], "tool": "move_to", "params": {"target_position": [9, 9, 9]}, "reasoning": "from the learner"}))
                .collect();
            let result =
                json!({"type": "result", "id": call["id"], "success": true, "result": {"actions": actions}});
            socket.send(Message::Text(result.to_string().into())).await.unwrap();
        }
    });
    wait_for_agents_of(&game, "arena", "learner").await;

    let perceptions: Vec<Value> =
        (0..4).map(|n| json!({"agent_id": format!("a{n}"), "tick": 1, "position": [n, 0, 0]})).collect();
    let answer = game.post("/tick", json!({"tick": 1, "perceptions": perceptions})).await;
    let actions = answer["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 4, "{answer}");
    assert!(actions.iter().all(|action| action["reasoning"] == "from the learner"), "{answer}");
}

/// A webhook registered on another node to decide the arena's ticks gets
/// one POST per agent, as on the game's own node (the tick is split on the
/// webhook's node); an agent whose POST fails gets the game's fallback.
#[tokio::test]
async fn an_arena_tick_decided_by_a_webhook_on_another_node_is_one_post_per_agent() {
    let server = NatsServer::start().await;
    let (game, learner) = arena_and_learner(&server).await;
    let asked = Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let recorded = asked.clone();
    let webhook = axum::Router::new().route(
        "/decide",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let recorded = recorded.clone();
            async move {
                let agent = body["args"]["agent_id"].as_str().unwrap_or_default().to_owned();
                recorded.lock().unwrap().push(body["args"].clone());
                if agent == "a3" {
                    return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({"success": false})));
                }
                let decision = json!({"tool": "move_to", "params": {"target_position": [9, 9, 9]}, "reasoning": format!("webhook for {agent}")});
                (axum::http::StatusCode::OK, axum::Json(json!({"success": true, "result": decision})))
            }
        }),
    );
    let url = format!("{}/decide", support::serve_http(webhook).await);
    let registered = learner
        .post(
            "/games/arena/external/register",
            json!({"name": "decide", "url": url, "async": false, "timeout": 5000}),
        )
        .await;
    assert_eq!(registered["success"], true, "{registered}");
    wait_for_agents_of(&game, "arena", "learner").await;

    let perceptions: Vec<Value> =
        (0..4).map(|n| json!({"agent_id": format!("a{n}"), "position": [n, 0, 0]})).collect();
    let answer = game.post("/tick", json!({"tick": 1, "perceptions": perceptions})).await;
    let actions = answer["actions"].as_array().unwrap();
    let reasons: Vec<&str> = actions.iter().map(|action| action["reasoning"].as_str().unwrap()).collect();
    assert_eq!(&reasons[..3], ["webhook for a0", "webhook for a1", "webhook for a2"], "{answer}");
    assert_eq!(actions[3]["tool"], "idle", "the failed agent's fallback: {answer}");
    let mut asked = asked.lock().unwrap().clone();
    asked.sort_by_key(|args| args["agent_id"].as_str().unwrap().to_owned());
    assert_eq!(asked.len(), 4, "one POST per agent: {asked:?}");
    for (n, args) in asked.iter().enumerate() {
        assert_eq!((&args["agent_id"], &args["tick"]), (&json!(format!("a{n}")), &json!(1)), "{args}");
        assert_eq!(args["observation"]["position"], json!([n, 0, 0]), "{args}");
    }
    let (_, metrics) = game.get("/metrics").await;
    assert_eq!(metrics["total_fallbacks"], 1, "{metrics}");
}
