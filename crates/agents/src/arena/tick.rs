//! The shapes of `POST /tick`: the V1 shape of the Godot IPC client
//! (`{tick, perceptions, simulation_state}`) and the later SDK shape
//! (`{tick, agents: [{agent_id, observations}]}`), read into one list of
//! observations and answered in the shape they came in. The number of
//! agents is bounded while the body is parsed.

use std::cell::Cell;
use std::marker::PhantomData;

use gamebridge_protocol::RawValue;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::error::Category;
use serde_json::{Map, Value, json};

use super::bounded::BoundedVec;
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

/// Agents one tick may carry unless the profile says otherwise
/// (`agent-arena?max_agents=N`): a tick is posted without a token, so its
/// size is the caller's choice; four times the thousand agents of the
/// benchmark is room enough for real simulations.
pub const DEFAULT_MAX_AGENTS: usize = 4096;

/// Why a body is not a tick the bridge will decide.
#[derive(Clone, Debug, PartialEq)]
pub enum TickError {
    /// More agents than the arena's bound (found while parsing, before
    /// the rest was read).
    TooManyAgents { max: usize },
    /// Not JSON, or not the shape of a tick.
    Invalid(String),
}

impl std::fmt::Display for TickError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooManyAgents { max } => write!(
                formatter,
                "a tick may carry at most {max} agents (raise it with agent-arena?max_agents=N); this one has more"
            ),
            Self::Invalid(message) => formatter.write_str(message),
        }
    }
}

impl std::error::Error for TickError {}

impl From<&str> for TickError {
    fn from(message: &str) -> Self {
        Self::Invalid(message.to_owned())
    }
}

/// A tick body read straight into its parts, without building a JSON tree
/// of the whole body first. The tick number is kept as raw text, so an
/// odd value costs its bytes and no tree.
#[derive(Default)]
struct TickBody {
    tick: Option<Box<RawValue>>,
    perceptions: Option<Vec<Perception>>,
    agents: Option<Vec<SdkAgent>>,
}

#[derive(Deserialize)]
struct SdkAgent {
    #[serde(default)]
    agent_id: Option<Value>,
    #[serde(default)]
    observations: Value,
}

/// The part of the body being read, so that an error can say where it is.
#[derive(Clone, Copy, PartialEq)]
enum Part {
    Body,
    Perceptions,
    Agents,
}

/// Reads a tick body with its agent lists bounded while parsing.
struct TickSeed<'a> {
    max_agents: usize,
    exceeded: &'a Cell<bool>,
    reading: &'a Cell<Part>,
}

impl<'a> TickSeed<'a> {
    fn agents<T>(&self, part: Part) -> BoundedVec<'a, T> {
        self.reading.set(part);
        BoundedVec { max: self.max_agents, exceeded: self.exceeded, item: PhantomData }
    }
}

impl<'de> DeserializeSeed<'de> for TickSeed<'_> {
    type Value = TickBody;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<TickBody, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TickSeed<'_> {
    type Value = TickBody;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a tick object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TickBody, A::Error> {
        let mut body = TickBody::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "tick" => body.tick = Some(map.next_value()?),
                "perceptions" => {
                    body.perceptions = Some(map.next_value_seed(self.agents(Part::Perceptions))?)
                }
                "agents" => body.agents = Some(map.next_value_seed(self.agents(Part::Agents))?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            self.reading.set(Part::Body);
        }
        Ok(body)
    }
}

/// Reads a tick request: its number, shape and observations, refusing
/// more than `max_agents` agents as soon as the parser reaches one more.
pub fn read_tick(body: &[u8], max_agents: usize) -> Result<(u64, TickShape, Vec<Observation>), TickError> {
    let (exceeded, reading) = (Cell::new(false), Cell::new(Part::Body));
    let seed = TickSeed { max_agents, exceeded: &exceeded, reading: &reading };
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let parts = seed.deserialize(&mut deserializer).and_then(|parts| deserializer.end().map(|()| parts));
    let parts = parts.map_err(|error| {
        if exceeded.get() {
            return TickError::TooManyAgents { max: max_agents };
        }
        TickError::Invalid(match (error.classify(), reading.get()) {
            (Category::Syntax | Category::Eof | Category::Io, _) => format!("the body is not JSON: {error}"),
            (Category::Data, Part::Perceptions) => format!("invalid perceptions: {error}"),
            (Category::Data, Part::Agents) => format!("invalid agents: {error}"),
            (Category::Data, Part::Body) => format!("the body is not a tick: {error}"),
        })
    })?;
    let tick = parts.tick.and_then(|tick| serde_json::from_str::<u64>(tick.get()).ok());
    let tick = tick.ok_or("tick is required and must be a non-negative integer")?;
    if let Some(perceptions) = parts.perceptions {
        return Ok((tick, TickShape::V1, perceptions.into_iter().map(Perception::observed).collect()));
    }
    if let Some(agents) = parts.agents {
        let observations = (agents.into_iter())
            .map(|agent| match agent.agent_id {
                Some(Value::String(agent_id)) => Ok(Observation { agent_id, tick, data: agent.observations }),
                _ => Err(TickError::from("every agent needs an agent_id")),
            })
            .collect::<Result<_, _>>()?;
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

    fn read(body: Value) -> Result<(u64, TickShape, Vec<Observation>), TickError> {
        read_tick(body.to_string().as_bytes(), DEFAULT_MAX_AGENTS)
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
        let error = |body: &str| read_tick(body.as_bytes(), DEFAULT_MAX_AGENTS).unwrap_err().to_string();
        assert!(error("{not json").starts_with("the body is not JSON: "));
        assert_eq!(error(r#"{"perceptions": []}"#), "tick is required and must be a non-negative integer");
        assert_eq!(
            error(r#"{"tick": -1, "agents": []}"#),
            "tick is required and must be a non-negative integer"
        );
        assert!(error(r#"{"tick": 1, "perceptions": [{"tick": 1}]}"#).starts_with("invalid perceptions: "));
        assert_eq!(error(r#"{"tick": 1, "agents": [{"agent_id": 5}]}"#), "every agent needs an agent_id");
        assert_eq!(error(r#"{"tick": 1}"#), "a tick has perceptions (V1) or agents (SDK)");
        assert!(error(r#"{"tick": 1, "agents": []} trailing"#).starts_with("the body is not JSON: "));
        assert!(error(r#"[1]"#).starts_with("the body is not a tick: "));
    }

    #[test]
    fn agents_past_the_bound_are_refused_in_both_shapes() {
        let agents = |count: usize| -> Vec<Value> {
            (0..count).map(|n| json!({"agent_id": n.to_string(), "tick": 1})).collect()
        };
        for list in ["perceptions", "agents"] {
            let at_bound = json!({"tick": 1, list: agents(3)}).to_string();
            assert_eq!(read_tick(at_bound.as_bytes(), 3).unwrap().2.len(), 3, "{list}");
            let past = json!({"tick": 1, list: agents(4)}).to_string();
            assert_eq!(
                read_tick(past.as_bytes(), 3).unwrap_err(),
                TickError::TooManyAgents { max: 3 },
                "{list}"
            );
        }
    }
}
