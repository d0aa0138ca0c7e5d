//! The shapes of `POST /tick`: the V1 shape of the Godot IPC client
//! (`{tick, perceptions, simulation_state}`) and the later SDK shape
//! (`{tick, agents: [{agent_id, observations}]}`), read into one list of
//! observations and answered in the shape they came in.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::Decision;

/// One agent's view of the world for one tick.
#[derive(Clone, Debug)]
pub struct Observation {
    pub agent_id: String,
    pub tick: u64,
    pub data: Value,
}

/// Perception of the V1 shape, with the reference's defaults.
#[derive(Serialize, Deserialize)]
pub struct Perception {
    pub agent_id: String,
    pub tick: u64,
    #[serde(default = "origin")]
    pub position: Value,
    #[serde(default = "origin")]
    pub rotation: Value,
    #[serde(default = "origin")]
    pub velocity: Value,
    #[serde(default = "empty_list")]
    pub visible_entities: Value,
    #[serde(default = "empty_list")]
    pub inventory: Value,
    #[serde(default = "full")]
    pub health: f64,
    #[serde(default = "full")]
    pub energy: f64,
    #[serde(default = "empty_map")]
    pub custom_data: Value,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn origin() -> Value {
    json!([0.0, 0.0, 0.0])
}

fn empty_list() -> Value {
    json!([])
}

fn empty_map() -> Value {
    json!({})
}

fn full() -> f64 {
    100.0
}

/// Which shape a tick came in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TickShape {
    V1,
    Sdk,
}

/// Reads a tick request: its number, shape and observations.
pub fn read_tick(body: &Value) -> Result<(u64, TickShape, Vec<Observation>), String> {
    let tick = body["tick"].as_u64().ok_or("tick is required and must be a non-negative integer")?;
    if let Some(perceptions) = body.get("perceptions") {
        let perceptions: Vec<Perception> = serde_json::from_value(perceptions.clone())
            .map_err(|error| format!("invalid perceptions: {error}"))?;
        let observations = perceptions
            .into_iter()
            .map(|perception| Observation {
                agent_id: perception.agent_id.clone(),
                tick: perception.tick,
                data: serde_json::to_value(perception).expect("a perception serializes"),
            })
            .collect();
        return Ok((tick, TickShape::V1, observations));
    }
    if let Some(agents) = body.get("agents").and_then(Value::as_array) {
        let observations = agents
            .iter()
            .map(|agent| {
                let agent_id = agent["agent_id"].as_str().ok_or("every agent needs an agent_id")?;
                Ok(Observation { agent_id: agent_id.to_owned(), tick, data: agent["observations"].clone() })
            })
            .collect::<Result<_, String>>()?;
        return Ok((tick, TickShape::Sdk, observations));
    }
    Err("a tick has perceptions (V1) or agents (SDK)".into())
}

/// One action of a V1 answer.
pub fn v1_action(agent_id: &str, tick: u64, decision: &Decision) -> Value {
    json!({
        "agent_id": agent_id, "tick": tick, "tool": decision.tool,
        "params": decision.params, "reasoning": decision.reasoning,
    })
}

/// One action of an SDK answer.
pub fn sdk_action(agent_id: &str, decision: &Decision) -> Value {
    json!({ "agent_id": agent_id, "action": decision })
}
