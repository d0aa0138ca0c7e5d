//! Frame specs: the layout of a lockstep game's frames and replies, declared
//! once in the game's manifest (`"frames"`, see `manifests/tempest.json`).
//!
//! A lockstep game speaks raw bytes (Tempest: a 39-byte big-endian header and
//! 195 `f32` values; a 5-byte reply). Without a spec every agent re-derives
//! the layout from the game's source; with one, the bridge checks each frame
//! and reply against it and decodes frames as JSON for agents that take JSON
//! (webhooks), and the Python package builds numpy views and Gymnasium spaces
//! from the same declaration.
//!
//! ```json
//! {"frame": {"endian": "big", "fields": [
//!     {"name": "num_values", "type": "u16", "value": 195},
//!     {"name": "reward", "type": "f64"},
//!     {"name": "state", "type": "f32", "count": 195}]},
//!  "reply": {"fields": [{"name": "fire", "type": "i8", "min": 0, "max": 1}],
//!            "default": "00"},
//!  "observation": "state", "reward": ["reward"], "done": "done",
//!  "action": ["fire"], "hold_ms": 3000}
//! ```
//!
//! Fields follow each other without padding; a field with `count` is an
//! array; `value` is a constant the game always sends (a frame with another
//! value is refused, as the original servers refuse it).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The scalar types a field may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scalar {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    U64,
    I64,
    F32,
    F64,
}

impl Scalar {
    pub fn size(self) -> usize {
        match self {
            Scalar::U8 | Scalar::I8 => 1,
            Scalar::U16 | Scalar::I16 => 2,
            Scalar::U32 | Scalar::I32 | Scalar::F32 => 4,
            Scalar::U64 | Scalar::I64 | Scalar::F64 => 8,
        }
    }

    /// The value at the start of `bytes` (at least [`Scalar::size`] long).
    fn read(self, bytes: &[u8], big: bool) -> Value {
        macro_rules! read {
            ($kind:ty) => {{
                let raw = bytes[..std::mem::size_of::<$kind>()].try_into().expect("sized by the caller");
                if big { <$kind>::from_be_bytes(raw) } else { <$kind>::from_le_bytes(raw) }
            }};
        }
        match self {
            Scalar::U8 => Value::from(bytes[0]),
            Scalar::I8 => Value::from(bytes[0] as i8),
            Scalar::U16 => Value::from(read!(u16)),
            Scalar::I16 => Value::from(read!(i16)),
            Scalar::U32 => Value::from(read!(u32)),
            Scalar::I32 => Value::from(read!(i32)),
            Scalar::U64 => Value::from(read!(u64)),
            Scalar::I64 => Value::from(read!(i64)),
            // JSON has no NaN or infinity: those are null.
            Scalar::F32 => {
                serde_json::Number::from_f64(f64::from(read!(f32))).map_or(Value::Null, Value::Number)
            }
            Scalar::F64 => serde_json::Number::from_f64(read!(f64)).map_or(Value::Null, Value::Number),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Endian {
    Big,
    #[default]
    Little,
}

/// One field of a layout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: Scalar,
    /// An array of this many values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
    /// The value the game always sends here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// The range of values (action spaces).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Field {
    pub fn size(&self) -> usize {
        self.kind.size() * self.count.unwrap_or(1)
    }
}

/// The bytes of a frame or a reply, field after field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layout {
    #[serde(default)]
    pub endian: Endian,
    pub fields: Vec<Field>,
    /// The reply the game gets when no agent answers, in hexadecimal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

impl Layout {
    /// The size of every frame of this layout.
    pub fn size(&self) -> usize {
        self.fields.iter().map(Field::size).sum()
    }

    /// Why `bytes` is not a frame of this layout, if it is not one.
    pub fn check(&self, bytes: &[u8]) -> Result<(), String> {
        if bytes.len() != self.size() {
            return Err(format!("the frame has {} bytes; its spec says {}", bytes.len(), self.size()));
        }
        let big = self.endian == Endian::Big;
        let mut at = 0;
        for field in &self.fields {
            if let Some(expected) = field.value
                && let Some(got) = field.kind.read(&bytes[at..], big).as_f64()
                && got != expected
            {
                return Err(format!("{} is {got}; its spec says {expected}", field.name));
            }
            at += field.size();
        }
        Ok(())
    }

    /// The fields of `bytes` as a JSON object (arrays as arrays), after
    /// [`Layout::check`].
    pub fn decode(&self, bytes: &[u8]) -> Result<Map<String, Value>, String> {
        self.check(bytes)?;
        let big = self.endian == Endian::Big;
        let mut fields = Map::with_capacity(self.fields.len());
        let mut at = 0;
        for field in &self.fields {
            let step = field.kind.size();
            let value = match field.count {
                None => field.kind.read(&bytes[at..], big),
                Some(count) => Value::Array(
                    (0..count).map(|index| field.kind.read(&bytes[at + index * step..], big)).collect(),
                ),
            };
            fields.insert(field.name.clone(), value);
            at += field.size();
        }
        Ok(fields)
    }

    fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|field| field.name == name)
    }

    fn validate(&self, what: &str) -> Result<(), String> {
        if self.fields.is_empty() {
            return Err(format!("the {what} layout has no fields"));
        }
        for (index, field) in self.fields.iter().enumerate() {
            if field.name.is_empty() {
                return Err(format!("field {index} of the {what} layout has no name"));
            }
            if self.fields[..index].iter().any(|earlier| earlier.name == field.name) {
                return Err(format!("the {what} layout names {:?} twice", field.name));
            }
            if field.count == Some(0) {
                return Err(format!("{}: count must be at least 1", field.name));
            }
            if field.value.is_some() && field.count.is_some() {
                return Err(format!("{}: an array cannot have a constant value", field.name));
            }
            if let (Some(min), Some(max)) = (field.min, field.max)
                && min > max
            {
                return Err(format!("{}: min {min} is above max {max}", field.name));
            }
        }
        Ok(())
    }
}

