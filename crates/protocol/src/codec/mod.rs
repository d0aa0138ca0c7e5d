//! Framing: how a byte stream is cut into messages.
//!
//! Three framings cover the games gamebridge speaks to:
//! - a multi-byte delimiter after each frame (Vox Deorum: `!@#$%^!`),
//! - JSON lines (`\n`, a trailing `\r` tolerated),
//! - a u16 or u32 big-endian length before each frame (MAME scripts).
//!
//! [`FrameCodec`] implements tokio-util's `Decoder` and has an `encode` method. Its decoded item
//! is itself a `Result`: a frame that is too large or cut off is reported as an
//! item error so the stream goes on with the next frame, while the decoder's
//! own error type is reserved for I/O. Memory stays bounded by the maximum
//! frame size whatever the peer sends.

mod delimited;
mod length_prefixed;

use std::fmt;
use std::str::FromStr;

use bytes::{Bytes, BytesMut};
use tokio_util::codec::Decoder;

pub use delimited::DelimitedCodec;
pub use length_prefixed::{LengthPrefixedCodec, PrefixWidth};

/// The Vox Deorum frame delimiter.
pub const VOX_DELIMITER: &[u8] = b"!@#$%^!";

/// Frames larger than this are refused unless configured otherwise.
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024;

/// A frame that could not be cut or written; the stream itself goes on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {size} bytes exceeds the maximum of {max} bytes; skipped")]
    TooLarge { size: usize, max: usize },
    #[error("stream ended inside a frame ({len} bytes of it had come); dropped")]
    Truncated { len: usize },
    #[error("payload contains the frame delimiter and cannot be escaped")]
    DelimiterInPayload,
}

/// Which framing a link uses, as written in a link spec (`framing=…`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Framing {
    Delimiter(Vec<u8>),
    Lines,
    LengthPrefixed(PrefixWidth),
}

impl Default for Framing {
    fn default() -> Self {
        Framing::Delimiter(VOX_DELIMITER.to_vec())
    }
}

impl FromStr for Framing {
    type Err = String;

    /// `delimiter`, `delimiter:TEXT`, `lines`, `u16be`, `u32be`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "delimiter" => Ok(Framing::default()),
            "lines" => Ok(Framing::Lines),
            "u16be" => Ok(Framing::LengthPrefixed(PrefixWidth::U16)),
            "u32be" => Ok(Framing::LengthPrefixed(PrefixWidth::U32)),
            _ => match text.strip_prefix("delimiter:") {
                Some("") => Err("framing delimiter:TEXT needs a non-empty TEXT".into()),
                Some(delimiter) => Ok(Framing::Delimiter(delimiter.as_bytes().to_vec())),
                None => Err(format!(
                    "unknown framing {text:?}; expected delimiter, delimiter:TEXT, lines, u16be or u32be"
                )),
            },
        }
    }
}

impl fmt::Display for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Framing::Delimiter(delimiter) => write!(f, "delimiter:{}", String::from_utf8_lossy(delimiter)),
            Framing::Lines => f.write_str("lines"),
            Framing::LengthPrefixed(PrefixWidth::U16) => f.write_str("u16be"),
            Framing::LengthPrefixed(PrefixWidth::U32) => f.write_str("u32be"),
        }
    }
}

/// A codec for any [`Framing`].
#[derive(Debug)]
pub enum FrameCodec {
    /// Boxed: the delimiter searcher is large, and there is one codec per connection.
    Delimited(Box<DelimitedCodec>),
    LengthPrefixed(LengthPrefixedCodec),
}

impl FrameCodec {
    pub fn new(framing: &Framing, max_frame: usize) -> Self {
        match framing {
            Framing::Delimiter(delimiter) => {
                FrameCodec::Delimited(Box::new(DelimitedCodec::new(delimiter, max_frame)))
            }
            Framing::Lines => FrameCodec::Delimited(Box::new(DelimitedCodec::lines(max_frame))),
            Framing::LengthPrefixed(width) => {
                FrameCodec::LengthPrefixed(LengthPrefixedCodec::new(*width, max_frame))
            }
        }
    }
}

impl Decoder for FrameCodec {
    type Item = Result<Bytes, FrameError>;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Self::Item>, Self::Error> {
        match self {
            FrameCodec::Delimited(codec) => codec.decode(buf),
            FrameCodec::LengthPrefixed(codec) => codec.decode(buf),
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Self::Item>, Self::Error> {
        match self {
            FrameCodec::Delimited(codec) => codec.decode_eof(buf),
            FrameCodec::LengthPrefixed(codec) => codec.decode_eof(buf),
        }
    }
}

impl FrameCodec {
    /// Appends one framed payload to `dst`.
    pub fn encode(&self, payload: &[u8], dst: &mut BytesMut) -> Result<(), FrameError> {
        match self {
            FrameCodec::Delimited(codec) => codec.encode(payload, dst),
            FrameCodec::LengthPrefixed(codec) => codec.encode(payload, dst),
        }
    }
}

#[cfg(test)]
mod tests;
