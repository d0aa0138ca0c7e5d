//! A stand-in for MAME running Tempest AI's Lua script, as far as the wire
//! goes: the 2-byte handshake on connect, then each frame as a big-endian
//! `u16` length and its payload, and a blocking read of the 5-byte reply.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use gamebridge_api::agent_ws::wire::{decode_frames, encode_replies};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use super::{Harness, within};

/// The link of a Tempest-like lockstep game: instances connect to it, send
/// the 2-byte handshake, then u16-framed frames, and read 5-byte replies.
pub const TEMPEST: &str = "tcp:127.0.0.1:0?listen&framing=u16be&handshake=2&reply=5&protocol=step";

/// Tempest's payload: a 39-byte header and 195 `f32` values.
pub const PAYLOAD: usize = 819;

pub struct Instance(pub TcpStream);

impl Instance {
    pub async fn connect(address: &str) -> Self {
        let mut stream = within("connecting to the bridge", TcpStream::connect(address)).await.unwrap();
        stream.write_all(&[0, 0]).await.unwrap(); // the 2-byte handshake
        Self(stream)
    }

    pub async fn step(&mut self, frame: &[u8]) -> [u8; 5] {
        let mut message = (frame.len() as u16).to_be_bytes().to_vec();
        message.extend_from_slice(frame);
        self.0.write_all(&message).await.unwrap();
        let mut reply = [0u8; 5];
        within("a step reply", self.0.read_exact(&mut reply)).await.unwrap();
        reply
    }
}

/// Frame `n` as the real script sends it: 195 f32 values (the `num_values`
/// the Tempest frame spec requires), `n` in the subjective reward.
pub fn tempest_frame(n: u32) -> Vec<u8> {
    let mut frame = vec![0u8; PAYLOAD];
    frame[..2].copy_from_slice(&195u16.to_be_bytes());
    frame[2..10].copy_from_slice(&f64::from(n).to_be_bytes());
    frame
}

/// Frame `n` of instance `instance` for tests whose agents echo: n in the
/// first 4 bytes, the instance in the fifth, padded to the 819-byte payload.
pub fn frame(instance: u8, n: u32) -> Vec<u8> {
    let mut frame = vec![0u8; PAYLOAD];
    frame[..4].copy_from_slice(&n.to_be_bytes());
    frame[4] = instance;
    frame
}

/// What an echoing agent answers to [`frame`]: its first five bytes.
pub fn expected_reply(instance: u8, n: u32) -> [u8; 5] {
    frame(instance, n)[..5].try_into().unwrap()
}

/// A WebSocket agent that registers `step` for `tempest` and answers every
/// frame (or none, when `silent`); it records the largest batch it got.
pub async fn stepping_agent(harness: &Harness, silent: bool) -> Arc<AtomicUsize> {
    let url = harness.url("/agent").replacen("http://", "ws://", 1);
    let (mut socket, _) =
        within("the agent to connect", tokio_tungstenite::connect_async_with_config(url, None, true))
            .await
            .unwrap();
    let register = json!({"type": "register", "game": "tempest", "functions": ["step"], "batch": {"max": 32, "wait_ms": 5}});
    socket.send(Message::Text(register.to_string().into())).await.unwrap();
    let registered = within("registration", socket.next()).await.unwrap().unwrap();
    let registered: Value = serde_json::from_str(registered.to_text().unwrap()).unwrap();
    assert_eq!(
        (&registered["type"], &registered["game"], &registered["functions"]),
        (&json!("registered"), &json!("tempest"), &json!(["step"]))
    );
    assert!(
        registered["lockstep"]["deadline_ms"].is_u64(),
        "a stepping agent learns its deadline: {registered}"
    );
    let largest_batch = Arc::new(AtomicUsize::new(0));
    let largest = largest_batch.clone();
    tokio::spawn(async move {
        while let Some(Ok(message)) = socket.next().await {
            let Message::Binary(bytes) = message else { continue };
            let frames = decode_frames(bytes).unwrap();
            largest.fetch_max(frames.len(), Ordering::Relaxed);
            if silent {
                continue;
            }
            let replies: Vec<(u64, Bytes)> =
                frames.iter().map(|(id, _, _, frame)| (*id, frame.slice(..frame.len().min(5)))).collect();
            let refs: Vec<(u64, &[u8])> = replies.iter().map(|(id, reply)| (*id, &reply[..])).collect();
            if socket.send(Message::Binary(encode_replies(&refs))).await.is_err() {
                return;
            }
        }
    });
    largest_batch
}
