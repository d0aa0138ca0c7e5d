//! Agent Arena's metrics (`GET /metrics`), with the reference's field names.

use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use crate::Decision;

#[derive(Clone, Debug, Default, Serialize)]
pub struct MetricsSnapshot {
    pub total_ticks: u64,
    pub total_agents_processed: u64,
    pub avg_tick_time_ms: f64,
    pub total_tools_executed: u64,
    pub total_observations_processed: u64,
    /// Agents that got `idle` because of an error or a missed deadline.
    pub total_fallbacks: u64,
}

#[derive(Default)]
pub struct ArenaMetrics {
    inner: Mutex<(MetricsSnapshot, f64)>,
}

impl ArenaMetrics {
    fn with<T>(&self, change: impl FnOnce(&mut MetricsSnapshot, &mut f64) -> T) -> T {
        let mut inner = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (snapshot, total_ms) = &mut *inner;
        change(snapshot, total_ms)
    }

    pub fn record_tick(&self, agents: usize, decisions: &[Decision], took: Duration) {
        let fallbacks = decisions.iter().filter(|decision| is_fallback(decision)).count() as u64;
        self.with(|snapshot, total_ms| {
            snapshot.total_ticks += 1;
            snapshot.total_agents_processed += agents as u64;
            snapshot.total_fallbacks += fallbacks;
            *total_ms += took.as_secs_f64() * 1000.0;
            snapshot.avg_tick_time_ms = *total_ms / snapshot.total_ticks as f64;
        });
    }

    pub fn record_observation(&self) {
        self.with(|snapshot, _| snapshot.total_observations_processed += 1);
    }

    pub fn record_tool(&self) {
        self.with(|snapshot, _| snapshot.total_tools_executed += 1);
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        self.with(|snapshot, _| snapshot.clone())
    }
}

/// `idle` given because deciding failed (its reasoning says why).
fn is_fallback(decision: &Decision) -> bool {
    decision.tool == "idle"
        && ["failed", "deadline", "not {", "no action"]
            .iter()
            .any(|reason| decision.reasoning.contains(reason))
}
