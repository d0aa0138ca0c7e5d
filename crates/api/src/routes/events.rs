//! `GET /events`: Server-Sent Events, as the Vox Deorum bridge sends them
//! (`connected`, `ping` every 5 s, game events as `message`), plus what it
//! lacked: a bridge sequence number as each event's SSE `id:`, replay from
//! `Last-Event-ID` or `?since=`, a `lagged` notice instead of a silent gap,
//! and filters. `GET /events/history` reads past events as JSON.

use std::collections::HashMap;
use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use bytes::{BufMut, Bytes, BytesMut};
use futures::Stream;
use gamebridge_hub::{Delivery, EventCursor, StoredEvent};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use crate::openapi::Envelope;
use crate::openapi::shapes::History;
use crate::{ApiError, ApiState, envelope};

/// Events sent to a client in one chunk at most (the original's batch size).
const BATCH: usize = 100;

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Replay every event after this sequence number that is still kept.
    since: Option<u64>,
    /// Only these event types (comma-separated).
    types: Option<String>,
    /// Only events of this game.
    game: Option<String>,
}

/// What the event stream sends, for the OpenAPI document.
const STREAM: &str = "A Server-Sent Events stream. It opens with `retry: 1000` and the event \
`connected` `{clientId, timestamp, message}`, then sends `ping` `{timestamp}` every 5 s and each \
game event as `message`, with the bridge's sequence number as its `id:` and the data `{id, type, \
payload, extraPayload?, visibility?}` (plus `game` when several games are attached; game connects \
and disconnects are type `dll_status` `{connected}`). A client that fell behind what is kept gets \
`lagged` `{missed, first, last, message}`, whose `id:` moves it past the gap. Reconnect with \
`Last-Event-ID` (or `?since=`) to receive what was missed; an id this bridge never issued (it \
restarted without a journal) gets `reset` `{lastEventId, latest, message}` after `connected`, \
then every event kept. Events are forwarded as the game sent them: `payload`, `extraPayload` and \
`visibility` only when the game sent them.";

/// Which events a client wants.
#[derive(Clone, Default)]
pub struct EventFilter {
    types: Option<HashSet<String>>,
    game: Option<String>,
}

impl EventFilter {
    pub fn new(types: Option<&str>, game: Option<String>) -> Self {
        let types = types.map(|list| {
            list.split(',').map(str::trim).filter(|name| !name.is_empty()).map(str::to_owned).collect()
        });
        Self { types, game }
    }

    pub fn accepts(&self, event: &StoredEvent) -> bool {
        self.types.as_ref().is_none_or(|types| types.contains(&event.event_type))
            && self.game.as_deref().is_none_or(|game| *event.game == *game)
    }
}

/// Game events as Server-Sent Events, live and replayed.
///
/// `/events` covers every game (filter with `?game=`), `/games/{name}/events`
/// one game. Browsers' `EventSource` can pass the token as `?token=`.
#[utoipa::path(
    get,
    path = "/events",
    tag = "events",
    operation_id = "events",
    params(
        EventsQuery,
        ("Last-Event-ID" = Option<u64>, Header, description = "Replay every event after this sequence number that is still kept (browsers send it when they reconnect); wins over `since`."),
    ),
    responses((status = 200, description = STREAM, content_type = "text/event-stream", body = String)),
)]
pub async fn events(
    State(state): State<ApiState>,
    path: Option<Path<HashMap<String, String>>>,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let path_game = path.and_then(|Path(params)| params.get("name").cloned());
    if let Some(name) = &path_game
        && state.hub.game(name).is_none()
    {
        return Err(ApiError::not_found(format!("no game named '{name}'")));
    }
    let last_event_id =
        headers.get("last-event-id").and_then(|value| value.to_str().ok()?.trim().parse().ok());
    let since = last_event_id.or(query.since);
    let filter = EventFilter::new(query.types.as_deref(), path_game.or(query.game));
    // An id this bridge never issued (a client of an earlier bridge process
    // without a journal, whose numbering was further on): replay everything
    // kept, after a `reset` notice, rather than wait for the numbering to
    // catch up with the client.
    let latest = state.hub.events().latest();
    let reset = since.filter(|&since| since > latest).map(|unknown| (unknown, latest));
    let cursor = state.hub.events().subscribe(if reset.is_some() { Some(0) } else { since });
    tracing::debug!(since, position = cursor.position(), "event stream client connected");
    let body = Body::from_stream(sse_stream(state, cursor, filter, reset));
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .header("x-accel-buffering", "no")
        .body(body)
        .expect("static headers are valid"))
}

