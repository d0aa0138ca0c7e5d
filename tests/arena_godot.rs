//! Agent Arena as the real Godot client and scene reach it: exactly the
//! bytes `agent_arena.cpp`, `base_hazard.gd` and the scene controllers
//! write, over raw TCP, answered as the original Python server answers
//! the same requests (its rule-based mock decision, its nineteen tools,
//! its metrics) — and no tick lost for one agent's bad data.

mod support;

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::routing::post;
use serde_json::{Value, json};
use support::{Harness, godot};

async fn arena() -> Harness {
    Harness::start(&[("arena", "agent-arena".to_owned())]).await
}

/// A V1 tick as `IPCClient::send_tick_request` writes it.
fn tick_body(tick: u64, perceptions: &str) -> String {
    format!(r#"{{"tick":{tick},"perceptions":[{perceptions}],"simulation_state":{{}}}}"#)
}

#[tokio::test]
async fn the_rules_decide_every_agent_as_the_originals_mock_decision() {
    let harness = arena().await;
    let perceptions = [
        // On the ground plane 1 unit from a fire, standing 1 unit high.
        r#"{"agent_id":"runner","tick":3,"position":[0.0,1.0,0.0],"custom_data":{"nearby_hazards":[{"name":"Fire1","type":"fire","position":[1.0,0.0,0.0],"distance":1.4142}]}}"#,
        // Two hazards in range: the first listed is fled, not the nearest.
        r#"{"agent_id":"wary","tick":3,"position":[0.0,0.0,0.0],"custom_data":{"nearby_hazards":[{"type":"spikes","position":[3.0,0.0,0.0],"distance":2.5},{"type":"pit","position":[0.0,0.0,1.0],"distance":0.5}]}}"#,
        // The nearest resource under 5.
        r#"{"agent_id":"gatherer","tick":3,"position":[0.0,0.0,0.0],"custom_data":{"nearby_resources":[{"name":"Berry1","type":"berry","position":[3.0,0.0,0.0],"distance":3.0},{"name":"Wood1","type":"wood","position":[1.0,0.0,1.0],"distance":1.41}]}}"#,
        // Lists outside custom_data, and items without a distance: nothing near.
        r#"{"agent_id":"outside","tick":3,"nearby_resources":[{"position":[1.0,0.0,0.0],"distance":1.0}],"custom_data":{"nearby_hazards":[{"position":[0.0,0.0,0.0]}]}}"#,
    ];
    let answer = godot::post(&harness.address(), "/tick", &tick_body(4, &perceptions.join(","))).await;
    let answer = answer.reaching_the_game().expect("a 200 JSON answer").clone();
    let actions = answer["actions"].as_array().unwrap();
    let expected = [
        json!({"agent_id": "runner", "tick": 4, "tool": "move_to",
               "params": {"target_position": [-4.0, 1.0, 0.0], "speed": 2.0},
               "reasoning": "Avoiding nearby fire hazard at distance 1.4"}),
        json!({"agent_id": "wary", "tick": 4, "tool": "move_to",
               "params": {"target_position": [-2.0, 0.0, 0.0], "speed": 2.0},
               "reasoning": "Avoiding nearby spikes hazard at distance 2.5"}),
        json!({"agent_id": "gatherer", "tick": 4, "tool": "move_to",
               "params": {"target_position": [1.0, 0.0, 1.0], "speed": 1.5},
               "reasoning": "Moving to collect wood (Wood1) at distance 1.4"}),
        json!({"agent_id": "outside", "tick": 4, "tool": "idle", "params": {},
               "reasoning": "No immediate actions needed - exploring environment"}),
    ];
    for (action, expected) in actions.iter().zip(&expected) {
        assert_eq!(action, expected, "each action carries the request's tick, not the perception's");
    }
    assert_eq!(answer["metrics"]["agents_processed"], 4);
    assert_eq!(answer["metrics"]["actions_generated"], 4, "every action counts, idle too");

    // The scene controller's /observe: the lists at the top level.
    let observe = r#"{"agent_id":"solo","tick":9,"position":[0,0,0],"health":100.0,"max_health":100.0,"perception_radius":50.0,"nearby_resources":[{"name":"Stone1","type":"stone","distance":2.0,"position":[2,0,0]}],"nearby_hazards":[]}"#;
    let decided = godot::post(&harness.address(), "/observe", observe).await;
    assert_eq!(
        decided.reaching_the_game(),
        Some(
            &json!({"agent_id": "solo", "tool": "move_to", "params": {"target_position": [2, 0, 0], "speed": 1.5},
                     "reasoning": "Moving to collect stone (Stone1) at distance 2.0"})
        )
    );
    let numbered = godot::post(&harness.address(), "/observe", r#"{"agent_id":42,"position":[0,0,0]}"#).await;
    assert_eq!(numbered.body["agent_id"], 42, "the id as sent");
    let (_, metrics) = harness.get("/metrics").await;
    assert_eq!(
        (metrics["total_ticks"].as_u64(), metrics["total_observations_processed"].as_u64()),
        (Some(1), Some(2)),
        "an /observe is not a tick: {metrics}"
    );
    assert_eq!(metrics["total_agents_processed"], 4);
}

#[tokio::test]
async fn one_agents_bad_data_costs_that_agent_and_never_the_tick() {
    let harness = arena().await;
    let perceptions = [
        r#"{"agent_id":"good","tick":12,"position":[0.0,0.0,0.0],"custom_data":{"nearby_resources":[{"name":"Stone1","type":"stone","position":[2.0,0.0,0.0],"distance":2.0}]}}"#,
        r#"{"tick":12,"position":[0.0,0.0,0.0]}"#,
        r#"{"agent_id":7,"tick":12,"health":null}"#,
        r#"{"agent_id":"tough","tick":12,"health":"high"}"#,
        // Python's JSON reads these; newer Godot writes 1e99999 for INF.
        r#"{"agent_id":"infinite","tick":12,"energy":1e99999,"custom_data":{"nearby_hazards":[{"type":"void","position":[0.0,0.0,0.0],"distance":Infinity}],"nearby_resources":[{"name":"Gold","type":"gold","position":[5.0,0.0,0.0],"distance":NaN},{"name":"Ore","type":"iron","position":[4.0,0.0,0.0],"distance":4.0}]}}"#,
        r#"{"agent_id":"flying","tick":12,"position":[0.0,Infinity,0.0],"custom_data":{"nearby_hazards":[{"type":"fire","position":[1.0,0.0,0.0],"distance":-Infinity}]}}"#,
    ];
    let answer = godot::post(&harness.address(), "/tick", &tick_body(12, &perceptions.join(","))).await;
    let answer = answer.reaching_the_game().expect("a 200 JSON answer").clone();
    let actions = answer["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 6, "every entry is answered: {answer}");
    assert_eq!(
        (actions[0]["tool"].as_str(), actions[0]["params"]["speed"].as_f64()),
        (Some("move_to"), Some(1.5))
    );
    assert_eq!((&actions[1]["agent_id"], actions[1]["tool"].as_str()), (&Value::Null, Some("idle")));
    assert!(actions[1]["reasoning"].as_str().unwrap().contains("no agent_id"), "{}", actions[1]);
    assert_eq!((&actions[2]["agent_id"], actions[2]["tool"].as_str()), (&json!(7), Some("idle")));
    assert_eq!(
        actions[2]["reasoning"], "No immediate actions needed - exploring environment",
        "decided, as the original does"
    );
    assert_eq!(actions[3]["reasoning"], "No immediate actions needed - exploring environment");
    assert_eq!(
        actions[4]["params"]["target_position"],
        json!([4.0, 0.0, 0.0]),
        "an infinitely far hazard is no hazard"
    );
    assert_eq!(
        (&actions[5]["params"]["target_position"], actions[5]["reasoning"].as_str()),
        (&json!([-4.0, null, 0.0]), Some("Avoiding nearby fire hazard at distance -inf")),
        "infinities written as the original's encoder writes them"
    );
    assert_eq!(harness.get("/metrics").await.1["total_invalid_agents"], 1);

    let empty = godot::post(&harness.address(), "/tick", r#"{"tick":1}"#).await;
    let empty = empty.reaching_the_game().expect("a tick without agents is answered");
    assert_eq!((empty["tick"].as_u64(), empty["actions"].as_array().map(Vec::len)), (Some(1), Some(0)));
}

#[tokio::test]
async fn tool_calls_in_the_godot_clients_shape_reach_the_game() {
    let harness = arena().await;
    let address = harness.address();
    // `_process_next_tool_request`: key `tool`, agent_id and tick only when set.
    let executed = godot::post(
        &address,
        "/tools/execute",
        r#"{"tool":"move_to","params":{"target_position":[1.0,2.0,3.0]},"agent_id":"agent_001","tick":5}"#,
    )
    .await;
    assert_eq!(
        executed.reaching_the_game(),
        Some(
            &json!({"success": true, "result": {"success": true, "path": [], "estimated_time": 0.0}, "error": ""})
        )
    );
    let collected =
        godot::post(&address, "/tools/execute", r#"{"tool":"collect","params":{"target":"Berry1"}}"#).await;
    assert_eq!(collected.body["result"]["message"], "Collected Berry1");
    let unknown = godot::post(&address, "/tools/execute", r#"{"tool":"fly","params":{}}"#).await;
    assert_eq!(
        unknown.reaching_the_game(),
        Some(&json!({"success": false, "result": null, "error": "Tool 'fly' not found"}))
    );
    let invalid = godot::post(&address, "/tools/execute", r#"{"tool":"move_to","params":{}}"#).await;
    assert_eq!(invalid.body["error"], "Invalid parameters for tool 'move_to'");
    let nameless = godot::post(&address, "/tools/execute", r#"{"params":{}}"#).await;
    assert_eq!(
        (nameless.status, nameless.body["success"].as_bool()),
        (200, Some(false)),
        "answered, as the original"
    );

    let (_, list) = harness.get("/tools/list").await;
    assert_eq!(list["count"], 19, "{list}");
    let tools = list["tools"].as_object().unwrap();
    assert_eq!(tools.len(), 19);
    for name in [
        "move_to",
        "collect",
        "raycast",
        "measure_distance",
        "plan_path",
        "explore_direction",
        "get_exploration_status",
    ] {
        assert_eq!(tools[name]["name"], name);
        assert!(
            tools[name]["returns"].is_object() && tools[name]["parameters"]["type"] == "object",
            "{name}"
        );
    }
    assert_eq!(
        harness.get("/metrics").await.1["total_tools_executed"],
        4,
        "every named call, as the original counts"
    );
    assert_eq!(godot::get(&address, "/health").await.status, 200, "the client's connection check");
}

/// A webhook `decide` agent that records what it is given.
async fn recording_agent(harness: &Harness) -> Arc<Mutex<Vec<Value>>> {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = calls.clone();
    let app = axum::Router::new().route(
        "/",
        post(move |Json(body): Json<Value>| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(body["args"].clone());
                Json(json!({"success": true, "result": {"tool": "idle", "params": {}, "reasoning": "resting"}}))
            }
        }),
    );
    let url = format!("{}/", support::serve_http(app).await);
    let registered = harness
        .post(
            "/games/arena/external/register",
            json!({"name": "decide", "url": url, "async": false, "timeout": 5000}),
        )
        .await;
    assert_eq!(registered["success"], true, "{registered}");
    calls
}

#[tokio::test]
async fn an_experience_the_scene_reports_reaches_the_agent_deciding_next() {
    let harness = arena().await;
    let address = harness.address();
    let calls = recording_agent(&harness).await;
    // What base_hazard.gd posts when an agent takes damage.
    let damage = r#"{"agent_id":"runner","tick":12,"event_type":"damage","description":"Took damage from fire","position":[1.0,0.0,0.0],"object_name":"Fire1","damage_taken":10.0,"metadata":{"hazard_type":"fire","agent_health":90.0}}"#;
    let reported = godot::post(&address, "/experience", damage).await;
    assert_eq!(reported.reaching_the_game(), Some(&json!({"success": true})));
    let agents = r#"{"agent_id":"runner","tick":13},{"agent_id":"other","tick":13}"#;
    godot::post(&address, "/tick", &tick_body(13, agents)).await.reaching_the_game().expect("answered");
    godot::post(&address, "/tick", &tick_body(14, agents)).await.reaching_the_game().expect("answered");
    let calls = calls.lock().unwrap().clone();
    let runner: Vec<&Value> = calls.iter().filter(|args| args["agent_id"] == "runner").collect();
    assert_eq!(runner.len(), 2);
    let damage: Value = serde_json::from_str(damage).unwrap();
    assert_eq!(runner[0]["experiences"], json!([damage]), "with the next decision: {}", runner[0]);
    assert!(runner[1].get("experiences").is_none(), "and only once");
    assert!(calls.iter().all(|args| args["agent_id"] == "runner" || args.get("experiences").is_none()));
    assert_eq!(harness.get("/metrics").await.1["total_experiences"], 1);
}
