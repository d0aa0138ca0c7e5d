//! The shapes of `POST /tick`: the V1 shape of the Godot IPC client
//! (`{tick, perceptions, simulation_state}`) and the later SDK shape
//! (`{tick, agents: [{agent_id, observations}]}`), read into one list of
//! observations and answered in the shape they came in. The number of
//! agents is bounded while the body is parsed.
//!
//! A tick is never lost for one agent's data: an entry the original would
//! have decided (a numeric `agent_id`, `health: null`) is decided the same
//! way, and one it could not (no `agent_id`, not an object) is answered
//! `idle` with the reason, beside every other agent's action.

use std::cell::Cell;
use std::marker::PhantomData;

use gamebridge_protocol::RawValue;
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::error::Category;
use serde_json::{Map, Value, json};

use super::bounded::BoundedVec;
use super::non_finite;
use super::rules_view::{Perception, RulesEntry, SdkAgent};
use crate::rules::Layout;

/// One agent's view of the world for one tick.
#[derive(Clone, Debug)]
pub struct Observation {
    /// The agent's id as a key: the text, or a number's digits.
    pub agent_id: String,
    /// The id as the game sent it, for the answer.
    pub id: Value,
    pub data: Value,
    /// Where the observation keeps its nearby lists.
    pub layout: Layout,
    /// Why the entry cannot be decided, when it cannot.
    pub invalid: Option<String>,
}

impl Observation {
    /// An agent seen on its own (`/observe`), its lists at the top level,
    /// under the id as sent (text, or a number as the original took it).
    pub fn flat(id: Value, data: Value) -> Self {
        let agent_id = match &id {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        Self { agent_id, id, data, layout: Layout::Flat, invalid: None }
    }

    /// An entry that cannot be decided, kept so that it is answered.
    fn invalid(id: Value, data: Value, layout: Layout, why: &str) -> Self {
        Self { agent_id: String::new(), id, data, layout, invalid: Some(why.to_owned()) }
    }
}

/// The V1 perception's fields the original filled in when they were
/// missing, with its defaults (built only for a field that is missing: a
/// thousand-agent tick would otherwise build eight thousand values for
/// nothing).
const PERCEPTION_DEFAULTS: [(&str, MakeDefault); 8] = [
    ("position", origin),
    ("rotation", origin),
    ("velocity", origin),
    ("visible_entities", || json!([])),
    ("inventory", || json!([])),
    ("health", || json!(100.0)),
    ("energy", || json!(100.0)),
    ("custom_data", || json!({})),
];

/// Builds one default value.
type MakeDefault = fn() -> Value;

fn origin() -> Value {
    json!([0.0, 0.0, 0.0])
}

/// Which shape a tick came in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TickShape {
    V1,
    Sdk,
}

/// A tick as read: its number, its shape, every agent's observation.
#[derive(Debug)]
pub struct Tick {
    /// The tick as the body gave it, for the answer (0 when absent).
    pub tick: Value,
    /// The tick as agents get it: `tick` if it is a whole number, else 0.
    pub number: u64,
    pub shape: TickShape,
    pub observations: Vec<Observation>,
    /// The body carried numbers JSON cannot (see [`non_finite`]): their
    /// stand-ins in the answer are to be written as `null`.
    pub non_finite: bool,
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
/// odd value costs its bytes and no tree. `P` and `A` are how perceptions
/// and SDK agents are read: as trees, or as the rules read them.
struct TickBody<P, A> {
    tick: Option<Box<RawValue>>,
    perceptions: Option<Vec<P>>,
    agents: Option<Vec<A>>,
}

/// The part of the body being read, so that an error can say where it is.
#[derive(Clone, Copy, PartialEq)]
enum Part {
    Body,
    Perceptions,
    Agents,
}

/// Reads a tick body with its agent lists bounded while parsing.
struct TickSeed<'a, P, A> {
    max_agents: usize,
    exceeded: &'a Cell<bool>,
    reading: &'a Cell<Part>,
    entries: PhantomData<(P, A)>,
}

impl<'a, P, A> TickSeed<'a, P, A> {
    fn agents<T>(&self, part: Part) -> BoundedVec<'a, T> {
        self.reading.set(part);
        BoundedVec { max: self.max_agents, exceeded: self.exceeded, item: PhantomData }
    }
}