/// A lockstep game's frames and replies, and which fields mean what to a
/// learner.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameSpec {
    pub frame: Layout,
    pub reply: Layout,
    /// The frame field that is the observation (an array).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observation: Option<String>,
    /// Frame fields whose sum is the reward.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reward: Vec<String>,
    /// The frame field that is non-zero when the episode ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done: Option<String>,
    /// The reply fields an agent chooses; the others keep the default's bytes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub action: Vec<String>,
    /// How long the bridge may hold a frame for a slow learner: below the
    /// game's own patience (the Tempest script gives up after 3.5 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_ms: Option<u64>,
}

impl FrameSpec {
    /// A spec from its JSON, checked: every name it refers to exists, the
    /// default reply fits the reply layout.
    pub fn from_value(value: Value) -> Result<Self, String> {
        let spec: FrameSpec = serde_json::from_value(value).map_err(|error| error.to_string())?;
        spec.frame.validate("frame")?;
        spec.reply.validate("reply")?;
        let frame_field = |role: &str, name: &str| {
            spec.frame
                .field(name)
                .map(|_| ())
                .ok_or_else(|| format!("{role} names {name:?}, which the frame has not"))
        };
        if let Some(name) = &spec.observation {
            frame_field("observation", name)?;
        }
        if let Some(name) = &spec.done {
            frame_field("done", name)?;
        }
        for name in &spec.reward {
            frame_field("reward", name)?;
        }
        for name in &spec.action {
            spec.reply
                .field(name)
                .ok_or_else(|| format!("action names {name:?}, which the reply has not"))?;
        }
        if let Some(default) = spec.default_reply()? {
            spec.reply.check(&default).map_err(|why| format!("the default reply does not fit: {why}"))?;
        }
        if spec.hold_ms == Some(0) {
            return Err("hold_ms must be at least 1".into());
        }
        Ok(spec)
    }

    /// The reply's `default`, as bytes.
    pub fn default_reply(&self) -> Result<Option<Vec<u8>>, String> {
        let Some(text) = &self.reply.default else { return Ok(None) };
        hex_bytes(text)
            .map(Some)
            .ok_or_else(|| format!("the default reply {text:?} is not hexadecimal bytes"))
    }
}

/// Bytes from hexadecimal text (`000000010d`), two digits a byte.
pub fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len()).step_by(2).map(|at| u8::from_str_radix(&text[at..at + 2], 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec() -> FrameSpec {
        FrameSpec::from_value(json!({
            "frame": {"endian": "big", "fields": [
                {"name": "n", "type": "u16", "value": 2},
                {"name": "reward", "type": "f64"},
                {"name": "done", "type": "u8"},
                {"name": "state", "type": "f32", "count": 2}]},
            "reply": {"fields": [{"name": "fire", "type": "i8", "min": 0, "max": 1},
                                 {"name": "level", "type": "u8"}], "default": "000d"},
            "observation": "state", "reward": ["reward"], "done": "done", "action": ["fire"], "hold_ms": 3000
        }))
        .unwrap()
    }

    fn frame(n: u16, reward: f64, state: [f32; 2]) -> Vec<u8> {
        let mut bytes = n.to_be_bytes().to_vec();
        bytes.extend(reward.to_be_bytes());
        bytes.push(1);
        for value in state {
            bytes.extend(value.to_be_bytes());
        }
        bytes
    }

    #[test]
    fn frames_decode_as_json_in_their_byte_order() {
        let spec = spec();
        assert_eq!((spec.frame.size(), spec.reply.size()), (19, 2));
        let decoded = spec.frame.decode(&frame(2, -1.5, [0.25, f32::NAN])).unwrap();
        assert_eq!(Value::Object(decoded), json!({"n": 2, "reward": -1.5, "done": 1, "state": [0.25, null]}));
        assert_eq!(spec.default_reply().unwrap(), Some(vec![0, 13]));
    }

    #[test]
    fn frames_that_break_the_spec_are_refused_with_the_reason() {
        let spec = spec();
        assert_eq!(spec.frame.check(&[0; 3]).unwrap_err(), "the frame has 3 bytes; its spec says 19");
        assert_eq!(spec.frame.check(&frame(7, 0.0, [0.0; 2])).unwrap_err(), "n is 7; its spec says 2");
    }

    #[test]
    fn specs_that_name_missing_fields_or_misfit_are_refused() {
        let mut value = serde_json::to_value(spec()).unwrap();
        assert_eq!(FrameSpec::from_value(value.clone()).unwrap(), spec(), "a spec survives its own JSON");
        value["done"] = json!("over");
        assert!(FrameSpec::from_value(value.clone()).unwrap_err().contains("\"over\""));
        value["done"] = json!("done");
        value["reply"]["default"] = json!("00");
        assert!(FrameSpec::from_value(value.clone()).unwrap_err().contains("1 bytes; its spec says 2"));
        value["reply"]["default"] = json!("zz00");
        assert!(FrameSpec::from_value(value.clone()).unwrap_err().contains("hexadecimal"));
        value["reply"]["default"] = json!("000d");
        value["frame"]["fields"][0]["type"] = json!("u128");
        assert!(FrameSpec::from_value(value).unwrap_err().contains("u128"));
    }
}
