//! A strict check of a JSON value against a schema of the bridge's OpenAPI
//! document, enough for the schemas utoipa writes: `$ref`, `allOf`,
//! `oneOf`/`anyOf` (one match is enough), `type`, `enum`, `properties`,
//! `required`, `items`, `additionalProperties`.
//!
//! Stricter than JSON Schema on purpose: an object whose schema lists its
//! properties may have no others, so a field a handler starts sending
//! without documenting it fails the check.

use serde_json::{Map, Value};

/// Checks `value` against `schema`, resolving references in `document`.
pub fn check(document: &Value, schema: &Value, value: &Value) -> Result<(), String> {
    Checker { document }.check(schema, value, "$")
}

/// Follows a local reference (`#/components/...`) to what it names.
pub fn resolve<'a>(document: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').unwrap_or_else(|| panic!("non-local $ref {reference}"));
            let target = document.pointer(pointer).unwrap_or_else(|| panic!("dangling $ref {reference}"));
            resolve(document, target)
        }
        None => node,
    }
}

struct Checker<'a> {
    document: &'a Value,
}

impl Checker<'_> {
    fn check(&self, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
        let schema = resolve(self.document, schema);
        if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
            return self.check(&self.merge_all_of(parts), value, at);
        }
        for alternatives in ["oneOf", "anyOf"] {
            if let Some(choices) = schema.get(alternatives).and_then(Value::as_array) {
                let failures: Vec<String> =
                    choices.iter().filter_map(|choice| self.check(choice, value, at).err()).collect();
                if failures.len() == choices.len() {
                    return Err(format!("{at}: matches no {alternatives} choice: {}", failures.join("; ")));
                }
                return Ok(());
            }
        }
        if let Some(types) = schema.get("type") {
            let types: Vec<&str> = match types {
                Value::Array(types) => types.iter().filter_map(Value::as_str).collect(),
                other => vec![other.as_str().unwrap_or_default()],
            };
            if !types.iter().any(|kind| has_type(value, kind)) {
                return Err(format!("{at}: {value} is not of type {types:?}"));
            }
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            return Err(format!("{at}: {value} is not one of {allowed:?}"));
        }
        match value {
            Value::Object(object) => self.check_object(schema, object, at),
            Value::Array(items) => match schema.get("items") {
                Some(item_schema) => items
                    .iter()
                    .enumerate()
                    .try_for_each(|(index, item)| self.check(item_schema, item, &format!("{at}[{index}]"))),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    fn check_object(&self, schema: &Value, object: &Map<String, Value>, at: &str) -> Result<(), String> {
        let properties = schema.get("properties").and_then(Value::as_object);
        for required in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            let name = required.as_str().unwrap_or_default();
            if !object.contains_key(name) {
                return Err(format!("{at}: lacks the required {name:?}"));
            }
        }
        for (key, item) in object {
            let at = format!("{at}.{key}");
            match (properties.and_then(|properties| properties.get(key)), schema.get("additionalProperties"))
            {
                (Some(property), _) => self.check(property, item, &at)?,
                (None, Some(Value::Bool(true))) => {}
                (None, Some(additional @ Value::Object(_))) => self.check(additional, item, &at)?,
                (None, _) if properties.is_some() => return Err(format!("{at}: not in the schema")),
                (None, _) => {}
            }
        }
        Ok(())
    }

    /// One object schema with the properties and requirements of every part.
    fn merge_all_of(&self, parts: &[Value]) -> Value {
        let (mut properties, mut required) = (Map::new(), Vec::new());
        for part in parts {
            let part = resolve(self.document, part);
            assert!(part.get("allOf").is_none(), "nested allOf is not supported");
            if let Some(more) = part.get("properties").and_then(Value::as_object) {
                properties.extend(more.clone());
            }
            required.extend(part.get("required").and_then(Value::as_array).cloned().unwrap_or_default());
        }
        serde_json::json!({ "type": "object", "properties": properties, "required": required })
    }
}

fn has_type(value: &Value, kind: &str) -> bool {
    match kind {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    }
}

#[test]
fn the_check_refuses_what_the_schema_does_not_allow() {
    let document = serde_json::json!({"components": {"schemas": {
        "Point": {"type": "object", "required": ["x"], "properties": {"x": {"type": "integer"}}}
    }}});
    let point = serde_json::json!({"$ref": "#/components/schemas/Point"});
    assert!(check(&document, &point, &serde_json::json!({"x": 1})).is_ok());
    assert!(check(&document, &point, &serde_json::json!({"x": "1"})).is_err(), "wrong type");
    assert!(check(&document, &point, &serde_json::json!({})).is_err(), "missing required");
    assert!(check(&document, &point, &serde_json::json!({"x": 1, "y": 2})).is_err(), "undocumented key");
}
