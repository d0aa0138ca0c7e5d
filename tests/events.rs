//! The event stream: SSE as the original sends it, plus sequence ids,
//! replay, lag notices, filters, the journal and the event pipe.

mod support;

use std::time::Duration;

use bytes::BytesMut;
use futures::StreamExt;
use gamebridge_protocol::{FrameCodec, Framing};
use serde_json::json;
use support::{FakeGame, GameConnection, Harness, game_event, within};
use tokio_util::codec::FramedRead;

/// Sends `count` events named `E0`, `E1`, … and waits until the bridge has read them.
async fn send_events(harness: &Harness, connection: &mut GameConnection, count: usize) {
    let mut bytes = BytesMut::new();
    let codec = FrameCodec::new(&Framing::default(), 1 << 24);
    for n in 0..count {
        codec.encode(&game_event(&format!("E{n}"), json!({"n": n})).to_json(), &mut bytes).unwrap();
    }
    connection.send_raw(&bytes).await;
    harness.sync(connection).await;
}

#[tokio::test]
async fn two_clients_get_every_event_with_increasing_ids() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let mut first = harness.sse("/events").await;
    let mut second = harness.sse("/events").await;
    let connected = first.next().await;
    assert_eq!(connected.event, "connected");
    assert_eq!(connected.data["message"], "Successfully connected to event stream");
    assert!(connected.data["clientId"].is_string() && connected.data["timestamp"].is_string());

    send_events(&harness, &mut connection, 3).await;
    for client in [&mut first, &mut second] {
        let mut ids = Vec::new();
        for n in 0..3 {
            let event = client.next_message().await;
            assert_eq!(event.event, "message");
            assert_eq!(event.data, json!({"type": format!("E{n}"), "payload": {"n": n}}));
            ids.push(event.id.expect("every event has an id"));
        }
        assert!(ids.windows(2).all(|pair| pair[1] == pair[0] + 1), "{ids:?}");
    }
}

#[tokio::test]
async fn connects_and_disconnects_are_dll_status_events() {
    let (harness, game, connection) = Harness::with_one_game().await;
    let mut client = harness.sse("/events?since=0").await;
    let event = client.next_message().await;
    assert_eq!(event.data, json!({"type": "dll_status", "payload": {"connected": true}}));
    drop(connection);
    drop(game);
    let event = client.next_message().await;
    assert_eq!(event.data, json!({"type": "dll_status", "payload": {"connected": false}}));
}

#[tokio::test]
async fn a_client_resuming_with_last_event_id_loses_nothing() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let mut client = harness.sse("/events?types=E0,E1,E2,E3,E4,E5,E6,E7,E8,E9").await;
    send_events(&harness, &mut connection, 3).await;
    let mut last = 0;
    for _ in 0..3 {
        last = client.next_message().await.id.unwrap();
    }
    drop(client);

    send_events(&harness, &mut connection, 10).await; // E0..E9 again, while nobody listens
    let mut resumed = harness.sse_with("/events?types=E0,E1,E2,E3,E4,E5,E6,E7,E8,E9", Some(last)).await;
    for n in 0..10 {
        let event = resumed.next_message().await;
        assert_eq!(event.data["type"], format!("E{n}"), "missed events come back in order");
        assert_eq!(event.id, Some(last + 1 + n));
    }
    send_events(&harness, &mut connection, 1).await;
    assert_eq!(resumed.next_message().await.data["type"], "E0", "then the live stream");

    let mut by_query = harness.sse(&format!("/events?since={last}&types=E5")).await;
    assert_eq!(by_query.next_message().await.id, Some(last + 6), "?since= works like Last-Event-ID");
}

