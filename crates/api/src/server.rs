//! The HTTP server loop: axum's router on hyper's HTTP/1 connections, with
//! the limits `axum::serve` does not offer.
//!
//! A connection that sends no complete request head within the header
//! timeout is closed. The same timer runs while a keep-alive connection
//! waits for its next request, so idle and half-open connections (slowloris)
//! cannot pile up. The number of open connections is capped: at the cap the
//! bridge stops accepting (the kernel's backlog holds the rest) and says so
//! in the log, so a local process cannot exhaust the bridge's descriptors.
//! Long-lived streams (SSE, WebSocket) are not affected: the timer only runs
//! while a request head is awaited. A WebSocket leaves hyper's connection
//! once upgraded, so its slot under the cap travels with it
//! ([`ConnectionSlot`]) and is freed when the socket closes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// How long the server waits for a request head, and for a new request on
/// an idle keep-alive connection.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// Connections open at once, at most.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// How long shutdown waits for open connections to finish their requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection's place under the cap, in each of its requests' extensions:
/// a handler that takes the connection over (a WebSocket upgrade) keeps a
/// clone for as long as it uses it, so the connection stays counted.
#[derive(Clone)]
pub struct ConnectionSlot {
    _permit: Arc<OwnedSemaphorePermit>,
}

/// The connection limits of the agent API's listener.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    pub header_timeout: Duration,
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self { header_timeout: DEFAULT_HEADER_TIMEOUT, max_connections: DEFAULT_MAX_CONNECTIONS }
    }
}

/// Serves `router` on `listener` until `shutdown` is cancelled, then lets
/// open requests finish (for a few seconds at most).
pub async fn run(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let connections = TaskTracker::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    loop {
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                tracing::warn!(
                    limit = limits.max_connections,
                    "connection limit reached: new connections wait until one closes"
                );
                tokio::select! {
                    permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
                    () = shutdown.cancelled() => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors, say: wait a little instead of spinning.
                    tracing::warn!(%error, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let slot = ConnectionSlot { _permit: Arc::new(permit) };
        let request_slot = slot.clone();
        let service = router.clone().map_request(move |mut request: axum::http::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request.extensions_mut().insert(request_slot.clone());
            request
        });
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)).with_upgrades();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = shutdown.cancelled() => {
                    // Finish the request in progress, then close.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = ended {
                tracing::debug!(%peer, %error, "connection ended");
            }
            drop(slot);
        });
    }
    connections.close();
    if tokio::time::timeout(DRAIN_TIMEOUT, connections.wait()).await.is_err() {
        tracing::warn!("some connections were still open at shutdown");
    }
    Ok(())
}

/// The peer of a request, as [`run`] records it.
pub fn peer(request: &axum::extract::Request) -> Option<SocketAddr> {
    request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(peer)| *peer)
}
