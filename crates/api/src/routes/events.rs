//! `GET /events`: Server-Sent Events, as the Vox Deorum bridge sends them
//! (`connected`, `ping` every 5 s, game events as `message`), plus what it
//! lacked: a bridge sequence number as each event's SSE `id:`, replay from
//! `Last-Event-ID` or `?since=`, a `lagged` notice instead of a silent gap,
//! and filters. `GET /events/history` reads past events as JSON.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

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

/// Events sent to a client in one chunk at most. Each event's SSE frame is
/// rendered once, at publish time; a chunk is those frames copied side by
/// side, one copy per client and chunk, then one write.
const BATCH_EVENTS: usize = 4096;

/// Bytes of frames in one chunk at most (but for one larger event).
const BATCH_BYTES: usize = 128 << 10;

/// Chunks are cut from allocations this large, one after the other, so a
/// client's small chunks share one allocation rather than get one each; a
/// chunk never outgrows the allocation it is cut from.
const FRAMES_ARENA: usize = BATCH_BYTES;

/// Below this much room left in its allocation, a chunk starts a new one.
const MIN_ARENA_ROOM: usize = 4 << 10;

/// Bytes of a client's chunks that the server may hold unwritten: the
/// stream makes no new chunk while more are waiting for the socket. So a
/// client that stopped reading costs this much memory (beside the kernel's
/// buffers), where hyper alone would queue some 400 KB of it.
const MAX_UNSENT: usize = 64 << 10;

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Replay every event after this sequence number that is still kept.
    pub(crate) since: Option<u64>,
    /// Only these event types (comma-separated).
    pub(crate) types: Option<String>,
    /// Only events of this game.
    pub(crate) game: Option<String>,
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
    /// Sorted and without repeats: checked for every event a client reads,
    /// a binary search of a few names is cheaper than hashing the name.
    types: Option<Vec<String>>,
    game: Option<String>,
}

impl EventFilter {
    pub fn new(types: Option<&str>, game: Option<String>) -> Self {
        let types = types.map(|list| {
            let mut names: Vec<String> =
                list.split(',').map(str::trim).filter(|name| !name.is_empty()).map(str::to_owned).collect();
            names.sort_unstable();
            names.dedup();
            names
        });
        Self { types, game }
    }

    /// Whether an event of type `event_type` passes the type filter.
    pub fn accepts_type(&self, event_type: &str) -> bool {
        self.types
            .as_ref()
            .is_none_or(|types| types.binary_search_by(|name| name.as_str().cmp(event_type)).is_ok())
    }

    pub fn accepts(&self, event: &StoredEvent) -> bool {
        // The type as bytes beside the event's frame, not its own allocation.
        let named = |types: &Vec<String>| {
            types.binary_search_by(|name| name.as_bytes().cmp(event.type_bytes())).is_ok()
        };
        self.types.as_ref().is_none_or(named) && self.game.as_deref().is_none_or(|game| *event.game == *game)
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
    Ok(sse_response(Body::from_stream(sse_stream(state, cursor, filter, reset))))
}

/// An event stream's response: not cached, not buffered by proxies.
pub(crate) fn sse_response(body: Body) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .header("x-accel-buffering", "no")
        .body(body)
        .expect("static headers are valid")
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
    /// The frames of the next chunk, copied side by side. Chunks are split
    /// off the front, so they share one allocation until it is used up.
    frames: BytesMut,
    /// What of the chunks given to hyper it has not written yet.
    unsent: Arc<Unsent>,
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
            if !self.unsent.has_room() {
                tokio::select! {
                    () = self.unsent.room() => {}
                    () = self.streams_end.cancelled() => {}
                }
            }
            if self.streams_end.is_cancelled() {
                // What the game's link published last (its `dll_status`) goes out first.
                let delivery = self.cursor.poll_available_within(BATCH_EVENTS, BATCH_BYTES).await?;
                match render(&delivery, &self.filter) {
                    Some(chunk) => return Some(chunk.freeze()),
                    None => continue,
                }
            }
            match self.wait().await {
                Woken::Events => {
                    if !self.frames.is_empty() {
                        return Some(self.frames.split().freeze());
                    }
                }
                Woken::Gap(gap) => {
                    if let Some(chunk) = render(&gap, &self.filter) {
                        return Some(chunk.freeze());
                    }
                }
                Woken::Ping => {
                    let mut chunk = BytesMut::new();
                    put_event(
                        &mut chunk,
                        None,
                        "ping",
                        json!({ "timestamp": now_iso() }).to_string().as_bytes(),
                    );
                    return Some(chunk.freeze());
                }
                Woken::Stopping => {}
            }
        }
    }

    /// Waits for new events (copied into `frames` as they are visited, if
    /// the filter keeps them), the ping timer or the end of the streams.
    async fn wait(&mut self) -> Woken {
        if self.frames.capacity() < MIN_ARENA_ROOM {
            self.frames.reserve(FRAMES_ARENA);
        }
        let room = self.frames.capacity().min(BATCH_BYTES);
        let (frames, filter) = (&mut self.frames, &self.filter);
        let keep = |event: &StoredEvent| {
            if filter.accepts(event) {
                frames.extend_from_slice(event.sse_frame());
            }
        };
        tokio::select! {
            gap = self.cursor.next_visiting(BATCH_EVENTS, room, keep) => gap.map_or(Woken::Events, Woken::Gap),
            _ = self.ping.tick() => Woken::Ping,
            () = self.streams_end.cancelled() => Woken::Stopping,
        }
    }
}

