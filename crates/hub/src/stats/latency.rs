//! Call latency and errors over the last few minutes, in 30-second slots,
//! so a dashboard can chart how a game has been answering lately without
//! keeping every call.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use serde::Serialize;

/// How long one slot covers.
pub const SLOT: Duration = Duration::from_secs(30);
/// How many slots are kept: five minutes.
const SLOTS: usize = 10;
/// Latencies above this (in µs) count as this much.
const HIGHEST_MICROS: u64 = 600_000_000;

#[derive(Default)]
pub struct LatencyWindow {
    slots: Mutex<VecDeque<Slot>>,
}

struct Slot {
    /// Unix time, in seconds, at which the slot begins.
    start: u64,
    errors: u64,
    /// Two significant figures: about 10 KB a slot, ±1 % on a quantile.
    micros: Histogram<u32>,
}

/// One slot as reported.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct LatencySlot {
    /// Unix time, in seconds, at which the slot begins.
    pub start: u64,
    pub seconds: u64,
    pub calls: u64,
    pub errors: u64,
    pub p50_us: u64,
    pub p99_us: u64,
}

impl LatencyWindow {
    pub fn record(&self, elapsed: Duration, failed: bool) {
        self.record_at(SystemTime::now(), elapsed, failed);
    }

    fn record_at(&self, now: SystemTime, elapsed: Duration, failed: bool) {
        let start = slot_start(now);
        let mut slots = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if slots.back().is_none_or(|slot| slot.start != start) {
            // Reuse the oldest slot's histogram rather than allocate a new one.
            let micros = match slots.len() >= SLOTS {
                true => slots.pop_front().map(|mut oldest| {
                    oldest.micros.reset();
                    oldest.micros
                }),
                false => None,
            };
            let micros = micros.unwrap_or_else(|| {
                Histogram::new_with_bounds(1, HIGHEST_MICROS, 2).expect("valid histogram bounds")
            });
            slots.push_back(Slot { start, errors: 0, micros });
        }
        let slot = slots.back_mut().expect("a slot was just ensured");
        slot.micros.saturating_record((elapsed.as_micros() as u64).clamp(1, HIGHEST_MICROS));
        slot.errors += u64::from(failed);
    }

    /// The slots of the last five minutes that saw calls, oldest first.
    pub fn snapshot(&self) -> Vec<LatencySlot> {
        self.snapshot_at(SystemTime::now())
    }

    fn snapshot_at(&self, now: SystemTime) -> Vec<LatencySlot> {
        let oldest = slot_start(now).saturating_sub(SLOT.as_secs() * (SLOTS as u64 - 1));
        let slots = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        (slots.iter().filter(|slot| slot.start >= oldest))
            .map(|slot| LatencySlot {
                start: slot.start,
                seconds: SLOT.as_secs(),
                calls: slot.micros.len(),
                errors: slot.errors,
                p50_us: slot.micros.value_at_quantile(0.50),
                p99_us: slot.micros.value_at_quantile(0.99),
            })
            .collect()
    }
}

fn slot_start(now: SystemTime) -> u64 {
    let seconds = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    seconds - seconds % SLOT.as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn calls_fall_into_thirty_second_slots_with_their_quantiles_and_errors() {
        let window = LatencyWindow::default();
        for micros in 1..=100 {
            window.record_at(at(1_000_010), Duration::from_micros(micros * 10), micros > 98);
        }
        window.record_at(at(1_000_031), Duration::from_millis(5), false);
        let slots = window.snapshot_at(at(1_000_040));
        assert_eq!(slots.len(), 2);
        assert_eq!((slots[0].start, slots[0].calls, slots[0].errors), (999_990, 100, 2));
        assert!((495..=505).contains(&slots[0].p50_us), "{}", slots[0].p50_us);
        assert!((985..=995).contains(&slots[0].p99_us), "{}", slots[0].p99_us);
        assert_eq!((slots[1].start, slots[1].calls, slots[1].errors), (1_000_020, 1, 0));
    }

    #[test]
    fn only_the_last_five_minutes_are_kept_and_reported() {
        let window = LatencyWindow::default();
        for slot in 0..15 {
            window.record_at(at(slot * 30), Duration::from_micros(100), false);
        }
        assert_eq!(window.slots.lock().unwrap().len(), SLOTS, "old slots are recycled");
        let starts: Vec<u64> = window.snapshot_at(at(14 * 30)).iter().map(|slot| slot.start).collect();
        assert_eq!(starts, (5..15).map(|slot| slot * 30).collect::<Vec<_>>());
        let later: Vec<u64> = window.snapshot_at(at(20 * 30)).iter().map(|slot| slot.start).collect();
        assert_eq!(later, (11..15).map(|slot| slot * 30).collect::<Vec<_>>(), "stale slots are not reported");
    }
}
