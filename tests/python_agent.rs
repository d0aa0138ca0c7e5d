//! The Python example agent (examples/python/tempest_agent.py) answering a
//! Tempest instance through the bridge. Needs python3 with the `websockets`
//! package: CI installs it (.ci/run); elsewhere the test is skipped without it.

mod support;

use std::path::Path;
use std::time::Duration;

use support::{Harness, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A Tempest frame: the 39-byte big-endian header, then 195 f32 values.
fn tempest_frame(spinner: i16, done: bool) -> Vec<u8> {
    let mut frame = Vec::with_capacity(819);
    frame.extend_from_slice(&195u16.to_be_bytes()); // num_values
    frame.extend_from_slice(&0f64.to_be_bytes()); // subj_reward
    frame.extend_from_slice(&0f64.to_be_bytes()); // obj_reward
    frame.extend_from_slice(&[2, 0, u8::from(done)]); // gamestate, game_mode, done
    frame.extend_from_slice(&7u16.to_be_bytes()); // frame_counter
    frame.extend_from_slice(&1234u32.to_be_bytes()); // score
    frame.extend_from_slice(&[0, 0, 0]); // save_signal, fire, zap
    frame.extend_from_slice(&spinner.to_be_bytes());
    frame.extend_from_slice(&0i16.to_be_bytes()); // expert_target
    frame.extend_from_slice(&[0, 0, 0, 0, 1]); // player_seg, open_level, expert_fire, expert_zap, level
    assert_eq!(frame.len(), 39);
    frame.extend(std::iter::repeat_n(0u8, 195 * 4));
    frame
}

#[tokio::test]
async fn the_python_example_agent_plays_tempest() {
    if !support::python_with("websockets") {
        return;
    }
    let spec = "tcp:127.0.0.1:0?listen&framing=u16be&handshake=2&reply=5&protocol=step&step_timeout_ms=5000";
    let harness = Harness::start(&[("tempest", spec.to_owned())]).await;
    let game = harness.hub().game("tempest").unwrap();
    let address = harness.listening_address("tempest").await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/python/tempest_agent.py");
    let url = harness.url("/agent").replacen("http://", "ws://", 1);
    let mut agent = tokio::process::Command::new("python3")
        .args([script.to_str().unwrap(), "--url", &url, "--max-frames", "2"])
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    within("the agent to register", async {
        while game.find_external("step").is_none() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;

    let mut stream = TcpStream::connect(&address).await.unwrap();
    stream.write_all(&[0, 0]).await.unwrap();
    let mut step = async |frame: Vec<u8>| {
        let mut message = (frame.len() as u16).to_be_bytes().to_vec();
        message.extend_from_slice(&frame);
        stream.write_all(&message).await.unwrap();
        let mut reply = [0u8; 5];
        within("the agent's action", stream.read_exact(&mut reply)).await.unwrap();
        reply
    };
    assert_eq!(
        step(tempest_frame(16, false)).await,
        [1, 0, (-2i8) as u8, 1, 13],
        "fire, steering against the spinner, with the original's game settings"
    );
    assert_eq!(step(tempest_frame(16, true)).await, [0, 0, 0, 1, 13], "no action on a done frame");
    assert!(within("the agent to finish", agent.wait()).await.unwrap().success());
}
