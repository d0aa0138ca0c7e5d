//! An agent written for the Agent Arena SDK (`decide(Observation) ->
//! Decision`, handed to `AgentArena().run`) decides gamebridge's arena
//! ticks with no edit, through the shipped adapter `gamebridge-arena-agent`
//! (python/gamebridge/agent_arena.py). The SDK is not on PyPI: the test
//! runs the adapter with a stand-in of its interface (tests/arena_sdk/).
//! Needs python3 with `websockets`: CI installs it (.ci/deps); elsewhere the
//! test is skipped without it.

mod support;

use std::path::Path;
use std::process::Stdio;

use serde_json::json;
use support::{Harness, godot, within};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Starts the adapter on `agent` (a script or `module:callable`) and waits
/// until it says it is deciding the arena.
async fn adapter(harness: &Harness, agent: &str) -> tokio::process::Child {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = std::env::join_paths([root.join("python"), root.join("tests/arena_sdk")]).unwrap();
    let url = harness.url("/agent").replacen("http://", "ws://", 1);
    let mut child = tokio::process::Command::new("python3")
        .args(["-m", "gamebridge.agent_arena", agent, "--url", &url])
        .current_dir(root.join("tests/arena_sdk"))
        .env("PYTHONPATH", path)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Python takes a few seconds to start on a loaded machine.
    let said = tokio::time::timeout(support::STEP * 3, lines.next_line()).await.expect("the adapter starts");
    assert!(said.unwrap().unwrap_or_default().contains("deciding arena"), "the adapter registered");
    child
}

#[tokio::test]
async fn an_sdk_agent_script_decides_the_arena_unchanged() {
    if !support::python_with("websockets") {
        return;
    }
    let harness = Harness::start(&[("arena", "agent-arena".to_owned())]).await;
    let _agent = adapter(&harness, "forager.py").await;
    let address = harness.address();
    // The SDK scene's shape: {tick, agents: [{agent_id, observations}]}.
    let tick = r#"{"tick":7,"agents":[
        {"agent_id":"a1","observations":{"position":[0,0,0],"nearby_resources":[{"name":"Berry1","type":"berry","position":[2.0,0.0,1.0],"distance":2.2}],"nearby_hazards":[]}},
        {"agent_id":"broken","observations":{"position":[0,0,0]}},
        {"agent_id":"bare","observations":{"position":[0,0,0]}}]}"#;
    let answer = within("the tick", godot::post(&address, "/tick", tick)).await;
    let answer = answer.reaching_the_game().expect("a 200 JSON answer").clone();
    assert_eq!(
        answer["actions"],
        json!([
            {"agent_id": "a1", "action": {"tool": "move_to", "params": {"target_position": [2.0, 0.0, 1.0]}, "reasoning": "forage Berry1 at tick 7"}},
            {"agent_id": "broken", "action": {"tool": "idle", "params": {}, "reasoning": "Error: no plan"}},
            {"agent_id": "bare", "action": {"tool": "idle", "params": {}, "reasoning": ""}}
        ]),
        "{answer}"
    );
    // The first shape, lists in custom_data, after an experience the scene reported.
    let damage = r#"{"agent_id":"a2","tick":8,"event_type":"damage","description":"Took damage from fire","position":[1.0,0.0,0.0],"damage_taken":10.0}"#;
    assert_eq!(godot::post(&address, "/experience", damage).await.status, 200);
    let v1 = r#"{"tick":9,"perceptions":[{"agent_id":"a2","tick":9,"position":[0.0,0.0,0.0],"custom_data":{"nearby_resources":[{"name":"Wood1","type":"wood","position":[3.0,0.0,0.0],"distance":3.0}]}}],"simulation_state":{}}"#;
    let answer = godot::post(&address, "/tick", v1).await;
    let action = &answer.reaching_the_game().expect("a 200 JSON answer")["actions"][0];
    assert_eq!(
        (action["tool"].as_str(), action["reasoning"].as_str()),
        (Some("move_to"), Some("forage Wood1 at tick 9 after damage")),
        "{action}"
    );
}

#[tokio::test]
async fn a_decide_function_of_a_module_is_an_agent_too() {
    if !support::python_with("websockets") {
        return;
    }
    let harness = Harness::start(&[("arena", "agent-arena".to_owned())]).await;
    let _agent = adapter(&harness, "forager:decide").await;
    let tick = r#"{"tick":3,"agents":[{"agent_id":"a1","observations":{"position":[0,0,0],"nearby_resources":[{"name":"Stone1","type":"stone","position":[1,0,0],"distance":1.0}]}}]}"#;
    let answer = godot::post(&harness.address(), "/tick", tick).await;
    assert_eq!(
        answer.body["actions"][0]["action"]["reasoning"], "forage Stone1 at tick 3",
        "{}",
        answer.body
    );
}
