//! How the client commands (`call`, `status`, `events`, `mcp`) reach a
//! running bridge: one set of flags (`--url`, `--token`) flattened into each
//! of them, and one HTTP client that sends the token and turns every answer
//! that is not the bridge's envelope into one plain sentence.
//!
//! A bridge started with a token refuses every request without it (401), and
//! a bridge refuses a Host it does not know (403). Those refusals, and any
//! answer that is not JSON, are errors here, so no command ever prints the
//! fields of an answer it did not get.

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::Value;

pub const DEFAULT_URL: &str = "http://127.0.0.1:5000";

/// The environment variable the clients take the bridge's URL from, so a
/// shell (or a test) pointed at a bridge on another port once can run the
/// commands as they are written, without `--url` on each.
pub const URL_VARIABLE: &str = "GAMEBRIDGE_URL";

/// The environment variable `serve` takes its token from; the clients read
/// the same one, so one `export` serves both ends.
pub const TOKEN_VARIABLE: &str = "GAMEBRIDGE_TOKEN";

/// Where the bridge is and how to prove we may use it.
#[derive(Clone, Debug, clap::Args)]
pub struct BridgeOptions {
    /// The bridge's agent API.
    #[arg(long, env = URL_VARIABLE, default_value = DEFAULT_URL)]
    pub url: String,
    /// The token the bridge was started with (`serve --token`), sent as
    /// Authorization: Bearer.
    #[arg(long, env = TOKEN_VARIABLE, hide_env_values = true, value_name = "TOKEN")]
    pub token: Option<String>,
}

impl BridgeOptions {
    /// The base URL without a trailing slash.
    pub fn base(&self) -> &str {
        self.url.trim_end_matches('/')
    }

    /// The token, unless none was given (an empty variable counts as none,
    /// as it does for `serve`).
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref().filter(|token| !token.is_empty())
    }

    pub fn client(&self) -> anyhow::Result<BridgeClient> {
        let mut headers = HeaderMap::new();
        if let Some(token) = self.token() {
            let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| anyhow!("the token must be visible ASCII characters without line breaks"))?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            // The token goes to the URL given and nowhere else.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .build()
            .context("could not build the HTTP client")?;
        Ok(BridgeClient { http, base: self.base().to_owned(), has_token: self.token().is_some() })
    }
}

/// An HTTP client of one bridge, sending its token on every request.
pub struct BridgeClient {
    http: reqwest::Client,
    base: String,
    has_token: bool,
}

/// A failure the bridge reported in its envelope (`success: false`): a
/// game's error or a bad request, not a broken connection.
#[derive(Debug)]
pub struct Failure {
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}: {}", self.code, self.message)
    }
}

