//! Stream links: a game reached over a Unix socket, a Windows named pipe or
//! TCP, in the connect role (the game is the server, as the Civ V DLL is).

mod connection;
mod endpoint;
mod listen;
mod step;

use std::sync::Arc;

use gamebridge_hub::{Game, LinkState};
use tokio_util::sync::CancellationToken;

pub use connection::{GameReader, GameWriter, serve_connection, serve_halves};
pub use endpoint::{Endpoint, GameStream};
pub use listen::listen_forever;

use crate::{Backoff, StreamOptions};

/// Connects to the game, serves the connection, and reconnects after every
/// loss, forever, with [`Backoff`] delays. Each change of state is logged
/// once; repeated failed attempts are not.
pub async fn connect_forever(
    game: Arc<Game>,
    endpoint: Endpoint,
    options: StreamOptions,
    shutdown: CancellationToken,
) {
    let mut backoff = Backoff::default();
    let mut reported_unreachable = false;
    while !shutdown.is_cancelled() {
        game.set_state(LinkState::Connecting, Some(format!("connecting to {endpoint}")));
        let attempt = tokio::select! {
            attempt = endpoint.connect() => attempt,
            () = shutdown.cancelled() => break,
        };
        match attempt {
            Ok(stream) => {
                backoff.reset();
                reported_unreachable = false;
                let ended = serve_connection(&game, stream, &endpoint, &options, &shutdown).await;
                if shutdown.is_cancelled() {
                    break;
                }
                tracing::warn!(game = game.name(), %endpoint, "game disconnected ({ended}); reconnecting");
            }
            Err(error) => {
                game.stats().record_failed_connect();
                if !reported_unreachable {
                    tracing::info!(game = game.name(), %endpoint, %error, "waiting for the game; retrying until it appears");
                    reported_unreachable = true;
                } else {
                    tracing::debug!(game = game.name(), %endpoint, %error, "game still unreachable");
                }
                game.set_state(LinkState::Connecting, Some(format!("waiting for {endpoint}: {error}")));
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff.next_delay()) => {}
            () = shutdown.cancelled() => break,
        }
    }
    game.set_state(LinkState::Stopped, None);
}
