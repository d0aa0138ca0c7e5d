//! The fault suite (issue 8). Table to come.

mod support;

#[path = "faults/agents.rs"]
mod agents;
#[path = "faults/arena.rs"]
mod arena;
#[path = "faults/bridge_protocol.rs"]
mod bridge_protocol;
#[path = "faults/fifo.rs"]
mod fifo;
#[path = "faults/folder_game.rs"]
mod folder_game;
#[path = "faults/links.rs"]
mod links;
#[path = "faults/mailbox_legacy.rs"]
mod mailbox_legacy;
#[path = "faults/mailbox_modern.rs"]
mod mailbox_modern;
#[path = "faults/own_process.rs"]
mod own_process;
#[path = "faults/raw_agent.rs"]
mod raw_agent;
#[path = "faults/sse.rs"]
mod sse;
#[path = "faults/step.rs"]
mod step;
#[path = "faults/ws_agent.rs"]
mod ws_agent;
