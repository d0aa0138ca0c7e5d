//! The attacks a hostile web page, local process, agent or game can try on
//! the default set-up (no token, loopback), each over real HTTP, sockets and
//! files, and what the bridge does instead (docs/SECURITY.md). The same
//! attacks from a real browser are in tests/browser_attacks.rs.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::post;
use futures::StreamExt;
use gamebridge_api::server::ConnectionLimits;
use gamebridge_protocol::GameMessage;
use serde_json::{Value, json};
use support::{Harness, error_code, game_event, within};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The first message the game receives is a test's own `Sync` call: what
/// was refused before it never reached the game.
async fn nothing_reached_the_game(harness: &Harness, connection: &mut support::GameConnection) {
    harness.sync(connection).await;
}

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("the bridge answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn cross_site_requests_are_refused_and_never_reach_the_game() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let script = r#"{"script":"pwned()"}"#;
    let call = r#"{"function":"Echo","args":[1]}"#;
    let attempts = [
        ("/lua/execute", script, vec![("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")]),
        ("/lua/call", call, vec![("origin", "http://127.0.0.1:8000")]),
        ("/lua/call", call, vec![("origin", "null")]),
        ("/lua/call", call, vec![("sec-fetch-site", "cross-site")]),
        ("/lua/call", call, vec![("sec-fetch-site", "same-site")]),
        ("/external/pause-player/3", "", vec![("origin", "https://evil.example")]),
        ("/shutdown", "", vec![("origin", "https://evil.example")]),
    ];
    for (path, body, headers) in attempts {
        let mut request = harness.http.post(harness.url(path)).header("content-type", "application/json");
        for (name, value) in &headers {
            request = request.header(*name, *value);
        }
        let (status, answer) = send(request.body(body)).await;
        assert_eq!((status, error_code(&answer)), (403, "CROSS_SITE_REQUEST"), "{path} {headers:?}");
    }
    let (status, answer) =
        send(harness.http.get(harness.url("/events")).header("origin", "https://evil.example")).await;
    assert_eq!((status, error_code(&answer)), (403, "CROSS_SITE_REQUEST"), "the event stream");
    let (status, _) =
        send(harness.http.get(harness.url("/lua/functions")).header("sec-fetch-site", "cross-site")).await;
    assert_eq!(status, 403, "game data is not read cross-site either");
    nothing_reached_the_game(&harness, &mut connection).await;

    // The bridge's own pages and programs that are not browsers pass.
    let own = harness.bridge.url();
    let (status, answer) = send(
        harness
            .http
            .post(harness.url("/external/pause"))
            .header("origin", own.as_str())
            .header("sec-fetch-site", "same-origin"),
    )
    .await;
    assert_eq!((status, answer["success"].as_bool()), (200, Some(true)), "{answer}");
    let (status, _) = send(harness.http.get(harness.url("/ui")).header("sec-fetch-site", "cross-site")).await;
    assert_eq!(status, 200, "static pages hold no data: a link from another site may open the dashboard");
}

#[tokio::test]
async fn request_bodies_must_be_declared_json() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let call = r#"{"function":"Echo","args":[1]}"#;
    for content_type in [Some("text/plain"), Some("application/x-www-form-urlencoded"), None] {
        let mut request = harness.http.post(harness.url("/lua/call")).body(call);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let (status, answer) = send(request).await;
        assert_eq!((status, error_code(&answer)), (415, "UNSUPPORTED_MEDIA_TYPE"), "{content_type:?}");
        assert!(answer["error"]["message"].as_str().unwrap().contains("application/json"), "{answer}");
    }
    let form = harness
        .http
        .post(harness.url("/external/register"))
        .header("content-type", "multipart/form-data; boundary=x")
        .body("--x\r\n\r\n--x--");
    assert_eq!(send(form).await.0, 415);
    nothing_reached_the_game(&harness, &mut connection).await;
    // Bodiless POSTs pass, with or without a content type, as Vox Deorum's clients send them.
    let (status, answer) = send(harness.http.post(harness.url("/external/pause"))).await;
    assert_eq!((status, answer["success"].as_bool()), (200, Some(true)));
    let declared =
        harness.http.post(harness.url("/external/resume")).header("content-type", "application/json");
    assert_eq!(send(declared).await.1["success"], true);
}

