//! Per-game counters for `/stats`, updated with relaxed atomics, and the
//! recent call latency.

mod latency;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use gamebridge_protocol::{CallResult, ErrorCode};
use serde::Serialize;

pub use latency::LatencySlot;
use latency::LatencyWindow;

#[derive(Default)]
pub struct GameStats {
    calls: AtomicU64,
    succeeded: AtomicU64,
    failed: AtomicU64,
    external_calls: AtomicU64,
    external_failed: AtomicU64,
    steps: AtomicU64,
    step_misses: AtomicU64,
    events: AtomicU64,
    bad_frames: AtomicU64,
    connects: AtomicU64,
    /// Failed attempts to reach the game since it was last connected.
    reconnect_attempts: AtomicU64,
    /// Failures by code; only touched on the failure path.
    errors: Mutex<BTreeMap<String, u64>>,
    latency: LatencyWindow,
}

/// A copy of the counters at one moment.
#[derive(Clone, Debug, Default, Serialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct StatsSnapshot {
    pub calls: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub errors: BTreeMap<String, u64>,
    /// Calls from the game to agent functions, and how many failed.
    pub external_calls: u64,
    pub external_failed: u64,
    /// Frames of a lockstep game, and how many got the default reply
    /// (no agent, an error, or a missed deadline).
    pub steps: u64,
    pub step_misses: u64,
    pub events: u64,
    pub bad_frames: u64,
    pub connects: u64,
    /// Failed attempts to reach the game since it was last connected.
    pub reconnect_attempts: u64,
    /// Agent → game calls of the last five minutes, in 30-second slots.
    pub latency: Vec<LatencySlot>,
}

impl GameStats {
    /// Records agent → game calls that took `elapsed` (a batch's calls
    /// share its time).
    pub fn record_outcomes<'a>(&self, outcomes: impl IntoIterator<Item = &'a CallResult>, elapsed: Duration) {
        for outcome in outcomes {
            self.calls.fetch_add(1, Relaxed);
            self.latency.record(elapsed, outcome.is_err());
            match outcome {
                Ok(_) => {
                    self.succeeded.fetch_add(1, Relaxed);
                }
                Err(error) => self.record_failure(&error.code),
            }
        }
    }

    fn record_failure(&self, code: &ErrorCode) {
        self.failed.fetch_add(1, Relaxed);
        let mut errors = self.errors.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *errors.entry(code.as_str().to_owned()).or_default() += 1;
    }

    pub fn record_external(&self, outcome: &CallResult) {
        self.external_calls.fetch_add(1, Relaxed);
        if outcome.is_err() {
            self.external_failed.fetch_add(1, Relaxed);
        }
    }

    pub fn record_step(&self, missed: bool) {
        self.steps.fetch_add(1, Relaxed);
        if missed {
            self.step_misses.fetch_add(1, Relaxed);
        }
    }

    pub fn record_event(&self) {
        self.events.fetch_add(1, Relaxed);
    }

    pub fn record_bad_frame(&self) {
        self.bad_frames.fetch_add(1, Relaxed);
    }

    pub fn record_connect(&self) {
        self.connects.fetch_add(1, Relaxed);
        self.reconnect_attempts.store(0, Relaxed);
    }

    /// An attempt to reach the game that failed (a link that connects).
    pub fn record_failed_connect(&self) {
        self.reconnect_attempts.fetch_add(1, Relaxed);
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            calls: self.calls.load(Relaxed),
            succeeded: self.succeeded.load(Relaxed),
            failed: self.failed.load(Relaxed),
            errors: self.errors.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone(),
            external_calls: self.external_calls.load(Relaxed),
            external_failed: self.external_failed.load(Relaxed),
            steps: self.steps.load(Relaxed),
            step_misses: self.step_misses.load(Relaxed),
            events: self.events.load(Relaxed),
            bad_frames: self.bad_frames.load(Relaxed),
            connects: self.connects.load(Relaxed),
            reconnect_attempts: self.reconnect_attempts.load(Relaxed),
            latency: self.latency.snapshot(),
        }
    }
}
