//! The one task that writes to an agent's socket. It batches lockstep
//! frames: when several instances are waiting, their frames go out as one
//! message (at most `max` frames, waiting at most `wait` for the instances
//! still expected), which is what lets one agent serve dozens of emulators.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures::SinkExt;
use futures::stream::SplitSink;
use tokio::sync::mpsc;

use super::connection::Out;
use super::wire::{StepItem, encode_frames};

/// How frames are grouped.
#[derive(Clone, Copy, Debug)]
pub struct Batching {
    pub max: usize,
    pub wait: Duration,
}

impl Default for Batching {
    fn default() -> Self {
        Self { max: 64, wait: Duration::from_millis(2) }
    }
}

/// How many frames may still join a batch: the connected instances of the
/// games this agent steps.
pub type Expected = Arc<dyn Fn() -> usize + Send + Sync>;

pub async fn run(
    mut sink: SplitSink<WebSocket, Message>,
    mut queue: mpsc::Receiver<Out>,
    batching: Arc<std::sync::Mutex<Batching>>,
    expected: Expected,
) {
    let mut texts = Vec::new();
    while let Some(first) = queue.recv().await {
        let mut frames = Vec::new();
        match first {
            Out::Text(text) => texts.push(text),
            Out::Step(item) => frames.push(item),
        }
        let batching = *batching.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Take what is queued already, without waiting.
        while frames.len() < batching.max {
            match queue.try_recv() {
                Ok(Out::Step(item)) => frames.push(item),
                Ok(Out::Text(text)) => texts.push(text),
                Err(_) => break,
            }
        }
        // Wait briefly for instances that are expected but not here yet.
        if !frames.is_empty() && frames.len() < batching.max.min(expected()) {
            let deadline = tokio::time::Instant::now() + batching.wait;
            while frames.len() < batching.max.min(expected()) {
                match tokio::time::timeout_at(deadline, queue.recv()).await {
                    Ok(Some(Out::Step(item))) => frames.push(item),
                    Ok(Some(Out::Text(text))) => texts.push(text),
                    Ok(None) | Err(_) => break,
                }
            }
        }
        for text in texts.drain(..) {
            if sink.send(Message::Text(text.into())).await.is_err() {
                return;
            }
        }
        if !frames.is_empty() && send_frames(&mut sink, &frames).await.is_err() {
            return;
        }
    }
    let _ = sink.close().await;
}

async fn send_frames(
    sink: &mut SplitSink<WebSocket, Message>,
    frames: &[StepItem],
) -> Result<(), axum::Error> {
    sink.send(Message::Binary(encode_frames(frames))).await
}
