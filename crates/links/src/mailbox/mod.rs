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

/// How long before the agent's deadline the link gives up on a command: a
/// tenth of the call's time, at most 200 ms, so that what it says about the
/// command reaches the agent before the agent stops waiting. Never all of
/// a short call's time: a 20 ms call still gets 18 ms.
fn deadline_margin(remaining: Duration) -> Duration {
    (remaining / 10).min(Duration::from_millis(200))
}
