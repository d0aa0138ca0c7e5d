//! Game faults on a lockstep link (the step protocol, Tempest on MAME):
//! the bridge listens on TCP, each emulator is an instance `tempest/k`, and
//! every frame waits for one reply from the agent that registered `step`.

use futures::future::join_all;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub use crate::support::mame::{PAYLOAD, TEMPEST, expected_reply, frame};
use crate::support::{Harness, within};
use crate::ws_agent::WsAgent;

/// Far beyond any test: a reply that comes must come from the agent or a
/// fault being handled, never from the step deadline running out.
pub const NO_DEADLINE: &str = "&step_timeout_ms=600000";

/// A bridge serving `tempest` (with extra link `options`), and the address
/// emulators connect to.
pub async fn tempest(options: &str) -> (Harness, String) {
    let harness = Harness::start(&[("tempest", format!("{TEMPEST}{options}"))]).await;
    let address = harness.listening_address("tempest").await;
    (harness, address)
}

/// An agent that registered `step` for `tempest`, answering nothing by itself.
pub async fn step_agent(harness: &Harness) -> WsAgent {
    let mut agent = WsAgent::connect(harness).await;
    agent.register(json!({"type": "register", "game": "tempest", "functions": ["step"]})).await;
    agent
}

/// One emulator running the Tempest script's wire protocol.
pub struct Instance(TcpStream);

impl Instance {
    /// Connects and sends the 2-byte handshake.
    pub async fn connect(address: &str) -> Self {
        let mut stream = within("connecting to the bridge", TcpStream::connect(address)).await.unwrap();
        stream.write_all(&[0, 0]).await.unwrap();
        Self(stream)
    }

    /// Sends one length-prefixed frame.
    pub async fn send(&mut self, frame: &[u8]) {
        let mut message = (frame.len() as u16).to_be_bytes().to_vec();
        message.extend_from_slice(frame);
        self.send_raw(&message).await;
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.0.write_all(bytes).await.unwrap();
    }

    /// The reply to the frame sent last.
    pub async fn reply(&mut self) -> [u8; 5] {
        let mut reply = [0u8; 5];
        within("a step reply", self.0.read_exact(&mut reply)).await.unwrap();
        reply
    }

    pub async fn step(&mut self, frame: &[u8]) -> [u8; 5] {
        self.send(frame).await;
        self.reply().await
    }
}

/// Waits until the hub has (or no longer has) the game `name`.
pub async fn wait_for_game(harness: &Harness, name: &str, present: bool) {
    let hub = harness.hub();
    let mut games = hub.function_changes();
    within("the instance to come or go", games.wait_for(|_| hub.game(name).is_some() == present))
        .await
        .expect("the hub lives");
}

#[tokio::test]
async fn a_game_that_dies_mid_frame_is_removed_and_its_successor_served() {
    let (harness, address) = tempest(NO_DEADLINE).await;
    let mut agent = step_agent(&harness).await;
    let mut dying = Instance::connect(&address).await;
    dying.send(&frame(1, 1)).await;
    let [held] = <[_; 1]>::try_from(agent.next_frames().await).unwrap();
    assert_eq!((held.game.as_str(), held.seq), ("tempest/1", 1));
    drop(dying);
    // The agent answers after the game died: the reply goes nowhere.
    agent.reply(&[(held.id, &expected_reply(1, 1))]).await;
    wait_for_game(&harness, "tempest/1", false).await;

    let mut restarted = Instance::connect(&address).await;
    restarted.send(&frame(1, 2)).await;
    let [next] = <[_; 1]>::try_from(agent.next_frames().await).unwrap();
    assert_eq!(
        (next.game.as_str(), next.seq),
        ("tempest/1", 1),
        "the number is reused, the count starts again"
    );
    assert_eq!(&next.bytes[..], &frame(1, 2)[..], "the new game's frame, and no other, reaches the agent");
    agent.reply(&[(next.id, &expected_reply(1, 2))]).await;
    assert_eq!(restarted.reply().await, expected_reply(1, 2));
    let stats = harness.game_stats("tempest/1").await;
    assert_eq!((stats["steps"].as_u64(), stats["step_misses"].as_u64()), (Some(1), Some(0)));
}