impl<'de, P: Deserialize<'de>, A: Deserialize<'de>> DeserializeSeed<'de> for TickSeed<'_, P, A> {
    type Value = TickBody<P, A>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, P: Deserialize<'de>, A: Deserialize<'de>> Visitor<'de> for TickSeed<'_, P, A> {
    type Value = TickBody<P, A>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a tick object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut body = TickBody { tick: None, perceptions: None, agents: None };
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
/// A body with numbers only Python's JSON reads (`NaN`, `Infinity`,
/// `1e400`) is read as [`non_finite`] describes.
pub fn read_tick(body: &[u8], max_agents: usize) -> Result<Tick, TickError> {
    match parse(body, max_agents) {
        Err(TickError::Invalid(message)) if is_not_json(&message) => {
            let replaced = non_finite::replace(body).ok_or_else(|| TickError::Invalid(message.clone()))?;
            let read = parse(&replaced, max_agents).map_err(|error| match error {
                TickError::Invalid(again) if is_not_json(&again) => TickError::Invalid(message),
                other => other,
            })?;
            Ok(Tick { non_finite: true, ..read })
        }
        read => read,
    }
}

const NOT_JSON: &str = "the body is not JSON: ";

/// Whether a tick was refused for its syntax (and may be JSON as Python
/// reads it, see [`non_finite`]).
pub fn is_not_json(message: &str) -> bool {
    message.starts_with(NOT_JSON)
}

fn parse(body: &[u8], max_agents: usize) -> Result<Tick, TickError> {
    let parts = parse_parts::<Value, Value>(body, max_agents)?;
    let (tick, number) = tick_of(parts.tick);
    let (shape, observations) = match (parts.perceptions, parts.agents) {
        (None, Some(agents)) => {
            (TickShape::Sdk, agents.into_iter().map(|entry| sdk_observation(entry, &tick)).collect())
        }
        // As the original, a tick without perceptions has no agents.
        (perceptions, _) => (
            TickShape::V1,
            perceptions.unwrap_or_default().into_iter().map(|entry| perception(entry, &tick)).collect(),
        ),
    };
    Ok(Tick { tick, number, shape, observations, non_finite: false })
}

/// A tick read for the rules alone (see [`rules_view`](super::rules_view)):
/// its number and shape, and each entry borrowed from the body.
pub struct RulesTick<'a> {
    pub tick: Value,
    pub number: u64,
    pub shape: TickShape,
    pub entries: Vec<RulesEntry<'a>>,
}

/// Reads a tick for the rules, bounded and refused as [`read_tick`] reads
/// it. Plain JSON only: a body that is not (it may have numbers only
/// Python reads) is refused as not JSON, for [`read_tick`] to read.
pub fn read_rules_tick(body: &[u8], max_agents: usize) -> Result<RulesTick<'_>, TickError> {
    let parts = parse_parts::<Perception, SdkAgent>(body, max_agents)?;
    let (tick, number) = tick_of(parts.tick);
    let (shape, entries) = match (parts.perceptions, parts.agents) {
        (None, Some(agents)) => (TickShape::Sdk, agents.into_iter().map(|agent| agent.0).collect()),
        (perceptions, _) => {
            (TickShape::V1, perceptions.unwrap_or_default().into_iter().map(|seen| seen.0).collect())
        }
    };
    Ok(RulesTick { tick, number, shape, entries })
}

/// The body's parts, with each error told as the caller can act on it.
fn parse_parts<'de, P: Deserialize<'de>, A: Deserialize<'de>>(
    body: &'de [u8],
    max_agents: usize,
) -> Result<TickBody<P, A>, TickError> {
    let (exceeded, reading) = (Cell::new(false), Cell::new(Part::Body));
    let seed = TickSeed { max_agents, exceeded: &exceeded, reading: &reading, entries: PhantomData };
    // Checked as UTF-8 once, the body's strings are not checked one by
    // one (which was a sixth of reading a tick); a body that is not UTF-8
    // is read as bytes, for the parser to say where it is wrong.
    let parts = match std::str::from_utf8(body) {
        Ok(text) => read_parts(seed, serde_json::de::StrRead::new(text)),
        Err(_) => read_parts(seed, serde_json::de::SliceRead::new(body)),
    };
    parts.map_err(|error| {
        if exceeded.get() {
            return TickError::TooManyAgents { max: max_agents };
        }
        TickError::Invalid(match (error.classify(), reading.get()) {
            (Category::Syntax | Category::Eof | Category::Io, _) => format!("{NOT_JSON}{error}"),
            (Category::Data, Part::Perceptions) => format!("perceptions must be a list: {error}"),
            (Category::Data, Part::Agents) => format!("agents must be a list: {error}"),
            (Category::Data, Part::Body) => format!("the body is not a tick: {error}"),
        })
    })
}

