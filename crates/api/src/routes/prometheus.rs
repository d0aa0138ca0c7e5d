//! `GET /metrics/prometheus`: the bridge's counters in Prometheus' text
//! format, per game, for scraping.

use std::fmt::Write;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::ApiState;

/// The bridge's counters in Prometheus' text format, per game.
#[utoipa::path(
    get,
    path = "/metrics/prometheus",
    tag = "metrics",
    operation_id = "prometheus",
    responses((status = 200, description = "Prometheus text exposition format 0.0.4: calls, failures, external calls, lockstep frames, events, connects and pending calls per game (label `game`), uptime, the newest event's sequence number, and Agent Arena's counters when it is served.", content_type = "text/plain; version=0.0.4", body = String)),
)]
pub async fn prometheus(State(state): State<ApiState>) -> Response {
    let mut text = String::new();
    let games = state.hub.games();
    let snapshots: Vec<_> = games.iter().map(|game| (game.status(), game.stats().snapshot())).collect();
    let mut series = |name: &str, kind: &str, help: &str, value: &dyn Fn(usize) -> f64| {
        let _ = writeln!(text, "# HELP gamebridge_{name} {help}\n# TYPE gamebridge_{name} {kind}");
        for (index, (status, _)) in snapshots.iter().enumerate() {
            let _ = writeln!(text, "gamebridge_{name}{{game=\"{}\"}} {}", escape(&status.name), value(index));
        }
    };
    series("calls_total", "counter", "Calls from agents to the game.", &|i| snapshots[i].1.calls as f64);
    series("call_failures_total", "counter", "Calls that failed.", &|i| snapshots[i].1.failed as f64);
    series("external_calls_total", "counter", "Calls from the game to agent functions.", &|i| {
        snapshots[i].1.external_calls as f64
    });
    series("steps_total", "counter", "Lockstep frames.", &|i| snapshots[i].1.steps as f64);
    series("step_misses_total", "counter", "Frames answered with the default reply.", &|i| {
        snapshots[i].1.step_misses as f64
    });
    series("events_total", "counter", "Game events.", &|i| snapshots[i].1.events as f64);
    series("bad_frames_total", "counter", "Frames dropped as malformed.", &|i| {
        snapshots[i].1.bad_frames as f64
    });
    series("connects_total", "counter", "Times the game connected.", &|i| snapshots[i].1.connects as f64);
    series("pending_calls", "gauge", "Calls waiting for the game.", &|i| snapshots[i].0.pending_calls as f64);
    series("connected", "gauge", "1 while the game is connected.", &|i| {
        f64::from(u8::from(snapshots[i].0.connected))
    });
    let _ = writeln!(
        text,
        "# HELP gamebridge_uptime_seconds Seconds since the bridge started.\n# TYPE gamebridge_uptime_seconds gauge\n\
         gamebridge_uptime_seconds {}\n# HELP gamebridge_event_sequence The newest event's sequence number.\n\
         # TYPE gamebridge_event_sequence counter\ngamebridge_event_sequence {}",
        state.hub.uptime().as_secs(),
        state.hub.events().latest()
    );
    if let Some(arena) = &state.arena {
        let metrics = arena.metrics().snapshot();
        for (name, kind, value) in [
            ("arena_ticks_total", "counter", metrics.total_ticks as f64),
            ("arena_agents_processed_total", "counter", metrics.total_agents_processed as f64),
            ("arena_fallbacks_total", "counter", metrics.total_fallbacks as f64),
            ("arena_tick_time_ms_avg", "gauge", metrics.avg_tick_time_ms),
        ] {
            let _ = writeln!(text, "# TYPE gamebridge_{name} {kind}\ngamebridge_{name} {value}");
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
