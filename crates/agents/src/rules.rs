//! The rule-based fallback of Agent Arena, decision for decision the
//! original server's mock decision, so that a simulation switched over to
//! the bridge sees its agents behave as before, reasoning texts included:
//!
//! 1. the first hazard in list order nearer than 3.0 is fled: to the point
//!    5 units from the hazard, on the ground-plane line from the hazard
//!    through the agent, at the agent's height, at speed 2.0;
//! 2. else the nearest resource, if nearer than 5.0, is approached at 1.5;
//! 3. else idle.
//!
//! Distances are the ones the scene reports (`distance`); an item without
//! one is infinitely far, as in the original. Where the original would
//! raise (a position of two numbers, a distance that is text) the rules
//! read the missing part as 0 or the distance as absent, so one agent's odd
//! data never costs the tick. No model is needed and the rules answer in
//! microseconds, so a tick is never left without actions.

use std::borrow::Cow;
use std::fmt::Write as _;

use gamebridge_protocol::RawValue;
use serde_json::{Map, Value, json};

use crate::Decision;
use crate::python::python_str;

const HAZARD_RANGE: f64 = 3.0;
const RESOURCE_RANGE: f64 = 5.0;
const FLEE_DISTANCE: f64 = 5.0;

/// Where an observation keeps its nearby lists.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Layout {
    /// A Godot perception (the V1 tick): in `custom_data`.
    Perception,
    /// An SDK observation or an `/observe` body: at the top level.
    Flat,
}

/// The rules' decision for an observation held as a JSON tree.
pub fn decide(observation: &Value, layout: Layout) -> Decision {
    let lists = match layout {
        Layout::Perception => &observation["custom_data"],
        Layout::Flat => observation,
    };
    let mut picks = Picks::default();
    for hazard in objects(&lists["nearby_hazards"]) {
        picks.hazard(Item::Tree(hazard), distance(hazard));
    }
    for resource in objects(&lists["nearby_resources"]) {
        picks.resource(Item::Tree(resource), distance(resource));
    }
    picks.decide(|| Cow::Borrowed(&observation["position"]))
}

/// One item of a nearby list: a tree's object, or the fields the rules
/// may need, still as the body's text (parsed only for the item chosen,
/// which is what lets a tick be decided without building its tree).
#[derive(Clone, Copy, Debug)]
pub enum Item<'a> {
    Tree(&'a Map<String, Value>),
    Raw { position: Option<&'a RawValue>, kind: Option<&'a RawValue>, name: Option<&'a RawValue> },
}

impl Item<'_> {
    fn field(&self, key: &str) -> Option<Cow<'_, Value>> {
        match self {
            Self::Tree(fields) => fields.get(key).map(Cow::Borrowed),
            Self::Raw { position, kind, name } => {
                let raw = match key {
                    "position" => position,
                    "type" => kind,
                    _ => name,
                };
                // Text the body's parser accepted is JSON; `Null` is unreachable.
                raw.map(|raw| Cow::Owned(serde_json::from_str(raw.get()).unwrap_or(Value::Null)))
            }
        }
    }

    /// A field as Python's f-string prints it, or the original's default.
    fn text(&self, key: &str, default: &str) -> String {
        if let Self::Raw { kind, name, .. } = self
            && let Some(raw) = if key == "type" { kind } else { name }
            && let Some(plain) = plain_string(raw.get())
        {
            return plain.to_owned();
        }
        self.field(key).map_or_else(|| default.to_owned(), |value| python_str(&value))
    }
}

