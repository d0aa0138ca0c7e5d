//! The `gamebridge` program: a thin layer that wires the protocol, hub,
//! links and API crates into a running bridge, plus the client commands, the
//! demo game and the benchmarks.

pub mod bench;
pub mod bridge;
pub mod bridge_client;
pub mod cli;
pub mod client;
pub mod config;
pub mod demo;
pub mod logging;
pub mod manifest;
pub mod mcp_stdio;
pub mod sim;
