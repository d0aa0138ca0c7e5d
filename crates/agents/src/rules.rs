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

pub fn decide(observation: &Value, layout: Layout) -> Decision {
    let lists = match layout {
        Layout::Perception => &observation["custom_data"],
        Layout::Flat => observation,
    };
    let agent = &observation["position"];
    if let Some((hazard, distance)) = objects(&lists["nearby_hazards"])
        .map(|hazard| (hazard, distance(hazard)))
        .find(|(_, distance)| *distance < HAZARD_RANGE)
    {
        let at = |value: &Value, axis: usize| value[axis].as_f64().unwrap_or(0.0);
        let spot = hazard.get("position").unwrap_or(&Value::Null);
        let (mut dx, mut dz) = (at(agent, 0) - at(spot, 0), at(agent, 2) - at(spot, 2));
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
        let kind = text(hazard, "type", "unknown");
        return Decision {
            tool: "move_to".into(),
            params: json!({ "target_position": [at(spot, 0) + dx, height, at(spot, 2) + dz], "speed": 2.0 }),
            reasoning: format!("Avoiding nearby {kind} hazard at distance {}", one_decimal(distance)),
        };
    }
    // The first of the nearest, as Python's min() picks.
    let nearest = objects(&lists["nearby_resources"])
        .map(|resource| (resource, distance(resource)))
        .reduce(|best, next| if next.1 < best.1 { next } else { best });
    if let Some((resource, distance)) = nearest
        && distance < RESOURCE_RANGE
    {
        let (kind, name) = (text(resource, "type", "unknown"), text(resource, "name", "resource"));
        return Decision {
            tool: "move_to".into(),
            params: json!({ "target_position": resource.get("position").cloned().unwrap_or(json!([0, 0, 0])), "speed": 1.5 }),
            reasoning: format!("Moving to collect {kind} ({name}) at distance {}", one_decimal(distance)),
        };
    }
    Decision::idle("No immediate actions needed - exploring environment")
}

/// The objects of a list; anything else in it, or a list that is not one,
/// is nothing nearby.
fn objects(list: &Value) -> impl Iterator<Item = &Map<String, Value>> {
    list.as_array().into_iter().flatten().filter_map(Value::as_object)
}

/// The reported distance; absent (or not a number) is infinitely far,
/// and a boolean is Python's 1 or 0.
fn distance(item: &Map<String, Value>) -> f64 {
    match item.get("distance") {
        Some(Value::Bool(truth)) => f64::from(u8::from(*truth)),
        Some(number) => number.as_f64().unwrap_or(f64::INFINITY),
        None => f64::INFINITY,
    }
}

/// A field as Python's f-string prints it, or the original's default.
fn text(item: &Map<String, Value>, key: &str, default: &str) -> String {
    item.get(key).map_or_else(|| default.to_owned(), python_str)
}

/// `f"{distance:.1f}"`: Rust rounds the exact binary value half to even,
/// as Python does. The largest doubles stand for the infinities a body
/// carried (see `arena::non_finite`), and print as Python prints those.
fn one_decimal(distance: f64) -> String {
    match distance {
        f64::MAX | f64::INFINITY => "inf".to_owned(),
        f64::MIN | f64::NEG_INFINITY => "-inf".to_owned(),
        _ => format!("{distance:.1}"),
    }
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
