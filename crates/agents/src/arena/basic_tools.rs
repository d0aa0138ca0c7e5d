//! The nineteen tools the original Agent Arena server registers at start
//! (movement, inventory, world queries, navigation), with its names,
//! descriptions and schemas, answering `/tools/execute` as its stand-in
//! implementations do: the scene does the real work, the server only
//! acknowledges, so the answers below are the whole of their behaviour.

use serde_json::{Map, Value, json};

/// `(name, description, parameters, returns)` of each tool, in the
/// original's order of registration.
pub fn schemas() -> Vec<(&'static str, &'static str, Value, Value)> {
    let point = || json!({"type": "array", "items": {"type": "number"}});
    let described =
        |description: &str| json!({"type": "array", "items": {"type": "number"}, "description": description});
    let object = || json!({"type": "object"});
    let nothing = || json!({"type": "object", "properties": {}});
    let list = || json!({"type": "array", "items": {"type": "object"}});
    let target = || json!({"type": "object", "properties": {"target_position": point()}, "required": ["target_position"]});
    let item = |description: &str| json!({"type": "object", "properties": {"item_id": {"type": "string", "description": description}}, "required": ["item_id"]});
    vec![
        (
            "move_to",
            "Move to a target position",
            json!({"type": "object", "properties": {
                "target_position": described("Target [x, y, z] position"),
                "speed": {"type": "number", "description": "Movement speed multiplier", "default": 1.0}
            }, "required": ["target_position"]}),
            object(),
        ),
        ("navigate_to", "Navigate to target using pathfinding", target(), object()),
        ("stop_movement", "Stop all movement", nothing(), object()),
        ("idle", "Wait and do nothing for this tick", nothing(), object()),
        ("rotate_to_face", "Rotate to face a target position", target(), object()),
        (
            "collect",
            "Collect a resource from the world",
            json!({"type": "object", "properties": {
                "target": {"type": "string", "description": "Name of the resource to collect"}
            }, "required": ["target"]}),
            object(),
        ),
        ("pickup_item", "Pick up an item from the world", item("Item ID to pick up"), object()),
        ("drop_item", "Drop an item from inventory", item("Item ID to drop"), object()),
        (
            "use_item",
            "Use an item from inventory",
            json!({"type": "object", "properties": {
                "item_id": {"type": "string"},
                "target": {"type": "string", "description": "Optional target entity ID"}
            }, "required": ["item_id"]}),
            object(),
        ),
        ("get_inventory", "Get current inventory contents", nothing(), list()),
        (
            "craft_item",
            "Craft an item at a nearby crafting station",
            json!({"type": "object", "properties": {
                "recipe": {"type": "string", "description": "Recipe name (e.g., 'torch', 'shelter', 'meal')"}
            }, "required": ["recipe"]}),
            object(),
        ),
        ("get_recipes", "Get available crafting recipes and their requirements", nothing(), object()),
        (
            "raycast",
            "Cast a ray to detect objects in the world",
            json!({"type": "object", "properties": {
                "origin": described("Ray origin [x, y, z]"),
                "direction": described("Ray direction [x, y, z]"),
                "max_distance": {"type": "number", "description": "Maximum ray distance", "default": 100.0}
            }, "required": ["origin", "direction"]}),
            json!({"type": "object", "properties": {
                "hit": {"type": "boolean"}, "distance": {"type": "number"}, "position": {"type": "array"},
                "normal": {"type": "array"}, "collider": {"type": "object"}
            }}),
        ),
        (
            "get_nearby_entities",
            "Get all entities within radius",
            json!({"type": "object", "properties": {
                "position": described("Center position [x, y, z]"),
                "radius": {"type": "number", "description": "Search radius"},
                "entity_type": {"type": "string", "description": "Filter by entity type (optional)"}
            }, "required": ["position", "radius"]}),
            list(),
        ),
        (
            "get_visible_entities",
            "Get entities visible within FOV cone",
            json!({"type": "object", "properties": {
                "agent_position": point(), "agent_forward": point(),
                "fov_degrees": {"type": "number", "default": 90.0},
                "max_distance": {"type": "number", "default": 50.0}
            }, "required": ["agent_position", "agent_forward"]}),
            list(),
        ),
        (
            "measure_distance",
            "Calculate distance between two points",
            json!({"type": "object", "properties": {"point_a": point(), "point_b": point()}, "required": ["point_a", "point_b"]}),
            json!({"type": "number"}),
        ),
        (
            "plan_path",
            "Plan a path to a target position. Returns waypoints and distance. Use this to check if a destination is reachable before moving.",
            json!({"type": "object", "properties": {
                "target_position": described("Target [x, y, z] position to plan path to"),
                "avoid_hazards": {"type": "boolean", "description": "If true, try to route around known hazards", "default": true}
            }, "required": ["target_position"]}),
            json!({"type": "object", "properties": {
                "success": {"type": "boolean"}, "waypoints": {"type": "array"},
                "distance": {"type": "number"}, "blocked": {"type": "boolean"}
            }}),
        ),
        (
            "explore_direction",
            "Get a position to explore in a specific direction. Use this when you want to explore unexplored areas. Returns a target position at the frontier of explored territory.",
            json!({"type": "object", "properties": {
                "direction": {"type": "string", "enum": DIRECTIONS, "description": "Direction to explore"}
            }, "required": ["direction"]}),
            json!({"type": "object", "properties": {
                "success": {"type": "boolean"}, "target_position": {"type": "array"},
                "distance": {"type": "number"}, "has_unexplored": {"type": "boolean"}
            }}),
        ),
        (
            "get_exploration_status",
            "Get current exploration status including percentage explored and locations of unexplored frontiers.",
            nothing(),
            json!({"type": "object", "properties": {
                "exploration_percentage": {"type": "number"}, "frontiers": {"type": "object"},
                "suggested_targets": {"type": "array"}
            }}),
        ),
    ]
}

