//! The fleet as this node sees it: every other node's games, from their
//! hellos, each served here by a [`Proxy`]. A node that says goodbye, or
//! whose hellos stop for [`HELLO_EXPIRES`], leaves with its games; the agent
//! functions registered here for them wait for their return ([`Orphans`]).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use async_nats::{Client, Subscriber};
use futures::StreamExt;
use gamebridge_hub::Hub;
use tokio_util::sync::CancellationToken;

use crate::announce::{HEARTBEAT, HELLO_EXPIRES};
use crate::orphans::Orphans;
use crate::proxy::{PROXY_LINK, Proxy};
use crate::remote_agents::RemoteAgents;
use crate::subjects::{Subjects, untoken};
use crate::wire::{FleetEvent, Hello};

/// Another node and the games of it served here.
struct Node {
    last_hello: Instant,
    proxies: HashMap<String, Proxy>,
    /// Its games refused here (a game of the same name exists): warned once.
    refused: HashSet<String>,
}

pub struct Directory {
    client: Client,
    hub: Arc<Hub>,
    subjects: Subjects,
    /// This node's name: its own hellos are not the fleet's.
    own: String,
    nodes: HashMap<String, Node>,
    /// Other nodes' agents serving this node's games.
    agents: RemoteAgents,
    /// This node's agents of other nodes' games that are away.
    orphans: Orphans,
}

impl Directory {
    pub fn new(client: Client, hub: Arc<Hub>, subjects: Subjects, own: String) -> Self {
        let agents = RemoteAgents::new(client.clone(), hub.clone(), subjects.clone());
        Self { client, hub, subjects, own, nodes: HashMap::new(), agents, orphans: Orphans::default() }
    }

    /// Follows hellos and goodbyes until `stop`; then the fleet's games leave this node.
    pub async fn follow(
        mut self,
        mut hellos: Subscriber,
        mut byes: Subscriber,
        mut events: Subscriber,
        stop: CancellationToken,
    ) {
        let mut expiry = tokio::time::interval(HEARTBEAT / 2);
        loop {
            tokio::select! {
                Some(message) = events.next() => self.event(&message),
                Some(message) = hellos.next() => match serde_json::from_slice::<Hello>(&message.payload) {
                    Ok(hello) => self.hello(hello),
                    Err(error) => tracing::warn!(subject = %message.subject, %error, "not a fleet hello: ignored"),
                },
                Some(message) = byes.next() => {
                    let node = String::from_utf8_lossy(&message.payload).into_owned();
                    if self.nodes.contains_key(&node) {
                        tracing::info!(node, "fleet node left");
                        self.remove(&node);
                    }
                }
                _ = expiry.tick() => self.expire(),
                () = stop.cancelled() => break,
            }
        }
        let nodes: Vec<String> = self.nodes.keys().cloned().collect();
        nodes.iter().for_each(|node| self.remove(node));
    }

    fn hello(&mut self, hello: Hello) {
        if hello.node == self.own {
            return;
        }
        let node = self.nodes.entry(hello.node.clone()).or_insert_with(|| {
            tracing::info!(node = hello.node, games = hello.games.len(), "fleet node joined");
            Node { last_hello: Instant::now(), proxies: HashMap::new(), refused: HashSet::new() }
        });
        node.last_hello = Instant::now();
        self.agents.update(&hello.node, &hello.serves);
        let named: HashSet<&str> = hello.games.iter().map(|card| card.name.as_str()).collect();
        let gone: Vec<String> =
            node.proxies.keys().filter(|name| !named.contains(name.as_str())).cloned().collect();
        for name in gone {
            node.proxies.remove(&name);
            leave(&self.hub, &mut self.orphans, &name);
        }
        for card in hello.games {
            if let Some(proxy) = node.proxies.get(&card.name) {
                proxy.update(card);
                continue;
            }
            match self.hub.add_game(&card.name, &format!("{PROXY_LINK}{}", hello.node)) {
                Ok(game) => {
                    let name = card.name.clone();
                    let proxy =
                        Proxy::spawn(self.client.clone(), &self.subjects, &hello.node, game.clone(), card);
                    node.proxies.insert(name, proxy);
                    self.orphans.restore(&game);
                }
                Err(_) => {
                    if node.refused.insert(card.name.clone()) {
                        tracing::error!(
                            game = card.name,
                            node = hello.node,
                            "a game of this name is already in the fleet (game names must be unique): \
                             node {}'s is not served here",
                            hello.node
                        );
                    }
                }
            }
        }
    }

    /// Hands an event of another node's game to the game served here for it.
    fn event(&self, message: &async_nats::Message) {
        let Some((node, game)) = self.subjects.event_source(&message.subject) else { return };
        let (Some(node), Some(game)) = (untoken(node), untoken(game)) else { return };
        let Some(proxy) = self.nodes.get(&node).and_then(|served| served.proxies.get(&game)) else { return };
        match serde_json::from_slice::<FleetEvent>(&message.payload) {
            Ok(event) => proxy.game().publish_event(event.into_game_event()),
            Err(error) => tracing::debug!(subject = %message.subject, %error, "not a fleet event: ignored"),
        }
    }

    fn expire(&mut self) {
        self.orphans.expire();
        let expired: Vec<String> = (self.nodes.iter())
            .filter(|(_, node)| node.last_hello.elapsed() > HELLO_EXPIRES)
            .map(|(name, _)| name.clone())
            .collect();
        for node in expired {
            tracing::warn!(node, "fleet node silent for {HELLO_EXPIRES:?}: its games leave the fleet");
            self.remove(&node);
        }
    }

    /// The node's games leave this node; calls waiting for them fail at once.
    fn remove(&mut self, node: &str) {
        self.agents.update(node, &[]);
        if let Some(node) = self.nodes.remove(node) {
            for name in node.proxies.into_keys() {
                leave(&self.hub, &mut self.orphans, &name);
            }
        }
    }
}

/// Another node's game leaves this node, its agent functions kept for its return.
fn leave(hub: &Hub, orphans: &mut Orphans, name: &str) {
    if let Some(game) = hub.game(name) {
        orphans.keep(&game);
    }
    hub.remove_game(name);
}
