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
#[derive(Clone, Debug, Serialize)]
pub struct GameEvent {
    /// Civ V uses `turn * 1_000_000 + sequence`; some events carry no id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<WireId>,
    pub event: String,
    pub payload: Box<RawValue>,
    #[serde(rename = "extraPayload", default, skip_serializing_if = "Option::is_none")]
    pub extra_payload: Option<Box<RawValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<Box<RawValue>>,
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
    id: Option<WireId>,
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
    event: Option<String>,
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
    #[serde(rename = "extraPayload", borrow)]
    extra_payload: Option<&'a RawValue>,
    #[serde(borrow)]
    visibility: Option<&'a RawValue>,
    #[serde(borrow)]
    parameters: Option<&'a RawValue>,
}

impl Wire<'_> {
    fn into_message(self) -> Result<GameMessage, ParseError> {
        Ok(match self.kind.as_str() {
            "lua_response" => GameMessage::LuaResponse(Response {
                id: self.id.ok_or(missing("lua_response", "id"))?,
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
                id: self.id.ok_or(missing("external_call", "id"))?,
                function: self.function.ok_or(missing("external_call", "function"))?,
                args: self.args.map(owned).unwrap_or_else(null),
                is_async: self.is_async.unwrap_or(false),
            },
            "game_event" => GameMessage::GameEvent(GameEvent {
                id: self.id,
                event: self.event.ok_or(missing("game_event", "event"))?,
                payload: self.payload.map(owned).unwrap_or_else(null),
                extra_payload: self.extra_payload.map(owned),
                visibility: self.visibility.map(owned),
            }),
            _ => return Err(ParseError::UnknownType(self.kind)),
        })
    }
}
