//! Mailbox links: games whose sandboxed Lua can only exchange files.
//!
//! - [`legacy`]: the Transport Fever 2 mod's two files, one command at a time.
//! - [`modern`]: the folder protocol of docs/MAILBOX.md: one file per
//!   request and per answer, deadlines, a heartbeat.

mod files;
mod legacy;
mod modern;
mod tail;
mod watch;

use std::sync::Arc;
use std::time::Duration;

use gamebridge_hub::Game;
use tokio_util::sync::CancellationToken;

use crate::MailboxOptions;

/// Serves a mailbox game until `shutdown`.
pub async fn serve(game: Arc<Game>, options: MailboxOptions, shutdown: CancellationToken) {
    let outcome = if options.legacy {
        legacy::serve(game.clone(), options, shutdown).await
    } else {
        modern::serve(game.clone(), options, shutdown).await
    };
    if let Err(error) = outcome {
        tracing::error!(game = game.name(), %error, "the mailbox link stopped");
        game.set_state(gamebridge_hub::LinkState::Stopped, Some(error.to_string()));
    }
}

/// How long before the agent's deadline a command must be taken: a tenth
/// of the call's time, between 20 ms and 200 ms. A command the game starts
/// just in time is answered before the agent stops waiting.
fn deadline_margin(remaining: Duration) -> Duration {
    (remaining / 10).clamp(Duration::from_millis(20), Duration::from_millis(200))
}
