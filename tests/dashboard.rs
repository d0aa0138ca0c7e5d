//! The dashboard at `/ui` in a real browser: headless Chromium driven over
//! WebDriver (chromedriver), against a real bridge with a fake game.
//!
//! Set `GAMEBRIDGE_SCREENSHOTS=DIR` to save PNGs of the page there once it
//! shows what a test checks: `dashboard.png` (a game, calls and events) and
//! `dashboard-lockstep.png` (emulators and a simulation running); the
//! README's screenshots are made this way.

#[path = "support/browser.rs"]
mod browser;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use browser::{Browser, text};
use fantoccini::Locator;
use gamebridge_protocol::{BridgeMessage, GameMessage};
use serde_json::{Value, json};
use support::mame::{Instance, TEMPEST, expected_reply, frame, stepping_agent};
use support::{GameConnection, Harness, game_event, within};
use tokio::sync::mpsc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_game_runs_a_call_and_follows_events() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    connection.register("Echo").await;
    connection.register("EndTurn").await;
    let schema = json!({"type": "object", "properties": {"city": {"type": "integer"}, "name": {"type": "string"}}, "required": ["city"]});
    connection
        .send(&GameMessage::LuaRegister {
            function: "GetCity".into(),
            description: Some("A city's state".into()),
            parameters: Some(gamebridge_protocol::RawValue::from_string(schema.to_string()).unwrap()),
        })
        .await;
    let game = FakeGame::serve(connection);
    // An event from before the page opened: the page starts with the recent past.
    let mut cursor = harness.hub().events().subscribe(None);
    game.send(game_event("Prelude", json!({ "turn": 6 }))).await;
    within("the bridge to log the event", cursor.next(1)).await;
    let browser = Browser::start().await;

    browser.client.goto(&harness.url("/ui")).await.expect("open /ui");
    let prelude = text(&browser.find(r#"tr.event[data-type="Prelude"]"#).await).await;
    assert!(
        prelude.contains("civ5") && prelude.contains(r#"{"turn":6}"#),
        "history, with its game: {prelude}"
    );
    let card = browser.find(r#".game[data-game="civ5"]"#).await;
    assert!(text(&card).await.contains("connected"), "the game's state is shown");
    let chips = browser.texts(r#".game[data-game="civ5"] .functions .chip"#, 3).await;
    assert_eq!(chips, ["Echo", "EndTurn", "GetCity"], "the game's registered functions");

    // The live stream is open before the game sends: a new client starts at the live end.
    browser.wait_for_text("#live", "live").await;
    game.send(game_event("TurnStarted", json!({ "turn": 7 }))).await;
    let row = text(&browser.find(r#"tr.event[data-type="TurnStarted"]"#).await).await;
    assert!(row.contains(r#"{"turn":7}"#), "the event's payload is shown");
    assert!(row.contains("civ5"), "the game column is filled for the only game too: {row}");

    // A failing call shows the error code and message.
    browser.fill("#console-function", "Missing").await;
    browser.click("#console-run").await;
    let failed = text(&browser.find("#console-result.failed").await).await;
    assert!(failed.starts_with("LUA_EXECUTION_ERROR: "), "{failed}");
    browser.wait_for_text(r#".game[data-game="civ5"] .failures"#, "LUA_EXECUTION_ERROR 1").await;

    // A call from the console, answered by the game once.
    browser.fill("#console-function", "Echo").await;
    browser.fill("#console-args", r#"[1, "two"]"#).await;
    browser.click("#console-run").await;
    let result = browser.find("#console-result.succeeded").await;
    let shown: Value = serde_json::from_str(&text(&result).await).expect("the result is shown as JSON");
    assert_eq!(shown, json!({ "function": "Echo", "args": [1, "two"] }));
    assert!(text(&browser.find("#console-rtt").await).await.starts_with("round trip "));
    assert_eq!(game.calls(), 1, "the call ran exactly once");

    // A call the game holds shows among the pending calls until it is answered.
    browser.fill("#console-function", "Slow").await;
    browser.click("#console-run").await;
    let pending = browser.find(r#".game[data-game="civ5"] .pending-calls li[data-function="Slow"]"#).await;
    assert!(text(&pending).await.starts_with("Slow · waiting "));
    game.release().await;
    browser.wait_for_text("#console-result.succeeded", r#""function": "Slow""#).await;
    browser.wait_for_text(r#".game[data-game="civ5"] div.pending-calls"#, "none").await;

    // The latency chart appears once calls were made, with its axes labelled in units.
    browser.find(r#".game[data-game="civ5"] .latency svg rect.p50"#).await;
    let y_labels = browser.texts(r#".game[data-game="civ5"] .latency svg text.tick.y"#, 1).await;
    let units = [" µs", " ms", " s"];
    assert!(y_labels.iter().all(|label| units.iter().any(|unit| label.ends_with(unit))), "{y_labels:?}");
    let x_labels = browser.texts(r#".game[data-game="civ5"] .latency svg text.tick.x"#, 3).await;
    assert_eq!(x_labels, ["−5 min", "−2.5 min", "now"]);

    // Paused, the view holds events back; resumed, it shows them.
    browser.click("#events-pause").await;
    game.send(game_event("UnitMoved", json!({ "unit": 3 }))).await;
    browser.wait_for_text("#events-count", "1 held while paused").await;
    assert!(
        browser.client.find_all(Locator::Css(r#"tr.event[data-type="UnitMoved"]"#)).await.unwrap().is_empty()
    );
    browser.click("#events-pause").await;
    browser.find(r#"tr.event[data-type="UnitMoved"]"#).await;

    browser.screenshot_if_asked("dashboard.png").await;

    // The type filter hides other events.
    browser.fill("#filter-type", "unitmoved").await;
    let turn_row = browser.find(r#"tr.event[data-type="TurnStarted"]"#).await;
    assert!(!turn_row.is_displayed().await.unwrap(), "filtered out");
    assert!(browser.find(r#"tr.event[data-type="UnitMoved"]"#).await.is_displayed().await.unwrap());

    // The game is paused from its card, and resumed.
    browser.click(r#".game[data-game="civ5"] button.pause-game"#).await;
    browser.wait_for_text(r#".game[data-game="civ5"] .pause-state"#, "game paused").await;
    assert!(harness.hub().game("civ5").unwrap().is_game_paused(), "the bridge paused the game");
    browser.click(r#".game[data-game="civ5"] button.pause-game"#).await;
    browser.wait_for_text(r#".game[data-game="civ5"] .pause-state"#, "game running").await;

    // A function with a schema: its description shows, its arguments start
    // from a template, and arguments missing a required one are not sent.
    browser.click(r#".game[data-game="civ5"] .functions .chip[data-function="GetCity"]"#).await;
    browser.wait_for_text("#console-about", "A city's state").await;
    let template: Value =
        serde_json::from_str(&browser.find("#console-args").await.prop("value").await.unwrap().unwrap())
            .unwrap();
    assert_eq!(template, json!({"city": 0, "name": ""}), "required first, each of its type");
    browser.fill("#console-args", r#"{"name": "Rome"}"#).await;
    browser.click("#console-run").await;
    browser.wait_for_text("#console-result.failed", "missing required argument(s): city").await;
    assert_eq!(text(&browser.find("#console-rtt").await).await, "not sent");

    // One player is paused from the card, shown, and resumed by clicking it.
    browser.fill(r#".game[data-game="civ5"] .player-id"#, "3").await;
    browser.click(r#".game[data-game="civ5"] .pause-player button"#).await;
    browser.wait_for_text(r#".game[data-game="civ5"] .players"#, "3 ×").await;
    assert_eq!(harness.hub().game("civ5").unwrap().paused_players(), [3]);
    browser.click(r#".game[data-game="civ5"] .chip.player[data-player="3"]"#).await;
    browser.wait_for_text(r#".game[data-game="civ5"] .players"#, "none").await;
    assert!(harness.hub().game("civ5").unwrap().paused_players().is_empty());

    // The Lua console runs a script in the game and keeps it in its history,
    // which a reload keeps and a click puts back.
    browser.fill("#lua-script", "return Game.GetGameTurn()").await;
    browser.click("#lua-run").await;
    let ran: Value = serde_json::from_str(&text(&browser.find("#lua-result.succeeded").await).await).unwrap();
    assert_eq!(ran, json!({ "script": "return Game.GetGameTurn()" }), "the game got the script");
    assert!(text(&browser.find("#lua-rtt").await).await.starts_with("round trip "));
    browser.client.refresh().await.expect("reload");
    let history = browser.texts("#lua-history li", 1).await;
    assert_eq!(history, ["return Game.GetGameTurn()"]);
    browser.click("#lua-history li").await;
    assert_eq!(
        browser.find("#lua-script").await.prop("value").await.unwrap().as_deref(),
        Some("return Game.GetGameTurn()")
    );

    browser.stop().await;
    harness.bridge.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_the_dashboard_asks_for_it_and_then_uses_it() {
    let (harness, _game, mut connection) = Harness::with_one_game_configured("", |config| {
        config.security.token = Some("s3cret".into());
        config.security.no_execute = true;
    })
    .await;
    connection.register("Echo").await;
    let _game = FakeGame::serve(connection);
    let browser = Browser::start().await;

    browser.client.goto(&harness.url("/ui")).await.expect("open /ui");
    assert!(browser.find("#token-form").await.is_displayed().await.unwrap(), "the page asks for the token");
    browser.fill("#token-input", "s3cret").await;
    browser.click(r#"#token-form button"#).await;
    browser.find(r#".game[data-game="civ5"] .functions .chip"#).await;
    browser.wait_for_text("#live", "live").await;
    // With --no-execute there is no Lua console, and the page says why.
    browser.wait_for_text("#lua-off", "--no-execute").await;
    assert!(!browser.find("#lua").await.is_displayed().await.unwrap());

    // A link with #token= works straight away, and the token leaves the address bar.
    browser.client.goto(&harness.url("/ui#token=s3cret")).await.expect("open /ui#token=");
    browser.client.refresh().await.expect("reload");
    browser.find(r#".game[data-game="civ5"] .functions .chip"#).await;
    let address = browser.client.current_url().await.unwrap();
    assert!(!address.as_str().contains("s3cret"), "{address}");

    browser.stop().await;
    harness.bridge.stop().await.unwrap();
}

/// A lockstep game's card lists its instances (their steps/s, misses and the
/// agent answering their frames) and an Agent Arena game's card its ticks/s,
/// agents per tick and fallbacks, all while the games run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_lockstep_instances_and_agent_arena_ticks() {
    let harness = Harness::start(&[("tempest", TEMPEST.into()), ("arena", "agent-arena".into())]).await;
    let address = harness.listening_address("tempest").await;
    stepping_agent(&harness, false).await;
    // Every arena decision goes to a webhook nobody listens on, so each one
    // falls back to idle.
    let registered = harness
        .post(
            "/games/arena/external/register",
            json!({ "name": "decide", "url": "http://127.0.0.1:1/decide", "async": false }),
        )
        .await;
    assert_eq!(registered["success"], true, "{registered}");

    // Two emulators stepping and a simulation ticking (two agents a tick),
    // paced so that the browser keeps a core.
    let running = Arc::new(AtomicBool::new(true));
    let mut games: Vec<tokio::task::JoinHandle<()>> = (1..=2u8)
        .map(|instance| {
            let (address, running) = (address.clone(), running.clone());
            tokio::spawn(async move {
                let mut emulator = Instance::connect(&address).await;
                let mut pace = tokio::time::interval(Duration::from_millis(10));
                for n in 1.. {
                    if !running.load(Ordering::Relaxed) {
                        return;
                    }
                    pace.tick().await;
                    assert_eq!(emulator.step(&frame(instance, n)).await, expected_reply(instance, n));
                }
            })
        })
        .collect();
    let simulation = harness.url("/tick");
    let ticking = running.clone();
    games.push(tokio::spawn(async move {
        let http = reqwest::Client::new();
        let mut pace = tokio::time::interval(Duration::from_millis(20));
        for tick in 1u64.. {
            if !ticking.load(Ordering::Relaxed) {
                return;
            }
            pace.tick().await;
            let perceptions = json!([{ "agent_id": "scout" }, { "agent_id": "miner" }]);
            let body = json!({ "tick": tick, "perceptions": perceptions, "simulation_state": {} });
            let answer = http.post(&simulation).json(&body).send().await.expect("POST /tick");
            assert!(answer.status().is_success(), "tick {tick}: {}", answer.status());
        }
    }));

    let browser = Browser::start().await;
    browser.client.goto(&harness.url("/ui")).await.expect("open /ui");
    let rows = browser.texts(r#".game[data-game="tempest"] tr.instance"#, 2).await;
    assert_eq!(rows.len(), 2, "one row per instance: {rows:?}");
    assert!(
        browser.client.find_all(Locator::Css(r#".game[data-game^="tempest/"]"#)).await.unwrap().is_empty(),
        "instances are rows of their game's card, not cards of their own"
    );
    browser.wait_for_text(r#".game[data-game="tempest"] tr.instance .agent"#, "websocket agent #").await;
    assert!(
        browser
            .client
            .find_all(Locator::Css(r#".game[data-game="tempest"] .pause-state"#))
            .await
            .unwrap()
            .is_empty(),
        "no pause controls for a game whose protocol carries none"
    );
    let positive =
        |shown: &str| shown.split(' ').next().and_then(|n| n.parse::<f64>().ok()).is_some_and(|n| n > 0.0);
    let lockstep = r#".game[data-game="tempest"] .lockstep .facts"#;
    browser.wait_until(&format!("{lockstep} .rate"), "count steps per second", positive).await;
    browser
        .wait_until(r#".game[data-game="tempest"] tr.instance .rate"#, "count steps per second", positive)
        .await;
    browser.wait_for_text(&format!("{lockstep} .misses"), "0 missed (0.0 %)").await;

    let arena = r#".game[data-game="arena"] .arena .facts"#;
    browser.wait_until(&format!("{arena} .rate"), "count ticks per second", positive).await;
    browser.wait_for_text(&format!("{arena} .agents"), "2.0 agents per tick").await;
    browser.wait_until(&format!("{arena} .fallbacks"), "count fallbacks", positive).await;
    browser.screenshot_if_asked("dashboard-lockstep.png").await;

    running.store(false, Ordering::Relaxed);
    for game in games {
        within("the games to stop", game).await.expect("a game ran as expected");
    }
    browser.stop().await;
    harness.bridge.stop().await.unwrap();
}

/// The game side: answers every call with `{function, args}` and every
/// script with `{script}` (a call to
/// `Missing` fails as a missing Lua function does; a call to `Slow` waits
/// for `release`), counts the calls to `Echo`, and sends the events a test
/// hands it.
struct FakeGame {
    events: mpsc::Sender<GameMessage>,
    releases: mpsc::Sender<()>,
    calls: Arc<AtomicUsize>,
}

impl FakeGame {
    fn serve(mut connection: GameConnection) -> Self {
        let (events, mut outgoing) = mpsc::channel::<GameMessage>(16);
        let (releases, mut released) = mpsc::channel::<()>(1);
        let mut held = Vec::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    message = connection.recv_or_closed() => match message {
                        Some(BridgeMessage::LuaExecute { id, script }) => {
                            connection.send(&support::response(id, json!({ "script": script }))).await;
                        }
                        Some(BridgeMessage::LuaCall { id, function, args }) => {
                            if function == "Echo" {
                                counted.fetch_add(1, Ordering::SeqCst);
                            }
                            let args: Value = serde_json::from_str(args.get()).unwrap();
                            if function == "Slow" {
                                held.push(support::response(id, json!({ "function": function, "args": args })));
                                continue;
                            }
                            let answer = match function.as_str() {
                                "Missing" => support::failure(id, "attempt to call a nil value (function 'Missing')"),
                                _ => support::response(id, json!({ "function": function, "args": args })),
                            };
                            connection.send(&answer).await;
                        }
                        Some(_) => {}
                        None => return,
                    },
                    Some(event) = outgoing.recv() => connection.send(&event).await,
                    Some(()) = released.recv() => for answer in held.drain(..) {
                        connection.send(&answer).await;
                    },
                }
            }
        });
        Self { events, releases, calls }
    }

    async fn send(&self, event: GameMessage) {
        self.events.send(event).await.expect("the fake game is running");
    }

    /// Answers the calls to `Slow` held so far.
    async fn release(&self) {
        self.releases.send(()).await.expect("the fake game is running");
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}