#[tokio::test]
async fn websocket_handshakes_from_other_origins_are_refused() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let (harness, _game, _connection) = Harness::with_one_game().await;
    let url = harness.url("/agent").replace("http", "ws");
    let mut request = url.as_str().into_client_request().unwrap();
    request.headers_mut().insert("origin", "https://evil.example".parse().unwrap());
    let refused = tokio_tungstenite::connect_async(request).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("the handshake was not refused: {:?}", other.map(|(_, response)| response.status())),
    }
    let (_socket, response) = tokio_tungstenite::connect_async(url).await.expect("agents that are not pages");
    assert_eq!(response.status(), 101);

    let mcp = harness
        .http
        .post(harness.url("/mcp"))
        .header("origin", "https://evil.example")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#);
    let (status, answer) = send(mcp).await;
    assert_eq!((status, error_code(&answer)), (403, "CROSS_SITE_REQUEST"), "MCP over HTTP");
}

#[tokio::test]
async fn llm_backends_obey_the_url_policy_and_name_only_allowed_keys() {
    let dir = tempfile::tempdir().unwrap();
    let harness = Harness::start_configured(dir, &[("arena", "agent-arena".into())], |config| {
        config.security.llm_key_envs = vec!["ARENA_LLM_KEY".into()];
    })
    .await;
    let register =
        |backend: Value| harness.post("/agents/register", json!({"agent_id": "a", "backend": backend}));
    let away = register(json!({"kind": "llm", "base_url": "http://exfil.example/v1"})).await;
    assert!(away["detail"].as_str().unwrap().contains("--allow-agent-host exfil.example"), "{away}");
    let secret = register(
        json!({"kind": "llm", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "GAMEBRIDGE_TOKEN"}),
    )
    .await;
    assert!(secret["detail"].as_str().unwrap().contains("api_key_env GAMEBRIDGE_TOKEN"), "{secret}");
    let allowed =
        register(json!({"kind": "llm", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "ARENA_LLM_KEY"}))
            .await;
    assert_eq!(allowed["status"], "success", "{allowed}");
}

/// A server that records every request it gets, answering `answer`.
async fn recording_server(answer: axum::response::Response<String>) -> (String, Arc<Mutex<usize>>) {
    let hits = Arc::new(Mutex::new(0));
    let counted = hits.clone();
    let answer = Arc::new(Mutex::new(Some(answer)));
    let app = axum::Router::new().fallback(post(move || {
        *counted.lock().unwrap() += 1;
        let answer = answer.lock().unwrap().take();
        async move { answer.unwrap_or_default() }
    }));
    let url = format!("{}/", support::serve_http(app).await);
    (url, hits)
}

fn redirect_to(url: &str) -> axum::response::Response<String> {
    axum::response::Response::builder().status(307).header("location", url).body(String::new()).unwrap()
}

#[tokio::test]
async fn a_webhook_that_redirects_is_a_failure_not_a_forward() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let (elsewhere, forwarded) = recording_server(axum::response::Response::new("{}".into())).await;
    let (agent, asked) = recording_server(redirect_to(&elsewhere)).await;
    let registered =
        harness.post("/external/register", json!({"name": "Analyze", "url": agent, "async": false})).await;
    assert_eq!(registered["success"], true, "{registered}");
    let _register = connection.recv().await;
    let call = json!({"type": "external_call", "id": 5, "function": "Analyze", "args": {"secret": 1}, "async": false});
    connection.send(&GameMessage::parse(call.to_string().as_bytes()).unwrap()).await;
    let answer = connection.recv_json().await;
    assert_eq!(answer["success"], false, "{answer}");
    assert_eq!(answer["error"]["code"], "NETWORK_ERROR", "{answer}");
    assert_eq!(*asked.lock().unwrap(), 1);
    assert_eq!(*forwarded.lock().unwrap(), 0, "the game data went no further than the registered URL");
}

#[tokio::test]
async fn an_llm_backend_that_redirects_gets_no_key_and_no_observation() {
    let (elsewhere, forwarded) = recording_server(axum::response::Response::new("{}".into())).await;
    let (model, asked) = recording_server(redirect_to(&elsewhere)).await;
    let dir = tempfile::tempdir().unwrap();
    let harness = Harness::start_configured(dir, &[("arena", "agent-arena".into())], |_| {}).await;
    let backend = json!({"kind": "llm", "base_url": model.trim_end_matches('/')});
    let registered = harness.post("/agents/register", json!({"agent_id": "a", "backend": backend})).await;
    assert_eq!(registered["status"], "success", "{registered}");
    let tick = harness.post("/tick", json!({"tick": 1, "perceptions": [{"agent_id": "a", "tick": 1}]})).await;
    assert_eq!(tick["actions"][0]["tool"], "idle", "{tick}");
    assert_eq!(*asked.lock().unwrap(), 1);
    assert_eq!(*forwarded.lock().unwrap(), 0);
}

