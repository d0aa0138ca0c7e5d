//! What clients receive for each event, rendered once at publish time: the
//! event's JSON data, and the whole SSE `message` event around it, in one
//! allocation shared by every client.
//!
//! The buffer holds the event's type, room for the longest `id: SEQ` line,
//! the JSON data and the blank line ending the frame. The JSON is
//! serialised before the event has its sequence number (which is given out
//! under the ring's lock); the prefix is written into the room once the
//! number is known, right before the data. The frame then starts wherever
//! its prefix starts, and the data is a slice of the same buffer. The type
//! sits just before the frame, so a client's filter reads the cache line
//! the copy of the frame reads anyway, not an allocation of its own.

use std::sync::Arc;

use bytes::Bytes;
use gamebridge_protocol::{EventName, GameEvent, RawValue};
use serde::Serialize;

use super::{HubEventKind, StoredEvent};

/// `{id, type, payload, extraPayload, visibility, game?}`, as the Vox Deorum
/// bridge sends game events (each field as the game sent it, and absent when
/// the game left it out), and `{type:"dll_status", payload:{connected}}`.
#[derive(Serialize)]
struct EventData<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a RawValue>,
    #[serde(rename = "type", skip_serializing_if = "EventName::is_missing")]
    event_type: &'a EventName,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<Payload<'a>>,
    #[serde(rename = "extraPayload", skip_serializing_if = "Option::is_none")]
    extra_payload: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    visibility: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    game: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Payload<'a> {
    Raw(&'a RawValue),
    LinkStatus { connected: bool },
}

pub const LINK_STATUS: &str = "dll_status";

const ID_FIELD: &[u8] = b"id: ";
/// What follows the id in every event's frame, up to its data.
const AFTER_ID: &[u8] = b"\nevent: message\ndata: ";
/// What ends every event's frame.
const FRAME_END: &[u8] = b"\n\n";
/// The most digits a sequence number has.
const MAX_SEQ_DIGITS: usize = 20;
/// Room in front of the data for the longest prefix.
const PREFIX_ROOM: usize = ID_FIELD.len() + MAX_SEQ_DIGITS + AFTER_ID.len();

/// An event's data, serialised, waiting for its sequence number.
pub struct Rendered {
    pub event_type: String,
    /// The type, [`PREFIX_ROOM`] bytes of room, the data, then [`FRAME_END`].
    buffer: Vec<u8>,
}

impl Rendered {
    /// Where the data starts in the buffer.
    fn data_start(&self) -> usize {
        self.event_type.len() + PREFIX_ROOM
    }

    /// The length of the event's JSON data.
    pub fn data_len(&self) -> usize {
        self.buffer.len() - self.data_start() - FRAME_END.len()
    }

    /// The stored event, numbered `seq`: cheap, since it runs under the ring's lock.
    pub fn into_event(mut self, seq: u64, game: Arc<str>, time_ms: u64) -> StoredEvent {
        let data_start = self.data_start();
        let frame_start = write_prefix(&mut self.buffer[..data_start], seq);
        // The allocation as it is: what keeping the event costs.
        let footprint = self.buffer.capacity() + self.event_type.len() + std::mem::size_of::<StoredEvent>();
        let buffer = Bytes::from(self.buffer);
        let data = buffer.slice(data_start..buffer.len() - FRAME_END.len());
        let type_len = self.event_type.len();
        StoredEvent {
            seq,
            game,
            event_type: self.event_type,
            time_ms,
            data,
            buffer,
            frame_start,
            type_len,
            footprint,
        }
    }
}

/// The event's type and its data. Payloads are copied verbatim, unless a
/// game sent them with line breaks between tokens: those would end an SSE
/// `data:` line, so such data is re-encoded compactly.
pub fn event_data(kind: &HubEventKind, game: Option<&str>) -> Rendered {
    let link_status = EventName::from(LINK_STATUS);
    let data = match kind {
        HubEventKind::Game(event) => EventData {
            id: event.id.as_deref(),
            event_type: &event.event,
            payload: event.payload.as_deref().map(Payload::Raw),
            extra_payload: event.extra_payload.as_deref(),
            visibility: event.visibility.as_deref(),
            game,
        },
        HubEventKind::LinkStatus { connected } => EventData {
            id: None,
            event_type: &link_status,
            payload: Some(Payload::LinkStatus { connected: *connected }),
            extra_payload: None,
            visibility: None,
            game,
        },
    };
    let event_type = data.event_type.as_str().to_owned();
    let mut buffer = buffer_for(&event_type, estimated_json_len(kind, game));
    serde_json::to_writer(&mut buffer, &data).expect("event data always serializes");
    finish(event_type, buffer)
}

/// Data that was rendered before (read back from the journal, say) as a
/// rendered event, line breaks dropped as [`event_data`] drops them.
pub fn rendered_data(event_type: String, data: &[u8]) -> Rendered {
    let mut buffer = buffer_for(&event_type, data.len());
    buffer.extend_from_slice(data);
    finish(event_type, buffer)
}

