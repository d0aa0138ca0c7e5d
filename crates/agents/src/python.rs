//! JSON values printed as the Python servers print them (`str()` of what
//! `json.loads` made), for texts that must read exactly as the original's.

use serde_json::Value;

/// `str(value)`: strings bare, everything inside containers as `repr`.
pub fn python_str(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => repr(other),
    }
}

fn repr(value: &Value) -> String {
    match value {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(number) => match (number.as_i64(), number.as_u64(), number.as_f64()) {
            (Some(integer), _, _) => integer.to_string(),
            (_, Some(integer), _) => integer.to_string(),
            (_, _, Some(float)) => float_repr(float),
            _ => number.to_string(),
        },
        Value::String(text) => string_repr(text),
        Value::Array(items) => format!("[{}]", items.iter().map(repr).collect::<Vec<_>>().join(", ")),
        Value::Object(fields) => {
            let fields: Vec<String> =
                fields.iter().map(|(key, value)| format!("{}: {}", string_repr(key), repr(value))).collect();
            format!("{{{}}}", fields.join(", "))
        }
    }
}

/// `repr(float)`: the shortest digits that read back, positional from
/// 1e-4 up to 1e16 (always with a decimal point), else with an exponent.
fn float_repr(float: f64) -> String {
    if !float.is_finite() {
        return if float.is_nan() {
            "nan"
        } else if float > 0.0 {
            "inf"
        } else {
            "-inf"
        }
        .into();
    }
    // `{:e}` gives the shortest round-trip digits: "1.5e300", "-2.5e0".
    let scientific = format!("{float:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..16).contains(&exponent) {
        let positional = format!("{float}");
        if positional.contains('.') { positional } else { format!("{positional}.0") }
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
    }
}

/// `repr(str)`: single quotes unless the text holds one and no double.
fn string_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for character in text.chars() {
        match character {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_print_as_python_prints_them() {
        let cases = [
            (json!("fire"), "fire"),
            (json!(null), "None"),
            (json!(true), "True"),
            (json!(7), "7"),
            (json!(123.0), "123.0"),
            (json!(1e16), "1e+16"),
            (json!(1e15), "1000000000000000.0"),
            (json!(1e-5), "1e-05"),
            (json!(0.0001), "0.0001"),
            (json!(-2.5), "-2.5"),
            (json!(1.0 / 3.0), "0.3333333333333333"),
            (json!([1, "a", null, true, {"k": 1.0}]), "[1, 'a', None, True, {'k': 1.0}]"),
            (json!(["it's"]), "[\"it's\"]"),
        ];
        for (value, printed) in cases {
            assert_eq!(python_str(&value), printed, "{value}");
        }
    }
}
