//! A webhook agent on plain sockets, so a test can make it fail in the
//! middle of an HTTP exchange: every request is handed to the test, which
//! says whether to answer it or to hang up.

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

use crate::support::within;

/// What the agent does with one request.
pub enum Reply {
    /// Answers `200 OK` with this JSON body.
    Answer(Value),
    /// Closes the connection without a word (the agent crashed).
    HangUp,
}

/// A request the agent received, waiting for the test's [`Reply`].
pub struct Request {
    pub body: Value,
    reply: oneshot::Sender<Reply>,
}

impl Request {
    pub fn reply(self, reply: Reply) {
        let _ = self.reply.send(reply);
    }
}

pub struct RawAgent {
    pub url: String,
    requests: mpsc::UnboundedReceiver<Request>,
}

impl RawAgent {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let (sender, requests) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, sender.clone()));
            }
        });
        Self { url, requests }
    }

    /// The next request the agent received.
    pub async fn next_request(&mut self) -> Request {
        within("a request to the agent", self.requests.recv()).await.expect("the agent runs")
    }
}

/// Serves one connection: requests one after the other (keep-alive).
async fn serve(mut socket: TcpStream, requests: mpsc::UnboundedSender<Request>) {
    let mut buffer = Vec::new();
    loop {
        let Some(body) = read_request(&mut socket, &mut buffer).await else { return };
        let (reply, replied) = oneshot::channel();
        if requests.send(Request { body, reply }).is_err() {
            return;
        }
        match replied.await {
            Ok(Reply::Answer(answer)) => {
                let answer = answer.to_string();
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{answer}",
                    answer.len()
                );
                // The bridge may have hung up already (a late answer).
                if socket.write_all(response.as_bytes()).await.is_err() {
                    return;
                }
            }
            Ok(Reply::HangUp) | Err(_) => return,
        }
    }
}

/// One request's JSON body, or `None` when the connection ends first.
async fn read_request(socket: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Value> {
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .map_or(0, |value| value.trim().parse().unwrap());
            let start = end + 4;
            if buffer.len() >= start + length {
                let body = serde_json::from_slice(&buffer[start..start + length]).expect("a JSON body");
                buffer.drain(..start + length);
                return Some(body);
            }
        }
        let read = socket.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
}