/// The type and the prefix room, with capacity for `data_len` bytes of data after them.
fn buffer_for(event_type: &str, data_len: usize) -> Vec<u8> {
    let data_start = event_type.len() + PREFIX_ROOM;
    let mut buffer = Vec::with_capacity(data_start + data_len + FRAME_END.len());
    buffer.extend_from_slice(event_type.as_bytes());
    buffer.resize(data_start, 0);
    buffer
}

/// Makes the data single-line and ends the frame.
fn finish(event_type: String, mut buffer: Vec<u8>) -> Rendered {
    let data_start = event_type.len() + PREFIX_ROOM;
    // In valid JSON a raw line break can only be whitespace between tokens
    // (inside strings it is escaped), so it can simply be dropped; no parse,
    // so no depth limit to hit.
    if memchr::memchr2(b'\n', b'\r', &buffer[data_start..]).is_some() {
        let mut data = buffer.split_off(data_start);
        data.retain(|&byte| byte != b'\n' && byte != b'\r');
        buffer.extend_from_slice(&data);
    }
    buffer.extend_from_slice(FRAME_END);
    Rendered { event_type, buffer }
}

/// Writes `id: SEQ\nevent: message\ndata: ` at the end of `room`, where
/// the data starts; returns where it starts.
fn write_prefix(room: &mut [u8], seq: u64) -> usize {
    let mut digits = [0u8; MAX_SEQ_DIGITS];
    let mut rest = seq;
    let mut first = MAX_SEQ_DIGITS;
    loop {
        first -= 1;
        digits[first] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let digits = &digits[first..];
    let start = room.len() - AFTER_ID.len() - digits.len() - ID_FIELD.len();
    let prefix = &mut room[start..];
    let (id_field, rest) = prefix.split_at_mut(ID_FIELD.len());
    let (number, after) = rest.split_at_mut(digits.len());
    id_field.copy_from_slice(ID_FIELD);
    number.copy_from_slice(digits);
    after.copy_from_slice(AFTER_ID);
    start
}

/// Room for the JSON of an event, so that serialising it does not grow the
/// buffer (and its capacity, which the ring counts, stays near its length).
fn estimated_json_len(kind: &HubEventKind, game: Option<&str>) -> usize {
    /// `{"id":` … `}`, with every field named, quoted and separated.
    const SYNTAX: usize = r#"{"id":,"type":"","payload":,"extraPayload":,"visibility":,"game":""}"#.len();
    let raw = |value: &Option<Box<RawValue>>| value.as_deref().map_or(0, |raw| raw.get().len());
    let fields = match kind {
        HubEventKind::Game(GameEvent { id, event, payload, extra_payload, visibility }) => {
            raw(id) + event.as_str().len() + raw(payload) + raw(extra_payload) + raw(visibility)
        }
        HubEventKind::LinkStatus { .. } => LINK_STATUS.len() + r#"{"connected":false}"#.len(),
    };
    SYNTAX + fields + game.map_or(0, str::len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_of(seq: u64, data: &[u8]) -> StoredEvent {
        rendered_data("E".into(), data).into_event(seq, "g".into(), 0)
    }

    #[test]
    fn the_frame_is_the_whole_sse_event_and_the_data_a_slice_of_it() {
        for seq in [0, 1, 9, 10, 12_345, u64::MAX] {
            let event = frame_of(seq, br#"{"a":1}"#);
            let expected = format!("id: {seq}\nevent: message\ndata: {{\"a\":1}}\n\n");
            assert_eq!(event.sse_frame(), expected.as_bytes());
            assert_eq!(&event.data[..], br#"{"a":1}"#);
            assert_eq!(event.type_bytes(), b"E");
            // One allocation: the data sits inside the frame, before its blank line.
            assert_eq!(
                event.data.as_ptr() as usize - event.sse_frame().as_ptr() as usize,
                expected.len() - 9
            );
        }
    }

    #[test]
    fn line_breaks_leave_the_data_but_not_the_frame() {
        let event = frame_of(7, b"{\n  \"a\": 1\r\n}");
        assert_eq!(&event.data[..], b"{  \"a\": 1}");
        assert_eq!(event.sse_frame(), b"id: 7\nevent: message\ndata: {  \"a\": 1}\n\n");
    }

    #[test]
    fn the_footprint_counts_the_whole_buffer_and_the_buffer_is_sized_to_fit() {
        let event = frame_of(1, &[b'x'; 1000]);
        let buffer = "E".len() + PREFIX_ROOM + 1000 + FRAME_END.len();
        let record = "E".len() + std::mem::size_of::<StoredEvent>();
        assert_eq!(event.footprint(), buffer + record);
    }

    #[test]
    fn rendering_does_not_grow_the_buffer_past_its_estimate() {
        let payload = RawValue::from_string(r#"{"unitId":1,"x":2,"y":3}"#.into()).unwrap();
        let kind = HubEventKind::Game(GameEvent {
            id: Some(RawValue::from_string("1000001".into()).unwrap()),
            ..GameEvent::named("UnitMoved", payload)
        });
        let rendered = event_data(&kind, Some("civ5"));
        // Had serialising outgrown the estimate, the capacity would have doubled.
        let (capacity, length) = (rendered.buffer.capacity(), rendered.buffer.len());
        assert!(capacity <= length + 64, "a capacity of {capacity} for {length} bytes");
    }
}