/// `[[[…1…]]]`, `depth` levels deep.
fn nested(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

#[tokio::test]
async fn deeply_nested_event_payloads_are_served_whole() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("events.jsonl");
    let game_socket = dir.path().join("game.sock");
    let game = support::FakeGame::bind(&game_socket);
    let spec = format!("unix:{}", game_socket.display());
    let harness =
        Harness::start_configured(dir, &[("civ5", spec)], |config| config.journal = Some(journal)).await;
    let mut connection = game.accept().await;
    harness.wait_connected("civ5").await;
    // 127 levels: with the envelope around it, deeper than a JSON tree may
    // be (serde_json's limit of 128), so only bytes may carry it. The
    // frame is written by hand for the same reason.
    let mut stream = harness.http.get(harness.url("/events")).send().await.unwrap().bytes_stream();
    // Once compact, once with line breaks between tokens (which the bridge
    // must take out, as they would end an SSE `data:` line).
    let frame = format!(r#"{{"type":"game_event","event":"Deep","payload":{}}}!@#$%^!"#, nested(127));
    connection.send_raw(frame.as_bytes()).await;
    let broken = nested(127).replace("[[", "[\n[").replace("]]", "]\r\n]");
    let frame = format!(r#"{{"type":"game_event","event":"Broken","payload":{broken}}}!@#$%^!"#);
    connection.send_raw(frame.as_bytes()).await;
    let mut seen = String::new();
    within("the deep events on the stream", async {
        // Both payloads arrive compact, the line breaks taken out.
        while seen.matches(&nested(127)).count() < 2 {
            let chunk = stream.next().await.expect("the stream goes on").unwrap();
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    for _ in 0..2 {
        let response = harness.http.get(harness.url("/events/history?since=0")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let page = response.text().await.expect("the page is answered whole, not cut off by a panic");
        assert!(page.contains(r#""type":"Deep""#) && page.contains(&nested(127)), "{page}");
        assert!(page.ends_with('}'));
    }
}

#[tokio::test]
async fn arguments_nested_too_deep_are_refused_before_the_game() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let body = format!(r#"{{"function":"Echo","args":{}}}"#, nested(100_000));
    let (status, answer) = harness.post_status("/lua/call", &body).await;
    assert_eq!((status, error_code(&answer)), (200, "INVALID_ARGUMENTS"), "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("at most 64"), "{answer}");
    // In a batch, the deep call fails alone.
    let batch = format!(r#"[{{"function":"Deep","args":{}}},{{"function":"Sync"}}]"#, nested(65));
    let (batch_answer, ()) = tokio::join!(harness.post_status("/lua/batch", &batch), async {
        let (id, function, _) = connection.expect_call().await;
        assert_eq!(function, "Sync", "the deep call never reached the game");
        connection.answer(id, Value::Null).await;
    });
    let results = &batch_answer.1["result"]["results"];
    assert_eq!(error_code(&results[0]), "INVALID_ARGUMENTS");
    assert_eq!(results[1]["success"], true, "{results}");
    let (shallow, ()) =
        tokio::join!(harness.post("/lua/call", json!({"function": "Ok", "args": [[[[1]]]]})), async {
            let (id, _, args) = connection.expect_call().await;
            assert_eq!(args, json!([[[[1]]]]), "shallow arguments pass unchanged");
            connection.answer(id, Value::Null).await;
        });
    assert_eq!(shallow["success"], true, "{shallow}");
}

/// Reads until the bridge closes the connection; returns what it sent.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    within("the bridge to close the connection", stream.read_to_end(&mut received)).await.ok();
    received
}

#[tokio::test]
async fn half_sent_and_idle_connections_are_closed() {
    let limits =
        ConnectionLimits { header_timeout: Duration::from_millis(300), ..ConnectionLimits::default() };
    let dir = tempfile::tempdir().unwrap();
    let harness = Harness::start_configured(dir, &[], |config| config.limits = limits).await;
    let mut half = TcpStream::connect(harness.bridge.addr).await.unwrap();
    half.write_all(b"GET /games HTTP/1.1\r\nHost: 127.0.0.1\r\n").await.unwrap();
    let mut idle = TcpStream::connect(harness.bridge.addr).await.unwrap();
    idle.write_all(b"GET /games HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    let answered = read_until_closed(&mut idle).await;
    assert!(answered.starts_with(b"HTTP/1.1 200"), "answered, then closed once idle");
    let cut = read_until_closed(&mut half).await;
    assert!(!cut.starts_with(b"HTTP/1.1 200"), "a request head never finished is never served");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_one_to_close() {
    let limits = ConnectionLimits { max_connections: 2, ..ConnectionLimits::default() };
    let dir = tempfile::tempdir().unwrap();
    let harness = Harness::start_configured(dir, &[], |config| config.limits = limits).await;
    let request = b"GET /games HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    let mut open = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(harness.bridge.addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut answer = [0; 12];
        within("an answer", stream.read_exact(&mut answer)).await.unwrap();
        assert_eq!(&answer, b"HTTP/1.1 200");
        open.push(stream);
    }
    let mut third = TcpStream::connect(harness.bridge.addr).await.unwrap();
    third.write_all(request).await.unwrap();
    let mut answer = [0; 12];
    let early = tokio::time::timeout(Duration::from_millis(300), third.read_exact(&mut answer)).await;
    assert!(early.is_err(), "the third connection waits while two are open");
    drop(open.pop());
    within("the third connection to be served", third.read_exact(&mut answer)).await.unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200");
}

/// A WebSocket leaves hyper's connection once upgraded; it still holds its
/// place under the cap until it closes.
#[tokio::test]
async fn websocket_agents_count_toward_the_connection_cap() {
    let limits = ConnectionLimits { max_connections: 2, ..ConnectionLimits::default() };
    let dir = tempfile::tempdir().unwrap();
    let harness = Harness::start_configured(dir, &[], |config| config.limits = limits).await;
    let url = harness.url("/agent").replacen("http://", "ws://", 1);
    let mut agents = Vec::new();
    for _ in 0..2 {
        let (socket, _) =
            within("an agent to connect", tokio_tungstenite::connect_async(&url)).await.unwrap();
        agents.push(socket);
    }
    let request = b"GET /games HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    let mut third = TcpStream::connect(harness.bridge.addr).await.unwrap();
    third.write_all(request).await.unwrap();
    let mut answer = [0; 12];
    let early = tokio::time::timeout(Duration::from_millis(300), third.read_exact(&mut answer)).await;
    assert!(early.is_err(), "the third connection waits while two agents are connected");
    let mut agent = agents.pop().unwrap();
    agent.close(None).await.unwrap();
    within("the third connection to be served", third.read_exact(&mut answer)).await.unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200");
}

#[tokio::test]
async fn an_event_id_past_the_end_is_reset_not_wrapped() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let mut stream = harness.sse_with("/events", Some(u64::MAX)).await;
    connection.send(&game_event("After", json!({}))).await;
    let reset = stream.next_message().await;
    assert_eq!(reset.event, "reset", "not a lag notice from a wrapped id");
    assert_eq!(reset.data["lastEventId"].as_u64(), Some(u64::MAX));
    let mut event = stream.next_message().await;
    while event.data["type"] != "After" {
        assert_eq!(event.event, "message", "{event:?}");
        event = stream.next_message().await;
    }
    let (_, history) = harness.get(&format!("/events/history?since={}", u64::MAX)).await;
    assert_eq!(
        (history["result"]["events"].clone(), history["result"]["missed"].as_u64()),
        (json!([]), Some(0))
    );
}

#[cfg(unix)]
#[tokio::test]
async fn an_existing_journal_is_made_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("events.jsonl");
    std::fs::write(&journal, "").unwrap();
    std::fs::set_permissions(&journal, std::fs::Permissions::from_mode(0o644)).unwrap();
    let path = journal.clone();
    let harness = Harness::start_configured(dir, &[], |config| config.journal = Some(path)).await;
    assert_eq!(std::fs::metadata(&journal).unwrap().permissions().mode() & 0o777, 0o600);
    harness.bridge.stop().await.unwrap();
}
