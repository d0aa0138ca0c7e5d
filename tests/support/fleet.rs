//! Fleet nodes for the tests: bridges joined through a [`NatsServer`], and
//! waiting for the games they serve for one another.

use gamebridge_fleet::FleetOptions;

use super::nats::NatsServer;
use super::{FakeGame, GameConnection, Harness, within};

/// Joining the fleet of `server` as `node`.
pub fn fleet(server: &NatsServer, node: &str) -> Option<FleetOptions> {
    Some(FleetOptions::new(&server.url, node))
}

/// A node serving no game of its own.
pub async fn agent_node(server: &NatsServer, node: &str) -> Harness {
    let fleet = fleet(server, node);
    Harness::start_configured(tempfile::tempdir().unwrap(), &[], |config| config.fleet = fleet).await
}

/// Node `box-a` with a connected game `civ5`.
pub async fn civ5_node(server: &NatsServer) -> (Harness, FakeGame, GameConnection) {
    let fleet = fleet(server, "box-a");
    Harness::with_one_game_configured("", |config| config.fleet = fleet).await
}

/// Waits until `harness` serves a game called `name` whose link is `link`
/// (or, with `None`, serves none).
pub async fn wait_for_game(harness: &Harness, name: &str, link: Option<&str>) {
    let mut changes = harness.hub().function_changes();
    within("the fleet's games to change", async {
        while harness.hub().game(name).map(|game| game.link().to_owned()).as_deref() != link {
            changes.changed().await.unwrap();
        }
    })
    .await;
}

/// Waits until `harness` serves a game called `name`, whichever node runs it.
pub async fn wait_until_served(harness: &Harness, name: &str) {
    let mut changes = harness.hub().function_changes();
    within("the fleet's game to be served", async {
        while harness.hub().game(name).is_none() {
            changes.changed().await.unwrap();
        }
    })
    .await;
}
