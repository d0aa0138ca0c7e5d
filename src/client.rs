//! `gamebridge call`, `status` and `events`: small clients of a running
//! bridge's REST API, through [`BridgeClient`].

use std::process::ExitCode;

use anyhow::{Context, anyhow};
use serde_json::Value;

use crate::bridge_client::{BridgeClient, BridgeOptions};

fn game_prefix(game: Option<&str>) -> String {
    match game {
        Some(game) => format!("/games/{game}"),
        None => String::new(),
    }
}

pub async fn call(
    bridge: &BridgeOptions,
    game: Option<&str>,
    function: &str,
    args: Option<&str>,
    timeout_ms: Option<u64>,
) -> anyhow::Result<ExitCode> {
    let args: Option<Value> = args
        .map(|text| serde_json::from_str(text).with_context(|| format!("ARGS must be JSON, got {text:?}")))
        .transpose()?;
    let mut body = serde_json::json!({ "function": function });
    if let Some(args) = args {
        body["args"] = args;
    }
    if let Some(timeout_ms) = timeout_ms {
        body["timeout_ms"] = timeout_ms.into();
    }
    let client = bridge.client()?;
    let request = client.post_json(&format!("{}/lua/call", game_prefix(game)), &body);
    match client.envelope(request).await? {
        Ok(result) => {
            println!("{}", serde_json::to_string_pretty(&result)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(failure) => {
            eprintln!("{failure}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Follows `/events` and prints each event as `{seq, event, data}` on one
/// line, until the bridge closes the stream or Ctrl-C.
pub async fn events(
    bridge: &BridgeOptions,
    types: Option<&str>,
    game: Option<&str>,
    since: Option<u64>,
) -> anyhow::Result<ExitCode> {
    use futures::StreamExt;

    let client = bridge.client()?;
    let query: Vec<(&str, String)> = [("types", types.map(str::to_owned)), ("game", game.map(str::to_owned))]
        .into_iter()
        .chain([("since", since.map(|since| since.to_string()))])
        .filter_map(|(key, value)| Some((key, value?)))
        .collect();
    let response = client.open_events(client.get("/events").query(&query)).await?;
    let mut body = response.bytes_stream();
    let mut buffer = Vec::new();
    let mut event = SseEvent::default();
    while let Some(chunk) = body.next().await {
        buffer.extend_from_slice(&chunk.context("the event stream broke")?);
        while let Some(end) = buffer.iter().position(|&byte| byte == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line[..line.len() - 1]).trim_end_matches('\r').to_owned();
            if line.is_empty() {
                event.print();
                event = SseEvent::default();
            } else if let Some((field, value)) = line.split_once(':') {
                event.set(field, value.strip_prefix(' ').unwrap_or(value));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One Server-Sent Event being read.
#[derive(Default)]
struct SseEvent {
    id: Option<u64>,
    name: Option<String>,
    data: String,
}

impl SseEvent {
    fn set(&mut self, field: &str, value: &str) {
        match field {
            "id" => self.id = value.parse().ok(),
            "event" => self.name = Some(value.to_owned()),
            "data" => self.data.push_str(value),
            _ => {}
        }
    }

    fn print(&self) {
        if self.name.is_none() && self.data.is_empty() {
            return;
        }
        let data: Value =
            serde_json::from_str(&self.data).unwrap_or_else(|_| Value::String(self.data.clone()));
        let line = serde_json::json!({ "seq": self.id, "event": self.name.as_deref().unwrap_or("message"), "data": data });
        println!("{line}");
    }
}

pub async fn status(bridge: &BridgeOptions) -> anyhow::Result<ExitCode> {
    let client = bridge.client()?;
    let games = client.result(client.get("/games")).await?;
    let health = client.result(client.get("/health")).await?;
    let (uptime, version) = (&health["uptime"], &health["version"]);
    let (Some(uptime), Some(version)) = (uptime.as_u64(), version.as_str()) else {
        return Err(unexpected(&client, "/health", &health));
    };
    let Some(games) = games["games"].as_array() else {
        return Err(unexpected(&client, "/games", &games));
    };
    println!("bridge {}: up {uptime} s, version {version}", client.base());
    println!("{:<16} {:<12} {:>9} {:>8}  link", "GAME", "STATE", "FUNCTIONS", "PENDING");
    for game in games {
        println!(
            "{:<16} {:<12} {:>9} {:>8}  {}",
            game["name"].as_str().unwrap_or("?"),
            game["state"].as_str().unwrap_or("?"),
            game["functions"].as_u64().map_or_else(|| "?".to_owned(), |count| count.to_string()),
            game["pending_calls"].as_u64().map_or_else(|| "?".to_owned(), |count| count.to_string()),
            game["link"].as_str().unwrap_or("?"),
        );
    }
    let all_connected = games.iter().all(|game| game["connected"] == true);
    Ok(if all_connected { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

/// A result without the fields this version of the client reads.
fn unexpected(client: &BridgeClient, path: &str, result: &Value) -> anyhow::Error {
    anyhow!("the bridge at {} answered {path} without the expected fields: {result}", client.base())
}
