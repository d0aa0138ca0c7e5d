//! What a lockstep link tells agents about its game: the frame spec from
//! the game's manifest, the step deadline and the hold bound. Agents read it
//! in `GET /games` and in the WebSocket `registered` answer, so a Python
//! environment builds its spaces without being told the layout again.

use std::sync::Arc;

use gamebridge_protocol::FrameSpec;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Game;

/// Deserialised too: a fleet node tells the others of its lockstep games.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct Lockstep {
    /// The layout of frames and replies (see `manifests/tempest.json`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "utoipa", schema(value_type = Option<Object>))]
    pub frames: Option<Arc<FrameSpec>>,
    /// How long an agent has for each frame.
    pub deadline_ms: u64,
    /// How long a frame is held for an agent that registered `step` with
    /// `hold: true`; none: such agents get the normal deadline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold_ms: Option<u64>,
}

impl Game {
    /// Set by the link when it starts.
    pub fn set_lockstep(&self, lockstep: Lockstep) {
        self.lockstep.store(Some(Arc::new(lockstep)));
    }

    /// This game's lockstep facts, or for an instance its listening game's.
    pub fn lockstep(&self) -> Option<Arc<Lockstep>> {
        self.lockstep.load_full().or_else(|| self.parent.as_ref()?.lockstep())
    }

    /// Whether the agent stepping this game asked to be waited for.
    pub fn step_held(&self) -> bool {
        self.find_external("step").is_some_and(|function| function.hold)
    }

    /// A frame's fields as JSON, for agents that take JSON; `None` without a
    /// frame spec or for a frame that does not fit it.
    pub fn decode_frame(&self, frame: &[u8]) -> Option<Map<String, Value>> {
        self.lockstep()?.frames.as_ref()?.frame.decode(frame).ok()
    }
}
