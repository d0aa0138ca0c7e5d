//! What only a FIFO pair can get wrong: the bridge holds the game's input
//! FIFO open across games, so bytes a dead game never read stay in the pipe,
//! and the next game to open it would read them.

use serde_json::json;

use std::io::Read;
use std::os::fd::AsFd;

use crate::links::{Kind, Link, open_fifo_input, open_fifo_output, open_fifo_pair};
use crate::support::{GameConnection, error_code, within};

#[tokio::test]
async fn a_call_the_dead_game_never_read_does_not_reach_the_next_game() {
    let link = Link::start(Kind::Fifo, &[]).await;
    let prefix = link.harness.dir.path().join("game");
    link.harness.wait_listening("game").await;
    let (from_bridge, to_bridge) = open_fifo_pair(&prefix).await;
    link.harness.wait_connected("game").await;

    let unread = link.call(json!({"function": "Unread", "timeout_ms": 600_000}));
    let dies = async {
        // The call is in the pipe; the game dies without reading it.
        within("the call to reach the pipe", from_bridge.readable()).await.unwrap();
        drop((from_bridge, to_bridge));
        link.wait_gone().await;
    };
    let (unread, ()) = within("the unread call to fail", async { tokio::join!(unread, dies) }).await;
    assert_eq!(error_code(&unread), "DLL_DISCONNECTED", "{unread}");

    // The next game opens its input and looks at it before it opens its
    // output: the dead game's call, whose caller was told it failed, must
    // not be there.
    let from_bridge = open_fifo_input(&prefix).await;
    assert_eq!(waiting_bytes(&from_bridge), "", "the next game read the dead game's call");
    let to_bridge = open_fifo_output(&prefix).await;
    link.harness.wait_connected("game").await;
    let mut game = GameConnection::new(tokio::io::join(from_bridge, to_bridge));
    let call = link.call(json!({"function": "Fresh"}));
    let answer = async {
        let (id, function, _) = game.expect_call().await;
        assert_eq!(function, "Fresh");
        game.answer(id, json!("served")).await;
    };
    assert_eq!(tokio::join!(call, answer).0["result"], "served");
}

/// What is waiting in the pipe right now, read with a plain non-blocking
/// `read` (tokio's `try_read` reads nothing until the reactor has seen the
/// pipe become readable, so it cannot tell an empty pipe from a new one).
fn waiting_bytes(pipe: &tokio::net::unix::pipe::Receiver) -> String {
    // A duplicate shares the pipe's non-blocking flag.
    let mut file = std::fs::File::from(pipe.as_fd().try_clone_to_owned().unwrap());
    let mut bytes = vec![0; 64 * 1024];
    match file.read(&mut bytes) {
        Ok(read) => String::from_utf8_lossy(&bytes[..read]).into_owned(),
        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => String::new(),
        Err(error) => panic!("could not read the game's input: {error}"),
    }
}