fn read_parts<'de, P: Deserialize<'de>, A: Deserialize<'de>>(
    seed: TickSeed<'_, P, A>,
    read: impl serde_json::de::Read<'de>,
) -> serde_json::Result<TickBody<P, A>> {
    let mut deserializer = serde_json::Deserializer::new(read);
    let parts = seed.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(parts)
}

/// The tick as the body gave it, and as agents get it. As the SDK server,
/// a tick without a number is tick 0; as both originals, any other value
/// is answered as it came.
fn tick_of(tick: Option<Box<RawValue>>) -> (Value, u64) {
    let tick = tick.map_or(json!(0), |tick| serde_json::from_str(tick.get()).unwrap_or(Value::Null));
    let number = tick_number(&tick).unwrap_or(0);
    (tick, number)
}

/// A tick number: an integer, or a float with no fraction (`5.0`).
fn tick_number(tick: &Value) -> Option<u64> {
    tick.as_u64()
        .or_else(|| tick.as_f64().filter(|n| *n >= 0.0 && n.fract() == 0.0 && *n < 2e19).map(|n| n as u64))
}

/// The agent's id as a key, and as sent: text as it is, a number as its
/// digits (the original took either); anything else is no id.
fn agent_id(entry: &Map<String, Value>) -> Option<(String, Value)> {
    match entry.get("agent_id")? {
        Value::String(id) => Some((id.clone(), Value::String(id.clone()))),
        Value::Number(number) => Some((number.to_string(), Value::Number(number.clone()))),
        _ => None,
    }
}

pub(super) const NO_AGENT_ID: &str = "the agent has no agent_id (a string), so it cannot be decided";

/// A tick's entry as an object with its id (key and as sent), or the
/// invalid observation that answers it (`what` names the entry).
fn identified(
    entry: Value,
    layout: Layout,
    what: &str,
) -> Result<(Map<String, Value>, String, Value), Observation> {
    let Value::Object(fields) = entry else {
        return Err(Observation::invalid(Value::Null, entry, layout, &format!("{what} is not an object")));
    };
    match agent_id(&fields) {
        Some((agent_id, id)) => Ok((fields, agent_id, id)),
        None => {
            let id = fields.get("agent_id").cloned().unwrap_or(Value::Null);
            Err(Observation::invalid(id, Value::Object(fields), layout, NO_AGENT_ID))
        }
    }
}

/// A V1 perception, with the original's defaults filled in.
fn perception(entry: Value, tick: &Value) -> Observation {
    let (mut fields, agent_id, id) = match identified(entry, Layout::Perception, "the perception") {
        Ok(identified) => identified,
        Err(invalid) => return invalid,
    };
    fields.entry("tick").or_insert_with(|| tick.clone());
    for (key, default) in PERCEPTION_DEFAULTS {
        if !fields.contains_key(key) {
            fields.insert(key.to_owned(), default());
        }
    }
    Observation { agent_id, id, data: Value::Object(fields), layout: Layout::Perception, invalid: None }
}

