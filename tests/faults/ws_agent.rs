//! An agent on the bridge's WebSocket (`GET /agent`), scripted by the test
//! one message at a time, so a test decides exactly when (and whether) the
//! agent answers.

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use gamebridge_api::agent_ws::wire::{decode_frames, encode_replies};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::support::{Harness, within};

/// One lockstep frame as the agent receives it.
#[derive(Debug)]
pub struct Frame {
    pub id: u64,
    pub game: String,
    pub seq: u64,
    pub bytes: Bytes,
}

pub struct WsAgent {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl WsAgent {
    pub async fn connect(harness: &Harness) -> Self {
        let url = harness.url("/agent").replacen("http://", "ws://", 1);
        let (socket, _) =
            within("the agent to connect", tokio_tungstenite::connect_async(url)).await.unwrap();
        Self { socket }
    }

    /// Sends a `register` message and returns the bridge's `registered` answer.
    pub async fn register(&mut self, register: Value) -> Value {
        self.send(register).await;
        let answer = self.next_text().await;
        assert_eq!(answer["type"], "registered", "{answer}");
        answer
    }

    pub async fn send(&mut self, message: Value) {
        self.socket.send(Message::Text(message.to_string().into())).await.expect("send to the bridge");
    }

    pub async fn send_binary(&mut self, bytes: impl Into<Bytes>) {
        self.socket.send(Message::Binary(bytes.into())).await.expect("send to the bridge");
    }

    /// Replies to frames: `(frame id, reply bytes)`.
    pub async fn reply(&mut self, replies: &[(u64, &[u8])]) {
        self.send_binary(encode_replies(replies)).await;
    }

    async fn next_message(&mut self) -> Message {
        loop {
            let message = within("a message from the bridge", self.socket.next())
                .await
                .expect("the bridge closed the agent's socket")
                .expect("read from the bridge");
            if matches!(message, Message::Text(_) | Message::Binary(_)) {
                return message;
            }
        }
    }

    /// The next JSON text message.
    pub async fn next_text(&mut self) -> Value {
        match self.next_message().await {
            Message::Text(text) => serde_json::from_str(text.as_str()).expect("JSON from the bridge"),
            other => panic!("expected a text message, got {other:?}"),
        }
    }

    /// The frames of the next binary message (one batch); notices of
    /// frames the game got the default for are passed over.
    pub async fn next_frames(&mut self) -> Vec<Frame> {
        loop {
            match self.next_message().await {
                Message::Binary(bytes) => {
                    return decode_frames(bytes)
                        .expect("a frames message")
                        .into_iter()
                        .map(|(id, game, seq, bytes)| Frame { id, game, seq, bytes })
                        .collect();
                }
                Message::Text(text) if text.as_str().contains(r#""type":"step_default""#) => continue,
                other => panic!("expected frames, got {other:?}"),
            }
        }
    }

    /// The agent's process ends: its connection goes without a goodbye.
    pub fn dies(self) {
        drop(self.socket);
    }

    /// Answers every JSON call with `result(call)` until the bridge hangs up.
    pub fn answer_calls_forever(
        mut self,
        result: impl Fn(&Value) -> Value + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            while let Some(Ok(message)) = self.socket.next().await {
                let Message::Text(text) = message else { continue };
                let call: Value = serde_json::from_str(text.as_str()).unwrap();
                if call["type"] != "call" {
                    continue;
                }
                let answer = serde_json::json!({"type": "result", "id": call["id"], "success": true, "result": result(&call)});
                if self.socket.send(Message::Text(answer.to_string().into())).await.is_err() {
                    return;
                }
            }
        })
    }

    /// Answers every frame with its first five bytes until the bridge hangs up.
    pub fn echo_frames_forever(mut self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            while let Some(Ok(message)) = self.socket.next().await {
                let Message::Binary(bytes) = message else { continue };
                let frames = decode_frames(bytes).unwrap();
                let replies: Vec<(u64, &[u8])> =
                    frames.iter().map(|(id, _, _, frame)| (*id, &frame[..frame.len().min(5)])).collect();
                if self.socket.send(Message::Binary(encode_replies(&replies))).await.is_err() {
                    return;
                }
            }
        })
    }
}