#[tokio::test]
async fn a_frame_cut_short_never_reaches_the_agent() {
    let (harness, address) = tempest(NO_DEADLINE).await;
    let mut agent = step_agent(&harness).await;
    // One game dies inside a frame, another inside a length prefix.
    let mut inside_frame = Instance::connect(&address).await;
    inside_frame.send_raw(&(PAYLOAD as u16).to_be_bytes()).await;
    inside_frame.send_raw(&frame(1, 1)[..400]).await;
    wait_for_game(&harness, "tempest/1", true).await;
    drop(inside_frame);
    wait_for_game(&harness, "tempest/1", false).await;
    let mut inside_prefix = Instance::connect(&address).await;
    inside_prefix.send_raw(&[3]).await;
    wait_for_game(&harness, "tempest/1", true).await;
    drop(inside_prefix);
    wait_for_game(&harness, "tempest/1", false).await;

    let mut whole = Instance::connect(&address).await;
    whole.send(&frame(3, 1)).await;
    let [first] = <[_; 1]>::try_from(agent.next_frames().await).unwrap();
    assert_eq!(&first.bytes[..], &frame(3, 1)[..], "the agent's first frame is the first whole one");
    agent.reply(&[(first.id, &expected_reply(3, 1))]).await;
    assert_eq!(whole.reply().await, expected_reply(3, 1));
}

#[tokio::test]
async fn an_oversized_frame_gets_the_default_reply_at_once_and_the_stream_goes_on() {
    let (harness, address) = tempest(&format!("&max_frame=1024&default=0102030405{NO_DEADLINE}")).await;
    let mut agent = step_agent(&harness).await;
    let mut game = Instance::connect(&address).await;
    // The game waits for a reply to every frame, even one the bridge skips.
    assert_eq!(game.step(&vec![7; 2000]).await, [1, 2, 3, 4, 5]);
    game.send(&frame(1, 2)).await;
    let [next] = <[_; 1]>::try_from(agent.next_frames().await).unwrap();
    assert_eq!(&next.bytes[..], &frame(1, 2)[..], "the skipped frame never reached the agent");
    agent.reply(&[(next.id, &expected_reply(1, 2))]).await;
    assert_eq!(game.reply().await, expected_reply(1, 2));
    let stats = harness.game_stats("tempest/1").await;
    assert_eq!(
        (stats["steps"].as_u64(), stats["step_misses"].as_u64(), stats["bad_frames"].as_u64()),
        (Some(2), Some(1), Some(1))
    );
}

/// A frame's payload is opaque bytes, so a game cannot send garbage; what
/// can be garbage is the agent's reply.
#[tokio::test]
async fn garbage_replies_from_the_agent_cost_one_default_reply_and_nothing_else() {
    let (harness, address) = tempest(&format!("&default=0102030405{NO_DEADLINE}")).await;
    let mut agent = step_agent(&harness).await;
    let mut game = Instance::connect(&address).await;

    game.send(&frame(1, 1)).await;
    let [first] = <[_; 1]>::try_from(agent.next_frames().await).unwrap();
    agent.reply(&[(first.id, &[9, 9, 9])]).await;
    assert_eq!(game.reply().await, [1, 2, 3, 4, 5], "a reply of the wrong size is replaced");

    game.send(&frame(1, 2)).await;
    let [second] = <[_; 1]>::try_from(agent.next_frames().await).unwrap();
    agent.send_binary(vec![0xff, 1, 2]).await;
    let error = agent.next_text().await;
    assert_eq!(
        (error["type"].as_str(), error["code"].as_str()),
        (Some("error"), Some("SERIALIZATION_ERROR"))
    );
    agent.reply(&[(second.id + 1000, &expected_reply(9, 9))]).await; // no such frame: ignored
    agent.reply(&[(second.id, &expected_reply(1, 2))]).await;
    assert_eq!(game.reply().await, expected_reply(1, 2), "the frame still got the agent's reply");
    let stats = harness.game_stats("tempest/1").await;
    assert_eq!((stats["steps"].as_u64(), stats["step_misses"].as_u64()), (Some(2), Some(1)));
}

/// A lockstep game has one frame in flight per instance, so 10,000 frames
/// in flight means many instances at once: 500 emulators × 20 frames.
#[tokio::test]
async fn ten_thousand_frames_from_five_hundred_instances_each_get_their_own_reply() {
    let (harness, address) = tempest(NO_DEADLINE).await;
    step_agent(&harness).await.echo_frames_forever();
    let instances = (0..500u32).map(|number| {
        let address = address.clone();
        async move {
            let mut game = Instance::connect(&address).await;
            let tag = (number % 251) as u8;
            for n in 1..=20 {
                assert_eq!(
                    game.step(&frame(tag, n)).await,
                    expected_reply(tag, n),
                    "emulator {number}, frame {n}"
                );
            }
            game
        }
    });
    let games = within("500 instances × 20 frames", join_all(instances)).await;
    let (_, stats) = harness.get("/stats").await;
    let total = |counter: &str| -> u64 {
        stats["result"]["games"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|game| game["name"] != "tempest")
            .map(|game| game["calls"][counter].as_u64().unwrap())
            .sum()
    };
    assert_eq!((total("steps"), total("step_misses")), (10_000, 0));
    // Memory stays bounded: every instance goes with its connection.
    drop(games);
    let hub = harness.hub();
    let mut changes = hub.function_changes();
    within("every instance to be removed", changes.wait_for(|_| hub.games().len() == 1)).await.unwrap();
}
