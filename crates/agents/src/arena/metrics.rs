//! Agent Arena's metrics (`GET /metrics`), with the original's field names
//! and meanings: `total_ticks` counts `/tick` requests only, and
//! `avg_tick_time_ms` is its moving average (each tick weighs 0.1).

use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

#[derive(Clone, Debug, Default, Serialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct MetricsSnapshot {
    pub total_ticks: u64,
    pub total_agents_processed: u64,
    /// Exponential moving average of the tick time, as the original's.
    pub avg_tick_time_ms: f64,
    pub total_tools_executed: u64,
    pub total_observations_processed: u64,
    /// Agents that got `idle` because of an error or a missed deadline.
    pub total_fallbacks: u64,
    /// Agents of a tick that could not be decided (no `agent_id`, not an
    /// object) and were answered `idle` with the reason.
    pub total_invalid_agents: u64,
    /// Experiences the scene reported (`POST /experience`).
    pub total_experiences: u64,
}

#[derive(Default)]
pub struct ArenaMetrics {
    inner: Mutex<MetricsSnapshot>,
}

impl ArenaMetrics {
    fn with<T>(&self, change: impl FnOnce(&mut MetricsSnapshot) -> T) -> T {
        change(&mut self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    pub fn record_tick(&self, agents: usize, took: Duration) {
        self.with(|snapshot| {
            snapshot.total_ticks += 1;
            snapshot.total_agents_processed += agents as u64;
            snapshot.avg_tick_time_ms = snapshot.avg_tick_time_ms * 0.9 + took.as_secs_f64() * 1000.0 * 0.1;
        });
    }

    pub fn record_observation(&self) {
        self.with(|snapshot| snapshot.total_observations_processed += 1);
    }

    /// Counted where the arena gives `idle` in place of a decision, not
    /// guessed from reasoning text an agent could write itself.
    pub fn record_fallbacks(&self, count: usize) {
        self.with(|snapshot| snapshot.total_fallbacks += count as u64);
    }

    pub fn record_invalid_agents(&self, count: usize) {
        self.with(|snapshot| snapshot.total_invalid_agents += count as u64);
    }

    pub fn record_experience(&self) {
        self.with(|snapshot| snapshot.total_experiences += 1);
    }

    pub fn record_tool(&self) {
        self.with(|snapshot| snapshot.total_tools_executed += 1);
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        self.with(|snapshot| snapshot.clone())
    }
}
