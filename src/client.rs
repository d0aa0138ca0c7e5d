//! `gamebridge call` and `gamebridge status`: small clients of a running
//! bridge's REST API.

use std::process::ExitCode;

use anyhow::Context;
use serde_json::Value;

pub const DEFAULT_URL: &str = "http://127.0.0.1:5000";

fn game_prefix(url: &str, game: Option<&str>) -> String {
    let base = url.trim_end_matches('/');
    match game {
        Some(game) => format!("{base}/games/{game}"),
        None => base.to_owned(),
    }
}

async fn get(client: &reqwest::Client, url: &str) -> anyhow::Result<Value> {
    let response =
        client.get(url).send().await.with_context(|| format!("could not reach the bridge at {url}"))?;
    response.json().await.with_context(|| format!("{url} did not answer JSON"))
}

pub async fn call(
    url: &str,
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
    let endpoint = format!("{}/lua/call", game_prefix(url, game));
    let client = reqwest::Client::new();
    let response = client
        .post(&endpoint)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("could not reach the bridge at {endpoint}"))?;
    let envelope: Value = response.json().await.context("the bridge did not answer JSON")?;
    if envelope["success"] == true {
        println!("{}", serde_json::to_string_pretty(&envelope["result"])?);
        Ok(ExitCode::SUCCESS)
    } else {
        let error = &envelope["error"];
        eprintln!(
            "{}: {}",
            error["code"].as_str().unwrap_or("ERROR"),
            error["message"].as_str().unwrap_or("")
        );
        Ok(ExitCode::FAILURE)
    }
}

/// Follows `/events` and prints each event as `{seq, event, data}` on one
/// line, until the bridge closes the stream or Ctrl-C.
pub async fn events(
    url: &str,
    types: Option<&str>,
    game: Option<&str>,
    since: Option<u64>,
) -> anyhow::Result<ExitCode> {
    use futures::StreamExt;

    let mut request = reqwest::Client::new().get(format!("{}/events", url.trim_end_matches('/')));
    let query: Vec<(&str, String)> = [("types", types.map(str::to_owned)), ("game", game.map(str::to_owned))]
        .into_iter()
        .chain([("since", since.map(|since| since.to_string()))])
        .filter_map(|(key, value)| Some((key, value?)))
        .collect();
    request = request.query(&query);
    let response = request.send().await.with_context(|| format!("could not reach the bridge at {url}"))?;
    anyhow::ensure!(response.status().is_success(), "the bridge answered HTTP {}", response.status());
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

pub async fn status(url: &str) -> anyhow::Result<ExitCode> {
    let client = reqwest::Client::new();
    let base = url.trim_end_matches('/');
    let games = get(&client, &format!("{base}/games")).await?;
    let health = get(&client, &format!("{base}/health")).await?;
    println!("bridge {base}: up {} s, version {}", health["result"]["uptime"], health["result"]["version"]);
    println!("{:<16} {:<12} {:>9} {:>8}  link", "GAME", "STATE", "FUNCTIONS", "PENDING");
    let empty = Vec::new();
    for game in games["result"]["games"].as_array().unwrap_or(&empty) {
        println!(
            "{:<16} {:<12} {:>9} {:>8}  {}",
            game["name"].as_str().unwrap_or("?"),
            game["state"].as_str().unwrap_or("?"),
            game["functions"].to_string(),
            game["pending_calls"].to_string(),
            game["link"].as_str().unwrap_or("?"),
        );
    }
    let all_connected = games["result"]["games"]
        .as_array()
        .is_some_and(|games| games.iter().all(|game| game["connected"] == true));
    Ok(if all_connected { ExitCode::SUCCESS } else { ExitCode::from(2) })
}
