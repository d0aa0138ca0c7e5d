//! `gamebridge mcp`: an MCP server on stdio that forwards to a running
//! bridge's `/mcp`. MCP clients that start their servers as processes use
//! it; restarting the MCP client restarts this small proxy, never the
//! bridge, so the game stays connected.
//!
//! A bridge started with a token gets it on every request to `/mcp`
//! (`--token` or `GAMEBRIDGE_TOKEN`, as the other client commands).

use std::sync::{Arc, Mutex};

use anyhow::Context;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ClientCapabilities, ClientConfig, Implementation,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ProtocolVersion, ReadResourceRequestParams,
    ReadResourceResponse, ResourceUpdatedNotificationParam, ServerConfig, SubscribeRequestParams,
    SubscriptionFilter, UnsubscribeRequestParams,
};
use rmcp::service::{
    NotificationContext, RequestContext, RunningService, SubscriptionContext, SubscriptionSink,
};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, stdio};
use rmcp::{ClientHandler, ErrorData, Peer, RoleClient, RoleServer, ServerHandler, ServiceExt};

/// The stdio side's peer, once the MCP client has initialized.
type Downstream = Arc<Mutex<Option<Peer<RoleServer>>>>;

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
    let downstream = Downstream::default();
    let upstream = Upstream { downstream: downstream.clone(), listeners: Listeners::default() }
        .serve(StreamableHttpClientTransport::from_config(config))
        .await
        .with_context(|| {
            format!("could not reach the bridge's MCP endpoint {endpoint} (is `gamebridge serve` running?)")
        })?;
    tracing::info!(%endpoint, "forwarding MCP from stdio");
    let proxy = Proxy { upstream: Arc::new(upstream), downstream };
    let service = proxy.serve(stdio()).await.context("the MCP client did not initialize on stdio")?;
    service.waiting().await?;
    Ok(())
}

/// The client of the bridge: relays its notifications to the stdio client,
/// on its session and to its `subscriptions/listen` subscriptions.
struct Upstream {
    downstream: Downstream,
    listeners: Listeners,
}

/// The open subscriptions of a 2026-07-28 client on stdio.
type Listeners = Arc<Mutex<Vec<SubscriptionSink>>>;

impl Upstream {
    fn peer(&self) -> Option<Peer<RoleServer>> {
        self.downstream.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    fn lock_listeners(&self) -> std::sync::MutexGuard<'_, Vec<SubscriptionSink>> {
        self.listeners.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn listeners(&self) -> Vec<SubscriptionSink> {
        self.lock_listeners().clone()
    }
}

impl ClientHandler for Upstream {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("gamebridge-mcp", env!("CARGO_PKG_VERSION")),
        )
        .with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE)
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        if let Some(peer) = self.peer() {
            let _ = peer.notify_tool_list_changed().await;
        }
        for listener in self.listeners() {
            let _ = listener.notify_tool_list_changed().await;
        }
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        for listener in self.listeners() {
            let _ = listener.notify_resource_updated(params.uri.clone()).await;
        }
        if let Some(peer) = self.peer() {
            let _ = peer.notify_resource_updated(params).await;
        }
    }
}

/// The server on stdio: every request goes to the bridge.
struct Proxy {
    upstream: Arc<RunningService<RoleClient, Upstream>>,
    downstream: Downstream,
}

fn relay(error: rmcp::ServiceError) -> ErrorData {
    ErrorData::internal_error(format!("the bridge: {error}"), None)
}

impl ServerHandler for Proxy {
    fn get_info(&self) -> ServerConfig {
        gamebridge_api::mcp::server_config()
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        *self.downstream.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(context.peer);
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        self.upstream.list_tools(request).await.map_err(relay)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.upstream.call_tool(request).await.map(Into::into).map_err(relay)
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        self.upstream.list_resources(request).await.map_err(relay)
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        self.upstream.read_resource(request).await.map(Into::into).map_err(relay)
    }

    #[allow(deprecated)]
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.upstream.subscribe(request).await.map_err(relay)
    }

    #[allow(deprecated)]
    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.upstream.unsubscribe(request).await.map_err(relay)
    }

    fn accepted_subscription_filter(&self, requested: &SubscriptionFilter) -> Option<SubscriptionFilter> {
        Some(requested.intersection(&gamebridge_api::mcp::offered_subscriptions()))
    }

    /// A 2026-07-28 client's subscription, fed from the bridge session the
    /// proxy already holds (the sink passes on only what it accepted).
    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let upstream = self.upstream.service();
        let sink = context.sink().clone();
        upstream.lock_listeners().push(sink.clone());
        #[allow(deprecated)]
        let subscribed = match gamebridge_api::mcp::subscribed_to_events(context.accepted()) {
            true => {
                let events = SubscribeRequestParams::new(gamebridge_api::mcp::EVENTS_URI);
                self.upstream.subscribe(events).await.map_err(relay)
            }
            false => Ok(()),
        };
        if subscribed.is_ok() {
            context.cancelled().await;
        }
        upstream.lock_listeners().retain(|listener| listener.id() != sink.id());
        subscribed
    }
}