/// The bytes of a client's chunks that hyper holds and has not written to
/// the socket yet: hyper drops a chunk once it is written, and a chunk
/// counts until then.
#[derive(Default)]
struct Unsent {
    bytes: AtomicUsize,
    written: tokio::sync::Notify,
}

impl Unsent {
    /// `chunk`, counted until it is dropped.
    fn track(self: &Arc<Self>, chunk: Bytes) -> Bytes {
        self.bytes.fetch_add(chunk.len(), Ordering::Relaxed);
        Bytes::from_owner(Tracked { chunk, unsent: self.clone() })
    }

    /// Whether less than [`MAX_UNSENT`] is waiting for the socket.
    fn has_room(&self) -> bool {
        self.bytes.load(Ordering::Relaxed) < MAX_UNSENT
    }

    /// Waits until [`has_room`](Self::has_room).
    async fn room(&self) {
        loop {
            // Taken before the check: a chunk written in between leaves a permit.
            let written = self.written.notified();
            if self.has_room() {
                return;
            }
            written.await;
        }
    }
}

/// A chunk, counted in its client's [`Unsent`] while it lives.
struct Tracked {
    chunk: Bytes,
    unsent: Arc<Unsent>,
}

impl AsRef<[u8]> for Tracked {
    fn as_ref(&self) -> &[u8] {
        &self.chunk
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.unsent.bytes.fetch_sub(self.chunk.len(), Ordering::Relaxed);
        self.unsent.written.notify_one();
    }
}

/// What a waiting stream woke for.
enum Woken {
    /// Events were read (and those the filter keeps copied out).
    Events,
    /// The events at the cursor are gone.
    Gap(Delivery),
    Ping,
    Stopping,
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
        frames: BytesMut::with_capacity(FRAMES_ARENA),
        unsent: Arc::default(),
        _client: ActiveClient::new(&state.sse_clients),
    };
    futures::stream::unfold(session, |mut session| async move {
        let chunk = session.next_chunk().await?;
        Some((Ok(session.unsent.track(chunk)), session))
    })
}

