//! Agent Arena: the simulation posts `/tick` (both shapes) and the bridge's
//! own routes answer, deciding every agent at once with a deadline, by the
//! rules, a webhook or WebSocket agent, or an OpenAI-compatible model.

mod support;

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::routing::post;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use support::{Harness, within};
use tokio_tungstenite::tungstenite::Message;

async fn arena(options: &str) -> Harness {
    Harness::start(&[("arena", format!("agent-arena{options}"))]).await
}

async fn arena_with_spec(spec: &str) -> Harness {
    Harness::start(&[("arena", spec.to_owned())]).await
}

/// An agent near a hazard, one near a resource, one with nothing around.
fn perceptions(tick: u64) -> Value {
    json!([
        {"agent_id": "runner", "tick": tick, "position": [0, 0, 0],
         "custom_data": {"nearby_hazards": [{"position": [1, 0, 0], "distance": 1.0}]}},
        {"agent_id": "gatherer", "tick": tick, "position": [0, 0, 0],
         "custom_data": {"nearby_resources": [{"position": [0, 0, 4], "type": "berry", "distance": 4.0}]}},
        {"agent_id": "idler", "tick": tick}
    ])
}

#[tokio::test]
async fn both_tick_shapes_are_answered_by_the_rules() {
    let harness = arena("").await;
    let answer = harness
        .post("/tick", json!({"tick": 7, "perceptions": perceptions(7), "simulation_state": {}}))
        .await;
    assert_eq!(answer["tick"], 7);
    let actions = answer["actions"].as_array().unwrap();
    assert_eq!(actions[0]["agent_id"], "runner");
    assert_eq!(actions[0]["tick"], 7);
    assert_eq!(actions[0]["tool"], "move_to");
    assert_eq!(actions[0]["params"], json!({"target_position": [-4.0, 0, 0.0], "speed": 2.0}));
    assert!(actions[0]["reasoning"].as_str().unwrap().contains("hazard"));
    assert_eq!(actions[1]["params"], json!({"target_position": [0, 0, 4], "speed": 1.5}));
    assert_eq!(actions[2]["tool"], "idle");
    assert_eq!(answer["metrics"]["agents_processed"], 3);
    assert_eq!(answer["metrics"]["actions_generated"], 3);
    assert!(answer["metrics"]["tick_time_ms"].as_f64().unwrap() >= 0.0);

    let sdk = harness
        .post(
            "/tick",
            json!({"tick": 8, "agents": [{"agent_id": "a1", "observations": {"position": [0, 0, 0],
            "nearby_resources": [{"position": [1, 0, 0], "distance": 1.0}]}}]}),
        )
        .await;
    assert_eq!(sdk["tick"], 8);
    assert_eq!(sdk["actions"][0]["agent_id"], "a1");
    assert_eq!(sdk["actions"][0]["action"]["tool"], "move_to");
    assert_eq!(sdk["actions"][0]["action"]["params"]["speed"], 1.5);

    let (status, bad) = harness.post_status("/tick", r#"[{"tick": 1}]"#).await;
    assert_eq!(status, 422, "a list is no tick: {bad}");
    let (status, _) = harness.post_status("/tick", r#"{"tick": 1, "perceptions": 5}"#).await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn every_route_answers_as_the_reference_and_counts() {
    let harness = arena("").await;
    let (status, root) = harness.get("/").await;
    assert_eq!(status, 200);
    assert_eq!((root["status"].as_str(), root["success"].as_bool()), (Some("running"), Some(true)), "{root}");
    assert!(root["metrics"]["total_ticks"].is_u64() && root["result"]["service"] == "gamebridge");
    let (_, health) = harness.get("/health").await;
    assert_eq!((health["status"].as_str(), health["success"].as_bool()), (Some("ok"), Some(true)));
    assert!(health["result"]["uptime"].is_u64(), "a Vox client finds its fields too: {health}");

    let (status, missing) = harness.post_status("/agents/register", r#"{"name": "no id"}"#).await;
    assert_eq!((status, missing["detail"].as_str()), (400, Some("agent_id is required")));
    let registered = harness.post("/agents/register", json!({"agent_id": "agent_001"})).await;
    assert_eq!(registered, json!({"status": "success", "agent_id": "agent_001"}));
    assert_eq!(harness.get("/health").await.1["agents"], 1);

    harness.post("/tick", json!({"tick": 1, "perceptions": perceptions(1)})).await;
    harness.post("/tick", json!({"tick": 2, "perceptions": perceptions(2)})).await;
    let observed =
        harness.post("/observe", json!({"agent_id": "solo", "observations": {"position": [0, 0, 0]}})).await;
    assert_eq!((observed["agent_id"].as_str(), observed["tool"].as_str()), (Some("solo"), Some("idle")));

    let (_, tools) = harness.get("/tools/list").await;
    assert!(tools["tools"]["move_to"].is_object() && tools["tools"]["idle"].is_object(), "{tools}");
    let flat = json!({"name": "craft", "description": "Craft an item",
        "parameters": {"recipe": {"type": "string", "description": "what"}, "count": {"type": "integer", "default": 1}}});
    let registered = harness.post("/tools/register", flat).await;
    assert_eq!(registered["tool"]["parameters"]["type"], "object", "the flat form became JSON Schema");
    assert_eq!(registered["tool"]["parameters"]["required"], json!(["recipe"]));
    let executed = harness
        .post(
            "/tools/execute",
            json!({"tool_name": "craft", "params": {"recipe": "axe"}, "agent_id": "a", "tick": 3}),
        )
        .await;
    assert_eq!(
        (executed["success"].as_bool(), executed["error"].as_str()),
        (Some(true), Some("")),
        "{executed}"
    );
    assert_eq!(executed["result"], json!({"recipe": "axe", "count": 1}));
    // The Godot client names the tool `tool`.
    let godot = harness
        .post(
            "/tools/execute",
            json!({"tool": "craft", "params": {"recipe": "bow"}, "agent_id": "a", "tick": 4}),
        )
        .await;
    assert_eq!(
        (godot["success"].as_bool(), godot["result"]["recipe"].as_str()),
        (Some(true), Some("bow")),
        "{godot}"
    );
    let refused = harness.post("/tools/execute", json!({"tool_name": "craft", "params": {}})).await;
    assert_eq!(refused["success"], false);
    assert!(refused["error"].as_str().unwrap().contains("recipe"));

    let (_, metrics) = harness.get("/metrics").await;
    assert_eq!(metrics["total_ticks"], 2, "two ticks; an observe is not one: {metrics}");
    assert_eq!(metrics["total_agents_processed"], 6);
    assert_eq!(metrics["total_observations_processed"], 1);
    assert_eq!(metrics["total_tools_executed"], 3, "both shapes and the refused call");
    assert!(metrics["avg_tick_time_ms"].as_f64().unwrap() >= 0.0);

    let prometheus =
        harness.http.get(harness.url("/metrics/prometheus")).send().await.unwrap().text().await.unwrap();
    assert!(prometheus.contains("# TYPE gamebridge_calls_total counter"));
    assert!(prometheus.contains("gamebridge_arena_ticks_total 2"), "{prometheus}");
}

#[tokio::test]
async fn a_hundred_agents_and_one_too_slow_the_tick_still_answers_in_time() {
    let harness = arena("?decide_timeout_ms=300").await;
    let agent = support::serve_http(axum::Router::new().route(
        "/",
        post(|Json(body): Json<Value>| async move {
            let agent = body["args"]["agent_id"].as_str().unwrap().to_owned();
            if agent == "agent_042" {
                std::future::pending::<()>().await;
            }
            Json(json!({"success": true, "result": {"tool": "pickup_item", "params": {"item_id": agent}, "reasoning": "mine"}}))
        }),
    ))
    .await;
    let registered = harness
        .post(
            "/games/arena/external/register",
            json!({"name": "decide", "url": agent + "/", "async": false, "timeout": 5000}),
        )
        .await;
    assert_eq!(registered["success"], true);
    let perceptions: Vec<Value> =
        (0..100).map(|n| json!({"agent_id": format!("agent_{n:03}"), "tick": 1})).collect();
    let answer =
        within("the tick", harness.post("/tick", json!({"tick": 1, "perceptions": perceptions}))).await;
    let actions = answer["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 100);
    for (n, action) in actions.iter().enumerate() {
        if n == 42 {
            assert_eq!(action["tool"], "idle");
            assert!(action["reasoning"].as_str().unwrap().contains("300 ms deadline"), "{action}");
        } else {
            assert_eq!(action["tool"], "pickup_item", "agent {n}");
            assert_eq!(action["params"]["item_id"], format!("agent_{n:03}"));
        }
    }
    assert_eq!(harness.get("/metrics").await.1["total_fallbacks"], 1);
}

#[tokio::test]
async fn a_websocket_agent_decides_the_whole_tick_in_one_batch() {
    let harness = arena("").await;
    let url = harness.url("/agent").replacen("http://", "ws://", 1);
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let register =
        json!({"type": "register", "game": "arena", "functions": [{"name": "decide", "timeout_ms": 5000}]});
    socket.send(Message::Text(register.to_string().into())).await.unwrap();
    socket.next().await.unwrap().unwrap();
    let batches = Arc::new(Mutex::new(Vec::new()));
    let seen = batches.clone();
    tokio::spawn(async move {
        while let Some(Ok(Message::Text(text))) = socket.next().await {
            let call: Value = serde_json::from_str(text.as_str()).unwrap();
            let agents = call["args"]["agents"].as_array().unwrap().clone();
            seen.lock().unwrap().push(agents.len());
            // Every agent but the last gets an action.
            let actions: Vec<Value> = agents[..agents.len() - 1]
                .iter()
                .map(|agent| {
                    json!({"agent_id": agent["agent_id"], "tool": "move_to",
                    "params": {"target_position": agent["observation"]["position"]}, "reasoning": "batched"})
                })
                .collect();
            let result =
                json!({"type": "result", "id": call["id"], "success": true, "result": {"actions": actions}});
            socket.send(Message::Text(result.to_string().into())).await.unwrap();
        }
    });
    let perceptions: Vec<Value> =
        (0..10).map(|n| json!({"agent_id": format!("a{n}"), "tick": 5, "position": [n, 0, 0]})).collect();
    let answer = harness.post("/tick", json!({"tick": 5, "perceptions": perceptions})).await;
    let actions = answer["actions"].as_array().unwrap();
    assert_eq!(actions[3]["params"]["target_position"], json!([3, 0, 0]));
    assert_eq!(actions[3]["reasoning"], "batched");
    assert_eq!(actions[9]["tool"], "idle");
    assert!(actions[9]["reasoning"].as_str().unwrap().contains("no action"));
    assert_eq!(*batches.lock().unwrap(), vec![10], "one call carried all ten agents");
}

/// An OpenAI-compatible endpoint answering each request with `answer`, and
/// keeping the requests.
async fn fake_model(answer: Value) -> (String, Arc<Mutex<Vec<Value>>>) {
    let requests = Arc::new(Mutex::new(Vec::new()));
    let log = requests.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |Json(body): Json<Value>| {
            log.lock().unwrap().push(body);
            let answer = answer.clone();
            async move { Json(answer) }
        }),
    );
    (support::serve_http(app).await + "/v1", requests)
}

#[tokio::test]
async fn the_llm_backend_turns_tool_calls_and_json_text_into_actions() {
    let tool_call = json!({"choices": [{"message": {"role": "assistant", "content": null, "tool_calls": [
        {"id": "call_1", "type": "function",
         "function": {"name": "move_to", "arguments": "{\"target_position\": [1, 2, 3], \"speed\": 1.0}"}}
    ]}}]});
    let (url, requests) = fake_model(tool_call).await;
    let harness =
        arena_with_spec(&format!("agent-arena?backend=llm&llm_url={url}&llm_model=tiny&llm_temperature=0.2"))
            .await;
    let answer =
        harness.post("/tick", json!({"tick": 1, "perceptions": [{"agent_id": "scout", "tick": 1}]})).await;
    assert_eq!(answer["actions"][0]["tool"], "move_to");
    assert_eq!(answer["actions"][0]["params"], json!({"target_position": [1, 2, 3], "speed": 1.0}));
    let request = requests.lock().unwrap()[0].clone();
    assert_eq!(request["model"], "tiny");
    assert_eq!(request["temperature"], 0.2);
    assert_eq!(request["messages"][0]["role"], "system");
    let observation: Value =
        serde_json::from_str(request["messages"][1]["content"].as_str().unwrap()).unwrap();
    assert_eq!(observation["agent_id"], "scout");
    assert_eq!(observation["health"], 100.0, "the reference's defaults are filled in");
    let tools: Vec<&str> = request["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["function"]["name"].as_str().unwrap())
        .collect();
    assert!(tools.contains(&"move_to") && tools.contains(&"idle"));
    assert_eq!(request["tools"][0]["function"]["parameters"]["type"], "object");

    // Per agent: a model that answers in text, and one that is down.
    let text = json!({"choices": [{"message": {"role": "assistant",
        "content": "Best: {\"tool\": \"pickup_item\", \"params\": {\"item_id\": \"berry\"}, \"reasoning\": \"hungry\"}"}}]});
    let (text_url, _) = fake_model(text).await;
    let backend = json!({"kind": "llm", "base_url": text_url, "model": "tiny"});
    harness.post("/agents/register", json!({"agent_id": "talker", "backend": backend})).await;
    let down = json!({"kind": "llm", "base_url": "http://127.0.0.1:9/v1", "model": "tiny"});
    harness.post("/agents/register", json!({"agent_id": "orphan", "backend": down})).await;
    harness.post("/agents/register", json!({"agent_id": "ruled", "backend": {"kind": "rules"}})).await;
    let answer = harness
        .post("/tick", json!({"tick": 2, "perceptions": [
            {"agent_id": "talker", "tick": 2}, {"agent_id": "orphan", "tick": 2}, {"agent_id": "ruled", "tick": 2}]}))
        .await;
    assert_eq!(answer["actions"][0]["tool"], "pickup_item");
    assert_eq!(answer["actions"][0]["reasoning"], "hungry");
    assert_eq!(answer["actions"][1]["tool"], "idle");
    assert!(
        answer["actions"][1]["reasoning"].as_str().unwrap().contains("model"),
        "{}",
        answer["actions"][1]
    );
    assert_eq!(answer["actions"][2]["reasoning"], "No immediate actions needed - exploring environment");
}

#[tokio::test]
async fn without_an_arena_game_the_routes_say_so() {
    let (harness, _game, _connection) = Harness::with_one_game().await;
    let (status, answer) = harness.post_status("/tick", r#"{"tick": 1, "perceptions": []}"#).await;
    assert_eq!(status, 404);
    assert!(answer["detail"].as_str().unwrap().contains("agent-arena"));
    let (_, health) = harness.get("/health").await;
    assert!(health.get("status").is_none(), "the Vox health answer stays as it was");
}

#[tokio::test]
async fn experiences_the_scene_reports_reach_agents_as_events() {
    let harness = arena("").await;
    let mut stream = harness.sse("/events?types=experience").await;
    // What base_hazard.gd posts when an agent takes damage.
    let damage = json!({"agent_id": "a1", "tick": 12, "event_type": "damage", "description": "fire",
        "position": [1.0, 0.0, 2.0], "object_name": "Fire", "damage_taken": 10.0});
    assert_eq!(harness.post("/experience", damage.clone()).await, json!({"success": true}));
    let event = stream.next_message().await;
    assert_eq!((event.data["type"].as_str(), event.data["game"].as_str()), (Some("experience"), None));
    assert_eq!(event.data["payload"], damage, "the body as the scene sent it");
    let refused = harness.post("/experience", json!({"tick": 12})).await;
    assert_eq!(refused, json!({"success": false, "error": "Missing agent_id"}), "as the original answers");
}