#[tokio::test]
async fn a_client_behind_the_ring_is_told_how_many_events_it_lost() {
    let (harness, _game, mut connection) =
        Harness::with_one_game_configured("", |config| config.event_ring = 10).await;
    send_events(&harness, &mut connection, 30).await; // seq 1 is dll_status; 2..=31 the events

    let mut client = harness.sse("/events?since=0").await;
    let lagged = client.next_message().await;
    assert_eq!(lagged.event, "lagged");
    assert_eq!((lagged.data["missed"].as_u64(), lagged.data["first"].as_u64()), (Some(21), Some(1)));
    assert_eq!(lagged.id, Some(21), "the id moves Last-Event-ID past the gap");
    for seq in 22..=31 {
        assert_eq!(client.next_message().await.id, Some(seq));
    }
}

#[tokio::test]
async fn filters_by_type_and_by_game() {
    let (harness, _games, mut civ_connection, mut lab_connection) = Harness::with_two_games().await;

    let mut only_lab = harness.sse("/events?game=lab").await;
    let mut lab_route = harness.sse("/games/lab/events").await;
    let mut only_e1 = harness.sse("/events?types=E1").await;
    send_events(&harness, &mut civ_connection, 2).await;
    lab_connection.send(&game_event("LabEvent", json!({}))).await;
    let lab_event = only_lab.next_message().await;
    assert_eq!(lab_event.data, json!({"type": "LabEvent", "payload": {}, "game": "lab"}), "names its game");
    assert_eq!(lab_route.next_message().await.data["type"], "LabEvent");
    let e1 = only_e1.next_message().await;
    assert_eq!((e1.data["type"].as_str(), e1.data["game"].as_str()), (Some("E1"), Some("civ5")));
    let (status, envelope) = harness.get("/games/nope/events").await;
    assert_eq!((status, envelope["error"]["code"].as_str()), (404, Some("NOT_FOUND")));
}

#[tokio::test]
async fn idle_streams_get_a_ping() {
    let dir = tempfile::tempdir().unwrap();
    let spec = format!("unix:{}", dir.path().join("none.sock").display());
    let harness = Harness::start_configured(dir, &[("civ5", spec)], |config| {
        config.ping_interval = Duration::from_millis(50);
    })
    .await;
    let mut client = harness.sse("/events").await;
    assert_eq!(client.next().await.event, "connected");
    let ping = client.next().await;
    assert_eq!(ping.event, "ping");
    assert!(ping.data["timestamp"].is_string());
}

