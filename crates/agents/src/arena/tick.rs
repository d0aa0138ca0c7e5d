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

/// A tick body read straight into its parts, without building a JSON tree
/// of every perception first.
#[derive(Deserialize)]
struct TickBody {
    #[serde(default)]
    tick: Value,
    perceptions: Option<Vec<Perception>>,
    agents: Option<Vec<SdkAgent>>,
}

#[derive(Deserialize)]
struct SdkAgent {
    agent_id: String,
    #[serde(default)]
    observations: Value,
}

/// Reads a tick request: its number, shape and observations. A body that
/// is not a well-formed tick is read again as plain JSON, only to say
/// precisely what is wrong with it.
pub fn read_tick(body: &[u8]) -> Result<(u64, TickShape, Vec<Observation>), String> {
    let Ok(parts) = serde_json::from_slice::<TickBody>(body) else {
        let body: Value =
            serde_json::from_slice(body).map_err(|error| format!("the body is not JSON: {error}"))?;
        return read_tick_value(&body);
    };
    let tick = parts.tick.as_u64().ok_or("tick is required and must be a non-negative integer")?;
    if let Some(perceptions) = parts.perceptions {
        return Ok((tick, TickShape::V1, perceptions.into_iter().map(Perception::observed).collect()));
    }
    if let Some(agents) = parts.agents {
        let observations = (agents.into_iter())
            .map(|agent| Observation { agent_id: agent.agent_id, tick, data: agent.observations })
            .collect();
        return Ok((tick, TickShape::Sdk, observations));
    }
    Err("a tick has perceptions (V1) or agents (SDK)".into())
}

impl Perception {
    fn observed(self) -> Observation {
        Observation {
            agent_id: self.agent_id.clone(),
            tick: self.tick,
            data: serde_json::to_value(self).expect("a perception serializes"),
        }
    }
}

/// The same reading from a JSON tree, for the messages of bodies that are
/// not well-formed ticks.
fn read_tick_value(body: &Value) -> Result<(u64, TickShape, Vec<Observation>), String> {
    let tick = body["tick"].as_u64().ok_or("tick is required and must be a non-negative integer")?;
    if let Some(perceptions) = body.get("perceptions") {
        let perceptions: Vec<Perception> = serde_json::from_value(perceptions.clone())
            .map_err(|error| format!("invalid perceptions: {error}"))?;
        return Ok((tick, TickShape::V1, perceptions.into_iter().map(Perception::observed).collect()));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: Value) -> Result<(u64, TickShape, Vec<Observation>), String> {
        read_tick(body.to_string().as_bytes())
    }

    #[test]
    fn both_shapes_are_read_with_the_references_defaults() {
        let (tick, shape, seen) = read(
            json!({"tick": 3, "perceptions": [{"agent_id": "a", "tick": 3, "health": 40.0, "team": "red"}]}),
        )
        .unwrap();
        assert_eq!((tick, shape, seen.len()), (3, TickShape::V1, 1));
        assert_eq!(seen[0].agent_id, "a");
        assert_eq!(
            seen[0].data,
            json!({"agent_id": "a", "tick": 3, "position": [0.0, 0.0, 0.0], "rotation": [0.0, 0.0, 0.0],
                   "velocity": [0.0, 0.0, 0.0], "visible_entities": [], "inventory": [], "health": 40.0,
                   "energy": 100.0, "custom_data": {}, "team": "red"})
        );
        let (tick, shape, seen) =
            read(json!({"tick": 4, "agents": [{"agent_id": "b", "observations": {"x": 1}}]})).unwrap();
        assert_eq!((tick, shape), (4, TickShape::Sdk));
        assert_eq!((seen[0].agent_id.as_str(), seen[0].tick, &seen[0].data), ("b", 4, &json!({"x": 1})));
    }

    #[test]
    fn bodies_that_are_not_ticks_say_what_is_wrong() {
        let error = |body: &str| read_tick(body.as_bytes()).unwrap_err();
        assert!(error("{not json").starts_with("the body is not JSON: "));
        assert_eq!(error(r#"{"perceptions": []}"#), "tick is required and must be a non-negative integer");
        assert_eq!(
            error(r#"{"tick": -1, "agents": []}"#),
            "tick is required and must be a non-negative integer"
        );
        assert!(error(r#"{"tick": 1, "perceptions": [{"tick": 1}]}"#).starts_with("invalid perceptions: "));
        assert_eq!(error(r#"{"tick": 1, "agents": [{"agent_id": 5}]}"#), "every agent needs an agent_id");
        assert_eq!(error(r#"{"tick": 1}"#), "a tick has perceptions (V1) or agents (SDK)");
    }
}
