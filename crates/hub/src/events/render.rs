//! The JSON clients receive for each event, rendered once at publish time.

use bytes::Bytes;
use gamebridge_protocol::{EventName, RawValue};
use serde::Serialize;

use super::HubEventKind;

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

/// The event's type and its data. Payloads are copied verbatim, unless a
/// game sent them with line breaks between tokens: those would end an SSE
/// `data:` line, so such data is re-encoded compactly.
pub fn event_data(kind: &HubEventKind, game: Option<&str>) -> (String, Bytes) {
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
    let mut json = serde_json::to_vec(&data).expect("event data always serializes");
    // In valid JSON a raw line break can only be whitespace between tokens
    // (inside strings it is escaped), so it can simply be dropped; no parse,
    // so no depth limit to hit.
    if memchr::memchr2(b'\n', b'\r', &json).is_some() {
        json.retain(|&byte| byte != b'\n' && byte != b'\r');
    }
    (data.event_type.as_str().to_owned(), Bytes::from(json))
}
