//! The hub's call path, with a channel standing in for the link.

use std::time::Duration;

use gamebridge_hub::{Hub, LinkState, Outbound};
use gamebridge_protocol::message::null;
use gamebridge_protocol::{BridgeMessage, ErrorCode, GameMessage, RawValue, Response};
use tokio::sync::mpsc;

fn args() -> Box<RawValue> {
    RawValue::from_string("[1]".into()).unwrap()
}

fn call_id(outbound: Outbound) -> gamebridge_protocol::WireId {
    match outbound {
        Outbound::One(BridgeMessage::LuaCall { id, .. }) => id,
        other => panic!("expected one lua_call, got {other:?}"),
    }
}

#[tokio::test]
async fn an_answer_completes_its_call() {
    let hub = Hub::new();
    let game = hub.add_game("g", "test").unwrap();
    let (sender, mut queue) = mpsc::channel(8);
    let session = game.attach(sender);
    let call = game.call("F".into(), args(), Duration::from_secs(60));
    let answer = async {
        let id = call_id(queue.recv().await.unwrap());
        session.receive(GameMessage::LuaResponse(Response::from_result(id, Ok(null()))));
    };
    let (outcome, ()) = tokio::join!(call, answer);
    assert_eq!(outcome.unwrap().get(), "null");
    assert_eq!(game.stats().snapshot().succeeded, 1);
}

#[tokio::test]
async fn a_call_abandoned_by_its_caller_leaves_nothing_pending() {
    let hub = Hub::new();
    let game = hub.add_game("g", "test").unwrap();
    let (sender, mut queue) = mpsc::channel(8);
    let _session = game.attach(sender);
    let mut call = Box::pin(game.call("F".into(), args(), Duration::from_secs(60)));
    tokio::select! {
        _ = &mut call => panic!("nobody answered"),
        sent = queue.recv() => assert!(sent.is_some()),
    }
    assert_eq!(game.status().pending_calls, 1);
    drop(call);
    assert_eq!(game.status().pending_calls, 0);
}

#[tokio::test]
async fn detaching_fails_pending_calls_at_once_and_later_calls_immediately() {
    let hub = Hub::new();
    let game = hub.add_game("g", "test").unwrap();
    let (sender, mut queue) = mpsc::channel(8);
    let session = game.attach(sender);
    assert_eq!(game.status().state, LinkState::Connected);
    let call = game.call("F".into(), args(), Duration::from_secs(3600));
    let disconnect = async {
        queue.recv().await.unwrap();
        drop(session);
    };
    let (outcome, ()) = tokio::join!(call, disconnect);
    assert_eq!(outcome.unwrap_err().code, ErrorCode::DLL_DISCONNECTED);
    assert_eq!(game.status().state, LinkState::Disconnected);
    let later = game.call("F".into(), args(), Duration::from_secs(3600)).await;
    assert_eq!(later.unwrap_err().code, ErrorCode::DLL_DISCONNECTED);
}

#[tokio::test]
async fn a_new_session_replaces_the_old_one_and_fails_its_calls() {
    let hub = Hub::new();
    let game = hub.add_game("g", "test").unwrap();
    let (old_sender, mut old_queue) = mpsc::channel(8);
    let old = game.attach(old_sender);
    let call = game.call("F".into(), args(), Duration::from_secs(3600));
    let (new_sender, _new_queue) = mpsc::channel(8);
    let replace = async {
        old_queue.recv().await.unwrap();
        game.attach(new_sender)
    };
    let (outcome, new) = tokio::join!(call, replace);
    assert_eq!(outcome.unwrap_err().code, ErrorCode::DLL_DISCONNECTED);
    drop(old);
    assert!(game.is_connected(), "dropping the replaced session leaves the new one attached");
    drop(new);
    assert!(!game.is_connected());
}

#[tokio::test]
async fn a_full_write_queue_ends_in_call_timeout_not_a_hang() {
    let hub = Hub::new();
    let game = hub.add_game("g", "test").unwrap();
    let (sender, _queue) = mpsc::channel(1);
    let _session = game.attach(sender);
    // Nobody drains the queue: the first call fills it, the second cannot be sent.
    let first = game.call("F".into(), args(), Duration::from_millis(20));
    let second = game.call("G".into(), args(), Duration::from_millis(20));
    let (first, second) = tokio::join!(first, second);
    assert_eq!(first.unwrap_err().code, ErrorCode::CALL_TIMEOUT);
    assert_eq!(second.unwrap_err().code, ErrorCode::CALL_TIMEOUT);
    assert_eq!(game.status().pending_calls, 0);
}

#[tokio::test]
async fn a_call_given_up_before_it_was_written_is_withdrawn() {
    let hub = Hub::new();
    let game = hub.add_game("g", "test").unwrap();
    let (sender, mut queue) = mpsc::channel(8);
    let session = game.attach(sender);
    let outcome = game.call("Build".into(), args(), Duration::from_millis(10)).await;
    assert_eq!(outcome.unwrap_err().code, ErrorCode::CALL_TIMEOUT);
    // The link drains its queue only now, as a slow writer would.
    let queued = queue.recv().await.unwrap();
    assert!(!session.still_wanted(&queued.messages()[0]), "a timed-out call must not reach the game");
    let control = BridgeMessage::ClearPausedPlayers {};
    assert!(session.still_wanted(&control), "messages that are not calls are always written");
}

#[test]
fn game_names_are_unique() {
    let hub = Hub::new();
    hub.add_game("g", "a").unwrap();
    assert!(hub.add_game("g", "b").is_err());
    assert_eq!(hub.default_game().unwrap().link(), "a");
}
