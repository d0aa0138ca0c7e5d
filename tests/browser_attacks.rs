//! Web pages the player opens must not drive the game. A real headless
//! Chromium loads an attacker's page from another origin (another port on
//! 127.0.0.1 is another origin), and from inside a sandboxed frame (the
//! `null` origin). The page tries everything a page can send without CORS
//! permission: a `text/plain` POST, a `fetch` with `mode: "no-cors"`, HTML
//! forms (JSON smuggled in a `text/plain` form, and a URL-encoded
//! `/shutdown`), and WebSockets to `/agent` and `/mcp`. The fake game
//! records every message the bridge sends it: nothing may arrive but the
//! test's own call afterwards. The dashboard, served by the bridge itself,
//! keeps working.

#[path = "support/browser.rs"]
mod browser;
mod support;

use axum::extract::Query;
use axum::response::Html;
use axum::routing::get;
use browser::{Browser, text};
use gamebridge_protocol::BridgeMessage;
use serde_json::{Value, json};
use support::{GameConnection, Harness, within};
use tokio::sync::mpsc;

/// The attack, run on load. `?bridge=` names the bridge; results go to the
/// page itself, or to the parent frame when the page runs sandboxed.
const ATTACK: &str = r#"<!doctype html>
<html><body>
<iframe name="sink"></iframe>
<pre id="results"></pre>
<script>
const bridge = new URLSearchParams(location.search).get("bridge");
const results = {};
function settle(promise, ms) {
  return Promise.race([promise, new Promise(done => setTimeout(() => done("no answer"), ms))]);
}
function submitForm(action, enctype, name, value) {
  return new Promise(done => {
    const sink = document.querySelector("iframe[name=sink]");
    sink.onload = () => done("submitted");
    const form = document.createElement("form");
    form.method = "POST"; form.action = bridge + action; form.enctype = enctype; form.target = "sink";
    const input = document.createElement("input");
    input.name = name; input.value = value; form.appendChild(input);
    document.body.appendChild(form);
    form.submit();
  });
}
function socket(path) {
  return new Promise(done => {
    let ws;
    try { ws = new WebSocket(bridge.replace("http", "ws") + path); } catch (error) { return done("refused"); }
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: "call", id: 1, function: "Echo", args: ["websocket"] }));
      done("open");
    };
    ws.onerror = () => done("refused");
    ws.onclose = () => done("refused");
  });
}
async function attack() {
  results.plain = await settle(fetch(bridge + "/lua/execute", { method: "POST", mode: "no-cors",
    headers: { "Content-Type": "text/plain" }, body: JSON.stringify({ script: "pwned()" }) })
    .then(() => "sent", () => "failed"), 5000);
  results.no_cors = await settle(fetch(bridge + "/lua/call", { method: "POST", mode: "no-cors",
    body: JSON.stringify({ function: "Echo", args: ["no-cors"] }) }).then(() => "sent", () => "failed"), 5000);
  results.form_json = await settle(submitForm("/lua/call", "text/plain",
    '{"function":"Echo","args":["form"],"x":"', '"}'), 5000);
  results.form_shutdown = await settle(submitForm("/shutdown", "application/x-www-form-urlencoded", "now", "1"), 5000);
  results.form_register = await settle(submitForm("/external/register", "text/plain",
    '{"name":"Steal","url":"http://127.0.0.1:9/","async":false,"x":"', '"}'), 5000);
  results.ws_agent = await settle(socket("/agent"), 5000);
  results.ws_mcp = await settle(socket("/mcp"), 5000);
  results.read = await settle(fetch(bridge + "/lua/functions").then(r => r.text()).then(() => "read", () => "failed"), 5000);
  if (window.parent !== window) {
    window.parent.postMessage(results, "*");
  } else {
    document.getElementById("results").textContent = JSON.stringify(results);
  }
}
attack();
</script>
</body></html>"#;

/// The same attack from a sandboxed frame: its requests carry `Origin: null`.
const SANDBOXED: &str = r#"<!doctype html>
<html><body>
<pre id="results"></pre>
<script>
window.addEventListener("message", event => {
  document.getElementById("results").textContent = JSON.stringify(event.data);
});
const frame = document.createElement("iframe");
frame.sandbox = "allow-scripts allow-forms";
frame.src = "/attack.html" + location.search;
document.body.appendChild(frame);
</script>
</body></html>"#;

/// The attacker's own web server, on another port of this machine.
async fn attacker_site() -> String {
    let site = axum::Router::new()
        .route("/attack.html", get(|_: Query<Value>| async { Html(ATTACK) }))
        .route("/sandboxed.html", get(|_: Query<Value>| async { Html(SANDBOXED) }));
    support::serve_http(site).await
}

/// Every message the bridge sends the game, in order.
fn record(mut connection: GameConnection) -> mpsc::UnboundedReceiver<BridgeMessage> {
    let (seen, received) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(message) = connection.recv_or_closed().await {
            if let BridgeMessage::LuaCall { id, .. } = &message {
                connection.answer(id.clone(), json!("answered")).await;
            }
            if seen.send(message).is_err() {
                return;
            }
        }
    });
    received
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_from_other_origins_cannot_reach_the_game() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    connection.register("Echo").await;
    harness.sync(&mut connection).await;
    let mut received = record(connection);
    let site = attacker_site().await;
    let browser = Browser::start().await;

    for page in ["attack.html", "sandboxed.html"] {
        let address = format!("{site}/{page}?bridge={}", harness.bridge.url());
        browser.client.goto(&address).await.expect("open the attacker's page");
        browser.wait_for_text("#results", "read").await;
        let results: Value = serde_json::from_str(&text(&browser.find("#results").await).await).unwrap();
        assert_eq!(results["ws_agent"], "refused", "{page}: WebSocket to /agent: {results}");
        assert_eq!(results["ws_mcp"], "refused", "{page}: WebSocket to /mcp: {results}");
        assert_eq!(results["read"], "failed", "{page}: the page cannot read game data: {results}");
    }

    // The bridge still runs (no /shutdown), nothing was registered, and the
    // first thing the game hears is this test's own call.
    let (status, functions) = harness.get("/external/functions").await;
    assert_eq!(status, 200, "the bridge is still up");
    assert_eq!(functions["result"]["functions"], json!([]), "no function was registered: {functions}");
    let answer = harness.post("/lua/call", json!({ "function": "Echo", "args": ["from the test"] })).await;
    assert_eq!(answer["success"], true, "{answer}");
    match within("the test's call to reach the game", received.recv()).await {
        Some(BridgeMessage::LuaCall { function, args, .. }) => {
            assert_eq!(
                (function.as_str(), args.get()),
                ("Echo", r#"["from the test"]"#),
                "nothing else came first"
            );
        }
        other => panic!("the game received {other:?} before the test's call"),
    }

    // The bridge's own dashboard still works in the same browser.
    browser.client.goto(&harness.url("/ui")).await.expect("open /ui");
    let card = browser.find(r#".game[data-game="civ5"]"#).await;
    assert!(text(&card).await.contains("connected"));
    browser.find(r#".game[data-game="civ5"] .functions .chip"#).await;

    browser.stop().await;
    harness.bridge.stop().await.unwrap();
}
