//! Wire types and framing codecs of gamebridge.
//!
//! This crate is pure: no sockets, no files, no runtime. It turns bytes into
//! messages and messages into bytes, and every malformed input becomes an
//! `Err`, never a panic. That makes it fuzzable, and lets a Rust game or agent
//! speak the bridge protocol by depending on this crate alone.
//!
//! - [`codec`]: framing — multi-byte delimiter (Vox Deorum's `!@#$%^!`),
//!   u16/u32 big-endian length prefix, JSON lines.
//! - [`message`]: every message of the pipe protocol, in both directions.
//! - [`depth`]: how deeply a JSON text nests (arguments are forwarded raw).
//! - [`error`]: the error codes and error body of the Vox Deorum envelope.
//! - [`frame_spec`]: the byte layout of a lockstep game's frames and replies.
//! - [`json`]: repair of raw control characters some games put in strings.
//! - [`naming`]: where node-ipc pipes live on each system.
//! - [`strings`]: the all-strings value encoding of the Transport Fever 2 mod.

pub mod codec;
pub mod depth;
pub mod error;
pub mod frame_spec;
pub mod json;
pub mod message;
pub mod naming;
pub mod strings;

pub use codec::{FrameCodec, FrameError, Framing};
pub use error::{CallResult, ErrorBody, ErrorCode};
pub use frame_spec::FrameSpec;
pub use message::{BridgeMessage, EventName, GameEvent, GameMessage, ParseError, Response, WireId};
pub use serde_json::value::RawValue;
