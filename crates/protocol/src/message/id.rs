//! Message ids as they appear on the wire.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A call or event id. The bridge sends string ids; games answer with the id
/// they were given and choose their own ids (strings or numbers) for
/// `external_call` and `game_event`, which must be echoed back unchanged.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WireId {
    Number(i64),
    Text(String),
}

impl WireId {
    pub fn as_text(&self) -> Option<&str> {
        match self {
            WireId::Text(text) => Some(text),
            WireId::Number(_) => None,
        }
    }
}

impl fmt::Display for WireId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireId::Number(number) => write!(f, "{number}"),
            WireId::Text(text) => f.write_str(text),
        }
    }
}

impl From<String> for WireId {
    fn from(text: String) -> Self {
        WireId::Text(text)
    }
}
