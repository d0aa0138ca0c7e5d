//! Game faults on every link that carries the JSON pipe protocol. Each
//! scenario is written once and run on each link by [`on_links!`], so a test
//! is named `scenario::link` (e.g. `the_game_restarts::fifo`).

use futures::future::join_all;
use gamebridge_protocol::{FrameCodec, Framing, RawValue};
use serde_json::{Value, json};

use crate::links::{Kind, Link};
use crate::support::{error_code, response, within, within_bulk};

/// One `#[tokio::test]` per link, each running `scenario` on that link.
macro_rules! on_links {
    ($scenario:ident: $($link:ident),+ $(,)?) => {
        mod $scenario {
            $(
                #[tokio::test]
                async fn $link() {
                    super::$scenario(super::Kind::named(stringify!($link))).await;
                }
            )+
        }
    };
}

/// The bytes of `message` as the game frames it (the Vox delimiter).
fn framed(message: &gamebridge_protocol::GameMessage) -> Vec<u8> {
    let mut bytes = bytes::BytesMut::new();
    FrameCodec::new(&Framing::default(), 1 << 24).encode(&message.to_json(), &mut bytes).unwrap();
    bytes.to_vec()
}

on_links!(game_dies_mid_call: unix_connect, tcp_connect, unix_listen, fifo);
/// The game dies with a call in hand: the call fails at once with
/// `DLL_DISCONNECTED`, the bridge stays up, and a call while the game is away
/// fails at once too (`NOT_FOUND` for an instance, which went with its game).
async fn game_dies_mid_call(kind: Kind) {
    let link = Link::start(kind, &[]).await;
    let game = link.game_appears().await;
    // A deadline far away: the call must fail because the game left, not because time ran out.
    let call = link.call(json!({"function": "Slow", "timeout_ms": 600_000}));
    let dies = async {
        let mut game = game;
        let (_, function, _) = game.expect_call().await;
        assert_eq!(function, "Slow");
        link.game_dies(game).await;
    };
    let (envelope, ()) = within("the call to fail", async { tokio::join!(call, dies) }).await;
    assert_eq!(error_code(&envelope), "DLL_DISCONNECTED", "{envelope}");

    // The bridge stays up, and a call while the game is away fails at once, clearly.
    let (status, _) = link.harness.get("/stats").await;
    assert_eq!(status, 200);
    let (status, health) = link.harness.get("/health").await;
    assert_eq!((status, health["result"]["dll_connected"].as_bool()), (200, Some(false)));
    let away = link.call(json!({"function": "Later", "timeout_ms": 600_000}));
    let away = within("a call to a game that is away", away).await;
    if kind == Kind::UnixListen {
        // The instance went with its connection.
        assert_eq!(error_code(&away), "NOT_FOUND", "{away}");
    } else {
        assert_eq!(error_code(&away), "DLL_DISCONNECTED", "{away}");
        let stats = link.stats().await;
        assert_eq!(stats["errors"], json!({"DLL_DISCONNECTED": 2}), "{stats}");
        assert_eq!(link.game().status().pending_calls, 0);
    }
}

on_links!(game_restarts: unix_connect, tcp_connect, unix_listen, fifo);
/// The game dies with a call in hand and starts again: the old call failed,
/// and is never sent to the new game, which gets new calls and nothing else.
async fn game_restarts(kind: Kind) {
    let link = Link::start(kind, &[]).await;
    let first = link.game_appears().await;
    let old = link.call(json!({"function": "Old", "timeout_ms": 600_000}));
    let dies = async {
        let mut first = first;
        assert_eq!(first.expect_call().await.1, "Old");
        link.game_dies(first).await;
    };
    let (old, ()) = within("the old call to fail", async { tokio::join!(old, dies) }).await;
    assert_eq!(error_code(&old), "DLL_DISCONNECTED");

    let mut second = link.game_appears().await;
    let new = link.call(json!({"function": "New", "args": [2]}));
    let answer = async {
        // The first thing the restarted game hears is the new call: the old
        // one, whose caller was told it failed, is not sent again.
        let (id, function, args) = second.expect_call().await;
        assert_eq!((function.as_str(), &args), ("New", &json!([2])));
        second.answer(id, json!("served")).await;
    };
    let (new, ()) = tokio::join!(new, answer);
    assert_eq!(new["result"], "served", "{new}");
    let sync = link.call(json!({"function": "Sync"}));
    let answer = async {
        let (id, function, _) = second.expect_call().await;
        assert_eq!(function, "Sync", "nothing else was sent in between");
        second.answer(id, Value::Null).await;
    };
    assert_eq!(tokio::join!(sync, answer).0["success"], true);
    if kind != Kind::UnixListen {
        assert_eq!(link.stats().await["connects"], 2);
    }
}

