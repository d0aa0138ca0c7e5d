//! Game-side links: each turns one transport into hub messages.
//!
//! A link is built from a [`LinkSpec`] (`pipe:ID`, `unix:PATH`,
//! `tcp:HOST:PORT`, `mailbox:DIR`, or a profile such as `vox-deorum`), owns its connection
//! task, attaches a session to its [`Game`](gamebridge_hub::Game) while the
//! game is connected, and reconnects when it is lost.

mod backoff;
mod fifo;
mod listener;
pub mod mailbox;
mod spec;
pub mod stream;

use std::sync::Arc;

use gamebridge_hub::{Game, Hub};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use backoff::Backoff;
pub use listener::bind_tcp;
pub use spec::{
    LinkSpec, MailboxOptions, PROFILES, Protocol, SpecError, StepOptions, StreamOptions, Transport,
};

/// Starts the link that serves `game`; it runs until `shutdown` is cancelled.
/// Listening links add an instance game to `hub` for each connection.
pub fn spawn(hub: Arc<Hub>, game: Arc<Game>, spec: LinkSpec, shutdown: CancellationToken) -> JoinHandle<()> {
    if let Some(step) = spec.step_options() {
        game.set_lockstep(gamebridge_hub::Lockstep {
            frames: step.frames.clone(),
            deadline_ms: step.deadline.as_millis() as u64,
            hold_ms: step.hold.map(|hold| hold.as_millis() as u64),
        });
    }
    match spec.transport {
        Transport::Stream { endpoint, options } if options.listen => {
            tokio::spawn(stream::listen_forever(hub, game, endpoint, options, shutdown))
        }
        Transport::Stream { endpoint, options } => {
            tokio::spawn(stream::connect_forever(game, endpoint, options, shutdown))
        }
        Transport::Fifo { prefix, options } => tokio::spawn(fifo::serve(game, prefix, options, shutdown)),
        Transport::Mailbox(options) => tokio::spawn(mailbox::serve(game, options, shutdown)),
        // The game posts to the bridge's HTTP listener: there is nothing to run here.
        Transport::Http(_) => {
            game.set_state(gamebridge_hub::LinkState::Listening, Some("the game posts to /tick".into()));
            tokio::spawn(async {})
        }
    }
}
