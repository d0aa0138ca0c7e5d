//! Agent Arena's metrics (`GET /metrics`), with the reference's field names.

use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

#[derive(Clone, Debug, Default, Serialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
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

    pub fn record_tick(&self, agents: usize, took: Duration) {
        self.with(|snapshot, total_ms| {
            snapshot.total_ticks += 1;
            snapshot.total_agents_processed += agents as u64;
            *total_ms += took.as_secs_f64() * 1000.0;
            snapshot.avg_tick_time_ms = *total_ms / snapshot.total_ticks as f64;
        });
    }

    pub fn record_observation(&self) {
        self.with(|snapshot, _| snapshot.total_observations_processed += 1);
    }

    /// Counted where the arena gives `idle` in place of a decision, not
    /// guessed from reasoning text an agent could write itself.
    pub fn record_fallbacks(&self, count: usize) {
        self.with(|snapshot, _| snapshot.total_fallbacks += count as u64);
    }

    pub fn record_tool(&self) {
        self.with(|snapshot, _| snapshot.total_tools_executed += 1);
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        self.with(|snapshot, _| snapshot.clone())
    }
}
