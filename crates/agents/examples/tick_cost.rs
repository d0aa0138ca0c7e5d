//! The CPU cost of one Agent Arena tick decided by the rules, without HTTP:
//! read the body, decide every agent, write the answer. For profilers:
//!
//! ```sh
//! cargo build --release --example tick_cost -p gamebridge-agents
//! valgrind --tool=callgrind target/release/examples/tick_cost 1000 20
//! target/release/examples/tick_cost 1000 2000   # ns per agent
//! target/release/examples/tick_cost body.json 200   # a tick body of your own
//! ```

use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use gamebridge_agents::arena::{
    DEFAULT_MAX_AGENTS, RulesEntry, read_rules_tick, read_tick, rules_tick_answer, tick_answer,
};
use gamebridge_agents::rules;
use serde_json::{Value, json};

fn main() {
    let mut args = std::env::args().skip(1);
    // A number of agents, or a file with a tick body (`bench tick`'s, say).
    let (agents, body) = match args.next() {
        Some(path) if path.parse::<usize>().is_err() => {
            let body = std::fs::read(&path).expect("a readable tick body");
            let tick = read_tick(&body, usize::MAX).expect("the file holds a tick");
            (tick.observations.len(), body)
        }
        count => {
            let agents = count.and_then(|count| count.parse().ok()).unwrap_or(1000);
            (agents, serde_json::to_vec(&body(agents)).expect("a tick serialises"))
        }
    };
    let ticks = args.next().and_then(|ticks| ticks.parse().ok()).unwrap_or(200);
    let max = DEFAULT_MAX_AGENTS.max(agents);
    // The general path: every agent read into a tree, then decided.
    let trees = measure("trees", &body, agents, ticks, || {
        let tick = read_tick(&body, max).expect("the body is a tick");
        let decisions: Vec<_> =
            tick.observations.iter().map(|seen| rules::decide(&seen.data, seen.layout)).collect();
        tick_answer(&tick, &decisions, 0.0)
    });
    // The rules' path: only what the rules read, borrowed from the body.
    let view = measure("rules view", &body, agents, ticks, || {
        let tick = read_rules_tick(&body, max).expect("the body is a tick");
        let decisions: Vec<_> = tick.entries.iter().map(RulesEntry::decide).collect();
        rules_tick_answer(&tick, &decisions, 0.0)
    });
    assert_eq!(trees, view, "both paths answer the same bytes");
}

/// Runs one path `ticks` times and prints its cost; returns its answer.
fn measure(path: &str, body: &[u8], agents: usize, ticks: usize, tick: impl Fn() -> Vec<u8>) -> Vec<u8> {
    let started = Instant::now();
    let mut answer = Vec::new();
    for _ in 0..ticks {
        answer = tick();
    }
    let per_tick = started.elapsed().as_nanos() as f64 / ticks.max(1) as f64;
    println!(
        "{path}: {agents} agents, {} B in, {} B out: {:.1} µs per tick, {:.0} ns per agent",
        body.len(),
        answer.len(),
        per_tick / 1000.0,
        per_tick / agents.max(1) as f64
    );
    answer
}

/// The body `gamebridge bench tick` posts: every agent near a resource,
/// and a hazard out of range.
fn body(agents: usize) -> Value {
    let perceptions: Vec<Value> = (0..agents)
        .map(|n| {
            json!({"agent_id": format!("agent_{n}"), "tick": 1, "position": [0.0, 0.0, 0.0], "custom_data": {
                "nearby_resources": [{"position": [1.0, 0.0, 2.0], "distance": 2.24, "type": "berry", "name": "Berry1"}],
                "nearby_hazards": [{"position": [9.0, 0.0, 9.0], "distance": 12.73, "type": "fire"}]}})
        })
        .collect();
    json!({"tick": 1, "perceptions": perceptions, "simulation_state": {}})
}
