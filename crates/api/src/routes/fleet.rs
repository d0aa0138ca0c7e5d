//! `GET /fleet/events`: the fleet's journal (a JetStream stream of every
//! node's events) as Server-Sent Events. Its ids are the stream's, the same
//! on every node, so a client that loses its node resumes on any other with
//! `Last-Event-ID`, and after any node restarted. `/events` stays this
//! bridge's own stream, numbered by this bridge.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use futures::Stream;
use gamebridge_hub::{SharedEvents, SharedFrom};
use gamebridge_protocol::{ErrorBody, ErrorCode};
use serde_json::json;

use super::events::{EventFilter, EventsQuery, next_client_id, now_iso, put_event, sse_response};
use crate::{ApiError, ApiState};

/// How often an idle stream says it is alive, as `/events` does.
const PING: std::time::Duration = std::time::Duration::from_secs(5);

const STREAM: &str = "A Server-Sent Events stream of every fleet node's game events, as kept by \
the fleet's JetStream stream: `retry: 1000`, `connected` `{clientId, timestamp, message}`, `ping` \
every 5 s, each event as `message` with the stream's sequence number as its `id:` and the data its \
node's `/events` sends (with `game`). Reconnect to any node with `Last-Event-ID` (or `?since=`; 0: \
from the oldest kept) to receive what was missed. Should the stream fail, `error` `{code, message}` \
ends the response.";

/// The fleet's events, replayed from its journal and live.
#[utoipa::path(
    get,
    path = "/fleet/events",
    tag = "events",
    operation_id = "fleet_events",
    params(
        EventsQuery,
        ("Last-Event-ID" = Option<u64>, Header, description = "Replay every event after this stream sequence number that the fleet still keeps; wins over `since`."),
    ),
    responses(
        (status = 200, description = STREAM, content_type = "text/event-stream", body = String),
        (status = 503, description = "This bridge is not in a fleet whose NATS server runs JetStream."),
    ),
)]
pub async fn fleet_events(
    State(state): State<ApiState>,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(journal) = state.hub.shared_journal() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorBody::new(
                ErrorCode::NOT_FOUND,
                "this bridge keeps no fleet journal: start it with --nats URL, with a NATS server \
                 that runs JetStream (nats-server -js); /events streams this bridge's own events",
            ),
        ));
    };
    let last_event_id =
        headers.get("last-event-id").and_then(|value| value.to_str().ok()?.trim().parse().ok());
    let from = last_event_id.or(query.since).map_or(SharedFrom::Now, SharedFrom::After);
    let filter = EventFilter::new(query.types.as_deref(), None);
    let events = journal.follow(from, query.game);
    Ok(sse_response(Body::from_stream(sse_stream(events, filter, state.shutdown.clone()))))
}

/// Where a follower's stream is.
enum Step {
    Greeting,
    Following,
    Done,
}

fn sse_stream(
    events: SharedEvents,
    filter: EventFilter,
    shutdown: tokio_util::sync::CancellationToken,
) -> impl Stream<Item = Result<Bytes, std::convert::Infallible>> {
    let ping = tokio::time::interval_at(tokio::time::Instant::now() + PING, PING);
    futures::stream::unfold((Step::Greeting, events, ping), move |(step, mut events, mut ping)| {
        let (filter, shutdown) = (filter.clone(), shutdown.clone());
        async move {
            let mut chunk = BytesMut::new();
            let next = match step {
                Step::Done => return None,
                Step::Greeting => {
                    chunk.extend_from_slice(b"retry: 1000\n");
                    let connected = json!({
                        "clientId": next_client_id(),
                        "timestamp": now_iso(),
                        "message": "Successfully connected to the fleet's event stream",
                    });
                    put_event(&mut chunk, None, "connected", connected.to_string().as_bytes());
                    Step::Following
                }
                Step::Following => loop {
                    tokio::select! {
                        event = events.recv() => match event {
                            Some(Ok(event)) => {
                                if filter.accepts_type(&event.event_type) {
                                    put_event(&mut chunk, Some(event.seq), "message", &event.data);
                                }
                                // What else has arrived goes in the same chunk.
                                while chunk.len() < 64 << 10 {
                                    match events.try_recv() {
                                        Ok(Ok(event)) if filter.accepts_type(&event.event_type) => {
                                            put_event(&mut chunk, Some(event.seq), "message", &event.data);
                                        }
                                        Ok(Ok(_)) => {}
                                        _ => break,
                                    }
                                }
                                if !chunk.is_empty() {
                                    break Step::Following;
                                }
                            }
                            Some(Err(error)) => {
                                let data = json!({ "code": error.code, "message": error.message });
                                put_event(&mut chunk, None, "error", data.to_string().as_bytes());
                                break Step::Done;
                            }
                            None => return None,
                        },
                        _ = ping.tick() => {
                            put_event(&mut chunk, None, "ping", json!({ "timestamp": now_iso() }).to_string().as_bytes());
                            break Step::Following;
                        }
                        () = shutdown.cancelled() => return None,
                    }
                },
            };
            Some((Ok(chunk.freeze()), (next, events, ping)))
        }
    })
}
