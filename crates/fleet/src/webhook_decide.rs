//! An Agent Arena tick of another node's game, for a webhook registered
//! here to `decide` it. The game's node sends the whole tick at once,
//! `{tick, agents: [{agent_id, observation, experiences?}]}`, as it would to
//! a connected agent; a webhook takes one agent per POST,
//! `{agent_id, tick, observation, experiences?}`, as on the game's own node.
//! So the tick is split here, every agent asked at once (each within the
//! function's timeout), and answered `{actions: [{agent_id, tool, params,
//! reasoning}]}`. An agent whose webhook failed is left out of the actions:
//! the game's node then gives it the fallback, and counts it.

use futures::future::join_all;
use gamebridge_hub::Game;
use gamebridge_protocol::{CallResult, ErrorBody, ErrorCode, RawValue, WireId};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// Whether a `function` call for `game` is a tick to split: `decide`,
/// registered here by a webhook.
pub fn applies(game: &Game, function: &str) -> bool {
    function == "decide" && game.find_external("decide").is_some_and(|decide| decide.url().is_some())
}

/// Asks the webhook for every agent of the tick `args`; their actions.
pub async fn decide_each(game: &Game, args: &RawValue) -> CallResult {
    #[derive(Deserialize)]
    struct Tick {
        tick: u64,
        agents: Vec<Map<String, Value>>,
    }
    let Tick { tick, agents } = serde_json::from_str(args.get()).map_err(|error| {
        ErrorBody::new(ErrorCode::INVALID_ARGUMENTS, format!("not an Agent Arena tick: {error}"))
    })?;
    let asked = agents.into_iter().map(|mut agent| async move {
        let agent_id = agent.get("agent_id")?.clone();
        agent.insert("tick".to_owned(), tick.into());
        let args = serde_json::value::to_raw_value(&agent).ok()?;
        let id = WireId::Text(format!("{}#{tick}", agent_id.as_str().unwrap_or_default()));
        match game.call_agent("decide", id, args).await {
            Ok(result) => {
                let mut action: Map<String, Value> = serde_json::from_str(result.get()).ok()?;
                action.insert("agent_id".to_owned(), agent_id);
                Some(Value::Object(action))
            }
            Err(error) => {
                tracing::debug!(game = game.name(), %agent_id, error = error.message, "the decide webhook failed");
                None
            }
        }
    });
    let actions: Vec<Value> = join_all(asked).await.into_iter().flatten().collect();
    Ok(serde_json::value::to_raw_value(&json!({ "actions": actions })).expect("JSON values always serialise"))
}
