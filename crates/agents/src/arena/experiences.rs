//! What the scene reports happened to an agent (`POST /experience`: a
//! collision, damage, a trap), kept until the agent's next decision so
//! that the agent deciding it learns of it, as the original stored it in
//! the agent's memory for its next prompt. The route needs no token, so
//! what is kept is bounded: the newest few per agent, and a byte budget
//! for all of them.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use gamebridge_protocol::RawValue;

/// Experiences kept per agent; older ones give way to newer.
pub const PER_AGENT: usize = 32;
/// Bytes all kept experiences may take; past it new ones are not kept
/// for the decider (they still reach event clients).
pub const MAX_BYTES: usize = 8 << 20;

#[derive(Default)]
pub struct Experiences {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    by_agent: HashMap<String, VecDeque<Box<RawValue>>>,
    bytes: usize,
}

fn cost(agent_id: &str, experience: &RawValue) -> usize {
    agent_id.len() + experience.get().len()
}

impl Experiences {
    /// Keeps an experience for `agent_id`'s next decision; `false` when the
    /// byte budget is spent.
    pub fn record(&self, agent_id: &str, experience: Box<RawValue>) -> bool {
        let mut inner = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let added = cost(agent_id, &experience);
        if inner.bytes + added > MAX_BYTES {
            return false;
        }
        inner.bytes += added;
        let kept = inner.by_agent.entry(agent_id.to_owned()).or_default();
        kept.push_back(experience);
        let dropped = (kept.len() > PER_AGENT).then(|| kept.pop_front()).flatten();
        if let Some(dropped) = dropped {
            inner.bytes -= cost(agent_id, &dropped);
        }
        true
    }

    /// The experiences waiting for `agent_id`, oldest first; they are
    /// given once.
    pub fn take(&self, agent_id: &str) -> Vec<Box<RawValue>> {
        let mut inner = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(kept) = inner.by_agent.remove(agent_id) else { return Vec::new() };
        inner.bytes -= kept.iter().map(|experience| cost(agent_id, experience)).sum::<usize>();
        kept.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn experience(text: &str) -> Box<RawValue> {
        RawValue::from_string(format!("{text:?}")).unwrap()
    }

    #[test]
    fn experiences_wait_for_the_agent_are_given_once_and_the_newest_are_kept() {
        let kept = Experiences::default();
        for n in 0..PER_AGENT + 2 {
            assert!(kept.record("a", experience(&n.to_string())));
        }
        let taken = kept.take("a");
        assert_eq!(taken.len(), PER_AGENT);
        assert_eq!(taken[0].get(), "\"2\"", "the two oldest gave way");
        assert!(kept.take("a").is_empty());
        assert_eq!(kept.inner.lock().unwrap().bytes, 0);
    }

    #[test]
    fn past_the_byte_budget_nothing_more_is_kept() {
        let kept = Experiences::default();
        let big = "x".repeat(MAX_BYTES / 4);
        let agents = (0..5).filter(|n| kept.record(&n.to_string(), experience(&big))).count();
        assert_eq!(agents, 3);
        kept.take("0");
        assert!(kept.record("9", experience(&big)), "room again once taken");
    }
}
