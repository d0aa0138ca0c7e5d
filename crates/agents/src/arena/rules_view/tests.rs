//! The rules' view of a tick must answer every body byte for byte as the
//! general path does (trees, then [`rules::decide`]): the odd entries the
//! original tolerated, duplicate keys, both shapes, and random bodies.

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::arena::{DEFAULT_MAX_AGENTS, read_rules_tick, read_tick, rules_tick_answer, tick_answer};
use crate::rules;

/// Both paths' answers to `body`.
fn answers(body: &str) -> (String, String) {
    let tick = read_tick(body.as_bytes(), DEFAULT_MAX_AGENTS).expect("a tick");
    let decisions: Vec<_> = tick.observations.iter().map(decide_tree).collect();
    let trees = tick_answer(&tick, &decisions, 0.0);
    let view = read_rules_tick(body.as_bytes(), DEFAULT_MAX_AGENTS).expect("a tick");
    let decisions: Vec<_> = view.entries.iter().map(super::RulesEntry::decide).collect();
    let view = rules_tick_answer(&view, &decisions, 0.0);
    (String::from_utf8(trees).unwrap(), String::from_utf8(view).unwrap())
}

fn decide_tree(seen: &crate::arena::Observation) -> crate::Decision {
    match &seen.invalid {
        Some(why) => crate::Decision::idle(why.clone()),
        None => rules::decide(&seen.data, seen.layout),
    }
}

fn assert_alike(body: &str) {
    let (trees, view) = answers(body);
    assert_eq!(view, trees, "for {body}");
}

#[test]
fn odd_perceptions_are_decided_as_their_trees_are() {
    let hazard = r#"{"position": [1, 0, 0], "distance": 1.4, "type": "fire"}"#;
    let resource = r#"{"position": [4, 0, 4], "distance": 4.25, "type": "berry", "name": "Berry2"}"#;
    let entries = [
        format!(r#"{{"agent_id": "a", "position": [0, 1, 0], "custom_data": {{"nearby_hazards": [{hazard}]}}}}"#),
        format!(r#"{{"agent_id": "a", "custom_data": {{"nearby_hazards": [{hazard}]}}}}"#),
        format!(r#"{{"agent_id": "a", "position": null, "custom_data": {{"nearby_hazards": [{hazard}]}}}}"#),
        format!(r#"{{"agent_id": "a", "position": [3], "custom_data": {{"nearby_hazards": [{hazard}]}}}}"#),
        format!(r#"{{"agent_id": "a", "position": {{"x": 1}}, "custom_data": {{"nearby_hazards": [{hazard}]}}}}"#),
        format!(r#"{{"agent_id": 7, "custom_data": {{"nearby_resources": [{resource}, {resource}]}}}}"#),
        format!(r#"{{"agent_id": 7.5, "custom_data": {{"nearby_resources": [{resource}], "nearby_resources": 3}}}}"#),
        format!(r#"{{"agent_id": "b", "custom_data": {{"nearby_hazards": [{hazard}]}}, "custom_data": {{}}}}"#),
        format!(r#"{{"agent_id": "b", "position": [9, 9, 9], "position": [0, 2.5, 0], "custom_data": {{"nearby_hazards": [{hazard}]}}}}"#),
        r#"{"agent_id": "c", "custom_data": {"nearby_hazards": [5, null, {"distance": true}, {"distance": "1"}]}}"#.into(),
        r#"{"agent_id": "c", "custom_data": {"nearby_resources": [{"distance": 2, "type": null, "name": {"z": [1, "x"]}, "position": "here"}]}}"#.into(),
        r#"{"agent_id": "d", "custom_data": {"nearby_resources": [{"distance": 1, "type": "fi\"re", "name": "caf\u00e9 \n"}]}}"#.into(),
        r#"{"agent_id": "d", "custom_data": {"nearby_resources": [{"distance": 1e300, "type": 5}, {"distance": -1, "type": 1.5}]}}"#.into(),
        r#"{"agent_id": "e", "custom_data": [1, 2], "health": null}"#.into(),
        r#"{"agent_id": "e", "custom_data": "none"}"#.into(),
        r#"{"agent_id": true}"#.into(),
        r#"{"agent_id": ["a"]}"#.into(),
        r#"{"tick": 1}"#.into(),
        "5".into(),
        r#""an agent""#.into(),
        "[1, [2]]".into(),
        "null".into(),
    ];
    for entry in &entries {
        assert_alike(&format!(r#"{{"tick": 3, "perceptions": [{entry}]}}"#));
    }
    assert_alike(&format!(r#"{{"tick": "x", "perceptions": [{}], "agents": []}}"#, entries.join(", ")));
}

#[test]
fn odd_sdk_agents_are_decided_as_their_trees_are() {
    let observations = [
        r#"{"position": [0, 1, 0], "nearby_hazards": [{"position": [1, 0, 0], "distance": 1}]}"#,
        r#"{"nearby_resources": [{"position": [1, 0, 0], "distance": 1.0}]}"#,
        r#"{"custom_data": {"nearby_resources": [{"distance": 1.0}]}}"#,
        r#"null"#,
        r#"[1]"#,
    ];
    for observed in observations {
        assert_alike(&format!(
            r#"{{"tick": 2, "agents": [{{"agent_id": "s", "observations": {observed}}}]}}"#
        ));
        assert_alike(&format!(
            r#"{{"agents": [{{"agent_id": "s", "observations": {observed}, "observations": {{"nearby_hazards": []}}}}]}}"#
        ));
    }
    assert_alike(
        r#"{"tick": 2, "agents": [{"agent_id": "s"}, {"observations": {}}, 4, {"agent_id": null}]}"#,
    );
}

/// A JSON value of the kinds a scene might send where a number is expected.
fn loose_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (-10.0f64..10.0).prop_map(|n| json!(n)),
        2 => (-10i64..10).prop_map(|n| json!(n)),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => Just(Value::Null),
        1 => "[a-z]{0,3}".prop_map(Value::String),
    ]
}

fn position() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        4 => prop::collection::vec(loose_number(), 0..5).prop_map(|axes| Some(Value::Array(axes))),
        1 => Just(None),
        1 => loose_number().prop_map(Some),
    ]
}

fn item() -> impl Strategy<Value = Value> {
    (
        position(),
        prop::option::of(loose_number()),
        prop::option::of(loose_number()),
        prop::option::of(loose_number()),
    )
        .prop_map(|(position, distance, kind, name)| {
            let mut item = serde_json::Map::new();
            let fields = [("position", position), ("distance", distance), ("type", kind), ("name", name)];
            for (key, value) in fields {
                if let Some(value) = value {
                    item.insert(key.to_owned(), value);
                }
            }
            Value::Object(item)
        })
}

fn perception() -> impl Strategy<Value = Value> {
    (
        prop_oneof![Just(json!("a")), Just(json!(3)), Just(Value::Null)],
        position(),
        prop::collection::vec(item(), 0..4),
        prop::collection::vec(item(), 0..4),
    )
        .prop_map(|(id, position, hazards, resources)| {
            let mut seen = json!({"agent_id": id, "custom_data": {"nearby_hazards": hazards, "nearby_resources": resources}});
            if let Some(position) = position {
                seen["position"] = position;
            }
            seen
        })
}

proptest! {
    #[test]
    fn random_perceptions_are_decided_as_their_trees_are(perceptions in prop::collection::vec(perception(), 1..6)) {
        let body = json!({"tick": 1, "perceptions": perceptions}).to_string();
        let (trees, view) = answers(&body);
        prop_assert_eq!(view, trees);
    }
}
