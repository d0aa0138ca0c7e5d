//! The answer to a tick, written straight from the observations and
//! decisions, without building a JSON tree of it first (a thousand agents'
//! actions as `Value` maps cost more than deciding them). Keys are in the
//! order `serde_json`'s maps have always written them (sorted), so the bytes
//! are the same as before.

use serde::Serialize;
use serde_json::Value;

use super::non_finite;
use super::tick::{RulesTick, Tick, TickShape};
use crate::Decision;

#[derive(Serialize)]
struct V1Answer<'a> {
    actions: Vec<V1Action<'a>>,
    metrics: V1Metrics,
    tick: &'a Value,
}

#[derive(Serialize)]
struct V1Action<'a> {
    agent_id: &'a Value,
    params: &'a Value,
    reasoning: &'a str,
    tick: &'a Value,
    tool: &'a str,
}

#[derive(Serialize)]
struct V1Metrics {
    actions_generated: usize,
    agents_processed: usize,
    tick_time_ms: f64,
}

#[derive(Serialize)]
struct SdkAnswer<'a> {
    actions: Vec<SdkAction<'a>>,
    tick: &'a Value,
}

#[derive(Serialize)]
struct SdkAction<'a> {
    action: SdkDecision<'a>,
    agent_id: &'a Value,
}

/// A decision's fields in sorted order, as a `Value` map wrote them.
#[derive(Serialize)]
struct SdkDecision<'a> {
    params: &'a Value,
    reasoning: &'a str,
    tool: &'a str,
}

/// The JSON answer to `tick`: one action per observation, in order.
/// `tick_time_ms` is the V1 answer's own measure of the tick.
pub fn tick_answer(tick: &Tick, decisions: &[Decision], tick_time_ms: f64) -> Vec<u8> {
    let ids = tick.observations.iter().map(|seen| &seen.id);
    answer(&tick.tick, tick.shape, tick.non_finite, ids, decisions, tick_time_ms)
}

/// The same for a tick the rules decided from its bytes.
pub fn rules_tick_answer(tick: &RulesTick, decisions: &[Decision], tick_time_ms: f64) -> Vec<u8> {
    let ids = tick.entries.iter().map(|entry| &entry.id);
    answer(&tick.tick, tick.shape, false, ids, decisions, tick_time_ms)
}

fn answer<'a>(
    tick: &'a Value,
    shape: TickShape,
    non_finite: bool,
    ids: impl Iterator<Item = &'a Value>,
    decisions: &'a [Decision],
    tick_time_ms: f64,
) -> Vec<u8> {
    let pairs = ids.zip(decisions);
    let count = decisions.len();
    let written = match shape {
        TickShape::V1 => {
            let actions: Vec<V1Action> = pairs
                .map(|(agent_id, decision)| V1Action {
                    agent_id,
                    params: &decision.params,
                    reasoning: &decision.reasoning,
                    tick,
                    tool: &decision.tool,
                })
                .collect();
            let metrics =
                V1Metrics { actions_generated: actions.len(), agents_processed: actions.len(), tick_time_ms };
            write(&V1Answer { actions, metrics, tick }, non_finite, count)
        }
        TickShape::Sdk => {
            let actions: Vec<SdkAction> = pairs
                .map(|(agent_id, decision)| SdkAction {
                    action: SdkDecision {
                        params: &decision.params,
                        reasoning: &decision.reasoning,
                        tool: &decision.tool,
                    },
                    agent_id,
                })
                .collect();
            write(&SdkAnswer { actions, tick }, non_finite, count)
        }
    };
    written.expect("an answer of JSON values and plain fields always serialises")
}

/// The bytes of `answer`; one made from a body with non-finite numbers has
/// their stand-ins written as `null`, as the original's encoder does.
fn write(answer: &impl Serialize, non_finite: bool, actions: usize) -> serde_json::Result<Vec<u8>> {
    if !non_finite {
        // Room for the usual action (about 170 bytes) at once, rather than
        // growing (and copying) the answer a dozen times.
        let mut bytes = Vec::with_capacity(64 + actions * 192);
        serde_json::to_writer(&mut bytes, answer)?;
        return Ok(bytes);
    }
    let mut tree = serde_json::to_value(answer)?;
    non_finite::scrub(&mut tree);
    serde_json::to_vec(&tree)
}
