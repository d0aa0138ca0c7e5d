//! `gamebridge mcp`: an MCP server on stdio that forwards to a running
//! bridge's `/mcp`. MCP clients that start their servers as processes use
//! it; restarting the MCP client restarts this small proxy, never the
//! bridge, so the game stays connected.
//!
//! The proxy is a pipe of JSON-RPC messages, not an MCP server of its own:
//! each message from stdio is posted to `/mcp` as it came, and each message
//! of the bridge (answers, notifications, `subscriptions/listen` streams) is
//! written to stdout as it came. So the stdio client negotiates its
//! protocol revision with the bridge itself, and gets exactly what a client
//! of `/mcp` gets. (An earlier proxy answered as an rmcp server from a
//! session it held with the bridge in the 2025 revision, and re-serialized
//! the results: a 2026-07-28 client then missed the `resultType` that
//! revision requires, since the bridge leaves it out for 2025 sessions.)
//! rmcp's streamable HTTP client transport does the HTTP side: session ids,
//! the protocol-version and `Mcp-Method`/`Mcp-Name` headers, SSE streams.
//!
//! A bridge started with a token gets it on every request to `/mcp`
//! (`--token` or `GAMEBRIDGE_TOKEN`, as the other client commands).

use anyhow::Context;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use rmcp::model::{ClientJsonRpcMessage, ErrorData, JsonRpcMessage, RequestId, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{IntoTransport, StreamableHttpClientTransport, Transport, stdio};
use rmcp::{RoleClient, RoleServer};

use crate::bridge_client::BridgeOptions;

pub async fn run(bridge: &BridgeOptions) -> anyhow::Result<()> {
    // The MCP client's errors for a refused token are not worded for a
    // person; asking the bridge once through the REST client first (`/`,
    // which answers with or without games) says plainly when it is not
    // running or needs the token.
    let client = bridge.client()?;
    client.result(client.get("/")).await?;
    let endpoint = format!("{}/mcp", bridge.base());
    let mut config = StreamableHttpClientTransportConfig::with_uri(endpoint.clone());
    if let Some(token) = bridge.token() {
        config = config.auth_header(token);
    }
    let upstream = StreamableHttpClientTransport::from_config(config);
    let downstream = IntoTransport::<RoleServer, std::io::Error, _>::into_transport(stdio());
    tracing::info!(%endpoint, "forwarding MCP from stdio");
    pipe(downstream, upstream, bridge.base()).await
}

/// Forwards messages both ways until the stdio client hangs up (`Ok`) or the
/// bridge's side ends (an error that says so).
async fn pipe(
    mut downstream: impl Transport<RoleServer>,
    mut upstream: impl Transport<RoleClient>,
    base: &str,
) -> anyhow::Result<()> {
    // Posts in flight. Polled from this one task, in the order they were
    // pushed, so the bridge sees the client's messages in the client's order
    // (`initialize`, then `notifications/initialized`, then the rest) while a
    // slow call does not hold up the next.
    let mut posts = FuturesUnordered::new();
    let outcome = loop {
        tokio::select! {
            message = downstream.receive() => {
                let Some(message) = message else { break Ok(()) };
                let id = request_id(&message);
                let post = upstream.send(message);
                posts.push(async move { (id, post.await) });
            }
            message = upstream.receive() => {
                let Some(message) = message else {
                    break Err(anyhow::anyhow!(
                        "lost the bridge at {base}; is `gamebridge serve` still running?"
                    ));
                };
                downstream.send(message).await.context("could not write to the MCP client on stdout")?;
            }
            Some((id, posted)) = posts.next(), if !posts.is_empty() => {
                // A request the bridge never got is answered here, so the
                // client is not left waiting for it.
                if let (Err(error), Some(id)) = (posted, id) {
                    let reason = root_cause(&error);
                    tracing::warn!(%reason, "could not post to the bridge");
                    let error = ErrorData::internal_error(
                        format!("could not reach the bridge at {base}: {reason}; is `gamebridge serve` running?"),
                        None,
                    );
                    let answer = ServerJsonRpcMessage::error(error, Some(id));
                    downstream.send(answer).await.context("could not write to the MCP client on stdout")?;
                }
            }
        }
    };
    // Ends the bridge's session (DELETE) for a client that had one.
    let _ = upstream.close().await;
    outcome
}

/// The id of a request, which needs an answer even when posting it fails.
fn request_id(message: &ClientJsonRpcMessage) -> Option<RequestId> {
    match message {
        JsonRpcMessage::Request(request) => Some(request.id.clone()),
        _ => None,
    }
}

/// The innermost cause of an error: for a refused connection, "Connection
/// refused" rather than the layers of types around it.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}