impl BridgeClient {
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(format!("{}{path}", self.base))
    }

    /// A POST of `body` as `application/json`.
    pub fn post_json(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.http.post(format!("{}{path}", self.base)).json(body)
    }

    /// Sends `request`; a refusal (401, 403) or any other answer outside
    /// 2xx is an error naming its cause. The answer is left unread, for
    /// streams.
    pub async fn open(&self, request: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        let response = self.send(request).await?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let body = response.bytes().await.unwrap_or_default();
        Err(match envelope_failure(&body) {
            Some(failure) => anyhow!("the bridge at {} answered HTTP {status}: {failure}", self.base),
            None => self.unexpected(status, &body),
        })
    }

    /// Opens the Server-Sent Events stream `request` asks for.
    pub async fn open_events(&self, request: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        let response = self.open(request).await?;
        let content_type = response.headers().get(CONTENT_TYPE).and_then(|value| value.to_str().ok());
        if content_type.is_some_and(|value| value.starts_with("text/event-stream")) {
            return Ok(response);
        }
        let status = response.status();
        let body = response.bytes().await.unwrap_or_default();
        Err(anyhow!(
            "the bridge at {} answered HTTP {status} with no event stream (is it a gamebridge?): {}",
            self.base,
            preview(&body)
        ))
    }

    /// Sends `request` and reads the bridge's envelope: the `result` of a
    /// success, or the [`Failure`] it reported (some with HTTP 200, some
    /// with 4xx, as the Vox Deorum API answers).
    pub async fn envelope(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Result<Value, Failure>> {
        let response = self.send(request).await?;
        let status = response.status();
        let body = response.bytes().await.with_context(|| format!("the bridge at {} hung up", self.base))?;
        if let Some(failure) = envelope_failure(&body) {
            return Ok(Err(failure));
        }
        match serde_json::from_slice::<Value>(&body) {
            Ok(envelope) if status.is_success() && envelope["success"] == true => {
                Ok(Ok(envelope.get("result").cloned().unwrap_or(Value::Null)))
            }
            _ => Err(self.unexpected(status, &body)),
        }
    }

    /// The `result` of a request that must succeed; a reported failure is
    /// an error too.
    pub async fn result(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        self.envelope(request).await?.map_err(|failure| anyhow!("the bridge at {}: {failure}", self.base))
    }

    /// Sends `request`, turning the guard's refusals into errors that say
    /// how to get past them.
    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        let response = request.send().await.map_err(|error| {
            // The innermost cause ("Connection refused"), not reqwest's layers.
            let mut cause: &(dyn std::error::Error + 'static) = &error;
            while let Some(source) = cause.source() {
                cause = source;
            }
            anyhow!("could not reach the bridge at {}: {cause}; is `gamebridge serve` running?", self.base)
        })?;
        match response.status() {
            StatusCode::UNAUTHORIZED if self.has_token => bail!(
                "the bridge at {} refused the token: pass the one it was started with (--token or {TOKEN_VARIABLE})",
                self.base
            ),
            StatusCode::UNAUTHORIZED => {
                bail!("the bridge at {} needs its token: pass --token or set {TOKEN_VARIABLE}", self.base)
            }
            StatusCode::FORBIDDEN => {
                let body = response.bytes().await.unwrap_or_default();
                let reason =
                    envelope_failure(&body).map_or_else(|| preview(&body), |failure| failure.message);
                bail!("the bridge at {} refused the request (HTTP 403): {reason}", self.base)
            }
            _ => Ok(response),
        }
    }

    fn unexpected(&self, status: StatusCode, body: &[u8]) -> anyhow::Error {
        let what = if serde_json::from_slice::<Value>(body).is_ok() {
            "JSON that is no envelope"
        } else {
            "no JSON"
        };
        anyhow!(
            "the bridge at {} answered HTTP {status} with {what} (is it a gamebridge?): {}",
            self.base,
            preview(body)
        )
    }
}

/// `{success: false, error: {code, message}}`, if `body` is that.
fn envelope_failure(body: &[u8]) -> Option<Failure> {
    let envelope: Value = serde_json::from_slice(body).ok()?;
    if envelope["success"] != false {
        return None;
    }
    let error = &envelope["error"];
    Some(Failure {
        code: error["code"].as_str()?.to_owned(),
        message: error["message"].as_str().unwrap_or("").to_owned(),
    })
}

/// The start of a body, on one line, for an error message.
fn preview(body: &[u8]) -> String {
    const LIMIT: usize = 200;
    let text = String::from_utf8_lossy(body);
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(LIMIT) {
        Some((end, _)) => format!("{}…", &line[..end]),
        None if line.is_empty() => "(empty body)".to_owned(),
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_read_from_the_envelope_only() {
        let failure =
            envelope_failure(br#"{"success":false,"error":{"code":"NOT_FOUND","message":"no game"}}"#);
        assert_eq!(failure.map(|failure| failure.to_string()).as_deref(), Some("NOT_FOUND: no game"));
        assert!(envelope_failure(br#"{"success":true,"result":1}"#).is_none());
        assert!(envelope_failure(b"<html>").is_none());
        assert!(envelope_failure(br#"{"success":false}"#).is_none(), "no code: not the bridge's envelope");
    }

    #[test]
    fn previews_are_one_short_line() {
        assert_eq!(preview(b"a\n  b\r\n"), "a b");
        assert_eq!(preview(b""), "(empty body)");
        assert_eq!(preview("é".repeat(300).as_bytes()).chars().count(), 201);
    }

    #[test]
    fn an_empty_token_counts_as_none() {
        let options = BridgeOptions { url: "http://127.0.0.1:5000/".into(), token: Some(String::new()) };
        assert_eq!((options.base(), options.token()), ("http://127.0.0.1:5000", None));
        let bad = BridgeOptions { token: Some("a\nb".into()), ..options };
        assert!(bad.client().is_err(), "a token that cannot be a header is an error, not a panic");
    }
}
