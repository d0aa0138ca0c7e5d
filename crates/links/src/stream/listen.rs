//! The listen role: games connect to the bridge, many at once (emulator
//! instances for training). Each connection is an instance `NAME/1`,
//! `NAME/2`, … with its own session and lockstep; when it ends, the
//! instance is removed and its number becomes free again.

use std::sync::Arc;

use gamebridge_hub::{Game, Hub, LinkState};
use interprocess::local_socket::tokio::Listener as LocalListener;
use interprocess::local_socket::traits::tokio::Listener as _;
use interprocess::local_socket::{GenericFilePath, ListenerOptions, ToFsName};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{Endpoint, GameStream, serve_connection};
use crate::StreamOptions;

enum Acceptor {
    Tcp(TcpListener),
    Local(LocalListener),
}

impl Acceptor {
    async fn bind(endpoint: &Endpoint) -> std::io::Result<Self> {
        match endpoint {
            Endpoint::Tcp(address) => Ok(Acceptor::Tcp(crate::bind_tcp(address.as_str()).await?)),
            Endpoint::Local(path) => {
                #[cfg(unix)]
                if std::os::unix::net::UnixStream::connect(path).is_err() {
                    // A socket file left by a bridge that did not shut down cleanly.
                    let _ = std::fs::remove_file(path);
                }
                let name = path.as_os_str().to_fs_name::<GenericFilePath>()?;
                let listener = ListenerOptions::new().name(name).create_tokio()?;
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
                }
                Ok(Acceptor::Local(listener))
            }
        }
    }

    /// Where games reach it (the real port when the spec said port 0).
    fn address(&self, endpoint: &Endpoint) -> String {
        match self {
            Acceptor::Tcp(listener) => listener
                .local_addr()
                .map_or_else(|_| endpoint.to_string(), |address| format!("tcp:{address}")),
            Acceptor::Local(_) => endpoint.to_string(),
        }
    }

    async fn accept(&self) -> std::io::Result<(Box<dyn GameStream>, String)> {
        match self {
            Acceptor::Tcp(listener) => {
                let (stream, peer) = listener.accept().await?;
                stream.set_nodelay(true)?;
                Ok((Box::new(stream), format!("tcp:{peer}")))
            }
            Acceptor::Local(listener) => Ok((Box::new(listener.accept().await?), "local socket".to_owned())),
        }
    }
}

/// Accepts games on `endpoint` until `shutdown`, serving each as an
/// instance of `game`.
pub async fn listen_forever(
    hub: Arc<Hub>,
    game: Arc<Game>,
    endpoint: Endpoint,
    options: StreamOptions,
    shutdown: CancellationToken,
) {
    let acceptor = match Acceptor::bind(&endpoint).await {
        Ok(acceptor) => acceptor,
        Err(error) => {
            tracing::error!(game = game.name(), %endpoint, %error, "could not listen for games");
            game.set_state(LinkState::Stopped, Some(format!("could not listen on {endpoint}: {error}")));
            return;
        }
    };
    let address = acceptor.address(&endpoint);
    tracing::info!(game = game.name(), %address, "listening for games; each connection is an instance NAME/k");
    game.set_state(LinkState::Listening, Some(format!("listening on {address}")));
    let instances = TaskTracker::new();
    let options = Arc::new(options);
    loop {
        let accepted = tokio::select! {
            accepted = acceptor.accept() => accepted,
            () = shutdown.cancelled() => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(game = game.name(), %error, "could not accept a game");
                continue;
            }
        };
        let instance = hub.add_instance(&game);
        let (hub, options, shutdown) = (hub.clone(), options.clone(), shutdown.clone());
        instances.spawn(async move {
            let ended = serve_connection(&instance, stream, &peer, &options, &shutdown).await;
            tracing::info!(game = instance.name(), %ended, "instance disconnected");
            hub.remove_game(instance.name());
        });
    }
    instances.close();
    instances.wait().await;
    #[cfg(unix)]
    if let Endpoint::Local(path) = &endpoint {
        let _ = std::fs::remove_file(path);
    }
    game.set_state(LinkState::Stopped, None);
}
