//! Lockstep games (Tempest on MAME): the step protocol over listening TCP
//! and FIFO links, answered by WebSocket and webhook agents, or by the
//! default reply when no agent answers in time.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures::{SinkExt, StreamExt};
use gamebridge_api::agent_ws::wire::{decode_frames, encode_replies};
use serde_json::{Value, json};
use support::mame::{Instance, PAYLOAD, TEMPEST, expected_reply, frame, stepping_agent, tempest_frame};
use support::{Harness, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

async fn tempest(options: &str) -> (Harness, String) {
    let spec = format!("{TEMPEST}{options}");
    let harness = Harness::start(&[("tempest", spec)]).await;
    let address = harness.listening_address("tempest").await;
    (harness, address)
}

#[tokio::test]
async fn sixteen_instances_with_a_websocket_agent_every_frame_answered_in_order() {
    let (harness, address) = tempest("").await;
    let largest_batch = stepping_agent(&harness, false).await;
    let instances = (1..=16u8).map(|instance| {
        let address = address.clone();
        async move {
            let mut game = Instance::connect(&address).await;
            for n in 1..=200u32 {
                assert_eq!(
                    game.step(&frame(instance, n)).await,
                    expected_reply(instance, n),
                    "instance {instance}, frame {n}"
                );
            }
            game
        }
    });
    let games = within("16 instances × 200 frames", futures::future::join_all(instances)).await;
    let (_, listing) = harness.get("/games").await;
    let names: Vec<&str> =
        listing["result"]["games"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
    for number in 1..=16 {
        assert!(names.contains(&format!("tempest/{number}").as_str()), "{names:?}");
    }
    let (_, stats) = harness.get("/stats").await;
    let instances: Vec<&Value> =
        stats["result"]["games"].as_array().unwrap().iter().filter(|g| g["name"] != "tempest").collect();
    let steps: u64 = instances.iter().map(|g| g["calls"]["steps"].as_u64().unwrap()).sum();
    let misses: u64 = instances.iter().map(|g| g["calls"]["step_misses"].as_u64().unwrap()).sum();
    let totals = harness.game_stats("tempest").await;
    assert_eq!((totals["steps"].as_u64(), totals["step_misses"].as_u64()), (Some(16 * 200), Some(0)));
    assert_eq!((steps, misses), (16 * 200, 0));
    assert!(largest_batch.load(Ordering::Relaxed) >= 1);
    drop(games);
}

#[tokio::test]
async fn a_webhook_agent_answers_frames_in_base64() {
    let (harness, address) = tempest("").await;
    let agent = {
        let app = axum::Router::new().route(
            "/",
            axum::routing::post(|axum::Json(body): axum::Json<Value>| async move {
                let frame = BASE64.decode(body["args"]["frame"].as_str().unwrap()).unwrap();
                assert!(body["args"]["game"].as_str().unwrap().starts_with("tempest/"));
                assert!(body["args"]["seq"].as_u64().unwrap() >= 1);
                axum::Json(json!({"success": true, "result": {"reply": BASE64.encode(&frame[..5])}}))
            }),
        );
        let url = format!("{}/", support::serve_http(app).await);
        url
    };
    let registered = harness
        .post("/external/register", json!({"name": "step", "url": agent, "async": false, "timeout": 1000}))
        .await;
    assert_eq!(registered["success"], true);
    let mut game = Instance::connect(&address).await;
    for n in 1..=5 {
        assert_eq!(game.step(&frame(9, n)).await, expected_reply(9, n));
    }
}

#[tokio::test]
async fn frames_split_across_writes_are_put_back_together() {
    let (harness, address) = tempest("").await;
    stepping_agent(&harness, false).await;
    let mut stream = TcpStream::connect(&address).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let mut bytes = vec![0, 0]; // handshake
    for n in 1..=3u32 {
        bytes.extend_from_slice(&(PAYLOAD as u16).to_be_bytes());
        bytes.extend_from_slice(&frame(3, n));
    }
    // The handshake and the first frame byte by byte, the rest in uneven pieces.
    let first_frame_end = 2 + 2 + PAYLOAD;
    for byte in &bytes[..first_frame_end] {
        stream.write_all(std::slice::from_ref(byte)).await.unwrap();
    }
    let mut reply = [0u8; 5];
    within("the first reply", stream.read_exact(&mut reply)).await.unwrap();
    assert_eq!(reply, expected_reply(3, 1));
    for n in 2..=3u32 {
        let start = first_frame_end + (n as usize - 2) * (2 + PAYLOAD);
        let frame_bytes = &bytes[start..start + 2 + PAYLOAD];
        for piece in frame_bytes.chunks(100) {
            stream.write_all(piece).await.unwrap();
        }
        within("a reply", stream.read_exact(&mut reply)).await.unwrap();
        assert_eq!(reply, expected_reply(3, n));
    }
}

#[tokio::test]
async fn without_an_agent_the_game_gets_the_default_reply_in_time() {
    let (harness, address) = tempest("&default=0102030405").await;
    let mut game = Instance::connect(&address).await;
    for n in 1..=3 {
        assert_eq!(game.step(&frame(1, n)).await, [1, 2, 3, 4, 5], "the configured default reply");
    }
    let instance = harness.game_stats("tempest/1").await;
    assert_eq!((instance["steps"].as_u64(), instance["step_misses"].as_u64()), (Some(3), Some(3)));
}

#[tokio::test]
async fn an_agent_that_misses_the_deadline_costs_the_game_one_default_reply() {
    let (harness, address) = tempest("&step_timeout_ms=100").await;
    stepping_agent(&harness, true).await;
    let mut game = Instance::connect(&address).await;
    assert_eq!(game.step(&frame(1, 1)).await, [0; 5], "zeros, as the Tempest server answers on errors");
    assert_eq!(harness.game_stats("tempest/1").await["step_misses"], 1);
}

#[tokio::test]
async fn a_killed_instance_is_removed_and_its_number_reused() {
    let (harness, address) = tempest("").await;
    stepping_agent(&harness, false).await;
    let mut first = Instance::connect(&address).await;
    assert_eq!(first.step(&frame(1, 1)).await, expected_reply(1, 1));
    let mut second = Instance::connect(&address).await;
    assert_eq!(second.step(&frame(2, 1)).await, expected_reply(2, 1));
    drop(first);
    within("tempest/1 to be removed", async {
        while harness.hub().game("tempest/1").is_some() {
            // Removal happens in the instance's task; there is no event for it.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    assert!(harness.hub().game("tempest/2").is_some(), "the other instance is untouched");
    let mut restarted = Instance::connect(&address).await;
    assert_eq!(restarted.step(&frame(1, 2)).await, expected_reply(1, 2));
    assert!(harness.hub().game("tempest/1").is_some(), "the lowest free number is reused");
    assert_eq!(second.step(&frame(2, 2)).await, expected_reply(2, 2));
}

#[tokio::test]
async fn an_agent_that_disconnects_is_unregistered() {
    let (harness, address) = tempest("").await;
    let url = harness.url("/agent").replacen("http://", "ws://", 1);
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    socket
        .send(Message::Text(
            json!({"type": "register", "game": "tempest", "functions": ["step"]}).to_string().into(),
        ))
        .await
        .unwrap();
    socket.next().await.unwrap().unwrap();
    let (_, functions) = harness.get("/games/tempest/external/functions").await;
    assert_eq!(functions["result"]["functions"][0]["name"], "step");
    assert!(functions["result"]["functions"][0]["agent"].as_str().unwrap().starts_with("websocket agent"));
    drop(socket);
    within("the agent's functions to go", async {
        while harness.hub().game("tempest").unwrap().find_external("step").is_some() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    let mut game = Instance::connect(&address).await;
    assert_eq!(game.step(&frame(1, 1)).await, [0; 5]);
}

#[tokio::test]
async fn websocket_agents_call_game_functions_and_get_events() {
    let (harness, _game, connection) = Harness::with_one_game().await;
    connection.echo_forever();
    let url = harness.url("/agent").replacen("http://", "ws://", 1);
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let send = |message: Value| Message::Text(message.to_string().into());
    socket.send(send(json!({"type": "subscribe", "since": 0}))).await.unwrap();
    socket.send(send(json!({"type": "call", "id": "c1", "function": "GetTurn", "args": [1]}))).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let message = within("agent messages", socket.next()).await.unwrap().unwrap();
        seen.push(serde_json::from_str::<Value>(message.to_text().unwrap()).unwrap());
    }
    assert!(seen.contains(&json!({"type": "subscribed"})));
    assert!(seen.contains(&json!({"type": "result", "id": "c1", "success": true, "result": {"function": "GetTurn", "args": [1]}})));
    let event = seen.iter().find(|message| message["type"] == "event").expect("the dll_status event");
    assert_eq!(event["data"]["type"], "dll_status");
    socket.send(send(json!({"type": "bogus"}))).await.unwrap();
    let error: Value =
        serde_json::from_str(within("an error", socket.next()).await.unwrap().unwrap().to_text().unwrap())
            .unwrap();
    assert_eq!(error["code"], "INVALID_ARGUMENTS");
}

/// A game on a FIFO pair: blocking `open`s as plain `io.open` does, the
/// game's input opened first (the order that deadlocked the original).
fn fifo_game_session(prefix: &std::path::Path, frames: &[Vec<u8>]) -> Vec<[u8; 5]> {
    use std::io::{Read, Write};
    let input = format!("{}_input", prefix.display());
    let output = format!("{}_output", prefix.display());
    let mut from_bridge = std::fs::File::open(&input).unwrap();
    let mut to_bridge = std::fs::OpenOptions::new().write(true).open(&output).unwrap();
    to_bridge.write_all(&[0, 0]).unwrap();
    frames
        .iter()
        .map(|frame| {
            let mut message = (frame.len() as u16).to_be_bytes().to_vec();
            message.extend_from_slice(frame);
            to_bridge.write_all(&message).unwrap();
            let mut reply = [0u8; 5];
            from_bridge.read_exact(&mut reply).unwrap();
            reply
        })
        .collect()
}

#[tokio::test]
async fn a_fifo_pair_serves_a_game_and_reopens_after_it_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("tempest");
    let spec = format!("fifo:{}?framing=u16be&protocol=step&handshake=2&reply=5", prefix.display());
    let harness = Harness::start(&[("tempest", spec)]).await;
    stepping_agent(&harness, false).await;
    let output = std::path::PathBuf::from(format!("{}_output", prefix.display()));
    within("the FIFOs to be made", async {
        while !output.exists() || !std::path::Path::new(&format!("{}_input", prefix.display())).exists() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{FileTypeExt, PermissionsExt};
        let metadata = std::fs::metadata(&output).unwrap();
        assert!(metadata.file_type().is_fifo());
        assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
    }
    for session in 1..=2u8 {
        let game_prefix = prefix.clone();
        let frames: Vec<Vec<u8>> = (1..=3).map(|n| frame(session, n)).collect();
        let replies = within(
            "a FIFO game session",
            tokio::task::spawn_blocking(move || fifo_game_session(&game_prefix, &frames)),
        )
        .await
        .unwrap();
        let expected: Vec<[u8; 5]> = (1..=3).map(|n| expected_reply(session, n)).collect();
        assert_eq!(replies, expected, "session {session}: the emulator restarted and the pair was reopened");
        // An emulator restart takes a while; the bridge sees the old game leave first.
        harness.wait_disconnected("tempest").await;
    }
    within("the bridge to stop", harness.bridge.stop()).await.unwrap();
    assert!(!output.exists(), "the FIFOs are removed on exit");
}

/// The reply lines the stand-in Lua games write: the agent echoes a frame's
/// first five bytes, so frame n's reply is n big-endian and n % 256.
fn expected_lua_output(frames: u32) -> String {
    let mut text: String = (1..=frames).map(|n| format!("reply {n} {:08x}{:02x}\n", n, n % 256)).collect();
    text.push_str(&format!("done {frames}\n"));
    text
}

#[tokio::test]
async fn the_lua_mame_transport_under_sim_emu() {
    let (harness, address) = tempest("").await;
    stepping_agent(&harness, false).await;
    let out = harness.dir.path().join("mame.out");
    let target = std::path::PathBuf::from(format!("socket.{address}"));
    let game = support::SimProcess::start_with(
        "step_mame.lua",
        &["--emu"],
        &[("STEP_TARGET", &target), ("STEP_FRAMES", std::path::Path::new("40")), ("STEP_OUT", &out)],
    );
    assert!(game.finished().await.success());
    assert_eq!(std::fs::read_to_string(&out).unwrap(), expected_lua_output(40));
}

#[tokio::test]
async fn the_lua_fifo_transport_under_sim() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("tempest");
    let spec = format!("fifo:{}?framing=u16be&protocol=step&handshake=2&reply=5", prefix.display());
    let harness = Harness::start_in(dir, &[("tempest", spec)]).await;
    stepping_agent(&harness, false).await;
    let out = harness.dir.path().join("fifo.out");
    let game = support::SimProcess::start(
        "step_fifo.lua",
        &[("STEP_TARGET", &prefix), ("STEP_FRAMES", std::path::Path::new("40")), ("STEP_OUT", &out)],
    );
    assert!(game.finished().await.success());
    assert_eq!(std::fs::read_to_string(&out).unwrap(), expected_lua_output(40));
}

/// The `tempest` profile itself, on a free port.
async fn tempest_profile(options: &str) -> (Harness, String) {
    let harness = Harness::start(&[("tempest", format!("tempest?port=0{options}"))]).await;
    let address = harness.listening_address("tempest").await;
    (harness, address)
}

#[tokio::test]
async fn without_an_agent_the_profile_answers_as_the_original_server() {
    let (_harness, address) = tempest_profile("").await;
    let mut game = Instance::connect(&address).await;
    // No fire, zap or spin; START_ADVANCED on, START_LEVEL_MIN 13, as
    // socket_server.py answers from its default game settings.
    assert_eq!(game.step(&tempest_frame(1)).await, [0, 0, 0, 1, 13]);
}

#[tokio::test]
async fn the_listening_games_totals_outlive_its_instances() {
    let (harness, address) = tempest_profile("").await;
    for frames in [3, 2] {
        let mut game = Instance::connect(&address).await;
        for n in 1..=frames {
            game.step(&tempest_frame(n)).await;
        }
        drop(game);
        within("the instance to be removed", async {
            while harness.hub().games().len() > 1 {
                // Removal happens in the instance's task; there is no event for it.
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
        .await;
    }
    let totals = harness.game_stats("tempest").await;
    assert_eq!((totals["steps"].as_u64(), totals["step_misses"].as_u64()), (Some(5), Some(5)), "{totals}");
    assert_eq!(totals["connects"], 2, "each instance's connect counts on the listening game");
    let prometheus =
        harness.http.get(harness.url("/metrics/prometheus")).send().await.unwrap().text().await.unwrap();
    assert!(prometheus.contains("gamebridge_steps_total{game=\"tempest\"} 5"), "{prometheus}");
    assert!(prometheus.contains("gamebridge_step_misses_total{game=\"tempest\"} 5"), "{prometheus}");
}

#[tokio::test]
async fn an_agent_hears_of_every_frame_the_game_got_the_default_for() {
    let (harness, address) = tempest_profile("&step_timeout_ms=1000").await;
    let url = harness.url("/agent").replacen("http://", "ws://", 1);
    let (mut socket, _) =
        within("the agent to connect", tokio_tungstenite::connect_async(url)).await.unwrap();
    let register = json!({"type": "register", "game": "tempest", "functions": ["step"]});
    socket.send(Message::Text(register.to_string().into())).await.unwrap();
    within("registration", socket.next()).await.unwrap().unwrap();
    let (notices, mut heard) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(message)) = socket.next().await {
            let frames = match message {
                Message::Text(text) => {
                    let _ = notices.send(serde_json::from_str::<Value>(text.as_str()).unwrap());
                    continue;
                }
                Message::Binary(bytes) => decode_frames(bytes).unwrap(),
                _ => continue,
            };
            for (id, _, seq, _) in frames {
                // Frame 1 is never answered, frame 2 gets 3 bytes, frame 3 a good reply.
                let reply: &[u8] = match seq {
                    1 => continue,
                    2 => &[1, 1, 1],
                    _ => &[1, 0, 9, 1, 13],
                };
                socket.send(Message::Binary(encode_replies(&[(id, reply)]))).await.unwrap();
            }
        }
    });
    let mut game = Instance::connect(&address).await;
    assert_eq!(game.step(&tempest_frame(1)).await, [0, 0, 0, 1, 13]);
    let missed = within("the notice", heard.recv()).await.unwrap();
    assert_eq!(
        (missed["type"].as_str(), missed["game"].as_str(), missed["seq"].as_u64()),
        (Some("step_default"), Some("tempest/1"), Some(1)),
        "{missed}"
    );
    assert_eq!(
        (missed["code"].as_str(), missed["reply"].as_str()),
        (Some("CALL_TIMEOUT"), Some("000000010d"))
    );
    assert_eq!(game.step(&tempest_frame(2)).await, [0, 0, 0, 1, 13]);
    let wrong = within("the notice", heard.recv()).await.unwrap();
    assert_eq!(
        (wrong["seq"].as_u64(), wrong["code"].as_str()),
        (Some(2), Some("INVALID_ARGUMENTS")),
        "{wrong}"
    );
    assert!(wrong["message"].as_str().unwrap().contains("3 bytes"), "{wrong}");
    assert_eq!(game.step(&tempest_frame(3)).await, [1, 0, 9, 1, 13], "the agent's reply, as sent");
    assert_eq!(game.step(&tempest_frame(4)).await, [1, 0, 9, 1, 13]);
    assert!(heard.try_recv().is_err(), "no notice for frames the agent answered");
    assert_eq!(harness.game_stats("tempest/1").await["step_misses"], 2);
}

#[tokio::test]
async fn a_game_that_never_sends_its_handshake_is_let_go() {
    let (harness, address) = tempest_profile("").await;
    let mut silent = within("connecting", TcpStream::connect(&address)).await.unwrap();
    within("tempest/1 to appear", async {
        while harness.hub().game("tempest/1").is_none() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    // As the original server, after 5 s without the 2-byte handshake.
    let mut byte = [0u8; 1];
    let closed = tokio::time::timeout(Duration::from_secs(15), silent.read(&mut byte)).await;
    assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "the bridge closed the connection: {closed:?}");
}