/// The chunk for a delivery, or `None` when the filter keeps nothing.
fn render(delivery: &Delivery, filter: &EventFilter) -> Option<BytesMut> {
    let mut chunk = BytesMut::new();
    match delivery {
        Delivery::Events(events) => put_frames(&mut chunk, events, filter),
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

/// The SSE frames, rendered at publish time, of the events `filter` keeps:
/// one allocation and one copy of each frame.
fn put_frames(chunk: &mut BytesMut, events: &[Arc<StoredEvent>], filter: &EventFilter) {
    let kept = || events.iter().filter(|event| filter.accepts(event));
    chunk.reserve(kept().map(|event| event.sse_frame().len()).sum());
    kept().for_each(|event| chunk.extend_from_slice(event.sse_frame()));
}

/// One SSE event. `data` is single-line JSON (the event log guarantees it).
pub(crate) fn put_event(chunk: &mut BytesMut, id: Option<u64>, event: &str, data: &[u8]) {
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

pub(crate) fn now_iso() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// RFC 3339 time, in milliseconds, of an event's `time_ms`.
fn iso8601(millis: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(millis);
    humantime::format_rfc3339_millis(time).to_string()
}

/// Client ids for the `connected` event: unique within this bridge.
pub(crate) fn next_client_id() -> String {
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

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::sync::atomic::AtomicUsize;
    use std::task::{Context, Poll};
    use std::time::Duration;

    use futures::StreamExt;
    use futures::task::ArcWake;
    use gamebridge_hub::{Hub, HubEventKind};
    use gamebridge_protocol::{GameEvent, RawValue};
    use tokio_util::sync::CancellationToken;

    use super::*;

    /// Counts the wake-ups of the task it stands for.
    #[derive(Default)]
    struct WakeCount(AtomicUsize);

    impl ArcWake for WakeCount {
        fn wake_by_ref(this: &Arc<Self>) {
            this.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn publish(hub: &Hub, count: usize) {
        let game: Arc<str> = "civ5".into();
        for n in 0..count {
            let payload = RawValue::from_string(format!(r#"{{"n":{n}}}"#)).unwrap();
            hub.events().publish(&game, &HubEventKind::Game(GameEvent::named("UnitMoved", payload)));
        }
    }

    fn live_stream(state: &ApiState) -> Pin<Box<impl Stream<Item = Result<Bytes, Infallible>> + use<>>> {
        Box::pin(sse_stream(state.clone(), state.hub.events().subscribe(None), EventFilter::default(), None))
    }

    /// The ids of the events in a chunk.
    fn ids(chunk: &[u8]) -> Vec<u64> {
        let id = |line: &[u8]| std::str::from_utf8(line.strip_prefix(b"id: ")?).ok()?.parse().ok();
        chunk.split(|&byte| byte == b'\n').filter_map(id).collect()
    }

    #[tokio::test]
    async fn a_client_that_stops_reading_is_woken_once_however_many_events_follow() {
        let hub = Hub::new();
        let mut state = ApiState::new(hub.clone(), CancellationToken::new());
        state.ping_interval = Duration::from_secs(3600);
        let wakes = Arc::new(WakeCount::default());
        let waker = futures::task::waker(wakes.clone());
        let mut stalled = live_stream(&state);
        let mut cx = Context::from_waker(&waker);
        assert!(matches!(stalled.as_mut().poll_next(&mut cx), Poll::Ready(Some(Ok(_)))), "the greeting");
        assert!(stalled.as_mut().poll_next(&mut cx).is_pending(), "waiting for events");
        // From here on the client reads nothing, so its stream is not polled
        // again: hyper polls a body only while it has room for what the
        // client has not read yet.

        let mut reading = live_stream(&state);
        reading.next().await;
        let mut next = 1;
        for _ in 0..100 {
            publish(&hub, 100);
            while next <= hub.events().latest() {
                for id in ids(&reading.next().await.unwrap().unwrap()) {
                    assert_eq!(id, next, "every event, in order");
                    next += 1;
                }
            }
        }
        assert_eq!(next, 10_001);
        assert_eq!(
            wakes.0.load(Ordering::Relaxed),
            1,
            "the stalled stream is woken by the first event only: 10,000 events later it has cost nothing more"
        );
    }

    #[test]
    fn a_chunk_is_the_frames_the_filter_keeps_side_by_side() {
        let log = gamebridge_hub::EventLog::new(10);
        let game: Arc<str> = "civ5".into();
        for name in ["A", "B", "A"] {
            let payload = RawValue::from_string("{}".into()).unwrap();
            log.publish(&game, &HubEventKind::Game(GameEvent::named(name, payload)));
        }
        let (events, _) = log.read(0, 10);
        let rendered = render(&Delivery::Events(events), &EventFilter::new(Some("A, C"), None)).unwrap();
        let frame =
            |seq: u64| format!("id: {seq}\nevent: message\ndata: {{\"type\":\"A\",\"payload\":{{}}}}\n\n");
        assert_eq!(&rendered[..], format!("{}{}", frame(1), frame(3)).as_bytes());
    }
}
