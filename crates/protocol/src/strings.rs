//! The all-strings value encoding of the Transport Fever 2 mod, whose Lua
//! JSON parser handles only strings: every scalar becomes a string,
//! recursively, while lists and maps keep their shape.

use serde_json::Value;

/// Numbers become their JSON text, booleans `"true"`/`"false"`, null
/// `"null"`; strings stay as they are.
pub fn stringify_values(value: &Value) -> Value {
    match value {
        Value::Null => Value::String("null".into()),
        Value::Bool(flag) => Value::String(flag.to_string()),
        Value::Number(number) => Value::String(number.to_string()),
        Value::String(text) => Value::String(text.clone()),
        Value::Array(items) => Value::Array(items.iter().map(stringify_values).collect()),
        Value::Object(fields) => {
            Value::Object(fields.iter().map(|(key, value)| (key.clone(), stringify_values(value))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    #[test]
    fn scalars_become_strings_and_shapes_stay() {
        let args = json!({
            "year": 1855, "money": 2.5e6, "paused": false, "name": "Indianapolis", "none": null,
            "ids": [1, 2, [3, true]], "nested": {"depth": -1, "ratio": 0.25}
        });
        assert_eq!(
            stringify_values(&args),
            json!({
                "year": "1855", "money": "2500000.0", "paused": "false", "name": "Indianapolis", "none": "null",
                "ids": ["1", "2", ["3", "true"]], "nested": {"depth": "-1", "ratio": "0.25"}
            })
        );
    }

    fn values() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |x| x.is_finite()).prop_map(Value::from),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::btree_map(any::<String>(), inner, 0..8)
                    .prop_map(|fields| Value::Object(fields.into_iter().collect())),
            ]
        })
    }

    fn only_strings(value: &Value) -> bool {
        match value {
            Value::String(_) => true,
            Value::Array(items) => items.iter().all(only_strings),
            Value::Object(fields) => fields.values().all(only_strings),
            _ => false,
        }
    }

    proptest! {
        #[test]
        fn every_leaf_is_a_string_and_numbers_keep_their_text(value in values()) {
            let encoded = stringify_values(&value);
            prop_assert!(only_strings(&encoded));
            if let Value::Number(number) = &value {
                prop_assert_eq!(encoded, Value::String(number.to_string()));
            }
        }
    }
}