on_links!(garbage_frames: unix_connect, tcp_connect, unix_listen, fifo);
/// Frames that are not messages are counted in `bad_frames` and skipped;
/// the answer after them, and the stream after that, are served.
async fn garbage_frames(kind: Kind) {
    let link = Link::start(kind, &[]).await;
    let mut game = link.game_appears().await;
    let call = link.call(json!({"function": "F"}));
    let answer = async {
        let (id, ..) = game.expect_call().await;
        let mut bytes = Vec::new();
        let garbage: [&[u8]; 6] = [
            b"not json",
            b"{\"type\":\"lua_response\"",
            b"{\"type\":\"warp\"}",
            b"\x00\x01\xff",
            b"[1,2]",
            b"\"\"",
        ];
        for junk in garbage {
            bytes.extend_from_slice(junk);
            bytes.extend_from_slice(gamebridge_protocol::codec::VOX_DELIMITER);
        }
        bytes.extend_from_slice(&framed(&response(id, json!("survived"))));
        game.send_raw(&bytes).await;
    };
    let (envelope, ()) = tokio::join!(call, answer);
    assert_eq!(envelope["result"], "survived", "{envelope}");
    let after = link.call(json!({"function": "After"}));
    let answer = async {
        let (id, function, _) = game.expect_call().await;
        assert_eq!(function, "After");
        game.answer(id, json!("clean")).await;
    };
    assert_eq!(tokio::join!(after, answer).0["result"], "clean", "the stream is not poisoned");
    assert_eq!(link.stats().await["bad_frames"], 6);
}

on_links!(truncated_frame: unix_connect, tcp_connect, unix_listen, fifo);
/// The game dies half-way through an answer: the half is counted and
/// dropped, never taken for the answer; the next connection starts clean.
async fn truncated_frame(kind: Kind) {
    let link = Link::start(kind, &[]).await;
    let game = link.game_appears().await;
    let bad_frames = link.game().stats().snapshot().bad_frames;
    let call = link.call(json!({"function": "F", "timeout_ms": 600_000}));
    let dies = async {
        let mut game = game;
        let (id, ..) = game.expect_call().await;
        let whole = framed(&response(id, json!("whole")));
        // Everything but the delimiter's last byte: the frame never ends.
        game.send_raw(&whole[..whole.len() - 1]).await;
        let counted = link.game();
        link.game_dies(game).await;
        // The cut frame was seen and dropped, not taken as an answer.
        assert_eq!(counted.stats().snapshot().bad_frames, bad_frames + 1);
    };
    let (envelope, ()) = within("the call to fail", async { tokio::join!(call, dies) }).await;
    assert_eq!(error_code(&envelope), "DLL_DISCONNECTED", "{envelope}");

    // The next connection starts with a clean stream.
    let mut game = link.game_appears().await;
    let call = link.call(json!({"function": "G"}));
    let answer = async {
        let (id, ..) = game.expect_call().await;
        game.answer(id, json!("fresh")).await;
    };
    assert_eq!(tokio::join!(call, answer).0["result"], "fresh");
}

on_links!(oversized_frame: unix_connect, tcp_connect, unix_listen, fifo);
/// A frame over `max_frame` is skipped as it streams in (memory stays
/// bounded by `max_frame`), counted, and the next frame is served.
async fn oversized_frame(kind: Kind) {
    let link = Link::start(kind, &["max_frame=4096"]).await;
    let mut game = link.game_appears().await;
    let call = link.call(json!({"function": "F"}));
    let answer = async {
        let (id, ..) = game.expect_call().await;
        // Larger than any socket or pipe buffer: the bridge must skip it as
        // it arrives, or this write would not finish.
        let huge = framed(&response(id.clone(), json!("x".repeat(4 << 20))));
        game.send_raw(&huge).await;
        game.send_raw(&framed(&response(id, json!("small")))).await;
    };
    let (envelope, ()) = within("the answer after a huge frame", async { tokio::join!(call, answer) }).await;
    assert_eq!(envelope["result"], "small", "{envelope}");
    assert_eq!(link.stats().await["bad_frames"], 1);
}

on_links!(ten_thousand_calls_in_flight: tcp_connect, unix_listen, fifo);
/// 10,000 calls in flight each get their own answer, and nothing is left
/// pending. (The Unix connect link has this test in tests/game_link.rs.)
async fn ten_thousand_calls_in_flight(kind: Kind) {
    let link = Link::start(kind, &[]).await;
    link.game_appears().await.echo_forever();
    let game = link.game();
    let calls = (0..10_000u32).map(|n| {
        let args = RawValue::from_string(format!("[{n}]")).unwrap();
        game.call("Echo".into(), args, std::time::Duration::from_secs(600))
    });
    let outcomes = within_bulk("10,000 calls", join_all(calls)).await;
    for (n, outcome) in outcomes.into_iter().enumerate() {
        let result: Value = serde_json::from_str(outcome.expect("answered").get()).unwrap();
        assert_eq!(result["args"], json!([n]), "call {n} got its own answer");
    }
    // Memory stays bounded: nothing is left waiting once every call is answered.
    assert_eq!(game.status().pending_calls, 0);
    let stats = link.stats().await;
    assert_eq!((stats["calls"].as_u64(), stats["succeeded"].as_u64()), (Some(10_000), Some(10_000)));
}
