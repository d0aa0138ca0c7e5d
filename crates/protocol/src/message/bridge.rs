//! Messages the bridge sends to the game.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{ParseError, Response, WireId, missing, owned, raw};

/// Bridge → game.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BridgeMessage {
    /// Call a registered game function. The DLL passes `args` positionally
    /// only when it is a JSON array.
    LuaCall {
        id: WireId,
        function: String,
        args: Box<RawValue>,
    },
    /// Run a Lua script in the game.
    LuaExecute {
        id: WireId,
        script: String,
    },
    /// An agent function the game may now call.
    ExternalRegister {
        name: String,
        #[serde(rename = "async")]
        is_async: bool,
    },
    ExternalUnregister {
        name: String,
    },
    /// The answer to the game's `external_call`.
    ExternalResponse(Response),
    PausePlayer {
        #[serde(rename = "playerID")]
        player_id: i64,
    },
    UnpausePlayer {
        #[serde(rename = "playerID")]
        player_id: i64,
    },
    ClearPausedPlayers {},
    SetProductionMode {
        enabled: bool,
    },
    /// Pause the game now, whoever's turn it is (the original bridge held a
    /// Windows-only named mutex instead; this message works on every system).
    PauseGame {},
    /// Undo `pause_game`.
    ResumeGame {},
}

impl BridgeMessage {
    /// The id of the call this message starts (`lua_call`, `lua_execute`).
    pub fn call_id(&self) -> Option<&WireId> {
        match self {
            BridgeMessage::LuaCall { id, .. } | BridgeMessage::LuaExecute { id, .. } => Some(id),
            _ => None,
        }
    }

    /// Compact JSON, as the game expects it.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("bridge messages always serialize")
    }

    /// Parses one frame sent by a bridge (for games and test doubles written
    /// in Rust).
    pub fn parse(frame: &[u8]) -> Result<Self, ParseError> {
        let wire: Wire<'_> = serde_json::from_slice(frame)?;
        wire.into_message()
    }
}

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(rename = "type")]
    kind: String,
    id: Option<WireId>,
    function: Option<String>,
    #[serde(borrow)]
    args: Option<&'a RawValue>,
    script: Option<String>,
    name: Option<String>,
    #[serde(rename = "async")]
    is_async: Option<bool>,
    success: Option<bool>,
    #[serde(borrow)]
    result: Option<&'a RawValue>,
    error: Option<crate::ErrorBody>,
    #[serde(rename = "playerID")]
    player_id: Option<i64>,
    enabled: Option<bool>,
}

impl Wire<'_> {
    fn into_message(self) -> Result<BridgeMessage, ParseError> {
        Ok(match self.kind.as_str() {
            "lua_call" => BridgeMessage::LuaCall {
                id: self.id.ok_or(missing("lua_call", "id"))?,
                function: self.function.ok_or(missing("lua_call", "function"))?,
                args: self.args.map(owned).unwrap_or_else(|| raw("{}")),
            },
            "lua_execute" => BridgeMessage::LuaExecute {
                id: self.id.ok_or(missing("lua_execute", "id"))?,
                script: self.script.ok_or(missing("lua_execute", "script"))?,
            },
            "external_register" => BridgeMessage::ExternalRegister {
                name: self.name.ok_or(missing("external_register", "name"))?,
                is_async: self.is_async.unwrap_or(false),
            },
            "external_unregister" => BridgeMessage::ExternalUnregister {
                name: self.name.ok_or(missing("external_unregister", "name"))?,
            },
            "external_response" => BridgeMessage::ExternalResponse(Response {
                id: self.id.ok_or(missing("external_response", "id"))?,
                success: self.success.ok_or(missing("external_response", "success"))?,
                result: self.result.map(owned),
                error: self.error,
            }),
            "pause_player" => BridgeMessage::PausePlayer {
                player_id: self.player_id.ok_or(missing("pause_player", "playerID"))?,
            },
            "unpause_player" => BridgeMessage::UnpausePlayer {
                player_id: self.player_id.ok_or(missing("unpause_player", "playerID"))?,
            },
            "clear_paused_players" => BridgeMessage::ClearPausedPlayers {},
            "pause_game" => BridgeMessage::PauseGame {},
            "resume_game" => BridgeMessage::ResumeGame {},
            "set_production_mode" => BridgeMessage::SetProductionMode {
                enabled: self.enabled.ok_or(missing("set_production_mode", "enabled"))?,
            },
            _ => return Err(ParseError::UnknownType(self.kind)),
        })
    }
}