#[tokio::test]
async fn a_stalled_client_neither_slows_the_game_nor_the_other_clients() {
    let (harness, _game, mut connection) =
        Harness::with_one_game_configured("", |config| config.event_ring = 500).await;

    let mut stalled = harness.sse("/events").await;
    assert_eq!(stalled.next().await.event, "connected");
    let mut reader = harness.sse("/events").await;
    let big = "x".repeat(4096);
    let total = 3000; // ~12 MB: more than socket buffers and the ring hold
    let read_all = async {
        for n in 0..total {
            let event = reader.next_message().await;
            assert_eq!(event.data["payload"]["n"], n, "no event lost by a client that keeps up");
        }
    };
    let produce = async {
        let codec = FrameCodec::new(&Framing::default(), 1 << 24);
        for chunk in (0..total).collect::<Vec<_>>().chunks(100) {
            let mut bytes = BytesMut::new();
            for &n in chunk {
                codec.encode(&game_event("Big", json!({"n": n, "pad": big})).to_json(), &mut bytes).unwrap();
            }
            connection.send_raw(&bytes).await;
        }
        // The game is still served while one client does not read.
        harness.sync(&mut connection).await;
    };
    tokio::join!(read_all, produce);

    // The stalled client, reading at last, is told what it lost.
    let mut lagged = None;
    for _ in 0..total {
        let event = stalled.next_message().await;
        if event.event == "lagged" {
            lagged = Some(event);
            break;
        }
    }
    let lagged = lagged.expect("a lag notice, not a silent gap");
    assert!(lagged.data["missed"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn the_journal_keeps_history_and_replay_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("events.jsonl");
    let socket = dir.path().join("game.sock");
    let spec = format!("unix:{}", socket.display());
    let last_before;
    {
        let game = FakeGame::bind(&socket);
        let journal = journal.clone();
        let harness =
            Harness::start_configured(tempfile::tempdir().unwrap(), &[("civ5", spec.clone())], |config| {
                config.journal = Some(journal);
            })
            .await;
        let mut connection = game.accept().await;
        harness.wait_connected("civ5").await;
        send_events(&harness, &mut connection, 5).await;
        last_before = harness.hub().events().latest();
        harness.bridge.stop().await.unwrap();
    }
    let lines = std::fs::read_to_string(&journal).unwrap();
    assert!(lines.lines().count() >= 6, "every event is on disk after shutdown:\n{lines}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&journal).unwrap().permissions().mode() & 0o777, 0o600);
    }

    let game = FakeGame::bind(&socket);
    let harness = Harness::start_configured(tempfile::tempdir().unwrap(), &[("civ5", spec)], |config| {
        config.journal = Some(journal.clone());
    })
    .await;
    let (status, history) = harness.get("/events/history?since=0&limit=100").await;
    assert_eq!(status, 200);
    let events = history["result"]["events"].as_array().unwrap();
    let types: Vec<&str> = events.iter().map(|event| event["type"].as_str().unwrap()).collect();
    assert_eq!(&types[..6], ["dll_status", "E0", "E1", "E2", "E3", "E4"]);
    assert_eq!(events[1]["data"], json!({"type": "E0", "payload": {"n": 0}}));
    let (_, page) = harness.get("/events/history?since=2&limit=2").await;
    let seqs: Vec<u64> =
        page["result"]["events"].as_array().unwrap().iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [3, 4]);

    // A client from before the restart resumes; numbering goes on.
    let mut client = harness.sse_with("/events", Some(last_before - 2)).await;
    assert_eq!(client.next_message().await.data["type"], "E3");
    assert_eq!(client.next_message().await.data["type"], "E4");
    let mut connection = game.accept().await;
    harness.wait_connected("civ5").await;
    let reconnected = client.next_message().await;
    assert_eq!(reconnected.id, Some(last_before + 1));
    assert_eq!(reconnected.data["type"], "dll_status");
    harness.sync(&mut connection).await;
}

#[tokio::test]
async fn the_event_pipe_greets_streams_and_says_goodbye() {
    let id = format!("gamebridge-events-test-{}", std::process::id());
    let (harness, _game, mut connection) = Harness::with_one_game_and_event_pipe(&id).await;
    let path = format!("/tmp/app.{id}");
    let stream = tokio::net::UnixStream::connect(&path).await.expect("the event pipe listens");
    let mut frames = FramedRead::new(stream, FrameCodec::new(&Framing::default(), 1 << 20));
    let mut next = async || -> serde_json::Value {
        let frame = within("an event pipe frame", frames.next()).await.unwrap().unwrap().unwrap();
        serde_json::from_slice(&frame).unwrap()
    };
    let hello = next().await;
    assert_eq!(hello["type"], "connected");
    assert!(hello["timestamp"].is_string() && hello["message"].is_string());

    send_events(&harness, &mut connection, 2).await;
    assert_eq!(next().await, json!({"type": "E0", "payload": {"n": 0}}));
    assert_eq!(next().await, json!({"type": "E1", "payload": {"n": 1}}));

    harness.bridge.shutdown_token().cancel();
    // As the original: the game's disconnect, always, then the goodbye.
    assert_eq!(next().await, json!({"type": "dll_status", "payload": {"connected": false}}));
    let goodbye = next().await;
    assert_eq!(
        (goodbye["type"].as_str(), goodbye["message"].as_str()),
        (Some("disconnecting"), Some("Server shutting down"))
    );
    assert!(goodbye["timestamp"].is_string());
    within("the bridge to stop", harness.bridge.wait()).await.unwrap();
    assert!(!std::path::Path::new(&path).exists(), "the socket is removed at shutdown");
}
