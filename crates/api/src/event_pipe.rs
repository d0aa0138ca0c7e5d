//! The event pipe: the event stream over a local socket, for agents that
//! prefer a socket to SSE (the Vox Deorum MCP server reads events this way).
//!
//! `--event-pipe ID` listens at node-ipc pipe `ID` (`/tmp/app.ID`, on Windows
//! `\\.\pipe\tmp-app.ID`). Each connection receives
//! `{type:"connected", timestamp, message}`, then every new event's data
//! (the JSON SSE clients get), each followed by `!@#$%^!`; a client that
//! falls behind the event ring gets `{type:"lagged", missed, first, last}`;
//! at shutdown every client gets `{type:"disconnecting"}`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{BufMut, BytesMut};
use gamebridge_hub::{Delivery, Hub};
use gamebridge_protocol::codec::VOX_DELIMITER;
use interprocess::local_socket::tokio::Stream as LocalStream;
use interprocess::local_socket::traits::tokio::Listener as _;
use interprocess::local_socket::{GenericFilePath, ListenerOptions, ToFsName};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A served event pipe: where it is, and how many clients it has.
pub struct EventPipe {
    /// The node-ipc id (`--event-pipe ID`).
    pub name: String,
    /// `/tmp/app.ID`, or on Windows `\\.\pipe\tmp-app.ID` (where the Vox
    /// Deorum MCP server connects).
    pub path: PathBuf,
    clients: AtomicU64,
}

impl EventPipe {
    pub fn clients(&self) -> u64 {
        self.clients.load(Ordering::Relaxed)
    }
}

/// Starts serving events at node-ipc pipe `id`. Runs until `streams_end`,
/// then sends every client what is left to read and a goodbye.
pub fn serve(hub: Arc<Hub>, id: &str, shutdown: CancellationToken) -> std::io::Result<Arc<EventPipe>> {
    let path = gamebridge_protocol::naming::node_ipc_path(id);
    #[cfg(unix)]
    remove_stale_socket(&path);
    let listener =
        ListenerOptions::new().name(path.as_os_str().to_fs_name::<GenericFilePath>()?).create_tokio()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    tracing::info!(path = %path.display(), "event pipe listening");
    let pipe = Arc::new(EventPipe { name: id.to_owned(), path: path.clone(), clients: AtomicU64::new(0) });
    let cleanup = path.clone();
    let served = pipe.clone();
    tokio::spawn(async move {
        let clients = TaskTracker::new();
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = shutdown.cancelled() => break,
            };
            match accepted {
                Ok(stream) => {
                    let (hub, shutdown, served) = (hub.clone(), shutdown.clone(), served.clone());
                    clients.spawn(async move {
                        served.clients.fetch_add(1, Ordering::Relaxed);
                        serve_client(hub, stream, shutdown).await;
                        served.clients.fetch_sub(1, Ordering::Relaxed);
                    });
                }
                Err(error) => tracing::warn!(%error, "event pipe could not accept a client"),
            }
        }
        clients.close();
        clients.wait().await;
        #[cfg(unix)]
        let _ = std::fs::remove_file(cleanup);
        #[cfg(not(unix))]
        let _ = cleanup;
    });
    Ok(pipe)
}

/// A socket file left by a bridge that did not shut down cleanly.
#[cfg(unix)]
fn remove_stale_socket(path: &std::path::Path) {
    if std::os::unix::net::UnixStream::connect(path).is_err() {
        let _ = std::fs::remove_file(path);
    }
}

async fn serve_client(hub: Arc<Hub>, mut stream: LocalStream, shutdown: CancellationToken) {
    let mut cursor = hub.events().subscribe(None);
    let mut chunk = BytesMut::new();
    let connected = json!({
        "type": "connected",
        "timestamp": humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        "message": "Connected to the gamebridge event pipe",
    });
    put_frame(&mut chunk, connected.to_string().as_bytes());
    loop {
        if stream.write_all(&chunk).await.is_err() {
            tracing::debug!("event pipe client left");
            return;
        }
        chunk.clear();
        tokio::select! {
            delivery = cursor.next(100) => match delivery {
                Delivery::Events(events) => {
                    for event in &events {
                        put_frame(&mut chunk, &event.data);
                    }
                }
                Delivery::Lagged { first, missed } => {
                    let notice = json!({ "type": "lagged", "missed": missed, "first": first, "last": first + missed - 1 });
                    put_frame(&mut chunk, notice.to_string().as_bytes());
                }
            },
            () = shutdown.cancelled() => {
                // What the game's link published last (its `dll_status`) goes first.
                while let Some(Delivery::Events(events)) = cursor.poll_available(100).await {
                    for event in &events {
                        put_frame(&mut chunk, &event.data);
                    }
                }
                let goodbye = json!({
                    "type": "disconnecting",
                    "timestamp": humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
                    "message": "Server shutting down",
                });
                put_frame(&mut chunk, goodbye.to_string().as_bytes());
                let _ = stream.write_all(&chunk).await;
                let _ = stream.flush().await;
                return;
            }
        }
    }
}

fn put_frame(chunk: &mut BytesMut, json: &[u8]) {
    chunk.reserve(json.len() + VOX_DELIMITER.len());
    chunk.put_slice(json);
    chunk.put_slice(VOX_DELIMITER);
}