const DIRECTIONS: [&str; 8] =
    ["north", "south", "east", "west", "northeast", "northwest", "southeast", "southwest"];

/// What the original's stand-in for tool `name` returns for `params`
/// (checked already: required parameters present, no unknown ones).
pub fn answer(name: &str, params: &Map<String, Value>) -> Result<Value, String> {
    let param = |key: &str| params.get(key).cloned().unwrap_or(Value::Null);
    Ok(match name {
        "move_to" => json!({"success": true, "path": [], "estimated_time": 0.0}),
        "navigate_to" => json!({"success": true, "waypoints": [], "distance": 0.0}),
        "stop_movement" | "drop_item" => json!({"success": true}),
        "idle" => json!({"success": true, "action": "idle"}),
        "rotate_to_face" => json!({"success": true, "angle": 0.0}),
        "collect" => {
            let target = param("target");
            let message = format!("Collected {}", crate::python::python_str(&target));
            json!({"success": true, "collected": target, "message": message})
        }
        "pickup_item" => json!({"success": true, "item": {"id": param("item_id"), "type": "unknown"}}),
        "use_item" => json!({"success": true, "effect": {}}),
        "get_inventory" | "get_nearby_entities" | "get_visible_entities" => json!([]),
        "craft_item" => json!({"success": true, "item": param("recipe")}),
        "get_recipes" => json!({"success": true, "recipes": {}}),
        "raycast" => json!({
            "hit": false, "distance": params.get("max_distance").cloned().unwrap_or(json!(100.0)),
            "position": null, "normal": null, "collider": null,
        }),
        "measure_distance" => json!(measure(&param("point_a"), &param("point_b"))?),
        "plan_path" => json!({
            "success": true, "waypoints": [param("target_position")], "distance": 0.0, "blocked": false,
            "avoid_hazards": params.get("avoid_hazards").cloned().unwrap_or(json!(true)),
        }),
        "explore_direction" => {
            let direction = param("direction");
            let direction = direction.as_str().ok_or("direction must be a string")?.to_lowercase();
            if DIRECTIONS.contains(&direction.as_str()) {
                json!({"success": true, "direction": direction, "target_position": [0, 0, 0], "distance": 0.0, "has_unexplored": true})
            } else {
                let reason = format!("Invalid direction. Use one of: {}", DIRECTIONS.join(", "));
                json!({"success": false, "has_unexplored": false, "reason": reason})
            }
        }
        "get_exploration_status" => json!({
            "success": true, "exploration_percentage": 0.0, "frontiers": {}, "suggested_targets": [],
        }),
        other => return Err(format!("Tool '{other}' not found")),
    })
}

/// The Euclidean distance of two `[x, y, z]` points.
fn measure(a: &Value, b: &Value) -> Result<f64, String> {
    let axis = |point: &Value, index: usize| {
        point.get(index).and_then(Value::as_f64).ok_or("point_a and point_b must be [x, y, z] numbers")
    };
    let (dx, dy, dz) = (axis(b, 0)? - axis(a, 0)?, axis(b, 1)? - axis(a, 1)?, axis(b, 2)? - axis(a, 2)?);
    Ok((dx * dx + dy * dy + dz * dz).sqrt())
}