/// The two items the rules can act on, picked as the lists go by: the
/// first hazard in range, and the first of the nearest resources (as
/// Python's `min()` picks).
#[derive(Debug, Default)]
pub struct Picks<'a> {
    hazard: Option<(Item<'a>, f64)>,
    resource: Option<(Item<'a>, f64)>,
}

impl<'a> Picks<'a> {
    pub fn hazard(&mut self, item: Item<'a>, distance: f64) {
        if self.hazard.is_none() && distance < HAZARD_RANGE {
            self.hazard = Some((item, distance));
        }
    }

    pub fn resource(&mut self, item: Item<'a>, distance: f64) {
        if self.resource.is_none_or(|(_, nearest)| distance < nearest) {
            self.resource = Some((item, distance));
        }
    }

    /// Forgets the hazards seen (a later list of the same name replaces
    /// an earlier one, as a JSON object's last key wins).
    pub fn restart_hazards(&mut self) {
        self.hazard = None;
    }

    pub fn restart_resources(&mut self) {
        self.resource = None;
    }

    /// The decision for an agent whose `position` (as sent) `agent` gives:
    /// asked only to flee, the one decision that needs it.
    pub fn decide<'p>(&self, agent: impl FnOnce() -> Cow<'p, Value>) -> Decision {
        if let Some((hazard, distance)) = &self.hazard {
            return flee(&agent(), hazard, *distance);
        }
        if let Some((resource, distance)) = self.resource.as_ref()
            && *distance < RESOURCE_RANGE
        {
            let (kind, name) = (resource.text("type", "unknown"), resource.text("name", "resource"));
            let target = resource.field("position").map_or_else(|| json!([0, 0, 0]), Cow::into_owned);
            return Decision {
                tool: "move_to".into(),
                params: json!({ "target_position": target, "speed": 1.5 }),
                reasoning: reasoning(
                    &["Moving to collect ", &kind, " (", &name, ") at distance "],
                    *distance,
                ),
            };
        }
        Decision::idle("No immediate actions needed - exploring environment")
    }
}

/// A JSON string without escapes, as its text (the common case, which
/// needs no parsing).
fn plain_string(json: &str) -> Option<&str> {
    json.strip_prefix('"')?.strip_suffix('"').filter(|text| !text.contains(['\\', '"']))
}

/// To the point 5 units from the hazard, away from it, at the agent's height.
fn flee(agent: &Value, hazard: &Item, distance: f64) -> Decision {
    let at = |value: &Value, axis: usize| value[axis].as_f64().unwrap_or(0.0);
    let spot = hazard.field("position").unwrap_or(Cow::Owned(Value::Null));
    let (mut dx, mut dz) = (at(agent, 0) - at(&spot, 0), at(agent, 2) - at(&spot, 2));
    // Written as the original computes it, so that every bit agrees;
    // where its squares overflow (and it failed), without overflowing.
    let length = Some((dx.powf(2.0) + dz.powf(2.0)).powf(0.5))
        .filter(|length| length.is_finite())
        .unwrap_or_else(|| dx.hypot(dz));
    if length > 0.0 {
        dx = (dx / length) * FLEE_DISTANCE;
        dz = (dz / length) * FLEE_DISTANCE;
    } else {
        (dx, dz) = (FLEE_DISTANCE, 0.0);
    }
    let height = agent.get(1).cloned().unwrap_or(json!(0));
    let kind = hazard.text("type", "unknown");
    Decision {
        tool: "move_to".into(),
        params: json!({ "target_position": [at(&spot, 0) + dx, height, at(&spot, 2) + dz], "speed": 2.0 }),
        reasoning: reasoning(&["Avoiding nearby ", &kind, " hazard at distance "], distance),
    }
}

/// The objects of a list; anything else in it, or a list that is not one,
/// is nothing nearby.
fn objects(list: &Value) -> impl Iterator<Item = &Map<String, Value>> {
    list.as_array().into_iter().flatten().filter_map(Value::as_object)
}

/// The reported distance; absent (or not a number) is infinitely far,
/// and a boolean is Python's 1 or 0.
fn distance(item: &Map<String, Value>) -> f64 {
    item.get("distance").map_or(f64::INFINITY, distance_of)
}

/// A `distance` field's value as the rules count it.
pub(crate) fn distance_of(value: &Value) -> f64 {
    match value {
        Value::Bool(truth) => f64::from(u8::from(*truth)),
        number => number.as_f64().unwrap_or(f64::INFINITY),
    }
}

