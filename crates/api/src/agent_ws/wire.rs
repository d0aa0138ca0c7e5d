//! The binary messages of the WebSocket agent protocol (docs/WEBSOCKET.md):
//! batches of lockstep frames and their replies, raw bytes, no base64.
//! All integers little-endian.
//!
//! bridge → agent, kind 1: `u8 1, u16 count`, then per frame
//! `u64 id, u64 seq, u16 game_len, game (UTF-8), u32 frame_len, frame`.
//!
//! agent → bridge, kind 2: `u8 2, u16 count`, then per reply
//! `u64 id, u32 reply_len, reply`.

use bytes::{Buf, BufMut, Bytes, BytesMut};

pub const FRAMES: u8 = 1;
pub const REPLIES: u8 = 2;

/// One frame waiting for the agent.
pub struct StepItem {
    pub id: u64,
    pub game: std::sync::Arc<str>,
    pub seq: u64,
    pub frame: Bytes,
}

/// Encodes frames as one binary message.
pub fn encode_frames(items: &[StepItem]) -> Bytes {
    let size: usize = items.iter().map(|item| 24 + item.game.len() + item.frame.len()).sum();
    let mut out = BytesMut::with_capacity(3 + size);
    out.put_u8(FRAMES);
    out.put_u16_le(items.len() as u16);
    for item in items {
        out.put_u64_le(item.id);
        out.put_u64_le(item.seq);
        out.put_u16_le(item.game.len() as u16);
        out.put_slice(item.game.as_bytes());
        out.put_u32_le(item.frame.len() as u32);
        out.put_slice(&item.frame);
    }
    out.freeze()
}

/// Decodes a replies message into `(id, reply)` pairs; replies share the
/// message's buffer (no copy).
pub fn decode_replies(mut message: Bytes) -> Result<Vec<(u64, Bytes)>, String> {
    let short = || "the binary message ends early".to_owned();
    if message.remaining() < 3 {
        return Err(short());
    }
    let kind = message.get_u8();
    if kind != REPLIES {
        return Err(format!("binary messages from an agent are replies (kind {REPLIES}), not kind {kind}"));
    }
    let count = message.get_u16_le();
    let mut replies = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        if message.remaining() < 12 {
            return Err(short());
        }
        let id = message.get_u64_le();
        let length = message.get_u32_le() as usize;
        if message.remaining() < length {
            return Err(short());
        }
        replies.push((id, message.split_to(length)));
    }
    if message.has_remaining() {
        return Err(format!("{} bytes after the last reply", message.remaining()));
    }
    Ok(replies)
}

/// Encodes replies (for agents written in Rust, and tests).
pub fn encode_replies(replies: &[(u64, &[u8])]) -> Bytes {
    let mut out = BytesMut::new();
    out.put_u8(REPLIES);
    out.put_u16_le(replies.len() as u16);
    for (id, reply) in replies {
        out.put_u64_le(*id);
        out.put_u32_le(reply.len() as u32);
        out.put_slice(reply);
    }
    out.freeze()
}

/// Decodes a frames message (for agents written in Rust, and tests).
pub fn decode_frames(mut message: Bytes) -> Result<Vec<(u64, String, u64, Bytes)>, String> {
    let short = || "the binary message ends early".to_owned();
    if message.remaining() < 3 || message.get_u8() != FRAMES {
        return Err("not a frames message".into());
    }
    let count = message.get_u16_le();
    let mut frames = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        if message.remaining() < 18 {
            return Err(short());
        }
        let id = message.get_u64_le();
        let seq = message.get_u64_le();
        let game_length = usize::from(message.get_u16_le());
        if message.remaining() < game_length + 4 {
            return Err(short());
        }
        let game = String::from_utf8_lossy(&message.split_to(game_length)).into_owned();
        let frame_length = message.get_u32_le() as usize;
        if message.remaining() < frame_length {
            return Err(short());
        }
        frames.push((id, game, seq, message.split_to(frame_length)));
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_replies_round_trip() {
        let items = vec![
            StepItem { id: 7, game: "tempest/1".into(), seq: 1, frame: Bytes::from_static(&[1, 2, 3]) },
            StepItem { id: 8, game: "tempest/2".into(), seq: 9, frame: Bytes::new() },
        ];
        let frames = decode_frames(encode_frames(&items)).unwrap();
        assert_eq!(frames[0], (7, "tempest/1".to_owned(), 1, Bytes::from_static(&[1, 2, 3])));
        assert_eq!(frames[1], (8, "tempest/2".to_owned(), 9, Bytes::new()));
        let replies = decode_replies(encode_replies(&[(7, &[9, 9, 9, 9, 9]), (8, &[])])).unwrap();
        assert_eq!(replies, vec![(7, Bytes::from_static(&[9; 5])), (8, Bytes::new())]);
    }

    #[test]
    fn malformed_replies_are_errors_not_panics() {
        assert!(decode_replies(Bytes::from_static(&[2, 1])).is_err());
        assert!(decode_replies(Bytes::from_static(&[1, 0, 0])).unwrap_err().contains("kind"));
        assert!(decode_replies(Bytes::from_static(&[2, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 99, 0, 0, 0])).is_err());
        let mut trailing = encode_replies(&[(1, &[1])]).to_vec();
        trailing.push(0);
        assert!(decode_replies(Bytes::from(trailing)).unwrap_err().contains("after"));
    }
}
