//! A running bridge: the hub, one link per game, the HTTP API and the event
//! pipe, all stopped by one cancellation token.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, bail};
use gamebridge_agents::WebhookDispatch;
use gamebridge_agents::arena::{Arena, ArenaOptions, Backend};
use gamebridge_agents::llm::LlmConfig;
use gamebridge_api::{ApiState, event_pipe};
use gamebridge_hub::{Hub, HubConfig};
use gamebridge_links::Transport;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::BridgeConfig;

pub struct RunningBridge {
    /// Where the HTTP API listens (useful with port 0).
    pub addr: SocketAddr,
    pub hub: Arc<Hub>,
    shutdown: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
    /// Ends when every link has stopped after a shutdown.
    links: JoinHandle<()>,
    /// The fleet this bridge is a node of.
    fleet: Option<gamebridge_fleet::Fleet>,
}

impl RunningBridge {
    pub async fn start(config: BridgeConfig) -> anyhow::Result<Self> {
        let mut security = config.security.clone();
        if !config.listen.ip().is_loopback() {
            if security.token.is_none() {
                bail!(
                    "refusing to listen on {} without a token: the API can run code in the game. Set --token \
                     (or GAMEBRIDGE_TOKEN), or listen on 127.0.0.1",
                    config.listen
                );
            }
            // Clients reach a bridge on another address by that address.
            security.allowed_hosts.push(config.listen.ip().to_string());
        }
        let listener = gamebridge_links::bind_tcp(config.listen).await.with_context(|| {
            format!(
                "could not listen on {} (another bridge running? choose another with --listen)",
                config.listen
            )
        })?;
        let addr = listener.local_addr()?;
        let hub = Hub::with_config(HubConfig {
            event_capacity: config.event_ring,
            event_bytes: config.event_ring_bytes,
            journal: config.journal.clone(),
            dispatch: Arc::new(WebhookDispatch::new()),
        })
        .with_context(|| match &config.journal {
            Some(path) => format!("could not open the event journal {}", path.display()),
            None => "could not start the hub".to_owned(),
        })?;
        let shutdown = CancellationToken::new();
        let mut links = Vec::new();
        for game in &config.games {
            let handle = hub.add_game(&game.name, &game.link_label())?;
            let mut spec = game.spec.clone();
            if let Some(path) = &game.spec.manifest {
                let manifest = crate::manifest::load(path)?;
                tracing::info!(game = game.name, commands = manifest.commands.len(), frames = manifest.frames.is_some(), manifest = %path.display(), "manifest loaded");
                handle.functions().set_manifest(manifest.commands);
                if let Some(frames) = manifest.frames {
                    spec = spec.with_frames(Arc::new(frames)).map_err(|why| {
                        anyhow::anyhow!("game {}: the manifest {}: {why}", game.name, path.display())
                    })?;
                }
            }
            tracing::info!(game = game.name, link = game.link_label(), "serving game");
            links.push(gamebridge_links::spawn(hub.clone(), handle, spec, shutdown.clone()));
        }
        // Event streams end once the links have stopped after a shutdown, so
        // every client reads the games' last `dll_status` before the goodbye.
        let streams_end = CancellationToken::new();
        let links = {
            let (shutdown, streams_end) = (shutdown.clone(), streams_end.clone());
            tokio::spawn(async move {
                shutdown.cancelled().await;
                for link in links {
                    let _ = link.await;
                }
                streams_end.cancel();
            })
        };
        let event_pipe = match &config.event_pipe {
            Some(id) => Some(
                event_pipe::serve(hub.clone(), id, streams_end.clone())
                    .with_context(|| format!("could not serve the event pipe {id:?}"))?,
            ),
            None => None,
        };
        let arena = arena_for(&hub, &config)?;
        let mut state = ApiState::new(hub.clone(), shutdown.clone());
        state.streams_end = streams_end;
        state.event_pipe = event_pipe;
        state.arena = arena;
        state.default_timeout = config.default_timeout;
        state.ping_interval = config.ping_interval;
        state.security = Arc::new(security);
        state.limits = config.limits;
        let fleet = match &config.fleet {
            Some(options) => Some(gamebridge_fleet::Fleet::join(hub.clone(), options.clone()).await?),
            None => None,
        };
        let server = tokio::spawn(gamebridge_api::serve(listener, state));
        tracing::info!("agent API listening on http://{addr}");
        Ok(Self { addr, hub, shutdown, server, links, fleet })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A token that stops the bridge when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Waits until the bridge stops (shutdown token, `POST /shutdown`).
    pub async fn wait(self) -> anyhow::Result<()> {
        let served = self.server.await.context("the HTTP server task failed")?;
        self.shutdown.cancel();
        // The fleet hears goodbye first, so no node sends calls that cannot be answered.
        if let Some(fleet) = self.fleet {
            fleet.leave().await;
        }
        let _ = self.links.await;
        // Every event is in the journal, and on disk, before the bridge exits.
        let events = self.hub.events().clone();
        let _ = tokio::task::spawn_blocking(move || events.close()).await;
        served.context("the HTTP server failed")
    }

    /// Stops the bridge and waits for it.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.wait().await
    }
}

/// The Agent Arena of the first game that posts over HTTP, if any.
fn arena_for(hub: &Arc<Hub>, config: &BridgeConfig) -> anyhow::Result<Option<Arc<Arena>>> {
    let Some((name, http)) = config.games.iter().find_map(|game| match &game.spec.transport {
        Transport::Http(http) => Some((&game.name, http)),
        _ => None,
    }) else {
        return Ok(None);
    };
    let default_backend = match http.backend.as_str() {
        "llm" => Backend::Llm(LlmConfig {
            base_url: http.llm_url.clone().unwrap_or_default(),
            model: http.llm_model.clone().unwrap_or_else(|| "default".into()),
            temperature: http.llm_temperature,
            max_tokens: http.llm_max_tokens,
            api_key_env: None,
            system_prompt: None,
        }),
        _ => Backend::Rules,
    };
    let game = hub.game(name).expect("the game was added");
    let max_agents = http.max_agents.unwrap_or(gamebridge_agents::arena::DEFAULT_MAX_AGENTS);
    Ok(Some(Arena::new(game, ArenaOptions { deadline: http.deadline, default_backend, max_agents })))
}

/// Cancels `token` on Ctrl-C or SIGTERM.
pub fn cancel_on_signals(token: CancellationToken) {
    tokio::spawn(async move {
        let interrupt = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            _ = interrupt => tracing::info!("interrupted; shutting down"),
            () = terminate => tracing::info!("terminated; shutting down"),
            () = token.cancelled() => return,
        }
        token.cancel();
    });
}
