//! `gamebridge bench`: the bridge measured beside the raw transports it sits
//! on, in the same run, reported as ratios.

mod call;
mod report;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum Scenario {
    /// POST /lua/call against a simulated game over a Unix socket, at
    /// concurrency 1 and 64, beside a raw socket ping-pong and an empty HTTP
    /// round trip.
    Call(call::CallBench),
}

pub fn run(scenario: Scenario) -> anyhow::Result<()> {
    match scenario {
        Scenario::Call(options) => call::run(options),
    }
}
