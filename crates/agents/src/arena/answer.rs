//! The answer to a tick, written straight from the observations and
//! decisions, without building a JSON tree of it first (a thousand agents'
//! actions as `Value` maps cost more than deciding them). Keys are in the
//! order `serde_json`'s maps have always written them (sorted), so the bytes
//! are the same as before.

use serde::Serialize;
use serde_json::Value;

use super::non_finite;
use super::tick::{Observation, Tick, TickShape};
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
    let pairs = tick.observations.iter().zip(decisions);
    let written = match tick.shape {
        TickShape::V1 => {
            let actions: Vec<V1Action> =
                pairs.map(|(seen, decision)| v1_action(seen, &tick.tick, decision)).collect();
            let metrics = V1Metrics {
                actions_generated: actions.len(),
                agents_processed: tick.observations.len(),
                tick_time_ms,
            };
            write(&V1Answer { actions, metrics, tick: &tick.tick }, tick.non_finite)
        }
        TickShape::Sdk => {
            let actions = pairs
                .map(|(seen, decision)| SdkAction {
                    action: SdkDecision {
                        params: &decision.params,
                        reasoning: &decision.reasoning,
                        tool: &decision.tool,
                    },
                    agent_id: &seen.id,
                })
                .collect();
            write(&SdkAnswer { actions, tick: &tick.tick }, tick.non_finite)
        }
    };
    written.expect("an answer of JSON values and plain fields always serialises")
}

fn v1_action<'a>(seen: &'a Observation, tick: &'a Value, decision: &'a Decision) -> V1Action<'a> {
    V1Action {
        agent_id: &seen.id,
        params: &decision.params,
        reasoning: &decision.reasoning,
        tick,
        tool: &decision.tool,
    }
}

/// The bytes of `answer`; one made from a body with non-finite numbers has
/// their stand-ins written as `null`, as the original's encoder does.
fn write(answer: &impl Serialize, non_finite: bool) -> serde_json::Result<Vec<u8>> {
    if !non_finite {
        return serde_json::to_vec(answer);
    }
    let mut tree = serde_json::to_value(answer)?;
    non_finite::scrub(&mut tree);
    serde_json::to_vec(&tree)
}