/// `parts`, then the distance as the original prints it: the reasoning
/// texts, without `format!`'s machinery (a fifth of deciding an agent).
/// The distance is `f"{distance:.1f}"`: Rust rounds the exact binary
/// value half to even, as Python does. The largest doubles stand for the
/// infinities a body carried (see `arena::non_finite`), and print as
/// Python prints those.
fn reasoning(parts: &[&str], distance: f64) -> String {
    let mut text = String::with_capacity(parts.iter().map(|part| part.len()).sum::<usize>() + 8);
    parts.iter().for_each(|part| text.push_str(part));
    match distance {
        f64::MAX | f64::INFINITY => text.push_str("inf"),
        f64::MIN | f64::NEG_INFINITY => text.push_str("-inf"),
        _ => {
            let _ = write!(text, "{distance:.1}");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perception(custom_data: Value) -> Value {
        json!({"position": [0, 1, 0], "custom_data": custom_data})
    }

    #[test]
    fn a_hazard_is_fled_to_five_units_from_the_hazard_at_the_agents_height() {
        let decision = decide(
            &perception(
                json!({"nearby_hazards": [{"position": [1, 0, 0], "distance": 1.4, "type": "fire"}]}),
            ),
            Layout::Perception,
        );
        assert_eq!(decision.tool, "move_to");
        assert_eq!(decision.params, json!({"target_position": [-4.0, 1, 0.0], "speed": 2.0}));
        assert_eq!(decision.reasoning, "Avoiding nearby fire hazard at distance 1.4");
    }

    #[test]
    fn the_first_hazard_in_range_wins_not_the_nearest() {
        let hazards = json!({"nearby_hazards": [
            {"position": [9, 0, 0], "distance": 9.0},
            {"position": [0, 0, 2], "distance": 2.5, "type": "pit"},
            {"position": [0, 0, -1], "distance": 1.0, "type": "fire"}
        ]});
        let decision = decide(&perception(hazards), Layout::Perception);
        assert_eq!(decision.params["target_position"], json!([0.0, 1, -3.0]));
        assert_eq!(decision.reasoning, "Avoiding nearby pit hazard at distance 2.5");
    }

    #[test]
    fn standing_on_a_hazard_flees_along_x_and_types_print_as_python_does() {
        let hazard = json!({"nearby_hazards": [{"position": [0, 5, 0], "distance": 0, "type": null}]});
        let decision = decide(&perception(hazard), Layout::Perception);
        assert_eq!(decision.params["target_position"], json!([5.0, 1, 0.0]));
        assert_eq!(decision.reasoning, "Avoiding nearby None hazard at distance 0.0");
    }

    #[test]
    fn items_without_a_distance_are_infinitely_far() {
        let unknown = json!({"nearby_hazards": [{"position": [0, 0, 0]}], "nearby_resources": [{"position": [1, 0, 0]}]});
        let decision = decide(&perception(unknown), Layout::Perception);
        assert_eq!(decision, Decision::idle("No immediate actions needed - exploring environment"));
    }

    #[test]
    fn the_nearest_resource_in_range_is_approached_and_ties_go_to_the_first() {
        let resources = json!({"nearby_resources": [
            {"position": [4, 0, 4], "distance": 4.25, "type": "berry", "name": "Berry2"},
            {"position": [1, 0, 1], "distance": 1.25, "type": "wood", "name": "Log1"},
            {"position": [2, 0, 2], "distance": 1.25, "type": "stone"}
        ]});
        let decision = decide(&perception(resources), Layout::Perception);
        assert_eq!(decision.params, json!({"target_position": [1, 0, 1], "speed": 1.5}));
        assert_eq!(decision.reasoning, "Moving to collect wood (Log1) at distance 1.2");
        let far = json!({"nearby_resources": [{"position": [9, 0, 0], "distance": 5.0}]});
        assert_eq!(decide(&perception(far), Layout::Perception).tool, "idle");
    }

    #[test]
    fn far_off_numbers_stay_sane_and_booleans_count_as_python_counts_them() {
        let far = json!({"position": [1e200, 0, 0], "custom_data": {"nearby_hazards": [{"position": [0, 0, 0], "distance": 1}]}});
        assert_eq!(decide(&far, Layout::Perception).params["target_position"], json!([5.0, 0, 0.0]));
        let below = json!({"position": [0, 0, 0], "custom_data": {"nearby_hazards": [{"position": [1, 0, 0], "distance": f64::MIN}]}});
        assert_eq!(
            decide(&below, Layout::Perception).reasoning,
            "Avoiding nearby unknown hazard at distance -inf"
        );
        let truthy = json!({"position": [0, 0, 0], "custom_data": {"nearby_hazards": [{"position": [1, 0, 0], "distance": true}]}});
        assert_eq!(
            decide(&truthy, Layout::Perception).reasoning,
            "Avoiding nearby unknown hazard at distance 1.0"
        );
    }

    #[test]
    fn each_layout_reads_its_own_lists() {
        let top_level =
            json!({"position": [0, 0, 0], "nearby_resources": [{"position": [1, 0, 0], "distance": 1.0}]});
        assert_eq!(
            decide(&top_level, Layout::Perception).tool,
            "idle",
            "a perception's lists are in custom_data"
        );
        let decision = decide(&top_level, Layout::Flat);
        assert_eq!(decision.reasoning, "Moving to collect unknown (resource) at distance 1.0");
        assert_eq!(decide(&json!({}), Layout::Flat).tool, "idle");
    }
}
