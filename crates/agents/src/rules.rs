//! The rule-based fallback of Agent Arena (REFERENCE §3): flee a hazard
//! nearer than 3 (to a point 5 units away, at speed 2.0); else go to a
//! resource nearer than 5 (at speed 1.5); else idle. It needs no model and
//! answers in microseconds, so a tick is never left without actions.

use serde_json::{Value, json};

use crate::Decision;

const HAZARD_RANGE: f64 = 3.0;
const RESOURCE_RANGE: f64 = 5.0;
const FLEE_DISTANCE: f64 = 5.0;

pub fn decide(observation: &Value) -> Decision {
    let position = vector(&observation["position"]).unwrap_or([0.0; 3]);
    if let Some((hazard, distance)) = nearest(observation, "nearby_hazards", position)
        && distance < HAZARD_RANGE
    {
        let away = sub(position, hazard);
        let length = norm(away);
        let direction = if length > f64::EPSILON { scale(away, 1.0 / length) } else { [1.0, 0.0, 0.0] };
        let target = add(position, scale(direction, FLEE_DISTANCE));
        return Decision {
            tool: "move_to".into(),
            params: json!({ "target_position": target, "speed": 2.0 }),
            reasoning: format!("Fleeing a hazard {distance:.1} units away"),
        };
    }
    if let Some((resource, distance)) = nearest(observation, "nearby_resources", position)
        && distance < RESOURCE_RANGE
    {
        return Decision {
            tool: "move_to".into(),
            params: json!({ "target_position": resource, "speed": 1.5 }),
            reasoning: format!("Moving to a resource {distance:.1} units away"),
        };
    }
    Decision::idle("No hazard or resource nearby")
}

/// The nearest item of a list in `custom_data` (or at the top level), with
/// its distance: the given `distance`, else computed from positions.
fn nearest(observation: &Value, list: &str, from: [f64; 3]) -> Option<([f64; 3], f64)> {
    let items = observation["custom_data"][list].as_array().or_else(|| observation[list].as_array())?;
    items
        .iter()
        .filter_map(|item| {
            let position = vector(&item["position"])?;
            let distance = item["distance"].as_f64().unwrap_or_else(|| norm(sub(position, from)));
            Some((position, distance))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

fn vector(value: &Value) -> Option<[f64; 3]> {
    let items = value.as_array()?;
    let mut vector = [0.0; 3];
    for (slot, item) in vector.iter_mut().zip(items) {
        *slot = item.as_f64()?;
    }
    (items.len() >= 2).then_some(vector)
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn add(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

fn scale(a: [f64; 3], factor: f64) -> [f64; 3] {
    [a[0] * factor, a[1] * factor, a[2] * factor]
}

fn norm(a: [f64; 3]) -> f64 {
    (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_near_hazard_is_fled_five_units_at_speed_two() {
        let observation = json!({
            "position": [0.0, 0.0, 0.0],
            "custom_data": {
                "nearby_hazards": [{"position": [2.0, 0.0, 0.0]}],
                "nearby_resources": [{"position": [1.0, 0.0, 0.0]}]
            }
        });
        let decision = decide(&observation);
        assert_eq!(decision.tool, "move_to");
        assert_eq!(decision.params, json!({"target_position": [-5.0, 0.0, 0.0], "speed": 2.0}));
    }

    #[test]
    fn a_near_resource_is_approached_at_one_and_a_half() {
        let observation = json!({
            "position": [1.0, 0.0, 1.0],
            "custom_data": {
                "nearby_hazards": [{"position": [10.0, 0.0, 0.0]}],
                "nearby_resources": [{"position": [4.0, 0.0, 1.0], "distance": 3.0}, {"position": [9.0, 0.0, 9.0]}]
            }
        });
        assert_eq!(decide(&observation).params, json!({"target_position": [4.0, 0.0, 1.0], "speed": 1.5}));
    }

    #[test]
    fn nothing_near_is_idle() {
        let far =
            json!({"position": [0, 0, 0], "custom_data": {"nearby_resources": [{"position": [9, 0, 0]}]}});
        assert_eq!(decide(&far).tool, "idle");
        assert_eq!(decide(&json!({})).tool, "idle");
    }
}
