//! `gamebridge bench`: the bridge measured beside the raw transports it sits
//! on, in the same run, reported as ratios.

mod call;
mod events;
mod report;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum Scenario {
    /// POST /lua/call against a simulated game over a Unix socket, at
    /// concurrency 1 and 64, beside a raw socket ping-pong and an empty HTTP
    /// round trip.
    Call(call::CallBench),
    /// Game events through the bridge to 1 and to 100 SSE clients, beside
    /// the raw socket rate of the same frames.
    Events(events::EventsBench),
}

pub fn run(scenario: Scenario) -> anyhow::Result<()> {
    match scenario {
        Scenario::Call(options) => call::run(options),
        Scenario::Events(options) => events::run(options),
    }
}