/// One client's stream: its position, what it wants, and its ping timer.
struct SseSession {
    cursor: EventCursor,
    filter: EventFilter,
    ping: tokio::time::Interval,
    /// Ends the stream, once what the game's link said last is delivered.
    streams_end: tokio_util::sync::CancellationToken,
    greeted: bool,
    /// The unknown id a client resumed from, and the latest id there is.
    reset: Option<(u64, u64)>,
    /// Counted in `/stats` as `sse.activeClients` while the stream lives.
    _client: ActiveClient,
}

/// One open event stream, counted while it lives.
struct ActiveClient(Arc<AtomicU64>);

impl ActiveClient {
    fn new(count: &Arc<AtomicU64>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count.clone())
    }
}

impl Drop for ActiveClient {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl SseSession {
    /// The next bytes to send, or `None` when the bridge is stopping.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        if !self.greeted {
            self.greeted = true;
            let mut chunk = BytesMut::from(&b"retry: 1000\n"[..]);
            let connected = json!({
                "clientId": next_client_id(),
                "timestamp": now_iso(),
                "message": "Successfully connected to event stream",
            });
            put_event(&mut chunk, None, "connected", connected.to_string().as_bytes());
            if let Some((unknown, latest)) = self.reset {
                let reset = json!({
                    "lastEventId": unknown, "latest": latest,
                    "message": "this bridge never issued that event id (it restarted without a journal?); \
                                replaying every event it keeps",
                });
                put_event(&mut chunk, None, "reset", reset.to_string().as_bytes());
            }
            return Some(chunk.freeze());
        }
        loop {
            if self.streams_end.is_cancelled() {
                // What the game's link published last (its `dll_status`) goes out first.
                let delivery = self.cursor.poll_available(BATCH).await?;
                match render(&delivery, &self.filter) {
                    Some(chunk) => return Some(chunk.freeze()),
                    None => continue,
                }
            }
            let chunk = tokio::select! {
                delivery = self.cursor.next(BATCH) => render(&delivery, &self.filter),
                _ = self.ping.tick() => {
                    let mut chunk = BytesMut::new();
                    put_event(&mut chunk, None, "ping", json!({ "timestamp": now_iso() }).to_string().as_bytes());
                    Some(chunk)
                }
                () = self.streams_end.cancelled() => continue,
            };
            if let Some(chunk) = chunk {
                return Some(chunk.freeze());
            }
        }
    }
}

fn sse_stream(
    state: ApiState,
    cursor: EventCursor,
    filter: EventFilter,
    reset: Option<(u64, u64)>,
) -> impl Stream<Item = Result<Bytes, Infallible>> {
    let start = tokio::time::Instant::now() + state.ping_interval;
    let mut ping = tokio::time::interval_at(start, state.ping_interval);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let session = SseSession {
        cursor,
        filter,
        ping,
        streams_end: state.streams_end.clone(),
        greeted: false,
        reset,
        _client: ActiveClient::new(&state.sse_clients),
    };
    futures::stream::unfold(session, |mut session| async move {
        let chunk = session.next_chunk().await?;
        Some((Ok(chunk), session))
    })
}

/// The chunk for a delivery, or `None` when the filter keeps nothing.
fn render(delivery: &Delivery, filter: &EventFilter) -> Option<BytesMut> {
    let mut chunk = BytesMut::new();
    match delivery {
        Delivery::Events(events) => {
            for event in events.iter().filter(|event| filter.accepts(event)) {
                put_event(&mut chunk, Some(event.seq), "message", &event.data);
            }
        }
        Delivery::Lagged { first, missed } => {
            let last = first + missed - 1;
            let data = json!({ "missed": missed, "first": first, "last": last,
                "message": "events were dropped before this client read them; they are no longer kept" });
            // The id moves the client's Last-Event-ID past the gap.
            put_event(&mut chunk, Some(last), "lagged", data.to_string().as_bytes());
        }
    }
    (!chunk.is_empty()).then_some(chunk)
}

