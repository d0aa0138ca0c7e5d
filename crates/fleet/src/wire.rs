//! What nodes send each other, as JSON.

use gamebridge_hub::{FunctionInfo, Lockstep};
use gamebridge_protocol::message::{EventName, GameEvent};
use gamebridge_protocol::{ErrorBody, RawValue, WireId};
use serde::{Deserialize, Serialize};

/// A node's announcement: who it is and the games it runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub node: String,
    pub games: Vec<GameCard>,
    /// Agent functions this node's agents serve for other nodes' games.
    #[serde(default)]
    pub serves: Vec<Served>,
}

/// An agent function that agents of one node registered for a game of
/// another: the game's node registers it there, and its calls (and, for
/// `step`, its frames) go to the queue group of every node serving it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Served {
    pub game: String,
    pub function: String,
    #[serde(rename = "async", default)]
    pub is_async: bool,
    pub timeout_ms: u64,
    /// For `step`: hold frames up to the game's hold bound.
    #[serde(default)]
    pub hold: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A frame of another node's game that got the default reply instead of
/// the answer of this node's agent (sent to [`crate::subjects::Subjects::step_defaults`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepDefault {
    pub instance: String,
    pub seq: u64,
    pub error: ErrorBody,
    /// What the game got.
    pub reply: Vec<u8>,
}

/// One game of a node, as the rest of the fleet sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GameCard {
    pub name: String,
    /// Whether the game is connected to its node.
    pub connected: bool,
    /// Its functions as its node lists them (registered and described).
    pub functions: Vec<FunctionInfo>,
    /// A lockstep game's frame layout and deadlines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lockstep: Option<Lockstep>,
    /// Its pause state, as its node knows it.
    #[serde(default)]
    pub paused: Paused,
}

/// Whether a game is paused, and its paused players.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Paused {
    pub game: bool,
    pub players: Vec<i64>,
}

/// A call of a game on another node, with what is left of its caller's
/// deadline: `{"call": {function, args, timeout_ms}}` or `{"execute":
/// {script, timeout_ms}}`. (Tagged outside: an internal tag would make
/// serde buffer the arguments, which it cannot do for raw JSON.)
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FleetCall {
    Call {
        function: String,
        args: Box<RawValue>,
        timeout_ms: u64,
    },
    Execute {
        script: String,
        timeout_ms: u64,
    },
    /// Pause control, as `/pause-player`, `/pause`, … on the game's node.
    Control(Control),
}

/// What an agent may change of a game's pausing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Control {
    PauseGame,
    ResumeGame,
    PausePlayer { player_id: i64 },
    UnpausePlayer { player_id: i64 },
    ClearPausedPlayers,
    ProductionMode { enabled: bool },
}

/// A game's call of an agent function served on another node (`step`
/// frames travel as raw bytes instead, see [`crate::remote_agents`]).
#[derive(Debug, Serialize, Deserialize)]
pub struct AgentCall {
    pub id: WireId,
    pub args: Box<RawValue>,
}

/// The answer to a [`FleetCall`]: the game's result, or why it failed.
#[derive(Debug, Serialize, Deserialize)]
pub struct FleetAnswer {
    pub success: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Box<RawValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

impl From<gamebridge_protocol::CallResult> for FleetAnswer {
    fn from(outcome: gamebridge_protocol::CallResult) -> Self {
        match outcome {
            Ok(result) => Self { success: true, result: Some(result), error: None },
            Err(error) => Self { success: false, result: None, error: Some(error) },
        }
    }
}

/// An event as a node's SSE clients get it (`{id, type, payload,
/// extraPayload, visibility, game?}`), read back into the game's event by
/// the nodes that serve its game. A field sent as `null` arrives absent.
#[derive(Debug, Deserialize)]
pub struct FleetEvent {
    #[serde(default)]
    id: Option<Box<RawValue>>,
    #[serde(rename = "type", default)]
    event: Option<Box<RawValue>>,
    #[serde(default)]
    payload: Option<Box<RawValue>>,
    #[serde(rename = "extraPayload", default)]
    extra_payload: Option<Box<RawValue>>,
    #[serde(default)]
    visibility: Option<Box<RawValue>>,
}

impl FleetEvent {
    pub fn into_game_event(self) -> GameEvent {
        let event = match self.event {
            None => EventName::Missing,
            Some(raw) => match serde_json::from_str::<String>(raw.get()) {
                Ok(text) => EventName::Text(text),
                Err(_) => EventName::Other(raw),
            },
        };
        GameEvent {
            id: self.id,
            event,
            payload: self.payload,
            extra_payload: self.extra_payload,
            visibility: self.visibility,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_keep_their_arguments_as_sent() {
        let args = RawValue::from_string(r#"{"b":[1, 2.50],"a":"x"}"#.into()).unwrap();
        let call = FleetCall::Call { function: "F".into(), args, timeout_ms: 5 };
        let text = serde_json::to_string(&call).unwrap();
        assert_eq!(text, r#"{"call":{"function":"F","args":{"b":[1, 2.50],"a":"x"},"timeout_ms":5}}"#);
        let FleetCall::Call { args, .. } = serde_json::from_str(&text).unwrap() else { panic!("a call") };
        assert_eq!(args.get(), r#"{"b":[1, 2.50],"a":"x"}"#);
        let execute: FleetCall =
            serde_json::from_str(r#"{"execute":{"script":"return 1","timeout_ms":9}}"#).unwrap();
        assert!(matches!(execute, FleetCall::Execute { timeout_ms: 9, .. }));
        let control = FleetCall::Control(Control::PausePlayer { player_id: 3 });
        assert_eq!(
            serde_json::to_string(&control).unwrap(),
            r#"{"control":{"pause_player":{"player_id":3}}}"#
        );
        let resume: FleetCall = serde_json::from_str(r#"{"control":"resume_game"}"#).unwrap();
        assert!(matches!(resume, FleetCall::Control(Control::ResumeGame)));
    }

    #[test]
    fn events_come_back_as_the_game_sent_them() {
        let data = r#"{"id":1000002,"type":"UnitMoved","payload":{"x":1},"visibility":[1,2],"game":"civ5"}"#;
        let event = serde_json::from_str::<FleetEvent>(data).unwrap().into_game_event();
        assert_eq!(event.event.as_str(), "UnitMoved");
        assert_eq!(event.id.unwrap().get(), "1000002");
        assert_eq!(event.payload.unwrap().get(), r#"{"x":1}"#);
        assert!(event.extra_payload.is_none());
        let odd = serde_json::from_str::<FleetEvent>(r#"{"type":7}"#).unwrap().into_game_event();
        assert_eq!(odd.event.as_str(), "7");
    }
}
