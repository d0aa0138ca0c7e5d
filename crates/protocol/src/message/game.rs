//! Messages the game sends to the bridge.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{ParseError, Response, WireId, missing, null, owned};
use crate::json::escape_control_chars;

/// Game → bridge.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum GameMessage {
    /// The answer to a `lua_call` or `lua_execute`.
    LuaResponse(Response),
    /// A game function agents may call.
    LuaRegister {
        function: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        /// JSON Schema of the arguments, when the game gives one (the Lua SDK does).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parameters: Option<Box<RawValue>>,
    },
    LuaUnregister {
        function: String,
    },
    LuaClear {},
    /// The game calls a function an agent registered.
    ExternalCall {
        id: WireId,
        function: String,
        args: Box<RawValue>,
        #[serde(rename = "async")]
        is_async: bool,
    },
    GameEvent(GameEvent),
}

/// Something that happened in the game, for every subscribed agent.
///
/// Every field is kept as the game sent it, as the Vox Deorum bridge
/// forwards events: a field the game left out stays out, an explicit `null`
/// stays `null`, and an id or name of an unexpected type passes through.
#[derive(Clone, Debug, Serialize)]
pub struct GameEvent {
    /// Civ V uses `turn * 1_000_000 + sequence`; some events carry no id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "EventName::is_missing")]
    pub event: EventName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Box<RawValue>>,
    #[serde(rename = "extraPayload", default, skip_serializing_if = "Option::is_none")]
    pub extra_payload: Option<Box<RawValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<Box<RawValue>>,
}

impl GameEvent {
    /// An event named `name` with `payload` (for links and test doubles).
    pub fn named(name: impl Into<String>, payload: Box<RawValue>) -> Self {
        Self {
            id: None,
            event: EventName::Text(name.into()),
            payload: Some(payload),
            extra_payload: None,
            visibility: None,
        }
    }
}

/// A `game_event`'s `event` field: normally a string.
#[derive(Clone, Debug)]
pub enum EventName {
    Text(String),
    /// A name that is not a string, kept as the game sent it.
    Other(Box<RawValue>),
    Missing,
}

impl EventName {
    /// The name to filter by: the string, the JSON of another value, or `""`.
    pub fn as_str(&self) -> &str {
        match self {
            EventName::Text(text) => text,
            EventName::Other(raw) => raw.get(),
            EventName::Missing => "",
        }
    }

    pub fn is_missing(&self) -> bool {
        matches!(self, EventName::Missing)
    }
}

impl Serialize for EventName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            EventName::Text(text) => serializer.serialize_str(text),
            EventName::Other(raw) => raw.serialize(serializer),
            EventName::Missing => serializer.serialize_none(),
        }
    }
}

impl PartialEq for EventName {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (EventName::Text(a), EventName::Text(b)) => a == b,
            (EventName::Other(a), EventName::Other(b)) => a.get() == b.get(),
            (EventName::Missing, EventName::Missing) => true,
            _ => false,
        }
    }
}

impl From<&str> for EventName {
    fn from(name: &str) -> Self {
        EventName::Text(name.to_owned())
    }
}

impl From<String> for EventName {
    fn from(name: String) -> Self {
        EventName::Text(name)
    }
}

impl GameMessage {
    /// Parses one frame from the game, repairing raw control characters
    /// inside strings first (the Civ V DLL emits them).
    pub fn parse(frame: &[u8]) -> Result<Self, ParseError> {
        let frame = escape_control_chars(frame);
        let wire: Wire<'_> = serde_json::from_slice(&frame)?;
        wire.into_message()
    }

    /// Compact JSON (for games and test doubles written in Rust).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("game messages always serialize")
    }
}

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(rename = "type")]
    kind: String,
    /// Raw: an event's id may be anything; a call's id must be a [`WireId`].
    #[serde(borrow, default, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    success: Option<bool>,
    #[serde(borrow)]
    result: Option<&'a RawValue>,
    error: Option<crate::ErrorBody>,
    function: Option<String>,
    description: Option<String>,
    #[serde(borrow)]
    args: Option<&'a RawValue>,
    #[serde(rename = "async")]
    is_async: Option<bool>,
    #[serde(borrow, default, deserialize_with = "present")]
    event: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    payload: Option<&'a RawValue>,
    #[serde(rename = "extraPayload", borrow, default, deserialize_with = "present")]
    extra_payload: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    visibility: Option<&'a RawValue>,
    #[serde(borrow)]
    parameters: Option<&'a RawValue>,
}

/// A field that is there, `null` included (serde reads a `null` into an
/// `Option` as `None`; an event's explicit `null`s must pass through).
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(deserializer).map(Some)
}

/// The id of a call or an answer, which the bridge must match: a number or a string.
fn call_id(raw: Option<&RawValue>, kind: &'static str) -> Result<WireId, ParseError> {
    let raw = raw.ok_or(missing(kind, "id"))?;
    Ok(serde_json::from_str(raw.get())?)
}

impl Wire<'_> {
    fn into_message(self) -> Result<GameMessage, ParseError> {
        Ok(match self.kind.as_str() {
            "lua_response" => GameMessage::LuaResponse(Response {
                id: call_id(self.id, "lua_response")?,
                success: self.success.ok_or(missing("lua_response", "success"))?,
                result: self.result.map(owned),
                error: self.error,
            }),
            "lua_register" => GameMessage::LuaRegister {
                function: self.function.ok_or(missing("lua_register", "function"))?,
                description: self.description,
                parameters: self.parameters.map(owned),
            },
            "lua_unregister" => GameMessage::LuaUnregister {
                function: self.function.ok_or(missing("lua_unregister", "function"))?,
            },
            "lua_clear" => GameMessage::LuaClear {},
            "external_call" => GameMessage::ExternalCall {
                id: call_id(self.id, "external_call")?,
                function: self.function.ok_or(missing("external_call", "function"))?,
                args: self.args.map(owned).unwrap_or_else(null),
                is_async: self.is_async.unwrap_or(false),
            },
            "game_event" => GameMessage::GameEvent(GameEvent {
                id: self.id.map(owned),
                event: match self.event {
                    None => EventName::Missing,
                    Some(raw) => match serde_json::from_str::<String>(raw.get()) {
                        Ok(text) => EventName::Text(text),
                        Err(_) => EventName::Other(owned(raw)),
                    },
                },
                payload: self.payload.map(owned),
                extra_payload: self.extra_payload.map(owned),
                visibility: self.visibility.map(owned),
            }),
            _ => return Err(ParseError::UnknownType(self.kind)),
        })
    }
}