/// One SSE event. `data` is single-line JSON (the event log guarantees it).
fn put_event(chunk: &mut BytesMut, id: Option<u64>, event: &str, data: &[u8]) {
    chunk.reserve(data.len() + event.len() + 40);
    if let Some(id) = id {
        chunk.put_slice(b"id: ");
        chunk.put_slice(id.to_string().as_bytes());
        chunk.put_u8(b'\n');
    }
    chunk.put_slice(b"event: ");
    chunk.put_slice(event.as_bytes());
    chunk.put_slice(b"\ndata: ");
    chunk.put_slice(data);
    chunk.put_slice(b"\n\n");
}

fn now_iso() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// RFC 3339 time, in milliseconds, of an event's `time_ms`.
fn iso8601(millis: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(millis);
    humantime::format_rfc3339_millis(time).to_string()
}

/// Client ids for the `connected` event: unique within this bridge.
fn next_client_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("client-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Events after this sequence number (default 0: from the oldest kept).
    since: Option<u64>,
    /// At most this many events (default 100, at most 10000).
    #[param(minimum = 1, maximum = 10000)]
    limit: Option<usize>,
    /// Only these event types (comma-separated).
    types: Option<String>,
    /// Only events of this game.
    game: Option<String>,
}

/// One past event, as the journal keeps it.
#[derive(Serialize, ToSchema)]
pub struct HistoryEvent<'a> {
    /// The bridge's sequence number (the stream's `id:`).
    seq: u64,
    game: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
    /// When the bridge received it (RFC 3339).
    time: String,
    /// The event as the stream sends it.
    #[schema(value_type = serde_json::Value)]
    data: &'a serde_json::value::RawValue,
}

/// Longest page of `GET /events/history`.
const MAX_HISTORY: usize = 10_000;

/// Past events from memory and the journal, oldest first.
///
/// `missed` counts events in the range that are no longer kept; `next` is
/// the `since` of the next page.
#[utoipa::path(
    get,
    path = "/events/history",
    tag = "events",
    operation_id = "events_history",
    params(HistoryQuery),
    responses((status = 200, description = "One page of events.", body = Envelope<History>)),
)]
pub async fn history(
    State(state): State<ApiState>,
    Query(query): Query<HistoryQuery>,
) -> Result<Response, ApiError> {
    let limit = query.limit.unwrap_or(100).clamp(1, MAX_HISTORY);
    let filter = EventFilter::new(query.types.as_deref(), query.game);
    let log = state.hub.events().clone();
    let mut since = query.since.unwrap_or(0);
    let (events, missed) = tokio::task::spawn_blocking(move || {
        let mut missed = 0;
        loop {
            let (events, gap) = log.read(since, limit);
            if gap == 0 {
                return (events, missed);
            }
            missed += gap;
            since += gap;
        }
    })
    .await
    .map_err(|error| ApiError::handled(gamebridge_protocol::ErrorCode::INTERNAL_ERROR, error.to_string()))?;
    let next = events.last().map(|event| event.seq);
    let events: Vec<&Arc<StoredEvent>> = events.iter().filter(|event| filter.accepts(event)).collect();
    let rendered: Vec<HistoryEvent<'_>> = events
        .iter()
        .filter_map(|event| {
            let data = std::str::from_utf8(&event.data).ok()?;
            let data: &serde_json::value::RawValue = serde_json::from_str(data).ok()?;
            Some(HistoryEvent {
                seq: event.seq,
                game: &event.game,
                event_type: &event.event_type,
                time: iso8601(event.time_ms),
                data,
            })
        })
        .collect();
    let page = HistoryPage { events: rendered, next, missed, latest: state.hub.events().latest() };
    Ok(envelope::success(page))
}

/// One page of history, serialised straight to bytes: event data is copied
/// as it is, never parsed again (a deeply nested payload would exceed
/// serde_json's recursion limit in a `Value`).
#[derive(Serialize)]
struct HistoryPage<'a> {
    events: Vec<HistoryEvent<'a>>,
    next: Option<u64>,
    missed: u64,
    latest: u64,
}