/// An SDK agent: its observations, with its id and the tick added where
/// they are missing, as the SDK server does.
fn sdk_observation(entry: Value, tick: &Value) -> Observation {
    let (mut fields, agent_id, id) = match identified(entry, Layout::Flat, "the agent") {
        Ok(identified) => identified,
        Err(invalid) => return invalid,
    };
    let mut data = fields.remove("observations").unwrap_or_else(|| json!({}));
    if let Value::Object(observed) = &mut data {
        observed.entry("agent_id").or_insert_with(|| id.clone());
        observed.entry("tick").or_insert_with(|| tick.clone());
    }
    Observation { agent_id, id, data, layout: Layout::Flat, invalid: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: Value) -> Result<Tick, TickError> {
        read_tick(body.to_string().as_bytes(), DEFAULT_MAX_AGENTS)
    }

    #[test]
    fn both_shapes_are_read_with_the_references_defaults() {
        let tick = read(
            json!({"tick": 3, "perceptions": [{"agent_id": "a", "tick": 3, "health": 40.0, "team": "red"}]}),
        )
        .unwrap();
        assert_eq!((tick.number, tick.shape, tick.observations.len()), (3, TickShape::V1, 1));
        let seen = &tick.observations[0];
        assert_eq!((seen.agent_id.as_str(), seen.layout, &seen.invalid), ("a", Layout::Perception, &None));
        assert_eq!(
            seen.data,
            json!({"agent_id": "a", "tick": 3, "position": [0.0, 0.0, 0.0], "rotation": [0.0, 0.0, 0.0],
                   "velocity": [0.0, 0.0, 0.0], "visible_entities": [], "inventory": [], "health": 40.0,
                   "energy": 100.0, "custom_data": {}, "team": "red"})
        );
        let tick = read(json!({"tick": 4, "agents": [{"agent_id": "b", "observations": {"x": 1}}]})).unwrap();
        assert_eq!((tick.number, tick.shape), (4, TickShape::Sdk));
        let seen = &tick.observations[0];
        assert_eq!((seen.agent_id.as_str(), seen.layout), ("b", Layout::Flat));
        assert_eq!(seen.data, json!({"x": 1, "agent_id": "b", "tick": 4}), "the SDK server adds id and tick");
    }

    #[test]
    fn one_agents_bad_data_never_costs_the_tick() {
        let tick = read(json!({"tick": 1, "perceptions": [
            {"tick": 1},
            {"agent_id": 7, "tick": 1, "health": null},
            {"agent_id": "ok", "health": "high"},
            "not an agent",
            {"agent_id": ["a"]}
        ]}))
        .unwrap();
        let seen = &tick.observations;
        assert_eq!(seen.len(), 5);
        assert!(seen[0].invalid.as_deref().unwrap().contains("no agent_id"));
        assert_eq!((seen[1].agent_id.as_str(), &seen[1].id, &seen[1].invalid), ("7", &json!(7), &None));
        assert_eq!(seen[1].data["health"], Value::Null, "passed on as the original passes it");
        assert_eq!((seen[2].data["health"].as_str(), seen[2].data["tick"].as_u64()), (Some("high"), Some(1)));
        assert_eq!(seen[3].invalid.as_deref(), Some("the perception is not an object"));
        assert_eq!((&seen[4].id, seen[4].invalid.is_some()), (&json!(["a"]), true));
        let empty = read(json!({"tick": 1})).unwrap();
        assert_eq!((empty.shape, empty.observations.len()), (TickShape::V1, 0), "no agents, as the original");
        let sdk = read(json!({"agents": [{"observations": {}}, 5]})).unwrap();
        assert_eq!(sdk.number, 0, "the SDK server's default tick");
        assert!(sdk.observations.iter().all(|seen| seen.invalid.is_some()));
    }

    #[test]
    fn numbers_only_python_reads_are_read_too() {
        let body = br#"{"tick": 2, "perceptions": [{"agent_id": "a", "health": NaN, "custom_data": {"nearby_hazards": [{"distance": Infinity}, {"distance": 1e99999}]}}]}"#;
        let tick = read_tick(body, DEFAULT_MAX_AGENTS).unwrap();
        assert!(tick.non_finite);
        let data = &tick.observations[0].data;
        assert_eq!(data["health"], Value::Null);
        assert_eq!(data["custom_data"]["nearby_hazards"][1]["distance"], f64::MAX);
    }

    #[test]
    fn bodies_that_are_not_ticks_say_what_is_wrong() {
        let error = |body: &str| read_tick(body.as_bytes(), DEFAULT_MAX_AGENTS).unwrap_err().to_string();
        assert!(error("{not json").starts_with("the body is not JSON: "));
        let odd = read_tick(br#"{"tick": "3", "agents": []}"#, 9).unwrap();
        assert_eq!((&odd.tick, odd.number), (&json!("3"), 0), "answered as it came, as the originals do");
        assert_eq!(
            read_tick(br#"{"tick": 3.0, "agents": []}"#, 9).unwrap().number,
            3,
            "Godot may write a float"
        );
        assert!(error(r#"{"tick": 1, "perceptions": {}}"#).starts_with("perceptions must be a list: "));
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
            assert_eq!(read_tick(at_bound.as_bytes(), 3).unwrap().observations.len(), 3, "{list}");
            let past = json!({"tick": 1, list: agents(4)}).to_string();
            assert_eq!(
                read_tick(past.as_bytes(), 3).unwrap_err(),
                TickError::TooManyAgents { max: 3 },
                "{list}"
            );
        }
    }
}
