//! A stand-in for the Agent Arena Godot client's HTTP: the exact request
//! bytes its `HTTPRequest` writes (custom headers first, then the ones
//! Godot adds: gzip, Host, Content-Length, User-Agent, Accept), over a
//! raw TCP connection, with bodies as `JSON.stringify` writes them
//! (no spaces, keys in insertion order). It reads the answer as the
//! client does: only a 200 with a JSON object reaches the game.

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::within;

/// What the client got: the status and the body, parsed.
pub struct GodotAnswer {
    pub status: u16,
    pub body: Value,
}

impl GodotAnswer {
    /// The body as the game sees it: a 200 JSON object, or nothing.
    pub fn reaching_the_game(&self) -> Option<&Value> {
        (self.status == 200 && self.body.is_object()).then_some(&self.body)
    }
}

/// POSTs `body` (exactly these bytes) to `path` of the bridge at `address`.
pub async fn post(address: &str, path: &str, body: &str) -> GodotAnswer {
    let request = format!(
        "POST {path} HTTP/1.1\r\nContent-Type: application/json\r\nAccept-Encoding: gzip, deflate\r\n\
         Host: {address}\r\nContent-Length: {}\r\nUser-Agent: GodotEngine/4.3.stable.official (Linux)\r\n\
         Accept: */*\r\n\r\n{body}",
        body.len()
    );
    exchange(address, request.as_bytes()).await
}

/// A bodiless GET, as the client's connection check sends `/health`.
pub async fn get(address: &str, path: &str) -> GodotAnswer {
    let request = format!(
        "GET {path} HTTP/1.1\r\nAccept-Encoding: gzip, deflate\r\nHost: {address}\r\n\
         User-Agent: GodotEngine/4.3.stable.official (Linux)\r\nAccept: */*\r\n\r\n"
    );
    exchange(address, request.as_bytes()).await
}

async fn exchange(address: &str, request: &[u8]) -> GodotAnswer {
    within("the Godot client's request", async {
        let mut stream = TcpStream::connect(address).await.expect("connect");
        stream.write_all(request).await.expect("write");
        let mut received = Vec::new();
        let mut chunk = [0; 16384];
        loop {
            let read = stream.read(&mut chunk).await.expect("read");
            assert!(read > 0, "the bridge closed before answering: {}", String::from_utf8_lossy(&received));
            received.extend_from_slice(&chunk[..read]);
            if let Some(answer) = complete(&received) {
                return answer;
            }
        }
    })
    .await
}

/// The answer, once all of it (headers and `Content-Length` bytes) is in.
fn complete(received: &[u8]) -> Option<GodotAnswer> {
    let end = received.windows(4).position(|window| window == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&received[..end]).to_ascii_lowercase();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .map_or(0, |value| value.trim().parse().unwrap_or(0));
    let body = received.get(end + 4..end + 4 + length)?;
    Some(GodotAnswer { status, body: serde_json::from_slice(body).unwrap_or(Value::Null) })
}
