//! Frame specs (`manifests/tempest.json`, built into the `tempest` profile):
//! agents learn the layout, frames that break it never reach an agent,
//! webhook agents get the frame decoded, and a learner that asked to be held
//! is waited for up to the profile's hold bound.

mod support;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures::{SinkExt, StreamExt};
use gamebridge_api::agent_ws::wire::{decode_frames, encode_replies};
use serde_json::{Value, json};
use support::mame::{Instance, tempest_frame};
use support::{Harness, within};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn tempest(options: &str) -> (Harness, String) {
    let harness = Harness::start(&[("tempest", format!("tempest?port=0{options}"))]).await;
    let address = harness.listening_address("tempest").await;
    (harness, address)
}

/// A WebSocket agent registered for `step` (with `hold` if asked); returns
/// the socket and the `registered` answer.
async fn register(harness: &Harness, step: Value) -> (Socket, Value) {
    let url = harness.url("/agent").replacen("http://", "ws://", 1);
    let (mut socket, _) =
        within("the agent to connect", tokio_tungstenite::connect_async(url)).await.unwrap();
    let register = json!({"type": "register", "game": "tempest", "functions": [step]});
    socket.send(Message::Text(register.to_string().into())).await.unwrap();
    let answer = within("registration", socket.next()).await.unwrap().unwrap();
    (socket, serde_json::from_str(answer.to_text().unwrap()).unwrap())
}

/// The next text message, skipping none: the test expects exactly this one.
async fn next_text(socket: &mut Socket) -> Value {
    loop {
        if let Message::Text(text) = within("a text message", socket.next()).await.unwrap().unwrap() {
            return serde_json::from_str(text.as_str()).unwrap();
        }
    }
}

#[tokio::test]
async fn agents_learn_the_layout_and_frames_that_break_it_never_reach_them() {
    let (harness, address) = tempest("").await;
    let (mut socket, registered) = register(&harness, json!("step")).await;
    let frames = &registered["lockstep"]["frames"];
    assert_eq!(
        frames["frame"]["fields"][0],
        json!({"name": "num_values", "type": "u16", "value": 195.0, "description": "the number of f32 values after the header"})
    );
    assert_eq!((frames["observation"].as_str(), frames["done"].as_str()), (Some("state"), Some("done")));
    assert_eq!(frames["action"], json!(["fire", "zap", "spinner"]));
    assert_eq!(registered["lockstep"]["hold_ms"], 3000, "the profile's hold bound");
    let (_, games) = harness.get("/games").await;
    assert_eq!(games["result"]["games"][0]["lockstep"]["frames"], *frames, "GET /games says the same");

    let mut game = Instance::connect(&address).await;
    // num_values 10: the original server refuses it; the agent is not asked.
    let mut wrong = tempest_frame(1);
    wrong[..2].copy_from_slice(&10u16.to_be_bytes());
    assert_eq!(game.step(&wrong).await, [0, 0, 0, 1, 13], "the default reply");
    let notice = next_text(&mut socket).await;
    assert_eq!(
        (notice["type"].as_str(), notice["code"].as_str()),
        (Some("step_default"), Some("SERIALIZATION_ERROR"))
    );
    assert_eq!(notice["message"], "num_values is 10; its spec says 195");
    assert_eq!(game.step(&[1, 2, 3]).await, [0, 0, 0, 1, 13]);
    assert_eq!(next_text(&mut socket).await["message"], "the frame has 3 bytes; its spec says 819");

    // A frame that fits reaches the agent, whose answer reaches the game.
    let steps = async {
        loop {
            let Message::Binary(bytes) = socket.next().await.unwrap().unwrap() else { continue };
            let frames = decode_frames(bytes).unwrap();
            let replies: Vec<(u64, &[u8])> =
                frames.iter().map(|(id, ..)| (*id, &[1u8, 0, 5, 1, 13][..])).collect();
            socket.send(Message::Binary(encode_replies(&replies))).await.unwrap();
            return frames.len();
        }
    };
    let good = tempest_frame(3);
    let (reply, answered) = tokio::join!(game.step(&good), steps);
    assert_eq!((reply, answered), ([1, 0, 5, 1, 13], 1));
    assert_eq!(harness.game_stats("tempest/1").await["bad_frames"], 2);
}

#[tokio::test]
async fn a_held_learner_is_waited_for_and_others_get_the_deadline() {
    // A 100 ms step deadline, a 20 s hold bound: the learner below answers
    // after 300 ms (a training update).
    for (hold, expected) in [(true, [1, 1, 0, 1, 13]), (false, [0, 0, 0, 1, 13])] {
        let (harness, address) = tempest("&step_timeout_ms=100&hold_ms=20000").await;
        let (mut socket, registered) = register(&harness, json!({"name": "step", "hold": hold})).await;
        assert_eq!(registered["lockstep"]["hold_ms"], 20000);
        let learner = tokio::spawn(async move {
            while let Some(Ok(message)) = socket.next().await {
                let Message::Binary(bytes) = message else { continue };
                tokio::time::sleep(Duration::from_millis(300)).await;
                let frames = decode_frames(bytes).unwrap();
                let replies: Vec<(u64, &[u8])> =
                    frames.iter().map(|(id, ..)| (*id, &[1u8, 1, 0, 1, 13][..])).collect();
                if socket.send(Message::Binary(encode_replies(&replies))).await.is_err() {
                    return;
                }
            }
        });
        let mut game = Instance::connect(&address).await;
        assert_eq!(game.step(&tempest_frame(1)).await, expected, "hold: {hold}");
        learner.abort();
    }
}

#[tokio::test]
async fn webhook_agents_get_the_frame_decoded() {
    let (harness, address) = tempest("").await;
    let (seen, mut heard) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let agent = {
        let app = axum::Router::new().route(
            "/",
            axum::routing::post(move |axum::Json(body): axum::Json<Value>| async move {
                let _ = seen.send(body["args"]["fields"].clone());
                axum::Json(json!({"success": true, "result": {"reply": BASE64.encode([0, 1, 0, 1, 13])}}))
            }),
        );
        let url = format!("{}/", support::serve_http(app).await);
        url
    };
    harness
        .post("/external/register", json!({"name": "step", "url": agent, "async": false, "timeout": 1000}))
        .await;
    let mut game = Instance::connect(&address).await;
    let mut frame = tempest_frame(7);
    frame[20] = 1; // done
    frame[23..27].copy_from_slice(&4200u32.to_be_bytes()); // score
    frame[39..43].copy_from_slice(&0.5f32.to_be_bytes()); // state[0]
    assert_eq!(game.step(&frame).await, [0, 1, 0, 1, 13]);
    let fields = within("the webhook call", heard.recv()).await.unwrap();
    assert_eq!(
        (&fields["num_values"], &fields["subjective_reward"], &fields["done"], &fields["score"]),
        (&json!(195), &json!(7.0), &json!(1), &json!(4200))
    );
    let state = fields["state"].as_array().unwrap();
    assert_eq!((state.len(), &state[0], &state[1]), (195, &json!(0.5), &json!(0.0)));
}
